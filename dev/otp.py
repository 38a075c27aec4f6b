"""Print the current one-time code for a key, for trying the demo without a phone:

    .venv/bin/python -m dev.otp "KNK7 FIIL JBZK CSHX XTSA 6INR XT56 5ROC"
"""

from __future__ import annotations

import sys

import pyotp


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    secret = "".join("".join(argv).split()).upper()
    print(pyotp.TOTP(secret).now())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

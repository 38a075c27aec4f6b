"""A second Dovecot set up like other operators' IMAP servers, to test what differs from ours.

- Personal namespace ``INBOX.`` with ``.`` as separator: folders are ``INBOX.Sent``, ``INBOX.x``.
- No special folder created or flagged, no SPECIAL-USE, no SORT advertised: the account has
  INBOX alone until a client creates the rest.
- Login with a bare user name (the address's local part), not the address.

Dovecot only, on ports derived from its own base port and in its own state directory: mail is
sent through the main stack's Postfix.

    python -m dev.other_imap start|stop --state DIR [--base-port N]
"""

from __future__ import annotations

import argparse
import imaplib
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dev.stack import CONF_TEMPLATES, Stack, _live_pid, _runs_dovecot, _ssha512

# Dovecot 2.3's own list after login, less SORT (and SORT-based extensions), SPECIAL-USE
# and CREATE-SPECIAL-USE, as servers that lack them announce; with ACL, as Cyrus has.
CAPABILITIES = (
    "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE THREAD=REFERENCES THREAD=REFS "
    "THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE "
    "UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH SEARCHRES WITHIN "
    "CONTEXT=SEARCH LIST-STATUS BINARY MOVE LITERAL+ ACL"
)


def login_name(address: str) -> str:
    """The user name this server knows an address by."""
    return address.strip().lower().split("@", 1)[0]


@dataclass
class InboxPrefixStack(Stack):
    """Dovecot alone, configured like another vendor; users are added by address."""

    def start(self) -> None:
        self._prepare_state_dir()
        self.stop()
        self._ensure_certificates()
        self.start_dovecot()

    def stop(self) -> None:
        self.stop_dovecot()

    def status(self) -> dict[str, int | None]:
        return {"dovecot": _live_pid(self._dovecot_pid_file, _runs_dovecot)}

    def add_users(self, accounts: Mapping[str, str]) -> None:
        logins = {login_name(address): password for address, password in accounts.items()}
        self._prepare_state_dir()
        with self._users_lock():
            for login, password in logins.items():
                self._write_user(login, _ssha512(password))
        if _live_pid(self._dovecot_pid_file, _runs_dovecot) is not None:
            for login, password in logins.items():
                self._wait_dovecot_accepts(login, password)

    def _login_of(self, address: str) -> str:
        return login_name(address)

    def forbid_new_folders(self, address: str, password: str) -> None:
        """Make the server refuse to create any folder for this user, as servers do that
        allow no folder outside INBOX or are over quota; INBOX keeps working."""
        with imaplib.IMAP4(self.imap_host, self.imap) as imap:
            imap.starttls(self._client_tls_context())
            imap.login(login_name(address), password)
            imap.select("INBOX")  # the server creates it at first use: before the lock
        (self._mail_root / login_name(address) / "Maildir").chmod(0o500)

    def _dovecot_flavour_values(self) -> dict[str, object]:
        return {
            "namespace": (CONF_TEMPLATES / "namespace-inbox-prefix.conf").read_text("utf-8"),
            "mail_home": "%Lu",
            # INBOX outside the folder tree: a test can make the tree read-only, so that the
            # server refuses to create folders while INBOX still works.
            "mail_location": "maildir:~/Maildir:LAYOUT=fs:INBOX=~/Inbox",
            "imap_capability_setting": f"  imap_capability = {CAPABILITIES}",
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.other_imap", description=__doc__)
    parser.add_argument("command", choices=["start", "stop"])
    parser.add_argument("--state", type=Path, required=True, help="state directory")
    parser.add_argument("--base-port", type=int, default=10500, help="default: 10500")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    stack = InboxPrefixStack(args.state, args.base_port)
    try:
        stack.start() if args.command == "start" else stack.stop()
    except RuntimeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"imap {stack.imap_host}:{stack.imap} (STARTTLS), imaps {stack.imaps}")
    print(f"CA bundle: {stack.ca_cert}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

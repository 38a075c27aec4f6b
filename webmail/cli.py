"""``mss-webmail``: the operator's command line (serve, and the trust space's data imports).

Each feature adds its own subcommand in COMMANDS: a function that registers its arguments on a
subparser and returns the function that runs it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from webmail.directory import cli as directory_cli
from webmail.ops import check as check_config
from webmail.trust import cli as whitelist_cli

Runner = Callable[[argparse.Namespace], int]
Registration = Callable[[argparse.ArgumentParser], Runner]


def _serve(parser: argparse.ArgumentParser) -> Runner:
    from webmail.__main__ import add_serve_arguments, serve

    add_serve_arguments(parser)
    return serve


COMMANDS: dict[str, tuple[str, Registration]] = {
    "serve": ("serve the webmail with uvicorn", _serve),
    "directory": ("the national directory: import the ANS extraction", directory_cli.register),
    "whitelist": ("the MSSanté operator whitelist: import", whitelist_cli.register),
    "check-config": ("check the settings and reach every server they name", check_config.register),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mss-webmail", description="mss-webmail, the MSSanté webmail"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    runners: dict[str, Runner] = {}
    for name, (summary, register) in COMMANDS.items():
        runners[name] = register(commands.add_parser(name, help=summary, description=summary))
    args = parser.parse_args(argv)
    return runners[args.command](args)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m webmail``: check the settings, then serve with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from webmail.app import create_app
from webmail.ops import gc_tuning
from webmail.settings import Settings, SettingsError


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--proxy-headers",
        action="store_true",
        help="accepted for older unit files: X-Forwarded-* is believed from MSS_TRUSTED_PROXIES",
    )
    parser.add_argument(
        "--graceful-seconds",
        type=int,
        default=30,
        help="on SIGTERM, how long requests in flight may take to finish before IMAP "
        "connections are logged out and the process ends (default 30)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m webmail", description=__doc__)
    add_serve_arguments(parser)
    return serve(parser.parse_args(argv))


def serve(args: argparse.Namespace) -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"mss-webmail: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    gc_tuning.enable()
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        # The app itself decides which peers speak for the client (MSS_TRUSTED_PROXIES, in
        # webmail/security/proxy.py): it must still know the real peer to trust CPS headers.
        proxy_headers=False,
        access_log=False,  # URLs carry folder names; the audit trail is the record
        server_header=False,
        # Stop accepting, let requests in flight finish, then the lifespan's end logs every
        # IMAP connection out (ConnectionPool.close_all).
        timeout_graceful_shutdown=args.graceful_seconds,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

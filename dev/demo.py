"""``make demo``: the local mail stack, demo mailboxes, and the webmail on http://127.0.0.1:8000.

Every login printed here exists only in this local stack; a deployment has no default account.
Ctrl-C stops the webmail and every server this started.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import uvicorn

from dev.corpus import demo_messages, demo_users
from dev.directory_sample import SAMPLE
from dev.env import webmail_env
from dev.psc import PscProvider
from dev.psc_phone import DevPhone
from dev.seed import seed_mailbox, share_mailbox
from dev.stack import Stack
from webmail.app import create_app
from webmail.directory.importer import import_file
from webmail.settings import Settings

DEFAULT_STATE = Path(tempfile.gettempdir()) / "mss-webmail-demo"
# A fictitious whitelist holding the demo's own domains: writing elsewhere shows the refusal.
DEMO_WHITELIST = Path(__file__).resolve().parents[1] / "tests/data/listeblanchemssante.xml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.demo", description=__doc__)
    parser.add_argument(
        "--state", type=Path, default=Path(os.environ.get("MSS_DEMO_STATE", DEFAULT_STATE))
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("MSS_DEMO_PORT", "8000")))
    parser.add_argument(
        "--base-port", type=int, default=10000, help="mail servers on base+143, ..."
    )
    parser.add_argument(
        "--messages",
        type=int,
        default=None,
        help="INBOX size of the GP's mailbox (default: a few hundred)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="throw away the previous demo state (mailboxes included) first",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    stack = Stack(state_dir=args.state, base_port=args.base_port, redis_persistent=True)
    if args.fresh and args.state.exists():
        stack.stop()
        shutil.rmtree(args.state)
    print(
        f"Starting Dovecot, Postfix and Redis on 127.0.0.1 (state in {args.state}) ...", flush=True
    )
    stack.start()
    psc = PscProvider(stack, redirect_uris=[f"http://127.0.0.1:{args.port}/login/psc/callback"])
    try:
        seed(stack, args.messages)
        share_secretariat(stack)
        settings = Settings.from_env(
            webmail_env(
                stack,
                MSS_TRUST_WHITELIST=str(DEMO_WHITELIST),
                **start_psc(psc),
                **SHARED_SETTINGS,
            )
        )
        load_directory(settings)
        print_banner(args.port, stack.ca_cert, DevPhone(psc).url)
        uvicorn.run(
            create_app(settings),
            host="127.0.0.1",
            port=args.port,
            access_log=False,
            server_header=False,
            log_level="warning",
        )
    except KeyboardInterrupt:
        pass
    finally:
        print("\nStopping the demo servers ...", flush=True)
        psc.stop()
        stack.stop()
    return 0


def start_psc(psc: PscProvider) -> dict[str, str]:
    """The Pro Santé Connect look-alike and the settings that enable it; none when it cannot
    start (Node.js or oidc-provider missing): the demo then offers the password alone."""
    try:
        psc.start()
    except RuntimeError as error:
        print(f"Pro Santé Connect sign-in is off: {error}", flush=True)
        return {}
    return {
        "MSS_PSC_ENABLED": "true",
        "MSS_PSC_ISSUER": psc.issuer,
        "MSS_PSC_CLIENT_ID": psc.client_id,
        "MSS_PSC_CLIENT_SECRET": psc.client_secret,
        "MSS_PSC_REDIRECT_URI": psc.redirect_uris[0],
    }


def seed(stack: Stack, gp_messages: int | None) -> None:
    for user in demo_users():
        stack.add_user(user.address, user.password)
        marker = stack.state_dir / f"seeded-{user.address}"
        if marker.exists():
            continue
        count = user.message_count_default
        if gp_messages is not None and user.address.startswith("dr."):
            count = gp_messages
        print(f"Seeding {user.address} with {count} messages ...", flush=True)
        seed_mailbox(
            stack.imap_host,
            stack.imap,
            stack.ca_cert,
            user.address,
            user.password,
            demo_messages(user.address, count),
        )
        marker.touch()


def load_directory(settings: Settings) -> None:
    """The fictitious national directory of tests/data, so the demo can look colleagues up."""
    if settings.directory is not None:
        report = import_file(SAMPLE, settings.directory.index)
        print(f"Directory: {report.rows} fictitious mailboxes imported.", flush=True)


# The demo's secretariat (an organisational mailbox), opened to the GP and to a secretary who
# has no mailbox of their own to use.
SECRETARIAT = "secretariat.cardio@ch-demo.mssante.test"
SECRETARY = ("accueil.cardio@ch-demo.mssante.test", "demo-accueil-2026")
SHARED_SETTINGS = {
    "MSS_ORGANISATIONAL_ONLY_ACCOUNTS": "accueil.*@ch-demo.mssante.test",
    "MSS_SHARED_MAILBOXES": f"{SECRETARIAT}=Secrétariat de cardiologie — CH Démo <{SECRETARIAT}>",
}


def share_secretariat(stack: Stack) -> None:
    address, password = SECRETARY
    stack.add_user(address, password)
    gp = next(user.address for user in demo_users() if user.address.startswith("dr."))
    share_mailbox(stack, SECRETARIAT, [gp, address])


def print_banner(port: int, ca_cert: Path, psc_phone_url: str) -> None:
    lines = [
        "",
        f"  mss-webmail demo: http://127.0.0.1:{port}",
        "",
        "  Demo logins (exist only in this local stack):",
    ]
    for user in demo_users():
        lines.append(f"    {user.address:42} {user.password:20} {user.display_name}")
    lines.append(f"    {SECRETARY[0]:42} {SECRETARY[1]:20} secrétaire (secrétariat seulement)")
    lines += [
        "",
        "  The secretariat is shared with Dr Martin and the secretary: switch to it in the",
        "  folder list.",
        "",
        "  At the first login each account enrols a second factor: scan the QR code with an",
        "  authenticator app, or get the code for the key shown with",
        '    .venv/bin/python -m dev.otp "<key>"',
        "",
        "  Pro Santé Connect: the button on the login page, then the demo id 899700000001",
        "  (Dr Claire Martin, opens dr.martin@...). The browser warns about the provider's",
        f"  certificate, issued by the demo's own CA: accept it, or trust {ca_cert}.",
        '  From the phone: "Se connecter avec mon téléphone (e-CPS)", the same id, then approve',
        f"  the request on the demo's e-CPS phone, {psc_phone_url}",
        "",
        "  The directory (the address-book icon, or the suggestions under To) holds fictitious",
        "  people; try « cardio », « lefèvre » or « martin ».",
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())

"""Session affinity in the shipped nginx upstream: a session's requests go to one instance,
which keeps its IMAP login and its cached lists; to the other only when that one dies."""

from __future__ import annotations

import re
from pathlib import Path

from dev.stack import Stack
from tests.conftest import MailUser, deliver, new_user, simple_mail, wait_for_messages
from tests.deploy.browser import Browser
from tests.test_nginx import Deployment, _reads, deployed, sign_in

SUBJECT = "Compte rendu opératoire"


def imap_logins(stack: Stack, user: MailUser) -> int:
    """How many IMAP logins Dovecot logged for ``user`` (its log has one line each)."""
    log = (stack.state_dir / "dovecot" / "dovecot.log").read_text(errors="replace")
    return len(re.findall(rf"imap-login: (?:Info: )?Login: user=<{re.escape(user.address)}>", log))


def read_message(browser: Browser) -> None:
    listing = browser.get("/mail")
    assert listing.status == 200
    link = next(
        str(a["href"])
        for a in listing.soup().select("a[href]")
        if str(a["href"]).startswith("/mail/message")
    )
    shown = browser.get(link)
    assert shown.status == 200
    assert SUBJECT in shown.soup().get_text()


def serving(deployment: Deployment, user: MailUser, before: list[int]) -> list[int]:
    """The instances that read a message for ``user`` since ``before`` (see _reads)."""
    after = _reads(deployment, user.address)
    return [n for n, (a, b) in enumerate(zip(before, after, strict=True)) if b > a]


def test_a_session_stays_on_one_instance_and_moves_only_when_it_dies(
    stack: Stack, tmp_path: Path
) -> None:
    with deployed(stack, tmp_path) as fresh:
        user = new_user(stack)
        deliver(stack, user, simple_mail("bloc@chu.mssante.test", user.address, SUBJECT))
        wait_for_messages(stack, user)
        browser = fresh.browser()
        sign_in(browser, user)
        logins = imap_logins(stack, user)
        before = _reads(fresh, user.address)
        for _ in range(5):  # fifteen requests: list, message, list...
            read_message(browser)
            assert browser.get("/mail").status == 200
        # All on one instance, on one IMAP LOGIN (the first request's).
        home = serving(fresh, user, before)
        assert len(home) == 1, home
        assert imap_logins(stack, user) == logins + 1
        logins += 1
        # That instance dies: the session carries on, on the other one (one login there).
        fresh.instances[home[0]].kill()
        before = _reads(fresh, user.address)
        for _ in range(3):
            read_message(browser)
        assert serving(fresh, user, before) == [1 - home[0]]
        assert imap_logins(stack, user) == logins + 1


def test_sessions_spread_over_both_instances(stack: Stack, tmp_path: Path) -> None:
    with deployed(stack, tmp_path) as fresh:
        users = [new_user(stack) for _ in range(12)]
        homes = set()
        for user in users:
            deliver(stack, user, simple_mail("bloc@chu.mssante.test", user.address, SUBJECT))
        for user in users:
            wait_for_messages(stack, user)
            browser = fresh.browser()
            sign_in(browser, user)
            before = _reads(fresh, user.address)
            read_message(browser)
            read_message(browser)
            home = serving(fresh, user, before)
            assert len(home) == 1, home
            homes.add(home[0])
        # Twelve sessions all on one instance: once in 2,048 runs. The hash spreads them.
        assert homes == {0, 1}

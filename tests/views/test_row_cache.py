"""The list's row cache: the same HTML cold and warm, never a stale row (flags, language,
UIDVALIDITY, day), never another user's row."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from email.message import EmailMessage

import pytest
from bs4 import Tag
from markupsafe import Markup
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, login, new_user, simple_mail, soup
from webmail import formatting, icons, rows
from webmail.i18n import current_language
from webmail.mail.mailbox import Summary
from webmail.rows import RowCache, RowScope, row_key
from webmail.settings import Settings
from webmail.views.common import LANGUAGE_COOKIE


@pytest.fixture(autouse=True)
def cold_cache() -> Iterator[None]:
    rows.rows.clear()
    yield
    rows.rows.clear()


def message_list(client: TestClient, folder: str = "INBOX") -> Tag:
    page = client.get(f"/mail?folder={folder}")
    assert page.status_code == 200, page.text
    section = soup(page.text).select_one("#message-list")
    assert section is not None
    return section


def subjects(section: Tag) -> list[str]:
    return [s.get_text(" ", strip=True) for s in section.select("li.row .subject")]


def with_attachment(to: str, subject: str) -> EmailMessage:
    message = simple_mail("dr.b@chu-demo.mssante.test", to, subject)
    message.add_attachment(b"%PDF-1.4 x", maintype="application", subtype="pdf", filename="a.pdf")
    return message


def same_size_mail(subject: str) -> bytes:
    """Messages that differ only by a subject of the same length: same size, same flags."""
    message = simple_mail("dr.b@chu-demo.mssante.test", "dr.c@chu-demo.mssante.test", subject)
    del message["Message-ID"]
    message["Message-ID"] = "<fixed-id@chu-demo.mssante.test>"
    return message.as_bytes()


def test_a_list_is_the_same_html_cold_and_warm(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Lu"), flags="\\Seen")
    deliver(stack, user, with_attachment(user.address, "Avec PDF <b>"), flags="\\Flagged")
    deliver(
        stack,
        user,
        simple_mail("c@chu-demo.mssante.test", user.address, "Répondu"),
        flags="\\Seen \\Answered",
    )
    cold = message_list(logged_in)
    assert rows.rows.misses == 3 and rows.rows.hits == 0
    warm = message_list(logged_in)
    assert rows.rows.hits == 3, "the second list did not come from the cache"
    assert str(warm) == str(cold)
    assert subjects(warm) == ["Répondu", "Avec PDF <b>", "Lu"]  # escaped, not markup
    assert warm.select_one(".flagged use")["href"] == icons.sprite_url() + "#star"


def test_a_flag_changed_elsewhere_is_shown_not_the_cached_row(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Bilan"))
    before = message_list(logged_in).select_one("li.row")
    assert "unread" in before["class"] and before.select_one(".flagged") is None
    imap = imap_for(stack, user)  # another client of the same mailbox: a phone, say
    imap.select("INBOX")
    imap.uid("STORE", str(uid), "+FLAGS", "(\\Seen \\Flagged)")
    imap.logout()
    after = message_list(logged_in).select_one("li.row")
    assert "unread" not in after["class"]
    assert after.select_one(".flagged") is not None
    assert after.select_one(".dot") is None


def test_another_language_is_rendered_not_served_from_the_french_rows(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, with_attachment(user.address, "Résultats"))
    french = message_list(logged_in).select_one("li.row")
    logged_in.cookies.set(LANGUAGE_COOKIE, "en")
    english = message_list(logged_in).select_one("li.row")
    assert french.select_one(".marker svg")["aria-label"] == "Pièce jointe"
    assert english.select_one(".marker svg")["aria-label"] == "Attachment"
    assert french.select_one("time").get_text() == "24 nov."
    assert english.select_one("time").get_text() == "24 Nov"


def test_a_folder_recreated_with_a_new_uidvalidity_shows_its_own_messages(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    imap.create("Patients")
    imap.append("Patients", None, None, same_size_mail("Patient Alpha"))
    first = message_list(logged_in, "Patients")
    assert subjects(first) == ["Patient Alpha"]
    message_list(logged_in, "INBOX")  # the folder is no longer the one selected
    # Deleted and created again: UID 1 again, same flags and size, another UIDVALIDITY.
    imap.delete("Patients")
    imap.create("Patients")
    imap.append("Patients", None, None, same_size_mail("Patient Bravo"))
    imap.logout()
    second = message_list(logged_in, "Patients")
    assert subjects(second) == ["Patient Bravo"]
    assert first.select_one("li.row")["data-uid"] == second.select_one("li.row")["data-uid"]
    assert len({key[0].uidvalidity for key in rows.rows if key[0].folder == "Patients"}) == 2


def test_a_row_is_never_served_to_another_user(
    logged_in: TestClient, stack: Stack, user: MailUser, settings: Settings
) -> None:
    other = new_user(stack)
    # The same UID, flags, size and date in both mailboxes: only the account tells them apart.
    deliver(stack, user, same_size_mail("Patient Alpha"))
    deliver(stack, other, same_size_mail("Patient Bravo"))
    assert subjects(message_list(logged_in)) == ["Patient Alpha"]
    from webmail.app import create_app

    with TestClient(create_app(settings), follow_redirects=False) as second:
        login(second, other)
        assert subjects(message_list(second)) == ["Patient Bravo"]
    assert subjects(message_list(logged_in)) == ["Patient Alpha"]


def summary(uid: int = 7, flags: frozenset[str] = frozenset()) -> Summary:
    return Summary(uid, "Objet", None, (), None, 100, False, "", flags)


def test_every_thing_a_row_shows_is_in_its_key() -> None:
    scope = RowScope("a@medecin.mssante.test", "INBOX", 1, "date")
    base = row_key(scope, summary(), "fr", None, None)
    assert row_key(scope, summary(), "fr", None, None) == base
    changed = [
        row_key(
            RowScope("b@medecin.mssante.test", "INBOX", 1, "date"), summary(), "fr", None, None
        ),
        row_key(RowScope(scope.account, "Sent", 1, "date"), summary(), "fr", None, None),
        row_key(RowScope(scope.account, "INBOX", 2, "date"), summary(), "fr", None, None),
        row_key(RowScope(scope.account, "INBOX", 1, "arrival"), summary(), "fr", None, None),
        row_key(scope, summary(uid=8), "fr", None, None),
        row_key(scope, summary(flags=frozenset({"\\Seen"})), "fr", None, None),
        row_key(scope, summary(), "en", None, None),
        row_key(scope, summary(), "fr", 3, None),
        row_key(scope, summary(), "fr", None, "/mail/message?folder=INBOX&uid=7&q=x"),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_the_key_changes_with_the_day_the_list_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    scope = RowScope("a@medecin.mssante.test", "INBOX", 1, "date")
    today = row_key(scope, summary(), "fr", None, None)
    monkeypatch.setattr(rows, "_today", lambda: dt.date(2099, 1, 1))
    assert row_key(scope, summary(), "fr", None, None) != today


def test_the_cache_keeps_the_most_recently_used_rows_only() -> None:
    cache = RowCache(size=2)
    cache.put("a", Markup("A"))
    cache.put("b", Markup("B"))
    assert cache.get("a") == "A"  # now the most recent
    cache.put("c", Markup("C"))
    assert len(cache) == 2
    assert cache.get("b") is None and cache.get("a") == "A" and cache.get("c") == "C"


@pytest.mark.parametrize("language", ["fr", "en"])
def test_list_dates_read_as_babel_writes_them(language: str) -> None:
    from babel.dates import format_date, format_time

    now = dt.datetime(2026, 12, 2, 10, 0, tzinfo=formatting.PARIS)
    token = current_language.set(language)
    try:
        for days in range(0, 800, 7):
            value = now - dt.timedelta(days=days, hours=days % 13)
            local = value.astimezone(formatting.PARIS)
            if local.date() == now.date():
                expected = format_time(local, "HH:mm", locale=language)
            elif local.date() == (now - dt.timedelta(days=1)).date():
                expected = {"fr": "hier", "en": "yesterday"}[language]
            elif local.year == now.year:
                expected = format_date(local, "d MMM", locale=language)
            else:
                expected = format_date(local, "dd/MM/yyyy", locale=language)
            assert formatting.short_date(value, now) == expected
            assert re.fullmatch(r"[\w./: ]+", expected)
    finally:
        current_language.reset(token)

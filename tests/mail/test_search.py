"""Search on real Dovecot: each criterion, hostile input, ESEARCH and literals, folders searched
within a time budget. The one fault Dovecot cannot produce (a server refusing UTF-8 search,
[BADCHARSET]) comes from an in-process fake in test_search_badcharset.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from email.message import EmailMessage
from typing import Any

import pytest

from dev.stack import Stack
from tests.conftest import MailUser, imap_for, simple_mail
from tests.other_servers import connected, record_commands
from webmail.mail import mailbox, search
from webmail.mail.imap import ImapClient
from webmail.mail.search import Query

ME = "dr.martin@medecin.mssante.test"


def mail(
    subject: str,
    sender: str = "secretariat@chu-demo.mssante.test",
    to: str = ME,
    body: str = "Bonjour,\n\nCordialement.",
    date_header: str = "Tue, 24 Nov 2026 10:00:00 +0100",
    attachment: bool = False,
) -> EmailMessage:
    message = simple_mail(sender, to, subject, body)
    del message["Date"]
    message["Date"] = date_header
    if attachment:
        message.add_attachment(
            b"%PDF-1.4", maintype="application", subtype="pdf", filename="cr.pdf"
        )
    return message


# Subject -> message; hostile characters sit in subjects so that a search for them can
# be checked to find exactly the messages that hold them.
CORPUS = {
    "Compte rendu Dupont": mail("Compte rendu Dupont", body="Patient vu en consultation."),
    "Bilan sanguin": mail(
        "Bilan sanguin",
        sender="Laboratoire Biolab <labo@biolab.mssante.test>",
        date_header="Mon, 02 Nov 2026 09:00:00 +0100",
        attachment=True,
    ),
    "Lettre de liaison": mail(
        "Lettre de liaison",
        to="Dr Durand <durand@chu-demo.mssante.test>",
        body="Sortie prévue le 30 novembre, traitement par amoxicilline.",
        date_header="Sun, 01 Nov 2026 23:30:00 +0100",
    ),
    'Dossier "urgent" (cardio)': mail(
        'Dossier "urgent" (cardio)', body="Voir \\\\serveur\\partage"
    ),
    "Taux 50% * {5}": mail("Taux 50% * {5}"),
    "Rééducation Straße 🩺": mail("Rééducation Straße 🩺", body="Kinésithérapie à domicile."),
    "Ancien": mail("Ancien", date_header="Thu, 01 Jan 2026 08:00:00 +0100"),
}
FLAGS = {"Bilan sanguin": "\\Seen \\Flagged", "Lettre de liaison": "\\Seen"}


@pytest.fixture
def corpus(stack: Stack, user: MailUser) -> MailUser:
    imap = imap_for(stack, user)
    try:
        for subject, message in CORPUS.items():
            flags = FLAGS.get(subject, "")
            typ, data = imap.append(
                "INBOX", f"({flags})" if flags else None, None, message.as_bytes()
            )
            assert typ == "OK", data
    finally:
        imap.logout()
    return user


@pytest.fixture
async def imap(stack: Stack, corpus: MailUser) -> AsyncIterator[ImapClient]:
    async with connected(
        stack.imap_host, stack.imap, str(stack.ca_cert), corpus.address, corpus.password
    ) as client:
        yield client


async def found(imap: ImapClient, query: Query, folder: str = "INBOX") -> list[str]:
    """Subjects of the matches, in the list's order."""
    cache = mailbox.MailboxCache()
    result, dropped = await search.search_folder(imap, cache, folder, query)
    assert dropped == ()
    page = await mailbox.page_of(imap, cache, folder, result.uids, 1, 50)
    return [summary.subject for summary in page.messages]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Query(text="dupont"), ["Compte rendu Dupont"]),
        (Query(text="biolab"), ["Bilan sanguin"]),  # the sender's name
        (Query(text="durand"), ["Lettre de liaison"]),  # a recipient
        (Query(text="amoxicilline"), ["Lettre de liaison"]),  # the body
        (Query(text="compte dupont"), ["Compte rendu Dupont"]),  # every word
        (Query(text="dupont amoxicilline"), []),
        (Query(sender="labo@biolab"), ["Bilan sanguin"]),
        (Query(sender="dupont"), []),
        (Query(recipient="durand"), ["Lettre de liaison"]),
        (Query(subject="liaison"), ["Lettre de liaison"]),
        (Query(subject="amoxicilline"), []),
        (Query(body="consultation"), ["Compte rendu Dupont"]),
        (Query(body="dupont"), []),
        (Query(flagged=True), ["Bilan sanguin"]),
        (Query(attachments=True), ["Bilan sanguin"]),
        (Query(unread=True, subject="bilan"), []),
        # Sent on 1 November 23:30 in Paris: that is its day, whatever UTC says.
        (Query(since=date(2026, 11, 1), until=date(2026, 11, 1)), ["Lettre de liaison"]),
        (Query(since=date(2026, 11, 2), until=date(2026, 11, 2)), ["Bilan sanguin"]),
        (Query(until=date(2026, 6, 30)), ["Ancien"]),
    ],
)
async def test_each_criterion(imap: ImapClient, query: Query, expected: list[str]) -> None:
    assert await found(imap, query) == expected


async def test_unread_in_date_order(imap: ImapClient) -> None:
    unread = await found(imap, Query(unread=True))
    # Four share one Date: the newest arrival first among them, as RFC 5256 ties go.
    assert unread == [
        "Rééducation Straße 🩺",
        "Taux 50% * {5}",
        'Dossier "urgent" (cardio)',
        "Compte rendu Dupont",
        "Ancien",
    ]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ('"urgent"', ['Dossier "urgent" (cardio)']),
        ('urgent"', ['Dossier "urgent" (cardio)']),
        ("(cardio)", ['Dossier "urgent" (cardio)']),
        (")", ['Dossier "urgent" (cardio)']),
        ("\\\\serveur", ['Dossier "urgent" (cardio)']),
        ("{5}", ["Taux 50% * {5}"]),
        ("50%", ["Taux 50% * {5}"]),
        ("*", ["Taux 50% * {5}"]),
        ("Straße", ["Rééducation Straße 🩺"]),
        ("🩺", ["Rééducation Straße 🩺"]),
        ("Rééducation", ["Rééducation Straße 🩺"]),
        ("kinésithérapie", ["Rééducation Straße 🩺"]),
        # Control characters are spaces: what follows a CR LF is one more word, not a command.
        ("dupont\r\nA1 DELETE INBOX", []),
        ("dupont\r\n", ["Compte rendu Dupont"]),
        ("\x00dupont\x00", ["Compte rendu Dupont"]),
        ('") OR ALL ("', []),
        ("{5}\r\nALL", []),
        ("x" * 200, []),
    ],
)
async def test_hostile_input_finds_only_what_holds_it(
    imap: ImapClient, stack: Stack, corpus: MailUser, typed: str, expected: list[str]
) -> None:
    for field in ("text", "subject"):
        if field == "subject" and typed in ("kinésithérapie", "\\\\serveur"):
            continue  # in the body only
        assert await found(imap, Query(**{field: typed})) == expected, field
    # And nothing was done to the mailbox.
    assert (await imap.status("INBOX"))[0] == len(CORPUS)


async def test_values_go_quoted_in_utf8_with_esearch(
    imap: ImapClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = record_commands(monkeypatch, imap)
    await found(imap, Query(subject='a"b\\c', body="Straße"))
    searches = [command for command in sent if command[0] == "SEARCH"]
    assert len(searches) == 1
    arguments = searches[0][1:]
    assert arguments[:4] == ("RETURN", "(ALL COUNT)", "CHARSET", "UTF-8")
    assert '"a\\"b\\\\c"' in arguments
    assert '"Straße"' in arguments


async def test_ascii_searches_name_no_charset(
    imap: ImapClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = record_commands(monkeypatch, imap)
    await found(imap, Query(text="dupont"))
    search_command = next(command for command in sent if command[0] == "SEARCH")
    assert "CHARSET" not in search_command


async def test_accents_count_case_does_not(imap: ImapClient) -> None:
    """What the page's help says: Dovecot (without a full-text index) ignores case, accented
    letters included, but not accents."""
    assert await found(imap, Query(text="DUPONT")) == ["Compte rendu Dupont"]
    assert await found(imap, Query(text="RÉÉDUCATION")) == ["Rééducation Straße 🩺"]
    assert await found(imap, Query(text="reeducation")) == []
    assert await found(imap, Query(text="kinesitherapie")) == []


# -- several folders within a time budget ----------------------------------------------------


@pytest.fixture
def folders(stack: Stack, corpus: MailUser) -> list[str]:
    names = ["Lent", "Archives", "Patients"]
    imap = imap_for(stack, corpus)
    try:
        for name in names:
            assert imap.create(name)[0] == "OK"
            typ, _data = imap.append(name, None, None, mail(f"Dupont dans {name}").as_bytes())
            assert typ == "OK"
    finally:
        imap.logout()
    return ["INBOX", *names]


def slow_in(monkeypatch: pytest.MonkeyPatch, imap: ImapClient, folder: str, seconds: float) -> None:
    """The server takes ``seconds`` to search ``folder`` (Dovecot cannot be made slow)."""
    real = imap._command

    async def slow(name: str, *args: str, **kwargs: Any) -> list[bytes | bytearray]:
        if name == "SEARCH" and imap.selected is not None and imap.selected.name == folder:
            await asyncio.sleep(seconds)
        return await real(name, *args, **kwargs)

    monkeypatch.setattr(imap, "_command", slow)


async def test_every_folder_within_the_budget(imap: ImapClient, folders: list[str]) -> None:
    outcome = await search.search_folders(
        imap, mailbox.MailboxCache(), folders, Query(text="dupont")
    )
    assert not outcome.partial
    assert (outcome.searched, outcome.folders, outcome.total) == (4, 4, 4)
    assert [result.folder for result in outcome.results] == folders


async def test_a_slow_folder_ends_the_search_with_partial_results(
    imap: ImapClient, folders: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_in(monkeypatch, imap, "Lent", 1.2)
    outcome = await search.search_folders(
        imap, mailbox.MailboxCache(), folders, Query(text="dupont"), budget=1.0
    )
    assert outcome.partial
    assert (outcome.searched, outcome.folders) == (2, 4)
    assert [result.folder for result in outcome.results] == ["INBOX", "Lent"]
    # The connection is still in step with the server: the next command works.
    assert (await imap.status("Patients"))[0] == 1


async def test_a_folder_gone_meanwhile_is_named_not_fatal(
    imap: ImapClient, folders: list[str]
) -> None:
    outcome = await search.search_folders(
        imap, mailbox.MailboxCache(), [*folders, "Supprimé"], Query(text="dupont")
    )
    assert outcome.failed == ["Supprimé"]
    assert outcome.total == 4 and not outcome.partial


# -- pure parts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "day"),
    [
        ("2026-11-24", date(2026, 11, 24)),
        ("24/11/2026", date(2026, 11, 24)),
        ("1/2/2026", date(2026, 2, 1)),
        ("", None),
    ],
)
def test_days_from_the_form(typed: str, day: date | None) -> None:
    assert search.parse_day(typed) == day


@pytest.mark.parametrize(
    "typed", ["2026-02-30", "24-11-2026", "demain", "0001-01-01", "2026-11-24 x"]
)
def test_bad_days_are_refused(typed: str) -> None:
    with pytest.raises(search.QueryError):
        search.parse_day(typed)


def test_imap_days_use_english_months() -> None:
    assert search.imap_day(date(2026, 2, 1)) == "1-Feb-2026"


def test_clean_keeps_emoji_sequences() -> None:
    assert search.clean(" a\r\n\tb\x00\u2028c 👩\u200d⚕️ ") == "a b c 👩\u200d⚕️"


def test_too_long_is_refused() -> None:
    search.check_length("x" * 200)
    with pytest.raises(search.QueryError):
        search.check_length("x" * 201)

"""A server that cannot search in UTF-8 answers NO [BADCHARSET]: Dovecot always can, so this
one fault comes from a small in-process IMAP server (no SORT, no ESEARCH)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator

import pytest

from webmail.mail import mailbox, search
from webmail.mail.imap import ImapClient, ImapCommandFailed
from webmail.mail.search import Query
from webmail.settings import ServerSettings, TlsMode


class RefusesUtf8:
    """Just enough IMAP for a search: three messages, US-ASCII search only."""

    def __init__(self) -> None:
        self.searches: list[str] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready\r\n")
        while line := await reader.readline():
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            writer.write(self.answer(tag, rest.upper(), rest).encode())
            await writer.drain()
            if rest.upper() == "LOGOUT":
                break
        writer.close()

    def answer(self, tag: str, command: str, raw: str) -> str:
        if command.startswith("CAPABILITY"):
            return f"* CAPABILITY IMAP4rev1\r\n{tag} OK done\r\n"
        if command.startswith("SELECT"):
            return (
                f"* 3 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 4] ok\r\n"
                f"{tag} OK [READ-WRITE] selected\r\n"
            )
        if command.startswith("UID SEARCH"):
            self.searches.append(raw)
            if "CHARSET" in command:
                return f"{tag} NO [BADCHARSET (US-ASCII)] only US-ASCII\r\n"
            return f"* SEARCH {'1 2 3' if command.endswith(' ALL') else '2'}\r\n{tag} OK done\r\n"
        if command.startswith("LOGOUT"):
            return f"* BYE bye\r\n{tag} OK done\r\n"
        return f"{tag} OK done\r\n"  # LOGIN, NOOP


@pytest.fixture
async def fake() -> AsyncIterator[tuple[RefusesUtf8, ImapClient]]:
    server = RefusesUtf8()
    listener = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    settings = ServerSettings(host="127.0.0.1", port=port, tls=TlsMode.NONE)
    imap = await ImapClient.connect(settings, ssl.create_default_context(), 5)
    await imap.login("dr.martin", "secret")
    try:
        yield server, imap
    finally:
        await imap.logout()
        listener.close()
        await listener.wait_closed()


async def test_badcharset_falls_back_to_the_ascii_words_and_says_which_were_left_out(
    fake: tuple[RefusesUtf8, ImapClient],
) -> None:
    server, imap = fake
    query = Query(text="rééducation dupont", subject="Straße")
    result, dropped = await search.search_folder(
        imap, mailbox.MailboxCache(), "INBOX", query, mailbox.BY_ARRIVAL
    )
    assert result.uids == [2]
    assert dropped == ("rééducation", "Straße")
    utf8, ascii_only = server.searches[-2:]
    assert "CHARSET UTF-8" in utf8 and '"rééducation"' in utf8
    assert "CHARSET" not in ascii_only and '"dupont"' in ascii_only
    assert ascii_only.isascii()


async def test_an_ascii_search_is_never_sent_with_a_charset(
    fake: tuple[RefusesUtf8, ImapClient],
) -> None:
    server, imap = fake
    await search.search_folder(
        imap, mailbox.MailboxCache(), "INBOX", Query(text="dupont"), mailbox.BY_ARRIVAL
    )
    assert "CHARSET" not in server.searches[-1]


async def test_other_refusals_are_not_taken_for_badcharset(
    fake: tuple[RefusesUtf8, ImapClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    _server, imap = fake

    async def bad(criteria: object, *, utf8: bool = False) -> list[int]:
        raise ImapCommandFailed("UID SEARCH", "BAD", "Error in IMAP command")

    monkeypatch.setattr(imap, "search", bad)
    with pytest.raises(ImapCommandFailed):
        await search.search_folder(
            imap, mailbox.MailboxCache(), "INBOX", Query(text="é"), mailbox.BY_ARRIVAL
        )

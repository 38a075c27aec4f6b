"""One IMAP connection: connect (STARTTLS or implicit TLS), log in, and typed commands.

aioimaplib does not raise on NO/BAD, has no STARTTLS method, and files untagged lines under
guessed names; this module is the one place that fixes all of that. Every result is checked
here and turned into an ``ImapError`` subclass, never at call sites.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import re
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aioimaplib

from webmail.mail import imap_syntax as syntax
from webmail.mail.imap_errors import (
    ImapAuthFailed,
    ImapCommandFailed,
    ImapConnectionLimit,
    ImapError,
    ImapTokenRefused,
    ImapUnavailable,
    MailboxNotFound,
    login_refusal,
)
from webmail.mail.imap_protocol import FixedImap, FixedProtocol
from webmail.mail.imap_values import (
    Folder,
    MailboxState,
    expand_uid_set,
    parse_list,
    status_pairs,
    uid_set,
)
from webmail.mail.sasl import TOKEN_MECHANISMS, AccessToken, error_reply, initial_response
from webmail.settings import ServerSettings, TlsMode

__all__ = [
    "Folder",
    "ImapAuthFailed",
    "ImapClient",
    "ImapCommandFailed",
    "ImapConnectionLimit",
    "ImapError",
    "ImapTokenRefused",
    "ImapUnavailable",
    "MailboxNotFound",
    "MailboxState",
]

log = logging.getLogger(__name__)


@dataclass
class ImapClient:
    server: ServerSettings
    timeout: float
    _imap: aioimaplib.IMAP4 = field(repr=False)
    _protocol: FixedProtocol = field(repr=False)
    selected: MailboxState | None = None
    _broken: bool = False

    @classmethod
    async def connect(
        cls, server: ServerSettings, ssl_context: ssl.SSLContext, timeout: float
    ) -> ImapClient:
        implicit = server.tls is TlsMode.IMPLICIT
        imap = FixedImap(
            host=server.host,
            port=server.port,
            timeout=timeout,
            ssl_context=ssl_context if implicit else None,
        )
        protocol = imap.protocol
        assert isinstance(protocol, FixedProtocol)
        try:
            await imap.wait_hello_from_server()
            if server.tls is TlsMode.STARTTLS:
                await asyncio.wait_for(protocol.starttls(ssl_context, server.host), timeout)
        except (OSError, TimeoutError, aioimaplib.AioImapException, ssl.SSLError) as error:
            imap.abandon()
            raise ImapUnavailable(
                f"cannot connect to {server.host}:{server.port}: {error!r}"
            ) from error
        return cls(server=server, timeout=timeout, _imap=imap, _protocol=protocol)

    @property
    def alive(self) -> bool:
        return not self._broken and self._protocol.state in (
            aioimaplib.NONAUTH,
            aioimaplib.AUTH,
            aioimaplib.SELECTED,
        )

    def has_capability(self, name: str) -> bool:
        return name.upper() in {c.upper() for c in self._protocol.capabilities}

    async def login(self, user: str, password: str, client_ip: str | None = None) -> None:
        if client_ip and self.has_capability("ID"):
            await self._send_originating_ip(client_ip)
        if isinstance(password, AccessToken):
            response = await self._guard(self._authenticate_token(user, password))
        else:
            response = await self._password_login(user, password)
        if response.result != "OK":
            refusal = login_refusal(_text(response))
            if isinstance(password, AccessToken) and type(refusal) is ImapAuthFailed:
                raise ImapTokenRefused(_text(response))
            raise refusal
        await self._refresh_capabilities()
        if self.has_capability("ENABLE") and self.has_capability("CONDSTORE"):
            await self._command("ENABLE", "CONDSTORE")

    async def _password_login(self, user: str, password: str) -> aioimaplib.Response:
        if self.has_capability("LOGINDISABLED"):
            raise ImapUnavailable("server refuses LOGIN on this connection (LOGINDISABLED)")
        if "\r" in user or "\n" in user or "\x00" in user or "\x00" in password:
            raise ImapAuthFailed("invalid characters in credentials")
        if any(ord(c) > 0x7E or c in "\r\n" for c in password) or any(ord(c) > 0x7E for c in user):
            # LOGIN takes quoted ASCII only; a literal-capable AUTHENTICATE PLAIN carries UTF-8.
            return await self._guard(self._authenticate_plain(user, password))
        return await self._guard(self._protocol.login(syntax.quote(user), password))

    async def _send_originating_ip(self, client_ip: str) -> None:
        """Tell the server who really logs in, so its brute-force penalty hits that address
        and not the webmail's (honoured when the webmail is in its trusted networks)."""
        try:
            address = ipaddress.ip_address(client_ip)
        except ValueError:
            return
        await self._command("ID", f'("x-originating-ip" "{address}")')

    async def _authenticate_plain(self, user: str, password: str) -> aioimaplib.Response:
        token = base64.b64encode(f"\x00{user}\x00{password}".encode()).decode()
        return await self._protocol.authenticate("PLAIN", token)

    async def _authenticate_token(self, user: str, token: AccessToken) -> aioimaplib.Response:
        """AUTHENTICATE XOAUTH2 (or OAUTHBEARER) with the initial response inline."""
        offered = [m for m in TOKEN_MECHANISMS if self.has_capability(f"AUTH={m}")]
        if not offered or not self.has_capability("SASL-IR"):
            raise ImapUnavailable("server offers no XOAUTH2 or OAUTHBEARER with SASL-IR")
        try:
            payload = initial_response(offered[0], user, token)
        except ValueError as error:
            raise ImapAuthFailed(str(error)) from None
        return await self._protocol.authenticate(offered[0], payload, error_reply(offered[0]))

    async def _refresh_capabilities(self) -> None:
        await self._guard(self._protocol.capability())

    async def logout(self) -> None:
        try:
            if self.alive:
                await asyncio.wait_for(self._protocol.logout(), 2)
        except (OSError, TimeoutError, aioimaplib.AioImapException, ImapError):
            pass
        finally:
            self.close()
        # Let the transport finish closing while the event loop still runs.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._protocol.closed.wait(), 1)

    def close(self) -> None:
        """Drop the connection now: after LOGOUT, or when it can no longer be trusted."""
        self._broken = True
        transport = self._protocol.transport
        if transport is not None:
            transport.abort()

    async def noop(self) -> None:
        await self._command("NOOP")

    # -- folders ---------------------------------------------------------------------------

    async def list_folders(self) -> list[Folder]:
        """All folders with their special use and, where the server can, counts in one trip."""
        # Each return option only where advertised: a server may answer BAD to one it lacks.
        options = ["SPECIAL-USE"] if self.has_capability("SPECIAL-USE") else []
        if self.has_capability("LIST-STATUS"):
            options.append("STATUS (MESSAGES UNSEEN)")
        if options:
            lines = await self._command("LIST", '""', '"*"', "RETURN", f"({' '.join(options)})")
        else:
            lines = await self._command("LIST", '""', '"*"')
        return parse_list(lines)

    async def personal_namespace(self) -> syntax.Namespace | None:
        """Where personal folders live (prefix and separator, RFC 2342); None when the
        server does not have or will not answer NAMESPACE."""
        if not self.has_capability("NAMESPACE"):
            return None
        try:
            personal = syntax.parse_namespace(await self._command("NAMESPACE"))
        except ImapCommandFailed:
            return None  # then the caller guesses from LIST, as without the capability
        return personal[0] if personal else None

    async def other_users_namespaces(self) -> list[syntax.Namespace]:
        """Where other accounts' folders shared with this one live (the second section of
        NAMESPACE, RFC 2342), e.g. ``shared/`` or ``Other Users.``; none without NAMESPACE."""
        if not self.has_capability("NAMESPACE"):
            return []
        try:
            lines = await self._command("NAMESPACE")
        except ImapCommandFailed:
            return []
        return syntax.namespace_section(lines, 1)

    async def my_rights(self, name: str) -> str | None:
        """This account's ACL rights on a folder (MYRIGHTS, RFC 4314), e.g. "lr" or
        "lrswipkxte"; None when the server has no ACL or will not say."""
        if not self.has_capability("ACL"):
            return None
        try:
            lines = await self._command("MYRIGHTS", self._mailbox(name))
        except ImapCommandFailed:
            return None
        for response in syntax.parse_lines(lines):
            if len(response) >= 3 and response[0] == b"MYRIGHTS":
                return syntax.as_text(response[-1]) if isinstance(response[-1], bytes) else None
        return None

    async def create_special_folder(self, name: str, special_use: str) -> None:
        """CREATE, marked with its special use (RFC 6154) where the server can record it."""
        if self.has_capability("CREATE-SPECIAL-USE"):
            await self._command("CREATE", self._mailbox(name), f"(USE ({special_use}))")
        else:
            await self._command("CREATE", self._mailbox(name))
        with contextlib.suppress(ImapCommandFailed):
            # Subscribed, so that other mail clients of the account show it as well.
            await self._command("SUBSCRIBE", self._mailbox(name))

    async def create_folder(self, name: str) -> None:
        await self._command("CREATE", self._mailbox(name))
        with contextlib.suppress(ImapCommandFailed):
            await self._command("SUBSCRIBE", self._mailbox(name))

    async def rename_folder(self, name: str, new_name: str) -> None:
        await self._command(
            "RENAME", self._mailbox(name), self._mailbox(new_name), missing=MailboxNotFound
        )
        self.selected = None  # the selected folder may be the one renamed
        with contextlib.suppress(ImapCommandFailed):
            await self._command("UNSUBSCRIBE", self._mailbox(name))
        with contextlib.suppress(ImapCommandFailed):
            await self._command("SUBSCRIBE", self._mailbox(new_name))

    async def delete_folder(self, name: str) -> None:
        if self.selected is not None and self.selected.name == name:
            # Some servers refuse to delete the selected folder: leave it first (never with
            # CLOSE, which would also expunge it).
            if self.has_capability("UNSELECT"):
                with contextlib.suppress(ImapCommandFailed):
                    await self._command("UNSELECT")
            self.selected = None
        await self._command("DELETE", self._mailbox(name), missing=MailboxNotFound)
        with contextlib.suppress(ImapCommandFailed):
            await self._command("UNSUBSCRIBE", self._mailbox(name))

    async def status(self, name: str) -> tuple[int, int]:
        lines = await self._command("STATUS", self._mailbox(name), "(MESSAGES UNSEEN)")
        for response in syntax.parse_lines(lines):
            if response and response[0] == b"STATUS" and isinstance(response[-1], list):
                counts = status_pairs(response[-1])
                return int(counts.get("MESSAGES", 0)), int(counts.get("UNSEEN", 0))
        return 0, 0

    async def counts(self, name: str) -> tuple[int, int, int]:
        """MESSAGES, UNSEEN and UIDNEXT of a folder: what tells new mail from read mail."""
        lines = await self._command("STATUS", self._mailbox(name), "(MESSAGES UNSEEN UIDNEXT)")
        for response in syntax.parse_lines(lines):
            if response and response[0] == b"STATUS" and isinstance(response[-1], list):
                found = status_pairs(response[-1])
                return found.get("MESSAGES", 0), found.get("UNSEEN", 0), found.get("UIDNEXT", 0)
        return 0, 0, 0

    async def idle(self, seconds: float, interrupt: asyncio.Event) -> bool:
        """Wait in IDLE (RFC 2177) on the selected mailbox until the server tells of a change,
        ``interrupt`` is set or ``seconds`` pass; then DONE. True when the server spoke."""
        if not self.has_capability("IDLE"):
            raise ImapCommandFailed("IDLE", "BAD", "server has no IDLE")
        protocol = self._protocol
        while not protocol.idle_queue.empty():
            protocol.idle_queue.get_nowait()  # what a previous IDLE left behind
        command = asyncio.ensure_future(protocol.idle())
        try:
            await self._idle_started(command)
            pushed = asyncio.ensure_future(protocol.idle_queue.get())
            woken = asyncio.ensure_future(interrupt.wait())
            try:
                await asyncio.wait(
                    {pushed, woken, command}, timeout=seconds, return_when="FIRST_COMPLETED"
                )
            finally:
                pushed.cancel()
                woken.cancel()
            spoke = pushed.done() and not pushed.cancelled()
            if not command.done():
                protocol.idle_done()
            response = await self._guard(command)
        except asyncio.CancelledError:
            self.close()  # stopped in the middle of IDLE: the connection is of no further use
            raise
        if response.result != "OK":
            raise ImapCommandFailed("IDLE", response.result, _text(response))
        return spoke or bool(response.lines[:-1])

    async def _idle_started(self, command: asyncio.Future[Any]) -> None:
        """Wait for the server's "+ idling" (or its refusal)."""
        started = asyncio.ensure_future(self._protocol.wait_for_idle_response())
        try:
            await asyncio.wait(
                {started, command}, timeout=self.timeout, return_when="FIRST_COMPLETED"
            )
        finally:
            started.cancel()
        if command.done() and command.exception() is None:
            response = command.result()
            raise ImapCommandFailed("IDLE", response.result, _text(response))
        if command.done() or not started.done() or started.cancelled():
            self.close()
            raise ImapUnavailable("no answer to IDLE")

    # -- one mailbox -----------------------------------------------------------------------

    async def select(self, name: str) -> MailboxState:
        argument = self._mailbox(name)
        if self.has_capability("CONDSTORE"):
            argument += " (CONDSTORE)"
        self.selected = None
        response = await self._guard(self._protocol.select(argument))
        if response.result != "OK":
            raise MailboxNotFound("SELECT", response.result, _text(response))
        codes = syntax.response_codes(response.lines)
        modseq = codes.get("HIGHESTMODSEQ")
        state = MailboxState(
            name=name,
            uidvalidity=int(codes.get("UIDVALIDITY", b"0") or 0),
            uidnext=int(codes.get("UIDNEXT", b"0") or 0),
            exists=syntax.count_of(response.lines, b"EXISTS") or 0,
            highestmodseq=int(modseq) if modseq and modseq.isdigit() else None,
        )
        self.selected = state
        return state

    async def refresh(self, name: str) -> MailboxState:
        """The mailbox's current state, selected. When it already is, NOOP (which makes the
        server sync our view of it) and STATUS cost a fraction of a new SELECT."""
        if self.selected is None or self.selected.name != name:
            return await self.select(name)
        await self._command("NOOP")
        items = "(UIDNEXT UIDVALIDITY MESSAGES"
        items += " HIGHESTMODSEQ)" if self.selected.highestmodseq is not None else ")"
        lines = await self._command("STATUS", self._mailbox(name), items)
        counts: dict[str, int] = {}
        for response in syntax.parse_lines(lines):
            if response and response[0] == b"STATUS" and isinstance(response[-1], list):
                counts = status_pairs(response[-1])
        if "UIDVALIDITY" not in counts:
            return await self.select(name)
        self.selected = MailboxState(
            name=name,
            uidvalidity=counts["UIDVALIDITY"],
            uidnext=counts.get("UIDNEXT", 0),
            exists=counts.get("MESSAGES", 0),
            highestmodseq=counts.get("HIGHESTMODSEQ"),
        )
        return self.selected

    async def ensure_selected(self, name: str) -> MailboxState:
        if self.selected is not None and self.selected.name == name:
            return self.selected
        return await self.select(name)

    async def sorted_uids(self, *criteria: str, by_date: bool = False) -> list[int]:
        """UIDs of the selected mailbox, newest first, matching ``criteria``: by arrival, or
        with ``by_date`` by the Date header where the server sorts (``SORT (DATE)``, RFC 5256).
        Without SORT the order is by arrival whatever ``by_date``: mail/mailbox.py sorts."""
        search = list(criteria) or ["ALL"]
        if self.has_capability("SORT"):
            # Ascending, then reversed here: with REVERSE the server would still list
            # messages of the same second (or date) oldest first.
            key = "(DATE)" if by_date else "(ARRIVAL)"
            lines = await self._command("SORT", key, "UTF-8", *search, uid=True)
            return syntax.search_numbers(lines, b"SORT")[::-1]
        lines = await self._command("SEARCH", *search, uid=True)
        # Without SORT, UIDs ascend with arrival in practice: newest first is the reverse.
        return sorted(syntax.search_numbers(lines, b"SEARCH"), reverse=True)

    async def search(self, criteria: Sequence[str], *, utf8: bool = False) -> list[int]:
        """UIDs of the selected mailbox matching ``criteria`` (already-quoted arguments), in
        no particular order; ESEARCH's compact answer (RFC 4731) where the server offers it.
        A server that cannot search in UTF-8 answers NO [BADCHARSET]: ImapCommandFailed."""
        charset = ["CHARSET", "UTF-8"] if utf8 else []
        if self.has_capability("ESEARCH"):
            lines = await self._command(
                "SEARCH", "RETURN", "(ALL COUNT)", *charset, *criteria, uid=True
            )
            return syntax.esearch_all(lines)
        lines = await self._command("SEARCH", *charset, *criteria, uid=True)
        return syntax.search_numbers(lines, b"SEARCH")

    async def threads(self, algorithm: str) -> list[bytes | bytearray]:
        """UID THREAD (RFC 5256) of the whole selected mailbox, as the server answered it
        (webmail.mail.threads reads it); only where THREAD=<algorithm> is advertised."""
        return await self._command("THREAD", algorithm, "UTF-8", "ALL", uid=True)

    async def fetch(self, uids: Sequence[int], items: str) -> list[syntax.FetchItem]:
        if not uids:
            return []
        lines = await self._command("FETCH", uid_set(uids), items, uid=True)
        return [item for item in syntax.parse_fetch(lines) if item.uid is not None]

    async def fetch_message(self, uid: int) -> bytes | None:
        """The whole RFC 822 message, without setting \\Seen; None when the UID is gone."""
        for item in await self.fetch([uid], "(UID BODY.PEEK[])"):
            body = item.data.get("BODY[]")
            if item.uid == uid and isinstance(body, bytes):
                return body
        return None

    async def store_flags(self, uids: Sequence[int], flags: Sequence[str], *, add: bool) -> None:
        if uids:
            operation = "+FLAGS.SILENT" if add else "-FLAGS.SILENT"
            await self._command(
                "STORE", uid_set(uids), operation, "(" + " ".join(flags) + ")", uid=True
            )

    async def move(self, uids: Sequence[int], target: str) -> dict[int, int]:
        """Move, flags kept; returns each moved UID's new UID in ``target`` where the server
        tells it (COPYUID, RFC 4315), an empty mapping where it does not."""
        mailbox = self._mailbox(target)
        if self.has_capability("MOVE"):
            lines = await self._command(
                "MOVE", uid_set(uids), mailbox, uid=True, missing=MailboxNotFound
            )
            return self._copied_uids(lines)
        lines = await self._command(
            "COPY", uid_set(uids), mailbox, uid=True, missing=MailboxNotFound
        )
        await self.store_flags(uids, ["\\Deleted"], add=True)
        await self.expunge_uids(uids)
        return self._copied_uids(lines)

    def _copied_uids(self, lines: Sequence[bytes | bytearray]) -> dict[int, int]:
        if not self.has_capability("UIDPLUS"):
            return {}
        words = syntax.response_codes(lines).get("COPYUID", b"").split()
        if len(words) != 3:
            return {}
        sources, targets = expand_uid_set(words[1]), expand_uid_set(words[2])
        return dict(zip(sources, targets, strict=True)) if len(sources) == len(targets) else {}

    async def search_uids(self, *criteria: str) -> list[int]:
        """UIDs of the selected mailbox matching ``criteria``, ascending."""
        lines = await self._command("SEARCH", *criteria, uid=True)
        return sorted(syntax.search_numbers(lines, b"SEARCH"))

    async def expunge_uids(self, uids: Sequence[int]) -> None:
        """Remove these messages, already marked \\Deleted, and no others."""
        if self.has_capability("UIDPLUS"):
            await self._command("EXPUNGE", uid_set(uids), uid=True)
            return
        # A plain EXPUNGE removes every \Deleted message of the folder, also those another
        # client marked and meant to keep a while: they are unmarked around it (RFC 4315, 1).
        lines = await self._command("SEARCH", "DELETED", uid=True)
        others = sorted(set(syntax.search_numbers(lines, b"SEARCH")) - set(uids))
        await self.store_flags(others, ["\\Deleted"], add=False)
        try:
            await self._command("EXPUNGE")
        finally:
            await self.store_flags(others, ["\\Deleted"], add=True)

    async def append(
        self, folder: str, message: bytes, flags: Sequence[str], when: datetime | None = None
    ) -> int | None:
        """Store a message; returns its UID when the server tells it (UIDPLUS)."""
        if b"\r\n" not in message or re.search(rb"(?<!\r)\n", message):
            message = re.sub(rb"\r?\n", b"\r\n", message)  # servers refuse bare LF
        response = await self._guard(
            self._protocol.append(
                message,
                mailbox=self._mailbox(folder),
                flags="(" + " ".join(flags) + ")" if flags else None,
                date=when,
                timeout=self.timeout,
            )
        )
        if response.result != "OK":
            raise ImapCommandFailed("APPEND", response.result, _text(response))
        if self.selected is not None and self.selected.name == folder:
            self.selected = None  # its UIDNEXT changed
        appenduid = syntax.response_codes(response.lines).get("APPENDUID", b"").split()
        return int(appenduid[1]) if len(appenduid) == 2 and appenduid[1].isdigit() else None

    # -- plumbing --------------------------------------------------------------------------

    def _mailbox(self, name: str) -> str:
        if not name or any(c in name for c in "\r\n\x00"):
            raise MailboxNotFound("SELECT", "BAD", "invalid mailbox name")
        return syntax.quote(syntax.encode_mailbox(name))

    async def _command(
        self,
        name: str,
        *args: str,
        uid: bool = False,
        missing: type[ImapCommandFailed] = ImapCommandFailed,
    ) -> list[bytes | bytearray]:
        command = aioimaplib.Command(
            name,
            self._protocol.new_tag(),
            *args,
            prefix="UID" if uid else "",
            loop=self._protocol.loop,
        )
        response = await self._guard(self._protocol.execute(command))
        if response.result != "OK":
            failed = f"UID {name}" if uid else name
            error_type = missing if response.result == "NO" else ImapCommandFailed
            raise error_type(failed, response.result, _text(response))
        return list(response.lines)

    async def _guard(self, awaitable: Any) -> Any:
        """Run one command with the timeout; a broken or stuck connection is closed for good."""
        if self._broken:
            if asyncio.iscoroutine(awaitable):
                awaitable.close()  # never to run: say so, rather than leave it un-awaited
            raise ImapUnavailable("connection already closed")
        try:
            return await asyncio.wait_for(awaitable, self.timeout)
        except (OSError, TimeoutError, aioimaplib.AioImapException) as error:
            self.close()
            raise ImapUnavailable(f"IMAP connection failed: {error!r}") from error


def _text(response: aioimaplib.Response) -> str:
    if not response.lines:
        return ""
    last = response.lines[-1]
    return bytes(last).decode("utf-8", "replace")[:200]

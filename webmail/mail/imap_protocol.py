"""aioimaplib's protocol and client, with the fixes this project depends on."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aioimaplib

from webmail.mail.imap_errors import ImapUnavailable


class FixedProtocol(aioimaplib.IMAP4ClientProtocol):  # type: ignore[misc]
    """aioimaplib's protocol with four fixes.

    - Untagged lines go, whole, to the single command in flight: we never pipeline, and
      aioimaplib would otherwise drop e.g. ``* STATUS`` answers to LIST-STATUS and strip
      every "* " inside a line instead of the prefix alone.
    - A lost connection fails the command in flight at once instead of leaving it to time out.
    - STARTTLS, which aioimaplib lists but never implements.
    - What the server sends is not formatted into a debug message (see data_received).
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, conn_lost_cb: Any = None) -> None:
        super().__init__(loop, conn_lost_cb)
        self.closed = asyncio.Event()
        # Sent in answer to a SASL error challenge (see authenticate).
        self.sasl_error_reply = b""

    def _untagged_response(self, line: bytes) -> Any:
        if line.startswith(b"* "):
            line = line[2:]
        command = self.pending_sync_command or next(
            iter(self.pending_async_commands.values()), None
        )
        if command is not None:
            command.append_to_resp(line)
        return command

    def _continuation(self, line: bytes) -> None:
        command = self.pending_sync_command
        if command is not None and command.name == "AUTHENTICATE":
            # After an initial response, a challenge is the server's error report (XOAUTH2,
            # OAUTHBEARER): keep it, and answer it so that the tagged NO follows at once.
            command.append_to_resp(line)
            self.transport.write(self.sasl_error_reply + b"\r\n")
            return
        super()._continuation(line)

    async def authenticate(
        self, mechanism: str, initial_response: str, error_reply: bytes = b""
    ) -> aioimaplib.Response:
        """AUTHENTICATE with the initial response inline (SASL-IR), kept out of the logs;
        ``error_reply`` answers an error challenge (webmail.mail.sasl.error_reply)."""
        self.sasl_error_reply = error_reply
        command = aioimaplib.Command(
            "AUTHENTICATE", self.new_tag(), mechanism, initial_response, loop=self.loop
        )
        response = await self.execute(command, scrub=initial_response)
        if response.result == "OK":
            self.state = aioimaplib.AUTH
        return response

    def data_received(self, d: bytes) -> None:
        # aioimaplib's own version starts with log.debug("Received : %s" % d): the chunk is
        # formatted whatever the log level, about 1 ms of the loop per 256 KB of a message or
        # attachment read, and with debug logging on it would write mail contents to the logs.
        try:
            pending: bytes = self.incomplete_line  # type: ignore[has-type]
            command: Any = self.current_command  # type: ignore[has-type]
            self._handle_responses(pending + d, self._handle_line, command)
            self.incomplete_line = b""
            self.current_command = None
        except aioimaplib.IncompleteRead as incomplete_read:
            self.current_command = incomplete_read.cmd
            self.incomplete_line = incomplete_read.data

    def connection_lost(self, exc: Exception | None) -> None:
        self.state = aioimaplib.LOGOUT
        self.closed.set()
        pending: list[Any] = [
            self.pending_sync_command,  # type: ignore[has-type]
            *self.pending_async_commands.values(),
        ]
        for command in pending:
            if command is not None:
                command._exception = aioimaplib.Abort("connection lost")
                command.close(b"connection lost", "BYE")
        self.pending_sync_command = None
        self.pending_async_commands: dict[str, Any] = {}
        super().connection_lost(exc)

    async def starttls(self, context: ssl.SSLContext, server_hostname: str) -> None:
        response = await self.execute(
            aioimaplib.Command("STARTTLS", self.new_tag(), loop=self.loop)
        )
        if response.result != "OK":
            raise ImapUnavailable("server refused STARTTLS")
        transport: asyncio.Transport = self.transport  # type: ignore[has-type]
        self.transport = await self.loop.start_tls(
            transport, self, context, server_hostname=server_hostname
        )
        # Capabilities before TLS must not be trusted (RFC 3501 section 6.2.1).
        await self.capability()


class FixedImap(aioimaplib.IMAP4):  # type: ignore[misc]
    def create_client(
        self,
        host: str,
        port: int,
        loop: asyncio.AbstractEventLoop | None,
        conn_lost_cb: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        local_loop = loop if loop is not None else asyncio.get_running_loop()
        self.protocol = FixedProtocol(local_loop, conn_lost_cb)
        self._client_task = local_loop.create_task(
            local_loop.create_connection(lambda: self.protocol, host, port, ssl=ssl_context)
        )

    def abandon(self) -> None:
        """Close whatever a failed connection attempt left open."""
        if not self._client_task.done():
            self._client_task.cancel()
        transport = self.protocol.transport
        if transport is not None:
            transport.close()

"""An in-process SMTP server that fails on purpose, where a real Postfix cannot be made to:
silence or a dropped connection right after the final dot, a drop before DATA, chosen
replies at each step. It can hand what it accepts to a real server (the test stack's inbound
Postfix) so that tests count what recipients really got.
"""

from __future__ import annotations

import asyncio
import contextlib
import smtplib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

SILENCE = "silence"  # never answer
DROP = "drop"  # close the connection without a word


@dataclass
class Script:
    """What the server answers; a reply is a whole line such as "452 4.3.1 Try later"."""

    mail: str = "250 2.1.0 Ok"
    rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply (default 250)
    data: str = "354 End data with <CR><LF>.<CR><LF>"  # or DROP: drop before DATA
    after_dot: str = "250 2.0.0 Ok: queued"  # or SILENCE, DROP
    drop_within_message: int = 0  # drop after reading this many bytes of the message
    delay_after_dot: float = 0.0
    relay_port: int | None = None  # deliver accepted mail there before answering the dot


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


class FakeSmtp:
    def __init__(self, script: Script | None = None) -> None:
        self.script = script or Script()
        self.received: list[Received] = []
        self.commands: list[str] = []
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", 0), self._loop
        )
        self._server = future.result(5)
        self.port = self._server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script = self.script
        sender, recipients = "", []
        await _say(writer, "220 fake.mssante.test ESMTP")
        while line := (await reader.readline()).decode("utf-8", "replace").rstrip("\r\n"):
            self.commands.append(line)
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                await _say(
                    writer,
                    "250-fake.mssante.test\r\n250-AUTH PLAIN\r\n250-8BITMIME\r\n"
                    "250-SMTPUTF8\r\n250 SIZE 20000000",
                )
            elif verb == "AUTH":
                await _say(writer, "235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender, recipients = _address(line), []
                await _say(writer, script.mail)
            elif verb == "RCPT":
                reply = script.rcpt.get(_address(line), "250 2.1.5 Ok")
                if reply.startswith("2"):
                    recipients.append(_address(line))
                await _say(writer, reply)
            elif verb == "DATA":
                if script.data == DROP:
                    return
                await _say(writer, script.data)
                if not script.data.startswith("354"):
                    continue
                if script.drop_within_message:
                    await reader.readexactly(script.drop_within_message)
                    return
                data = await reader.readuntil(b"\r\n.\r\n")
                if not await self._after_dot(writer, sender, recipients, data):
                    return
            elif verb == "QUIT":
                await _say(writer, "221 2.0.0 Bye")
                return
            else:  # RSET, NOOP
                await _say(writer, "250 2.0.0 Ok")

    async def _after_dot(
        self, writer: asyncio.StreamWriter, sender: str, recipients: list[str], data: bytes
    ) -> bool:
        script = self.script
        message = data[: -len(b".\r\n")].replace(b"\r\n..", b"\r\n.")
        accepted = script.after_dot in (SILENCE, DROP) or script.after_dot.startswith("2")
        if accepted:
            self.received.append(Received(sender, list(recipients), message))
            if script.relay_port is not None:
                await asyncio.to_thread(_relay, script.relay_port, sender, recipients, message)
        await asyncio.sleep(script.delay_after_dot)
        if script.after_dot == DROP:
            return False
        if script.after_dot == SILENCE:
            await asyncio.sleep(3600)  # until the client gives up and closes
            return False
        await _say(writer, script.after_dot)
        return True


async def _say(writer: asyncio.StreamWriter, reply: str) -> None:
    writer.write(reply.encode() + b"\r\n")
    await writer.drain()


def _address(line: str) -> str:
    return line.partition("<")[2].partition(">")[0]


def _relay(port: int, sender: str, recipients: list[str], message: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.sendmail(sender, recipients, message)


@contextmanager
def fake_smtp(script: Script | None = None) -> Iterator[FakeSmtp]:
    server = FakeSmtp(script)
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""An IMAP server over implicit TLS with a chosen certificate, for check-config's faults.

It only greets and answers CAPABILITY and LOGOUT: enough for the probe. A real server cannot
be given an expired certificate on demand; this one can.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator

from tests.ops.certificates import Pair


@contextlib.contextmanager
def fake_imaps(pair: Pair, port: int) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pair.cert, pair.key)
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            raw.settimeout(5)
            with (
                raw,
                contextlib.suppress(OSError),
                context.wrap_socket(raw, server_side=True) as tls,
            ):
                converse(tls)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def converse(tls: ssl.SSLSocket) -> None:
    tls.sendall(b"* OK fake IMAP ready\r\n")
    buffer = b""
    while True:
        chunk = tls.recv(4096)
        if not chunk:
            return
        buffer += chunk
        while b"\r\n" in buffer:
            line, buffer = buffer.split(b"\r\n", 1)
            tag, _, command = line.decode().partition(" ")
            if command.upper() == "CAPABILITY":
                tls.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag.encode() + b" OK\r\n")
            else:
                tls.sendall(b"* BYE\r\n" + tag.encode() + b" OK\r\n")
                return

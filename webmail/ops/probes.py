"""Reach a mail server as the webmail will, and say what was found: for check-config.

Plain sockets and the ``ssl`` module, one exchange at a time: a check needs the greeting, the
capabilities before and after TLS, and the certificate, nothing a mail library hides better.
"""

from __future__ import annotations

import datetime as dt
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field

from webmail.settings import ServerSettings, TlsMode

TIMEOUT = 5.0
EXPIRY_WARNING_DAYS = 30


class ProbeFailed(Exception):
    """The server could not be used; the message says why in plain words."""


@dataclass
class Found:
    """What a probe learnt: facts for the OK line, and warnings."""

    facts: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_bundle)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def connect(host: str, port: int) -> socket.socket:
    try:
        return socket.create_connection((host, port), timeout=TIMEOUT)
    except TimeoutError:
        raise ProbeFailed(f"no answer from {host}:{port} within {TIMEOUT:.0f} s") from None
    except OSError as error:
        raise ProbeFailed(f"cannot connect to {host}:{port} ({error.strerror or error})") from None


def start_tls(
    sock: socket.socket, host: str, context: ssl.SSLContext, found: Found
) -> ssl.SSLSocket:
    """The TLS handshake, the certificate checked against the CA bundle and the host name."""
    try:
        wrapped = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as error:
        raise ProbeFailed(f"certificate refused: {certificate_problem(error)}") from None
    except (ssl.SSLError, OSError) as error:
        raise ProbeFailed(f"TLS handshake failed ({error})") from None
    found.facts.append(str(wrapped.version()))
    describe_certificate(wrapped.getpeercert(), found)
    return wrapped


def certificate_problem(error: ssl.SSLCertVerificationError) -> str:
    reason = str(error.verify_message or error.reason or error)
    if "expired" in reason:
        return "it has expired"
    if "self-signed" in reason or "self signed" in reason:
        return "it is self-signed (not issued by a CA of MSS_CA_BUNDLE)"
    if "unable to get local issuer" in reason:
        return "it does not chain to a CA of MSS_CA_BUNDLE (the IGC-Santé bundle?)"
    if "Hostname mismatch" in reason or "hostname" in reason.lower():
        return f"it is not issued for this host name ({reason})"
    return reason


def describe_certificate(certificate: Mapping[str, object] | None, found: Found) -> None:
    if not certificate or "notAfter" not in certificate:
        return
    ends = dt.datetime.fromtimestamp(
        ssl.cert_time_to_seconds(str(certificate["notAfter"])), tz=dt.UTC
    )
    days = (ends - dt.datetime.now(dt.UTC)).days
    found.facts.append(f"certificate valid until {ends:%Y-%m-%d} ({days} days)")
    if days < EXPIRY_WARNING_DAYS:
        found.warnings.append(f"the certificate expires in {days} days ({ends:%Y-%m-%d})")


class _Lines:
    """Reads CRLF lines from a socket (plain or TLS)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise ProbeFailed(f"the server stopped answering ({TIMEOUT:.0f} s)") from None
            except OSError as error:
                raise ProbeFailed(f"the connection broke ({error})") from None
            if not chunk:
                raise ProbeFailed("the server closed the connection")
            self.buffer += chunk
            if len(self.buffer) > 65536:
                raise ProbeFailed("the server sent an overlong line")
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode("utf-8", errors="replace")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode() + b"\r\n")


def probe_imap(server: ServerSettings, context: ssl.SSLContext) -> Found:
    found = Found(facts=[f"{server.host}:{server.port} {server.tls.value}"])
    sock: socket.socket = connect(server.host, server.port)
    try:
        if server.tls is TlsMode.IMPLICIT:
            sock = start_tls(sock, server.host, context, found)
        reader = _Lines(sock)
        if not reader.line().startswith("* OK"):
            raise ProbeFailed("the greeting is not an IMAP one (wrong port?)")
        capabilities = _imap_capabilities(reader)
        if server.tls is TlsMode.STARTTLS:
            if "STARTTLS" not in capabilities:
                raise ProbeFailed("the server does not offer STARTTLS")
            found.facts.append(
                "LOGINDISABLED before TLS"
                if "LOGINDISABLED" in capabilities
                else "login allowed before TLS (the webmail never does it)"
            )
            reader.send("s STARTTLS")
            _imap_tagged(reader, "s")
            sock = start_tls(sock, server.host, context, found)
            reader = _Lines(sock)
            capabilities = _imap_capabilities(reader)
        found.facts.append("SASL: " + (" ".join(_sasl(capabilities)) or "none"))
        reader.send("z LOGOUT")
    finally:
        sock.close()
    return found


def _imap_capabilities(reader: _Lines) -> set[str]:
    reader.send("c CAPABILITY")
    words: set[str] = set()
    while True:
        line = reader.line()
        if line.upper().startswith("* CAPABILITY "):
            words.update(line[13:].upper().split())
        elif line.startswith("c "):
            if not line.upper().startswith("C OK"):
                raise ProbeFailed(f"CAPABILITY refused: {line[2:80]}")
            return words


def _imap_tagged(reader: _Lines, tag: str) -> None:
    while True:
        line = reader.line()
        if line.startswith(tag + " "):
            if not line[len(tag) + 1 :].upper().startswith("OK"):
                raise ProbeFailed(f"STARTTLS refused: {line[:80]}")
            return


def _sasl(capabilities: set[str]) -> list[str]:
    return sorted(word[5:] for word in capabilities if word.startswith("AUTH="))


def probe_smtp(server: ServerSettings, context: ssl.SSLContext) -> Found:
    found = Found(facts=[f"{server.host}:{server.port} {server.tls.value}"])
    sock: socket.socket = connect(server.host, server.port)
    try:
        if server.tls is TlsMode.IMPLICIT:
            sock = start_tls(sock, server.host, context, found)
        reader = _Lines(sock)
        greeting = _smtp_reply(reader)
        if not greeting[0].startswith("220"):
            raise ProbeFailed(f"the greeting is not an SMTP one: {greeting[0][:80]}")
        extensions = _ehlo(reader)
        if server.tls is TlsMode.STARTTLS:
            if "STARTTLS" not in extensions:
                raise ProbeFailed("the server does not offer STARTTLS")
            reader.send("STARTTLS")
            if not _smtp_reply(reader)[0].startswith("220"):
                raise ProbeFailed("STARTTLS refused")
            sock = start_tls(sock, server.host, context, found)
            reader = _Lines(sock)
            extensions = _ehlo(reader)
        mechanisms = next((e.split()[1:] for e in extensions if e.startswith("AUTH ")), [])
        found.facts.append("SASL: " + (" ".join(sorted(mechanisms)) or "none"))
        if not mechanisms:
            found.warnings.append("no AUTH offered: the webmail cannot sign in to send")
        reader.send("QUIT")
    finally:
        sock.close()
    return found


def _smtp_reply(reader: _Lines) -> list[str]:
    lines = [reader.line()]
    while len(lines[-1]) > 3 and lines[-1][3] == "-":
        lines.append(reader.line())
    return lines


def _ehlo(reader: _Lines) -> list[str]:
    reader.send("EHLO check-config.invalid")
    reply = _smtp_reply(reader)
    if not reply[0].startswith("250"):
        raise ProbeFailed(f"EHLO refused: {reply[0][:80]}")
    return [line[4:].upper() for line in reply[1:]]

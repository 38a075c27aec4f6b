"""The few HTTPS calls an OpenID client makes, with the operator's CA bundle and a timeout.

Standard library only, run in a thread: a handful of calls per sign-in do not justify an
HTTP client dependency. Answers are size-capped and must be JSON objects (or a JWT).
With mutual TLS (RFC 8705), the client certificate is presented to whichever provider
endpoint asks for one: the token endpoint then knows the client without a secret.
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_ANSWER_BYTES = 256 * 1024


class ProviderUnreachable(Exception):
    """The provider did not answer, or answered something that is not what was asked."""


def is_https_url(url: str) -> bool:
    """The one rule for the provider's addresses (issuer, discovery, every endpoint it
    publishes): https with a host, never plain http, file: or a relative path, even on
    loopback (the test provider is https too)."""
    parts = urllib.parse.urlsplit(url)
    return parts.scheme == "https" and bool(parts.hostname)


@dataclass(frozen=True)
class ClientCertificate:
    """PEM files of the client certificate (with its chain) and its private key."""

    cert: Path
    key: Path


def check_client_certificate(certificate: ClientCertificate) -> None:
    """Raises ValueError, with a reason naming neither the key nor its content, when the
    pair cannot be used (unreadable, not PEM, an encrypted key, a key not matching the
    certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if b"ENCRYPTED" in certificate.key.read_bytes():
            raise ValueError(
                "the key is encrypted: give it unencrypted, readable by the webmail only"
            )
        _load(context, certificate)
    except ssl.SSLError as error:
        # error.reason is OpenSSL's short code (KEY_VALUES_MISMATCH, NO_START_LINE...).
        raise ValueError(
            _SSL_REASONS.get(str(error.reason), "not a PEM certificate and key")
        ) from None
    except OSError as error:
        raise ValueError(error.strerror or "unreadable file") from None


_SSL_REASONS = {"KEY_VALUES_MISMATCH": "the key does not match the certificate"}


def _load(context: ssl.SSLContext, certificate: ClientCertificate) -> None:
    # An empty passphrase: OpenSSL must never stop to ask for one on a terminal.
    context.load_cert_chain(str(certificate.cert), str(certificate.key), password=lambda: b"")


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> dict[str, Any]:
        try:
            data = json.loads(self.body)
        except ValueError:
            raise ProviderUnreachable("the provider's answer is not JSON") from None
        if not isinstance(data, dict):
            raise ProviderUnreachable("the provider's answer is not a JSON object")
        return data


class ProviderHttp:
    def __init__(
        self, ca_bundle: Path | None, timeout: float, certificate: ClientCertificate | None = None
    ) -> None:
        self._context = ssl.create_default_context(
            cafile=str(ca_bundle) if ca_bundle is not None else None
        )
        if certificate is not None:
            _load(self._context, certificate)
        self._timeout = timeout

    async def get(self, url: str, bearer: str | None = None) -> Answer:
        headers = {"Accept": "application/json, application/jwt"}
        if bearer is not None:
            headers["Authorization"] = f"Bearer {bearer}"
        return await self._call(_request(url, headers))

    async def post_form(
        self, url: str, form: dict[str, str], client: tuple[str, str] | None
    ) -> Answer:
        """A form POST, with HTTP Basic client authentication (client_secret_basic) when
        ``client`` (id, secret) is given; None: the client is known otherwise (mutual TLS,
        with ``client_id`` in the form)."""
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if client is not None:
            # RFC 6749 section 2.3.1: id and secret are form-encoded before Basic.
            user, secret = (urllib.parse.quote(part, safe="") for part in client)
            basic = base64.b64encode(f"{user}:{secret}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {basic}"
        return await self._call(_request(url, headers, urllib.parse.urlencode(form).encode()))

    async def _call(self, request: urllib.request.Request) -> Answer:
        return await asyncio.to_thread(self._send, request)

    def _send(self, request: urllib.request.Request) -> Answer:
        try:
            # Only https URLs get here (checked in _request).
            with urllib.request.urlopen(  # noqa: S310
                request, context=self._context, timeout=self._timeout
            ) as reply:
                return _answer(reply.status, reply.headers.get("Content-Type", ""), reply)
        except urllib.error.HTTPError as error:
            # 4xx/5xx with a body: the token endpoint explains refusals in JSON.
            with error:
                return _answer(error.code, error.headers.get("Content-Type", ""), error)
        except (OSError, ValueError) as error:
            raise ProviderUnreachable(str(error)) from error


def _request(
    url: str, headers: dict[str, str], data: bytes | None = None
) -> urllib.request.Request:
    """A request to an https URL only, whatever discovery says."""
    if not is_https_url(url):
        raise ProviderUnreachable(f"not an https URL: {url}")
    return urllib.request.Request(url, data=data, headers=headers)  # noqa: S310


def _answer(status: int, content_type: str, stream: Any) -> Answer:
    body = stream.read(MAX_ANSWER_BYTES + 1)
    if len(body) > MAX_ANSWER_BYTES:
        raise ProviderUnreachable("the provider's answer is too large")
    return Answer(status, content_type.split(";")[0].strip().lower(), body)

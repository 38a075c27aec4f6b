"""A small HTTPS client for the deployment tests: cookies, a chosen source address (nginx's
rate limit counts per address) and, for the CPS card, a client certificate."""

from __future__ import annotations

import http.client
import ssl
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path

from bs4 import BeautifulSoup


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def soup(self) -> BeautifulSoup:
        return BeautifulSoup(self.text, "html.parser")

    def header(self, name: str) -> str:
        return self.headers.get(name, "")


@dataclass
class Browser:
    host: str
    port: int
    ca: Path
    source: str = "127.0.0.1"
    card: tuple[Path, Path] | None = None
    tls: bool = True
    cookies: dict[str, str] = field(default_factory=dict)

    def _connection(self) -> http.client.HTTPConnection:
        if not self.tls:
            return http.client.HTTPConnection(
                self.host, self.port, timeout=30, source_address=(self.source, 0)
            )
        context = ssl.create_default_context(cafile=str(self.ca))
        if self.card is not None:
            context.load_cert_chain(*map(str, self.card))
        return http.client.HTTPSConnection(
            self.host, self.port, timeout=30, context=context, source_address=(self.source, 0)
        )

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str) -> Answer:
        sent = {k.replace("_", "-"): v for k, v in headers.items()}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        connection = self._connection()
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            answer = Answer(response.status, response.headers, response.read())
        finally:
            connection.close()
        for line in answer.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(line).items():
                self.cookies[name] = morsel.value
        return answer

    def get(self, path: str, **headers: str) -> Answer:
        return self.request("GET", path, **headers)

    def post(self, path: str, data: dict[str, str], **headers: str) -> Answer:
        body = urllib.parse.urlencode(data).encode()
        return self.request(
            "POST", path, body, Content_Type="application/x-www-form-urlencoded", **headers
        )


def field_value(answer: Answer, name: str) -> str:
    found = answer.soup().find("input", attrs={"name": name})
    assert found is not None, f"no input named {name}: {answer.status} {answer.text[:300]}"
    return str(found.get("value", ""))

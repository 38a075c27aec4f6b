"""Compressed pages and the CSRF token (BREACH): each answer shows the token under a fresh
mask, every masked form of it is accepted, anything else refused."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup
from webmail.security import csrf

TOKEN_LENGTH = 43  # secrets.token_urlsafe(32), as sessions make it


def tokens_shown(html: str) -> set[str]:
    """Every token a page carries: its hidden fields and htmx's header attribute."""
    page = soup(html)
    fields = {str(field["value"]) for field in page.select("input[name=csrf_token]")}
    assert page.body is not None
    header = json.loads(str(page.body["hx-headers"]))["X-CSRF-Token"]
    return fields | {header}


def unmask(shown: str) -> bytes:
    raw = base64.urlsafe_b64decode(shown + "=" * (-len(shown) % 4))
    mask, hidden = raw[: len(raw) // 2], raw[len(raw) // 2 :]
    return bytes(a ^ b for a, b in zip(mask, hidden, strict=True))


@pytest.fixture
def uid(stack: Stack, user: MailUser) -> int:
    return deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Cible"))


def flag(client: TestClient, uid: int, token: str, *, in_header: bool = False) -> int:
    data = {"folder": "INBOX", "uid": str(uid), "flag": "flagged", "value": "1"}
    headers = {"Sec-Fetch-Site": "same-origin"}
    if in_header:
        headers["X-CSRF-Token"] = token
    else:
        data["csrf_token"] = token
    return client.post("/mail/flag", data=data, headers=headers).status_code


def test_two_renderings_show_two_masks_of_one_token(logged_in: TestClient, uid: int) -> None:
    first = tokens_shown(logged_in.get("/mail").text)
    second = tokens_shown(logged_in.get("/mail").text)
    # One masked form per answer (its fields and header alike), another in the next answer.
    assert len(first) == 1 and len(second) == 1
    assert first != second
    secret = {unmask(shown) for shown in first | second}
    assert len(secret) == 1
    assert len(secret.pop()) == TOKEN_LENGTH
    # The token itself appears in neither page.
    page = logged_in.get("/mail").text
    assert unmask(tokens_shown(page).pop()).decode() not in page


def test_each_masked_form_is_accepted(logged_in: TestClient, uid: int) -> None:
    first = tokens_shown(logged_in.get("/mail").text).pop()
    second = tokens_shown(logged_in.get("/mail").text).pop()
    assert flag(logged_in, uid, first) == 303
    assert flag(logged_in, uid, second, in_header=True) == 303


def test_a_tampered_token_is_refused(logged_in: TestClient, uid: int) -> None:
    shown = tokens_shown(logged_in.get("/mail").text).pop()
    raw = bytearray(base64.urlsafe_b64decode(shown + "=" * (-len(shown) % 4)))
    raw[-1] ^= 1  # one bit of the masked token
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert flag(logged_in, uid, tampered) == 403
    assert flag(logged_in, uid, shown[:-4]) == 403  # cut short
    assert flag(logged_in, uid, shown + "AAAA") == 403  # lengthened
    assert flag(logged_in, uid, "!" * len(shown)) == 403  # not base64
    assert not logged_in.get("/mail").context["page"].messages[0].flagged


def test_a_mask_of_another_sessions_token_is_refused(logged_in: TestClient, uid: int) -> None:
    assert flag(logged_in, uid, csrf.masked("x" * TOKEN_LENGTH)) == 403


def test_the_bare_token_of_an_older_page_is_still_accepted(logged_in: TestClient, uid: int) -> None:
    """By design: a page rendered before masking carries it, and whoever knows it could mask
    it anyway. Pages no longer show it, so compression cannot leak it."""
    bare = unmask(tokens_shown(logged_in.get("/mail").text).pop()).decode()
    assert flag(logged_in, uid, bare) == 303


def test_masking_round_trips_and_never_repeats() -> None:
    token = "t" * TOKEN_LENGTH
    shown = {csrf.masked(token) for _ in range(50)}
    assert len(shown) == 50
    assert all(csrf.tokens_match(one, token) for one in shown)
    assert csrf.masked("") == ""
    assert not csrf.tokens_match("", token)
    assert not csrf.tokens_match(csrf.masked(token), "")

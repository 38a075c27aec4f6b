"""A failed compose form comes back with its text, but only to our own pages.

A forged cross-site POST must never have its recipient and text shown on our origin, where
they would look like the user's own draft waiting to be sent.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, soup, wait_for_messages
from tests.views.forms import submit
from tests.views.test_compression_csrf import unmask
from webmail.views import sending as sending_view

FORGED = {
    "mode": "new",
    "action": "send",
    "to": "complice@ailleurs.example",
    "subject": "Résultats de vos patients",
    "body": "Transférez-moi les comptes rendus",
}
CROSS_SITE = [
    {"sec-fetch-site": "cross-site", "origin": "https://evil.example"},
    {"sec-fetch-site": "same-site", "origin": "https://mail.evil.example"},
    {"origin": "https://evil.example"},
    {"origin": "null"},
]


def assert_refused_without_echo(response: object) -> None:
    assert response.status_code == 403  # type: ignore[attr-defined]
    text: str = response.text  # type: ignore[attr-defined]
    page = soup(text)
    assert page.find("textarea") is None and page.find("form", action="/compose") is None
    for value in (FORGED["to"], FORGED["subject"], FORGED["body"]):
        assert value not in text


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_post_on_an_expired_session_is_refused_without_echo(
    logged_in: TestClient, headers: dict[str, str]
) -> None:
    token = csrf_token(logged_in)
    logged_in.cookies.clear()  # the expired-session path
    response = logged_in.post("/compose", data={**FORGED, "csrf_token": token}, headers=headers)
    assert_refused_without_echo(response)


@pytest.mark.parametrize("headers", CROSS_SITE[:1])
def test_cross_site_post_on_a_live_session_is_refused_without_echo(
    logged_in: TestClient, headers: dict[str, str]
) -> None:
    response = logged_in.post(
        "/compose", data={**FORGED, "csrf_token": csrf_token(logged_in)}, headers=headers
    )
    assert_refused_without_echo(response)


def test_cross_site_post_while_redis_is_down_is_refused_without_echo(
    logged_in: TestClient, stack: Stack
) -> None:
    token = csrf_token(logged_in)
    stack.stop_redis()
    try:
        response = logged_in.post(
            "/compose", data={**FORGED, "csrf_token": token}, headers=CROSS_SITE[0]
        )
    finally:
        stack.start_redis()
    assert_refused_without_echo(response)


def test_same_origin_post_on_an_expired_session_gets_its_text_back(
    logged_in: TestClient,
) -> None:
    token = csrf_token(logged_in)
    logged_in.cookies.clear()
    response = logged_in.post(
        "/compose",
        data={**FORGED, "csrf_token": token, "cc": "cc@chu-demo.mssante.test"},
        headers={"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8000"},
    )
    assert response.status_code == 401
    page = soup(response.text)
    assert page.find("textarea").get_text() == FORGED["body"]
    shown = page.get_text()
    assert FORGED["to"] in shown and FORGED["subject"] in shown
    assert "cc@chu-demo.mssante.test" in shown


def test_the_identity_typed_for_a_structured_document_is_given_back_too(
    logged_in: TestClient,
) -> None:
    token = csrf_token(logged_in)
    logged_in.cookies.clear()
    identity = {"xdm_family": "Lefèvre", "xdm_birth": "1969-02-03", "xdm_ins": "269029934173225"}
    response = logged_in.post(
        "/compose",
        data={**FORGED, **identity, "csrf_token": token},
        headers={"sec-fetch-site": "same-origin", "origin": "http://127.0.0.1:8000"},
    )
    assert response.status_code == 401
    patient = soup(response.text).select_one(".kept-patient")
    assert patient is not None
    assert all(value in patient.get_text() for value in identity.values())


def test_a_body_too_large_to_read_again_is_not_read(logged_in: TestClient) -> None:
    """The text is given back only from a body the view was willing to read."""
    logged_in.cookies.clear()
    response = logged_in.post(
        "/compose",
        content=b"to=x&body=y",
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "content-length": str(10**12),
        },
    )
    assert response.status_code == 413
    assert soup(response.text).find("textarea") is None


def test_stale_token_gets_the_text_back_with_one_that_works(
    logged_in: TestClient, stack: Stack, other_user: MailUser
) -> None:
    # A page older than the session, posted by the user's own browser (it says so).
    data = {**FORGED, "to": other_user.address, "csrf_token": "périmé"}
    refused = logged_in.post("/compose", data=data, headers={"sec-fetch-site": "same-origin"})
    assert refused.status_code == 403
    page = soup(refused.text)
    assert page.find("textarea").get_text() == FORGED["body"]
    given_back = {
        field["name"]: field.get("value", "")
        for field in page.select("form[action='/compose'] input[name]")
        if field.get("type") != "file"
    }
    given_back.update(body=page.find("textarea").get_text(), action="send")
    # The session's token, masked afresh like every token a page shows.
    assert unmask(given_back["csrf_token"]) == unmask(csrf_token(logged_in))
    assert logged_in.post("/compose", data=given_back).status_code == 303
    assert len(wait_for_messages(stack, other_user)) == 1


@pytest.mark.parametrize("headers", [{}, {"origin": "null"}])
def test_bad_token_from_an_unknown_origin_is_shown_but_cannot_be_sent(
    logged_in: TestClient, headers: dict[str, str]
) -> None:
    """An old browser posting a forged form sends neither Origin nor Sec-Fetch-Site: the
    token is all that tells it apart, so the answer must not hand one out."""
    refused = logged_in.post("/compose", data={**FORGED, "csrf_token": "forgé"}, headers=headers)
    assert refused.status_code == 403
    page = soup(refused.text)
    assert page.find("form", action="/compose") is None  # nothing that one click could send
    if "origin" not in headers:  # same_origin() lets it through: the text is shown read-only
        assert page.find("textarea").has_attr("readonly")


def test_a_form_given_back_after_the_message_left_never_sends_it_twice(
    logged_in: TestClient, stack: Stack, other_user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    transmit = sending_view._transmit

    async def left_then_failed(*args: Any, **kwargs: Any) -> Any:
        await transmit(*args, **kwargs)
        raise RuntimeError("after the server took the message")

    monkeypatch.setattr(sending_view, "_transmit", left_then_failed)
    compose = logged_in.get("/compose")
    first = submit(logged_in, compose.text, to=other_user.address, subject="Une fois", body="Bon")
    assert first.status_code == 500
    monkeypatch.undo()
    # The user presses Envoyer on the form given back, as its page invites them to.
    again = submit(logged_in, first.text)
    assert again.status_code in (303, 409), again.text
    assert len(wait_for_messages(stack, other_user)) == 1
    time.sleep(1)  # a second copy would arrive through the same Postfix within this time
    assert len(wait_for_messages(stack, other_user)) == 1

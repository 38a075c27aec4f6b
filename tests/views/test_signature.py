"""A plain-text signature per mailbox, under "-- ", in new messages, replies and forwards."""

from __future__ import annotations

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import SharedMailbox, deliver, login, simple_mail, soup
from tests.views.forms import browser_form
from tests.views.test_shared_sending import from_options, switch


def signature_forms(client: TestClient) -> dict[str, str]:
    """mailbox key -> CSRF token of its form on the signatures page."""
    page = soup(client.get("/account/signature").text)
    return {
        str(form.select_one("input[name=mailbox]")["value"]): str(
            form.select_one("input[name=csrf_token]")["value"]
        )
        for form in page.select("form.signature-form")
    }


def set_signature(client: TestClient, mailbox: str, text: str) -> None:
    token = signature_forms(client)[mailbox]
    response = client.post(
        "/account/signature", data={"csrf_token": token, "mailbox": mailbox, "signature": text}
    )
    assert response.status_code == 303, response.text


def test_each_mailbox_signs_with_its_own_signature(
    client: TestClient, stack: Stack, shared_mailbox: SharedMailbox
) -> None:
    login(client, shared_mailbox.practitioner)
    boxes = signature_forms(client)
    assert len(boxes) == 2  # personal and the secretariat
    [shared_key] = [key for key in boxes if key]
    set_signature(client, "", "-- \nDr Jeanne Martin\r\nCardiologie")  # separator not doubled
    set_signature(client, shared_key, "Secrétariat de cardiologie\n01 23 45 67 89")

    new = browser_form(client.get("/compose").text)["body"]
    assert new.strip("\n") == "-- \nDr Jeanne Martin\nCardiologie"
    uid = deliver(
        stack,
        shared_mailbox.practitioner,
        simple_mail("confrere@chu-demo.mssante.test", shared_mailbox.practitioner.address, "Avis"),
    )
    reply = browser_form(client.get(f"/compose?mode=reply&folder=INBOX&uid={uid}").text)["body"]
    assert reply.index("Dr Jeanne Martin") < reply.index("> Bonjour,")  # above the quote

    switch(client, shared_key)
    form = client.get("/compose").text
    assert from_options(form)[shared_key]  # written from the secretariat
    assert "Secrétariat de cardiologie\n01 23 45 67 89" in browser_form(form)["body"]
    assert "Jeanne Martin" not in browser_form(form)["body"]
    page = soup(client.get("/account/signature").text)
    assert [t.get_text() for t in page.select("textarea")] == [
        "Dr Jeanne Martin\nCardiologie",
        "Secrétariat de cardiologie\n01 23 45 67 89",
    ]


def test_no_signature_by_default_and_a_foreign_mailbox_is_refused(
    logged_in: TestClient,
) -> None:
    assert browser_form(logged_in.get("/compose").text)["body"] == ""
    token = signature_forms(logged_in)[""]
    response = logged_in.post(
        "/account/signature",
        data={
            "csrf_token": token,
            "mailbox": "shared/autre@cabinet.mssante.test/",
            "signature": "x",
        },
    )
    assert response.status_code == 403
    cleared = {"csrf_token": token, "mailbox": "", "signature": "   "}
    assert logged_in.post("/account/signature", data=cleared).status_code == 303
    assert browser_form(logged_in.get("/compose").text)["body"] == ""

"""Autosave: the form replaces its one Drafts copy, never sends, never outlives a send."""

from __future__ import annotations

import os
from typing import Any

import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids
from webmail.mail import outbox
from webmail.settings import Settings
from webmail.views import compose


def autosave(client: TestClient, html: str, **typed: str) -> Any:
    data = browser_form(html, **typed)
    data["action"] = "autosave"
    return client.post("/compose/autosave", data=data)


def status_line(response: Any) -> str:
    line = soup(response.text).select_one(".autosave-state")
    assert line is not None
    return line.get_text(strip=True)


def test_autosaves_replace_the_one_draft_and_say_when(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    first = autosave(logged_in, form, to="confrere@chu-demo.mssante.test", body="Premier jet")
    assert first.status_code == 200, first.text
    assert status_line(first).startswith("Brouillon enregistré à ")
    second = autosave(logged_in, form, to="confrere@chu-demo.mssante.test", body="Version finale")
    assert second.status_code == 200
    [draft] = wait_for_messages(stack, user, "Drafts")
    assert len(drafts_uids(stack, user)) == 1
    saved = parse(draft)
    assert saved["Message-ID"] == browser_form(form)["message_id"]
    assert "Version finale" in saved.get_body(("plain",)).get_content()
    assert not wait_for_messages(stack, user, "Sent", count=0)  # never sends


def test_a_late_autosave_after_the_send_is_refused(
    logged_in: TestClient, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    form = logged_in.get("/compose").text
    assert autosave(logged_in, form, to=other_user.address, body="Brouillon").status_code == 200
    sent = submit(logged_in, form, to=other_user.address, subject="Envoyé", body="Texte")
    assert sent.status_code == 303
    wait_for_messages(stack, other_user)
    assert drafts_uids(stack, user) == []

    late = autosave(logged_in, form, to=other_user.address, body="Texte")
    assert late.status_code == 409
    assert "déjà été envoyé" in status_line(late)
    assert drafts_uids(stack, user) == []


def test_a_send_claiming_the_message_during_the_autosave_leaves_no_draft(
    logged_in: TestClient,
    stack: Stack,
    user: MailUser,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ledger said "not sent", then a send claimed, sent and removed the draft while
    this copy was being appended: the autosave removes what it wrote."""
    form = logged_in.get("/compose").text
    message_id = browser_form(form)["message_id"]
    real_save = compose.save_draft

    async def sent_meanwhile(session: Any, draft: Any, *args: Any) -> Any:
        redis = Redis.from_url(settings.redis_url)
        try:
            ledger = outbox.Outbox(redis, 60)
            claim = await ledger.claim(user.address, message_id)
            assert claim is not None
            await ledger.finish(claim, outbox.State.SENT)
        finally:
            await redis.aclose()
        return await real_save(session, draft, *args)

    monkeypatch.setattr(compose, "save_draft", sent_meanwhile)
    response = autosave(logged_in, form, to="confrere@chu-demo.mssante.test", body="Tard")
    assert response.status_code == 409
    assert drafts_uids(stack, user) == []


def test_autosave_keeps_every_kept_file_and_ignores_new_uploads(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(2048) + b"\n%%EOF\n"
    form = logged_in.get("/compose").text
    saved = submit(
        logged_in,
        form,
        files=[("attachments", ("bilan.pdf", pdf, "application/pdf"))],
        action="save",
        to="confrere@chu-demo.mssante.test",
    )
    assert saved.status_code == 303
    [uid] = drafts_uids(stack, user)
    page = logged_in.get(f"/compose/draft?folder=Drafts&uid={uid}").text
    data = browser_form(page, body="Sans la pièce pour l'instant")
    data.pop("keep")  # unticked for now
    data["action"] = "autosave"
    extra = [("attachments", ("nouveau.pdf", pdf + b"x", "application/pdf"))]
    response = logged_in.post("/compose/autosave", data=data, files=extra)
    assert response.status_code == 200, response.text
    [draft] = wait_for_messages(stack, user, "Drafts")
    names = [part.get_filename() for part in parse(draft).iter_attachments()]
    assert names == ["bilan.pdf"]
    # Ticked again and sent: the file is still there to attach.
    assert submit(logged_in, page, to=user.address).status_code == 303
    [received] = wait_for_messages(stack, user)
    assert next(parse(received).iter_attachments()).get_content() == pdf


def test_autosave_checks_the_token_and_its_size(logged_in: TestClient) -> None:
    form = logged_in.get("/compose").text
    data = browser_form(form, body="x", action="autosave")
    data.pop("csrf_token")
    assert logged_in.post("/compose/autosave", data=data).status_code == 403
    huge = browser_form(form, body="x" * (10 * 1024 * 1024), action="autosave")
    assert logged_in.post("/compose/autosave", data=huge).status_code == 413

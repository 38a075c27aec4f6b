"""Undo send: the message waits out its delay in Drafts, leaves exactly once, or not at all
(cancelled in time), whatever the instances and the browser do."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Iterator

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, login, soup, wait_for_messages
from tests.views.forms import browser_form, parse, submit
from tests.views.test_drafts_open import drafts_uids
from webmail.app import create_app
from webmail.mail.scheduled import UndoSendConfig
from webmail.settings import Settings


@contextlib.contextmanager
def instance(settings: Settings, seconds: int, grace: int = 5) -> Iterator[TestClient]:
    """One app instance (its own process state, the shared Redis) with this undo delay."""
    chosen = dataclasses.replace(settings, undo_send=UndoSendConfig(seconds, grace))
    with TestClient(
        create_app(chosen), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def count_in(stack: Stack, user: MailUser, folder: str = "INBOX") -> int:
    return len(wait_for_messages(stack, user, folder, count=0))


def wait_until(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def schedule(client: TestClient, to: str, **typed: str) -> tuple[str, str]:
    """Envoyer on a fresh form; (the form, the undo page's URL)."""
    form = client.get("/compose").text
    response = submit(client, form, to=to, **typed)
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/compose/undo?message_id=")
    return form, location


def test_not_cancelled_it_leaves_once_even_with_two_instances_watching(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    with instance(settings, 2) as first, instance(settings, 2) as second:
        login(first, user)
        form, undo = schedule(first, other_user.address, subject="Compte rendu", body="Ci-joint.")
        page = soup(first.get(undo).text)
        countdown = page.select_one(".undo-send-countdown")
        assert countdown is not None and countdown["data-seconds"] in ("1", "2")
        assert page.select_one("button.undo-send-cancel").get_text(strip=True) == "Annuler"
        assert len(drafts_uids(stack, user)) == 1  # safe in Drafts meanwhile
        assert count_in(stack, other_user) == 0

        # Envoyer again meanwhile (double click, second tab): the same wait, no second send.
        again = submit(first, form, to=other_user.address, subject="Compte rendu")
        assert again.headers["location"] == undo
        [received] = wait_for_messages(stack, other_user)
        time.sleep(3)  # both instances' recovery passes ran meanwhile
        assert count_in(stack, other_user) == 1
        assert parse(received)["Subject"] == "Compte rendu"
        wait_until(lambda: drafts_uids(stack, user) == [])
        assert count_in(stack, user, "Sent") == 1
        assert first.get(undo).headers["location"] == "/mail?folder=INBOX&notice=sent"
        # The other instance sees the same ledger.
        second.cookies = first.cookies
        assert second.get(undo).headers["location"] == "/mail?folder=INBOX&notice=sent"


def test_cancelled_in_time_nothing_leaves_and_the_editor_has_everything(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    pdf = b"%PDF-1.4\n" + os.urandom(2048) + b"\n%%EOF\n"
    with instance(settings, 3) as first, instance(settings, 3) as second:
        login(first, user)
        form = first.get("/compose").text
        response = submit(
            first,
            form,
            files=[("attachments", ("ordonnance.pdf", pdf, "application/pdf"))],
            to=other_user.address,
            subject="Ordonnance",
            body="Mauvais destinataire !",
        )
        undo = response.headers["location"]
        # Cancelled from another instance: the ledger decides, not the process.
        second.cookies = first.cookies
        page = soup(second.get(undo).text)
        data = {
            "csrf_token": str(page.select_one("input[name=csrf_token]")["value"]),
            "message_id": str(page.select_one("input[name=message_id]")["value"]),
        }
        cancelled = second.post("/compose/undo", data=data)
        assert cancelled.status_code == 200
        fields = browser_form(cancelled.text)
        assert fields["to"] == other_user.address
        assert fields["subject"] == "Ordonnance"
        assert fields["body"].strip() == "Mauvais destinataire !"
        assert fields["message_id"] == browser_form(form)["message_id"]
        assert soup(cancelled.text).select(".kept-files input[name=keep][checked]")

        time.sleep(4)  # past the due time: the first instance's task must not send
        assert count_in(stack, other_user) == 0
        assert len(drafts_uids(stack, user)) == 1
        # Corrected and sent again from the editor: it goes, once.
        fixed = submit(second, cancelled.text, to=user.address)
        assert fixed.headers["location"].startswith("/compose/undo?")
        wait_for_messages(stack, user)
        assert count_in(stack, other_user) == 0


def test_a_cancel_after_it_left_says_too_late(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    with instance(settings, 1) as client:
        login(client, user)
        _form, undo = schedule(client, other_user.address, subject="Parti")
        page = soup(client.get(undo).text)
        data = {
            "csrf_token": str(page.select_one("input[name=csrf_token]")["value"]),
            "message_id": str(page.select_one("input[name=message_id]")["value"]),
        }
        wait_for_messages(stack, other_user)
        late = client.post("/compose/undo", data=data)
        assert late.status_code == 409
        alert = soup(late.text).select_one("[role=alert]")
        assert (
            alert is not None and alert.get_text(strip=True) == "Trop tard : le message est parti."
        )
        assert count_in(stack, other_user) == 1


def test_the_instance_stops_during_the_delay_another_sends_it_once(
    settings: Settings, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    """A restart or a deployment during the delay: the survivor's recovery pass sends the
    message, with its Sent copy, and the draft goes. (A crash: test_undo_send_restart.py.)"""
    with instance(settings, 2) as survivor:
        with instance(settings, 2) as doomed:
            login(doomed, user)
            _form, undo = schedule(doomed, other_user.address, subject="Pendant le redémarrage")
            cookies = doomed.cookies
        # The first instance is gone before the due time.
        survivor.cookies = cookies
        [received] = wait_for_messages(stack, other_user, timeout=20)
        assert parse(received)["Subject"] == "Pendant le redémarrage"
        wait_until(lambda: drafts_uids(stack, user) == [])
        assert count_in(stack, user, "Sent") == 1
        assert survivor.get(undo).headers["location"] == "/mail?folder=INBOX&notice=sent"
        time.sleep(3)
        assert count_in(stack, other_user) == 1
        assert soup(survivor.get("/mail").text).select_one(".alert-warning") is None


def test_a_forged_or_foreign_message_id_is_refused(settings: Settings, user: MailUser) -> None:
    with instance(settings, 2) as client:
        login(client, user)
        assert client.get("/compose/undo?message_id=<x@evil.test>").status_code == 400

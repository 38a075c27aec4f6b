"""Sending when SMTP misbehaves: never lose the text, never send twice.

The webmail talks to a fake SMTP server that fails on purpose; what it accepts it hands to
the real Postfix, so each test counts what the recipient's real mailbox and Sent hold.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, imap_for, login, soup, wait_for_messages
from tests.mail.fake_smtp import DROP, SILENCE, FakeSmtp, Script, fake_smtp
from tests.views.forms import browser_form, parse, submit
from webmail.app import create_app
from webmail.mail.outbox import Outbox
from webmail.settings import Settings
from webmail.views import sending


@pytest.fixture
def fake(stack: Stack) -> Iterator[FakeSmtp]:
    with fake_smtp(Script(relay_port=stack.smtp)) as server:
        yield server


@pytest.fixture
def faulty_settings(env: dict[str, str], fake: FakeSmtp) -> Settings:
    return Settings.from_env(
        {
            **env,
            "MSS_SMTP_HOST": "127.0.0.1",
            "MSS_SMTP_PORT": str(fake.port),
            "MSS_SMTP_TLS": "none",
            "MSS_SMTP_TIMEOUT_SECONDS": "3",
            "MSS_SMTP_DATA_TIMEOUT_SECONDS": "1",
        }
    )


def app_client(settings: Settings) -> TestClient:
    return TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    )


@pytest.fixture
def writer(faulty_settings: Settings, user: MailUser) -> Iterator[TestClient]:
    with app_client(faulty_settings) as client:
        login(client, user)
        yield client


def count(stack: Stack, user: MailUser, folder: str = "INBOX", settle: float = 1.5) -> int:
    """How many messages ``folder`` holds once deliveries in flight have had time to land."""
    time.sleep(settle)
    imap = imap_for(stack, user)
    try:
        typ, data = imap.select(f'"{folder}"', readonly=True)
        return int(data[0]) if typ == "OK" else 0
    finally:
        imap.logout()


def alert(response: Any) -> str:
    return soup(response.text).find(attrs={"role": "alert"}).get_text(" ", strip=True)


def compose_page(client: TestClient, to: str, subject: str = "Résultats urgents") -> str:
    form = client.get("/compose").text
    data = browser_form(form, to=to, subject=subject, body="Kaliémie à 6,2 : à contrôler.")
    page = soup(form)
    for name, value in data.items():
        field = page.find(["input", "textarea"], attrs={"name": name})
        if field is not None and field.name == "textarea":
            field.string = value
        elif field is not None:
            field["value"] = value
    return str(page)


@pytest.mark.parametrize("after_dot", [SILENCE, DROP])
def test_unknown_outcome_delivers_once_until_confirmed(
    writer: TestClient,
    fake: FakeSmtp,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    after_dot: str,
) -> None:
    fake.script.after_dot = after_dot
    form = compose_page(writer, other_user.address)
    first = submit(writer, form)
    assert first.status_code == 504
    assert "peut-être parti" in alert(first)
    assert "injoignable" not in alert(first)
    page = soup(first.text)
    assert page.find("textarea").get_text() == "Kaliémie à 6,2 : à contrôler."
    assert page.select_one("button[value=resend]") is not None
    assert page.select_one("button[value=send]") is None
    assert count(stack, other_user) == 1  # it did arrive

    # Envoyer pressed again (or the browser replays the POST): refused, nothing sent.
    fake.script.after_dot = "250 2.0.0 Ok: queued"
    again = submit(writer, form)
    assert again.status_code == 409
    assert "n'a pas été renvoyé" in alert(again)
    assert len(fake.received) == 1
    assert count(stack, other_user) == 1
    assert count(stack, user, "Sent", settle=0) == 0
    [draft] = wait_for_messages(stack, user, "Drafts")
    assert parse(draft)["Subject"] == "Résultats urgents"
    assert _draft_keywords(stack, user) >= {"$MSSOutcomeUnknown"}
    drafts_list = soup(writer.get("/mail?folder=Drafts").text)
    [badge] = drafts_list.select(".rows .badge-warn")
    assert badge.get_text(strip=True) == "Envoi incertain"

    # The explicit confirmation sends it again, once.
    confirmed = submit(writer, again.text, action="resend")
    assert confirmed.status_code == 303
    assert count(stack, other_user) == 2
    assert count(stack, user, "Sent", settle=0) == 1
    assert count(stack, user, "Drafts", settle=0) == 0
    # And that form is spent: one more submission sends nothing.
    assert submit(writer, again.text, action="resend").status_code in (303, 409)
    assert len(fake.received) == 2


def _draft_keywords(stack: Stack, user: MailUser) -> set[str]:
    imap = imap_for(stack, user)
    try:
        imap.select("Drafts", readonly=True)
        flags = imap.uid("FETCH", "1:*", "(FLAGS)")[1][0]
    finally:
        imap.logout()
    assert isinstance(flags, bytes)
    return set(flags.decode().split("FLAGS (", 1)[1].split(")", 1)[0].split())


def test_failure_before_data_is_safe_to_retry(
    writer: TestClient, fake: FakeSmtp, stack: Stack, other_user: MailUser
) -> None:
    fake.script.data = DROP
    form = compose_page(writer, other_user.address)
    first = submit(writer, form)
    assert first.status_code == 503
    assert "n'a pas été envoyé" in alert(first) and "sans risque de doublon" in alert(first)
    assert soup(first.text).select_one("button[value=send]") is not None
    fake.script.data = "354 go ahead"
    assert submit(writer, first.text).status_code == 303
    assert count(stack, other_user) == 1


def post_twice_at_once(
    settings: Settings, user: MailUser, to: str, *, one_worker: bool = False
) -> list[Any]:
    """The same form posted twice at once in one session: a double click reaching one
    worker, or two workers behind the proxy."""
    with app_client(settings) as first, app_client(settings) as other:
        login(first, user)
        second = first if one_worker else other
        second.cookies.update(first.cookies)
        # Both workers have the folder list in cache, as after showing the inbox: two
        # LIST-STATUS at the same instant on one mailbox can make the test stack's Dovecot
        # panic (fcntl EDEADLK on dovecot.list.index.log), a server fault, not the webmail's.
        assert first.get("/mail").status_code == second.get("/mail").status_code == 200
        form = compose_page(first, to)
        responses: list[Any] = []
        spans: list[tuple[float, float]] = []

        def post(client: TestClient) -> None:
            started = time.monotonic()
            responses.append(submit(client, form))
            spans.append((started, time.monotonic()))

        threads = [threading.Thread(target=post, args=(c,)) for c in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # really at once
    return responses


@pytest.mark.parametrize("one_worker", [False, True])
def test_double_submission_sends_once(
    faulty_settings: Settings,
    fake: FakeSmtp,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    one_worker: bool,
) -> None:
    fake.script.delay_after_dot = 0.6  # under the 1 s data timeout
    responses = post_twice_at_once(faulty_settings, user, other_user.address, one_worker=one_worker)
    assert sorted(r.status_code for r in responses) == [303, 303]
    assert sorted(r.headers["location"] for r in responses) == [
        "/mail?folder=INBOX&notice=already-sent",
        "/mail?folder=INBOX&notice=sent",
    ]
    assert len(fake.received) == 1
    assert count(stack, other_user) == 1
    assert count(stack, user, "Sent", settle=0) == 1


def test_double_submission_after_a_partial_refusal_offers_the_same_resend(
    faulty_settings: Settings, fake: FakeSmtp, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    refused = "absent@infirmier.mssante.test"
    fake.script.rcpt = {refused: "550 5.1.1 User unknown"}
    fake.script.delay_after_dot = 0.6
    responses = post_twice_at_once(faulty_settings, user, f"{other_user.address}, {refused}")
    assert [r.status_code for r in responses] == [200, 200]
    pages = [soup(r.text) for r in responses]
    for page in pages:
        assert page.select_one("input[name=to]")["value"] == refused
        assert page.select_one(".refusals li strong").get_text() == refused
    ids = {page.select_one("input[name=message_id]")["value"] for page in pages}
    assert len(ids) == 1  # one resend offered, whichever page the browser shows
    assert len(fake.received) == 1
    assert count(stack, other_user) == 1
    assert count(stack, user, "Drafts", settle=0) == 1


def test_already_sent_form_posted_again_is_not_resent(
    writer: TestClient, fake: FakeSmtp, stack: Stack, other_user: MailUser
) -> None:
    form = compose_page(writer, other_user.address)
    assert submit(writer, form).headers["location"].endswith("notice=sent")
    again = submit(writer, form)
    assert again.headers["location"] == "/mail?folder=INBOX&notice=already-sent"
    warning = soup(writer.get(again.headers["location"]).text).select_one(".alert-warning")
    assert "déjà été envoyé" in warning.get_text()
    assert len(fake.received) == 1
    assert count(stack, other_user) == 1


@pytest.mark.parametrize(
    ("script", "status", "words"),
    [
        (Script(after_dot="451 4.3.0 Queue full"), 503, "Réessayez plus tard"),
        (Script(rcpt={"*": ""}), 503, "Réessayez plus tard"),
        (Script(after_dot="552 5.3.4 Message size exceeds fixed limit"), 422, "trop volumineux"),
    ],
)
def test_refusals_show_the_server_answer_cleanly(
    writer: TestClient,
    fake: FakeSmtp,
    other_user: MailUser,
    script: Script,
    status: int,
    words: str,
) -> None:
    fake.script.after_dot = script.after_dot
    if script.rcpt:
        fake.script.rcpt = {other_user.address: "450 4.2.1 Mailbox busy"}
    response = submit(writer, compose_page(writer, other_user.address))
    assert response.status_code == status
    assert words in alert(response)
    page = soup(response.text)
    shown = page.select_one(".server-reply code") or page.select_one(".refusals code")
    assert shown is not None
    assert shown.get_text()[:3] in ("451", "450", "552")
    assert "(552," not in page.get_text() and "('" not in page.get_text()
    if script.rcpt:
        assert "temporaire" in page.select_one(".refusals").get_text()


def test_hostile_server_answer_is_shown_as_text(
    writer: TestClient, fake: FakeSmtp, other_user: MailUser
) -> None:
    fake.script.after_dot = '554 5.7.1 <a href="/x" hx-get="/mail">cliquez</a> %s {0}'
    response = submit(writer, compose_page(writer, other_user.address))
    assert response.status_code == 422
    page = soup(response.text)
    assert page.select_one("main a[hx-get]") is None
    assert page.select_one(".server-reply code").get_text() == (
        '554 5.7.1 <a href="/x" hx-get="/mail">cliquez</a> %s {0}'
    )


def test_redis_down_at_the_claim_keeps_the_text(
    writer: TestClient,
    fake: FakeSmtp,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from redis.asyncio import Redis

    def unreachable(request: Any) -> Outbox:
        # A Redis nobody listens on: the claim itself fails, the session store does not.
        return Outbox(Redis(port=stack.base_port + 1, socket_connect_timeout=1), 60)

    monkeypatch.setattr(sending, "outbox", unreachable)
    response = submit(writer, compose_page(writer, other_user.address))
    assert response.status_code == 503
    assert "rien n'a été envoyé" in alert(response)
    assert soup(response.text).find("textarea").get_text() == "Kaliémie à 6,2 : à contrôler."
    assert fake.received == []
    assert count(stack, other_user) == 0
    assert parse(wait_for_messages(stack, user, "Drafts")[0])["Subject"] == "Résultats urgents"


def test_sent_without_a_copy_says_so(
    writer: TestClient,
    fake: FakeSmtp,
    stack: Stack,
    other_user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from webmail.mail.imap import ImapCommandFailed

    async def no_sent_folder(session: Any, role: str) -> str:
        if role == "sent":
            raise ImapCommandFailed("CREATE", "NO", "not allowed")
        return "Drafts"

    monkeypatch.setattr(sending, "role_folder", no_sent_folder)
    response = submit(writer, compose_page(writer, other_user.address))
    assert response.headers["location"] == "/mail?folder=INBOX&notice=sent-nocopy"
    page = soup(writer.get(response.headers["location"]).text)
    assert "aucune copie" in page.select_one(".alert-warning").get_text()
    assert page.select_one(".alert-ok") is None  # not a plain success
    assert count(stack, other_user) == 1


def test_forwarded_files_stay_offered_when_no_draft_can_be_kept(
    writer: TestClient,
    fake: FakeSmtp,
    stack: Stack,
    user: MailUser,
    other_user: MailUser,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.conftest import deliver, simple_mail
    from webmail.mail.imap import ImapCommandFailed
    from webmail.views import compose

    original = simple_mail("labo@labo-demo.mssante.test", user.address, "Bilan")
    original.add_attachment(b"%PDF bilan", maintype="application", subtype="pdf", filename="b.pdf")
    uid = deliver(stack, user, original)
    real_role_folder = compose.role_folder

    async def no_drafts(session: Any, role: str) -> str:
        if role == "drafts":
            raise ImapCommandFailed("CREATE", "NO", "not allowed")
        return await real_role_folder(session, role)

    monkeypatch.setattr(compose, "role_folder", no_drafts)
    fake.script.data = DROP
    form = writer.get(f"/compose?mode=forward&folder=INBOX&uid={uid}").text
    failed = submit(writer, form, to=other_user.address)
    assert failed.status_code == 503
    page = soup(failed.text)
    assert "Aucune copie" in alert(failed)
    assert "b.pdf" in page.select_one(".kept-file").get_text()
    assert page.select_one(".files-lost") is None  # nothing new was uploaded, nothing lost
    fake.script.data = "354 go ahead"
    assert submit(writer, failed.text).status_code == 303
    forwarded = parse(wait_for_messages(stack, other_user)[0])
    assert [a.get_content() for a in forwarded.iter_attachments()] == [b"%PDF bilan"]

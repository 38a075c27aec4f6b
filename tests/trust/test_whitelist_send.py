"""At send time, on the server: recipients outside the trust space, through the real app,
the real Postfix and the real Dovecot."""

from __future__ import annotations

import os
from pathlib import Path

from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, login, new_user, soup, wait_for_messages
from tests.trust.app import audit_lines, count, webmail
from tests.trust.samples import OUTSIDE_DOMAIN, whitelist_xml
from tests.views.forms import browser_form, parse, submit
from webmail.trust.cli import install

PDF = b"%PDF-1.4\n" + os.urandom(4096) + b"\n%%EOF\n"
BODY = "Chère consœur,\n\nCompte rendu de consultation de M. Dupont ci-joint.\n"


def outside_user(stack: Stack) -> MailUser:
    """A mailbox the test stack's Postfix delivers to, on a domain the whitelist lacks."""
    return new_user(stack, OUTSIDE_DOMAIN)


def first_send(client, to: str, cc: str = ""):  # type: ignore[no-untyped-def]
    page = client.get("/compose").text
    return submit(
        client,
        page,
        files=[("attachments", ("compte rendu.pdf", PDF, "application/pdf"))],
        to=to,
        cc=cc,
        subject="Compte rendu — M. Dupont",
        body=BODY,
    )


def outside_listed(html: str) -> list[str]:
    return [
        li.select_one(".trust-address").get_text()
        for li in soup(html).select("#recipient-trust .trust-outside-address")
    ]


def test_a_send_outside_is_refused_and_nothing_is_lost(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path) as client:
        login(client, user)
        refused = first_send(client, stranger.address)
        assert refused.status_code == 422
        page = soup(refused.text)
        error = page.select_one(".alert-error").get_text()
        assert f"hors de l'espace de confiance MSSanté : {stranger.address}." in error
        assert "qu'entre messageries de l'espace de confiance" in error
        # Everything typed is given back, the file kept on the server with the draft.
        form = browser_form(refused.text)
        assert (form["to"], form["subject"], form["body"]) == (
            stranger.address,
            "Compte rendu — M. Dupont",
            BODY,
        )
        kept = [f.get_text(" ", strip=True) for f in page.select(".kept-file")]
        assert len(kept) == 1 and "compte rendu.pdf" in kept[0]
        assert page.select_one(".kept-file input")["checked"] is not None
        assert outside_listed(refused.text) == [stranger.address]
        assert page.select_one(".trust-confirm") is None  # refuse mode: no way round it

        # Corrected, the same form goes out (the refusal claimed nothing), file included.
        fixed = submit(client, refused.text, to=other_user.address)
        assert fixed.status_code == 303, fixed.text
        received = parse(wait_for_messages(stack, other_user)[0])
        assert next(received.iter_attachments()).get_content() == PDF
    assert count(stack, stranger) == 0
    assert count(stack, user, "Sent") == 1
    assert count(stack, user, "Drafts") == 0
    (line,) = audit_lines(tmp_path, "message_outside_trust")
    assert (line["result"], line["target"]) == ("refused", {"recipients": 1, "outside": 1})
    assert stranger.address not in str(line)
    sent = audit_lines(tmp_path, "message_sent")
    assert [s["target"]["recipients"] for s in sent] == [[other_user.address]]


def test_a_mixed_list_is_refused_whole(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path) as client:
        login(client, user)
        refused = first_send(client, other_user.address, cc=stranger.address)
        assert refused.status_code == 422
        error = soup(refused.text).select_one(".alert-error").get_text()
        assert stranger.address in error and other_user.address not in error
        assert outside_listed(refused.text) == [stranger.address]
        # A later message to the inside recipient alone: the first one never left.
        later = submit(
            client, client.get("/compose").text, to=other_user.address, subject="Second", body="x"
        )
        assert later.status_code == 303
        (only,) = wait_for_messages(stack, other_user)
        assert parse(only)["Subject"] == "Second"
    assert count(stack, stranger) == 0
    (line,) = audit_lines(tmp_path, "message_outside_trust")
    assert line["target"] == {"recipients": 2, "outside": 1}


def test_the_domain_is_compared_normalised(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    shouted = other_user.address.upper()
    with webmail(env, tmp_path) as client:
        login(client, user)
        sent = first_send(client, shouted)
        assert sent.status_code == 303, sent.text
    wait_for_messages(stack, other_user)


def test_warn_mode_asks_then_sends_when_confirmed(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path, MSS_TRUST_OUTSIDE="warn") as client:
        login(client, user)
        warned = first_send(client, stranger.address)
        assert warned.status_code == 409
        page = soup(warned.text)
        assert "Envoyer quand même" in page.select_one(".alert-error").get_text()
        confirm = page.select_one("#recipient-trust button.trust-confirm")
        assert confirm.get_text() == "Envoyer quand même"
        assert (confirm["name"], confirm["value"]) == ("action", "send")
        assert outside_listed(warned.text) == [stranger.address]
        assert count(stack, user, "Sent") == 0
        assert count(stack, stranger) == 0

        confirmed = submit(client, warned.text)  # the form as given back, confirmation included
        assert confirmed.status_code == 303, confirmed.text
        received = parse(wait_for_messages(stack, stranger)[0])
        assert next(received.iter_attachments()).get_content() == PDF
    results = [line["result"] for line in audit_lines(tmp_path, "message_outside_trust")]
    assert results == ["warned", "confirmed"]
    assert [s["result"] for s in audit_lines(tmp_path, "message_sent")] == ["ok"]


def test_warn_mode_asks_again_when_the_recipients_change(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    stranger, second_stranger = outside_user(stack), outside_user(stack)
    with webmail(env, tmp_path, MSS_TRUST_OUTSIDE="warn") as client:
        login(client, user)
        warned = first_send(client, stranger.address)
        first_token = browser_form(warned.text)["trust_confirm"]
        # Another address outside added after the warning: asked again, with a new token.
        changed = submit(client, warned.text, cc=second_stranger.address)
        assert changed.status_code == 409
        assert outside_listed(changed.text) == [stranger.address, second_stranger.address]
        second_token = browser_form(changed.text)["trust_confirm"]
        assert second_token != first_token
        # An inside recipient added is a changed list too.
        widened = submit(client, changed.text, bcc=other_user.address)
        assert widened.status_code == 409
        # A confirmation made up, or taken from the first warning, is not one.
        assert submit(client, widened.text, trust_confirm="0" * 64).status_code == 409
        assert submit(client, widened.text, trust_confirm=first_token).status_code == 409
        assert count(stack, stranger) == 0 and count(stack, user, "Sent") == 0
        done = submit(client, widened.text)
        assert done.status_code == 303, done.text
        wait_for_messages(stack, stranger)
        wait_for_messages(stack, second_stranger)
        wait_for_messages(stack, other_user)


def test_a_confirmation_is_for_its_own_message(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path, MSS_TRUST_OUTSIDE="warn") as client:
        login(client, user)
        token = browser_form(first_send(client, stranger.address).text)["trust_confirm"]
        other = submit(
            client, client.get("/compose").text, to=stranger.address, trust_confirm=token
        )
        assert other.status_code == 409
    assert count(stack, stranger) == 0


def test_without_a_whitelist_nothing_is_checked_and_the_page_says_so(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path, MSS_TRUST_WHITELIST="") as client:
        login(client, user)
        page = soup(client.get("/compose").text)
        assert (
            "ne sont pas vérifiés"
            in page.select_one("#recipient-trust .trust-unchecked").get_text()
        )
        assert not page.select_one("#recipient-trust").has_attr("hx-post")  # nothing to ask
        assert first_send(client, stranger.address).status_code == 303
    wait_for_messages(stack, stranger)
    assert audit_lines(tmp_path, "message_outside_trust") == []


def test_a_whitelist_that_never_loaded_refuses_every_send(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser, other_user: MailUser
) -> None:
    (tmp_path / "whitelist.xml").write_bytes(b"<html>Erreur 502</html>")
    with webmail(env, tmp_path) as client:
        login(client, user)
        refused = first_send(client, other_user.address)
        assert refused.status_code == 503
        page = soup(refused.text)
        assert "n'a pas pu être chargée" in page.select_one(".alert-error").get_text()
        assert page.select_one("#recipient-trust .trust-unavailable") is not None
        assert len(page.select(".kept-file")) == 1  # the file kept for later
        # A valid list installed: the same form goes out, without a restart.
        install(whitelist_xml(other_user.address.split("@")[1]), tmp_path / "whitelist.xml")
        client.app.state.services.trust.check_seconds = 0  # type: ignore[attr-defined]
        assert submit(client, refused.text).status_code == 303
    wait_for_messages(stack, other_user)
    (line,) = audit_lines(tmp_path, "message_outside_trust")
    assert line["result"] == "unavailable"


def test_a_new_whitelist_applies_without_a_restart(
    env: dict[str, str], tmp_path: Path, stack: Stack, user: MailUser
) -> None:
    stranger = outside_user(stack)
    with webmail(env, tmp_path) as client:
        login(client, user)
        client.app.state.services.trust.check_seconds = 0  # type: ignore[attr-defined]
        refused = first_send(client, stranger.address)
        assert refused.status_code == 422
        install(whitelist_xml(OUTSIDE_DOMAIN), tmp_path / "whitelist.xml")
        assert submit(client, refused.text).status_code == 303
        # And a broken download afterwards changes nothing: the new list stays in force.
        install(b"<html>Erreur 502</html>", tmp_path / "whitelist.xml")
        again = first_send(client, stranger.address)
        assert again.status_code == 303, again.text
    assert len(wait_for_messages(stack, stranger, count=2)) == 2


def test_the_recipients_partial_marks_the_outside_ones(
    env: dict[str, str], tmp_path: Path, user: MailUser, other_user: MailUser
) -> None:
    with webmail(env, tmp_path) as client:
        login(client, user)
        token = csrf_token(client)
        headers = {"HX-Request": "true", "X-CSRF-Token": token}
        marked = client.post(
            "/compose/recipients",
            data={
                "to": f"Dr Inf <{other_user.address}>, x@{OUTSIDE_DOMAIN}",
                "cc": "y@laposte.example; y@laposte.example",
                "bcc": "à moitié tap",
            },
            headers=headers,
        )
        assert marked.status_code == 200
        fragment = soup(marked.text)
        root = fragment.select_one("#recipient-trust")
        assert root is not None and root.parent is fragment  # the partial alone
        assert root["hx-target"] == "this" and root["hx-params"] == "to,cc,bcc"
        assert outside_listed(marked.text) == [f"x@{OUTSIDE_DOMAIN}", "y@laposte.example"]
        markers = [m.get_text() for m in fragment.select(".trust-marker")]
        assert markers == ["Hors espace de confiance"] * 2  # said in words, not by colour
        assert "2 adresses" in fragment.select_one(".trust-outside strong").get_text()
        inside = client.post(
            "/compose/recipients", data={"to": other_user.address}, headers=headers
        )
        assert soup(inside.text).select_one(".trust-inside") is not None
        assert soup(inside.text).select_one(".trust-outside") is None
        empty = client.post("/compose/recipients", data={}, headers=headers)
        assert soup(empty.text).select_one("#recipient-trust").get_text(strip=True) == ""
        # A state-changing request like any other: same origin and the session's token.
        forged = client.post(
            "/compose/recipients", data={"to": "x@y.example"}, headers={"HX-Request": "true"}
        )
        assert forged.status_code == 403
    with webmail(env, tmp_path) as anonymous:
        expired = anonymous.post(
            "/compose/recipients", data={"to": "x@y.example"}, headers={"HX-Request": "true"}
        )
        assert expired.status_code == 401
        assert expired.headers["HX-Redirect"].startswith("/login")


def test_the_compose_page_marks_recipients_without_javascript(
    env: dict[str, str], tmp_path: Path, user: MailUser
) -> None:
    with webmail(env, tmp_path) as client:
        login(client, user)
        page = client.get("/compose", params={"to": f"x@{OUTSIDE_DOMAIN}"}).text
        assert outside_listed(page) == [f"x@{OUTSIDE_DOMAIN}"]
        form = soup(page).select_one("form.compose-form")
        assert form.select_one("#recipient-trust") is not None

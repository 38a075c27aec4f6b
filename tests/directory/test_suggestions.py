"""Recipient suggestions of the compose form: recent correspondents first, then the directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, imap_for, simple_mail, soup
from webmail.directory.recent import Correspondent, RecentCorrespondents
from webmail.views.directory import token_being_typed


def sent_to(stack: Stack, user: MailUser, *recipients: str) -> None:
    """Messages in the user's Sent folder, as if sent from another client."""
    imap = imap_for(stack, user)
    imap.create("Sent")
    imap.logout()
    for to in recipients:
        deliver(stack, user, simple_mail(user.address, to, "Compte rendu"), folder="Sent")


def suggestions(client: TestClient, **params: str) -> dict[str, object]:
    response = client.get("/compose/recipients", params=params, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = soup(response.text)
    return {
        "for": page.select_one("[data-for]")["data-for"],
        "groups": [g.get_text(strip=True) for g in page.select(".suggestion-group")],
        "options": [o["data-address"] for o in page.select("[role=option]")],
        "ids": [o["id"] for o in page.select("[role=option]")],
        "names": [
            o.select_one(".suggestion-name").get_text(strip=True)
            for o in page.select("[role=option]")
        ],
    }


def test_the_compose_form_has_a_suggestion_list_under_to_and_cc(logged_in: TestClient) -> None:
    page = soup(logged_in.get("/compose").text)
    for field in ("to", "cc"):
        entry = page.select_one(f"#{field}")
        assert entry["data-suggest"] == f"{field}-suggestions"
        listbox = page.select_one(f"#{field}-suggestions")
        assert listbox["role"] == "listbox"
        assert listbox.has_attr("hidden")
        assert listbox.find_parent(class_="field") is entry.find_parent(class_="field")


def test_directory_matches_for_what_is_typed(logged_in: TestClient) -> None:
    found = suggestions(logged_in, to="moreau card demov")
    assert found["for"] == "moreau card demov"
    assert found["groups"] == ["Annuaire santé"]
    assert found["options"] == ["antoine.moreau@ch-demo.mssante.test"]
    assert found["names"] == ["Dr Antoine Moreau"]
    assert found["ids"] == ["to-option-1"]


def test_only_the_recipient_being_typed_is_completed(logged_in: TestClient) -> None:
    found = suggestions(logged_in, cc="paul.durand@infirmier.mssante.test; x@y.fr, lefèvre pneu")
    assert found["for"] == "lefèvre pneu"
    assert found["options"] == ["sophie.lefevre@chu-demo.mssante.test"]
    assert found["ids"] == ["cc-option-1"]
    assert token_being_typed("a@b.fr, ") == ""
    assert token_being_typed("a@b.fr;c") == "c"


@pytest.mark.parametrize("typed", ["", "m", "a@b.fr, m", "   "])
def test_too_little_typed_gives_no_suggestion(logged_in: TestClient, typed: str) -> None:
    found = suggestions(logged_in, to=typed)
    assert found["options"] == []
    assert found["groups"] == []


def test_recent_correspondents_come_first_and_are_not_repeated(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    sent_to(
        stack,
        user,
        "Dr Antoine Moreau <antoine.moreau@ch-demo.mssante.test>",
        "Mme Zoé Morin <zoe.morin@exemple.mssante.test>",
        "antoine.moreau@ch-demo.mssante.test",  # twice: one suggestion
    )
    found = suggestions(logged_in, to="mor")
    assert found["groups"][0] == "Correspondants récents"
    options: list[str] = found["options"]  # type: ignore[assignment]
    # Newest first, each once, then the directory without them.
    assert options[:2] == ["antoine.moreau@ch-demo.mssante.test", "zoe.morin@exemple.mssante.test"]
    assert options.count("antoine.moreau@ch-demo.mssante.test") == 1
    assert len(options) > 2
    assert found["ids"] == [f"to-option-{n}" for n in range(1, len(options) + 1)]
    # Accents folded in the user's own list too.
    assert suggestions(logged_in, to="zoe")["options"][0] == "zoe.morin@exemple.mssante.test"  # type: ignore[index]


def test_without_a_directory_the_recent_ones_still_come_and_the_list_says_so(
    logged_in: TestClient, stack: Stack, user: MailUser, index_path: Path
) -> None:
    sent_to(stack, user, "Dr Jules Verne <jules.verne@exemple.mssante.test>")
    index_path.unlink()
    found = suggestions(logged_in, to="verne")
    assert found["options"] == ["jules.verne@exemple.mssante.test"]
    assert found["groups"] == ["Correspondants récents", "Annuaire non disponible"]


def test_hostile_input_is_only_text(logged_in: TestClient) -> None:
    typed = '<img src=x onerror=alert(1)> "NEAR( *'
    response = logged_in.get("/compose/recipients", params={"to": typed})
    assert response.status_code == 200
    page = soup(response.text)
    assert page.select("img") == []
    assert page.select_one("[data-for]")["data-for"] == typed


def test_signed_out_there_are_no_suggestions_and_the_form_stays(client: TestClient) -> None:
    # A redirect to the login page would throw away the message being written.
    response = client.get(
        "/compose/recipients", params={"to": "mor"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 204
    assert "hx-redirect" not in response.headers
    assert response.text == ""


async def test_the_recent_list_is_loaded_once_per_session_for_a_while() -> None:
    loads: list[str] = []

    def loader(key: str):  # type: ignore[no-untyped-def]
        async def load() -> list[Correspondent]:
            loads.append(key)
            return [Correspondent("", f"{key}@x.fr")]

        return load

    held = RecentCorrespondents(keep_seconds=60, max_sessions=2)
    assert (await held.get("a", loader("a")))[0].address == "a@x.fr"
    await held.get("a", loader("a"))
    assert loads == ["a"]
    await held.get("b", loader("b"))
    await held.get("c", loader("c"))  # over the limit: the oldest session is forgotten
    await held.get("a", loader("a"))
    assert loads == ["a", "b", "c", "a"]
    expired = RecentCorrespondents(keep_seconds=0)
    await expired.get("a", loader("a"))
    await expired.get("a", loader("a"))
    assert loads[-2:] == ["a", "a"]

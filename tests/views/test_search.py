"""The search pages and next/previous, through HTTP on real Dovecot."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, imap_for, login, simple_mail, soup
from webmail.app import create_app
from webmail.mail.imap import ImapClient, ImapCommandFailed
from webmail.settings import Settings


def append(stack: Stack, user: MailUser, subjects: list[str], folder: str = "INBOX") -> None:
    """Messages n minutes past 8, in this order: the list shows them last first."""
    imap = imap_for(stack, user)
    try:
        if folder != "INBOX":
            imap.create(folder)
        for n, subject in enumerate(subjects):
            message = simple_mail("secretariat@chu-demo.mssante.test", user.address, subject)
            del message["Date"]
            message["Date"] = f"Tue, 24 Nov 2026 08:{n:02d}:00 +0100"
            assert imap.append(folder, None, None, message.as_bytes())[0] == "OK"
    finally:
        imap.logout()


def subjects(html: str, scope: str = "") -> list[str]:
    return [s.get_text(" ", strip=True) for s in soup(html).select(f"{scope} li.row .subject")]


def client_with(env: dict[str, str], user: MailUser, **settings: str) -> TestClient:
    app = create_app(Settings.from_env({**env, **settings}))
    client = TestClient(app, base_url="http://127.0.0.1:8000", follow_redirects=False)
    client.__enter__()
    login(client, user)
    return client


@pytest.fixture
def small_pages(env: dict[str, str], user: MailUser) -> Iterator[TestClient]:
    client = client_with(env, user, MSS_PAGE_SIZE="10")
    yield client
    client.__exit__(None, None, None)


# -- the page ---------------------------------------------------------------------------------


def test_the_page_without_a_query_explains(logged_in: TestClient) -> None:
    page = logged_in.get("/search")
    assert page.status_code == 200
    assert page.template.name == "pages/search.html"
    assert soup(page.text).select(".search-help")
    form = soup(page.text).select_one("form.search-form")
    assert form["method"] == "get" and form["action"] == "/search"  # works without script
    assert form["hx-sync"] == "this:replace"
    assert "delay:" in form["hx-trigger"]


def test_the_top_bar_leads_to_search_in_the_folder_on_screen(logged_in: TestClient) -> None:
    page = logged_in.get("/mail?folder=Sent")
    link = soup(page.text).select_one('.topbar a[href^="/search"]')
    assert link is not None and link["href"] == "/search?folder=Sent"


def test_search_in_the_folder(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    append(stack, user, ["Bilan Dupont", "Courrier Martin", "Dupont sortie"])
    page = logged_in.get("/search", params={"q": "dupont", "folder": "INBOX"})
    assert page.status_code == 200
    assert subjects(page.text) == ["Dupont sortie", "Bilan Dupont"]
    assert soup(page.text).select_one("#search-q")["value"] == "dupont"
    # Each result opens with the search in its link, for next/previous.
    link = soup(page.text).select_one("li.row a.row-link")["href"]
    assert parse_qs(urlsplit(link).query)["q"] == ["dupont"]


def test_search_as_you_type_gets_the_results_alone(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, ["Bilan Dupont", "Courrier Martin"])
    response = logged_in.get("/search", params={"q": "martin"}, headers={"HX-Request": "true"})
    assert response.template.name == "partials/_search_results.html"
    assert "HX-Request" in [name.strip() for name in response.headers["vary"].split(",")]
    fragment = soup(response.text)
    assert fragment.select_one("form") is None
    assert fragment.select_one("section#search-results") is not None
    assert subjects(response.text) == ["Courrier Martin"]


def test_search_in_all_folders(logged_in: TestClient, stack: Stack, user: MailUser) -> None:
    append(stack, user, ["Dupont inbox"])
    append(stack, user, ["Dupont archive", "Autre"], folder="Archives")
    append(stack, user, [f"Dupont patient {n}" for n in range(7)], folder="Patients")
    page = logged_in.get("/search", params={"q": "dupont", "scope": "all"})
    assert page.status_code == 200
    groups = soup(page.text).select(".search-group")
    names = [group.select_one(".search-folder").get_text(" ", strip=True) for group in groups]
    assert names == ["Boîte de réception (1)", "Archives (1)", "Patients (7)"]
    assert len(groups[2].select("li.row")) == 5
    more = groups[2].select_one("a.search-all")["href"]
    everything = logged_in.get(more)
    assert subjects(everything.text) == [f"Dupont patient {n}" for n in range(6, -1, -1)]
    assert soup(page.text).select_one(".search-count").get_text(strip=True) == "9 messages trouvés"
    assert not soup(page.text).select(".alert-warning")


def test_a_slow_folder_gives_partial_results_said_to_be_partial(
    env: dict[str, str], stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(stack, user, ["Dupont inbox"])
    append(stack, user, ["Dupont lent"], folder="Lent")
    real = ImapClient._command

    async def slow(self: ImapClient, name: str, *args: str, **kwargs: Any) -> Any:
        if name == "SEARCH" and self.selected is not None and self.selected.name == "Lent":
            await asyncio.sleep(1.3)  # Dovecot answers at once: the delay is put here
        return await real(self, name, *args, **kwargs)

    monkeypatch.setattr(ImapClient, "_command", slow)
    client = client_with(env, user, MSS_SEARCH_SECONDS="1")
    try:
        # The folder on screen is searched first: here the slow one.
        page = client.get("/search", params={"q": "dupont", "scope": "all", "folder": "Lent"})
        # From the inbox, the slow folder comes last: it is still searched.
        complete = client.get("/search", params={"q": "dupont", "scope": "all"})
    finally:
        client.__exit__(None, None, None)
    assert page.status_code == 200
    outcome = page.context["outcome"]
    assert outcome.partial and outcome.searched == 1 and outcome.folders > 2
    warning = soup(page.text).select_one(".alert-warning").get_text(" ", strip=True)
    assert warning.startswith(f"Recherche interrompue : 1 dossier sur {outcome.folders} parcouru.")
    assert subjects(page.text) == ["Dupont lent"]
    assert set(subjects(complete.text)) == {"Dupont inbox", "Dupont lent"}
    assert not complete.context["outcome"].partial


@pytest.mark.parametrize(
    "typed",
    ['") OR ALL ("', "dupont\r\nA1 LOGOUT", "{5}\r\nhello", "*", "%", "\x00", "🩺", "Straße", "\\"],
)
def test_hostile_input_is_a_search_not_a_command(
    logged_in: TestClient, stack: Stack, user: MailUser, typed: str
) -> None:
    append(stack, user, ["Bilan Dupont", "Courrier Martin"])
    for params in ({"q": typed}, {"subject": typed}, {"q": typed, "scope": "all"}):
        page = logged_in.get("/search", params=params)
        assert page.status_code == 200, page.text
        assert subjects(page.text) == [], params
    assert subjects(logged_in.get("/mail").text) == ["Courrier Martin", "Bilan Dupont"]


def test_too_long_is_400_with_the_text_kept(logged_in: TestClient) -> None:
    typed = "compte rendu " * 20
    page = logged_in.get("/search", params={"q": typed})
    assert page.status_code == 400
    assert (
        soup(page.text)
        .select_one(".alert-error")
        .get_text(strip=True)
        .startswith("Recherche trop longue")
    )
    assert soup(page.text).select_one("#search-q")["value"] == typed


@pytest.mark.parametrize("day", ["2026-02-30", "hier", "1/13/2026"])
def test_a_bad_date_is_400(logged_in: TestClient, day: str) -> None:
    page = logged_in.get("/search", params={"since": day}, headers={"HX-Request": "true"})
    assert page.status_code == 400
    assert (
        soup(page.text).select_one(".alert-error").get_text(strip=True).startswith("Date invalide")
    )


def test_a_refused_search_is_502_not_a_stack_trace(
    logged_in: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(self: ImapClient, criteria: Any, *, utf8: bool = False) -> list[int]:
        raise ImapCommandFailed("UID SEARCH", "BAD", "Error in IMAP command: Unknown argument")

    monkeypatch.setattr(ImapClient, "search", refuse)
    page = logged_in.get("/search", params={"q": "dupont"})
    assert page.status_code == 502
    assert "Traceback" not in page.text
    assert (
        soup(page.text)
        .select_one(".alert-error")
        .get_text(strip=True)
        .startswith("Le serveur de messagerie n'a pas pu faire cette recherche")
    )


def test_an_unknown_folder_is_404(logged_in: TestClient) -> None:
    assert logged_in.get("/search", params={"q": "x", "folder": "Nulle part"}).status_code == 404


def test_results_are_paged_and_load_more(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, [f"Dupont {n:02d}" for n in range(12)] + ["Martin"])
    first = small_pages.get("/search", params={"q": "dupont"})
    assert subjects(first.text) == [f"Dupont {n:02d}" for n in range(11, 1, -1)]
    pager = soup(first.text).select_one(".pager a")["href"]
    assert subjects(small_pages.get(pager).text) == ["Dupont 01", "Dupont 00"]
    more = soup(first.text).select_one("li.rows-more a")["hx-get"]
    fragment = small_pages.get(more, headers={"HX-Request": "true"})
    assert subjects(fragment.text) == ["Dupont 01", "Dupont 00"]
    assert soup(fragment.text).select_one("section") is None  # appended rows only


# -- next / previous ------------------------------------------------------------------------


def nav(client: TestClient, link: str) -> dict[str, str | None]:
    page = client.get(link)
    assert page.status_code == 200
    bar = soup(page.text).select_one("nav.message-nav")
    newer, older = bar.select_one('a[rel="prev"]'), bar.select_one('a[rel="next"]')
    return {
        "newer": str(newer["href"]) if newer else None,
        "older": str(older["href"]) if older else None,
        "position": bar.select_one(".message-nav-position").get_text(strip=True),
        "back": str(soup(page.text).select_one(".topbar a.iconbtn")["href"]),
        "subject": soup(page.text).select_one(".message-subject").get_text(" ", strip=True),
    }


def test_next_and_previous_at_the_ends_and_across_pages(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, [f"Message {n:02d}" for n in range(12)])
    link = soup(small_pages.get("/mail").text).select_one("li.row a.row-link")["href"]
    first = nav(small_pages, link)
    assert first["subject"] == "Message 11" and first["newer"] is None
    assert first["position"] == "1 sur 12"
    # Walk down across the page boundary to the end.
    current, seen = first, ["Message 11"]
    while current["older"] is not None:
        current = nav(small_pages, current["older"])
        seen.append(current["subject"])
    assert seen == [f"Message {n:02d}" for n in range(11, -1, -1)]
    assert current["position"] == "12 sur 12"
    assert current["back"] == "/mail?folder=INBOX&page=2"  # the page it is on
    back_up = nav(small_pages, current["newer"])
    assert back_up["subject"] == "Message 01"
    assert (
        soup(small_pages.get(first["older"]).text).select_one(
            'nav.message-nav span[aria-disabled="true"]'
        )
        is None
    )


def test_next_and_previous_follow_the_search(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, ["Dupont A", "Martin", "Dupont B", "Durand", "Dupont C"])
    page = logged_in.get("/search", params={"q": "dupont"})
    link = soup(page.text).select_one("li.row a.row-link")["href"]
    first = nav(logged_in, link)
    assert first["subject"] == "Dupont C" and first["position"] == "1 sur 3"
    second = nav(logged_in, first["older"])
    assert second["subject"] == "Dupont B"
    third = nav(logged_in, second["older"])
    assert third["subject"] == "Dupont A" and third["older"] is None
    assert third["back"].startswith("/search?") and "q=dupont" in third["back"]


def test_a_message_outside_the_list_has_no_neighbours(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, ["Dupont A", "Martin"])
    page = logged_in.get("/search", params={"q": "dupont"})
    link = soup(page.text).select_one("li.row a.row-link")["href"]
    other = link.replace("q=dupont", "q=martin")
    opened = logged_in.get(other)
    assert opened.status_code == 200
    assert soup(opened.text).select_one("nav.message-nav") is None


def test_a_server_without_utf8_search_is_said_with_the_words_left_out(
    logged_in: TestClient, stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(stack, user, ["Rééducation Dupont", "Martin"])
    real = ImapClient.search

    async def ascii_only(self: ImapClient, criteria: Any, *, utf8: bool = False) -> list[int]:
        if utf8:  # what test_search_badcharset.py's fake server answers
            raise ImapCommandFailed("UID SEARCH", "NO", "[BADCHARSET (US-ASCII)] unsupported")
        return await real(self, criteria, utf8=utf8)

    monkeypatch.setattr(ImapClient, "search", ascii_only)
    page = logged_in.get("/search", params={"q": "rééducation dupont"})
    assert page.status_code == 200
    assert subjects(page.text) == ["Rééducation Dupont"]
    warning = soup(page.text).select_one(".alert-warning").get_text(" ", strip=True)
    assert warning.startswith("Ce serveur ne cherche pas les caractères accentués")
    assert warning.endswith(": rééducation")


def test_a_message_opens_even_when_its_search_is_refused(
    logged_in: TestClient, stack: Stack, user: MailUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    append(stack, user, ["Dupont A"])
    link = soup(logged_in.get("/search", params={"q": "dupont"}).text).select_one("a.row-link")

    async def refuse(self: ImapClient, criteria: Any, *, utf8: bool = False) -> list[int]:
        raise ImapCommandFailed("UID SEARCH", "BAD", "Error in IMAP command")

    monkeypatch.setattr(ImapClient, "search", refuse)
    opened = logged_in.get(link["href"])
    assert opened.status_code == 200
    assert soup(opened.text).select_one(".message-subject").get_text(strip=True) == "Dupont A"
    assert soup(opened.text).select_one("nav.message-nav") is None

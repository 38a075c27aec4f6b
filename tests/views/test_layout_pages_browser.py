"""What the server sends for the split view: the reading pane alone to the list beside it,
the list with the message to a browser loading the page whole, the message alone to a
boosted link (a phone) or from a search. Parsed HTML, no browser needed."""

from __future__ import annotations

from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, soup
from tests.views.test_layout_browser import append

HTMX = {"HX-Request": "true"}


def first_link(client: TestClient) -> str:
    return str(soup(client.get("/mail").text).select("li.row a.row-link")[1]["href"])


def test_the_pane_alone_for_the_list_beside_it(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    link = first_link(logged_in)  # "Message 01"
    answer = logged_in.get(link, headers=HTMX)
    assert answer.status_code == 200
    assert "HX-Request" in answer.headers["vary"]
    page = soup(answer.text)
    assert page.select_one("html") is None and page.select_one(".topbar") is None
    assert page.select_one("#list-pane") is None
    assert page.select_one("title").get_text() == "Message 01 · MSSanté"
    assert page.select_one("article.message-view .message-subject").get_text(strip=True) == (
        "Message 01"
    )
    bar = page.select_one("#action-bar")
    assert bar.select_one("form[action='/mail/archive'][data-pane-action]") is not None
    assert bar.select_one("a[rel=next][data-pane]") is not None


def listed(page: BeautifulSoup) -> list[str]:
    return [a.get_text(" ", strip=True) for a in page.select("#message-list a.row-link")]


def test_the_list_with_the_message_for_a_whole_page(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    link = first_link(logged_in)
    for headers in ({}, {**HTMX, "HX-History-Restore-Request": "true"}):
        page = soup(logged_in.get(link, headers=headers).text)
        assert len(listed(page)) == 3
        current = page.select("#message-list a.row-link[aria-current]")
        assert len(current) == 1 and current[0]["href"] == link
        assert page.select_one("#reading-pane .message-subject").get_text(strip=True) == (
            "Message 01"
        )
        assert "reading" in page.select_one(".layout")["class"]
        assert page.select_one(".topbar a[data-back]")["href"] == "/mail?folder=INBOX"


def test_the_message_alone_for_a_boosted_link_or_from_a_search(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 3)
    link = first_link(logged_in)
    boosted = soup(logged_in.get(link, headers={**HTMX, "HX-Boosted": "true"}).text)
    assert boosted.select_one("#list-pane") is None
    assert boosted.select_one("#reading-pane .message-subject") is not None
    found = soup(logged_in.get(link + "&q=Message").text)  # its neighbours are the search's
    assert found.select_one("#list-pane") is None
    assert found.select_one(".topbar a[data-back]")["href"].startswith("/search?")


def test_a_message_gone_meanwhile_is_said_so_in_the_pane(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    append(stack, user, 1)
    answer = logged_in.get("/mail/message?folder=INBOX&uid=999", headers=HTMX)
    assert answer.status_code == 404
    assert "n'existe pas" in soup(answer.text).get_text()
    hostile = logged_in.get("/mail/message?folder=INBOX&uid=1%3Cscript%3E", headers=HTMX)
    assert hostile.status_code == 400
    assert soup(hostile.text).select_one("script:not([src])") is None

"""The list in the order of the dates it shows (or by arrival, per account), and "load more"
anchored on the last message shown, on Dovecot with SORT and on a server without it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage

import pytest
from starlette.testclient import TestClient

from dev.other_imap import InboxPrefixStack
from dev.stack import Stack
from tests.conftest import MailUser, csrf_token, imap_for, login, simple_mail, soup
from tests.other_servers import other_client, other_imap_for, user_on_other_server
from webmail.app import create_app
from webmail.settings import Settings

# Delivered in this order (arrival), each with its Date header: 13:29 arrives after 13:30,
# 13:00 UTC is 14:00 in Paris (later than both), and one has no Date at all (its arrival,
# today, stands in for it).
DELIVERED = [
    ("Consultation 13h30", "Tue, 24 Nov 2026 13:30:00 +0100"),
    ("Consultation 13h29", "Tue, 24 Nov 2026 13:29:00 +0100"),
    ("Sans date", None),
    ("Bilan 14h Paris", "Tue, 24 Nov 2026 13:00:00 +0000"),
    ("Date illisible", "pas une date"),
]
BY_DATE = [
    "Date illisible",
    "Sans date",
    "Bilan 14h Paris",
    "Consultation 13h30",
    "Consultation 13h29",
]
BY_ARRIVAL = [
    "Date illisible",
    "Bilan 14h Paris",
    "Sans date",
    "Consultation 13h29",
    "Consultation 13h30",
]


def dated(to: str, subject: str, date: str | None) -> EmailMessage:
    message = simple_mail("secretariat@chu-demo.mssante.test", to, subject)
    del message["Date"]
    if date is not None:
        message["Date"] = date
    return message


def append_all(imap: object, messages: list[EmailMessage], folder: str = "INBOX") -> None:
    for message in messages:
        typ, data = imap.append(folder, None, None, message.as_bytes())  # type: ignore[attr-defined]
        assert typ == "OK", data


def subjects(html: str) -> list[str]:
    return [row.get_text(" ", strip=True) for row in soup(html).select("li.row .subject")]


def row_dates(html: str) -> list[str]:
    return [str(t["datetime"]) for t in soup(html).select("li.row time.date")]


def choose(client: TestClient, order: str) -> None:
    response = client.post(
        "/mail/order", data={"csrf_token": csrf_token(client), "order": order, "next": "/mail"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/mail"


def deliver_out_of_order(imap: object, to: str) -> None:
    append_all(imap, [dated(to, subject, date) for subject, date in DELIVERED])


def test_by_date_by_default_and_arrival_on_request(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    try:
        deliver_out_of_order(imap, user.address)
    finally:
        imap.logout()
    page = logged_in.get("/mail")
    assert subjects(page.text) == BY_DATE
    # The dates shown descend with the rows (no 13:29 above 13:30).
    shown = [datetime.fromisoformat(d) for d in row_dates(page.text)]
    assert shown == sorted(shown, reverse=True)
    assert soup(page.text).select_one(".list-order button")["value"] == "arrival"

    choose(logged_in, "arrival")
    assert subjects(logged_in.get("/mail").text) == BY_ARRIVAL
    choose(logged_in, "date")
    assert subjects(logged_in.get("/mail").text) == BY_DATE


def test_the_choice_is_kept_for_the_account_across_sessions(
    logged_in: TestClient, stack: Stack, user: MailUser, settings: Settings
) -> None:
    imap = imap_for(stack, user)
    try:
        deliver_out_of_order(imap, user.address)
    finally:
        imap.logout()
    choose(logged_in, "arrival")
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as other:
        login(other, user)
        assert subjects(other.get("/mail").text) == BY_ARRIVAL


@pytest.mark.parametrize("order", ["", "ARRIVAL", "date ", "size", "x" * 5000])
def test_an_unknown_order_is_refused(logged_in: TestClient, order: str) -> None:
    response = logged_in.post(
        "/mail/order", data={"csrf_token": csrf_token(logged_in), "order": order}
    )
    assert response.status_code == 400
    assert subjects(logged_in.get("/mail").text) == []


def test_the_order_form_needs_the_csrf_token(logged_in: TestClient) -> None:
    response = logged_in.post("/mail/order", data={"order": "arrival"})
    assert response.status_code == 403


# -- a server without SORT: dates fetched once, sorted in the application ------------------


@pytest.fixture
def no_sort(stack: Stack, other_imap: InboxPrefixStack) -> Iterator[tuple[TestClient, MailUser]]:
    user = user_on_other_server(stack, other_imap)
    with other_client(stack, other_imap) as client:
        login(client, user)
        yield client, user


def test_without_sort_the_application_sorts_by_date(
    no_sort: tuple[TestClient, MailUser], other_imap: InboxPrefixStack
) -> None:
    client, user = no_sort
    imap = other_imap_for(other_imap, user)
    try:
        deliver_out_of_order(imap, user.address)
        assert subjects(client.get("/mail").text) == BY_DATE
        # Mail arriving later with an older Date goes where its date puts it.
        append_all(imap, [dated(user.address, "Courrier de 8h", "Tue, 24 Nov 2026 08:00:00 +0100")])
        assert subjects(client.get("/mail").text) == [*BY_DATE, "Courrier de 8h"]
    finally:
        imap.logout()
    choose(client, "arrival")
    assert subjects(client.get("/mail").text) == ["Courrier de 8h", *BY_ARRIVAL]


def test_without_sort_dates_are_fetched_once(
    no_sort: tuple[TestClient, MailUser], other_imap: InboxPrefixStack
) -> None:
    client, user = no_sort
    imap = other_imap_for(other_imap, user)
    try:
        deliver_out_of_order(imap, user.address)
        client.get("/mail")
        entry = next(iter(client.app.state.services.pool._entries.values()))
        assert len(entry.cache.folders["INBOX"].dates) == len(DELIVERED)
        entry.cache.folders["INBOX"].dates[1] = 4102444800.0  # year 2100: kept, not refetched
        append_all(imap, [dated(user.address, "Nouveau", "Wed, 25 Nov 2026 08:00:00 +0100")])
        assert subjects(client.get("/mail").text)[0] == "Consultation 13h30"
    finally:
        imap.logout()


# -- load more -------------------------------------------------------------------------------


@pytest.fixture
def small_pages(env: dict[str, str], user: MailUser) -> Iterator[TestClient]:
    settings = Settings.from_env({**env, "MSS_PAGE_SIZE": "10"})
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        login(client, user)
        yield client


def numbered(to: str, numbers: range) -> list[EmailMessage]:
    # Message n is dated n minutes past 8: the list shows 25, 24, ... 1.
    return [
        dated(to, f"Message {n:02d}", f"Tue, 24 Nov 2026 {8 + n // 60:02d}:{n % 60:02d}:00 +0100")
        for n in numbers
    ]


def more_link(html: str) -> str | None:
    link = soup(html).select_one("li.rows-more a")
    if link is None:
        return None
    assert link["href"] == link["hx-get"]
    return str(link["href"])


def test_load_more_while_mail_arrives_has_no_duplicate_and_no_gap(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    try:
        append_all(imap, numbered(user.address, range(1, 26)))
        first = small_pages.get("/mail")
        seen = subjects(first.text)
        assert seen == [f"Message {n:02d}" for n in range(25, 15, -1)]
        link = more_link(first.text)
        assert link is not None
        # Two messages arrive between pages: a newer one, and one whose Date puts it right
        # where the next page starts.
        append_all(imap, numbered(user.address, range(30, 31)))
        append_all(imap, [dated(user.address, "Message 15b", "Tue, 24 Nov 2026 08:15:30 +0100")])
        while link is not None:
            more = small_pages.get(link, headers={"HX-Request": "true"})
            assert more.status_code == 200
            fragment = soup(more.text)
            assert fragment.select_one("#message-list") is None  # rows only, appended
            assert all(li.name == "li" for li in fragment.find_all(recursive=False))
            seen += subjects(more.text)
            link = more_link(more.text)
    finally:
        imap.logout()
    expected = [f"Message {n:02d}" for n in range(25, 15, -1)] + ["Message 15b"]
    expected += [f"Message {n:02d}" for n in range(15, 0, -1)]
    assert seen == expected


def test_load_more_after_the_last_message_shown_was_deleted(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    try:
        append_all(imap, numbered(user.address, range(1, 26)))
        first = small_pages.get("/mail")
        link = more_link(first.text)
        assert link is not None
        anchor = link.rsplit("after=", 1)[1]
        imap.select("INBOX")
        imap.uid("STORE", anchor, "+FLAGS", "(\\Deleted)")
        imap.expunge()
    finally:
        imap.logout()
    more = small_pages.get(link, headers={"HX-Request": "true"})
    assert subjects(more.text) == [f"Message {n:02d}" for n in range(15, 5, -1)]


def test_load_more_without_javascript_is_a_whole_page(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    try:
        append_all(imap, numbered(user.address, range(1, 26)))
    finally:
        imap.logout()
    link = more_link(small_pages.get("/mail").text)
    assert link is not None
    page = small_pages.get(link)
    assert page.template.name == "pages/mailbox.html"
    assert subjects(page.text) == [f"Message {n:02d}" for n in range(15, 5, -1)]
    # The numbered pages still work, and the last one offers no more.
    last = small_pages.get("/mail?folder=INBOX&page=3")
    assert subjects(last.text) == [f"Message {n:02d}" for n in range(5, 0, -1)]
    assert more_link(last.text) is None


@pytest.mark.parametrize("after", ["0", "-1", "abc", "1e3", "4294967296", "１"])
def test_a_bad_anchor_is_400(logged_in: TestClient, after: str) -> None:
    assert logged_in.get("/mail", params={"after": after}).status_code == 400


def test_an_unknown_anchor_starts_at_the_top(
    small_pages: TestClient, stack: Stack, user: MailUser
) -> None:
    imap = imap_for(stack, user)
    try:
        append_all(imap, numbered(user.address, range(1, 4)))
    finally:
        imap.logout()
    page = small_pages.get("/mail?after=999999")
    assert subjects(page.text) == ["Message 03", "Message 02", "Message 01"]

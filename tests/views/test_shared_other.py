"""Shared mailboxes in the pages on another vendor's server: "INBOX." personal namespace,
"." separator, accounts named by a bare login in the shared namespace (dev/other_imap.py)."""

from __future__ import annotations

from dev.other_imap import InboxPrefixStack, login_name
from dev.stack import Stack
from tests.conftest import login, new_user, soup
from tests.other_servers import other_client, other_imap_for, user_on_other_server


def test_switch_and_read_on_a_server_with_other_conventions(
    stack: Stack, other_imap: InboxPrefixStack
) -> None:
    owner = new_user(stack, "cabinet.mssante.test")
    other_imap.add_user(owner.address, owner.password)
    imap = other_imap_for(other_imap, owner)
    try:
        imap.append("INBOX", None, None, b"Subject: Demande du CHU\r\nFrom: a@b.test\r\n\r\nx\r\n")
    finally:
        imap.logout()
    practitioner = user_on_other_server(stack, other_imap)
    other_imap.share_mailbox(owner.address, practitioner.address, "lrswipte")
    bare = login_name(owner.address)
    mapping = f"{bare}=Secrétariat du cabinet <{owner.address}>"
    with other_client(stack, other_imap, MSS_SHARED_MAILBOXES=mapping) as client:
        login(client, practitioner)
        page = client.get("/mail")
        buttons = soup(page.text).select("#mailboxes button.mailbox")
        assert len(buttons) == 2
        # The organisation's name from the deployment, its count from the server.
        assert "Secrétariat du cabinet" in buttons[1].get_text()
        assert buttons[1].select_one(".count").get_text() == "1"
        token = soup(page.text).find("input", attrs={"name": "csrf_token"})["value"]
        switched = client.post("/mail/mailbox", data={"mailbox": bare, "csrf_token": token})
        assert switched.headers["location"] == f"/mail?folder=shared.{bare}"
        listed = client.get(switched.headers["location"])
        subjects = [cell.get_text(strip=True) for cell in soup(listed.text).select(".subject")]
        assert subjects == ["Demande du CHU"]
        # The practitioner's own folders are out of reach from here, dots or not.
        for name in ("INBOX.Sent", f"shared.{bare}..x", f"shared.{bare}."):
            assert client.get("/mail", params={"folder": name}).status_code == 404
        form = client.get("/compose")
        chosen = soup(form.text).select_one("select[name=from] option[selected]")
        assert chosen is not None and chosen["value"] == bare
        assert "Secrétariat du cabinet" in chosen.get_text()

"""Mail that arrives while its folder is open in the webmail."""

from __future__ import annotations

from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup


def test_a_message_delivered_after_the_list_opens_by_its_url(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    deliver(stack, user, simple_mail("a@chu-demo.mssante.test", user.address, "Premier"))
    assert logged_in.get("/mail?folder=INBOX").status_code == 200  # INBOX now selected
    uid = deliver(stack, user, simple_mail("b@chu-demo.mssante.test", user.address, "Arrivé après"))
    # A notification link (or another tab) opens it before the list is refreshed.
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    assert soup(page.text).select_one(".message-subject").get_text(strip=True) == "Arrivé après"


def test_a_message_that_never_existed_is_still_a_404(logged_in: TestClient) -> None:
    assert logged_in.get("/mail?folder=INBOX").status_code == 200
    assert logged_in.get("/mail/message?folder=INBOX&uid=999999").status_code == 404

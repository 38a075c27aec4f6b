"""Numbers in URLs and forms: only ASCII digits, in range; anything else is a clear 400."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.conftest import soup

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "cache-control")


@pytest.mark.parametrize(
    "query",
    [
        "uid=%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "uid=%EF%BC%91%EF%BC%92",  # full-width "１２"
        "uid=0",  # no message has UID 0
        "uid=4294967296",  # past 32 bits
        "uid=-1",
        "uid=1e3",
        "uid=",
    ],
)
@pytest.mark.parametrize("path", ["/mail/message", "/mail/message/frame", "/mail/attachment"])
def test_bad_uid_is_a_400(logged_in: TestClient, path: str, query: str) -> None:
    response = logged_in.get(f"{path}?folder=INBOX&{query}&part=2")
    assert response.status_code == 400, response.text
    assert "invalide" in soup(response.text).get_text()
    for header in SECURITY_HEADERS:
        assert header in response.headers


@pytest.mark.parametrize("page", ["%C2%B2", "%EF%BC%92", "0", "-1", "1234567"])
def test_bad_page_is_a_400(logged_in: TestClient, page: str) -> None:
    response = logged_in.get(f"/mail?folder=INBOX&page={page}")
    assert response.status_code == 400
    assert "Numéro de page invalide" in soup(response.text).get_text()


def test_good_numbers_still_work(logged_in: TestClient) -> None:
    assert logged_in.get("/mail?folder=INBOX&page=1").status_code == 200
    assert logged_in.get("/mail/message?folder=INBOX&uid=4294967295").status_code == 404

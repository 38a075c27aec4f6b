"""The reading view by parts: structured documents fetch their archive alone, and a structure
the parts path does not read falls back to the whole message, shown all the same."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, deliver, simple_mail, soup
from tests.trust import xdm_samples as samples
from tests.trust.test_xdm_reader import xdm_mail
from tests.views.test_streaming import fetches, record_every_command, with_attachment


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    return record_every_command(monkeypatch)


def test_structured_documents_read_their_archive_alone(
    logged_in: TestClient, stack: Stack, user: MailUser, sent: list[tuple[str, ...]]
) -> None:
    uid = deliver(stack, user, xdm_mail(user.address, samples.good_archive(2)))
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    assert len(soup(page.text).select("section.structured-documents li.xdm-document")) == 4
    fetched = fetches(sent)
    assert not [f for f in fetched if "BODY.PEEK[]" in f]
    assert [f for f in fetched if "BODY.PEEK[2]" in f]  # the IHE_XDM.ZIP, and only it
    sent.clear()
    document = soup(page.text).select_one("li.xdm-document a")
    assert logged_in.get(document["href"]).status_code == 200
    assert not [f for f in fetches(sent) if "BODY.PEEK[]" in f]


def test_a_message_whose_body_is_a_message_is_read_whole(
    logged_in: TestClient, stack: Stack, user: MailUser, sent: list[tuple[str, ...]]
) -> None:
    inner = simple_mail("dr.a@medecin.mssante.test", user.address, "Résultats", "Kaliémie 5,9.")
    outer = EmailMessage()
    outer["From"] = "dr.b@medecin.mssante.test"
    outer["To"] = user.address
    outer["Subject"] = "Tr: Résultats"
    outer.set_content(inner)  # message/rfc822 as the whole body
    uid = deliver(stack, user, outer)
    page = logged_in.get(f"/mail/message?folder=INBOX&uid={uid}")
    assert page.status_code == 200
    assert "Kaliémie 5,9." in soup(page.text).get_text()
    assert [f for f in fetches(sent) if "BODY.PEEK[]" in f]  # the fallback


def test_a_part_that_is_not_there_is_404_by_parts_too(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    uid = deliver(stack, user, with_attachment(b"%PDF-1.4 petit"))
    for part in ("3", "2.1", "0", "1.MIME", "2]<0.10> BODY.PEEK[", "99999"):
        response = logged_in.get(f"/mail/attachment?folder=INBOX&uid={uid}&part={part}")
        assert response.status_code == 404, part
    assert logged_in.get(f"/mail/inline?folder=INBOX&uid={uid}&part=2").status_code == 404

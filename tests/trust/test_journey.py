"""The trust space end to end, as a GP and a cardiologist meet it: the GP finds the
cardiologist by name and city in the directory, writes to them in one tap, attaches a discharge
letter as a structured document; the cardiologist opens it as a document list with the
patient's identity; a send outside the trust space is refused by the server.

Real Dovecot and Postfix, the shipped whitelist sample and a directory index built from an
extraction file in the ANS format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from dev.stack import Stack
from tests.conftest import MailUser, login, new_user, soup, wait_for_messages
from tests.directory.conftest import extraction_file, row
from tests.trust import samples
from tests.trust import xdm_samples as xdm
from tests.trust.app import count
from tests.trust.test_xdm_compose import IDENTITY, compose, pdfs
from tests.views.forms import parse
from webmail.app import create_app
from webmail.directory.importer import import_file
from webmail.settings import Settings

LETTER = xdm.pdf("Lettre de liaison à la sortie")


@pytest.fixture
def cardiologist(stack: Stack) -> MailUser:
    return new_user(stack, "ch-demo.mssante.test")


@pytest.fixture
def settings(env: dict[str, str], tmp_path: Path, cardiologist: MailUser) -> Settings:
    extraction = extraction_file(
        tmp_path / "Extraction_Correspondance_MSSante_202612010400.txt",
        row(kind="PER", address=cardiologist.address, national_id="810001234567",
            last="LEFÈVRE", first="Hélène", profession="Médecin", specialty="Cardiologie",
            workplace="CH Démo", postal_code="69003", city="LYON"),
        # Same name elsewhere, and another specialty in the same city: not the one wanted.
        row(kind="PER", address="h.lefevre@ch-angers.mssante.test", national_id="810009999999",
            last="LEFEVRE", first="Hugo", profession="Médecin", specialty="Cardiologie",
            workplace="CH Angers", postal_code="49000", city="ANGERS"),
        row(kind="PER", address="m.lefevre@ch-demo.mssante.test", national_id="810007777777",
            last="LEFÈVRE", first="Marc", profession="Médecin", specialty="Pédiatrie",
            workplace="CH Démo", postal_code="69003", city="LYON"),
    )  # fmt: skip
    index = tmp_path / "annuaire.sqlite"
    import_file(extraction, index)
    return Settings.from_env(
        {
            **env,
            "MSS_DIRECTORY_INDEX": str(index),
            "MSS_TRUST_WHITELIST": str(samples.SAMPLE),
        }
    )


@pytest.fixture
def recipient_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings), base_url="http://127.0.0.1:8000", follow_redirects=False
    ) as client:
        yield client


def test_a_gp_finds_a_cardiologist_writes_a_structured_letter_and_it_opens_as_documents(
    logged_in: TestClient,
    recipient_client: TestClient,
    stack: Stack,
    cardiologist: MailUser,
) -> None:
    found = soup(logged_in.get("/directory", params={"q": "lefevre cardio lyon"}).text)
    [write] = found.select("a.directory-write")
    compose_url = str(write["href"])
    assert parse_qs(urlsplit(compose_url).query)["to"] == [cardiologist.address]
    form = soup(logged_in.get(compose_url).text)
    assert form.select_one("input[name=to]")["value"] == cardiologist.address  # type: ignore[index]

    sent = compose(
        logged_in,
        files=pdfs(("lettre-de-liaison.pdf", LETTER)),
        to=cardiologist.address,
        xdm_cda="1",
        **IDENTITY,
    )
    assert sent.status_code == 303, sent.text
    [raw] = wait_for_messages(stack, cardiologist)
    assert parse(raw)["X-MSS-INS"] == "O"

    login(recipient_client, cardiologist)
    inbox = soup(recipient_client.get("/mail").text)
    [row_link] = inbox.select(".rows a.row-link")
    subject = row_link.select_one(".subject").get_text(" ", strip=True)  # type: ignore[union-attr]
    assert "LEFÈVRE" in subject.upper() and "XDM/1.0/DDM+" not in subject
    page = soup(recipient_client.get(str(row_link["href"])).text)
    name = page.select_one(".xdm-patient .xdm-patient-name")
    assert name is not None and "Lefèvre".upper() in name.get_text().upper()
    assert page.select_one(".xdm-patient .xdm-birth").get_text(strip=True) == "03/02/1969"  # type: ignore[union-attr]
    assert xdm.NIR in page.select_one(".xdm-patient .xdm-ins").get_text()  # type: ignore[union-attr]
    documents = page.select(".xdm-list .xdm-document")
    assert documents and all(d.select_one(".xdm-type") for d in documents)


def test_a_send_outside_the_trust_space_is_refused_by_the_server(
    logged_in: TestClient, stack: Stack, user: MailUser
) -> None:
    outsider = new_user(stack, samples.OUTSIDE_DOMAIN)
    refused = compose(logged_in, to=outsider.address, subject="Compte rendu")
    assert refused.status_code == 422
    assert outsider.address in soup(refused.text).select_one("[role=alert]").get_text()  # type: ignore[union-attr]
    assert count(stack, outsider) == 0 and count(stack, user, "Sent") == 0

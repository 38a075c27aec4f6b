"""Reading a CPS card's certificate and the card-to-mailbox mapping (webmail/auth/cps.py)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from dev.instances import CardAuthority
from webmail.auth.cps import CardUnreadable, read_card, read_mapping
from webmail.settings import Settings, SettingsError

BASE = {
    "MSS_IMAP_HOST": "imap.example.org",
    "MSS_SMTP_HOST": "smtp.example.org",
    "MSS_SECRET_KEY": "k" * 40,
}


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CardAuthority:
    return CardAuthority.create(tmp_path_factory.mktemp("cards"))


def header(authority: CardAuthority, directory: Path, subject: str) -> str:
    cert, _key = authority.issue_card(directory, subject)
    return urllib.parse.quote(cert.read_text())


@pytest.mark.parametrize(
    ("subject", "attribute", "national_id", "holder"),
    [
        ("/C=FR/CN=810001234567/GN=Claire/SN=MARTIN", "cn", "810001234567", "Claire MARTIN"),
        ("/C=FR/CN=810001234567\\/Claire MARTIN", "cn", "810001234567", "Claire MARTIN"),
        ("/C=FR/CN=Claire MARTIN/serialNumber=310001234", "serialnumber", "310001234", ""),
        ("/C=FR/CN=Claire MARTIN/UID=810001234567", "uid", "810001234567", ""),
    ],
)
def test_the_national_id_and_holder_come_from_the_subject(
    authority: CardAuthority,
    tmp_path: Path,
    subject: str,
    attribute: str,
    national_id: str,
    holder: str,
) -> None:
    card = read_card(header(authority, tmp_path, subject), attribute)
    assert card.national_id == national_id
    assert card.holder == holder
    assert "Test AC IGC-Sante Personnes" in card.issuer
    assert card.serial


@pytest.mark.parametrize(
    ("subject", "attribute"),
    [
        ("/C=FR/CN=Claire MARTIN", "cn"),  # a name, not an id
        ("/C=FR/CN=810001234567", "uid"),  # no such attribute
        ("/C=FR/CN=81'; DROP", "cn"),
    ],
)
def test_a_subject_without_a_national_id_is_refused(
    authority: CardAuthority, tmp_path: Path, subject: str, attribute: str
) -> None:
    with pytest.raises(CardUnreadable):
        read_card(header(authority, tmp_path, subject), attribute)


@pytest.mark.parametrize("value", ["", "garbage", "-----BEGIN%20CERTIFICATE-----%0AAAAA"])
def test_a_header_that_is_no_certificate_is_refused(value: str) -> None:
    with pytest.raises(CardUnreadable):
        read_card(value, "cn")


def test_the_mapping_file_lets_one_id_open_several_mailboxes(tmp_path: Path) -> None:
    mapping = tmp_path / "cards.txt"
    mapping.write_text(
        "# RPPS, mailbox\n810001234567 Claire.Martin@chu.mssante.fr\n\n"
        "810001234567|secretariat@chu.mssante.fr  # shared\n"
    )
    assert read_mapping(mapping) == {
        "810001234567": ("claire.martin@chu.mssante.fr", "secretariat@chu.mssante.fr")
    }


def test_a_bad_mapping_line_stops_the_start(tmp_path: Path) -> None:
    mapping = tmp_path / "cards.txt"
    mapping.write_text("810001234567 claire@chu.mssante.fr\n810001234568\n")
    env = {**BASE, "MSS_DATA_DIR": str(tmp_path), "MSS_CPS_ENABLED": "true"}
    with pytest.raises(SettingsError, match=r"MSS_CPS_MAPPING: .*line 2: expected"):
        Settings.from_env({**env, "MSS_CPS_MAPPING": str(mapping)})
    with pytest.raises(SettingsError, match="MSS_CPS_ID_ATTRIBUTE"):
        Settings.from_env({**env, "MSS_CPS_ID_ATTRIBUTE": "email"})


def test_card_sign_in_is_off_unless_enabled_and_defaults_to_the_directory(
    tmp_path: Path,
) -> None:
    env = {**BASE, "MSS_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(env).cps is None
    cps = Settings.from_env({**env, "MSS_CPS_ENABLED": "true"}).cps
    assert cps is not None
    assert cps.mapping is None
    assert cps.id_attribute == "cn"

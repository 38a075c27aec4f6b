"""The profession shown beside a Pro Santé Connect user's name (webmail/views/professions.py)."""

from __future__ import annotations

import pytest

from tests.conftest import soup
from webmail.auth.oidc_claims import identity_from
from webmail.templating import templates
from webmail.views.professions import PROFESSIONS, profession_label


@pytest.mark.parametrize(
    ("code", "label"),
    [("10", "Médecin"), ("21", "Pharmacien"), ("26", "Audioprothésiste"), ("50", "Sage-femme"),
     ("81", "Orthoprothésiste"), ("84", "Oculariste"), ("85", "Épithésiste"),
     ("86", "Technicien de laboratoire médical"), ("93", "Psychologue"), ("96", "Psychomotricien"),
     ("98", "Manipulateur en électroradiologie médicale")],
)  # fmt: skip
def test_the_nomenclature_codes_have_their_label(code: str, label: str) -> None:
    identity = identity_from(
        {
            "sub": "s",
            "email": "a@b.test",
            "SubjectRefPro": {"exercices": [{"codeProfession": code}]},
        },
        "email",
    )
    assert profession_label(identity) == label == PROFESSIONS[code]


def test_an_unknown_code_shows_the_providers_own_label() -> None:
    identity = identity_from(
        {
            "sub": "s",
            "email": "a@b.test",
            "SubjectRefPro": {"exercices": [{"codeProfession": "97"}]},
            "SubjectRole": ["97^1.2.250.1.213.1.1.5.5^G15_97^conseiller en génétique"],
        },
        "email",
    )
    assert identity.profession_code == "97"
    assert profession_label(identity) == "Conseiller en génétique"


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"SubjectRefPro": {"exercices": [{"codeProfession": "97"}]}},
        {"SubjectRefPro": {"exercices": [{"codeProfession": ["10"]}]}, "SubjectRole": 12},
        {"SubjectRefPro": "10", "SubjectRole": ["no carets here"]},
        {"SubjectRefPro": {"exercices": []}, "SubjectRole": ["1^2^3^bad\nline"]},
        {"SubjectRefPro": {"exercices": [{"codeProfession": "9" * 500}]}},
    ],
)
def test_a_missing_or_malformed_profession_shows_nothing(claims: dict[str, object]) -> None:
    identity = identity_from({"sub": "s", "email": "a@b.test", **claims}, "email")
    assert profession_label(identity) == ""


def test_the_providers_label_is_shown_as_text() -> None:
    """Data, not markup nor a format: the identity line escapes it and formats nothing."""
    identity = identity_from(
        {"sub": "s", "email": "a@b.test", "SubjectRole": ["1^2^3^<b>x</b> %s {0}"]}, "email"
    )
    html = templates.env.get_template("partials/_folders.html").render(
        user="a@b.test", identity="Dominique A", profession=profession_label(identity), folders=[]
    )
    shown = soup(html).select_one("#identity .profession")
    assert shown is not None and shown.find("b") is None
    assert shown.get_text() == ", <b>x</b> %s {0}"

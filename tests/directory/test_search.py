"""Search of the directory: accents and case folded, prefixes, filters, grouping, hostile input."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.directory.conftest import extraction_file, row
from webmail.directory.importer import import_file
from webmail.directory.index import DirectoryIndex
from webmail.directory.search import Query, clean_kind, clean_national_id, match_expression

PEOPLE = (
    row(kind="PER", address="helene.lefevre@medecin.mssante.test", last="Lefèvre",
        first="Hélène", national_id="810000000001", profession="Médecin",
        specialty="Cardiologie et maladies vasculaires", workplace="Cabinet du Parc",
        postal_code="69003", city="69003 LYON"),
    row(kind="PER", address="h.lefevre@chu-lyon.mssante.test", last="Lefèvre",
        first="Hélène", national_id="810000000001", profession="Médecin",
        specialty="Cardiologie et maladies vasculaires", workplace="CHU de Lyon",
        service="Cardiologie", postal_code="69003", city="69003 LYON"),
    row(kind="PER", address="jean.lefebvre@medecin.mssante.test", last="LEFEBVRE",
        first="Jean", national_id="810000000002", profession="Médecin",
        specialty="Médecine générale", postal_code="35000", city="35000 RENNES"),
    row(kind="ORG", address="secretariat.cardiologie@chu-lyon.mssante.test",
        service="Secrétariat de cardiologie", workplace="CHU de Lyon", postal_code="69003",
        city="69003 LYON"),
    row(kind="PER", address="near.star@infirmier.mssante.test", last="Near", first="Star",
        national_id="810000000003", profession="Infirmier", city="75014 PARIS",
        postal_code="75014"),
    row(kind="APP", address="lgc@chu-lyon.mssante.test", service="Cardiologie",
        workplace="CHU de Lyon", city="69003 LYON", postal_code="69003"),
    row(kind="PER", address="paul.cardin@kine.mssante.test", last="Cardin", first="Paul",
        national_id="810000000004", profession="Masseur-Kinésithérapeute", city="75011 PARIS",
        postal_code="75011"),
)  # fmt: skip


@pytest.fixture
def small(tmp_path: Path) -> DirectoryIndex:
    path = tmp_path / "small.sqlite"
    import_file(extraction_file(tmp_path / "people.txt", *PEOPLE), path)
    return DirectoryIndex(path)


def names(directory: DirectoryIndex, text: str = "", **filters: str) -> list[str]:
    return [entry.name for entry in directory.search_now(Query(text, **filters))]


@pytest.mark.parametrize(
    "typed", ["lefevre", "LEFEVRE", "Lefèvre", "lefèvre", "LEFÈVRE", "léfevre"]
)
def test_accents_and_case_are_folded(small: DirectoryIndex, typed: str) -> None:
    assert names(small, typed) == ["Hélène Lefèvre"]


def test_prefixes_find_words_begun(small: DirectoryIndex) -> None:
    assert names(small, "lef") == ["Jean LEFEBVRE", "Hélène Lefèvre"]  # sorted by name
    assert names(small, "cardiol", kind="PER") == ["Hélène Lefèvre"]
    assert names(small, "hel lef") == ["Hélène Lefèvre"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("cardiologie lyon", ["Hélène Lefèvre", "Secrétariat de cardiologie", "Cardiologie"]),
        ("médecine générale", ["Jean LEFEBVRE"]),  # specialty
        ("medecin rennes", ["Jean LEFEBVRE"]),  # profession and city
        ("35000", ["Jean LEFEBVRE"]),  # postal code
        ("690", ["Hélène Lefèvre", "Secrétariat de cardiologie", "Cardiologie"]),
        ("chu lyon secretariat", ["Secrétariat de cardiologie"]),  # workplace and service
        ("jean", ["Jean LEFEBVRE"]),  # first name
        ("dupont", []),
    ],
)
def test_every_searched_column(small: DirectoryIndex, typed: str, expected: list[str]) -> None:
    assert sorted(names(small, typed)) == sorted(expected)


def test_professions_and_specialties_are_found_as_labels_and_names_as_text(
    small: DirectoryIndex,
) -> None:
    assert names(small, "infirmier") == ["Star Near"]
    assert names(small, "kine paris") == ["Paul Cardin"]
    # "card" begins a specialty and a name: both are found.
    assert sorted(names(small, "card")) == sorted(
        ["Paul Cardin", "Hélène Lefèvre", "Secrétariat de cardiologie", "Cardiologie"]
    )
    assert names(small, "medecin lyon") == ["Hélène Lefèvre"]


def test_short_words_beside_longer_ones_and_the_shared_domain_are_not_searched(
    small: DirectoryIndex,
) -> None:
    assert names(small, "de lyon", kind="ORG") == names(small, "lyon", kind="ORG")
    assert names(small, "h lefevre") == ["Hélène Lefèvre"]
    assert names(small, "mssante") == []
    assert names(small, "secretariat.cardiologie") == ["Secrétariat de cardiologie"]
    # Digits are kept however short: a département narrows a common name.
    assert names(small, "35 lef") == ["Jean LEFEBVRE"]
    assert names(small, "69003", kind="APP") == ["Cardiologie"]


def test_filters_by_mailbox_type_and_national_id(small: DirectoryIndex) -> None:
    assert names(small, "lyon", kind="ORG") == ["Secrétariat de cardiologie"]
    assert names(small, "lyon", kind="APP") == ["Cardiologie"]
    assert names(small, "lyon", kind="CAB") == []
    assert names(small, national_id="810000000002") == ["Jean LEFEBVRE"]
    assert names(small, "lefevre", national_id="810000000002") == []
    assert names(small) == []  # nothing asked, nothing listed


def test_several_mailboxes_of_one_person_are_one_entry_with_all_addresses(
    small: DirectoryIndex,
) -> None:
    # Only the hospital mailbox mentions the service, yet both addresses are shown.
    [entry] = small.search_now(Query("lefevre chu"))
    assert [a.address for a in entry.addresses] == [
        "helene.lefevre@medecin.mssante.test",
        "h.lefevre@chu-lyon.mssante.test",
    ]
    assert [a.workplace for a in entry.addresses] == ["Cabinet du Parc", "CHU de Lyon"]
    assert (entry.profession, entry.specialty, entry.city) == (
        "Médecin",
        "Cardiologie et maladies vasculaires",
        "Lyon",
    )


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '""',
        '"lefevre',
        "lefevre*",
        "*",
        "lef* OR jean",
        "NEAR(lefevre jean)",
        "near",
        "- lefevre",
        "-lefevre",
        "last_name:lefevre",
        "address:x",
        "(lefevre",
        "lefevre)",
        "^lefevre",
        "lefevre AND NOT jean",
        "{last_name first_name}: lefevre",
        "'; DROP TABLE mailbox; --",
        "\x00lefevre",
        "lefevre" + "é" * 5000,
    ],
)
def test_fts_syntax_typed_by_the_user_is_only_text(small: DirectoryIndex, hostile: str) -> None:
    found = names(small, hostile)  # never an error
    assert set(found) <= {"Hélène Lefèvre", "Jean LEFEBVRE", "Star Near"}
    assert names(small, "lefevre") == ["Hélène Lefèvre"]  # nothing dropped


def test_operators_are_searched_as_words(small: DirectoryIndex) -> None:
    assert names(small, "NEAR") == ["Star Near"]
    assert names(small, "near star") == ["Star Near"]
    # OR is not an operator: nobody is called "or", so nothing matches.
    assert names(small, "lefevre OR jean") == []
    assert match_expression(["NEAR", 'a"b']) == '"NEAR"* "a""b"*'


def test_form_values_are_cleaned() -> None:
    assert clean_kind(" org ") == "ORG"
    assert clean_kind("PER' OR 1=1") == ""
    assert clean_national_id(" 8 1000 0000 001 ") == "810000000001"
    assert clean_national_id("8100' OR '1") == ""


def test_many_concurrent_searches_off_the_event_loop(directory: DirectoryIndex) -> None:
    async def many() -> list[list[str]]:
        results = await asyncio.gather(
            *(directory.search(Query(text)) for text in ["martin", "lefevre", "card"] * 30)
        )
        return [[e.name for e in r] for r in results]

    results = asyncio.run(many())
    assert all(results[i] == results[i % 3] for i in range(len(results)))
    assert "Claire Martin" in results[0]


def test_one_letter_alone_is_no_search(small: DirectoryIndex) -> None:
    assert names(small, "l") == []
    assert names(small, "l j") == []
    assert names(small, "le j") == names(small, "le")


@pytest.mark.parametrize("typed", ["p1", "s1", "p", "labels", "labels p1", "p1 OR s1"])
def test_the_label_tokens_of_the_index_cannot_be_typed(small: DirectoryIndex, typed: str) -> None:
    assert names(small, typed) == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("cardiologue lyon", ["Hélène Lefèvre", "Secrétariat de cardiologie", "Cardiologie"]),
        ("généraliste rennes", ["Jean LEFEBVRE"]),
        ("medecin generaliste", ["Jean LEFEBVRE"]),
    ],
)
def test_a_practitioner_finds_the_discipline(
    small: DirectoryIndex, typed: str, expected: list[str]
) -> None:
    assert sorted(names(small, typed)) == sorted(expected)

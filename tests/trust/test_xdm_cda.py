"""CDA R2 rendered on the server: the header, the narrative as safe HTML, nothing fetched."""

from __future__ import annotations

from datetime import date

import pytest

from tests.conftest import soup
from tests.trust import xdm_samples as samples
from webmail.trust import cda, ins, xdm
from webmail.trust.xdm import read_archive
from webmail.trust.zipsafe import ArchiveRefused


def section_html(body: str) -> str:
    document = cda.render(samples.cda_with(body))
    assert [s.title for s in document.sections] == ["Motif"]
    return document.sections[0].html


def test_header() -> None:
    document = cda.render(samples.cda_with("<paragraph>Texte</paragraph>"))
    assert document.title == "Lettre de liaison"
    assert document.code == "11490-0"
    patient = document.patient
    assert patient.family == "LEFÈVRE"  # the birth name, not the used one
    assert patient.given == "Anne-Sophie"
    assert patient.birth_date == date(1969, 2, 3)
    assert (patient.ins, patient.ins_oid) == (samples.NIR, ins.NIR_OID)
    assert document.author == "Dr Jean MARTIN"
    assert document.date is not None and document.date.isoformat() == "2026-11-24T09:30:00+01:00"


def test_narrative_blocks_map_to_html() -> None:
    html = section_html(
        "<paragraph>Patiente <content styleCode='Bold'>hospitalisée</content> du 2 au 5.<br/>"
        "Sortie à domicile.</paragraph>"
        "<list listType='ordered'><item>furosémide 40 mg</item><item>bisoprolol</item></list>"
        "<list><item>point</item></list>"
        "<table border='1'><caption>Biologie</caption><thead><tr><th>Examen</th><th>Valeur</th></tr></thead>"
        "<tbody><tr><td colspan='2'>NT-proBNP &lt; 450</td></tr></tbody></table>"
        "<paragraph>Voir <linkHtml href='https://has-sante.fr/reco'>la recommandation</linkHtml>"
        "<sub>1</sub><sup>2</sup></paragraph>"
    )
    tree = soup(html)
    first = tree.find("p")
    assert first.get_text() == "Patiente hospitalisée du 2 au 5.Sortie à domicile."
    assert first.find("strong").get_text() == "hospitalisée"
    assert first.find("br") is not None
    assert [li.get_text() for li in tree.find("ol").find_all("li")] == [
        "furosémide 40 mg",
        "bisoprolol",
    ]
    assert [li.get_text() for li in tree.find("ul").find_all("li")] == ["point"]
    table = tree.find("table")
    assert table.find("caption").get_text() == "Biologie"
    assert [th.get_text() for th in table.find_all("th")] == ["Examen", "Valeur"]
    cell = table.find("td")
    assert cell.get_text() == "NT-proBNP < 450" and cell["colspan"] == "2"
    link = tree.find("a")
    assert link["href"] == "https://has-sante.fr/reco" and link["rel"] == ["noopener", "noreferrer"]
    assert tree.find("sub").get_text() == "1" and tree.find("sup").get_text() == "2"


def test_script_and_event_handlers_never_survive() -> None:
    html = section_html(
        "<paragraph>avant</paragraph>"
        "<script xmlns='http://www.w3.org/1999/xhtml'>alert(1)</script>"
        "<paragraph onload='alert(2)' ID='p1' styleCode='x\" onclick=\"alert(3)'>texte</paragraph>"
        "<content onmouseover='alert(4)'>&lt;script&gt;alert(5)&lt;/script&gt;</content>"
        "<linkHtml href='javascript:alert(6)'>clic</linkHtml>"
        "<linkHtml href=' JaVaScRiPt:alert(7)'>clic2</linkHtml>"
        "<linkHtml href='data:text/html,&lt;script&gt;alert(8)&lt;/script&gt;'>clic3</linkHtml>"
    )
    tree = soup(html)
    assert tree.find("script") is None
    for element in tree.find_all(True):
        assert not [a for a in element.attrs if a.lower().startswith("on")]
        assert "javascript" not in element.get("href", "").lower()
        assert not element.get("href", "").startswith("data:")
    # The escaped text is shown as text, as written.
    assert "<script>alert(5)</script>" in tree.get_text()
    assert [a.get_text() for a in tree.find_all("a")] == []
    assert "clic" in tree.get_text()


def test_remote_multimedia_is_never_fetched() -> None:
    html = section_html(
        "<renderMultiMedia referencedObject='MM1'><caption>Radiographie</caption></renderMultiMedia>"
        "<renderMultiMedia referencedObject='MM2'/>"
        "<paragraph><content>fin</content></paragraph>"
    )
    # The observationMedia it points at may hold a remote reference: it is never used.
    tree = soup(html)
    assert tree.find("img") is None and tree.find(src=True) is None
    notes = [e.get_text() for e in tree.find_all("em")]
    assert notes == ["[image non affichée : Radiographie]", "[image non affichée]"]


def test_deleted_revisions_are_not_shown() -> None:
    html = section_html(
        "<paragraph>dose <content revised='delete'>80 mg</content>40 mg</paragraph>"
    )
    assert soup(html).get_text() == "dose 40 mg"


def test_unknown_elements_keep_their_text_only() -> None:
    html = section_html(
        "<paragraph><iframe src='https://evil.test/'>cadre</iframe><img src='https://evil.test/x.png'/>ok</paragraph>"
    )
    tree = soup(html)
    assert tree.find("iframe") is None and tree.find("img") is None
    assert tree.get_text() == "cadreok"


def test_deep_nesting_is_flattened() -> None:
    body = "<list><item>" * 200 + "profond" + "</item></list>" * 200
    html = section_html(body)
    assert "profond" in soup(html).get_text()


@pytest.mark.parametrize("hostile", [samples.BILLION_LAUGHS, samples.EXTERNAL_ENTITY])
def test_entities_in_a_cda(hostile: bytes) -> None:
    with pytest.raises(ArchiveRefused) as caught:
        cda.render(hostile)
    assert caught.value.reason == xdm.FORBIDDEN_XML


def test_not_a_cda() -> None:
    for data in (b"<html><body>x</body></html>", b"not xml", b"%PDF-1.4"):
        with pytest.raises(ArchiveRefused) as caught:
            cda.render(data)
        assert caught.value.reason == cda.BAD_CDA


def test_non_structured_cda_built_here_carries_its_pdf() -> None:
    archive = read_archive(samples.good_archive(1))
    document = cda.render(archive.contents[1])
    assert document.embedded_type == "application/pdf"
    assert document.embedded == samples.pdf("Document 1")
    assert document.sections == []
    assert document.patient.family == "LEFÈVRE" and document.patient.ins == samples.NIR
    assert document.author == "Dr Jean Martin"

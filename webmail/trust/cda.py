"""HL7 CDA R2 made readable: its header and the narrative of each section, as safe HTML.

A CDA's ``section/text`` is a narrative block with elements of its own (``paragraph``,
``list/item``, ``table``, ``content``, ``br``, ``linkHtml``, ``renderMultiMedia``…). Each is
mapped to a small HTML subset, every text escaped, and the result goes through the mail
sanitiser like any HTML mail. Nothing is fetched: ``renderMultiMedia`` becomes a line saying an
image was left out, ``linkHtml`` a link the sanitiser still checks. The XML itself is parsed
with ``defusedxml`` (no DTD, no entity, no network).
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET  # types and ParseError only: parsing is defusedxml
from dataclasses import dataclass
from datetime import datetime

from markupsafe import escape

from webmail.i18n import N_, _
from webmail.mail.sanitize import sanitize_html
from webmail.trust import hl7, ins
from webmail.trust.xdm import Patient, local, parse_xml
from webmail.trust.zipsafe import ArchiveRefused

BAD_CDA = N_("document CDA illisible")
# Deeper narrative nesting is shown as plain text: real documents stay far below.
MAX_DEPTH = 30
_SIMPLE = {
    "paragraph": "p",
    "item": "li",
    "thead": "thead",
    "tbody": "tbody",
    "tfoot": "tfoot",
    "tr": "tr",
    "caption": "caption",
    "sub": "sub",
    "sup": "sup",
    "footnote": "small",
}
_STYLES = {"bold": "strong", "italics": "em", "underline": "u", "emphasis": "em"}


@dataclass(frozen=True)
class Section:
    title: str
    html: str  # sanitised


@dataclass(frozen=True)
class CdaDocument:
    title: str
    code: str
    code_display: str
    date: datetime | None
    patient: Patient
    author: str
    sections: list[Section]
    # A non-structured CDA (nonXMLBody): the type of what it embeds, and those bytes.
    embedded_type: str = ""
    embedded: bytes = b""


def render(data: bytes) -> CdaDocument:
    """The document's header and narrative; ArchiveRefused when it is not a readable CDA."""
    root = parse_xml(data, BAD_CDA)
    if local(root.tag) != "ClinicalDocument":
        raise ArchiveRefused(BAD_CDA)
    code = _first(root, "code")
    embedded_type, embedded = _non_xml_body(root)
    return CdaDocument(
        title=_text(_first(root, "title")),
        code=code.get("code", "") if code is not None else "",
        code_display=code.get("displayName", "") if code is not None else "",
        date=hl7.parse_datetime(_value(_first(root, "effectiveTime"))),
        patient=_patient(root),
        author=_author(root),
        sections=[_section(section) for section in _sections(root)],
        embedded_type=embedded_type,
        embedded=embedded,
    )


def narrative(document: CdaDocument) -> str:
    """Every section, its title over its text, as one sanitised HTML body."""
    parts = [
        f"<div><h2>{escape(section.title)}</h2>{section.html}</div>"
        if section.title
        else f"<div>{section.html}</div>"
        for section in document.sections
    ]
    return sanitize_html("".join(parts), _no_cid).html


def header_code(data: bytes) -> str:
    """The document's type code (``ClinicalDocument/code/@code``), "" when unreadable: what
    X-MSS-CODECDA must carry (Référentiel socle MSSanté #2, ECO.2.4.1)."""
    try:
        root = parse_xml(data, BAD_CDA)
    except ArchiveRefused:
        return ""
    code = _first(root, "code") if local(root.tag) == "ClinicalDocument" else None
    return code.get("code", "").strip() if code is not None else ""


# -- header --------------------------------------------------------------------------------


def _first(element: ET.Element | None, *path: str) -> ET.Element | None:
    """The first descendant along ``path`` (direct children at each step)."""
    current = element
    for name in path:
        if current is None:
            return None
        current = next((child for child in current if local(child.tag) == name), None)
    return current


def _all(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [child for child in element if local(child.tag) == name] if element is not None else []


def _text(element: ET.Element | None) -> str:
    return " ".join("".join(element.itertext()).split()) if element is not None else ""


def _value(element: ET.Element | None) -> str:
    return element.get("value", "") if element is not None else ""


def _person_name(name: ET.Element | None) -> tuple[str, str, str]:
    """(family, given, prefix); a birth name (qualifier BR) wins over a used one."""
    families = _all(name, "family")
    birth = [f for f in families if "BR" in f.get("qualifier", "").split()]
    chosen = birth or families
    family = _text(chosen[0]) if chosen else ""
    given = " ".join(_text(g) for g in _all(name, "given"))
    prefix = " ".join(_text(p) for p in _all(name, "prefix"))
    return family, given, prefix


def _patient(root: ET.Element) -> Patient:
    role = _first(root, "recordTarget", "patientRole")
    ids = [(i.get("extension", ""), i.get("root", "")) for i in _all(role, "id")]
    chosen = next((i for i in ids if ins.kind(i[1])), ids[0] if ids else ("", ""))
    person = _first(role, "patient")
    family, given, _prefix = _person_name(_first(person, "name"))
    gender = _first(person, "administrativeGenderCode")
    sex = gender.get("code", "").upper()[:1] if gender is not None else ""
    return Patient(
        family=family,
        given=given,
        birth_date=hl7.parse_date(_value(_first(person, "birthTime"))),
        sex=sex if sex in ("F", "M", "U") else "",
        ins=chosen[0],
        ins_oid=chosen[1],
    )


def _author(root: ET.Element) -> str:
    assigned = _first(root, "author", "assignedAuthor")
    family, given, prefix = _person_name(_first(assigned, "assignedPerson", "name"))
    if family or given:
        return hl7.Person(family=family, given=given, prefix=prefix).display
    return _text(_first(assigned, "representedOrganization", "name"))


def _non_xml_body(root: ET.Element) -> tuple[str, bytes]:
    text = _first(root, "component", "nonXMLBody", "text")
    if text is None:
        return "", b""
    media = text.get("mediaType", "").strip().lower()
    if text.get("representation", "").upper() != "B64":
        return media, b""
    try:
        return media, base64.b64decode("".join((text.text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        return media, b""


def _sections(root: ET.Element) -> list[ET.Element]:
    """Every section of the structured body, sub-sections after their parent."""
    body = _first(root, "component", "structuredBody")
    found: list[ET.Element] = []
    pending = [c for c in reversed(_all(body, "component"))]
    while pending and len(found) < 500:
        section = _first(pending.pop(), "section")
        if section is None:
            continue
        found.append(section)
        pending.extend(reversed(_all(section, "component")))
    return found


def _section(section: ET.Element) -> Section:
    html = _narrative(_first(section, "text"))
    return Section(title=_text(_first(section, "title")), html=sanitize_html(html, _no_cid).html)


def _no_cid(content_id: str) -> str | None:
    return None


# -- narrative block -----------------------------------------------------------------------


def _narrative(text: ET.Element | None) -> str:
    if text is None:
        return ""
    return _inner(text, 0)


def _inner(element: ET.Element, depth: int) -> str:
    parts = [str(escape(element.text or ""))]
    for child in element:
        parts.append(_element(child, depth + 1))
        parts.append(str(escape(child.tail or "")))
    return "".join(parts)


def _element(element: ET.Element, depth: int) -> str:
    name = local(element.tag)
    if depth > MAX_DEPTH:
        return str(escape(" ".join(element.itertext())))
    if name == "br":
        return "<br>"
    if name == "renderMultiMedia":
        return _multimedia(element)
    if name == "linkHtml":
        return _link(element, depth)
    if name == "list":
        tag = "ol" if element.get("listType", "").lower() == "ordered" else "ul"
        return _wrap(tag, _inner(element, depth))
    if name == "table":
        return _wrap("table", _inner(element, depth))
    if name in ("th", "td"):
        return _cell(name, element, depth)
    if name == "content":
        return _content(element, depth)
    if name in _SIMPLE:
        return _wrap(_SIMPLE[name], _inner(element, depth))
    if name in ("col", "colgroup", "footnoteRef"):
        return ""
    return _inner(element, depth)  # an element we do not know: its text, never its markup


def _wrap(tag: str, inner: str, attributes: str = "") -> str:
    return f"<{tag}{attributes}>{inner}</{tag}>"


def _cell(name: str, element: ET.Element, depth: int) -> str:
    attributes = "".join(
        f' {span}="{element.get(span)}"'
        for span in ("colspan", "rowspan")
        if (element.get(span) or "").isdigit() and len(element.get(span) or "") < 4
    )
    return _wrap(name, _inner(element, depth), attributes)


def _content(element: ET.Element, depth: int) -> str:
    inner = _inner(element, depth)
    if element.get("revised", "").strip().lower() == "delete":
        return ""  # a revision mark says this text was removed from the document
    for style in element.get("styleCode", "").lower().split():
        if style in _STYLES:
            inner = _wrap(_STYLES[style], inner)
    return _wrap("span", inner)


def _link(element: ET.Element, depth: int) -> str:
    inner = _inner(element, depth)
    href = element.get("href", "").strip()
    if not href.lower().startswith(("https://", "http://", "mailto:")):
        return _wrap("span", inner)
    return _wrap("a", inner, f' href="{escape(href)}"')


def _multimedia(element: ET.Element) -> str:
    caption = _text(_first(element, "caption"))
    note = (
        _("[image non affichée]")
        if not caption
        else _("[image non affichée : {caption}]").format(caption=caption)
    )
    return _wrap("em", str(escape(note)))

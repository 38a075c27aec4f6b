"""The MIME parser against the golden corpus in tests/messages (see its README)."""

from __future__ import annotations

import base64
import json
import quopri
import time
from datetime import datetime
from email.message import Message
from pathlib import Path

import pytest

from webmail.mail import compose, mime
from webmail.mail.sanitize import sanitize_html

MESSAGES = Path(__file__).resolve().parent.parent / "messages"
CASES = sorted(MESSAGES.glob("*.eml"))


def expected_for(path: Path) -> dict[str, object]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


def addresses(found: list[mime.Address]) -> list[dict[str, str]]:
    return [{"name": a.name, "address": a.address} for a in found]


def attachment_data(found: list[mime.Attachment] | tuple[mime.Attachment, ...]) -> list[object]:
    listed: list[object] = []
    for a in found:
        data: dict[str, object] = {
            "filename": a.filename,
            "content_type": a.content_type,
            "size": a.size,
        }
        if a.contents:
            data["contents"] = attachment_data(a.contents)
        listed.append(data)
    return listed


def every_attachment(found: list[mime.Attachment]) -> list[mime.Attachment]:
    """Attachments and those inside attached messages, at any depth."""
    flat: list[mime.Attachment] = []
    for attachment in found:
        flat += [attachment, *every_attachment(list(attachment.contents))]
    return flat


def test_corpus_is_there() -> None:
    assert len(CASES) >= 20


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_golden_message(path: Path) -> None:
    expected = expected_for(path)
    parsed = mime.parse_message(path.read_bytes())
    assert parsed.subject == expected["subject"]
    assert addresses(parsed.from_) == expected["from"]
    assert addresses(parsed.to) == expected["to"]
    assert addresses(parsed.cc) == expected["cc"]
    if expected["date"] is None:
        assert parsed.date is None
    else:
        assert parsed.date == datetime.fromisoformat(str(expected["date"]))
    assert (parsed.text is not None) == expected["has_text"]
    assert (parsed.html is not None) == expected["has_html"]
    for fragment in expected["text_contains"]:  # type: ignore[union-attr]
        assert fragment in (parsed.text or ""), fragment
    cleaned = sanitize_html(parsed.html or "", lambda cid: "/inline").html
    for forbidden in expected["html_must_not_contain"]:  # type: ignore[union-attr]
        assert forbidden.lower() not in cleaned.lower(), forbidden
    assert attachment_data(parsed.attachments) == expected["attachments"]
    assert parsed.kind == expected["kind"]


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_every_attachment_can_be_fetched_by_its_part_id(path: Path) -> None:
    raw = path.read_bytes()
    for attachment in every_attachment(mime.parse_message(raw).attachments):
        found = mime.extract_part(raw, attachment.part_id)
        assert found is not None, attachment.part_id
        described, content = found
        assert len(content) == attachment.size
        assert (described.filename, described.content_type) == (
            attachment.filename,
            attachment.content_type,
        )


@pytest.mark.parametrize(
    "name", ["", "../../etc/passwd", "C:\\Windows\\x.exe", "\x00\x1b.pdf", "." * 5]
)
def test_safe_filename_is_only_a_name(name: str) -> None:
    safe = mime.safe_filename(name, "application/pdf")
    assert safe and "/" not in safe and "\\" not in safe and not safe.startswith(".")
    assert all(ord(char) >= 32 for char in safe)


def test_display_subject_hides_the_xdm_prefix() -> None:
    assert (
        mime.display_subject("XDM/1.0/DDM+CR MARTIN Paul 12/03/1948") == "CR MARTIN Paul 12/03/1948"
    )
    assert mime.display_subject("RE: suivi") == "RE: suivi"


@pytest.mark.parametrize("path", CASES, ids=[case.stem for case in CASES])
def test_quick_header_path_used_by_lists_agrees(path: Path) -> None:
    """Message lists read headers the fast way; they must show what the full parser shows."""
    expected = expected_for(path)
    block = path.read_bytes().split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    headers = mime.parse_headers(block)
    assert mime.header_text(headers, "subject") == expected["subject"]
    assert addresses(mime.addresses(headers, "from")) == expected["from"]
    assert addresses(mime.addresses(headers, "to")) == expected["to"]
    assert addresses(mime.addresses(headers, "cc")) == expected["cc"]
    full = mime.parse_message(path.read_bytes())
    assert mime.sender(mime.addresses(headers, "from")) == full.sender
    if expected["date"] is not None:
        assert mime.header_date(headers) == datetime.fromisoformat(str(expected["date"]))


def test_multipart_bomb_is_survived() -> None:
    depth = 3000
    opening = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(depth)
    )
    closing = "".join(f"\r\n--b{i}--\r\n" for i in reversed(range(depth)))
    raw = (
        "From: a@example.org\r\nSubject: bomb\r\nMIME-Version: 1.0\r\n"
        + opening
        + "Content-Type: text/plain\r\n\r\ndeep\r\n"
        + closing
    ).encode()
    parsed = mime.parse_message(raw)
    assert parsed.subject == "bomb"
    assert parsed.text is None and parsed.attachments == []


def test_many_attachments_are_all_listed() -> None:
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = "Lot"
    message.set_content("x")
    for number in range(300):
        message.add_attachment(
            b"%PDF", maintype="application", subtype="pdf", filename=f"{number}.pdf"
        )
    parsed = mime.parse_message(message.as_bytes())
    assert [a.filename for a in parsed.attachments][-1] == "299.pdf"
    assert len(parsed.attachments) == 300


# -- headers: the same text on every path, whatever the bytes -------------------------------


def header_paths(raw: bytes) -> tuple[mime.ParsedMessage, Message]:
    """The reading view's parse and the list's fast parse of the same message."""
    block = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    return mime.parse_message(raw), mime.parse_headers(block)


def mail_with(headers: bytes) -> bytes:
    return headers + b"\r\nContent-Type: text/plain\r\n\r\nx\r\n"


@pytest.mark.parametrize(
    ("raw_subject", "shown"),
    [
        (b"R\xe9sultat de Mme B\xc9LANGER", "Résultat de Mme BÉLANGER"),  # Latin-1
        (b"R\xc3\xa9sultat \xe2\x82\xac", "Résultat €"),  # RFC 6532 UTF-8
        (b"caf\xc3\xa9 et cr\xe8me", "café et crème"),  # both in one header
        (b"prix \x80 50", "prix € 50"),  # a stray windows-1252 byte
        (b"nul\x00 et \x81 et \x9d", "nul et et"),  # bytes with no character: dropped
        (b"Mme DUPONT\r\n =?UTF-8?Q?Agn=C3=A8s?=", "Mme DUPONT Agnès"),
        (b"=?UTF-8?Q?Agn=C3=A8s?=\r\n DUPONT", "Agnès DUPONT"),
        (b"=?UTF-8?Q?Agn=C3?=\r\n =?UTF-8?Q?=A8s?=", "Agnès"),  # one character over two words
        (b"=?UTF-8?Q?Mme_?= =?ISO-8859-1?Q?L=C9GER?=", "Mme LÉGER"),
        (b"RE: =?utf-8?b?w4lsb2RpZQ?= (suite)", "RE: Élodie (suite)"),  # no padding
        (b"=?UTF-8?Q?Avis_=0D=0Aurgent=09=00?=", "Avis urgent"),
        (b"=?utf-8?q?non termin", "=?utf-8?q?non termin"),
        (b"XDM/1.0/DDM+CR\r\n\t=?UTF-8?Q?M=C3=BCller?= Hans 01/02/1950", None),
    ],
)
def test_list_and_view_show_the_same_subject(raw_subject: bytes, shown: str | None) -> None:
    full, quick = header_paths(mail_with(b"From: a@example.org\r\nSubject: " + raw_subject))
    assert full.subject == mime.header_text(quick, "subject")
    if shown is not None:
        assert full.subject == shown
    assert "\ufffd" not in full.subject and full.subject.isprintable()


@pytest.mark.parametrize(
    ("raw_from", "expected"),
    [
        (b"Gu\xe9rin, \xc9lodie <e@example.org>", [("Guérin, Élodie", "e@example.org")]),
        (
            b"DUPONT, Jean <j@example.org>, b@example.org",
            [("DUPONT, Jean", "j@example.org"), ("", "b@example.org")],
        ),
        (b"a@example.org, b@example.org", [("", "a@example.org"), ("", "b@example.org")]),
        (b'"Dr Ren\xc3\xa9e" <r@example.org>', [("Dr Renée", "r@example.org")]),
        (b"=?UTF-8?Q?Dr_=0A=0DEvil?= <e@example.org>", [("Dr Evil", "e@example.org")]),
        (
            b"=?UTF-8?Q?x=0ABcc:_y@evil.example?= <e@example.org>",
            [("x Bcc: y@evil.example", "e@example.org")],
        ),
        (b"e@example.org (Dr \xc9mile)", [("Dr Émile", "e@example.org")]),
        (b"foo", [("", "foo")]),
        (b"MAILER DAEMON <>", [("MAILER DAEMON", "")]),
        (b"<>, ,", []),
        (
            b'Liste: a@example.org, "B, b" <b@example.org>;',
            [("", "a@example.org"), ("B, b", "b@example.org")],
        ),
        (b"<a@exa\r\n mple.org>", [("", "a@example.org")]),
    ],
)
def test_list_and_view_read_the_same_addresses(
    raw_from: bytes, expected: list[tuple[str, str]]
) -> None:
    full, quick = header_paths(mail_with(b"From: " + raw_from + b"\r\nSubject: s"))
    assert [(a.name, a.address) for a in full.from_] == expected
    assert mime.addresses(quick, "from") == full.from_
    assert mime.sender(mime.addresses(quick, "from")) == full.sender


def no_control_characters(value: str) -> bool:
    return all(char.isprintable() for char in value)


def test_decoded_line_breaks_reach_no_header_value_and_no_reply() -> None:
    raw = (MESSAGES / "encoded_line_break_addresses.eml").read_bytes()
    parsed = mime.parse_message(raw)
    people = parsed.from_ + parsed.to + parsed.cc + parsed.reply_to
    values = [parsed.subject] + [a.name for a in people] + [a.address for a in people]
    assert all(no_control_characters(value) for value in values), values
    for reply_all in (False, True):
        draft = compose.reply_draft(parsed, "me@example.org", reply_all=reply_all, intro="Le :")
        assert draft.to == "secretariat@medecin.mssante.test"
        message = compose.build_message(draft)  # the stdlib refuses CR/LF in addresses
        assert message["Subject"] == "RE: Avis cardiologique urgent"
    compose.build_message(compose.forward_draft(parsed, "me@example.org", "TR"))


@pytest.mark.parametrize(
    "control",
    [
        "\u202e",
        "\u202a",
        "\u202b",
        "\u202c",
        "\u202d",
        "\u2066",
        "\u2067",
        "\u2068",
        "\u2069",
        "\u200e",
        "\u200f",
        "\u061c",
        "\u200b",
        "\ufeff",
    ],
)
def test_bidirectional_controls_never_reach_a_file_name(control: str) -> None:
    assert mime.safe_filename(f"rapport{control}fdp.exe", "application/pdf") == "rapportfdp.exe"
    assert mime.safe_filename(f"{control}.pdf", "application/pdf") == "pdf"


def test_a_named_text_part_is_an_attachment_but_a_lone_body_is_the_text() -> None:
    parsed = mime.parse_message((MESSAGES / "inline_named_html.eml").read_bytes())
    assert parsed.html is None and "urgences cette nuit" in (parsed.text or "")
    alone = mime.parse_message(
        b'From: a@example.org\r\nContent-Type: text/plain; name="cr.txt"\r\n\r\nCompte rendu\r\n'
    )
    assert alone.text == "Compte rendu\n" and alone.attachments == []


def test_attachments_inside_forwarded_messages_have_part_ids_reaching_inside() -> None:
    raw = (MESSAGES / "forwarded_nested_attachments.eml").read_bytes()
    forwarded = mime.parse_message(raw).attachments[0]
    pdf, inner = forwarded.contents
    assert (forwarded.part_id, pdf.part_id, inner.part_id) == ("2", "2.2", "2.3")
    assert inner.contents[0].part_id == "2.3.2"
    assert (mime.part_content(raw, "2.3.2") or b"").startswith(b"\x89PNG")
    assert mime.part_content(raw, "2.3.9") is None and mime.part_content(raw, "2.2.1") is None


@pytest.mark.parametrize("encoding", ["7bit", "8bit", "binary", "base64", "quoted-printable"])
def test_a_message_whose_whole_body_is_a_message_is_shown_in_place(encoding: str) -> None:
    inner = (
        "From: Dr Sophie Garnier <s@example.org>\r\nTo: c@example.org\r\n"
        "Date: Tue, 10 Mar 2026 16:20:00 +0100\r\nSubject: Lettre de sortie\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain; charset=utf-8\r\n\r\nMme LÉGER est sortie.\r\n--b\r\n"
        'Content-Type: application/pdf; name="sortie.pdf"\r\n\r\n%PDF\r\n--b--\r\n'
    ).encode()
    body = {
        "base64": base64.encodebytes(inner).replace(b"\n", b"\r\n"),
        "quoted-printable": quopri.encodestring(inner.replace(b"\r\n", b"\n")).replace(
            b"\n", b"\r\n"
        ),
    }.get(encoding, inner)
    raw = (
        b"From: passerelle@example.org\r\nSubject: Transmis\r\nContent-Type: message/rfc822\r\n"
        b"Content-Transfer-Encoding: " + encoding.encode() + b"\r\n\r\n" + body
    )
    parsed = mime.parse_message(raw)
    assert parsed.text == "Mme LÉGER est sortie."
    (shown,) = parsed.encapsulated
    assert (shown.subject, shown.sender, shown.to) == (
        "Lettre de sortie",
        mime.Address("Dr Sophie Garnier", "s@example.org"),
        [mime.Address("", "c@example.org")],
    )
    assert shown.date == datetime.fromisoformat("2026-03-10T16:20:00+01:00")
    (pdf,) = parsed.attachments
    assert pdf.filename == "sortie.pdf" and mime.part_content(raw, pdf.part_id) == b"%PDF"


def test_plain_message_keeps_every_word_of_a_message_it_cannot_parse() -> None:
    raw = b"From: Gu\xe9rin <g@example.org>\r\nSubject: \xe9t\xe9\r\n\r\nTexte \xe0 garder\x00\r\n"
    plain = mime.plain_message(raw)
    assert plain.malformed and plain.subject == "été"
    assert plain.sender == mime.Address("Guérin", "g@example.org")
    assert plain.text == "Texte à garder\n"


@pytest.mark.parametrize("charset", ["raw_unicode_escape", "unicode_escape", "utf-7", "utf-16"])
def test_a_charset_that_makes_lone_surrogates_is_refused(charset: str) -> None:
    raw = (
        f"From: a@example.org\r\nSubject: =?{charset}?Q?=5Cudc80_+2D4-?= suite\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\n\\udc80 +2D4- texte\r\n"
    ).encode()
    parsed = mime.parse_message(raw)
    for text in (parsed.subject, parsed.text or ""):
        assert not any("\ud800" <= char <= "\udfff" for char in text), text
        text.encode("utf-8")  # what rendering a page does


@pytest.mark.parametrize(
    "piece", [b'"a" ', b"(c) ", b"a, ", b"x: ", b"=?utf-8?q?a?= ", b"\xe9 ", b"<a@example.org> "]
)
def test_huge_address_headers_are_read_in_linear_time(piece: bytes) -> None:
    raw = mail_with(b"From: " + piece * 40_000 + b"<last@example.org>\r\nSubject: s")
    started = time.perf_counter()
    full, quick = header_paths(raw)
    mime.addresses(quick, "from")
    assert time.perf_counter() - started < 5
    assert full.from_ and full.from_[-1].address.endswith("example.org")


@pytest.mark.timeout(10)  # a hang guard: the quadratic reader took 25 s on this header
@pytest.mark.parametrize("filler", [b":", b"a:", b"\"\\:", b"<:", b"(:"])
def test_a_huge_hostile_address_header_is_read_in_linear_time(filler: bytes) -> None:
    folded = b"\r\n ".join([filler * (900 // len(filler))] * 110)  # ~100 KB, under Postfix's cap
    block = b"From: x@y.fr " + folded + b"\r\nTo: " + folded + b"\r\nSubject: a\r\n\r\n"
    message = mime.parse_headers(block)
    for name in ("from", "to"):
        for address in mime.addresses(message, name):
            assert len(address.name) <= 256


@pytest.mark.parametrize("control", ["\u202e", "\u202d", "\u2067", "\u2068", "\u202b"])
def test_bidi_controls_never_reach_a_subject_or_a_name(control: str) -> None:
    name = f"Mme DUPONT {control}tnaméssiaN"
    block = (
        f"From: =?UTF-8?B?{base64.b64encode(name.encode()).decode()}?= <a@b.fr>\r\n"
        f"Subject: =?UTF-8?B?{base64.b64encode(f'Résultat {control}fdp.exe'.encode()).decode()}?=\r\n"
        "\r\n"
    ).encode()
    headers = mime.parse_headers(block)
    assert mime.header_text(headers, "subject") == "Résultat fdp.exe"
    assert mime.addresses(headers, "from")[0].name == "Mme DUPONT tnaméssiaN"
    full = mime.parse_message(block + b"Texte\r\n")
    assert full.subject == "Résultat fdp.exe"
    assert full.from_[0].name == "Mme DUPONT tnaméssiaN"


def test_right_to_left_letters_are_kept() -> None:
    block = "Subject: =?UTF-8?B?{}?=\r\n\r\n".format(
        base64.b64encode("تحليل الدم".encode()).decode()
    ).encode()
    assert mime.header_text(mime.parse_headers(block), "subject") == "تحليل الدم"

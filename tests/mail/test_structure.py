"""BODYSTRUCTURE as servers send it, read into parts; the streaming decoder against the stdlib."""

from __future__ import annotations

import asyncio
import base64
import quopri
import random

import pytest

from webmail.mail import structure
from webmail.mail.imap_syntax import parse_fetch
from webmail.mail.streaming import Decoder, decoded_slices
from webmail.mail.structure import Unsupported


def structure_of(wire: list[bytes | bytearray]) -> structure.Node:
    (item,) = parse_fetch(wire)
    return structure.parse(item.data["BODYSTRUCTURE"])


def test_literals_rfc2231_names_nil_and_an_attached_message() -> None:
    name = "compte rendu é.pdf".encode()
    wire: list[bytes | bytearray] = [
        b'* 1 FETCH (UID 7 BODYSTRUCTURE ((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 120 4 NIL NIL NIL NIL)'
        b'("text" "html" ("charset" "utf-8") NIL NIL "7bit" 300 8 NIL NIL NIL NIL) "alternative" ("boundary" "b2") NIL NIL NIL)'
        b'("application" "pdf" ("name" {%d}' % len(name),
        bytearray(name),
        b') "<img1@x>" NIL "base64" 78000 NIL ("attachment" ("filename*0*" "utf-8\'\'ordonnance%20" "filename*1*" "%C3%A9t%C3%A9.pdf")) NIL NIL)'
        b'("message" "rfc822" NIL NIL NIL "7bit" 900 (NIL "=?utf-8?q?R=C3=A9sultats?=" NIL NIL NIL NIL NIL NIL NIL NIL)'
        b' ("image" "png" NIL NIL NIL "base64" 500 NIL ("inline" NIL) NIL NIL) 20 NIL NIL NIL NIL)'
        b' "mixed" ("boundary" "b1") NIL NIL NIL))',
    ]
    root = structure_of(wire)
    assert [child.part_id for child in root.children] == ["1", "2", "3"]
    assert [c.part_id for c in root.children[0].children] == ["1.1", "1.2"]
    pdf = root.find("2")
    assert pdf is not None and pdf.content_id == "img1@x" and pdf.encoding == "base64"
    assert pdf.filename == "ordonnance été.pdf"  # the RFC 2231 continuation wins over name
    attached = root.find("3.1")
    assert attached is not None and attached.content_type == "image/png"
    planned = structure.plan(root)
    assert [(kind, node.part_id) for kind, node in planned.bodies] == [
        ("text", "1.1"),
        ("html", "1.2"),
    ]
    listed = [(a.part_id, a.filename, a.content_type) for a in planned.attachments]
    assert listed == [
        ("2", "ordonnance été.pdf", "application/pdf"),
        ("3", "Résultats.eml", "message/rfc822"),
    ]
    assert [a.filename for a in planned.attachments[1].contents] == ["piece-jointe.png"]
    assert 50_000 < planned.attachments[0].size < 60_000  # decoded size, from the encoded one


def test_a_lone_body_is_part_1_and_its_name_from_the_type() -> None:
    root = structure_of(
        [
            b'* 1 FETCH (UID 1 BODYSTRUCTURE ("application" "pdf" ("name" "=?utf-8?q?lettre_=C3=A9.pdf?=") NIL NIL "base64" 400 NIL NIL NIL NIL))'
        ]
    )
    planned = structure.plan(root)
    assert planned.bodies == []
    assert [(a.part_id, a.filename) for a in planned.attachments] == [("1", "lettre é.pdf")]


@pytest.mark.parametrize(
    "wire",
    [
        # the whole body is a message: shown in place by the whole-message parser
        b'* 1 FETCH (UID 1 BODYSTRUCTURE ("message" "rfc822" NIL NIL NIL "7bit" 10 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL) 1 NIL NIL NIL NIL))',
        # an attached message sent base64: the whole-message parser decodes and reparses it
        b'* 1 FETCH (UID 1 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "base64" 10 (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL) 1 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL))',
        # a body with fewer fields than the grammar has
        b'* 1 FETCH (UID 1 BODYSTRUCTURE ("text" "plain" NIL NIL))',
        # a multipart without a subtype
        b'* 1 FETCH (UID 1 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 2 1)))',
        # other message types are parsed as messages by the stdlib
        b'* 1 FETCH (UID 1 BODYSTRUCTURE (("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL)("message" "partial" NIL NIL NIL "7bit" 10 NIL NIL NIL NIL) "mixed" NIL NIL NIL NIL))',
    ],
)
def test_what_is_not_read_by_parts_falls_back(wire: bytes) -> None:
    with pytest.raises(Unsupported):
        structure.plan(structure_of([wire]))


def test_a_structure_bomb_falls_back() -> None:
    leaf = b'("text" "plain" NIL NIL NIL "7bit" 2 1 NIL NIL NIL NIL)'
    nested = leaf
    for _ in range(40):
        nested = b"(" + nested + b' "mixed" NIL NIL NIL NIL)'
    with pytest.raises(Unsupported):
        structure_of([b"* 1 FETCH (UID 1 BODYSTRUCTURE " + nested + b")"])


def stream(encoded: bytes, encoding: str, chunk: int) -> bytes:
    async def read_slice(offset: int, length: int) -> bytes:
        return encoded[offset : offset + length]

    async def collect() -> bytes:
        return b"".join(
            [d async for d in decoded_slices(read_slice, encoding, len(encoded), chunk)]
        )

    return asyncio.run(collect())


@pytest.mark.parametrize("chunk", [1, 3, 77, 1000, 256 * 1024])
def test_the_streaming_decoder_matches_the_stdlib(chunk: int) -> None:
    data = random.Random(chunk).randbytes(5000)
    wrapped = base64.encodebytes(data).replace(b"\n", b"\r\n")
    assert stream(wrapped, "base64", chunk) == data
    text = "Kaliémie 5,9 mmol/l = à contrôler\r\n".encode() * 50
    assert stream(quopri.encodestring(text), "quoted-printable", chunk) == quopri.decodestring(
        quopri.encodestring(text)
    )
    assert stream(data, "binary", chunk) == data


def test_base64_garbage_and_missing_padding_decode_as_far_as_they_go() -> None:
    decoder = Decoder("base64")
    out = decoder.feed(b"SGVs bG8g*!\r\nd29ybGQ") + decoder.flush()
    assert out == b"Hello world"

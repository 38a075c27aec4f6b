"""Parsing what IMAP servers really send (pure logic, no server)."""

from __future__ import annotations

import pytest

from webmail.mail import imap_syntax as syntax


def test_fetch_with_header_literal_and_flags_after_it() -> None:
    headers = b"Subject: Re: (urgent * note)\r\nFrom: a@b.fr\r\n\r\n"
    lines = [
        b"12 FETCH (UID 40 RFC822.SIZE 2048 BODY[HEADER.FIELDS (SUBJECT FROM)] {%d}" % len(headers),
        bytearray(headers),
        b' FLAGS (\\Seen $Forwarded) INTERNALDATE " 7-Jan-2026 09:05:00 +0100")',
        b"13 FETCH (UID 41 FLAGS () RFC822.SIZE 10 BODY[HEADER.FIELDS (SUBJECT FROM)] {0}",
        b")",
    ]
    items = syntax.parse_fetch(lines)
    assert [item.uid for item in items] == [40, 41]
    first = items[0].data
    assert first["BODY[HEADER.FIELDS (SUBJECT FROM)]"] == headers
    assert first["FLAGS"] == [b"\\Seen", b"$Forwarded"]
    assert first["INTERNALDATE"] == b" 7-Jan-2026 09:05:00 +0100"
    assert items[1].data["FLAGS"] == []


def test_quoted_strings_with_parentheses_and_escapes() -> None:
    lines = [b'1 FETCH (UID 3 X-LABEL "a (b \\"c\\" d")']
    assert syntax.parse_fetch(lines)[0].data["X-LABEL"] == b'a (b "c" d'


def test_body_peek_is_answered_as_body_and_partial_origin_dropped() -> None:
    lines = [b"1 FETCH (UID 3 BODY[]<0> {3}", bytearray(b"abc"), b")"]
    assert syntax.parse_fetch(lines)[0].data["BODY[]"] == b"abc"


def test_list_responses_with_literal_names() -> None:
    lines = [
        b'LIST (\\HasNoChildren \\Sent) "/" Sent',
        b'LIST (\\HasChildren) "." {12}',
        bytearray(b"INBOX.Dossie"),
        b'STATUS "Sent" (MESSAGES 4 UNSEEN 1)',
    ]
    responses = syntax.parse_lines(lines)
    assert responses[0] == [b"LIST", [b"\\HasNoChildren", b"\\Sent"], b"/", b"Sent"]
    assert responses[1][3] == b"INBOX.Dossie"
    assert responses[2] == [b"STATUS", b"Sent", [b"MESSAGES", 4, b"UNSEEN", 1]]


def test_sort_and_search_numbers() -> None:
    lines = [b"SORT 5 3 9", b"SEARCH 1 2", b"Sort completed."]
    assert syntax.search_numbers(lines, b"SORT") == [5, 3, 9]
    assert syntax.search_numbers(lines, b"SEARCH") == [1, 2]


def test_response_codes() -> None:
    lines = [
        b"OK [UIDVALIDITY 1700000000] UIDs valid",
        b"OK [UIDNEXT 42] Predicted",
        b"OK [HIGHESTMODSEQ 77] Highest",
        b"12 EXISTS",
        b"[READ-WRITE] Select completed.",
    ]
    codes = syntax.response_codes(lines)
    assert codes["UIDVALIDITY"] == b"1700000000" and codes["UIDNEXT"] == b"42"
    assert codes["HIGHESTMODSEQ"] == b"77" and codes["READ-WRITE"] == b""
    assert syntax.count_of(lines, b"EXISTS") == 12


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        ("INBOX", "INBOX"),
        ("Envoyés", "Envoy&AOk-s"),
        ("R&D", "R&-D"),
        ("été/Août", "&AOk-t&AOk-/Ao&APs-t"),
        ("日本語", "&ZeVnLIqe-"),
    ],
)
def test_modified_utf7_round_trip(text: str, encoded: str) -> None:
    assert syntax.encode_mailbox(text) == encoded
    assert syntax.decode_mailbox(encoded) == text


def test_garbage_does_not_loop_forever() -> None:
    assert syntax.parse_lines([b"1 FETCH (UID ] ) ]"]) is not None
    with pytest.raises(syntax.ImapSyntaxError):
        syntax.parse_lines([b'1 FETCH (UID 3 X "unterminated'])

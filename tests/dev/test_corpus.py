"""The demo corpus: valid, deterministic, realistic mail that scales to 10,000 messages."""

from __future__ import annotations

import email
import email.policy
import io
import re
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from dev.corpus import (
    INS_TEST_OID,
    XDM_SUBJECT_PREFIX,
    demo_messages,
    demo_users,
    make_pdf,
    make_xdm_zip,
    paris_time,
)

NOW = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
GP = "dr.martin@medecin.mssante.test"

Mail = tuple[str, tuple[str, ...], datetime, bytes]
Parsed = tuple[str, tuple[str, ...], datetime, bytes, EmailMessage]


def generate(owner: str = GP, count: int = 400, seed: int = 1) -> list[Mail]:
    return list(demo_messages(owner, count, seed=seed, now=NOW))


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


@pytest.fixture(scope="module")
def mailboxes() -> dict[str, list[Mail]]:
    return {
        user.address: generate(user.address, user.message_count_default) for user in demo_users()
    }


@pytest.fixture(scope="module")
def parsed(mailboxes: dict[str, list[Mail]]) -> dict[str, list[Parsed]]:
    return {owner: [(*mail, parse(mail[3])) for mail in box] for owner, box in mailboxes.items()}


@pytest.fixture(scope="module")
def gp_mail(parsed: dict[str, list[Parsed]]) -> list[Parsed]:
    return parsed[GP]


@pytest.fixture(scope="module")
def every_message(parsed: dict[str, list[Parsed]]) -> list[Parsed]:
    return [mail for box in parsed.values() for mail in box]


def attachments(message: EmailMessage) -> list[EmailMessage]:
    return [
        part
        for part in message.walk()
        if isinstance(part, EmailMessage) and part.get_content_disposition() == "attachment"
    ]


def pdfs_in(message: EmailMessage) -> list[bytes]:
    found = []
    for part in attachments(message):
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        if part.get_content_type() == "application/pdf":
            found.append(data)
        elif part.get_filename() == "IHE_XDM.ZIP":
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                found += [archive.read(n) for n in archive.namelist() if n.endswith(".PDF")]
    return found


def check_pdf(data: bytes) -> None:
    """Header, trailer, and every xref offset pointing at its object; stream lengths right."""
    assert data.startswith(b"%PDF-1.4\n")
    assert data.endswith(b"%%EOF\n")
    xref_at = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))  # type: ignore[union-attr]
    assert data[xref_at : xref_at + 5] == b"xref\n"
    header = re.match(rb"xref\n0 (\d+)\n", data[xref_at:])
    assert header is not None
    size = int(header.group(1))
    table = data[xref_at + header.end() : xref_at + header.end() + 20 * size]
    entries = [table[i : i + 20] for i in range(0, len(table), 20)]
    assert entries[0] == b"0000000000 65535 f \n"
    for number, entry in enumerate(entries[1:], start=1):
        assert re.fullmatch(rb"\d{10} 00000 n \n", entry), entry
        offset = int(entry[:10])
        assert data[offset:].startswith(b"%d 0 obj\n" % number)
    assert re.search(rb"trailer\n<< /Size %d /Root 1 0 R" % size, data)
    for match in re.finditer(rb"<< /Length (\d+) >>\nstream\n", data):
        end = match.end() + int(match.group(1))
        assert data[end : end + 10] == b"\nendstream"


# -- volume and determinism -------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 2, 7, 57, 400])
def test_inbox_holds_exactly_count_messages(count: int) -> None:
    folders = Counter(folder for folder, *_ in generate(count=count))
    assert folders["INBOX"] == count
    assert sum(folders.values()) - count <= 2 + 40 + 40 + 20


@pytest.mark.parametrize(
    "owner",
    [
        "resultats@labo-demo.mssante.test",
        "julien.faure@radiologie-demo.mssante.test",
        "t1-ab12cd@medecin.mssante.test",
        "anyone@example.org",
    ],
)
def test_any_owner_gets_a_valid_mailbox(owner: str) -> None:
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    mail = list(demo_messages(owner, 30, now=summer))
    assert sum(folder == "INBOX" for folder, *_ in mail) == 30
    for *_, raw in mail:
        message = parse(raw)
        assert all(not part.defects for part in message.walk())
        assert parsedate_to_datetime(message["Date"]).utcoffset() == timedelta(hours=2)


def test_no_messages_for_an_empty_mailbox() -> None:
    assert generate(count=0) == []


def test_other_folders_are_small_and_capped(gp_mail: list[Parsed]) -> None:
    folders = Counter(folder for folder, *_ in gp_mail)
    assert folders["Drafts"] == 2
    assert 0 < folders["Sent"] <= 40
    assert 0 < folders["Archive"] <= 40
    assert 0 < folders["Trash"] <= 20


def test_same_seed_same_bytes_other_seed_other_mail() -> None:
    first = generate(count=120)
    assert first == generate(count=120)
    assert first != generate(count=120, seed=2)


@pytest.mark.slow
def test_ten_thousand_messages_are_quick_and_compact() -> None:
    started = time.perf_counter()
    sizes = [
        len(raw) for folder, _, _, raw in demo_messages(GP, 10_000, now=NOW) if folder == "INBOX"
    ]
    elapsed = time.perf_counter() - started
    assert len(sizes) == 10_000
    assert elapsed < 20, f"{elapsed:.1f} s"
    assert sum(sizes) < 100_000_000
    assert sum(size > 100_000 for size in sizes) <= 2


# -- wire format ------------------------------------------------------------------------------


def test_crlf_only_and_short_lines(every_message: list[Parsed]) -> None:
    for *_, raw, _ in every_message:
        assert b"\r" not in raw.replace(b"\r\n", b"")
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert raw.endswith(b"\r\n")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998


def test_every_message_parses_without_defects(every_message: list[Parsed]) -> None:
    for *_, raw, message in every_message:
        for part in message.walk():
            assert not part.defects, (part.defects, raw[:600])
        for name in message:
            assert not getattr(message[name], "defects", ()), (name, message[name])
        assert message["Message-ID"] and message["Date"] and message["From"]
        for part in message.walk():
            if part.get_content_maintype() == "text" and not part.is_multipart():
                part.get_content()  # decodes with the declared charset


def test_only_fictional_domains(every_message: list[Parsed]) -> None:
    for *_, message in every_message:
        for field in ("From", "To", "Cc", "Disposition-Notification-To"):
            for address in getattr(message[field], "addresses", ()):
                assert address.domain.endswith(".test"), address


def test_dates_follow_paris_time_and_end_near_now(gp_mail: list[Parsed]) -> None:
    inbox_dates = []
    for folder, _, internal, _, message in gp_mail:
        date = parsedate_to_datetime(message["Date"])
        assert date.utcoffset() == paris_time(date).utcoffset()
        assert date <= NOW and internal >= date
        assert internal.utcoffset() in (timedelta(hours=1), timedelta(hours=2))
        if folder == "INBOX":
            inbox_dates.append(date)
    assert NOW - max(inbox_dates) < timedelta(hours=1)
    assert NOW - min(inbox_dates) > timedelta(days=20)


def test_older_mail_for_bigger_mailboxes() -> None:
    def oldest(count: int) -> datetime:
        return min(
            internal for folder, _, internal, _ in generate(count=count) if folder == "INBOX"
        )

    assert oldest(3000) < oldest(300)


def test_paris_offsets_switch_on_the_last_sundays() -> None:
    assert paris_time(datetime(2026, 3, 29, 0, 59, tzinfo=UTC)).utcoffset() == timedelta(hours=1)
    assert paris_time(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)).utcoffset() == timedelta(hours=2)
    assert paris_time(datetime(2026, 10, 25, 0, 59, tzinfo=UTC)).utcoffset() == timedelta(hours=2)
    assert paris_time(datetime(2026, 10, 25, 1, 0, tzinfo=UTC)).utcoffset() == timedelta(hours=1)


# -- flags --------------------------------------------------------------------------------------


def test_flags_per_folder(gp_mail: list[Parsed]) -> None:
    inbox = sorted(
        (internal, flags) for folder, flags, internal, *_ in gp_mail if folder == "INBOX"
    )
    newest = inbox[-40:]
    assert sum("\\Seen" not in flags for _, flags in newest) >= 30
    older = inbox[:-40]
    assert sum("\\Seen" in flags for _, flags in older) >= 0.97 * len(older)
    everything = Counter(flag for _, flags in inbox for flag in flags)
    assert everything["\\Flagged"] > 0 and everything["\\Answered"] > 0
    for folder, flags, *_ in gp_mail:
        if folder == "Drafts":
            assert set(flags) == {"\\Draft", "\\Seen"}
        elif folder == "Sent":
            assert "\\Seen" in flags


# -- threads and notifications ----------------------------------------------------------------


def test_replies_point_to_messages_of_the_set(parsed: dict[str, list[Parsed]]) -> None:
    for box in parsed.values():
        messages = [message for *_, message in box]
        ids = {str(m["Message-ID"]) for m in messages}
        assert len(ids) == len(messages)
        replies = [m for m in messages if m["In-Reply-To"]]
        assert replies
        for reply in replies:
            assert str(reply["In-Reply-To"]) in ids
            assert set(str(reply["References"]).split()) <= ids
            assert str(reply["Subject"]).startswith("RE: ")


def test_threads_go_back_and_forth_between_inbox_and_sent(gp_mail: list[Parsed]) -> None:
    folder_of = {str(message["Message-ID"]): folder for folder, *_, message in gp_mail}
    depths = [
        len(str(message["References"]).split()) for *_, message in gp_mail if message["References"]
    ]
    assert max(depths) >= 3
    answered_from_sent = [
        folder_of[str(message["In-Reply-To"])]
        for folder, *_, message in gp_mail
        if folder == "INBOX" and message["In-Reply-To"]
    ]
    assert "Sent" in answered_from_sent and "INBOX" in answered_from_sent


def test_dsn_and_mdn_are_reports(gp_mail: list[Parsed]) -> None:
    sent = {str(m["Message-ID"]): m for folder, *_, m in gp_mail if folder == "Sent"}
    kinds: Counter[str] = Counter()
    for *_, message in gp_mail:
        if message.get_content_type() != "multipart/report":
            continue
        report_type = message.get_param("report-type")
        kinds[str(report_type)] += 1
        parts = list(message.iter_parts())
        assert parts[0].get_content_type() == "text/plain"
        if report_type == "delivery-status":
            assert parts[1].get_content_type() == "message/delivery-status"
            assert "Action: failed" in parts[1].as_string()
        else:
            assert report_type == "disposition-notification"
            notification = parts[1].get_payload()[0]
            original = sent[notification["Original-Message-ID"]]
            assert original["Disposition-Notification-To"]
    assert kinds["delivery-status"] >= 1 and kinds["disposition-notification"] >= 1


def test_some_senders_ask_for_read_receipts(gp_mail: list[Parsed]) -> None:
    asked = [folder for folder, *_, m in gp_mail if m["Disposition-Notification-To"]]
    assert "INBOX" in asked and "Sent" in asked


# -- attachments --------------------------------------------------------------------------------


def test_pdfs_are_valid(every_message: list[Parsed]) -> None:
    count = 0
    for *_, message in every_message:
        for pdf in pdfs_in(message):
            check_pdf(pdf)
            count += 1
    assert count > 100


def test_make_pdf_handles_accents_and_pages() -> None:
    lines = ["# Compte rendu — été", "Œdème (modéré) \\ ≥ 2", *[f"ligne {i}" for i in range(200)]]
    pdf = make_pdf(lines, title="Essai é", created=NOW)
    check_pdf(pdf)
    assert b"/Count 4" in pdf
    assert "(Compte rendu \x97 \xe9t\xe9)".encode("latin-1") in pdf
    assert b"(\x8cd\xe8me \\(mod\xe9r\xe9\\) \\\\ >= 2)" in pdf


def test_xdm_messages(gp_mail: list[Parsed]) -> None:
    seen = 0
    for *_, message in gp_mail:
        if not str(message["Subject"]).startswith(XDM_SUBJECT_PREFIX):
            continue
        seen += 1
        assert re.fullmatch(r"XDM/1\.0/DDM\+.+ \S+ \S+ \d\d/\d\d/\d{4}", str(message["Subject"]))
        assert message["X-MSS-INS"] == "O"
        (archive_part,) = [p for p in attachments(message) if p.get_filename() == "IHE_XDM.ZIP"]
        data = archive_part.get_payload(decode=True)
        assert isinstance(data, bytes)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            assert archive.testzip() is None
            names = set(archive.namelist())
            assert {"INDEX.HTM", "README.TXT", "IHE_XDM/SUBSET01/METADATA.XML"} <= names
            # Our own generated XML, not untrusted input.
            metadata = ET.fromstring(archive.read("IHE_XDM/SUBSET01/METADATA.XML"))  # noqa: S314
            cda = ET.fromstring(archive.read("IHE_XDM/SUBSET01/DOC0001.XML"))  # noqa: S314
            assert "IHE_XDM/SUBSET01/DOC0002.PDF" in names
        rim = "{urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0}"
        assert metadata.find(f".//{rim}RegistryPackage") is not None
        patient_ids = [e.get("value", "") for e in metadata.iter(f"{rim}ExternalIdentifier")]
        assert any(f"&{INS_TEST_OID}&ISO" in value for value in patient_ids)
        code = cda.find("{urn:hl7-org:v3}code")
        assert code is not None and code.get("code") == message["X-MSS-CODECDA"]
    assert seen >= 5


def test_make_xdm_zip_is_stable() -> None:
    entries = [("INDEX.HTM", b"<html></html>"), ("README.TXT", b"demo")]
    assert make_xdm_zip(entries, NOW) == make_xdm_zip(entries, NOW)


def test_realistic_variety(gp_mail: list[Parsed]) -> None:
    found: Counter[str] = Counter()
    for *_, raw, message in gp_mail:
        head = raw.split(b"\r\n\r\n", 1)[0]
        found["encoded subject"] += b"Subject: =?" in head or b" =?UTF-8?" in head
        found["html"] += any(p.get_content_type() == "text/html" for p in message.walk())
        found["text only"] += message.get_content_type() == "text/plain"
        found["latin-1"] += any(p.get_content_charset() == "iso-8859-1" for p in message.walk())
        found["cid image"] += any(p["Content-ID"] is not None for p in message.walk())
        found["rfc2231"] += b"filename*=UTF-8''" in raw or b"filename*0*=UTF-8''" in raw
        found["encoded filename"] += b'filename="=?UTF-8?' in raw
        names = [p.get_filename() or "" for p in attachments(message)]
        found["accented filename"] += any(not name.isascii() for name in names)
    for feature in (
        "encoded subject",
        "html",
        "text only",
        "latin-1",
        "cid image",
        "rfc2231",
        "encoded filename",
        "accented filename",
    ):
        assert found[feature] > 0, feature


def test_messages_are_small_but_for_one_or_two(mailboxes: dict[str, list[Mail]]) -> None:
    for box in mailboxes.values():
        sizes = sorted(len(raw) for *_, raw in box)
        assert sum(size > 100_000 for size in sizes) <= 2
        assert sizes[len(sizes) // 2] < 10_000


def test_demo_users() -> None:
    users = {user.address: user for user in demo_users()}
    assert set(users) == {
        GP,
        "paul.durand@infirmier.mssante.test",
        "secretariat.cardio@ch-demo.mssante.test",
    }
    assert users[GP].display_name == "Dr Claire Martin"
    assert users[GP].message_count_default == 400
    assert all(user.password.startswith("demo-") for user in users.values())

"""Realistic, deterministic demo mail for the local demo stack.

:func:`demo_messages` yields the content of one mailbox (INBOX, Sent, Drafts, Archive, Trash) as
raw RFC 5322 messages with CRLF line endings, ready for IMAP ``APPEND``: clinical correspondence
between French health professionals (discharge letters with PDF, lab results, imaging reports,
IHE XDM archives, threaded referrals, delivery and read notifications).

Everything is fictional. Patients carry obviously fake names (FICTIF, SPECIMEN, MAQUETTE…) and
identifiers under the *test* INS OID; professionals and establishments live under ``*.test``
domains; phone numbers are in the 01 99 00 range that ARCEP reserves for fiction.

The passwords returned by :func:`demo_users` exist only in the local demo stack: they protect
nothing real and must never be used anywhere else.

Only the standard library is used, so the generator runs before any dependency is installed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import html
import random
import struct
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from email.utils import format_datetime
from io import BytesIO
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

__all__ = [
    "INS_TEST_OID",
    "XDM_SUBJECT_PREFIX",
    "DemoUser",
    "demo_messages",
    "demo_users",
    "make_pdf",
    "make_xdm_zip",
    "paris_time",
]

CRLF = "\r\n"
INS_TEST_OID = "1.2.250.1.213.1.4.10"
XDM_SUBJECT_PREFIX = "XDM/1.0/DDM+"
LOINC_OID = "2.16.840.1.113883.6.1"

_UTC = UTC
_CET = timezone(timedelta(hours=1))
_CEST = timezone(timedelta(hours=2))

# ---------------------------------------------------------------------------------------------
# Demo users
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoUser:
    """A mailbox of the local demo stack (the password is demo-only)."""

    address: str
    password: str
    display_name: str
    role: str
    message_count_default: int


def demo_users() -> list[DemoUser]:
    """The three demo mailboxes: a GP (PER), a home-visit nurse (PER) and a secretariat (ORG)."""
    return [
        DemoUser(
            "dr.martin@medecin.mssante.test",
            "demo-martin-2026",
            "Dr Claire Martin",
            "médecin généraliste",
            400,
        ),
        DemoUser(
            "paul.durand@infirmier.mssante.test",
            "demo-durand-2026",
            "Paul Durand",
            "infirmier à domicile",
            60,
        ),
        DemoUser(
            "secretariat.cardio@ch-demo.mssante.test",
            "demo-cardio-2026",
            "Secrétariat de cardiologie — CH Démo",
            "secrétariat de cardiologie (BAL organisationnelle)",
            80,
        ),
    ]


# ---------------------------------------------------------------------------------------------
# People and patients
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Person:
    name: str
    address: str
    kind: str  # gp, specialist, service, urgences, lab, biologist, radiology, nurse, ...
    specialty: str = ""
    org: str = ""
    title: str = ""
    female: bool = False

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2]

    @property
    def is_doctor(self) -> bool:
        return self.name.startswith("Dr ")

    @property
    def given_family(self) -> tuple[str, str]:
        """(« Sophie », « Lefèvre ») from « Dr Sophie Lefèvre, pneumologue »."""
        given, _, family = self.name.removeprefix("Dr ").split(",")[0].partition(" ")
        return given, family

    @property
    def in_hospital(self) -> bool:
        return self.org in (_CHU, _CH)

    @property
    def greeting(self) -> str:
        """How a colleague opens a letter to this person."""
        if self.is_doctor:
            return "Chère consœur," if self.female else "Cher confrère,"
        if self.kind == "nurse" and " " in self.name and "Cabinet" not in self.name:
            return f"Bonjour {self.name.split()[0]},"
        return "Madame, Monsieur,"


def _p(name: str, address: str, kind: str, specialty: str = "", org: str = "", title: str = "",
       female: bool = False) -> _Person:
    return _Person(name, address, kind, specialty, org, title, female)


_CHU = "CHU Démo"
_CH = "CH Démo"
_PEOPLE: tuple[_Person, ...] = (
    _p("Dr Sophie Lefèvre", "sophie.lefevre@chu-demo.mssante.test", "specialist", "pneumologie",
       _CHU, "Pneumologue", female=True),
    _p("Dr Antoine Moreau", "antoine.moreau@ch-demo.mssante.test", "specialist", "cardiologie",
       _CH, "Cardiologue"),
    _p("Dr Karim Benali", "karim.benali@chu-demo.mssante.test", "specialist", "orthopédie", _CHU,
       "Chirurgien orthopédiste"),
    _p("Dr Élodie Garnier", "elodie.garnier@chu-demo.mssante.test", "specialist", "neurologie",
       _CHU, "Neurologue", female=True),
    _p("Dr Hélène Rousseau", "helene.rousseau@ch-demo.mssante.test", "specialist", "gériatrie",
       _CH, "Gériatre", female=True),
    _p("Dr Isabelle Petit", "isabelle.petit@medecin.mssante.test", "specialist", "endocrinologie",
       "Cabinet d'endocrinologie du Parc", "Endocrinologue", female=True),
    _p("Dr Thomas Girard", "thomas.girard@medecin.mssante.test", "specialist", "dermatologie",
       "Cabinet de dermatologie Démo", "Dermatologue"),
    _p("Service de cardiologie — CHU Démo", "cardiologie@chu-demo.mssante.test", "service",
       "cardiologie", _CHU),
    _p("Service de pneumologie — CHU Démo", "pneumologie@chu-demo.mssante.test", "service",
       "pneumologie", _CHU),
    _p("Service de médecine interne — CHU Démo", "medecine-interne@chu-demo.mssante.test",
       "service", "gériatrie", _CHU),
    _p("Service de gériatrie — CH Démo", "geriatrie@ch-demo.mssante.test", "service",
       "gériatrie", _CH),
    _p("Chirurgie orthopédique — CHU Démo", "orthopedie@chu-demo.mssante.test", "service",
       "orthopédie", _CHU),
    _p("Service des urgences — CH Démo", "urgences@ch-demo.mssante.test", "urgences", "urgences",
       _CH),
    _p("Laboratoire BioDémo", "resultats@labo-demo.mssante.test", "lab", "biologie",
       "Laboratoire BioDémo"),
    _p("Dr Nathalie Roux, biologiste", "nathalie.roux@labo-demo.mssante.test", "biologist",
       "biologie", "Laboratoire BioDémo", "Biologiste médicale", female=True),
    _p("Centre d'imagerie Démo", "comptes-rendus@radiologie-demo.mssante.test", "radiology",
       "imagerie", "Centre d'imagerie Démo"),
    _p("Dr Julien Faure", "julien.faure@radiologie-demo.mssante.test", "radiologist", "imagerie",
       "Centre d'imagerie Démo", "Radiologue"),
    _p("Dr Claire Martin", "dr.martin@medecin.mssante.test", "gp", "médecine générale",
       "Cabinet médical des Lilas", "Médecin généraliste", female=True),
    _p("Dr Luc Bernard", "luc.bernard@medecin.mssante.test", "gp", "médecine générale",
       "Maison de santé Démo", "Médecin généraliste"),
    _p("Dr Amina Haddad", "amina.haddad@medecin.mssante.test", "gp", "médecine générale",
       "Maison de santé Démo", "Médecin généraliste", female=True),
    _p("Paul Durand", "paul.durand@infirmier.mssante.test", "nurse", "soins infirmiers",
       "Cabinet infirmier des Tilleuls", "Infirmier diplômé d'État"),
    _p("Marie Lambert", "marie.lambert@infirmier.mssante.test", "nurse", "soins infirmiers",
       "Cabinet infirmier des Tilleuls", "Infirmière diplômée d'État", female=True),
    _p("Cabinet infirmier des Tilleuls", "cabinet.tilleuls@infirmier.mssante.test", "nurse",
       "soins infirmiers", "Cabinet infirmier des Tilleuls"),
    _p("Secrétariat de cardiologie — CH Démo", "secretariat.cardio@ch-demo.mssante.test",
       "secretariat", "cardiologie", _CH),
    _p("CPTS Démo — coordination", "coordination@cpts-demo.mssante.test", "cpts", "",
       "CPTS Démo"),
)

# Each operator's software, as the X-Mailer header of what it sends shows it.
_MAILERS = {
    "chu-demo.mssante.test": "SIH-Demo Messagerie 5.2",
    "ch-demo.mssante.test": "SIH-Demo Messagerie 5.2",
    "labo-demo.mssante.test": "BioDemo Connect 2.4",
    "radiologie-demo.mssante.test": "RIS-Demo 11.0",
    "medecin.mssante.test": "Webmail MSS Demo 3.1",
    "infirmier.mssante.test": "Soins-Demo mobile 1.8",
    "cpts-demo.mssante.test": "Webmail MSS Demo 3.1",
}

# Operators whose software still writes ISO-8859-1 and Q-encoded headers, as older ones do.
_LATIN1_DOMAINS = frozenset({"ch-demo.mssante.test"})
_Q_ENCODING_DOMAINS = frozenset({"chu-demo.mssante.test", "ch-demo.mssante.test"})

_FAKE_FAMILIES = (
    "FICTIF", "DEMO", "EXEMPLE", "SPECIMEN", "TESTEUR", "MAQUETTE", "ESSAI", "FACTICE", "MODÈLE",
    "PROTOTYPE", "SIMULATION", "FANTÔME", "IMAGINAIRE", "TÉMOIN", "ÉCHANTILLON", "PLACEBO",
    "BROUILLON", "FICTION",
)
_FEMALE_GIVEN = (
    "Gisèle", "Jeanne", "Simone", "Odette", "Hélène", "Léa", "Chloé", "Zoé", "Inès", "Françoise",
    "Agnès", "Béatrice", "Noémie", "Maëlle",
)
_MALE_GIVEN = (
    "Lucien", "Marcel", "Henri", "René", "Théo", "Jérôme", "François", "Noël", "Loïc", "Gaël",
    "Benoît", "Joël", "André", "Raphaël",
)


@dataclass(frozen=True)
class _Patient:
    family: str
    given: str
    female: bool
    birth: date
    ins: str

    @property
    def civility(self) -> str:
        return "Mme" if self.female else "M."

    @property
    def label(self) -> str:
        return f"{self.family} {self.given}"

    @property
    def who(self) -> str:
        return f"{self.civility} {self.label}"

    @property
    def e(self) -> str:
        """Feminine agreement suffix: « hospitalisé(e) »."""
        return "e" if self.female else ""

    @property
    def pronoun(self) -> str:
        return "la" if self.female else "le"

    def age(self, on: date) -> int:
        return on.year - self.birth.year - ((on.month, on.day) < (self.birth.month, self.birth.day))


def _fake_ins(rng: random.Random, female: bool, birth: date) -> str:
    """A NIR-shaped number (sex, year, month, « born abroad » 99, key) for the *test* INS OID."""
    body = f"{2 if female else 1}{birth.year % 100:02d}{birth.month:02d}99{rng.randrange(1000):03d}"
    body += f"{rng.randrange(1000):03d}"
    return body + f"{97 - int(body) % 97:02d}"


def _make_patient(rng: random.Random, today: date) -> _Patient:
    female = rng.random() < 0.55
    given = rng.choice(_FEMALE_GIVEN if female else _MALE_GIVEN)
    # General practice sees many older patients: skew ages towards 60-90.
    age = min(98, max(2, int(rng.triangular(5, 97, 78))))
    birth = today - timedelta(days=age * 365 + rng.randrange(365))
    return _Patient(rng.choice(_FAKE_FAMILIES), given, female, birth,
                    _fake_ins(rng, female, birth))


# ---------------------------------------------------------------------------------------------
# Time: Europe/Paris offsets without the tz database (it may be missing in slim containers)
# ---------------------------------------------------------------------------------------------


def _last_sunday_1h_utc(year: int, month: int) -> datetime:
    last_day = datetime(year, month + 1, 1, 1, tzinfo=_UTC) - timedelta(days=1)
    return last_day - timedelta(days=(last_day.weekday() - 6) % 7)


def paris_time(moment: datetime) -> datetime:
    """``moment`` in Europe/Paris time: CEST between the last Sundays of March and October."""
    utc = moment.astimezone(_UTC)
    summer = _last_sunday_1h_utc(utc.year, 3) <= utc < _last_sunday_1h_utc(utc.year, 10)
    return utc.astimezone(_CEST if summer else _CET)


def _from_paris(day: date, hour: int, minute: int, second: int) -> datetime:
    naive = datetime(day.year, day.month, day.day, hour, minute, second)
    guess = naive.replace(tzinfo=_UTC) - timedelta(hours=1)
    offset = paris_time(guess).utcoffset() or timedelta(hours=1)
    return (naive - offset).replace(tzinfo=_UTC)


def _fr_date(moment: datetime | date) -> str:
    if isinstance(moment, datetime):
        moment = paris_time(moment)
    return f"{moment:%d/%m/%Y}"


_JOURS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
_MOIS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
         "octobre", "novembre", "décembre")


def _fr_long_date(moment: datetime) -> str:
    local = paris_time(moment)
    return f"{_JOURS[local.weekday()]} {local.day} {_MOIS[local.month - 1]} {local.year}"


# ---------------------------------------------------------------------------------------------
# Header encoding (RFC 2047, RFC 2231, RFC 5322 folding)
# ---------------------------------------------------------------------------------------------


def _chunks_by_bytes(text: str, limit: int, size: Callable[[str], int]) -> list[str]:
    """Split ``text`` without cutting a character so that each piece encodes within ``limit``."""
    pieces: list[str] = []
    current = ""
    for char in text:
        if current and size(current + char) > limit:
            pieces.append(current)
            current = char
        else:
            current += char
    pieces.append(current)
    return pieces


def _q_encode(text: str) -> str:
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char == " ":
            out.append("_")
        elif char.isascii() and (char.isalnum() or char in "!*+-/"):
            out.append(char)
        else:
            out.append(f"={byte:02X}")
    return "".join(out)


def _encoded_words(text: str, q: bool = False) -> str:
    """Encode ``text`` as RFC 2047 encoded words, each at most 75 characters long."""
    if q:
        parts = _chunks_by_bytes(text, 60, lambda s: len(_q_encode(s)))
        return " ".join(f"=?UTF-8?Q?{_q_encode(p)}?=" for p in parts)
    parts = _chunks_by_bytes(text, 45, lambda s: len(s.encode("utf-8")))
    return " ".join(f"=?UTF-8?B?{base64.b64encode(p.encode()).decode()}?=" for p in parts)


def _encode_text(text: str, q: bool = False) -> str:
    """Header text with only the runs of non-ASCII words encoded, as mail clients do.

    Spaces between two encoded words vanish when decoding, so a run of non-ASCII words is
    encoded together with the spaces inside it.
    """
    if text.isascii():
        return text
    words = text.split(" ")
    out: list[str] = []
    run: list[str] = []
    for word in [*words, None]:
        if word is not None and not word.isascii():
            run.append(word)
            continue
        if run:
            out.append(_encoded_words(" ".join(run), q))
            run = []
        if word is not None:
            out.append(word)
    return " ".join(out)


_SPECIALS = set('()<>[]:;@\\,."')


def _format_address(person: _Person, q: bool = False) -> str:
    name = person.name
    if not name.isascii():
        # A name with specials cannot stay a bare phrase: encode it whole (commas included).
        shown = _encoded_words(name, q) if _SPECIALS & set(name) else _encode_text(name, q)
        return f"{shown} <{person.address}>"
    if _SPECIALS & set(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{person.address}>'
    return f"{name} <{person.address}>"


def _fold(name: str, value: str, width: int = 76) -> str:
    """Fold a header at spaces so that its lines stay within ``width`` characters."""
    tokens = value.split(" ")
    lines = [f"{name}: {tokens[0]}"]
    for token in tokens[1:]:
        if len(lines[-1]) + 1 + len(token) > width:
            lines.append(" " + token)
        else:
            lines[-1] += " " + token
    return CRLF.join(lines)


def _address_list(people: Sequence[_Person], q: bool = False) -> str:
    return ", ".join(_format_address(p, q) for p in people)


def _filename_params(filename: str, style: str) -> tuple[str, str]:
    """Content-Type ``name`` and Content-Disposition ``filename`` parameters for a file name.

    ``style`` is ``rfc2231`` (Thunderbird: ``filename*=`` with an encoded-word ``name`` for old
    readers) or ``rfc2047`` (what many webmails and Outlook send: encoded words in quotes).
    """
    if filename.isascii():
        quoted = '"' + filename.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return f"name={quoted}", f"filename={quoted}"
    encoded = '"' + _encoded_words(filename) + '"'
    if style == "rfc2047":
        return f"name={encoded}", f"filename={encoded}"
    value = quote(filename, safe="-._~")
    if len(value) <= 60:
        return f"name={encoded}", f"filename*=UTF-8''{value}"
    # Long names are split into RFC 2231 continuations, never in the middle of a %XX escape.
    pieces = _split_percent(value, 60)
    params = [f"filename*{i}*={'UTF-8' + chr(39) * 2 if i == 0 else ''}{piece}"
              for i, piece in enumerate(pieces)]
    return f"name={encoded}", (";" + CRLF + " ").join(params)


def _split_percent(value: str, limit: int) -> list[str]:
    pieces: list[str] = []
    current = ""
    i = 0
    while i < len(value):
        token = value[i:i + 3] if value[i] == "%" else value[i]
        if len(current) + len(token) > limit:
            pieces.append(current)
            current = ""
        current += token
        i += len(token)
    pieces.append(current)
    return pieces


# ---------------------------------------------------------------------------------------------
# MIME assembly, by hand: faster than email.message and byte-for-byte under our control
# ---------------------------------------------------------------------------------------------


@dataclass
class _Part:
    headers: list[str]
    body: bytes  # transfer-encoded, CRLF line endings, ends with CRLF

    def to_bytes(self) -> bytes:
        return (CRLF.join(self.headers) + CRLF + CRLF).encode("ascii") + self.body


def _crlf(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _text_part(text: str, subtype: str = "plain", charset: str = "utf-8",
               cte: str = "quoted-printable") -> _Part:
    data = text.encode(charset)
    if cte == "8bit" and max(map(len, data.split(b"\n"))) > 900:
        cte = "quoted-printable"  # RFC 5322 caps lines at 998 octets; only QP can fold them
    if cte == "quoted-printable":
        body = _crlf(binascii.b2a_qp(data.replace(b"\r\n", b"\n"), istext=True))
    elif cte == "base64":
        body = _b64(data)
    else:
        body = _crlf(data)
    headers = [f"Content-Type: text/{subtype}; charset={charset}",
               f"Content-Transfer-Encoding: {cte}"]
    return _Part(headers, body)


def _boundary(rng: random.Random) -> str:
    # "=_" can occur neither in base64 nor in quoted-printable text, so it never collides.
    return f"=_mss_{rng.getrandbits(64):016x}"


def _multipart(subtype: str, parts: Sequence[_Part], rng: random.Random,
               params: str = "") -> _Part:
    boundary = _boundary(rng)
    chunks = [b"This is a multi-part message in MIME format.\r\n"] if subtype == "mixed" else []
    for part in parts:
        chunks += [f"--{boundary}\r\n".encode(), part.to_bytes()]
    chunks.append(f"--{boundary}--\r\n".encode())
    header = f'Content-Type: multipart/{subtype};{params}{CRLF} boundary="{boundary}"'
    return _Part([header], b"".join(chunks))


@dataclass
class _Attachment:
    filename: str
    content_type: str
    data: bytes
    cid: str = ""  # set for inline images referenced from the HTML
    description: str = ""


def _attachment_part(att: _Attachment, style: str) -> _Part:
    name, filename = _filename_params(att.filename, style)
    disposition = "inline" if att.cid else "attachment"
    headers = [
        f"Content-Type: {att.content_type};{CRLF} {name}",
        "Content-Transfer-Encoding: base64",
        f"Content-Disposition: {disposition};{CRLF} {filename}",
    ]
    if att.cid:
        headers.append(f"Content-ID: <{att.cid}>")
    if att.description:
        headers.append(_fold("Content-Description", _encode_text(att.description)))
    return _Part(headers, _b64(att.data))


@dataclass
class _Content:
    subject: str
    text: str
    html: str = ""
    attachments: list[_Attachment] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    charset: str = "utf-8"
    cte: str = "quoted-printable"


def _body_part(content: _Content, rng: random.Random) -> _Part:
    """text, or text+HTML alternative; inline images make the HTML a multipart/related."""
    charset = content.charset
    text = _text_part(content.text, charset=charset, cte=content.cte)
    if not content.html:
        return text
    html_part = _text_part(content.html, "html", charset, content.cte)
    inline = [a for a in content.attachments if a.cid]
    if inline:
        related = [html_part, *(_attachment_part(a, "rfc2231") for a in inline)]
        html_part = _multipart("related", related, rng, ' type="text/html";')
    return _multipart("alternative", [text, html_part], rng)


def _assemble(content: _Content, rng: random.Random) -> _Part:
    body = _body_part(content, rng)
    files = [a for a in content.attachments if not a.cid]
    if not files:
        return body
    style = "rfc2047" if rng.random() < 0.3 else "rfc2231"
    return _multipart("mixed", [body, *(_attachment_part(a, style) for a in files)], rng)


def _html_from_text(text: str, title: str = "", logo_cid: str = "") -> str:
    """A light HTML rendering of a letter, as hospital software and webmails produce."""
    out = ["<!DOCTYPE html>", '<html lang="fr"><head><meta charset="utf-8">',
           f"<title>{html.escape(title)}</title></head>",
           '<body style="font-family: Arial, sans-serif; font-size: 14px; color: #222;">']
    if logo_cid:
        out.append(f'<p><img src="cid:{logo_cid}" alt="Logo" width="48" height="48"></p>')
    for paragraph in text.split("\n\n"):
        lines = paragraph.split("\n")
        if all(line.startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
                       + "</ul>")
            continue
        for quoted, block in _quote_blocks(lines):
            joined = "<br>\n".join(html.escape(line) for line in block)
            out.append(f'<blockquote style="border-left: 2px solid #99a; margin: 0; '
                       f'padding-left: 8px; color: #555;">{joined}</blockquote>' if quoted
                       else f"<p>{joined}</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _quote_blocks(lines: Sequence[str]) -> list[tuple[bool, list[str]]]:
    """Consecutive lines grouped by whether they quote (``>``), one quoting level removed."""
    blocks: list[tuple[bool, list[str]]] = []
    for line in lines:
        quoted = line.startswith(">")
        if not blocks or blocks[-1][0] != quoted:
            blocks.append((quoted, []))
        blocks[-1][1].append(line[1:].removeprefix(" ") if quoted else line)
    return blocks


# ---------------------------------------------------------------------------------------------
# PDF: a minimal PDF 1.4 (Helvetica, WinAnsiEncoding), one or more pages of text
# ---------------------------------------------------------------------------------------------

# Characters WinAnsiEncoding lacks, replaced by what a printed letter would show.
_PDF_SUBSTITUTES = str.maketrans({"≥": ">=", "≤": "<=", "→": "->", "\u202f": " ", "²": "2"})
_PAGE_TOP = 800
_PAGE_BOTTOM = 50
_LEADING = 13
_STYLES = {"# ": (b"F2", 14, 70), "## ": (b"F2", 11, 85), "": (b"F1", 10, 98)}


def _pdf_string(text: str) -> bytes:
    data = text.translate(_PDF_SUBSTITUTES).encode("cp1252", errors="replace")
    return b"(" + data.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _wrap(line: str, width: int) -> list[str]:
    if len(line) <= width:
        return [line]
    out: list[str] = []
    current = ""
    for word in line.split(" "):
        if current and len(current) + 1 + len(word) > width:
            out.append(current)
            current = "    " + word if line.startswith("- ") else word
        else:
            current = f"{current} {word}" if current else word
    out.append(current)
    return out


def _layout(lines: Sequence[str]) -> list[tuple[bytes, int, bytes]]:
    """(font, size, PDF string) per printed line, wrapped to the page width."""
    printed: list[tuple[bytes, int, bytes]] = []
    for line in lines:
        prefix = "## " if line.startswith("## ") else "# " if line.startswith("# ") else ""
        font, size, width = _STYLES[prefix]
        for piece in _wrap(line[len(prefix):], width):
            printed.append((font, size, _pdf_string(piece)))
    return printed


def _page_streams(printed: list[tuple[bytes, int, bytes]]) -> list[bytes]:
    per_page = (_PAGE_TOP - _PAGE_BOTTOM) // _LEADING
    streams = []
    for start in range(0, max(len(printed), 1), per_page):
        ops = [b"BT", b"%d TL" % _LEADING, b"50 %d Td" % _PAGE_TOP]
        current: tuple[bytes, int] | None = None
        for font, size, text in printed[start:start + per_page]:
            if (font, size) != current:
                ops.append(b"/%s %d Tf" % (font, size))
                current = (font, size)
            ops.append(text + b" Tj T*")
        ops.append(b"ET")
        streams.append(b"\n".join(ops))
    return streams


def _pdf_date(moment: datetime) -> bytes:
    local = paris_time(moment)
    hours = int((local.utcoffset() or timedelta()).total_seconds() // 3600)
    return b"(D:%s+%02d'00')" % (local.strftime("%Y%m%d%H%M%S").encode(), hours)


def _pdf_file(objects: Sequence[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:  # each entry is exactly 20 bytes, EOL included
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 5 0 R >>\n" % (len(objects) + 1)
    out += b"startxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def make_pdf(lines: Sequence[str], *, title: str, created: datetime) -> bytes:
    """A valid PDF 1.4 showing ``lines`` (``# `` and ``## `` prefixes print as headings)."""
    streams = _page_streams(_layout(lines))
    kids = b" ".join(b"%d 0 R" % (6 + 2 * i) for i in range(len(streams)))
    title_hex = ("FEFF" + title.encode("utf-16-be").hex().upper()).encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(streams)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold"
        b" /Encoding /WinAnsiEncoding >>",
        b"<< /Title <%s> /Producer (mss-webmail demo corpus) /CreationDate %s >>"
        % (title_hex, _pdf_date(created)),
    ]
    for i, stream in enumerate(streams):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources"
                       b" << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (7 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    return _pdf_file(objects)


# ---------------------------------------------------------------------------------------------
# PNG: a tiny logo for inline images, and one large « ultrasound » image
# ---------------------------------------------------------------------------------------------


def _png(width: int, height: int, color_type: int, rows: Sequence[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    raw = b"".join(b"\x00" + row for row in rows)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


@functools.cache
def _logo_png() -> bytes:
    """A 48×48 blue square with a white cross: the establishments' letterhead logo."""
    blue, white = b"\x1f\x4e\x8c", b"\xff\xff\xff"
    rows = []
    for y in range(48):
        row = b"".join(white if (18 <= x < 30 and 8 <= y < 40) or (18 <= y < 30 and 8 <= x < 40)
                       else blue for x in range(48))
        rows.append(row)
    return _png(48, 48, 2, rows)


def _ultrasound_png(rng: random.Random, width: int = 640, height: int = 480) -> bytes:
    """A grey speckled fan on black, as an ultrasound still: noise keeps it ~200 KB."""
    speckle = bytes.maketrans(bytes(range(256)), bytes(40 + b * 3 // 4 for b in range(256)))
    rows = []
    for y in range(height):
        half = int(40 + y * 0.55 * width / height)
        left, right = max(0, width // 2 - half), min(width, width // 2 + half)
        noise = rng.randbytes(right - left).translate(speckle) if y > 20 else b""
        rows.append(bytes(left) + noise + bytes(width - left - len(noise)))
    return _png(width, height, 0, rows)


# ---------------------------------------------------------------------------------------------
# IHE XDM archive: INDEX.HTM, README.TXT, IHE_XDM/SUBSET01/{METADATA.XML, documents}
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _DocType:
    code: str
    display: str
    label: str  # what goes in the XDM subject
    class_code: str
    class_display: str


_DOC_TYPES = {
    "crh": _DocType("11490-0", "Lettre de liaison à la sortie d'un établissement de soins",
                    "Lettre de liaison", "10", "Compte rendu"),
    "lab": _DocType("11502-2", "CR d'examens biologiques", "CR de biologie", "10",
                    "Compte rendu"),
    "radio": _DocType("18748-4", "CR d'imagerie médicale", "CR d'imagerie", "10",
                      "Compte rendu"),
    "consult": _DocType("11488-4", "CR de consultation", "CR de consultation", "10",
                        "Compte rendu"),
}


def _oid(rng: random.Random) -> str:
    # The 2.25 arc turns a random UUID into an OID: unique without any registration.
    return f"2.25.{rng.getrandbits(122)}"


def _fake_rpps(person: _Person) -> str:
    # Real RPPS numbers start with 10; « 899 » makes these obviously fictional.
    digest = hashlib.sha1(person.address.encode(), usedforsecurity=False).hexdigest()
    return "899" + str(int(digest[:12], 16))[:9]


def _cda_document(patient: _Patient, author: _Person, doc: _DocType, when: datetime,
                  sections: Sequence[tuple[str, str]], rng: random.Random) -> bytes:
    """A small CDA R2 document (structured body, narrative sections only)."""
    local = paris_time(when)
    stamp = local.strftime("%Y%m%d%H%M%S%z")
    given, family = author.given_family
    body = "".join(
        f"<component><section><title>{xml_escape(title)}</title>"
        f"<text><paragraph>{xml_escape(text)}</paragraph></text></section></component>"
        for title, text in sections)
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <realmCode code="FR"/>
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <templateId root="2.16.840.1.113883.2.8.2.1"/>
  <templateId root="1.2.250.1.213.1.1.1.1"/>
  <id root="{_oid(rng)}"/>
  <code code="{doc.code}" displayName="{xml_escape(doc.display)}" codeSystem="{LOINC_OID}" \
codeSystemName="LOINC"/>
  <title>{xml_escape(doc.display)}</title>
  <effectiveTime value="{stamp}"/>
  <confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>
  <languageCode code="fr-FR"/>
  <setId root="{_oid(rng)}"/>
  <versionNumber value="1"/>
  <recordTarget><patientRole>
    <id root="{INS_TEST_OID}" extension="{patient.ins}"/>
    <patient>
      <name><given>{xml_escape(patient.given)}</given>\
<family qualifier="BR">{xml_escape(patient.family)}</family></name>
      <administrativeGenderCode code="{"F" if patient.female else "M"}" \
codeSystem="2.16.840.1.113883.5.1"/>
      <birthTime value="{patient.birth:%Y%m%d}"/>
    </patient>
  </patientRole></recordTarget>
  <author><time value="{stamp}"/><assignedAuthor>
    <id root="1.2.250.1.71.4.2.1" extension="{_fake_rpps(author)}"/>
    <assignedPerson><name><prefix>Dr</prefix><given>{xml_escape(given)}</given>\
<family>{xml_escape(family)}</family></name></assignedPerson>
  </assignedAuthor></author>
  <custodian><assignedCustodian><representedCustodianOrganization>
    <id root="1.2.250.1.71.4.2.2" extension="{_fake_rpps(author)[:9]}"/>
    <name>{xml_escape(author.org)}</name>
  </representedCustodianOrganization></assignedCustodian></custodian>
  <component><structuredBody>{body}</structuredBody></component>
</ClinicalDocument>
"""
    return xml.encode("utf-8")


def _slot(name: str, *values: str) -> str:
    items = "".join(f"<rim:Value>{xml_escape(v)}</rim:Value>" for v in values)
    return f'<rim:Slot name="{name}"><rim:ValueList>{items}</rim:ValueList></rim:Slot>'


def _classification(scheme: str, target: str, ident: str, code: str, coding: str,
                    display: str) -> str:
    return (f'<rim:Classification classificationScheme="urn:uuid:{scheme}" '
            f'classifiedObject="{target}" id="{ident}" nodeRepresentation="{code}">'
            f"{_slot('codingScheme', coding)}"
            f'<rim:Name><rim:LocalizedString value="{xml_escape(display)}"/></rim:Name>'
            "</rim:Classification>")


def _xdm_metadata(patient: _Patient, author: _Person, doc: _DocType, when: datetime,
                  documents: Sequence[tuple[str, str, bytes]], rng: random.Random) -> bytes:
    """An ebRIM SubmitObjectsRequest: one SubmissionSet, one DocumentEntry per document."""
    pid = f"{patient.ins}^^^&amp;{INS_TEST_OID}&amp;ISO^NH"
    stamp = when.astimezone(_UTC).strftime("%Y%m%d%H%M%S")
    given, family = author.given_family
    author_xcn = (f"{_fake_rpps(author)}^{family.upper()}^{given}^^^^^^"
                  "&amp;1.2.250.1.71.4.2.1&amp;ISO^D^^^IDNPS")
    entries = []
    for i, (uri, mime, data) in enumerate(documents, start=1):
        ident = f"Document{i:02d}"
        entries.append(
            f'<rim:ExtrinsicObject id="{ident}" mimeType="{mime}" status='
            '"urn:oasis:names:tc:ebxml-regrep:StatusType:Approved" '
            'objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">'
            + _slot("creationTime", stamp) + _slot("languageCode", "fr-FR")
            + _slot("sourcePatientId", pid.replace("&amp;", "&"))
            + _slot("sourcePatientInfo", f"PID-5|{patient.family}^{patient.given}^^^^^L",
                    f"PID-7|{patient.birth:%Y%m%d}", f"PID-8|{'F' if patient.female else 'M'}")
            + _slot("size", str(len(data)))
            + _slot("hash", hashlib.sha1(data, usedforsecurity=False).hexdigest())
            + _slot("URI", uri)
            + f'<rim:Name><rim:LocalizedString value="{xml_escape(doc.display)}"/></rim:Name>'
            + f'<rim:Classification classificationScheme="urn:uuid:93606bcf-9494-43ec-9b4e-'
            f'a7748d1a838d" classifiedObject="{ident}" id="{ident}-author" '
            f'nodeRepresentation="">{_slot("authorPerson", author_xcn.replace("&amp;", "&"))}'
            f'{_slot("authorInstitution", author.org)}</rim:Classification>'
            + _classification("41a5887f-8865-4c09-adf7-e362475b143a", ident, f"{ident}-class",
                              doc.class_code, "1.2.250.1.213.1.1.4.1", doc.class_display)
            + _classification("f0306f51-975f-434e-a61c-c59651d33983", ident, f"{ident}-type",
                              doc.code, LOINC_OID, doc.display)
            + _classification("f4f85eac-e6cb-4883-b524-f2705394840f", ident, f"{ident}-conf",
                              "N", "2.16.840.1.113883.5.25", "Normal")
            + _classification("a09d5840-386c-46f2-b5ad-9c3699a4309d", ident, f"{ident}-format",
                              "urn:ihe:iti:xds-sd:pdf:2008" if mime == "application/pdf"
                              else "urn:asip:ci-sis:2010", "1.3.6.1.4.1.19376.1.2.3",
                              "Document")
            + f'<rim:ExternalIdentifier id="{ident}-pid" registryObject="{ident}" '
            f'identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" '
            f'value="{pid}"/>'
            f'<rim:ExternalIdentifier id="{ident}-uid" registryObject="{ident}" '
            f'identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" '
            f'value="{_oid(rng)}"/>'
            "</rim:ExtrinsicObject>")
    members = "".join(
        f'<rim:Association id="Association{i:02d}" associationType='
        '"urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember" '
        f'sourceObject="SubmissionSet01" targetObject="Document{i:02d}">'
        f'{_slot("SubmissionSetStatus", "Original")}</rim:Association>'
        for i in range(1, len(documents) + 1))
    submission = (
        '<rim:RegistryPackage id="SubmissionSet01">'
        + _slot("submissionTime", stamp)
        + f'<rim:Name><rim:LocalizedString value="{xml_escape(doc.label)}"/></rim:Name>'
        '<rim:Classification classificationScheme="urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d"'
        ' classifiedObject="SubmissionSet01" id="SubmissionSet01-author" nodeRepresentation="">'
        f'{_slot("authorPerson", author_xcn.replace("&amp;", "&"))}</rim:Classification>'
        + _classification("aa543740-bdda-424e-8c96-df4873be8500", "SubmissionSet01",
                          "SubmissionSet01-content", "04", "1.2.250.1.213.1.1.4.12",
                          "Hospitalisation")
        + '<rim:ExternalIdentifier id="SubmissionSet01-uid" registryObject="SubmissionSet01" '
        'identificationScheme="urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8" '
        f'value="{_oid(rng)}"/>'
        '<rim:ExternalIdentifier id="SubmissionSet01-src" registryObject="SubmissionSet01" '
        'identificationScheme="urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832" '
        'value="1.2.250.1.999.1.1"/>'
        '<rim:ExternalIdentifier id="SubmissionSet01-pid" registryObject="SubmissionSet01" '
        'identificationScheme="urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446" '
        f'value="{pid}"/>'
        "</rim:RegistryPackage>"
        '<rim:Classification id="SubmissionSet01-node" classifiedObject="SubmissionSet01" '
        'classificationNode="urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd"/>')
    xml = ('<?xml version="1.0" encoding="UTF-8"?>\n'
           '<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" '
           'xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">\n<rim:RegistryObjectList>\n'
           + "\n".join(entries) + "\n" + submission + "\n" + members
           + "\n</rim:RegistryObjectList>\n</lcm:SubmitObjectsRequest>\n")
    return xml.encode("utf-8")


def _xdm_index(patient: _Patient, author: _Person, doc: _DocType,
               documents: Sequence[tuple[str, str, bytes]]) -> bytes:
    links = "".join(f'<li><a href="IHE_XDM/SUBSET01/{uri}">{uri}</a> ({mime})</li>'
                    for uri, mime, _ in documents)
    page = (f"<html><head><title>IHE XDM</title></head><body>"
            f"<h1>{html.escape(doc.display)}</h1>"
            f"<p>Patient : {html.escape(patient.label)}, né{patient.e} le "
            f"{patient.birth:%d/%m/%Y}</p><p>Émetteur : {html.escape(author.name)} — "
            f"{html.escape(author.org)}</p><ul>{links}</ul></body></html>\r\n")
    return page.encode("utf-8")


def _xdm_readme(author: _Person) -> bytes:
    text = ("Archive IHE XDM (ITI-32) — support de démonstration\r\n"
            f"Émetteur : {author.org}\r\n"
            "Logiciel : SIH-Demo Messagerie 5.2 (éditeur fictif, environnement de test)\r\n"
            "Contenu : IHE_XDM/SUBSET01 (METADATA.XML, document CDA R2 et version PDF)\r\n"
            "Contact : support@chu-demo.mssante.test\r\n")
    return text.encode("utf-8")


def make_xdm_zip(entries: Sequence[tuple[str, bytes]], when: datetime) -> bytes:
    """A ZIP of ``(path, data)`` entries, byte-for-byte stable for the same input."""
    buffer = BytesIO()
    stamp = paris_time(when).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w") as archive:
        for path, data in entries:
            info = zipfile.ZipInfo(path, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 0  # the host OS would otherwise leak into the bytes
            info.external_attr = 0x20  # MS-DOS « archive » attribute, as XDM tools write
            archive.writestr(info, data)
    return buffer.getvalue()


def _xdm_archive(patient: _Patient, author: _Person, doc: _DocType, when: datetime,
                 sections: Sequence[tuple[str, str]], pdf: bytes,
                 rng: random.Random) -> bytes:
    cda = _cda_document(patient, author, doc, when, sections, rng)
    documents = [("DOC0001.XML", "text/xml", cda), ("DOC0002.PDF", "application/pdf", pdf)]
    metadata = _xdm_metadata(patient, author, doc, when, documents, rng)
    return make_xdm_zip([
        ("INDEX.HTM", _xdm_index(patient, author, doc, documents)),
        ("README.TXT", _xdm_readme(author)),
        ("IHE_XDM/SUBSET01/METADATA.XML", metadata),
        *((f"IHE_XDM/SUBSET01/{uri}", data) for uri, _, data in documents),
    ], when)


# ---------------------------------------------------------------------------------------------
# Clinical content catalogues
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stay:
    motif: str
    story: str
    exams: tuple[str, ...]
    treatments: tuple[str, ...]
    follow_up: tuple[str, ...]


_STAYS: dict[str, tuple[_Stay, ...]] = {
    "cardiologie": (
        _Stay("décompensation cardiaque globale",
              "Dyspnée d'aggravation progressive depuis dix jours avec œdèmes des membres "
              "inférieurs et prise de 4 kg.",
              ("ETT : FEVG estimée à 35 %, insuffisance mitrale modérée fonctionnelle.",
               "NT-proBNP à l'entrée : 4 850 pg/mL.", "Radiographie thoracique : surcharge "
               "hydrique bilatérale, épanchement pleural droit de faible abondance."),
              ("furosémide 40 mg le matin", "bisoprolol 2,5 mg le matin",
               "sacubitril/valsartan 24/26 mg matin et soir", "spironolactone 25 mg le matin"),
              ("Pesée quotidienne : consulter si prise de plus de 2 kg en 3 jours.",
               "Ionogramme sanguin et créatininémie à J8.",
               "Consultation de cardiologie dans 6 semaines avec ETT.")),
        _Stay("fibrillation atriale rapide",
              "Palpitations depuis 48 heures, fréquence cardiaque à 145/min à l'arrivée.",
              ("ECG : fibrillation atriale à 140/min, pas de trouble de la repolarisation.",
               "ETT : oreillette gauche dilatée, FEVG conservée à 60 %.", "TSH normale."),
              ("apixaban 5 mg matin et soir", "bisoprolol 5 mg le matin"),
              ("Holter ECG des 24 heures dans un mois.",
               "Consultation de rythmologie à 3 mois pour discuter une ablation.")),
        _Stay("syndrome coronarien aigu sans sus-décalage du segment ST",
              "Douleur thoracique constrictive au repos de 30 minutes, troponine positive.",
              ("Coronarographie : sténose serrée de l'IVA moyenne traitée par angioplastie avec "
               "pose d'un stent actif.", "ETT : hypokinésie antérieure, FEVG à 50 %."),
              ("aspirine 75 mg par jour", "ticagrélor 90 mg matin et soir pendant 12 mois",
               "atorvastatine 80 mg le soir", "ramipril 2,5 mg le soir"),
              ("Réadaptation cardiaque en hôpital de jour, 20 séances.",
               "Bilan lipidique à 6 semaines, objectif LDL < 0,55 g/L.")),
    ),
    "pneumologie": (
        _Stay("exacerbation de BPCO",
              "Majoration de la dyspnée et de l'expectoration purulente depuis cinq jours.",
              ("Gaz du sang en air ambiant : PaO2 58 mmHg, PaCO2 47 mmHg, pH 7,38.",
               "Radiographie thoracique : distension, pas de foyer."),
              ("prednisolone 40 mg par jour pendant 5 jours",
               "amoxicilline-acide clavulanique 1 g trois fois par jour pendant 5 jours",
               "tiotropium/olodatérol deux inhalations le matin"),
              ("EFR et consultation de pneumologie dans 2 mois.",
               "Réhabilitation respiratoire à discuter.")),
        _Stay("pneumopathie aiguë communautaire droite",
              "Fièvre à 39,2 °C, toux et douleur basithoracique droite depuis trois jours.",
              ("Scanner thoracique : condensation lobaire inférieure droite.",
               "CRP 186 mg/L à l'entrée, 24 mg/L à la sortie.", "Hémocultures négatives."),
              ("amoxicilline 1 g trois fois par jour, 7 jours au total",
               "paracétamol 1 g jusqu'à trois fois par jour si fièvre"),
              ("Radiographie thoracique de contrôle dans 6 semaines.",)),
        _Stay("embolie pulmonaire segmentaire",
              "Dyspnée brutale et douleur thoracique gauche après un vol long-courrier.",
              ("Angioscanner thoracique : embolie pulmonaire segmentaire lobaire inférieure "
               "gauche, sans retentissement sur les cavités droites.",
               "Écho-doppler veineux : thrombose veineuse poplitée gauche."),
              ("rivaroxaban 15 mg matin et soir pendant 21 jours puis 20 mg par jour",),
              ("Consultation de médecine vasculaire à 3 mois pour la durée du traitement.",)),
    ),
    "gériatrie": (
        _Stay("chute à domicile avec station au sol prolongée",
              "Chute de sa hauteur la nuit, retrouvé(e) au sol le matin par l'infirmier.",
              ("CPK 1 250 UI/L, créatininémie 112 µmol/L.",
               "Scanner cérébral sans injection : pas de lésion hémorragique.",
               "Radiographies du bassin : pas de fracture."),
              ("colécalciférol 100 000 UI une ampoule par mois",
               "paracétamol 1 g jusqu'à trois fois par jour si douleur"),
              ("Kinésithérapie à domicile pour le travail de l'équilibre, 2 séances par semaine.",
               "Téléassistance mise en place.",
               "Évaluation gériatrique en hôpital de jour dans 1 mois.")),
        _Stay("confusion aiguë sur infection urinaire",
              "Désorientation d'apparition brutale, fièvre à 38,6 °C.",
              ("ECBU : Escherichia coli sensible aux céphalosporines de troisième génération.",
               "Ionogramme : natrémie 133 mmol/L.", "Échographie rénale sans obstacle."),
              ("céfixime 200 mg matin et soir pendant 7 jours",),
              ("Passage infirmier quotidien pour la prise des traitements.",
               "Réévaluation cognitive à distance de l'épisode aigu.")),
        _Stay("anémie ferriprive à explorer",
              "Asthénie et dyspnée d'effort depuis deux mois.",
              ("Hémoglobine 8,1 g/dL, VGM 72 fL, ferritine 6 µg/L.",
               "Fibroscopie œso-gastro-duodénale : gastrite, biopsies en cours."),
              ("fer injectable, une perfusion réalisée dans le service",
               "ésoméprazole 20 mg le soir pendant 2 mois"),
              ("NFS et ferritine dans 3 mois.", "Coloscopie programmée le mois prochain.")),
    ),
    "orthopédie": (
        _Stay("prothèse totale de hanche droite programmée",
              "Coxarthrose droite invalidante malgré le traitement médical.",
              ("Radiographie de contrôle : implants en place.", "Hémoglobine 10,9 g/dL à J3."),
              ("enoxaparine 4 000 UI une injection sous-cutanée par jour pendant 35 jours",
               "paracétamol 1 g toutes les 6 heures si besoin"),
              ("Ablation des agrafes à J14 par l'infirmier(ère) à domicile.",
               "Consultation de contrôle avec radiographie à 6 semaines.",
               "Kinésithérapie : appui complet autorisé, 3 séances par semaine.")),
        _Stay("fracture du col fémoral gauche",
              "Chute mécanique à domicile, impotence fonctionnelle totale.",
              ("Radiographie : fracture Garden IV du col fémoral gauche.",
               "Intervention : prothèse intermédiaire de hanche gauche."),
              ("enoxaparine 4 000 UI une injection sous-cutanée par jour pendant 35 jours",
               "tramadol 50 mg si douleur non soulagée par le paracétamol, 4 par jour au plus"),
              ("Séjour en soins de suite et de réadaptation à discuter.",
               "Bilan de l'ostéoporose : ostéodensitométrie à prévoir.")),
    ),
}
_STAYS["neurologie"] = (
    _Stay("accident vasculaire cérébral ischémique sylvien gauche",
          "Aphasie et déficit brachio-facial droit d'installation brutale, régressifs en "
          "24 heures.",
          ("IRM cérébrale : infarctus cortical sylvien gauche de petite taille.",
           "Écho-doppler des troncs supra-aortiques : sténose carotidienne gauche à 40 %.",
           "Holter ECG de 48 heures : pas de fibrillation atriale."),
          ("clopidogrel 75 mg par jour", "atorvastatine 80 mg le soir"),
          ("Consultation neurovasculaire à 3 mois.", "Rééducation orthophonique en libéral.",
           "Objectif tensionnel inférieur à 130/80 mmHg.")),
)
_STAYS["endocrinologie"] = _STAYS["gériatrie"]
_STAYS["dermatologie"] = _STAYS["gériatrie"]
_STAYS["urgences"] = _STAYS["gériatrie"] + _STAYS["orthopédie"]


@dataclass(frozen=True)
class _Case:
    motif: str
    history: str
    finding: str
    plan: str
    question: str
    answer: str


_CASES: dict[str, tuple[_Case, ...]] = {
    "cardiologie": (
        _Case("douleur thoracique d'effort",
              "Douleur rétrosternale constrictive à la montée des escaliers depuis trois semaines, "
              "cédant au repos. ECG de repos sans anomalie.",
              "L'épreuve d'effort est positive électriquement au palier de 100 W.",
              "coronarographie programmée dans les quinze jours ; aspirine 75 mg dès à présent.",
              "poursuivre le bêtabloquant en attendant la coronarographie",
              "oui, à la même posologie, sans l'arrêter la veille de l'examen"),
        _Case("palpitations récidivantes",
              "Accès de palpitations de quelques minutes, plusieurs fois par semaine.",
              "Le Holter retrouve de courts accès de tachycardie atriale, sans pause.",
              "bisoprolol 1,25 mg le matin, à majorer selon la tolérance.",
              "contrôler la kaliémie avant de majorer le bisoprolol",
              "ce n'est pas indispensable, la fonction rénale étant normale"),
        _Case("souffle systolique découvert à l'auscultation",
              "Souffle 3/6 au foyer aortique, asymptomatique, découvert lors d'un renouvellement.",
              "L'échographie montre un rétrécissement aortique modéré, surface 1,3 cm².",
              "surveillance échographique annuelle ; consulter en cas de dyspnée ou de malaise.",
              "autoriser la reprise de la randonnée",
              "oui, en évitant les efforts intenses et prolongés"),
    ),
    "pneumologie": (
        _Case("toux persistante depuis deux mois",
              "Toux sèche sans fièvre, ancien fumeur (30 paquets-années).",
              "Le scanner thoracique montre un emphysème centrolobulaire sans nodule suspect.",
              "EFR dans un mois ; sevrage tabagique accompagné.",
              "prescrire un traitement inhalé en attendant les EFR",
              "oui, un bronchodilatateur de longue durée d'action"),
        _Case("suspicion d'apnées du sommeil",
              "Ronflements, somnolence diurne (Epworth 14), HTA difficile à équilibrer.",
              "La polygraphie retrouve un IAH à 38/h, apnées obstructives.",
              "mise en place d'une PPC ; contrôle de l'observance à 3 mois.",
              "adapter le traitement antihypertenseur dès maintenant",
              "mieux vaut attendre l'effet de la PPC sur la pression artérielle"),
    ),
    "neurologie": (
        _Case("céphalées inhabituelles",
              "Céphalées matinales depuis six semaines, sans déficit à l'examen.",
              "L'IRM cérébrale est normale ; profil de céphalées de tension.",
              "amitriptyline 10 mg le soir, réévaluation dans 2 mois.",
              "arrêter le paracétamol quotidien",
              "oui, pour éviter une céphalée par abus médicamenteux"),
        _Case("tremblement des mains",
              "Tremblement d'attitude bilatéral, gênant pour écrire, sans rigidité.",
              "L'examen est en faveur d'un tremblement essentiel.",
              "propranolol 40 mg par jour, à augmenter progressivement.",
              "faire un bilan thyroïdien",
              "il a été fait : TSH normale"),
    ),
    "endocrinologie": (
        _Case("diabète de type 2 déséquilibré",
              "HbA1c à 9,1 % malgré metformine 1 g matin et soir.",
              "Pas de complication micro-angiopathique sévère ; IMC 33 kg/m².",
              "ajout d'un analogue du GLP-1 en injection hebdomadaire.",
              "garder la metformine à la même dose",
              "oui, sans changement"),
        _Case("nodule thyroïdien",
              "Nodule palpable du lobe droit, TSH normale.",
              "Échographie : nodule de 22 mm EU-TIRADS 4.",
              "cytoponction à programmer.",
              "refaire la TSH avant la cytoponction",
              "non, celle du mois dernier suffit"),
    ),
    "dermatologie": (
        _Case("lésion pigmentée qui a changé d'aspect",
              "Lésion du dos irrégulière, modifiée depuis l'été selon le conjoint.",
              "Dermoscopie : réseau atypique ; exérèse réalisée ce jour.",
              "résultat anatomopathologique attendu sous trois semaines.",
              "prévoir une surveillance annuelle de tout le tégument",
              "oui, d'autant qu'il y a de nombreux naevus"),
    ),
    "orthopédie": (
        _Case("gonarthrose invalidante",
              "Douleurs mécaniques du genou gauche, périmètre de marche de 300 mètres.",
              "Radiographies : pincement fémoro-tibial interne complet.",
              "prothèse totale de genou proposée, consultation d'anesthésie à prévoir.",
              "poursuivre les infiltrations en attendant",
              "une dernière infiltration est possible, pas moins de 3 mois avant l'intervention"),
    ),
    "gériatrie": (
        _Case("troubles de la mémoire",
              "Oublis à mesure signalés par la famille, MMSE à 22/30.",
              "Le bilan neuropsychologique évoque un trouble neurocognitif majeur débutant.",
              "IRM cérébrale et orientation vers la consultation mémoire.",
              "mettre en place des aides à domicile",
              "oui, une évaluation de l'équipe APA est à demander"),
        _Case("chutes répétées",
              "Trois chutes en deux mois, sans perte de connaissance.",
              "Hypotension orthostatique nette et sarcopénie.",
              "allègement du traitement antihypertenseur, kinésithérapie.",
              "arrêter l'amlodipine",
              "oui, en surveillant la pression artérielle à domicile"),
    ),
}


@dataclass(frozen=True)
class _LabTest:
    name: str
    unit: str
    low: float
    high: float
    decimals: int
    spread: float


_LAB_PANELS: dict[str, tuple[_LabTest, ...]] = {
    "Hématologie": (
        _LabTest("Hémoglobine", "g/dL", 12.0, 16.5, 1, 1.6),
        _LabTest("Leucocytes", "G/L", 4.0, 10.0, 1, 2.0),
        _LabTest("Plaquettes", "G/L", 150, 400, 0, 70),
    ),
    "Biochimie": (
        _LabTest("Sodium", "mmol/L", 136, 145, 0, 3),
        _LabTest("Potassium", "mmol/L", 3.5, 5.1, 1, 0.45),
        _LabTest("Créatinine", "µmol/L", 50, 100, 0, 25),
        _LabTest("DFG (CKD-EPI)", "mL/min/1,73 m²", 60, 120, 0, 18),
        _LabTest("CRP", "mg/L", 0, 5, 1, 6),
    ),
    "Bilan métabolique": (
        _LabTest("Glycémie à jeun", "g/L", 0.70, 1.10, 2, 0.25),
        _LabTest("HbA1c", "%", 4.0, 6.0, 1, 1.0),
        _LabTest("LDL-cholestérol", "g/L", 0.5, 1.6, 2, 0.35),
    ),
    "Endocrinologie": (
        _LabTest("TSH", "mUI/L", 0.40, 4.00, 2, 1.2),
        _LabTest("Ferritine", "µg/L", 20, 300, 0, 90),
    ),
    "Hémostase": (
        _LabTest("INR (patient sous AVK, cible 2-3)", "", 2.0, 3.0, 1, 0.5),
    ),
}


def _lab_value(test: _LabTest, rng: random.Random) -> tuple[str, str]:
    middle = (test.low + test.high) / 2
    value = max(0.0, rng.gauss(middle, test.spread))
    shown = f"{value:.{test.decimals}f}".replace(".", ",")
    flag = "H" if value > test.high else "L" if value < test.low else ""
    return shown, flag


def _fmt_range(test: _LabTest) -> str:
    def f(x: float) -> str:
        return f"{x:.{test.decimals}f}".replace(".", ",")
    return f"{f(test.low)} – {f(test.high)}"


@dataclass(frozen=True)
class _Exam:
    name: str
    slug: str
    indication: str
    technique: str
    findings: tuple[str, ...]
    conclusion: str


_EXAMS: tuple[_Exam, ...] = (
    _Exam("Échographie abdominale", "echographie_abdominale",
          "douleurs de l'hypochondre droit", "Examen réalisé à jeun, sonde convexe.",
          ("Foie de taille normale, d'échostructure homogène.",
           "Vésicule biliaire lithiasique, paroi fine, sans signe de cholécystite.",
           "Voies biliaires non dilatées. Pancréas et rate sans particularité."),
          "Lithiase vésiculaire non compliquée."),
    _Exam("Radiographie du thorax de face", "radiographie_thorax",
          "toux fébrile", "Cliché de face en inspiration.",
          ("Opacité alvéolaire de la base droite.", "Pas d'épanchement pleural.",
           "Silhouette cardiaque normale."),
          "Aspect compatible avec une pneumopathie de la base droite."),
    _Exam("Scanner cérébral sans injection", "scanner_cerebral",
          "chute avec traumatisme crânien sous anticoagulant", "Acquisition hélicoïdale.",
          ("Pas d'hémorragie intra- ou extra-axiale.", "Leucopathie vasculaire modérée.",
           "Structures médianes en place."),
          "Pas de lésion traumatique intracrânienne."),
    _Exam("IRM du genou droit", "irm_genou",
          "gonalgies mécaniques après torsion", "Séquences T1, DP Fat Sat, trois plans.",
          ("Fissure horizontale de la corne postérieure du ménisque médial.",
           "Ligaments croisés continus.", "Épanchement intra-articulaire de faible abondance."),
          "Lésion méniscale médiale, sans lésion ligamentaire."),
    _Exam("Échographie-doppler veineux des membres inférieurs", "doppler_veineux",
          "œdème du mollet gauche", "Exploration des réseaux profond et superficiel.",
          ("Veines fémorales et poplitées compressibles.",
           "Thrombose d'une veine musculaire soléaire gauche."),
          "Thrombose veineuse distale isolée du mollet gauche."),
    _Exam("Ostéodensitométrie", "osteodensitometrie",
          "ménopause, antécédent de fracture du poignet", "Absorptiométrie biphotonique.",
          ("Rachis lombaire : T-score -2,7.", "Col fémoral : T-score -2,1."),
          "Ostéoporose densitométrique au rachis lombaire."),
)

_NURSE_ISSUES = (
    ("évolution de la plaie du talon gauche",
     "La plaie mesure aujourd'hui 2 × 3 cm, fond fibrineux à 50 %, pas de signe d'infection. "
     "Je poursuis les pansements hydrocolloïdes tous les deux jours."),
    ("glycémies capillaires élevées",
     "Les glycémies du matin sont entre 2,10 et 2,60 g/L depuis une semaine malgré une bonne "
     "observance de l'insuline. Faut-il adapter la dose ?"),
    ("tension artérielle basse ce matin",
     "TA à 92/58 mmHg assis, 84/50 debout, avec une sensation de malaise au lever. "
     "Le traitement de la veille a bien été pris."),
    ("refus de traitement",
     "Le patient refuse depuis trois jours de prendre son traitement du soir, il dit qu'il "
     "dort mal avec. La famille est prévenue."),
    ("chute sans gravité",
     "Chute dans la salle de bains hier soir, sans perte de connaissance ni douleur à la "
     "mobilisation. Hématome de l'avant-bras droit."),
    ("retour d'hospitalisation",
     "Premier passage ce matin après la sortie. Pilulier préparé selon l'ordonnance de sortie ; "
     "il manque la prescription des bas de contention."),
)

_HOME_CARE = (
    "des pansements de l'ulcère de jambe droite un jour sur deux",
    "la surveillance des glycémies capillaires et l'injection d'insuline le matin",
    "l'ablation des agrafes à J14",
    "une prise de sang à domicile (NFS, ionogramme, créatinine) jeudi matin",
    "la préparation du pilulier hebdomadaire et la surveillance de la prise des traitements",
    "les injections d'anticoagulant pendant 35 jours",
)

_ADMIN_NOTES: dict[str, tuple[tuple[str, str], ...]] = {"cpts": (
    ("Permanence des soins : tableau de garde du mois prochain",
     "Bonjour à toutes et à tous,\n\nVous trouverez ci-dessous le tableau de garde du mois "
     "prochain. Merci de signaler tout échange de garde à la coordination avant le 20.\n\n"
     "- Samedis : maison de santé Démo\n- Dimanches et jours fériés : cabinet des Lilas\n\n"
     "Bien cordialement,"),
    ("Réunion pluriprofessionnelle : parcours insuffisance cardiaque",
     "Bonjour,\n\nLa prochaine réunion du groupe « parcours insuffisance cardiaque » aura lieu "
     "mardi à 20 h à la maison de santé. Ordre du jour : protocole de titration, retour sur "
     "les pesées connectées.\n\nMerci de confirmer votre présence.\n\nLa coordination"),
), "service": (
    ("Nouvelle adresse de messagerie sécurisée du service",
     "Madame, Monsieur,\n\nÀ compter du 1er du mois, merci d'adresser les courriers destinés au "
     "service à cette adresse de messagerie sécurisée. L'ancienne adresse nominative ne sera "
     "plus relevée.\n\nCordialement,"),
), "lab": (
    ("Fermeture exceptionnelle du laboratoire",
     "Madame, Monsieur,\n\nLe site de prélèvement du centre-ville sera fermé samedi matin pour "
     "travaux. Les prélèvements urgents seront assurés par le site de la gare.\n\nCordialement,"),
), "radiology": (
    ("Nouveau portail de consultation des images",
     "Madame, Monsieur,\n\nLes images des examens réalisés au centre sont désormais "
     "consultables sur le nouveau portail d'imagerie, avec l'identifiant figurant sur chaque "
     "compte rendu.\n\nCordialement,"),
)}


def _signature(person: _Person) -> str:
    lines = [person.name]
    if person.title:
        lines.append(f"{person.title} — {person.org}" if person.org else person.title)
    elif person.org and person.org not in person.name:
        lines.append(person.org)
    digits = int(hashlib.sha1(person.address.encode(), usedforsecurity=False).hexdigest()[:4], 16)
    lines.append(f"Tél. : 01 99 00 {digits % 100:02d} {digits // 100 % 100:02d}")
    lines.append(f"MSSanté : {person.address}")
    return "\n".join(lines)


_FOOTER = ("--\nMessage transmis par messagerie sécurisée de santé (MSSanté). Il contient des "
           "données de santé à caractère personnel couvertes par le secret médical. Si vous "
           "l'avez reçu par erreur, merci de le détruire et d'en avertir l'expéditeur.")


def _letter(person: _Person, body: str, closing: str = "Bien confraternellement,",
            footer: bool = False) -> str:
    text = f"{body}\n\n{closing}\n\n{_signature(person)}"
    return f"{text}\n\n{_FOOTER}\n" if footer else text + "\n"


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if c.isascii()).replace(" ", "_").replace("'", "")


# ---------------------------------------------------------------------------------------------
# Message plan: every message is first described by a _Spec, rendered to bytes only when yielded
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)  # identity semantics: specs point at each other (replies, reports)
class _Spec:
    folder: str
    kind: str
    date: datetime  # UTC
    author: _Person
    to: tuple[_Person, ...]
    seed: int
    message_id: str
    cc: tuple[_Person, ...] = ()
    patient: _Patient | None = None
    subject: str = ""  # set at plan time for conversations, drafts and notifications
    text: str = ""
    parent: _Spec | None = None
    original: _Spec | None = None  # the message a DSN or MDN reports on
    notify: bool = False  # Disposition-Notification-To
    big: str = ""  # "png" or "pdf": the one or two large attachments of the whole set
    flags: set[str] = field(default_factory=set)

    @property
    def references(self) -> list[str]:
        if self.parent is None:
            return []
        return [*self.parent.references, self.parent.message_id][-8:]


_ROLE_WEIGHTS: dict[str, dict[str, float]] = {
    "medecin": {"crh": 13, "lab": 22, "radio": 10, "xdm": 9, "consult": 9, "conversation": 17,
                "nurse_note": 5, "urgences": 4, "admin": 3, "dsn": 1.2, "mdn": 2},
    "infirmier": {"crh": 6, "lab": 8, "prescription": 20, "conversation": 24, "nurse_note": 10,
                  "xdm": 4, "urgences": 3, "admin": 4, "dsn": 1.2, "mdn": 2},
    "secretariat": {"referral_in": 26, "conversation": 22, "lab": 10, "xdm": 6, "crh": 4,
                    "radio": 6, "admin": 4, "consult": 3, "dsn": 1.2, "mdn": 2},
}
_SINGLE_KINDS = frozenset({"crh", "lab", "radio", "xdm", "consult", "nurse_note", "urgences",
                           "admin", "prescription", "referral_in"})


def _owner_role(owner: str) -> tuple[str, _Person]:
    """The owner's role in the corpus (decides what mail they get) and their identity."""
    known = {p.address: p for p in _PEOPLE}
    person = known.get(owner)
    if person is None:
        local = owner.partition("@")[0].replace(".", " ").replace("_", " ").title()
        person = _Person(local, owner, "gp", "médecine générale", "Cabinet médical Démo",
                         "Médecin généraliste")
    if person.kind == "nurse" or "infirmier" in person.domain:
        return "infirmier", person
    if person.kind == "secretariat" or owner.startswith("secretariat"):
        return "secretariat", person
    return "medecin", person


@dataclass
class _Planner:
    owner: _Person
    role: str
    rng: random.Random
    now: datetime
    span_days: int
    patients: list[_Patient]
    specs: list[_Spec] = field(default_factory=list)
    sent_left: int = 0

    def others(self, *kinds: str) -> list[_Person]:
        return [p for p in _PEOPLE if p.kind in kinds and p.address != self.owner.address]

    def pick(self, *kinds: str) -> _Person:
        # An owner who is the only one of their kind (the laboratory itself) gets mail from
        # anyone else rather than from nobody.
        everyone = [p for p in _PEOPLE if p.address != self.owner.address]
        return self.rng.choice(self.others(*kinds) or everyone)

    def patient(self) -> _Patient:
        return self.rng.choice(self.patients)

    def message_id(self, author: _Person, when: datetime) -> str:
        return f"<{when:%Y%m%d%H%M%S}.{self.rng.getrandbits(48):012x}@{author.domain}>"

    def add(self, folder: str, kind: str, when: datetime, author: _Person,
            to: Sequence[_Person], **extra: object) -> _Spec:
        when = when.replace(microsecond=0)
        spec = _Spec(folder, kind, when, author, tuple(to), self.rng.getrandbits(63),
                     self.message_id(author, when), **extra)  # type: ignore[arg-type]
        self.specs.append(spec)
        return spec

    def moment(self, automated: bool = False, oldest_fraction: float = 1.0,
               newest_fraction: float = 0.0) -> datetime:
        """A plausible moment in the span: working hours, few weekends; labs send at night."""
        rng = self.rng
        days = int(self.span_days * rng.uniform(newest_fraction, oldest_fraction))
        day = paris_time(self.now).date() - timedelta(days=days)
        if day.weekday() >= 5 and rng.random() < 0.8:
            day -= timedelta(days=day.weekday() - 4)
        hour = rng.choice((1, 2, 3, 4, 12, 13)) if automated else int(rng.triangular(7, 20, 11))
        when = _from_paris(day, hour, rng.randrange(60), rng.randrange(60))
        if when > self.now - timedelta(minutes=3):
            when = self.now - timedelta(minutes=rng.uniform(3, 600))
        return when


def _span_days(count: int) -> int:
    # A GP receives a dozen secure messages a working day: more mail reaches further back.
    return max(21, min(900, round(count / 12)))


def demo_messages(owner: str, count: int, *, seed: int = 1,
                  now: datetime | None = None) -> Iterator[tuple[str, tuple[str, ...], datetime,
                                                                bytes]]:
    """Yield ``(folder, flags, internal_date, raw_message)`` for ``owner``'s mailbox.

    ``count`` is the number of INBOX messages; Sent, Drafts, Archive and Trash get a few dozen
    at most. The output is a pure function of ``(owner, count, seed, now)``: pass ``now`` for
    byte-identical runs (it defaults to the current time; naive values are taken as UTC).
    Messages come folder by folder, oldest first, so IMAP UIDs grow with dates. Any address
    works as ``owner``; the demo users and the corpus's own correspondents get mail that fits
    their role. Nothing is yielded when ``count`` is not positive.
    """
    if count <= 0:
        return
    moment = (now or datetime.now(_UTC))
    moment = moment.replace(tzinfo=_UTC) if moment.tzinfo is None else moment.astimezone(_UTC)
    moment = moment.replace(microsecond=0)
    plan = _plan(owner, count, random.Random(seed), moment)
    order = {"INBOX": 0, "Sent": 1, "Drafts": 2, "Archive": 3, "Trash": 4}
    plan.specs.sort(key=lambda s: (order[s.folder], s.date, s.message_id))
    for spec in plan.specs:
        raw = _render(spec, plan.owner)
        yield spec.folder, tuple(sorted(spec.flags)), _internal_date(spec), raw


def _internal_date(spec: _Spec) -> datetime:
    # Delivery takes a few seconds; what the owner wrote is stored as it is sent.
    delay = 0 if spec.folder in ("Sent", "Drafts") else 4 + spec.seed % 80
    return paris_time(spec.date + timedelta(seconds=delay))


def _plan(owner: str, count: int, rng: random.Random, now: datetime) -> _Planner:
    role, person = _owner_role(owner)
    today = paris_time(now).date()
    patients = [_make_patient(rng, today) for _ in range(min(400, 12 + count // 3))]
    planner = _Planner(person, role, rng, now, _span_days(count), patients,
                       sent_left=min(40, max(2, count // 8)))
    units = _plan_units(planner, count)
    _lay_out_units(planner, units)
    _plan_standalone_sent(planner)
    _plan_other_folders(planner, count)
    _plan_drafts(planner, count)
    _assign_flags(planner)
    return planner


@dataclass
class _Unit:
    kind: str
    inbox: int  # INBOX messages this unit contributes
    end: datetime | None = None


def _plan_units(planner: _Planner, count: int) -> list[_Unit]:
    rng = planner.rng
    weights = _ROLE_WEIGHTS[planner.role]
    kinds, odds = list(weights), list(weights.values())
    units: list[_Unit] = []
    left = count
    while left > 0:
        kind = rng.choices(kinds, odds)[0]
        size = min(left, rng.choice((1, 2, 2, 3))) if kind == "conversation" else 1
        units.append(_Unit(kind, size))
        left -= size
    # The newest message sits a few minutes before « now »; the others spread over the span.
    for unit in units:
        unit.end = planner.moment(automated=unit.kind == "lab" and rng.random() < 0.6)
    units.sort(key=lambda u: u.end or planner.now, reverse=True)
    units[0].end = planner.now - timedelta(minutes=rng.uniform(2, 40))
    # Big attachments: one imaging report with a large image, one long discharge file.
    for kind, big in (("radio", "png"), ("crh", "pdf")):
        candidates = [u for u in units if u.kind == kind]
        if candidates:
            candidates[len(candidates) // 2].kind += f":{big}"
    return units


def _lay_out_units(planner: _Planner, units: Sequence[_Unit]) -> None:
    """Turn units into specs, newest first, so the owner's Sent mail is the most recent."""
    for unit in units:
        kind, _, big = unit.kind.partition(":")
        end = unit.end or planner.now
        if kind == "conversation":
            _plan_conversation(planner, unit.inbox, end)
        elif kind == "mdn" and planner.sent_left > 0:
            _plan_mdn(planner, end)
        elif kind == "dsn":
            _plan_dsn(planner, end)
        else:
            _plan_single(planner, "lab" if kind == "mdn" else kind, end, big)


def _author_for(planner: _Planner, kind: str) -> _Person:
    if kind == "crh":  # only hospitals write discharge letters
        return planner.rng.choice([p for p in planner.others("service", "specialist")
                                   if p.in_hospital])
    if kind == "lab":
        return planner.pick("lab") if planner.rng.random() < 0.95 else planner.pick("biologist")
    if kind == "radio":
        return planner.pick("radiology", "radiologist")
    if kind == "xdm":
        return planner.pick("service", "specialist", "lab", "radiology")
    if kind == "consult":
        return planner.pick("specialist")
    if kind == "nurse_note":
        return planner.pick("nurse")
    if kind == "urgences":
        return planner.pick("urgences")
    if kind == "admin":
        return planner.pick("cpts", "lab", "service", "radiology")
    if kind in ("prescription", "referral_in"):
        return planner.pick("gp")
    raise ValueError(f"no author for {kind} messages")


def _recipients(planner: _Planner, author: _Person) -> tuple[list[_Person], list[_Person]]:
    """To and Cc: the owner, sometimes with a colleague in copy."""
    cc: list[_Person] = []
    if planner.rng.random() < 0.15 and author.kind in ("service", "specialist", "urgences"):
        cc = [planner.pick("nurse", "gp")]
    return [planner.owner], cc


def _plan_single(planner: _Planner, kind: str, when: datetime, big: str = "",
                 folder: str = "INBOX") -> _Spec:
    author = _author_for(planner, kind)
    to, cc = _recipients(planner, author)
    notify = author.kind in ("service", "specialist") and planner.rng.random() < 0.15
    patient = None if kind == "admin" else planner.patient()
    return planner.add(folder, kind, when, author, to, cc=tuple(cc), patient=patient,
                       notify=notify, big=big)


# --- conversations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Script:
    kinds: tuple[str, ...]  # participant kinds: speaker 0, speaker 1, optional copy-only third
    write: Callable[[random.Random, _Patient, Sequence[_Person], datetime], tuple[str, list[str]]]


def _s_adressage(rng: random.Random, pt: _Patient, who: Sequence[_Person],
                 when: datetime) -> tuple[str, list[str]]:
    gp, spec = who[0], who[1]
    case = rng.choice(_CASES.get(spec.specialty, _CASES["gériatrie"]))
    age = pt.age(when.date())
    return f"Adressage : {pt.who} — {case.motif}", [
        _letter(gp, f"{spec.greeting}\n\nJe vous adresse {pt.who}, {age} ans, pour "
                f"{case.motif}.\n\n{case.history}\n\nJe vous remercie de bien vouloir "
                f"{pt.pronoun} recevoir en consultation."),
        _letter(spec, f"{gp.greeting}\n\nMerci de m'avoir adressé {pt.who}, que j'ai vu{pt.e} "
                f"en consultation ce jour.\n\n{case.finding}\n\nConduite à tenir : {case.plan}\n\n"
                "Le compte rendu détaillé suit par messagerie sécurisée."),
        _letter(gp, f"Merci pour ce retour rapide. Je revois {pt.who} la semaine prochaine. "
                f"Faut-il {case.question} ?", "Bien cordialement,"),
        _letter(spec, f"Pour répondre à votre question : {case.answer}. Je reste disponible "
                "si besoin.", "Bien à vous,"),
    ]


def _s_avis(rng: random.Random, pt: _Patient, who: Sequence[_Person],
            when: datetime) -> tuple[str, list[str]]:
    gp, spec = who[0], who[1]
    case = rng.choice(_CASES.get(spec.specialty, _CASES["gériatrie"]))
    return f"Demande d'avis : {case.motif} — {pt.label}", [
        _letter(gp, f"{spec.greeting}\n\nJe souhaiterais votre avis au sujet de {pt.who}, "
                f"{pt.age(when.date())} ans. {case.history}\n\nFaut-il {case.question} avant "
                "une éventuelle consultation ?", "Merci d'avance, bien confraternellement,"),
        _letter(spec, f"{gp.greeting}\n\nPour répondre à votre question : {case.answer}. "
                "Si le tableau "
                "persiste, je peux le voir rapidement ; mon secrétariat vous proposera un "
                "créneau."),
        _letter(gp, "Merci beaucoup, je vous l'adresse si les choses ne s'arrangent pas.",
                "Bien cordialement,"),
        _letter(spec, "Très bien, à votre disposition.", "Bien à vous,"),
    ]


def _s_soins(rng: random.Random, pt: _Patient, who: Sequence[_Person],
             when: datetime) -> tuple[str, list[str]]:
    gp, nurse = who[0], who[1]
    care = rng.choice(_HOME_CARE)
    issue, detail = rng.choice(_NURSE_ISSUES)
    return f"Soins infirmiers à domicile — {pt.who}", [
        _letter(gp, f"{nurse.greeting}\n\nPourriez-vous passer chez {pt.who} pour {care} à "
                "partir de lundi ? L'ordonnance a été remise au patient.", "Merci, bien à vous,"),
        _letter(nurse, f"Bonjour Docteur,\n\nC'est noté, premier passage lundi matin. Point sur "
                f"{issue} : {detail}", "Bien cordialement,"),
        _letter(gp, "Merci pour ces nouvelles. Continuez ainsi, je passe en visite jeudi et "
                "j'adapterai le traitement si besoin.", "Bien à vous,"),
        _letter(nurse, "Entendu, je vous tiens au courant.", "Bonne journée,"),
    ]


def _s_retour(rng: random.Random, pt: _Patient, who: Sequence[_Person],
              when: datetime) -> tuple[str, list[str]]:
    hospital, replier = who[0], who[1]
    stay = rng.choice(_STAYS.get(hospital.specialty, _STAYS["gériatrie"]))
    if replier.kind == "nurse":
        question = (f"Pouvez-vous préciser la durée du traitement par {stay.treatments[0]} "
                    "et qui renouvelle l'ordonnance ?")
        reply = (f"La durée est indiquée sur l'ordonnance de sortie ; le renouvellement sera "
                 f"fait par son médecin traitant. {stay.follow_up[0]}")
    else:
        question = (f"Je passerai voir {pt.who} à domicile en fin de semaine. "
                    "Un bilan est-il prévu ?")
        reply = f"Oui : {stay.follow_up[-1]}"
    return f"Retour à domicile de {pt.who}", [
        _letter(hospital, f"Bonjour,\n\n{pt.who} quitte le service demain après une "
                f"hospitalisation pour {stay.motif}.\n\nPoints de vigilance :\n"
                + "\n".join(f"- {item}" for item in stay.follow_up)
                + "\n\nLe compte rendu suivra.", "Cordialement,"),
        _letter(replier, f"Bonjour,\n\nMerci pour l'information. {question}", "Cordialement,"),
        _letter(hospital, f"Bonjour,\n\n{reply}", "Cordialement,"),
        _letter(replier, "Merci, c'est noté.", "Bonne journée,"),
    ]


def _s_rdv(rng: random.Random, pt: _Patient, who: Sequence[_Person],
           when: datetime) -> tuple[str, list[str]]:
    gp, secretariat = who[0], who[1]
    case = rng.choice(_CASES["cardiologie"])
    slot = when + timedelta(days=rng.randrange(10, 50))
    hour = rng.choice(("9 h 00", "9 h 30", "10 h 15", "14 h 00", "15 h 45"))
    return f"Demande de rendez-vous en cardiologie — {pt.label}", [
        _letter(gp, f"Madame, Monsieur,\n\nPourriez-vous proposer un rendez-vous de consultation "
                f"à {pt.who}, né{pt.e} le {pt.birth:%d/%m/%Y}, pour {case.motif} ?\n\n"
                f"{case.history}", "Merci d'avance, bien cordialement,"),
        _letter(secretariat, f"Bonjour Docteur,\n\nNous proposons à {pt.who} un rendez-vous "
                f"le {_fr_long_date(slot)} à {hour} avec le Dr Antoine Moreau (consultations "
                "de cardiologie, bâtiment B, 2e étage). Merci de lui rappeler d'apporter ses "
                "derniers examens et son ordonnance.", "Cordialement,"),
        _letter(gp, f"Merci, c'est transmis : {pt.who} confirme sa venue.", "Bien cordialement,"),
        _letter(secretariat, "Bien noté, merci.", "Cordialement,"),
    ]


def _s_programmation(rng: random.Random, pt: _Patient, who: Sequence[_Person],
                     when: datetime) -> tuple[str, list[str]]:
    cardiologist, gp = who[0], who[1]
    case = rng.choice(_CASES["cardiologie"])
    return f"Suivi cardiologique de {pt.who}", [
        _letter(cardiologist, f"{gp.greeting}\n\nJ'ai revu {pt.who} ce jour. {case.finding}\n\n"
                "Je demande au secrétariat, en copie, de programmer une échocardiographie de "
                "contrôle dans six mois."),
        _letter(gp, f"Merci. Faut-il {case.question} ?", "Bien confraternellement,"),
        _letter(cardiologist, f"Pour répondre à votre question : {case.answer}.",
                "Bien à vous,"),
        _letter(gp, "Parfait, merci.", "Bien cordialement,"),
    ]


_SCRIPTS: dict[str, _Script] = {
    "adressage": _Script(("gp", "specialist"), _s_adressage),
    "avis": _Script(("gp", "specialist"), _s_avis),
    "soins": _Script(("gp", "nurse"), _s_soins),
    "retour_nurse": _Script(("specialist", "nurse", "gp"), _s_retour),
    "retour_gp": _Script(("specialist", "gp", "nurse"), _s_retour),
    # A colleague (partner, locum) writes and copies the owner, the patient's usual carer.
    "adressage_cc": _Script(("gp", "specialist", "gp"), _s_adressage),
    "soins_cc": _Script(("gp", "nurse", "nurse"), _s_soins),
    "rdv": _Script(("gp", "secretariat"), _s_rdv),
    "programmation": _Script(("specialist", "gp", "secretariat"), _s_programmation),
}

# For each owner role: (script, owner's participant index). Index 2 means copied, never writing.
_ROLE_SCRIPTS: dict[str, tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]] = {
    "medecin": ((("adressage", 0), ("avis", 0), ("soins", 0)),
                (("retour_nurse", 2), ("adressage_cc", 2))),
    "infirmier": ((("soins", 1), ("retour_nurse", 1)), (("retour_gp", 2), ("soins_cc", 2))),
    "secretariat": ((("rdv", 1),), (("programmation", 2),)),
}


def _participants(planner: _Planner, script: _Script, owner_at: int) -> list[_Person]:
    people = []
    for i, kind in enumerate(script.kinds):
        if i == owner_at:
            people.append(planner.owner)
        elif kind == "specialist" and script.kinds[-1] == "secretariat":
            people.append(next(p for p in _PEOPLE if p.specialty == "cardiologie"
                               and p.kind == "specialist"))
        elif kind == "specialist" and script.write is _s_retour:
            people.append(planner.rng.choice([p for p in planner.others("specialist", "service")
                                              if p.in_hospital]))
        else:
            taken = {p.address for p in people}
            people.append(planner.rng.choice([p for p in planner.others(kind)
                                              if p.address not in taken]))
    return people


def _plan_conversation(planner: _Planner, inbox: int, end: datetime) -> None:
    rng = planner.rng
    involved, passive = _ROLE_SCRIPTS[planner.role]
    # Turns alternate between speakers 0 and 1. With the owner speaking, INBOX gets the other
    # side and Sent the owner's; without, every turn reaches INBOX.
    name, owner_at = rng.choice(involved)
    speaks = owner_at < 2
    turns = 2 * inbox if owner_at == 0 else 2 * inbox - 1 + (rng.random() < 0.5)
    sent_needed = turns - inbox
    if not speaks or sent_needed > planner.sent_left or turns > 4:
        name, owner_at = rng.choice(passive)
        turns, sent_needed = min(inbox, 4), 0
    planner.sent_left -= sent_needed
    script = _SCRIPTS[name]
    people = _participants(planner, script, owner_at)
    patient = planner.patient()
    times = _thread_times(rng, end, turns)
    subject, texts = script.write(rng, patient, people, times[0])
    parent: _Spec | None = None
    for turn in range(turns):
        author = people[turn % 2]
        to = [people[0] if author is people[1] else people[1]]
        cc = [p for p in people[2:] if p is not author]
        folder = "Sent" if author is planner.owner else "INBOX"
        text = texts[turn] if parent is None else _quote_reply(texts[turn], parent)
        parent = planner.add(folder, "conversation", times[turn], author, to, cc=tuple(cc),
                             patient=patient, subject=subject if turn == 0 else f"RE: {subject}",
                             text=text, parent=parent,
                             notify=turn == 0 and rng.random() < 0.15)


def _thread_times(rng: random.Random, end: datetime, turns: int) -> list[datetime]:
    """When each turn was written, walking back from the last one.

    Each answer comes a few hours to two days after the message it answers; a time that falls
    at night moves back to the previous evening, which keeps the turns in order.
    """
    times = [end]
    for _ in range(turns - 1):
        times.append(_daytime_before(rng, times[-1] - timedelta(hours=rng.uniform(0.5, 40))))
    return times[::-1]


def _daytime_before(rng: random.Random, moment: datetime) -> datetime:
    """``moment``, or the evening before it when it falls at night (people write by day)."""
    local = paris_time(moment)
    if 7 <= local.hour < 21:
        return moment.replace(microsecond=0)
    day = local.date() - timedelta(days=1 if local.hour < 7 else 0)
    return _from_paris(day, rng.randrange(17, 20), rng.randrange(60), rng.randrange(60))


def _quote_reply(text: str, parent: _Spec) -> str:
    lines = parent.text.rstrip().split("\n")
    quoted = "\n".join(f"> {line}" if line else ">" for line in lines)
    sent = paris_time(parent.date)
    header = f"Le {sent:%d/%m/%Y} à {sent:%H:%M}, {parent.author.name} a écrit :"
    return f"{text.rstrip()}\n\n{header}\n{quoted}\n"


# --- notifications -----------------------------------------------------------------------------


def _owner_outgoing(planner: _Planner, when: datetime, notify: bool,
                    folder: str = "Sent") -> _Spec:
    """A message the owner sent on their own: a referral, a report, a transmission."""
    rng = planner.rng
    pt = planner.patient()
    owner = planner.owner
    if planner.role == "medecin":
        people = _participants(planner, _SCRIPTS["adressage"], 0)
        subject, texts = _s_adressage(rng, pt, people, when)
        to, text = people[1], texts[0]
    elif planner.role == "infirmier":
        to = planner.pick("gp")
        issue, detail = rng.choice(_NURSE_ISSUES)
        subject = f"Transmission : {pt.label} — {issue}"
        text = _letter(owner, f"Bonjour Docteur,\n\nPassage ce matin chez {pt.who}. {detail}",
                       "Bien cordialement,")
    else:
        people = _participants(planner, _SCRIPTS["rdv"], 1)
        _, texts = _s_rdv(rng, pt, people, when)
        to, subject, text = people[0], f"Rendez-vous en cardiologie — {pt.label}", texts[1]
    return planner.add(folder, "conversation", when, owner, [to], patient=pt, subject=subject,
                       text=text, notify=notify)


def _plan_mdn(planner: _Planner, end: datetime) -> None:
    planner.sent_left -= 1
    sent_at = _daytime_before(planner.rng, end - timedelta(hours=planner.rng.uniform(0.2, 48)))
    original = _owner_outgoing(planner, sent_at, notify=True)
    reader = original.to[0]
    planner.add("INBOX", "mdn", end, reader, [planner.owner], original=original,
                subject=f"Accusé de lecture : {original.subject}")


def _plan_dsn(planner: _Planner, end: datetime) -> None:
    """A bounce for a mistyped address; the original stays in Sent when there is room."""
    rng = planner.rng
    # Most bounces come back within seconds; some after hours of retries.
    delay = timedelta(minutes=rng.uniform(0.2, 3) if rng.random() < 0.7 else 60 * 4)
    sent_at = _daytime_before(rng, end - delay)
    if planner.sent_left > 0:
        planner.sent_left -= 1
        original = _owner_outgoing(planner, sent_at, notify=False)
    else:
        # The original was deleted from Sent long ago: only its headers survive in the report.
        original = _owner_outgoing(planner, sent_at, notify=False)
        planner.specs.pop()
    right = original.to[0]
    local, _, domain = right.address.partition("@")
    wrong = (f"{local.split('.')[-1]}@{domain}" if rng.random() < 0.6
             else f"{local}@{domain.replace('mssante', 'mssnate')}")
    original.to = (_Person(right.name, wrong, right.kind, right.specialty, right.org),)
    daemon = _Person("Mail Delivery System", f"MAILER-DAEMON@{planner.owner.domain}", "daemon")
    planner.add("INBOX", "dsn", sent_at + delay, daemon, [planner.owner], original=original,
                subject="Undelivered Mail Returned to Sender")


def _plan_standalone_sent(planner: _Planner) -> None:
    while planner.sent_left > 0:
        planner.sent_left -= 1
        when = planner.moment(oldest_fraction=0.5)
        _owner_outgoing(planner, when, notify=planner.rng.random() < 0.2)


def _plan_other_folders(planner: _Planner, count: int) -> None:
    rng = planner.rng
    singles = [k for k in _ROLE_WEIGHTS[planner.role] if k in _SINGLE_KINDS]
    for _ in range(min(40, count // 10)):
        when = planner.moment(oldest_fraction=1.0, newest_fraction=0.3)
        _plan_single(planner, rng.choice(singles), when, folder="Archive")
    for _ in range(min(20, count // 20)):
        kind = rng.choice(["admin", "lab", *singles])
        _plan_single(planner, kind, planner.moment(oldest_fraction=0.4), folder="Trash")


def _plan_drafts(planner: _Planner, count: int) -> None:
    rng = planner.rng
    if count < 2:
        return
    when = planner.now - timedelta(hours=rng.uniform(1, 30))
    draft = _owner_outgoing(planner, when, notify=False, folder="Drafts")
    draft.text = "\n\n".join(draft.text.split("\n\n")[:2]) + "\n\n[à compléter avant envoi]\n"
    incoming = [s for s in planner.specs if s.folder == "INBOX" and s.kind == "conversation"]
    if not incoming:
        return
    target = max(incoming, key=lambda s: s.date)
    planner.add("Drafts", "conversation", planner.now - timedelta(minutes=rng.uniform(1, 50)),
                planner.owner, [target.author], patient=target.patient,
                subject=target.subject if target.subject.startswith("RE: ")
                else f"RE: {target.subject}",
                text=_quote_reply("Merci pour votre message. Je", target), parent=target)


def _assign_flags(planner: _Planner) -> None:
    rng = planner.rng
    answered = {id(s.parent) for s in planner.specs
                if s.parent is not None and s.author is planner.owner and s.folder == "Sent"}
    inbox = sorted((s for s in planner.specs if s.folder == "INBOX"), key=lambda s: s.date)
    unread_from = len(inbox) - max(1, round(len(inbox) * 0.1))
    for i, spec in enumerate(inbox):
        human = spec.kind not in ("dsn", "mdn", "admin") and spec.author.kind != "lab"
        if id(spec) in answered or (human and i < unread_from and rng.random() < 0.06):
            spec.flags.add("\\Answered")
        if "\\Answered" in spec.flags or (i < unread_from and rng.random() > 0.01):
            spec.flags.add("\\Seen")
        if rng.random() < 0.05 and spec.kind not in ("dsn", "mdn"):
            spec.flags.add("\\Flagged")
    for spec in planner.specs:
        if spec.folder in ("Sent", "Archive", "Trash"):
            spec.flags.add("\\Seen")
        if spec.folder == "Archive" and rng.random() < 0.1:
            spec.flags.add("\\Flagged")
        if spec.folder == "Drafts":
            spec.flags.update(("\\Draft", "\\Seen"))


# ---------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------


def _render(spec: _Spec, owner: _Person) -> bytes:
    rng = random.Random(spec.seed)
    if spec.kind == "dsn":
        content, part = _c_dsn(spec, rng)
    elif spec.kind == "mdn":
        content, part = _c_mdn(spec, rng)
    else:
        content = _CONTENT[spec.kind](spec, rng)
        part = _assemble(content, rng)
    headers = _envelope(spec, owner, content, rng) + part.headers
    return (CRLF.join(headers) + CRLF + CRLF).encode("ascii") + part.body


def _envelope(spec: _Spec, owner: _Person, content: _Content, rng: random.Random) -> list[str]:
    q = spec.author.domain in _Q_ENCODING_DOMAINS
    date_header = format_datetime(paris_time(spec.date))
    headers = []
    if spec.folder not in ("Sent", "Drafts"):
        sender = "" if spec.kind == "dsn" else spec.author.address
        headers += [f"Return-Path: <{sender}>", _received(spec, owner, rng)]
    headers += [f"Date: {date_header}", _fold("From", _format_address(spec.author, q)),
                _fold("To", _address_list(spec.to, q))]
    if spec.cc:
        headers.append(_fold("Cc", _address_list(spec.cc, q)))
    headers += [_fold("Subject", _encode_text(content.subject, q)),
                f"Message-ID: {spec.message_id}"]
    if spec.parent is not None:
        headers += [f"In-Reply-To: {spec.parent.message_id}",
                    _fold("References", " ".join(spec.references))]
    if spec.notify:
        headers.append(_fold("Disposition-Notification-To", _format_address(spec.author, q)))
    mailer = _MAILERS.get(spec.author.domain)
    if mailer and spec.kind != "dsn":
        headers.append(f"X-Mailer: {mailer}")
    return [*headers, *content.headers, "MIME-Version: 1.0"]


def _received(spec: _Spec, owner: _Person, rng: random.Random) -> str:
    local = paris_time(spec.date + timedelta(seconds=2))
    return (f"Received: from smtp.{spec.author.domain} (smtp.{spec.author.domain} "
            f"[192.0.2.{rng.randrange(2, 250)}]){CRLF}\tby mx.{owner.domain} with ESMTPS id "
            f"{rng.getrandbits(40):010X}{CRLF}\tfor <{owner.address}>; {format_datetime(local)}")


def _owner_name(spec: _Spec) -> str:
    return spec.to[0].name if spec.to else ""


def _need_patient(spec: _Spec) -> _Patient:
    if spec.patient is None:
        raise ValueError(f"{spec.kind} message without a patient")
    return spec.patient


def _c_conversation(spec: _Spec, rng: random.Random) -> _Content:
    content = _Content(spec.subject, spec.text)
    if rng.random() < 0.45:
        content.html = _html_from_text(spec.text, spec.subject)
    if rng.random() < 0.3:
        content.cte = "8bit"
    return content


def _stay_for(spec: _Spec, rng: random.Random) -> _Stay:
    return rng.choice(_STAYS.get(spec.author.specialty, _STAYS["gériatrie"]))


def _crh_lines(spec: _Spec, stay: _Stay, days: int, signer: _Person) -> list[str]:
    pt = _need_patient(spec)
    out_day = paris_time(spec.date).date() - timedelta(days=1)
    in_day = out_day - timedelta(days=days)
    return [
        f"# {signer.org}",
        f"Service de {signer.specialty} — 1 rue de l'Exemple, 99000 Démo-Ville",
        "Tél. secrétariat : 01 99 00 42 17",
        "",
        "## Compte rendu d'hospitalisation",
        f"Patient{pt.e} : {pt.who}, né{pt.e} le {pt.birth:%d/%m/%Y} ({pt.age(out_day)} ans)",
        f"Séjour du {in_day:%d/%m/%Y} au {out_day:%d/%m/%Y}",
        f"Destinataire : {_owner_name(spec)}",
        "",
        "## Motif d'hospitalisation",
        stay.motif[0].upper() + stay.motif[1:] + ".",
        "",
        "## Histoire de la maladie",
        stay.story,
        "",
        "## Examens complémentaires",
        *(f"- {exam}" for exam in stay.exams),
        "",
        "## Traitement de sortie",
        *(f"- {treatment}" for treatment in stay.treatments),
        "",
        "## Suivi proposé",
        *(f"- {item}" for item in stay.follow_up),
        "",
        f"{signer.name}, {signer.title or 'praticien hospitalier'}",
        "Document de démonstration — patient fictif.",
    ]


def _monitoring_lines(rng: random.Random, start: date, days: int) -> list[str]:
    """Pages of vital signs: what makes a full discharge file large."""
    lines = ["", "## Feuille de surveillance"]
    for day in range(days):
        current = start + timedelta(days=day)
        for hour in range(24):
            lines.append(
                f"{current:%d/%m/%Y} {hour:02d}:00   TA {rng.randrange(105, 150)}/"
                f"{rng.randrange(60, 90)} mmHg   FC {rng.randrange(58, 98)}/min   SpO2 "
                f"{rng.randrange(92, 100)} %   T {rng.uniform(36.2, 38.1):.1f} °C   "
                f"Douleur EVA {rng.randrange(0, 5)}/10   Diurèse {rng.randrange(0, 400)} mL")
    return lines


def _signer(spec: _Spec, rng: random.Random) -> _Person:
    """Who signs what a service, a laboratory or an imaging centre sends: one of its doctors."""
    author = spec.author
    if author.is_doctor:
        return author
    doctors = [p for p in _PEOPLE if p.is_doctor and p.org == author.org
               and p.specialty == author.specialty]
    if doctors:
        return doctors[0]
    first, last = rng.choice((("Julie", "Mercier"), ("Marc", "Fontaine"), ("Anne", "Chevalier")))
    return _Person(f"Dr {first} {last}", author.address, "specialist", author.specialty,
                   author.org, "Praticien hospitalier", first in ("Julie", "Anne"))


def _c_crh(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    stay = _stay_for(spec, rng)
    # The one large discharge file of the set covers a long stay, hour by hour.
    days = 62 if spec.big == "pdf" else rng.randrange(2, 12)
    signer = _signer(spec, rng)
    lines = _crh_lines(spec, stay, days, signer)
    if spec.big == "pdf":
        lines += _monitoring_lines(rng, paris_time(spec.date).date() - timedelta(days=days + 1),
                                   days)
    pdf = make_pdf(lines, title=f"Compte rendu d'hospitalisation — {pt.label}",
                   created=spec.date)
    subject = rng.choice((
        f"Compte rendu d'hospitalisation — {pt.who}",
        f"CRH {pt.label} — sortie du {_fr_date(spec.date - timedelta(days=1))}",
        f"Compte rendu d'hospitalisation de votre patient{pt.e} {pt.label}",
    ))
    body = _letter(signer, f"{spec.to[0].greeting}\n\nVeuillez trouver ci-joint le compte "
                   f"rendu d'hospitalisation de {pt.who}, hospitalisé{pt.e} du "
                   f"{_fr_date(spec.date - timedelta(days=days + 1))} au "
                   f"{_fr_date(spec.date - timedelta(days=1))} pour {stay.motif}.\n\n"
                   f"Traitement de sortie :\n" + "\n".join(f"- {t}" for t in stay.treatments),
                   footer=True)
    filename = (f"Compte rendu d'hospitalisation {pt.label}.pdf" if rng.random() < 0.4
                else f"CRH_{_ascii(pt.family)}_{_ascii(pt.given)}_{spec.date:%Y%m%d}.pdf")
    content = _Content(subject, body, attachments=[_Attachment(filename, "application/pdf", pdf)])
    if spec.big == "pdf":
        content.attachments[0].filename = f"Dossier de sortie complet {pt.label}.pdf"
    if rng.random() < 0.5:
        content.html = _html_from_text(body, subject, logo_cid=f"logo.{spec.seed:x}@ch-demo")
        content.attachments.append(_Attachment("logo.png", "image/png", _logo_png(),
                                               cid=f"logo.{spec.seed:x}@ch-demo"))
    _maybe_latin1(spec, content)
    return content


def _maybe_latin1(spec: _Spec, content: _Content) -> None:
    """Older hospital software writes ISO-8859-1 when the text allows it."""
    if spec.author.domain not in _LATIN1_DOMAINS:
        return
    try:
        content.text.encode("iso-8859-1")
        content.html.encode("iso-8859-1")
    except UnicodeEncodeError:
        return
    content.charset = "iso-8859-1"


def _lab_rows(rng: random.Random) -> list[tuple[str, list[tuple[_LabTest, str, str]]]]:
    panels = rng.sample(list(_LAB_PANELS), rng.randrange(1, 4))
    return [(panel, [(t, *_lab_value(t, rng)) for t in _LAB_PANELS[panel]]) for panel in panels]


def _lab_text(rows: list[tuple[str, list[tuple[_LabTest, str, str]]]]) -> str:
    lines = []
    for panel, tests in rows:
        lines += ["", panel.upper()]
        for test, value, flag in tests:
            star = f" {flag}*" if flag else ""
            lines.append(f"  {test.name:<36} {value + star:>9} {test.unit:<16} "
                         f"({_fmt_range(test)})")
    return "\n".join(lines)


def _lab_html(rows: list[tuple[str, list[tuple[_LabTest, str, str]]]], header: str) -> str:
    cells = []
    for panel, tests in rows:
        cells.append(f'<tr><th colspan="4" style="text-align:left; background:#e8eef6; '
                     f'padding:4px;">{html.escape(panel)}</th></tr>')
        for test, value, flag in tests:
            style = ' style="color:#b00020; font-weight:bold;"' if flag else ""
            cells.append(f"<tr><td>{html.escape(test.name)}</td><td{style}>{value}"
                         f"{' ' + flag if flag else ''}</td><td>{html.escape(test.unit)}</td>"
                         f"<td>{html.escape(_fmt_range(test))}</td></tr>")
    return ("<!DOCTYPE html><html lang=\"fr\"><head><meta charset=\"utf-8\"></head>"
            "<body style=\"font-family: Arial, sans-serif; font-size: 13px;\">"
            f"<p>{html.escape(header).replace(chr(10), '<br>')}</p>"
            "<table border=\"1\" cellspacing=\"0\" cellpadding=\"4\" "
            "style=\"border-collapse: collapse;\"><thead><tr><th>Analyse</th><th>Résultat</th>"
            "<th>Unité</th><th>Valeurs de référence</th></tr></thead><tbody>"
            + "".join(cells) + "</tbody></table>"
            "<p>Les valeurs en rouge sont hors des valeurs de référence.</p></body></html>\n")


def _c_lab(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    rows = _lab_rows(rng)
    folder = f"{rng.randrange(10**8):08d}"
    sampled = paris_time(spec.date - timedelta(hours=rng.uniform(3, 30)))
    header = (f"Laboratoire BioDémo — 3 place de l'Exemple, 99000 Démo-Ville\n"
              f"Biologiste responsable : Dr Nathalie Roux\n\n"
              f"Patient{pt.e} : {pt.who}, né{pt.e} le {pt.birth:%d/%m/%Y}\n"
              f"Prescripteur : {_owner_name(spec)}\n"
              f"Prélèvement du {sampled:%d/%m/%Y} à {sampled:%H:%M} — dossier n° {folder}")
    partial = rng.random() < 0.2
    status = "Résultats partiels : la suite vous parviendra dès validation." if partial \
        else "Résultats complets, validés biologiquement."
    text = f"{header}\n{_lab_text(rows)}\n\n{status}\n* valeur hors des valeurs de référence\n"
    subject = rng.choice((
        f"Résultats d'analyses biologiques — {pt.who}",
        f"Résultats biologiques {pt.label} du {sampled:%d/%m/%Y}",
        f"[Résultats] {pt.label} — dossier {folder}",
    ))
    if partial:
        subject = "Résultats partiels — " + subject
    content = _Content(subject, _letter(spec.author, text, "Cordialement,", footer=True))
    if spec.author.kind == "biologist":
        _critical_value(content, pt, spec, rng)
    elif rng.random() < 0.8:
        content.html = _lab_html(rows, header)
    if rng.random() < 0.35:
        lines = ["# Laboratoire BioDémo", *header.split("\n"), "", *_lab_text(rows).split("\n")]
        pdf = make_pdf(lines, title=f"Résultats {pt.label}", created=spec.date)
        content.attachments.append(_Attachment(f"Resultats_{_ascii(pt.family)}_{folder}.pdf",
                                               "application/pdf", pdf))
    return content


_CRITICAL_VALUES = ("kaliémie 6,4 mmol/L", "natrémie 118 mmol/L", "INR 6,8",
                    "hémoglobine 6,2 g/dL", "plaquettes 18 G/L")


def _critical_value(content: _Content, pt: _Patient, spec: _Spec, rng: random.Random) -> None:
    value = rng.choice(_CRITICAL_VALUES)
    content.subject = f"Valeur critique — {pt.label} : {value}"
    content.text = _letter(spec.author, f"Bonjour Docteur,\n\nNous vous signalons une valeur "
                           f"critique pour {pt.who} : {value} (résultat contrôlé sur un second "
                           "passage). Nous avons tenté de vous joindre par téléphone sans "
                           "succès.", "Cordialement,", footer=True)
    content.headers += ["Importance: high", "X-Priority: 1 (Highest)"]


def _c_radio(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    # The one large image of the set is an ultrasound still, so the exam must be an ultrasound.
    exam = _EXAMS[0] if spec.big == "png" else rng.choice(_EXAMS)
    radiologist = next(p for p in _PEOPLE if p.kind == "radiologist")
    lines = ["# Centre d'imagerie Démo", "12 avenue de l'Exemple, 99000 Démo-Ville", "",
             f"## {exam.name}", f"Patient{pt.e} : {pt.who}, né{pt.e} le {pt.birth:%d/%m/%Y}",
             f"Examen du {_fr_date(spec.date)} — demandé par {_owner_name(spec)}", "",
             f"Indication : {exam.indication}.", f"Technique : {exam.technique}", "",
             "## Résultats", *exam.findings, "", "## Conclusion", exam.conclusion, "",
             f"{radiologist.name}, radiologue"]
    pdf = make_pdf(lines, title=f"{exam.name} — {pt.label}", created=spec.date)
    filename = (f"CR {exam.name.lower()} {pt.family}.pdf" if rng.random() < 0.5
                else f"CR_{exam.slug}_{_ascii(pt.family)}.pdf")
    text = _letter(spec.author, f"Bonjour,\n\nVeuillez trouver ci-joint le compte rendu de "
                   f"l'examen réalisé le {_fr_date(spec.date)} pour {pt.who} : "
                   f"{exam.name.lower()}.\n\nConclusion : {exam.conclusion}\n\nLes images sont "
                   "consultables sur le portail d'imagerie du centre.", "Cordialement,",
                   footer=True)
    content = _Content(f"Compte rendu : {exam.name} — {pt.label}", text,
                       attachments=[_Attachment(filename, "application/pdf", pdf)])
    if spec.big == "png":
        content.attachments.append(_Attachment("image échographique 1.png", "image/png",
                                               _ultrasound_png(rng), description="Image clé"))
    return content


def _c_xdm(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    # Only hospitals write discharge letters; practices send consultation reports.
    hospital_doc = rng.choice(("crh", "crh", "consult")) if spec.author.in_hospital else "consult"
    kind = {"lab": "lab", "radiology": "radio"}.get(spec.author.kind, hospital_doc)
    doc = _DOC_TYPES[kind]
    signer = _signer(spec, rng)
    sections = _xdm_sections(kind, spec, rng)
    pdf = make_pdf([f"# {signer.org}", f"## {doc.display}", f"Patient{pt.e} : {pt.who}, "
                    f"né{pt.e} le {pt.birth:%d/%m/%Y}", "",
                    *(f"{title} : {text}" for title, text in sections), "", signer.name],
                   title=doc.display, created=spec.date)
    archive = _xdm_archive(pt, signer, doc, spec.date, sections, pdf, rng)
    subject = f"{XDM_SUBJECT_PREFIX}{doc.label} {pt.family} {pt.given} {pt.birth:%d/%m/%Y}"
    text = _letter(signer, f"Bonjour,\n\nVous trouverez ci-joint le document « {doc.display} » "
                   f"concernant {pt.who}, au format IHE XDM (document CDA R2 et sa version "
                   "PDF).\n\nCe message a été émis par le logiciel de l'établissement ; pour "
                   "toute question, répondez à cette adresse.", "Cordialement,", footer=True)
    content = _Content(subject, text,
                       attachments=[_Attachment("IHE_XDM.ZIP", "application/zip", archive)],
                       headers=[f"X-MSS-CODECDA: {doc.code}", "X-MSS-INS: O"])
    if rng.random() < 0.5:
        content.headers.append("X-MSS-NIL: NIL-TEST-000123")
    return content


def _xdm_sections(kind: str, spec: _Spec, rng: random.Random) -> list[tuple[str, str]]:
    """The narrative sections of the CDA document, matching its type."""
    if kind == "lab":
        return [(panel, "; ".join(f"{t.name} {value} {t.unit}".rstrip() for t, value, _ in tests))
                for panel, tests in _lab_rows(rng)]
    if kind == "radio":
        exam = rng.choice(_EXAMS)
        return [("Examen", exam.name), ("Indication", exam.indication),
                ("Résultats", " ".join(exam.findings)), ("Conclusion", exam.conclusion)]
    if kind == "consult":
        case = rng.choice(_CASES.get(spec.author.specialty, _CASES["gériatrie"]))
        return [("Motif", case.motif), ("Histoire", case.history), ("Examen", case.finding),
                ("Conduite à tenir", case.plan)]
    stay = _stay_for(spec, rng)
    return [("Motif", stay.motif), ("Synthèse", stay.story),
            ("Traitement", "; ".join(stay.treatments)), ("Suivi", " ".join(stay.follow_up))]


def _c_consult(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    case = rng.choice(_CASES.get(spec.author.specialty, _CASES["gériatrie"]))
    text = _letter(spec.author, f"{spec.to[0].greeting}\n\nJ'ai vu en consultation ce "
                   f"{_fr_long_date(spec.date)} {pt.who}, {pt.age(spec.date.date())} ans, "
                   f"que vous m'aviez adressé{pt.e} pour {case.motif}.\n\n{case.history}\n\n"
                   f"{case.finding}\n\nConduite à tenir : {case.plan}\n\nJe {pt.pronoun} "
                   "reverrai dans trois mois.", footer=True)
    subject = f"Courrier de consultation — {pt.who}"
    content = _Content(subject, text)
    if rng.random() < 0.5:
        content.html = _html_from_text(text, subject)
    if rng.random() < 0.4:
        pdf = make_pdf([f"# {spec.author.org}", f"## Consultation de {spec.author.specialty}",
                        *text.split("\n")], title=subject, created=spec.date)
        content.attachments.append(_Attachment(
            f"Courrier_consultation_{_ascii(pt.family)}.pdf", "application/pdf", pdf))
    return content


def _c_nurse_note(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    issue, detail = rng.choice(_NURSE_ISSUES)
    text = _letter(spec.author, f"Bonjour,\n\nPassage ce matin chez {pt.who}. {detail}",
                   "Bien cordialement,")
    content = _Content(f"Transmission : {pt.label} — {issue}", text)
    content.cte = "8bit" if rng.random() < 0.5 else "quoted-printable"
    return content


def _c_urgences(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    stay = _stay_for(spec, rng)
    outcome = rng.choice(("Retour à domicile le jour même.",
                          "Hospitalisation en médecine polyvalente.",
                          "Transfert en unité d'hospitalisation de courte durée."))
    text = (f"Madame, Monsieur,\n\nNous vous informons que votre patient{pt.e} {pt.who}, "
            f"né{pt.e} le {pt.birth:%d/%m/%Y}, a été pris{'e' if pt.female else ''} en charge "
            f"aux urgences le {_fr_date(spec.date)} pour {stay.motif}.\n\nOrientation : "
            f"{outcome}\n\nLe compte rendu de passage vous sera adressé séparément.\n\n"
            "Service des urgences\nCH Démo\n")
    content = _Content(f"Information : passage aux urgences de {pt.who}", text)
    _maybe_latin1(spec, content)
    return content


def _c_admin(spec: _Spec, rng: random.Random) -> _Content:
    subject, body = rng.choice(_ADMIN_NOTES.get(spec.author.kind, _ADMIN_NOTES["cpts"]))
    text = f"{body}\n\n{_signature(spec.author)}\n"
    content = _Content(subject, text)
    if rng.random() < 0.5:
        content.html = _html_from_text(text, subject)
    return content


def _c_prescription(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    care = rng.choice(_HOME_CARE)
    lines = [f"# {spec.author.name}", spec.author.title, spec.author.org,
             "8 rue de l'Exemple, 99000 Démo-Ville", "", f"Le {_fr_date(spec.date)}", "",
             f"## Ordonnance — {pt.who}", "",
             f"Soins infirmiers à domicile : {care}.",
             "Pendant un mois, dimanches et jours fériés compris.", "", spec.author.name]
    pdf = make_pdf(lines, title=f"Ordonnance {pt.label}", created=spec.date)
    text = _letter(spec.author, f"{spec.to[0].greeting}\n\nCi-joint l'ordonnance de soins "
                   f"pour {pt.who} : {care}. Merci de me tenir informé(e) de l'évolution.",
                   "Bien cordialement,")
    return _Content(f"Ordonnance de soins infirmiers — {pt.label}", text, attachments=[
        _Attachment(f"Ordonnance_soins_{_ascii(pt.family)}.pdf", "application/pdf", pdf)])


def _c_referral_in(spec: _Spec, rng: random.Random) -> _Content:
    pt = _need_patient(spec)
    case = rng.choice(_CASES["cardiologie"])
    letter = (f"Cher confrère,\n\nJe vous adresse {pt.who}, {pt.age(spec.date.date())} ans, pour "
              f"{case.motif}.\n\n{case.history}\n\nMerci de bien vouloir {pt.pronoun} recevoir.")
    pdf = make_pdf([f"# {spec.author.name}", spec.author.org, "", "## Lettre d'adressage",
                    *letter.split("\n")], title=f"Adressage {pt.label}", created=spec.date)
    text = _letter(spec.author, f"Madame, Monsieur,\n\nPourriez-vous proposer une consultation "
                   f"de cardiologie à {pt.who}, né{pt.e} le {pt.birth:%d/%m/%Y} ? Le courrier "
                   "d'adressage est joint.", "Bien cordialement,")
    name = (f"Lettre d'adressage {pt.label}.pdf" if rng.random() < 0.5
            else f"Adressage_{_ascii(pt.family)}.pdf")
    return _Content(f"Demande de consultation — {pt.label}", text,
                    attachments=[_Attachment(name, "application/pdf", pdf)])


_CONTENT: dict[str, Callable[[_Spec, random.Random], _Content]] = {
    "conversation": _c_conversation,
    "crh": _c_crh,
    "lab": _c_lab,
    "radio": _c_radio,
    "xdm": _c_xdm,
    "consult": _c_consult,
    "nurse_note": _c_nurse_note,
    "urgences": _c_urgences,
    "admin": _c_admin,
    "prescription": _c_prescription,
    "referral_in": _c_referral_in,
}


def _original_headers(original: _Spec) -> str:
    lines = [f"Date: {format_datetime(paris_time(original.date))}",
             _fold("From", _format_address(original.author)),
             _fold("To", _address_list(original.to)),
             _fold("Subject", _encode_text(original.subject)),
             f"Message-ID: {original.message_id}"]
    if original.notify:
        lines.append(_fold("Disposition-Notification-To", _format_address(original.author)))
    return CRLF.join([*lines, "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"])


def _c_dsn(spec: _Spec, rng: random.Random) -> tuple[_Content, _Part]:
    original = spec.original
    assert original is not None
    recipient = original.to[0].address
    host = spec.author.domain
    domain = recipient.partition("@")[2]
    if "mssnate" in domain:
        diagnostic = f"Host or domain name not found. Name service error for name={domain}"
        status, code = "5.4.4", f"X-Postfix; Host or domain name not found: {domain}"
        remote = ""
    else:
        diagnostic = (f"host mx.{domain}[192.0.2.25] said: 550 5.1.1 <{recipient}>: Recipient "
                      "address rejected: User unknown in virtual mailbox table (in reply to "
                      "RCPT TO command)")
        status, code = "5.1.1", (f"smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: "
                                 "User unknown in virtual mailbox table")
        remote = f"Remote-MTA: dns; mx.{domain}\r\n"
    human = (f"This is the mail system at host mx.{host}.\n\nI'm sorry to have to inform you "
             "that your message could not\nbe delivered to one or more recipients. It's "
             "attached below.\n\nFor further assistance, please send mail to postmaster.\n\n"
             f"                   The mail system\n\n<{recipient}>: {diagnostic}\n")
    queue_id = f"{rng.getrandbits(40):010X}"
    arrival = format_datetime(paris_time(original.date))
    report = (f"Reporting-MTA: dns; mx.{host}\r\nX-Postfix-Queue-ID: {queue_id}\r\n"
              f"X-Postfix-Sender: rfc822; {original.author.address}\r\n"
              f"Arrival-Date: {arrival}\r\n\r\nFinal-Recipient: rfc822; {recipient}\r\n"
              f"Original-Recipient: rfc822;{recipient}\r\nAction: failed\r\nStatus: {status}\r\n"
              f"{remote}Diagnostic-Code: {code}\r\n")
    parts = [
        _Part(["Content-Description: Notification", "Content-Type: text/plain; charset=us-ascii"],
              _crlf(human.encode("ascii"))),
        _Part(["Content-Description: Delivery report", "Content-Type: message/delivery-status"],
              report.encode("ascii")),
        _Part(["Content-Description: Undelivered Message Headers",
               "Content-Type: text/rfc822-headers"],
              (_original_headers(original) + CRLF).encode("ascii")),
    ]
    part = _multipart("report", parts, rng, " report-type=delivery-status;")
    return _Content(spec.subject, human, headers=["Auto-Submitted: auto-replied"]), part


def _c_mdn(spec: _Spec, rng: random.Random) -> tuple[_Content, _Part]:
    original = spec.original
    assert original is not None
    reader = spec.author
    human = (f"Ceci est un accusé de lecture pour le message envoyé le "
             f"{_fr_date(original.date)} à {paris_time(original.date):%H:%M} à {reader.address}"
             f"\nObjet : {original.subject}\n\nRemarque : cet accusé de lecture indique seulement "
             "que le message a été affiché sur l'ordinateur du destinataire. Il ne garantit pas "
             "que le destinataire l'a lu ou en a compris le contenu.\n")
    report = (f"Reporting-UA: {reader.domain}; {_MAILERS.get(reader.domain, 'Messagerie')}\r\n"
              f"Original-Recipient: rfc822;{reader.address}\r\n"
              f"Final-Recipient: rfc822;{reader.address}\r\n"
              f"Original-Message-ID: {original.message_id}\r\n"
              "Disposition: manual-action/MDN-sent-manually; displayed\r\n")
    parts = [
        _text_part(human),
        _Part(["Content-Type: message/disposition-notification; name=\"MDNPart2.txt\"",
               "Content-Disposition: inline"], report.encode("ascii")),
        _Part(["Content-Type: text/rfc822-headers; name=\"MDNPart3.txt\"",
               "Content-Disposition: inline"], (_original_headers(original) + CRLF).encode()),
    ]
    part = _multipart("report", parts, rng, " report-type=disposition-notification;")
    return _Content(spec.subject, human), part

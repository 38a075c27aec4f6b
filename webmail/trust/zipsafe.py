"""Reading a ZIP archive that may be hostile: every limit checked while decompressing.

The sizes an archive declares are the attacker's word: a member may claim 1 KB and inflate to
gigabytes. So members are decompressed here, from their raw bytes, with zlib told at each step
how much it may still produce; the archive is refused the moment a limit is passed. Names that
could mean a path outside the archive, links and encrypted members are refused outright.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO

from webmail.i18n import N_

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_END_SIGNATURE = b"PK\x05\x06"
_END_SEARCH = 22 + 65535  # the record, and the longest comment it may be followed by
_CHUNK = 64 * 1024
_SYMLINK = 0o120000
_FILE_TYPE = 0o170000
_DRIVE = re.compile(r"^[A-Za-z]:")
# Compressible text inflates a lot; below this size no ratio is suspicious.
_RATIO_FLOOR = 1024 * 1024


@dataclass(frozen=True)
class ZipLimits:
    max_members: int = 1000
    max_member_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 100 * 1024 * 1024
    max_ratio: int = 100  # uncompressed bytes per compressed byte


class ArchiveRefused(Exception):
    """The archive is not opened; ``reason`` says why, as a French constant (see ``N_``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


TOO_LARGE = N_("archive trop volumineuse")
TOO_MANY = N_("archive contenant trop de fichiers")
BAD_PATH = N_("chemin interdit dans l'archive")
LINK = N_("lien symbolique interdit dans l'archive")
ENCRYPTED = N_("archive chiffrée")
CORRUPT = N_("archive endommagée ou illisible")
METHOD = N_("méthode de compression non prise en charge")


class SafeZip:
    """Members listed at once (names checked); contents decompressed on demand, with the
    total of everything read counted against one budget."""

    def __init__(self, data: bytes, limits: ZipLimits) -> None:
        self.limits = limits
        self._data = data
        self._produced = 0
        if _declared_members(data) > limits.max_members:
            raise ArchiveRefused(TOO_MANY)  # before the central directory is read at all
        try:
            with zipfile.ZipFile(BytesIO(data)) as archive:
                infos = archive.infolist()
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
            raise ArchiveRefused(CORRUPT) from None
        if len(infos) > limits.max_members:
            raise ArchiveRefused(TOO_MANY)
        self._members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            check_member(info)
            if not info.is_dir():
                self._members.setdefault(info.filename, info)
        self._by_folded = {name.casefold(): name for name in self._members}

    @property
    def names(self) -> list[str]:
        return list(self._members)

    def find(self, name: str) -> str | None:
        """The member's real name, matched without regard to case (DOC0001.XML, doc0001.xml)."""
        return self._by_folded.get(name.casefold())

    def read(self, name: str) -> bytes:
        info = self._members[name]
        budget = min(self.limits.max_member_bytes, self.limits.max_total_bytes - self._produced)
        content = _inflate(self._data, info, budget, self.limits.max_ratio)
        self._produced += len(content)
        if zlib.crc32(content) != info.CRC:
            raise ArchiveRefused(CORRUPT)
        return content


def _declared_members(data: bytes) -> int:
    """The member count the end-of-central-directory record gives (0 when not found): the
    standard library would otherwise build every entry of a huge directory before we count."""
    position = data.rfind(_END_SIGNATURE, max(0, len(data) - _END_SEARCH))
    if position < 0 or position + 12 > len(data):
        return 0
    (total,) = struct.unpack_from("<H", data, position + 10)
    return int(total)


def check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    parts = name.replace("\\", "/").split("/")
    if (
        not name
        or "\\" in name
        or "\x00" in name
        or name.startswith("/")
        or _DRIVE.match(name)
        or ".." in parts
    ):
        raise ArchiveRefused(BAD_PATH)
    if (info.external_attr >> 16) & _FILE_TYPE == _SYMLINK:
        raise ArchiveRefused(LINK)
    if info.flag_bits & 0x1:
        raise ArchiveRefused(ENCRYPTED)


def _inflate(data: bytes, info: zipfile.ZipInfo, budget: int, ratio: int) -> bytes:
    """The member's bytes, decompressed from its raw stream: never more than ``budget``."""
    start = _content_offset(data, info)
    raw = memoryview(data)[start : start + info.compress_size]
    if len(raw) != info.compress_size:
        raise ArchiveRefused(CORRUPT)
    if info.compress_type == zipfile.ZIP_STORED:
        if len(raw) > budget:
            raise ArchiveRefused(TOO_LARGE)
        return bytes(raw)
    if info.compress_type != zipfile.ZIP_DEFLATED:
        raise ArchiveRefused(METHOD)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    out = bytearray()
    consumed = 0
    try:
        for offset in range(0, len(raw), _CHUNK):
            pending = bytes(raw[offset : offset + _CHUNK])
            consumed += len(pending)
            while pending:
                # Asking for one byte more than allowed tells "exactly at the limit" from "over".
                out += inflater.decompress(pending, budget - len(out) + 1)
                pending = inflater.unconsumed_tail
                _check_growth(len(out), consumed, budget, ratio)
        out += inflater.flush(budget - len(out) + 1)
    except zlib.error:
        raise ArchiveRefused(CORRUPT) from None
    _check_growth(len(out), consumed, budget, ratio)
    return bytes(out)


def _check_growth(produced: int, consumed: int, budget: int, ratio: int) -> None:
    if produced > budget:
        raise ArchiveRefused(TOO_LARGE)
    if produced > _RATIO_FLOOR and produced > ratio * max(consumed, 1):
        raise ArchiveRefused(TOO_LARGE)


def _content_offset(data: bytes, info: zipfile.ZipInfo) -> int:
    header = data[info.header_offset : info.header_offset + _LOCAL_HEADER.size]
    if len(header) != _LOCAL_HEADER.size:
        raise ArchiveRefused(CORRUPT)
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_SIGNATURE:
        raise ArchiveRefused(CORRUPT)
    name_length, extra_length = int(fields[9]), int(fields[10])
    return int(info.header_offset) + _LOCAL_HEADER.size + name_length + extra_length

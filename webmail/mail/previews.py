"""Which attachments the browser may show from our origin, judged by their bytes.

A part's declared type is the sender's word: a preview is offered for the declared types of
the allow-list, and served only when the file's first bytes are that kind of file; the type
sent is then the one the bytes show, never the one claimed. SVG and HTML are never listed:
both run script.
"""

from __future__ import annotations

from webmail.mail.parts import Attachment

PREVIEW_TYPES = frozenset({"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"})
# Larger files are downloaded: a phone would choke on a 200 MB scan shown in a tab.
MAX_PREVIEW_BYTES = 50 * 1024 * 1024
# Enough of the file's start for every signature below.
SNIFF_BYTES = 16


def previewable(attachment: Attachment) -> bool:
    """Whether the list offers "Aperçu" for this file (the preview still checks its bytes)."""
    return attachment.content_type in PREVIEW_TYPES and attachment.size <= MAX_PREVIEW_BYTES


def sniffed(start: bytes) -> str | None:
    """The allow-listed type the file's first bytes show, or None."""
    if start.startswith(b"%PDF-"):
        return "application/pdf"
    if start.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if start.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if start.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if start[:4] == b"RIFF" and start[8:12] == b"WEBP":
        return "image/webp"
    return None

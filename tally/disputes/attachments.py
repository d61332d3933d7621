"""Files sent with a dispute's messages: which are accepted, and how they are kept.

A file is accepted for what its bytes are, whatever its name says: a PDF starts `%PDF-`,
a PNG and a JPEG with their signatures, a CSV is UTF-8 text with no NUL byte. The name's
extension must agree with the bytes, so `invoice.pdf.exe` or a script renamed `.png` is
refused. Downloads are always served as attachments (never shown inline) with the type
found here, and the site sends `X-Content-Type-Options: nosniff`.
"""

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from tally.errors import NotFound, Problem

from .models import DisputeAttachment

FIELD = "attachments"
MAX_FILES = 5


@dataclass(frozen=True)
class Upload:
    """A file as the person sent it: its name and its bytes."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Accepted:
    filename: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


# (signature, type, extensions the name may have)
SIGNATURES = (
    (b"%PDF-", "application/pdf", (".pdf",)),
    (b"\x89PNG\r\n\x1a\n", "image/png", (".png",)),
    (b"\xff\xd8\xff", "image/jpeg", (".jpg", ".jpeg")),
)
CSV = ("text/csv", (".csv",))
ACCEPTED_EXTENSIONS = ".pdf, .png, .jpg, .csv"


def max_bytes() -> int:
    return int(getattr(settings, "TALLY_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


def _sniff(data: bytes) -> tuple[str, tuple[str, ...]] | None:
    for signature, content_type, extensions in SIGNATURES:
        if data.startswith(signature):
            return content_type, extensions
    if b"\x00" not in data:
        try:
            data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return None
        return CSV
    return None


def safe_filename(name: str) -> str:
    """The last part of the name, printable, without path or quote characters, at most
    100 characters (the extension kept)."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] not in "CZ" or c == " ")
    name = re.sub(r'["<>:|?*;]', "_", name).strip(" .") or "attachment"
    if len(name) > 100:
        stem, dot, ext = name.rpartition(".")
        name = f"{stem[: 99 - len(ext)]}.{ext}" if dot and len(ext) <= 10 else name[:100]
    return name


def accept(uploads: Sequence[Upload]) -> tuple[list[Accepted], list[Problem]]:
    """The files that may be kept, or what is wrong with each (nothing is kept then)."""
    problems = []
    accepted = []
    if len(uploads) > MAX_FILES:
        problems.append(Problem(f"at most {MAX_FILES} files per message", field=FIELD))
    limit = max_bytes()
    for upload in uploads:
        name = safe_filename(upload.name)
        if not upload.data:
            problems.append(Problem(f"“{name}” is empty", field=FIELD))
            continue
        if len(upload.data) > limit:
            problems.append(
                Problem(f"“{name}” is larger than {limit // (1024 * 1024)} MB", field=FIELD)
            )
            continue
        found = _sniff(upload.data)
        if found is None:
            problems.append(
                Problem(
                    f"“{name}” is not a PDF, PNG, JPEG or CSV file ({ACCEPTED_EXTENSIONS})",
                    field=FIELD,
                )
            )
            continue
        content_type, extensions = found
        if not name.lower().endswith(extensions):
            problems.append(
                Problem(
                    f"“{name}” does not look like its name says: its content is "
                    f"{content_type}, so its name should end {' or '.join(extensions)}",
                    field=FIELD,
                )
            )
            continue
        accepted.append(Accepted(name, content_type, upload.data))
    return accepted, problems


# Reading them back: the caller scopes `files` (one client's, one dispute's).


@dataclass(frozen=True)
class AttachmentRow:
    """A file sent with a message, as both sides list it (the bytes are read on download)."""

    id: int
    filename: str
    content_type: str
    size_bytes: int


@dataclass(frozen=True)
class AttachmentFile:
    filename: str
    content_type: str
    data: bytes


def attachments_by_message(files: QuerySet[DisputeAttachment]) -> dict[int, list[AttachmentRow]]:
    """Each message's files, oldest first, from one query (the caller scopes it)."""
    by_message: dict[int, list[AttachmentRow]] = {}
    for message_id, file_id, filename, content_type, size in files.order_by("id").values_list(
        "message_id", "id", "filename", "content_type", "size_bytes"
    ):
        by_message.setdefault(message_id, []).append(
            AttachmentRow(file_id, filename, content_type, size)
        )
    return by_message


def read_attachment(files: QuerySet[DisputeAttachment], attachment_id: int) -> AttachmentFile:
    """One file's bytes, if `files` (scoped by the caller) holds it; NotFound otherwise."""
    row = (
        files.filter(pk=attachment_id)
        .values_list("filename", "content_type", "content__data")
        .first()
    )
    if row is None:
        raise NotFound("attachment")
    filename, content_type, data = row
    return AttachmentFile(filename, content_type, bytes(data))

"""Reads of internal notes, for the operator console only (never imported by client code)."""

from dataclasses import dataclass
from datetime import datetime

from .models import InternalNote


@dataclass(frozen=True)
class NoteRow:
    id: int
    dispute_id: int
    author_id: int
    author_email: str
    author_name: str
    body: str
    created_at: datetime


def notes_for_dispute(dispute_id: int) -> list[NoteRow]:
    """A dispute's internal notes, oldest first."""
    rows = (
        InternalNote.objects.filter(dispute_id=dispute_id)
        .order_by("created_at", "id")
        .values_list(
            "id",
            "dispute_id",
            "author_id",
            "author__email",
            "author__full_name",
            "body",
            "created_at",
        )
    )
    return [NoteRow(*row) for row in rows]

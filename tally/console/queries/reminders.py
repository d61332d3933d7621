"""Reminders an operator must look at: steps whose sending failed, or that stopped midway
and were set aside rather than sent twice (tally.reminders.services)."""

from dataclasses import dataclass
from datetime import date, datetime

from tally.invoicing.naming import format_invoice_number
from tally.pagination import DateKey, IntKey, KeysetPaginator
from tally.reminders.models import Reminder, ReminderAttempt, ReminderStatus

PAGE_SIZE = 50
TO_REVIEW = (ReminderStatus.FAILED, ReminderStatus.NEEDS_REVIEW)


@dataclass(frozen=True)
class ReminderRow:
    id: int
    client_name: str
    invoice_number: str
    offset_days: int
    scheduled_for: date
    status: str
    status_label: str
    detail: str
    last_error: str
    last_tried_at: datetime | None


@dataclass(frozen=True)
class ReminderPage:
    rows: list[ReminderRow]
    next_cursor: str | None
    prev_cursor: str | None


REVIEW_PAGES = KeysetPaginator(
    "console.reminders", [DateKey("scheduled_for"), IntKey("id")], descending=True
)
_COLUMNS = (
    "id",
    "client__name",
    "invoice__number",
    "offset_days",
    "scheduled_for",
    "status",
    "status_detail",
)


def reminders_to_review(cursor: str | None = None, limit: int = PAGE_SIZE) -> ReminderPage:
    """The failed and set-aside steps, latest first, with each one's last try."""
    page = REVIEW_PAGES.paginate(
        Reminder.objects.filter(status__in=TO_REVIEW), REVIEW_PAGES.decode(cursor), limit, _COLUMNS
    )
    ids = [row["id"] for row in page.results]
    last_try: dict[int, tuple[str, datetime]] = {}
    for reminder_id, error, at in (
        ReminderAttempt.objects.filter(reminder_id__in=ids)
        .order_by("reminder_id", "attempted_at", "id")
        .values_list("reminder_id", "error", "attempted_at")
    ):
        last_try[reminder_id] = (error, at)
    rows = [
        ReminderRow(
            id=row["id"],
            client_name=row["client__name"],
            invoice_number=format_invoice_number(row["invoice__number"])
            if row["invoice__number"]
            else "",
            offset_days=row["offset_days"],
            scheduled_for=row["scheduled_for"],
            status=row["status"],
            status_label=ReminderStatus(row["status"]).label,
            detail=row["status_detail"],
            last_error=last_try.get(row["id"], ("", None))[0],
            last_tried_at=last_try.get(row["id"], ("", None))[1],
        )
        for row in page.results
    ]
    return ReminderPage(rows, page.next, page.prev)

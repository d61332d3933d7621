"""Reminder schedules and sending.

Sending is at most once per step: a run claims due steps with SELECT … FOR UPDATE SKIP
LOCKED and commits them as `sending` before it talks to the mail server, so an
overlapping run cannot claim them again. A step left in `sending` by a crash is marked
`needs_review` for a person, never resent blindly.
"""

from datetime import timedelta

from tally.invoicing.models import Invoice

from .models import Reminder, ReminderPolicy, ReminderStatus, default_offsets


def offsets_for(client_id: int) -> list[int]:
    from tally.clients.models import Client

    policy_id = (
        Client.objects.filter(pk=client_id).values_list("reminder_policy_id", flat=True).first()
    )
    policy = None
    if policy_id:
        policy = ReminderPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        policy = ReminderPolicy.objects.filter(is_default=True).first()
    return sorted(set(policy.offsets_days if policy else default_offsets()))


def schedule_reminders(invoice: Invoice) -> list[Reminder]:
    """Create the invoice's schedule at issue. Steps that fall before the issue date are left out."""
    assert invoice.due_date is not None and invoice.issue_date is not None
    if invoice.status != "open":
        return []
    steps = [
        Reminder(
            client_id=invoice.client_id,
            invoice=invoice,
            offset_days=offset,
            scheduled_for=invoice.due_date + timedelta(days=offset),
        )
        for offset in offsets_for(invoice.client_id)
        if invoice.due_date + timedelta(days=offset) >= invoice.issue_date
    ]
    return Reminder.objects.bulk_create(steps)


def skip_pending_reminders(invoice: Invoice, why: str) -> int:
    """Paid or void: the steps still to come will not be sent."""
    return Reminder.objects.filter(invoice=invoice, status=ReminderStatus.SCHEDULED).update(
        status=ReminderStatus.SKIPPED, status_detail=why
    )

"""Reminder policies, schedules and sending.

Sending is at most once per step: a run claims due steps with SELECT … FOR UPDATE SKIP
LOCKED and commits them as `sending` before it talks to the mail server, so an
overlapping run cannot claim them again. A step left in `sending` by a crash is marked
`needs_review` for a person, never resent blindly. SMTP cannot promise exactly once;
at most once, with the uncertain cases visible, is what this module promises.

One failure is certain: when the mail server cannot even be reached, nothing was handed
over, so the step goes back to `scheduled` and is tried again after a delay
(`RETRY_DELAYS`), then marked `failed` for good.
"""

import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from tally.audit import services as audit
from tally.audit.actors import Actor, SystemActor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.clients.queries import billing_emails
from tally.disputes.models import Dispute, DisputeStatus
from tally.errors import DomainError, Problem

# What an email carries besides its text, and its link: shared with the invoice email.
from tally.invoicing.emails import Attacher, Attachment, invoice_url
from tally.invoicing.instructions import payment_instructions
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.money import format_money

from .models import Reminder, ReminderAttempt, ReminderPolicy, ReminderStatus, default_offsets

log = logging.getLogger(__name__)

MIN_OFFSET_DAYS = -60
MAX_OFFSET_DAYS = 365
STALE_AFTER = timedelta(hours=1)
CLAIM_BATCH = 200
DEFAULT_SMTP_TIMEOUT = 30  # seconds; a hung mail server must not hang the run forever
# After the mail server could not be reached: wait this long before each further try.
RETRY_DELAYS = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4))


def now() -> datetime:
    """The sender's clock for retries (tests move it)."""
    return timezone.now()


# ---------------------------------------------------------------------------------------
# Policies


def offsets_for(client_id: int) -> list[int]:
    """The client's own policy, else the default policy, else the built-in steps."""
    policy_id = (
        Client.objects.filter(pk=client_id).values_list("reminder_policy_id", flat=True).first()
    )
    policy = None
    if policy_id:
        policy = ReminderPolicy.objects.filter(pk=policy_id).first()
    if policy is None:
        policy = ReminderPolicy.objects.filter(is_default=True).first()
    return sorted(set(policy.offsets_days if policy else default_offsets()))


def _policy_problems(
    name: str, offsets_days: Any, *, exclude_pk: int | None = None
) -> list[Problem]:
    problems = []
    if not name.strip():
        problems.append(Problem("is required", field="name"))
    elif len(name.strip()) > 100:
        problems.append(Problem("must be at most 100 characters", field="name"))
    elif ReminderPolicy.objects.filter(name=name.strip()).exclude(pk=exclude_pk or 0).exists():
        problems.append(Problem(f"a policy named {name.strip()!r} exists", field="name"))
    if not isinstance(offsets_days, list | tuple):
        problems.append(Problem("must be a list of whole days", field="offsets_days"))
        return problems
    if not offsets_days:
        problems.append(Problem("needs at least one step", field="offsets_days"))
    seen: set[int] = set()
    for i, offset in enumerate(offsets_days, start=1):
        # bool is an int in Python; True is not "1 day".
        if not isinstance(offset, int) or isinstance(offset, bool):
            problems.append(
                Problem(f"step {i}: {offset!r} is not a whole number of days", field="offsets_days")
            )
        elif not MIN_OFFSET_DAYS <= offset <= MAX_OFFSET_DAYS:
            problems.append(
                Problem(
                    f"step {i}: {offset} is outside {MIN_OFFSET_DAYS}..{MAX_OFFSET_DAYS} days",
                    field="offsets_days",
                )
            )
        elif offset in seen:
            problems.append(Problem(f"step {i}: {offset} appears twice", field="offsets_days"))
        else:
            seen.add(offset)
    return problems


def _policy_snapshot(policy: ReminderPolicy) -> dict[str, Any]:
    return {
        "name": policy.name,
        "offsets_days": policy.offsets_days,
        "is_default": policy.is_default,
    }


def _take_default_from_others(actor: Actor, keep: ReminderPolicy | None) -> None:
    """Only one policy can be the default (a partial unique index says so)."""
    for other in ReminderPolicy.objects.select_for_update().filter(is_default=True):
        if keep is not None and other.pk == keep.pk:
            continue
        before = _policy_snapshot(other)
        other.is_default = False
        other.save(update_fields=["is_default"])
        audit.record(
            actor=actor,
            action=AuditAction.REMINDER_POLICY_UPDATED,
            obj=other,
            before=before,
            after=_policy_snapshot(other),
        )


@transaction.atomic
def create_reminder_policy(
    *, actor: Actor, name: str, offsets_days: list[int], is_default: bool = False
) -> ReminderPolicy:
    """A named schedule of reminder steps, in days relative to the due date (-3 = 3 days before).

    Applies to invoices issued from now on; schedules already made are not rewritten,
    because the client has been shown them.
    """
    problems = _policy_problems(name, offsets_days)
    if problems:
        raise DomainError("invalid_reminder_policy", "the reminder policy was not saved", problems)
    if is_default:
        _take_default_from_others(actor, keep=None)
    policy = ReminderPolicy.objects.create(
        name=name.strip(), offsets_days=sorted(offsets_days), is_default=is_default
    )
    audit.record(
        actor=actor,
        action=AuditAction.REMINDER_POLICY_CREATED,
        obj=policy,
        after=_policy_snapshot(policy),
    )
    return policy


@transaction.atomic
def update_reminder_policy(
    *,
    actor: Actor,
    policy: ReminderPolicy,
    name: str | None = None,
    offsets_days: list[int] | None = None,
    is_default: bool | None = None,
) -> ReminderPolicy:
    """Change a policy. Like creation, it shapes invoices issued from now on."""
    policy = ReminderPolicy.objects.select_for_update().get(pk=policy.pk)
    new_name = policy.name if name is None else name
    new_offsets = policy.offsets_days if offsets_days is None else offsets_days
    problems = _policy_problems(new_name, new_offsets, exclude_pk=policy.pk)
    if is_default is False and policy.is_default:
        problems.append(Problem("make another policy the default instead", field="is_default"))
    if problems:
        raise DomainError("invalid_reminder_policy", "the reminder policy was not saved", problems)
    before = _policy_snapshot(policy)
    if is_default and not policy.is_default:
        _take_default_from_others(actor, keep=policy)
        policy.is_default = True
    policy.name = new_name.strip()
    policy.offsets_days = sorted(new_offsets)
    policy.save(update_fields=["name", "offsets_days", "is_default"])
    audit.record(
        actor=actor,
        action=AuditAction.REMINDER_POLICY_UPDATED,
        obj=policy,
        before=before,
        after=_policy_snapshot(policy),
    )
    return policy


@transaction.atomic
def set_client_reminder_policy(
    *, actor: Actor, client: Client, policy: ReminderPolicy | None
) -> Client:
    """Give a client its own reminder policy (None: back to the default).

    Used for invoices issued from now on; steps already scheduled stay as the client saw them.
    """
    client = Client.objects.select_for_update().get(pk=client.pk)
    if policy is not None and not ReminderPolicy.objects.filter(pk=policy.pk).exists():
        raise DomainError(
            "invalid_reminder_policy",
            "no such reminder policy",
            [Problem("does not exist", field="policy")],
        )
    before = {"reminder_policy_id": client.reminder_policy_id}
    client.reminder_policy = policy
    client.save(update_fields=["reminder_policy"])
    audit.record(
        actor=actor,
        action=AuditAction.CLIENT_REMINDER_POLICY_SET,
        obj=client,
        client_id=client.pk,
        before=before,
        after={
            "reminder_policy_id": policy.pk if policy else None,
            "reminder_policy": policy.name if policy else None,
        },
    )
    return client


# ---------------------------------------------------------------------------------------
# Schedules


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


def skip_pending_reminders(invoice: Invoice, why: str, actor: Actor) -> int:
    """Paid or void: the steps still to come will not be sent (one audit event for all).

    A step the sender has claimed meanwhile is passed over, not waited for: the sender
    holds it while it waits for the audit chain, which this transaction already holds
    (waiting would deadlock), and it checks the invoice again before it sends.
    """
    pending = list(
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(invoice=invoice, status=ReminderStatus.SCHEDULED)
        .order_by("scheduled_for")
        .values_list("pk", "scheduled_for")
    )
    if not pending:
        return 0
    skipped = Reminder.objects.filter(
        pk__in=[pk for pk, _ in pending], status=ReminderStatus.SCHEDULED
    ).update(status=ReminderStatus.SKIPPED, status_detail=why)
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_REMINDERS_SKIPPED,
        obj=invoice,
        before={"scheduled_for": [when for _, when in pending]},
        after={"skipped": skipped, "why": why},
    )
    return skipped


def resume_reminders(invoice: Invoice, actor: Actor, today: date) -> int:
    """An invoice that owes again (a payment taken back from it): the steps skipped when
    it was paid and still to come (`today` or later, the client's day) are scheduled
    again. Steps whose day passed while it was paid stay skipped: a late reminder of a
    date gone by would say something untrue; the sender's next step, and the portal's
    overdue status, tell the client. One audit event for all."""
    steps = list(
        Reminder.objects.select_for_update(skip_locked=True)
        .filter(
            invoice=invoice,
            status=ReminderStatus.SKIPPED,
            status_detail=_skip_reason(InvoiceStatus.PAID),
            scheduled_for__gte=today,
        )
        .order_by("scheduled_for")
        .values_list("pk", "scheduled_for")
    )
    if not steps:
        return 0
    resumed = Reminder.objects.filter(pk__in=[pk for pk, _ in steps]).update(
        status=ReminderStatus.SCHEDULED, status_detail=""
    )
    audit.record(
        actor=actor,
        action=AuditAction.INVOICE_REMINDERS_RESUMED,
        obj=invoice,
        before={"skipped": [when for _, when in steps]},
        after={"resumed": resumed, "why": "invoice owes again"},
    )
    return resumed


# ---------------------------------------------------------------------------------------
# Sending


@dataclass
class SendReport:
    """What one run did. `paused` counts due steps held back by an open dispute."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    needs_review: int = 0
    paused: int = 0
    retrying: int = 0

    def summary(self) -> str:
        return (
            f"reminders: {self.sent} sent, {self.skipped} skipped, {self.failed} failed, "
            f"{self.needs_review} need review, {self.paused} paused while disputed"
            + (f", {self.retrying} to retry (mail server unreachable)" if self.retrying else "")
        )


ConnectionFactory = Callable[[], BaseEmailBackend]


def _default_connection() -> BaseEmailBackend:
    if getattr(settings, "EMAIL_TIMEOUT", None) is None:
        return get_connection(fail_silently=False, timeout=DEFAULT_SMTP_TIMEOUT)
    return get_connection(fail_silently=False)


class _Days:
    """Each client's "today": its own calendar date, or one date given for everyone."""

    def __init__(self, today: date | None) -> None:
        self.fixed = today
        self.now = timezone.now()
        self._zones: dict[int, str] = {}

    def for_zone(self, tz: str) -> date:
        return self.fixed or self.now.astimezone(zoneinfo.ZoneInfo(tz)).date()

    def due_filter(self) -> Q:
        if self.fixed is not None:
            return Q(scheduled_for__lte=self.fixed)
        due = Q(pk__in=[])
        zones = Client.objects.order_by().values_list("time_zone", flat=True).distinct()
        for tz in zones:
            due |= Q(
                scheduled_for__lte=self.for_zone(tz),
                client_id__in=Client.objects.filter(time_zone=tz).values("id"),
            )
        return due

    def for_clients(self, client_ids: Iterable[int]) -> dict[int, date]:
        client_ids = set(client_ids)
        missing = client_ids - set(self._zones)
        if missing:
            self._zones.update(Client.objects.filter(pk__in=missing).values_list("id", "time_zone"))
        return {cid: self.for_zone(self._zones[cid]) for cid in client_ids}


def _open_dispute() -> Q:
    """The reminder's invoice has an open dispute: the invoices' one condition."""
    return Invoice.objects.open_dispute_condition("invoice_id")


def _step(r: Reminder) -> dict[str, Any]:
    return {
        "invoice_id": r.invoice_id,
        "offset_days": r.offset_days,
        "scheduled_for": r.scheduled_for,
        "status": r.status,
        "status_detail": r.status_detail,
    }


def _change(
    actor: Actor,
    reminder: Reminder,
    status: str,
    detail: str = "",
    *,
    action: AuditAction,
    extra: dict[str, Any] | None = None,
    **fields: Any,
) -> None:
    """Move a step to a new status and audit it. Runs inside the caller's transaction."""
    before = _step(reminder)
    reminder.status = status
    reminder.status_detail = detail[:300]
    for name, value in fields.items():
        setattr(reminder, name, value)
    reminder.save(update_fields=["status", "status_detail", *fields])
    audit.record(
        actor=actor,
        action=action,
        obj=reminder,
        before=before,
        after={**_step(reminder), **(extra or {})},
    )


def _flag_stale(actor: Actor, stale_after: timedelta, report: SendReport) -> None:
    """A step still `sending` long after its claim: the run died mid-send. A person decides."""
    cutoff = timezone.now() - stale_after
    with transaction.atomic():
        stale = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(status=ReminderStatus.SENDING, claimed_at__lt=cutoff)
            .order_by("id")
        )
        for r in stale:
            claimed = r.claimed_at.isoformat() if r.claimed_at else "an unknown time"
            detail = (
                f"claimed for sending at {claimed} and never finished: "
                "the email may or may not have gone out"
            )
            _needs_review(actor, r, detail, report)


def _needs_review(actor: Actor, r: Reminder, detail: str, report: SendReport) -> None:
    """A send that may or may not have reached the mail server: never resent blindly."""
    log.warning("reminder %s needs review: %s", r.pk, detail)
    _record_attempt(r, ReminderStatus.NEEDS_REVIEW, [], detail)
    _change(actor, r, ReminderStatus.NEEDS_REVIEW, detail, action=AuditAction.REMINDER_NEEDS_REVIEW)
    report.needs_review += 1


def _skip_reason(invoice_status: str) -> str:
    return {InvoiceStatus.PAID: "invoice paid", InvoiceStatus.VOID: "invoice voided"}.get(
        InvoiceStatus(invoice_status), f"invoice {invoice_status}"
    )


CAME_DUE_WHILE_DISPUTED = "came due while the invoice was disputed"


def _disputed_spans(invoice_ids: Iterable[int]) -> dict[int, list[tuple[date, date]]]:
    """Each invoice's resolved disputes, as the days (UTC) from opening to resolution."""
    spans: dict[int, list[tuple[date, date]]] = defaultdict(list)
    for invoice_id, opened, resolved in Dispute.objects.filter(
        invoice_id__in=invoice_ids, status=DisputeStatus.RESOLVED
    ).values_list("invoice_id", "opened_at", "resolved_at"):
        if resolved is not None:  # a resolved dispute has its time (a constraint says so)
            spans[invoice_id].append(
                (opened.astimezone(UTC).date(), resolved.astimezone(UTC).date())
            )
    return spans


def _claim(
    actor: Actor,
    days: _Days,
    batch_size: int,
    report: SendReport,
    on_claimed: Callable[[list[int]], None] | None = None,
) -> tuple[bool, list[int]]:
    """Take a batch of due steps, in a short transaction committed before any mail is sent.

    Invoices with an open dispute are left out here, so their steps stay `scheduled`
    (paused) and are never claimed then released. Once the dispute is resolved and the
    invoice still owes (a credit that pays it skips its steps), the schedule resumes: a
    step that came due while the dispute was open is skipped, not sent late — the client
    has just read the resolution — and the next step goes out on its day; only when no
    later step is left does the last one that came due go out, so an invoice still owed
    is always reminded once more. Of several due steps of one invoice only
    the latest is sent; the earlier ones are skipped as superseded. Returns whether any
    due step was found, and the ids now `sending` that this run must deliver.
    `on_claimed` gets those ids inside the claim's transaction (to enqueue their sending).
    """
    with transaction.atomic():
        rows = list(
            Reminder.objects.select_for_update(skip_locked=True)
            .filter(days.due_filter(), status=ReminderStatus.SCHEDULED)
            .filter(Q(retry_after__isnull=True) | Q(retry_after__lte=now()))
            .filter(~_open_dispute())
            .order_by("invoice_id", "offset_days")[:batch_size]
        )
        if not rows:
            return False, []
        invoice_ids = {r.invoice_id for r in rows}
        invoice_status = dict(
            Invoice.objects.filter(pk__in=invoice_ids).values_list("id", "status")
        )
        today_of = days.for_clients({r.client_id for r in rows})
        # Every step of these invoices that is (or was) on its way, including those another
        # run holds right now: a later one supersedes ours.
        live: dict[int, list[tuple[int, date]]] = defaultdict(list)
        for invoice_id, offset, when in Reminder.objects.filter(
            invoice_id__in=invoice_ids,
            status__in=[ReminderStatus.SCHEDULED, ReminderStatus.SENDING, ReminderStatus.SENT],
        ).values_list("invoice_id", "offset_days", "scheduled_for"):
            live[invoice_id].append((offset, when))
        disputed = _disputed_spans(invoice_ids)
        claimed_at = timezone.now()
        claimed = []
        for r in rows:
            status = invoice_status[r.invoice_id]
            today = today_of[r.client_id]
            later = any(o > r.offset_days for o, _ in live[r.invoice_id])
            if status != InvoiceStatus.OPEN:
                _change(
                    actor,
                    r,
                    ReminderStatus.SKIPPED,
                    _skip_reason(status),
                    action=AuditAction.REMINDER_SKIPPED,
                )
                report.skipped += 1
            elif any(o > r.offset_days and w <= today for o, w in live[r.invoice_id]):
                _change(
                    actor,
                    r,
                    ReminderStatus.SKIPPED,
                    "superseded by a later reminder",
                    action=AuditAction.REMINDER_SKIPPED,
                )
                report.skipped += 1
            elif later and any(a <= r.scheduled_for <= b for a, b in disputed[r.invoice_id]):
                _change(
                    actor,
                    r,
                    ReminderStatus.SKIPPED,
                    CAME_DUE_WHILE_DISPUTED,
                    action=AuditAction.REMINDER_SKIPPED,
                )
                report.skipped += 1
            else:
                _change(
                    actor,
                    r,
                    ReminderStatus.SENDING,
                    action=AuditAction.REMINDER_CLAIMED,
                    claimed_at=claimed_at,
                )
                claimed.append(r.pk)
        if on_claimed is not None and claimed:
            on_claimed(claimed)
        return True, claimed


def _days_phrase(due: date, today: date) -> str:
    days = (today - due).days
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} overdue"
    if days == 0:
        return "due today"
    return f"due in {-days} day{'s' if days != -1 else ''}"


def compose_reminder(
    *,
    invoice: Invoice,
    client: Client,
    recipients: list[str],
    today: date,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """The reminder email: who is asking, for which invoice, how much, by when, how to pay,
    and where to see it. Written from `reminders/reminder_*.txt`, with amounts and dates
    in the client's locale."""
    assert invoice.due_date is not None
    locale = client.locale or "en_US"
    number = invoice.display_number
    context = {
        "operator_name": settings.TALLY_OPERATOR_NAME,
        "client_name": client.name,
        "number": number,
        "amount": format_money(invoice.balance_minor, invoice.currency, locale),
        "due": format_date(invoice.due_date, format="medium", locale=locale),
        "days_late": (today - invoice.due_date).days,
        "when": _days_phrase(invoice.due_date, today),
        "payment_instructions": payment_instructions(invoice.currency).splitlines(),
        "invoice_url": invoice_url(number),
        "pdf_attached": any(a.mimetype == "application/pdf" for a in attachments),
    }
    subject = render_to_string("reminders/reminder_subject.txt", context)
    message = EmailMessage(
        # One line, as a header must be.
        subject="".join(subject.splitlines()).strip(),
        body=render_to_string("reminders/reminder_email.txt", context).rstrip() + "\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Tally-Invoice": number},
    )
    for attachment in attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def _record_attempt(r: Reminder, outcome: str, recipients: list[str], error: str) -> None:
    ReminderAttempt.objects.create(
        client_id=r.client_id, reminder=r, outcome=outcome, recipients=recipients, error=error
    )


def _finish(
    actor: Actor,
    reminder_id: int,
    outcome: str,
    *,
    recipients: list[str],
    error: str = "",
) -> None:
    """Record how an attempt ended, in its own transaction: the step and its attempt row.

    If a slow send let another run flag the step `needs_review` meanwhile, the outcome we
    now know replaces that flag (the audit trail keeps both).
    """
    with transaction.atomic():
        r = Reminder.objects.select_for_update().get(pk=reminder_id)
        _record_attempt(r, outcome, recipients, error)
        # The step has ended: no retry is pending any more.
        fields: dict[str, Any] = {"retry_after": None}
        if outcome == ReminderStatus.SENT:
            fields["sent_at"] = timezone.now()
        action = {
            ReminderStatus.SENT: AuditAction.REMINDER_SENT,
            ReminderStatus.FAILED: AuditAction.REMINDER_FAILED,
        }[ReminderStatus(outcome)]
        _change(actor, r, outcome, error, action=action, extra={"recipients": recipients}, **fields)


def _deliver(
    actor: Actor,
    reminder_id: int,
    days: _Days,
    connection: BaseEmailBackend,
    report: SendReport,
    attach: Attacher | None = None,
) -> None:
    r = Reminder.objects.select_related("invoice", "client").get(pk=reminder_id)
    invoice, client = r.invoice, r.client
    # Paid, voided or disputed in the moment since the claim: don't send after all.
    if (
        invoice.status != InvoiceStatus.OPEN
        or Dispute.objects.filter(invoice_id=invoice.pk, status=DisputeStatus.OPEN).exists()
    ):
        with transaction.atomic():
            r = Reminder.objects.select_for_update().get(pk=reminder_id)
            if invoice.status == InvoiceStatus.OPEN:
                # Back to waiting; counted below with the other paused steps.
                _change(
                    actor,
                    r,
                    ReminderStatus.SCHEDULED,
                    action=AuditAction.REMINDER_PAUSED,
                    claimed_at=None,
                )
            else:
                _change(
                    actor,
                    r,
                    ReminderStatus.SKIPPED,
                    _skip_reason(invoice.status),
                    action=AuditAction.REMINDER_SKIPPED,
                )
                report.skipped += 1
        return
    recipients = billing_emails(client)
    if not recipients:
        log.warning("reminder %s of %s not sent: no billing contact", r.pk, invoice.display_number)
        _finish(actor, r.pk, ReminderStatus.FAILED, recipients=[], error="no billing contact")
        report.failed += 1
        return
    today = days.for_clients([client.pk])[client.pk]
    message = compose_reminder(
        invoice=invoice,
        client=client,
        recipients=recipients,
        today=today,
        attachments=_attachments(attach, invoice, client, today),
    )
    try:
        connection.open()
    except Exception as e:  # noqa: BLE001 - nothing was handed to the mail server
        _unreachable(actor, r.pk, recipients, f"{type(e).__name__}: {e}", report)
        return
    try:
        if connection.send_messages([message]) != 1:
            raise RuntimeError("the mail backend accepted no message")
    except Exception as e:  # noqa: BLE001 - any failure of the mail server is recorded
        log.warning(
            "reminder %s of %s failed at the mail server; not retried (it may have gone out)",
            r.pk,
            invoice.display_number,
            exc_info=e,
        )
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - the connection is being dropped anyway
            log.debug("closing the mail connection after a failure failed too", exc_info=True)
        error = f"{type(e).__name__}: {e}"
        _finish(actor, r.pk, ReminderStatus.FAILED, recipients=recipients, error=error)
        report.failed += 1
        return
    _finish(actor, r.pk, ReminderStatus.SENT, recipients=recipients)
    report.sent += 1


def _attachments(
    attach: Attacher | None, invoice: Invoice, client: Client, today: date
) -> list[Attachment]:
    """The caller's attachments; none if they cannot be made: the reminder still goes,
    with its link to the invoice in the portal."""
    if attach is None:
        return []
    try:
        return attach(invoice, client, today)
    except Exception:  # noqa: BLE001 - a reminder without its PDF beats no reminder
        log.exception(
            "invoice %s: the reminder goes without its attachment", invoice.display_number
        )
        return []


def _unreachable(
    actor: Actor, reminder_id: int, recipients: list[str], error: str, report: SendReport
) -> None:
    """The mail server could not be reached: no copy exists, so try again later, a few
    times, before the step is marked failed for a person to see. The step is this run's
    (`sending`), so nobody else adds attempts meanwhile."""
    tries = ReminderAttempt.objects.filter(reminder_id=reminder_id).count() + 1
    if tries > len(RETRY_DELAYS):
        log.error(
            "reminder %s not sent: mail server unreachable on %d tries (%s); giving up",
            reminder_id,
            tries,
            error,
        )
        _finish(
            actor,
            reminder_id,
            ReminderStatus.FAILED,
            recipients=recipients,
            error=f"{error} (mail server unreachable on {tries} tries)",
        )
        report.failed += 1
        return
    retry_after = now() + RETRY_DELAYS[tries - 1]
    log.warning(
        "reminder %s not sent: mail server unreachable (%s); trying again after %s",
        reminder_id,
        error,
        retry_after.isoformat(),
    )
    with transaction.atomic():
        r = Reminder.objects.select_for_update().get(pk=reminder_id)
        _record_attempt(r, ReminderStatus.FAILED, recipients, error)
        _change(
            actor,
            r,
            ReminderStatus.SCHEDULED,
            f"not sent: {error}; trying again after {retry_after:%Y-%m-%d %H:%M} UTC",
            action=AuditAction.REMINDER_RETRY_SCHEDULED,
            claimed_at=None,
            retry_after=retry_after,
        )
    report.retrying += 1


def send_due_reminders(
    *,
    actor: Actor = SystemActor.REMINDER_SENDER,
    today: date | None = None,
    connection_factory: ConnectionFactory | None = None,
    stale_after: timedelta = STALE_AFTER,
    batch_size: int = CLAIM_BATCH,
    attach: Attacher | None = None,
) -> SendReport:
    """Send every reminder step that is due, at most once each. Safe to run twice at once.

    "Due" means `scheduled_for` is on or before today *in the client's own time zone*, so a
    client in Tokyo gets its reminder on its morning, not on UTC's. `today` fixes one date
    for every client instead (the command's --today, tests, the demo's replay).

    A step that fails once the mail server has it (an SMTP error), or that has no billing
    contact, is marked `failed` and not retried: after an SMTP error nobody knows whether
    the mail went out, and a second copy is worse than a visible failure. A mail server
    that cannot be reached at all is retried after `RETRY_DELAYS`. Each try leaves a
    ReminderAttempt row.

    `attach` adds attachments to each email (tally.worker.emails: the invoice's PDF).
    """
    days = _Days(today)
    report = SendReport()
    _flag_stale(actor, stale_after, report)
    connection = (connection_factory or _default_connection)()
    try:
        while True:
            found, claimed = _claim(actor, days, batch_size, report)
            if not found:
                break
            for reminder_id in claimed:
                _deliver(actor, reminder_id, days, connection, report, attach)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - nothing left to send on it
            log.warning("closing the mail connection failed", exc_info=True)
    report.paused += (
        Reminder.objects.filter(days.due_filter(), status=ReminderStatus.SCHEDULED)
        .filter(_open_dispute())
        .count()
    )
    return report


def claim_due_reminders(
    *,
    on_claimed: Callable[[list[int]], None],
    actor: Actor = SystemActor.REMINDER_SENDER,
    today: date | None = None,
    stale_after: timedelta = STALE_AFTER,
    batch_size: int = CLAIM_BATCH,
) -> SendReport:
    """The first half of `send_due_reminders`, for a queue: claim every due step as it does
    (superseded and settled steps skipped, disputed ones paused) and give each batch's
    claimed ids to `on_claimed` inside the transaction that claims them, so that the
    claim and whatever will send them (a task per step) commit together. Each claimed
    step is then sent by `deliver_claimed`."""
    days = _Days(today)
    report = SendReport()
    _flag_stale(actor, stale_after, report)
    while True:
        found, _ = _claim(actor, days, batch_size, report, on_claimed)
        if not found:
            break
    report.paused += (
        Reminder.objects.filter(days.due_filter(), status=ReminderStatus.SCHEDULED)
        .filter(_open_dispute())
        .count()
    )
    return report


def deliver_claimed(
    reminder_id: int,
    *,
    first_try: bool,
    actor: Actor = SystemActor.REMINDER_SENDER,
    today: date | None = None,
    attach: Attacher | None = None,
) -> SendReport:
    """Send one step claimed by `claim_due_reminders`. Safe to run twice: a step no longer
    `sending` has been dealt with and is left alone. A step still `sending` on a later try
    was being sent by a try that stopped midway (its worker died): the email may or may
    not have gone out, so it goes to review now rather than out a second time."""
    report = SendReport()
    status = Reminder.objects.filter(pk=reminder_id).values_list("status", flat=True).first()
    if status != ReminderStatus.SENDING:
        return report
    if not first_try:
        detail = (
            "the try sending it stopped before it finished: the email may or may not have gone out"
        )
        with transaction.atomic():
            r = Reminder.objects.select_for_update().get(pk=reminder_id)
            if r.status == ReminderStatus.SENDING:
                _needs_review(actor, r, detail, report)
        return report
    connection = _default_connection()
    try:
        _deliver(actor, reminder_id, _Days(today), connection, report, attach)
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - nothing left to send on it
            log.warning("closing the mail connection failed", exc_info=True)
    return report

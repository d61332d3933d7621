from datetime import date

import pytest
from django.db.models import Sum

from tally.actions.invoices import create_credit_note, issue_invoice, void_invoice
from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.invoicing.models import InvoiceStatus, LineKind
from tally.invoicing.queries import billed_events
from tally.invoicing.services import add_adjustment
from tally.operations.models import Event
from tally.rating.services import create_rate_card
from tally.reminders.models import Reminder
from tests.factories import (
    add_events,
    billing_lines,
    generate,
    issued_invoice,
    make_client,
)

pytestmark = pytest.mark.django_db


def test_a_draft_has_one_line_per_kind_and_price_linked_to_exactly_its_events(acme):
    add_events(acme, "pick", 7, quantity=2)
    add_events(acme, "label", 3)
    add_events(acme, "pick", 4, day=date(2026, 11, 2))  # next period: not billed
    result = generate(acme)
    lines = {line.kind: line for line in result.invoice.lines.all()}
    assert set(lines) == {"pick", "label"}
    assert (lines["pick"].quantity, lines["pick"].event_count) == (14, 7)
    assert lines["pick"].amount_minor == 490  # 14 × 0.35
    assert lines["label"].amount_minor == 14  # 3 × 0.045 = 0.135 → 0.14
    for line in lines.values():
        assert billed_events(line).aggregate(q=Sum("quantity"))["q"] == line.quantity
    on_lines = billing_lines()
    assert sorted(len(found) for found in on_lines.values()) == [0] * 4 + [1] * 10
    for line in lines.values():
        assert sum(found == [line.pk] for found in on_lines.values()) == line.event_count
    assert result.invoice.total_minor == 504
    assert result.invoice.status == InvoiceStatus.DRAFT and result.invoice.number is None


def test_a_price_change_mid_period_makes_two_lines(acme):
    create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2026, 10, 16),
        prices={"pick": "0.40", "label": "0.045"},
    )
    add_events(acme, "pick", 2, day=date(2026, 10, 10))
    add_events(acme, "pick", 3, day=date(2026, 10, 20))
    add_events(acme, "label", 1, day=date(2026, 10, 10))
    add_events(acme, "label", 1, day=date(2026, 10, 20))
    lines = list(generate(acme).invoice.lines.order_by("kind", "unit_price_micros"))
    assert [(ln.kind, ln.unit_price_micros, ln.quantity) for ln in lines] == [
        ("label", 45_000, 2),  # same price on both cards: one line
        ("pick", 350_000, 2),
        ("pick", 400_000, 3),
    ]


def test_events_without_a_rate_are_reported_not_dropped(db):
    client = make_client("lean", prices={"pick": "0.30"})
    add_events(client, "pick", 2)
    add_events(client, "stop", 3, quantity=2)
    result = generate(client)
    assert [(u.kind, u.events, u.quantity) for u in result.unrated] == [("stop", 3, 6)]
    stops = Event.objects.filter(kind="stop").values_list("pk", flat=True)
    assert [billing_lines()[pk] for pk in stops] == [[]] * 3


def test_periods_follow_the_clients_time_zone(db):
    client = make_client("tokyo", currency="JPY", time_zone="Asia/Tokyo", prices={"pick": "12.5"})
    # 2026-10-31 16:00 UTC is already 1 November in Tokyo.
    from tally.operations.services import ingest_events

    ingest_events(
        actor=SystemActor.TESTS,
        client=client,
        rows=[
            {
                "kind": "pick",
                "occurred_at": "2026-10-31T14:59:59Z",
                "quantity": 1,
                "external_id": "a",
            },
            {
                "kind": "pick",
                "occurred_at": "2026-10-31T15:00:00Z",
                "quantity": 1,
                "external_id": "b",
            },
        ],
    )
    invoice = generate(client).invoice
    assert [ln.quantity for ln in invoice.lines.all()] == [1]
    assert invoice.total_minor == 13  # ¥12.5 rounds half up to ¥13


def test_tax_is_added_to_the_total(db):
    client = make_client("taxed", tax_rate_bp=825)
    add_events(client, "pick", 100)
    invoice = generate(client).invoice
    assert (invoice.subtotal_minor, invoice.tax_minor, invoice.total_minor) == (3500, 289, 3789)


def test_issue_assigns_gapless_numbers_dates_and_a_reminder_schedule(acme, globex):
    first = issued_invoice(acme)
    second = issued_invoice(globex)
    assert second.number == first.number + 1
    assert first.status == InvoiceStatus.OPEN
    assert (first.issue_date, first.due_date) == (date(2026, 11, 1), date(2026, 12, 1))
    steps = list(Reminder.objects.filter(invoice=first).values_list("scheduled_for", "status"))
    assert steps == [
        (date(2026, 11, 28), "scheduled"),
        (date(2026, 12, 1), "scheduled"),
        (date(2026, 12, 8), "scheduled"),
        (date(2026, 12, 15), "scheduled"),
        (date(2026, 12, 31), "scheduled"),
    ]
    with pytest.raises(DomainError, match="invoice_not_draft"):
        issue_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=first.pk)


def test_another_clients_invoice_is_not_found(acme, globex):
    invoice = issued_invoice(acme)
    with pytest.raises(DomainError) as err:
        void_invoice(actor=SystemActor.TESTS, client=globex, invoice_id=invoice.pk, reason="x")
    assert err.value.code == "not_found"


def test_adjustments_need_a_reason_and_change_the_total(acme):
    add_events(acme, "pick", 10)
    draft = generate(acme).invoice
    add_adjustment(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=draft.pk,
        description="Loyalty discount",
        amount_minor=-50,
        reason="Agreed in QBR",
    )
    draft.refresh_from_db()
    assert draft.total_minor == 300
    assert draft.lines.filter(line_type=LineKind.ADJUSTMENT).get().reason == "Agreed in QBR"
    with pytest.raises(DomainError) as err:
        add_adjustment(
            actor=SystemActor.TESTS,
            client=acme,
            invoice_id=draft.pk,
            description="x",
            amount_minor=100,
            reason=" ",
        )
    assert err.value.problems[0].field == "reason"
    with pytest.raises(DomainError, match="negative_total"):
        add_adjustment(
            actor=SystemActor.TESTS,
            client=acme,
            invoice_id=draft.pk,
            description="Too much",
            amount_minor=-1000,
            reason="oops",
        )
    draft.refresh_from_db()
    assert draft.total_minor == 300 and draft.lines.count() == 2


def test_void_releases_events_for_rebilling_and_skips_reminders(acme):
    invoice = issued_invoice(acme, picks=5)
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=invoice.pk, reason="Wrong period")
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID and invoice.number is not None
    assert list(billing_lines().values()) == [[]] * 5
    assert set(Reminder.objects.filter(invoice=invoice).values_list("status", flat=True)) == {
        "skipped"
    }
    rebilled = generate(acme).invoice
    assert rebilled.lines.get().quantity == 5


def test_credit_notes_reduce_the_balance_and_can_settle_it(acme):
    invoice = issued_invoice(acme, picks=10)  # 3.50
    note = create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        amount_minor=100,
        reason="Damaged pallet",
    )
    invoice.refresh_from_db()
    assert (invoice.credited_minor, invoice.balance_minor) == (100, 250)
    assert note.display_number.startswith("CN-")
    with pytest.raises(DomainError) as err:
        create_credit_note(
            actor=SystemActor.TESTS,
            client=acme,
            invoice_id=invoice.pk,
            amount_minor=251,
            reason="x",
        )
    assert err.value.code == "credit_exceeds_invoice"
    invoice.refresh_from_db()
    assert invoice.credited_minor == 100
    create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        amount_minor=250,
        reason="Goodwill",
    )
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance_minor == 0
    assert not Reminder.objects.filter(invoice=invoice, status="scheduled").exists()

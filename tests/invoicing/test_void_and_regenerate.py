"""Void and regenerate: the replacement bills exactly the events the void invoice billed,
at the rates as they stand now; events of the period that arrived since stay for the
period's next run."""

from datetime import date

import pytest
from django.db import connection

from tally.actions.invoices import void_and_regenerate, void_invoice
from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.services import generate_replacement_draft, run_billing, start_billing_run
from tally.rating.services import create_rate_card
from tests.factories import (
    DEFAULT_PRICES,
    add_events,
    assert_lines_total_their_events,
    billing_lines,
    generate,
    issued_invoice,
)

pytestmark = pytest.mark.django_db

# The range join, written out in SQL: the events each line of an invoice bills.
_JOIN = """
    SELECT r.line_id, e.id, e.quantity
    FROM invoicing_billedrange r
    JOIN operations_event e
      ON e.client_id = r.client_id AND e.kind = r.kind
     AND e.occurred_at >= r.occurred_from AND e.occurred_at < r.occurred_to
     AND e.id > r.after_id AND e.id <= r.upto_id
    WHERE r.invoice_id = %s
"""


def _events_of(invoice: Invoice) -> dict[str, set[int]]:
    """Event ids per line description, recounted by joining the ranges to the events."""
    kinds = dict(invoice.lines.values_list("pk", "kind"))
    with connection.cursor() as cursor:
        cursor.execute(_JOIN, [invoice.pk])
        rows = cursor.fetchall()
    events: dict[str, set[int]] = {}
    for line_id, event_id, _quantity in rows:
        events.setdefault(kinds[line_id], set()).add(event_id)
    return events


def _lines(invoice: Invoice) -> list[tuple[str, int, int]]:
    return list(invoice.lines.values_list("kind", "quantity", "event_count"))


def _late_pick() -> int:
    return max(e for e, lines in billing_lines().items() if not lines)


def test_the_replacement_bills_the_void_ones_events_and_not_the_late_one(acme):
    original = issued_invoice(acme, picks=6, labels=4)
    add_events(acme, "pick", 1, day=date(2026, 10, 3), quantity=7)  # late, same day and kind
    late = _late_pick()
    replacement = void_and_regenerate(
        actor=SystemActor.TESTS, client=acme, invoice_id=original.pk, reason="Wrong rate"
    )
    assert _lines(replacement) == _lines(original) == [("label", 4, 4), ("pick", 6, 6)]
    assert _events_of(replacement) == _events_of(original)
    assert len(_events_of(replacement)["pick"]) == 6 and late not in _events_of(replacement)["pick"]
    assert billing_lines()[late] == []  # still unbilled
    assert (replacement.period_start, replacement.period_end) == (
        original.period_start,
        original.period_end,
    )
    assert_lines_total_their_events()


def test_a_later_run_of_the_period_bills_the_late_event_alone(acme, operator):
    original = issued_invoice(acme, picks=6)
    add_events(acme, "pick", 1, day=date(2026, 10, 3), quantity=7)
    late = _late_pick()
    void_and_regenerate(actor=operator, client=acme, invoice_id=original.pk, reason="Wrong rate")
    run = start_billing_run(
        actor=operator, month=date(2026, 10, 1), client_ids=[acme.pk], today=date(2026, 11, 25)
    )
    run = run_billing(run.pk)
    drafts = Invoice.objects.filter(client=acme, status=InvoiceStatus.DRAFT, replaces=None)
    assert run.drafts == 1 and drafts.count() == 1
    assert _lines(drafts.get()) == [("pick", 7, 1)]
    assert _events_of(drafts.get()) == {"pick": {late}}
    assert_lines_total_their_events()


def test_the_replacement_is_priced_by_the_rate_cards_as_they_stand_now(acme):
    add_events(acme, "pick", 2, day=date(2026, 10, 10))
    original = issued_invoice(acme, picks=3)  # and 3 more on 3 Oct: $0.35 each
    # The correction: picks from 8 Oct cost $0.50.
    create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2026, 10, 8),
        prices={**DEFAULT_PRICES, "pick": "0.5000"},
    )
    replacement = void_and_regenerate(
        actor=SystemActor.TESTS, client=acme, invoice_id=original.pk, reason="Rate from 8 Oct"
    )
    assert list(original.lines.values_list("quantity", "amount_minor")) == [(5, 175)]
    assert list(replacement.lines.values_list("quantity", "unit_price_micros", "amount_minor")) == [
        (3, 350_000, 105),
        (2, 500_000, 100),
    ]
    assert replacement.total_minor == 205
    assert set().union(*_events_of(replacement).values()) == _events_of(original)["pick"]
    assert_lines_total_their_events()


def test_events_that_have_no_price_today_stay_unbilled(acme):
    original = issued_invoice(acme, picks=3, labels=2)
    create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2026, 10, 1),
        prices={"pick": "0.3500"},  # labels are no longer priced
    )
    replacement = void_and_regenerate(
        actor=SystemActor.TESTS, client=acme, invoice_id=original.pk, reason="No label fee"
    )
    assert _lines(replacement) == [("pick", 3, 3)]
    labels = _events_of(original)["label"]
    assert all(billing_lines()[event] == [] for event in labels)


def test_a_replacement_is_refused_once_another_invoice_bills_the_freed_events(acme):
    original = issued_invoice(acme, picks=3)
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=original.pk, reason="Wrong")
    generate(acme)  # the next run bills them again
    with pytest.raises(DomainError) as refused:
        generate_replacement_draft(actor=SystemActor.TESTS, client=acme, void_id=original.pk)
    assert refused.value.code == "events_billed_since"
    assert Invoice.objects.filter(client=acme).count() == 2


def test_only_a_void_invoice_is_rebilled(acme):
    original = issued_invoice(acme, picks=3)
    with pytest.raises(DomainError) as refused:
        generate_replacement_draft(actor=SystemActor.TESTS, client=acme, void_id=original.pk)
    assert refused.value.code == "invoice_not_void"

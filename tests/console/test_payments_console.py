"""Payments in the console: the list, a payment's page, recording money received with a
suggested allocation, correcting a misapplied payment, refunding credit; through the
services, audited with the operator as actor, errors next to their field, a resubmission
harmless."""

import uuid
from datetime import date

import pytest

from tally.audit.models import AuditAction, AuditEvent
from tally.console.queries.payments import numbers_in, payment_list, suggest_allocation
from tally.invoicing.models import InvoiceStatus
from tally.payments.models import Allocation, Payment, Refund
from tests.factories import issued_invoice, pay

pytestmark = pytest.mark.django_db


def key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def two_open(acme):
    """Acme's October invoice ($3.50, due first) and November's ($7.00)."""
    older = issued_invoice(acme, picks=10, issue_date=date(2026, 11, 1))
    newer = issued_invoice(
        acme,
        picks=20,
        period=(date(2026, 11, 1), date(2026, 11, 30)),
        issue_date=date(2026, 12, 1),
    )
    return older, newer


def record_form(client, **changes):
    form = {
        "key": key(),
        "client": str(client.pk),
        "amount": "10.50",
        "currency": client.currency,
        "received_on": "2026-12-02",
        "method": "wire",
        "reference": "",
        "payer": "Acme AP",
    }
    return {**form, **changes}


def test_numbers_found_in_a_reference():
    assert numbers_in("INV-000037") == [37]
    assert numbers_in("inv 37") == [37]
    assert numbers_in("37/38") == [37, 38]
    assert numbers_in("Payment for #0041, #41 and 7") == [41, 7]
    assert numbers_in("ACH transfer") == []


def test_the_suggestion_pays_what_the_reference_names_first_then_the_oldest(acme, two_open):
    older, newer = two_open
    plain = suggest_allocation(acme.pk, 500, "")
    assert [(s.invoice.id, s.amount_minor) for s in plain] == [(older.pk, 350), (newer.pk, 150)]
    named = suggest_allocation(acme.pk, 500, f"remit {newer.display_number}")
    assert [(s.invoice.id, s.amount_minor, s.named) for s in named] == [
        (newer.pk, 500, True),
        (older.pk, 0, False),
    ]
    short = suggest_allocation(acme.pk, 900, f"inv {newer.number}")
    assert [s.amount_minor for s in short] == [700, 200]


def test_the_list_shows_every_clients_payments_newest_first_and_filters(acme, globex, ops):
    invoice = issued_invoice(acme, picks=10)
    pay(acme, 100, auto_allocate=False, received_on=date(2026, 11, 1))
    theirs = pay(globex, 200, auto_allocate=False, received_on=date(2026, 11, 5)).payment
    settled = pay(acme, 350, invoice=invoice, received_on=date(2026, 11, 9)).payment
    assert settled.unapplied_minor == 0
    listing = payment_list()
    assert [r.client_name for r in listing.rows] == ["Acme Inc.", globex.name, "Acme Inc."]
    assert [r.id for r in payment_list(client_id=globex.pk).rows] == [theirs.pk]
    assert settled.pk not in [r.id for r in payment_list(with_credit=True).rows]
    page = ops.get("/console/payments/?credit=1").content.decode()
    assert f'data-payment="{theirs.pk}"' in page and f'data-payment="{settled.pk}"' not in page


def test_the_list_pages_by_keyset(acme):
    for n in range(5):
        pay(acme, 100 + n, auto_allocate=False, received_on=date(2026, 11, 1 + n))
    first = payment_list(limit=2)
    second = payment_list(limit=2, cursor=first.next_cursor)
    third = payment_list(limit=2, cursor=second.next_cursor)
    amounts = [r.amount_minor for page in (first, second, third) for r in page.rows]
    assert amounts == [104, 103, 102, 101, 100]
    assert third.next_cursor is None
    assert [r.amount_minor for r in payment_list(limit=2, cursor=second.prev_cursor).rows] == [
        104,
        103,
    ]


def test_recording_with_the_suggestion_changed_saves_what_the_operator_chose(
    ops, operator, acme, two_open
):
    older, newer = two_open
    # The suggestion for $10.50 naming the November invoice: $7.00 on it, $3.50 on October's.
    suggested = ops.post(
        "/console/payments/new/",
        record_form(acme, reference=f"INV-{newer.number:06d}", suggest="1"),
    )
    html = suggested.content.decode()
    assert suggested.status_code == 200
    assert f'name="alloc_{newer.pk}"' in html and 'value="7.00"' in html
    assert "named in the reference" in html
    # The operator puts only $2.00 on October's; $1.50 stays as credit.
    form = record_form(
        acme,
        reference=f"INV-{newer.number:06d}",
        **{f"alloc_{newer.pk}": "7.00", f"alloc_{older.pk}": "2.00"},
    )
    response = ops.post("/console/payments/new/", form)
    assert response.status_code == 302
    payment = Payment.objects.get()
    assert response["Location"] == f"/console/payments/{payment.pk}/"
    assert (payment.amount_minor, payment.unapplied_minor, payment.recorded_by_id) == (
        1050,
        150,
        operator.pk,
    )
    assert dict(Allocation.objects.values_list("invoice_id", "amount_minor")) == {
        newer.pk: 700,
        older.pk: 200,
    }
    newer.refresh_from_db()
    assert newer.status == InvoiceStatus.PAID
    assert (
        AuditEvent.objects.filter(action=AuditAction.PAYMENT_RECORDED, actor_id=operator.pk).count()
        == 1
    )
    page = ops.get(response["Location"]).content.decode()
    assert "Payment recorded." in page and newer.display_number in page


def test_the_same_form_sent_twice_records_one_payment_and_answers_with_it(ops, acme, two_open):
    form = record_form(acme)
    first = ops.post("/console/payments/new/", form)
    second = ops.post("/console/payments/new/", form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Payment.objects.count() == 1


def test_two_forms_for_one_referenced_remittance_record_it_once(ops, acme, two_open):
    first = ops.post("/console/payments/new/", record_form(acme, reference="BANK-778"))
    second = ops.post("/console/payments/new/", record_form(acme, reference="BANK-778"))
    assert first["Location"] == second["Location"]
    assert Payment.objects.count() == 1
    # The same remittance typed differently, or with other details, is not recorded again.
    other = ops.post(
        "/console/payments/new/", record_form(acme, reference="bank-778 ", payer="Someone else")
    )
    assert other.status_code == 422
    assert "is recorded already" in other.content.decode()
    assert Payment.objects.count() == 1


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"amount": ""}, "pay-amount", "Enter the amount."),
        ({"amount": "1.001"}, "pay-amount", "Enter the amount in USD with at most 2 decimals."),
        ({"currency": "EUR"}, "pay-currency", "This client pays in USD"),
        ({"received_on": "soon"}, "pay-received", "Enter the date as YYYY-MM-DD."),
    ],
)
def test_a_wrong_field_is_refused_next_to_it_and_nothing_is_written(
    ops, acme, two_open, changes, field, message
):
    response = ops.post("/console/payments/new/", record_form(acme, **changes))
    assert response.status_code == 422
    html = response.content.decode()
    error = html[html.index(f'id="{field}-error"') :]
    assert message in error[: error.index("</p>")]
    assert not Payment.objects.exists()


def test_allocations_beyond_an_invoice_or_the_payment_are_refused(ops, acme, two_open):
    older, newer = two_open
    over_invoice = ops.post(
        "/console/payments/new/", record_form(acme, **{f"alloc_{older.pk}": "3.51"})
    )
    assert over_invoice.status_code == 422
    assert "Must be at most $3.50, what it still owes." in over_invoice.content.decode()
    over_payment = ops.post(
        "/console/payments/new/",
        record_form(
            acme, amount="5.00", **{f"alloc_{older.pk}": "3.50", f"alloc_{newer.pk}": "2.00"}
        ),
    )
    assert over_payment.status_code == 422
    assert "more than the $5.00 received" in over_payment.content.decode()
    assert not Payment.objects.exists()


def test_htmx_gets_only_the_allocation_back(ops, acme, two_open):
    older, _ = two_open
    response = ops.post(
        "/console/payments/new/",
        record_form(acme, amount="2.00", suggest="1"),
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="allocation"')
    assert "<html" not in html
    assert f'name="alloc_{older.pk}"' in html and 'value="2.00"' in html


def test_correcting_a_misapplied_payment_from_its_page(ops, operator, acme, two_open):
    older, newer = two_open
    payment = pay(acme, 350, invoice=newer).payment  # meant for October's
    page = ops.get(f"/console/payments/{payment.pk}/").content.decode()
    assert "Take back" in page and newer.display_number in page
    response = ops.post(
        f"/console/payments/{payment.pk}/correct/",
        {"key": key(), f"back_{newer.pk}": "3.50", f"on_{older.pk}": "3.50"},
    )
    assert response.status_code == 302
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.status, newer.balance_minor) == ("paid", 700)
    assert AuditEvent.objects.filter(
        action=AuditAction.PAYMENT_UNALLOCATED, actor_id=operator.pk
    ).exists()
    history = ops.get(response["Location"]).content.decode()
    assert "Taken back (misapplied)" in history


def test_taking_back_more_than_was_put_on_is_refused_next_to_it(ops, acme, two_open):
    _, newer = two_open
    payment = pay(acme, 350, invoice=newer).payment
    response = ops.post(
        f"/console/payments/{payment.pk}/correct/", {"key": key(), f"back_{newer.pk}": "3.51"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="back-{newer.pk}-error"' in html
    assert "Must be at most $3.50, what it put there." in html
    assert Allocation.objects.get().amount_minor == 350


def test_unapplied_credit_is_applied_from_the_payments_page(ops, acme, two_open):
    older, _ = two_open
    payment = pay(acme, 500, auto_allocate=False).payment
    response = ops.post(
        f"/console/payments/{payment.pk}/correct/", {"key": key(), f"on_{older.pk}": "3.50"}
    )
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.unapplied_minor == 150


def test_a_refund_from_the_payments_page(ops, operator, acme):
    payment = pay(acme, 500, auto_allocate=False).payment
    form = {
        "key": key(),
        "amount": "2.00",
        "refunded_on": "2026-12-02",
        "method": "ach",
        "reference": "RF-9",
    }
    assert ops.post(f"/console/payments/{payment.pk}/refund/", form).status_code == 302
    assert ops.post(f"/console/payments/{payment.pk}/refund/", form).status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_minor, refund.reference, refund.recorded_by_id) == (
        200,
        "RF-9",
        operator.pk,
    )
    too_much = ops.post(
        f"/console/payments/{payment.pk}/refund/", {**form, "key": key(), "amount": "3.01"}
    )
    assert too_much.status_code == 422
    assert "Must be at most $3.00, the unapplied credit." in too_much.content.decode()
    page = ops.get(f"/console/payments/{payment.pk}/").content.decode()
    assert "RF-9" in page and "Refunded" in page


def test_the_credit_page_lists_each_clients_unapplied_credit_in_its_currency(ops, acme, globex):
    pay(acme, 500, auto_allocate=False)
    pay(acme, 250, auto_allocate=False)
    page = ops.get("/console/payments/credit/").content.decode()
    assert f'data-client="{acme.pk}"' in page and "$7.50" in page
    assert f'data-client="{globex.pk}"' not in page


def test_a_missing_payment_is_a_404(ops):
    assert ops.get("/console/payments/999999/").status_code == 404
    assert ops.post("/console/payments/999999/refund/", {}).status_code == 404

"""A credit on an invoice already paid becomes the client's unapplied credit."""

import pytest

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.actions.invoices import create_credit_note
from tally.actions.payments import refund_credit
from tally.audit.actors import SystemActor
from tally.disputes.services import open_dispute
from tally.errors import DomainError
from tally.invoicing.models import InvoiceStatus
from tally.payments.models import Payment
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


def credit(invoice, amount):
    return create_credit_note(
        actor=SystemActor.TESTS,
        client=invoice.client,
        invoice_id=invoice.pk,
        amount_minor=amount,
        reason="Damaged pallet",
    )


def unapplied(client):
    return sum(Payment.objects.filter(client=client).values_list("unapplied_minor", flat=True))


def test_a_credit_on_a_paid_invoice_becomes_unapplied_credit(acme):
    invoice = issued_invoice(acme, picks=10)  # 3.50
    payment = pay(acme, 350, invoice=invoice).payment
    note = credit(invoice, 100)
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, invoice.allocated_minor, invoice.credited_minor) == ("paid", 250, 100)
    assert invoice.balance_minor == 0
    assert (payment.allocated_minor, payment.unapplied_minor) == (250, 100)
    assert note.amount_minor == 100


def test_on_a_partly_paid_invoice_only_the_part_beyond_the_balance_comes_back(acme):
    invoice = issued_invoice(acme, picks=20)  # 7.00
    pay(acme, 500, invoice=invoice)  # owes 2.00
    credit(invoice, 300)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.allocated_minor, invoice.credited_minor) == ("paid", 400, 300)
    assert unapplied(acme) == 100


def test_the_latest_payment_comes_back_first(acme):
    invoice = issued_invoice(acme, picks=20)  # 7.00
    first = pay(acme, 400, invoice=invoice).payment
    second = pay(acme, 300, invoice=invoice).payment
    credit(invoice, 500)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.unapplied_minor, second.unapplied_minor) == (200, 300)


def test_the_credit_pays_the_next_invoice_or_is_refunded(acme):
    paid = issued_invoice(acme, picks=10)  # 3.50
    payment = pay(acme, 350, invoice=paid).payment
    credit(paid, 350)
    assert unapplied(acme) == 350
    refund_credit(
        actor=SystemActor.TESTS,
        client=acme,
        payment_id=payment.pk,
        amount_minor=50,
        refunded_on=paid.due_date,
        method="ach",
    )
    following = issued_invoice(acme, picks=20)  # 7.00
    assert (following.allocated_minor, following.balance_minor) == (300, 400)
    assert unapplied(acme) == 0


def test_no_credit_beyond_what_the_invoice_billed_less_earlier_credits(acme):
    invoice = issued_invoice(acme, picks=10)  # 3.50
    pay(acme, 350, invoice=invoice)
    credit(invoice, 300)
    with pytest.raises(DomainError) as refused:
        credit(invoice, 51)
    assert refused.value.code == "credit_exceeds_invoice"
    invoice.refresh_from_db()
    assert (invoice.allocated_minor, invoice.credited_minor) == (50, 300)
    credit(invoice, 50)
    invoice.refresh_from_db()
    assert (invoice.allocated_minor, invoice.credited_minor, invoice.status) == (0, 350, "paid")


def test_a_dispute_on_a_paid_invoice_resolved_as_credited_leaves_credit_on_the_account(acme):
    invoice = issued_invoice(acme, picks=10, labels=20)  # 4.40
    pay(acme, 440, invoice=invoice)
    user = make_user(Role.CLIENT_USER, client=acme)
    dispute = open_dispute(
        actor=user, client=acme, invoice_id=invoice.pk, reason="Labels doubled", amount_minor=90
    )
    resolved = resolve_dispute(
        actor=make_user(Role.OPERATOR),
        client=acme,
        dispute_id=dispute.pk,
        resolution="credited",
        summary="Credited; the money is credit on your account.",
        credit_amount_minor=90,
    )
    invoice.refresh_from_db()
    assert resolved.credit_note.amount_minor == 90
    assert invoice.status == InvoiceStatus.PAID and invoice.balance_minor == 0
    assert unapplied(acme) == 90

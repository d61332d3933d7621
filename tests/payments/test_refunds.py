"""Refunding a client's unapplied credit."""

from datetime import date

import pytest

from tally.actions.payments import refund_credit
from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tally.errors import DomainError, NotFound
from tally.payments.models import Refund
from tests.factories import issued_invoice, pay

pytestmark = pytest.mark.django_db


def refund(client, payment, amount, **kw):
    return refund_credit(
        actor=SystemActor.TESTS,
        client=client,
        payment_id=payment.pk,
        amount_minor=amount,
        refunded_on=kw.pop("refunded_on", date(2026, 11, 20)),
        method=kw.pop("method", "wire"),
        **kw,
    )


def test_a_refund_reduces_the_unapplied_credit_and_is_recorded_as_such(acme):
    invoice = issued_invoice(acme, picks=10)  # 3.50
    payment = pay(acme, 1000, invoice=None, allocations=[(invoice.pk, 350)]).payment
    assert payment.unapplied_minor == 650

    made = refund(acme, payment, 400, reference="RF-1")

    payment.refresh_from_db()
    assert (payment.allocated_minor, payment.refunded_minor, payment.unapplied_minor) == (
        350,
        400,
        250,
    )
    assert (made.amount_minor, made.currency, made.reference, made.method) == (
        400,
        "USD",
        "RF-1",
        "wire",
    )
    event = AuditEvent.objects.filter(action=AuditAction.PAYMENT_REFUNDED).get()
    assert event.object_id == str(payment.pk) and event.client_id == acme.pk


def test_a_refund_above_the_unapplied_credit_is_refused_and_writes_nothing(acme):
    invoice = issued_invoice(acme, picks=10)
    payment = pay(acme, 500, allocations=[(invoice.pk, 350)]).payment
    for amount in (151, 0, -5):
        with pytest.raises(DomainError) as refused:
            refund(acme, payment, amount)
        assert refused.value.code == "invalid_refund"
        assert [p.field for p in refused.value.problems] == ["amount"]
    with pytest.raises(DomainError):
        refund(acme, payment, 10, method="cash")
    assert not Refund.objects.exists()
    refund(acme, payment, 150)
    payment.refresh_from_db()
    assert payment.unapplied_minor == 0


def test_refunded_credit_no_longer_pays_the_next_invoice(acme):
    payment = pay(acme, 500, auto_allocate=False).payment
    refund(acme, payment, 300)
    invoice = issued_invoice(acme, picks=10)  # 3.50
    assert (invoice.allocated_minor, invoice.balance_minor) == (200, 150)


def test_another_clients_payment_cannot_be_refunded(acme, globex):
    theirs = pay(globex, 500, auto_allocate=False).payment
    with pytest.raises(NotFound):
        refund(acme, theirs, 100)

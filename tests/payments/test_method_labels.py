"""A payment method reads the same wherever a person reads it: the console's advice and
payments to match it to, the portal's reported payment, its notices and its receipts.
One map, `payments.models.METHOD_LABELS`, from `PaymentMethod`'s labels."""

import uuid
from datetime import date

import pytest

from tally.accounts.models import Role
from tally.console.queries import notices as console_notices
from tally.payments.models import PaymentMethod
from tally.payments.services import report_payment
from tally.portal import queries as portal
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


def test_each_method_reads_as_its_label_in_the_console_and_the_portal(acme):
    user = make_user(Role.CLIENT_USER, client=acme)
    reported = {}
    for method in PaymentMethod:
        invoice = issued_invoice(acme, picks=10)
        report_payment(
            actor=user,
            client=acme,
            amount_minor=100,
            currency="USD",
            paid_on=date(2026, 11, 24),
            method=method.value,
            reference=f"R-{method.value}",
            invoice_ids=[invoice.pk],
            key=uuid.uuid4(),
            today=date(2026, 11, 25),
        )
        reported[method.value] = portal.payment_reported(acme.pk, invoice.pk)
        payment = pay(acme, 100, method=method.value, auto_allocate=False).payment
        assert portal.payment_receipt(acme.pk, payment.pk).method_label == method.label

    labels = {m.value: m.label for m in PaymentMethod}
    assert {m: r.method_label for m, r in reported.items()} == labels
    matchable = console_notices.matchable_payments(acme.pk)
    assert {p.method: p.method_label for p in matchable} == labels
    waiting = console_notices.waiting_advice(acme.pk)
    assert {n.method: n.method_label for n in waiting} == labels
    notices = portal.notice_page(acme.pk, limit=len(labels)).rows
    assert {n.method: n.method_label for n in notices} == labels
    assert labels["wire"] == "Wire transfer" and labels["sepa"] == "SEPA transfer"

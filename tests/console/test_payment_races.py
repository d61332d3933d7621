"""Payments at once on PostgreSQL: two operators recording one remittance, one form sent
twice, two operators correcting one payment, a credit after payment beside a correction.
One wins, the other is told, the money stays exact."""

import uuid
from datetime import date

import pytest

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note
from tally.console.services import payments as services
from tally.console.services.submissions import AlreadySubmitted
from tally.errors import DomainError
from tally.payments.models import Allocation, Payment
from tally.payments.services import PaymentResult
from tests.concurrency import at_once
from tests.factories import issued_invoice, make_client, make_user, pay

pytestmark = [pytest.mark.postgres_only]


@pytest.fixture
def race(tx_db):
    client = make_client("race")
    wrong = issued_invoice(client, picks=10)  # 3.50
    right = issued_invoice(client, picks=20, period=(date(2026, 11, 1), date(2026, 11, 30)))
    return client, wrong, right


def record(operator, client, invoice, key, reference="BANK-1"):
    return lambda: services.record_received_payment(
        actor=operator,
        client_id=client.pk,
        amount_minor=350,
        currency="USD",
        received_on=date(2026, 12, 2),
        method="wire",
        reference=reference,
        payer="",
        allocations=[(invoice.pk, 350)],
        key=key,
    )


def test_two_operators_recording_one_remittance_at_once_record_one_payment(race):
    client, wrong, _ = race
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    outcomes = at_once(
        record(first, client, wrong, uuid.uuid4()), record(second, client, wrong, uuid.uuid4())
    )
    assert all(isinstance(o, PaymentResult) for o in outcomes), outcomes
    assert sorted(o.replayed for o in outcomes) == [False, True]
    assert outcomes[0].payment.pk == outcomes[1].payment.pk
    assert Payment.objects.count() == 1
    wrong.refresh_from_db()
    assert (wrong.allocated_minor, wrong.status) == (350, "paid")


def test_one_form_sent_twice_at_once_records_one_payment(race):
    client, wrong, _ = race
    operator = make_user(Role.OPERATOR)
    key = uuid.uuid4()
    outcomes = at_once(
        record(operator, client, wrong, key, reference=""),
        record(operator, client, wrong, key, reference=""),
    )
    assert sum(isinstance(o, AlreadySubmitted) for o in outcomes) == 1, outcomes
    assert Payment.objects.count() == 1
    wrong.refresh_from_db()
    assert wrong.allocated_minor == 350


def correct(operator, payment, wrong, right):
    return lambda: services.correct_allocation(
        actor=operator,
        payment_id=payment.pk,
        releases=[(wrong.pk, 350)],
        allocations=[(right.pk, 350)],
        key=uuid.uuid4(),
    )


def test_two_operators_correcting_one_payment_at_once_move_the_money_once(race):
    client, wrong, right = race
    payment = pay(client, 350, invoice=wrong).payment
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    outcomes = at_once(
        correct(first, payment, wrong, right), correct(second, payment, wrong, right)
    )
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == "invalid_unallocation", outcomes
    payment.refresh_from_db()
    wrong.refresh_from_db()
    right.refresh_from_db()
    assert (payment.allocated_minor, payment.unapplied_minor) == (350, 0)
    assert (wrong.allocated_minor, wrong.status) == (0, "open")
    assert (right.allocated_minor, right.balance_minor) == (350, 350)
    assert list(Allocation.objects.values_list("invoice_id", "amount_minor")) == [(right.pk, 350)]


def test_a_credit_after_payment_beside_a_correction_leaves_the_money_exact(race):
    client, wrong, right = race
    payment = pay(client, 350, invoice=wrong).payment
    operator = make_user(Role.OPERATOR)

    def credit():
        return create_credit_note(
            actor=operator, client=client, invoice_id=wrong.pk, amount_minor=200, reason="Late"
        )

    outcomes = at_once(credit, correct(operator, payment, wrong, right))
    payment.refresh_from_db()
    wrong.refresh_from_db()
    right.refresh_from_db()
    # Whichever went first, every unit of the payment is somewhere, once.
    assert payment.allocated_minor + payment.unapplied_minor == 350
    assert payment.allocated_minor == sum(
        Allocation.objects.filter(payment=payment).values_list("amount_minor", flat=True)
    )
    for inv in (wrong, right):
        assert inv.total_minor - inv.allocated_minor - inv.credited_minor == inv.balance_minor >= 0
    assert not any(isinstance(o, Exception) and not isinstance(o, DomainError) for o in outcomes), (
        outcomes
    )

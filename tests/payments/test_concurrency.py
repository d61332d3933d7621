"""Two payments racing for one invoice, on real PostgreSQL connections."""

from datetime import date

import pytest

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.invoicing.models import Invoice
from tally.payments.models import Allocation, Payment
from tests.concurrency import at_once
from tests.factories import draft_invoice, issued_invoice, make_client, pay

pytestmark = [pytest.mark.postgres_only]


def test_concurrent_payments_never_allocate_past_the_balance(tx_db):
    client = make_client("race")
    invoice = issued_invoice(client, picks=100)  # 35.00
    explicit = [(invoice.pk, 3000)]

    def payment(i):
        return pay(
            client,
            3000,
            key=f"p{i}",
            received_on=date(2026, 11, 20),
            method="wire",
            allocations=explicit if i % 2 else None,
        )

    outcomes = at_once(*(lambda i=i: payment(i) for i in range(4)))
    invoice.refresh_from_db()
    assert invoice.allocated_minor == sum(
        Allocation.objects.filter(invoice=invoice).values_list("amount_minor", flat=True)
    )
    # Whatever the order, the first payment takes 30.00 and an automatic one the last 5.00;
    # an explicit 30.00 that comes later does not fit and is refused, not squeezed in.
    assert invoice.allocated_minor == invoice.total_minor == 3500
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert all(o.code == "invalid_allocation" for o in refused)
    assert not [o for o in outcomes if isinstance(o, Exception) and not isinstance(o, DomainError)]
    assert invoice.status == "paid" and invoice.balance_minor == 0
    assert 1 <= len(refused) <= 2


def test_the_same_key_sent_twice_at_once_records_one_payment(tx_db):
    client = make_client("retry-race")
    issued_invoice(client, picks=100)

    def payment():
        return pay(client, 1000, key="same", received_on=date(2026, 11, 20))

    outcomes = at_once(*(payment for _ in range(4)))
    assert Payment.objects.filter(client=client).count() == 1
    payment = Payment.objects.get(client=client)
    assert {o.payment.pk for o in outcomes} == {payment.pk}
    assert sum(not o.replayed for o in outcomes) == 1
    assert Invoice.objects.get(client=client).allocated_minor == 1000


def test_issuing_passes_over_a_credit_another_transaction_holds_instead_of_waiting(tx_db):
    import threading

    from django.db import connection, transaction

    from tally.actions.invoices import issue_invoice

    client = make_client("credit-in-use")
    # Nothing to allocate to yet: all of each payment is credit.
    held = pay(client, 1000, key="held", received_on=date(2026, 11, 20), method="wire").payment
    free = pay(client, 200, key="free", received_on=date(2026, 11, 21), method="wire").payment
    draft = draft_invoice(client, picks=10)  # 3.50, picks on 3 October
    locked, release = threading.Event(), threading.Event()

    def hold():  # another request, allocating the older credit
        try:
            with transaction.atomic():
                Payment.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")  # waiting would fail, not hang
            invoice = issue_invoice(
                actor=SystemActor.TESTS,
                client=client,
                invoice_id=draft.pk,
                issue_date=date(2026, 11, 22),
            )
    finally:
        release.set()
        holder.join(30)
    held.refresh_from_db()
    free.refresh_from_db()
    assert (invoice.allocated_minor, invoice.balance_minor) == (200, 150)
    assert (held.unapplied_minor, free.unapplied_minor) == (1000, 0)

from datetime import date

import pytest

from tally.actions.payments import apply_unapplied_credit
from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.invoicing.models import InvoiceStatus
from tally.payments.models import Allocation, Payment
from tests.factories import issued_invoice, pay

pytestmark = pytest.mark.django_db


def test_oldest_invoice_first_partial_and_unapplied_credit(acme):
    older = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))  # 3.50
    newer = issued_invoice(acme, picks=20, issue_date=date(2026, 11, 1))  # 7.00
    result = pay(acme, 500, key="k1")
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.status == InvoiceStatus.PAID and older.balance_minor == 0
    assert newer.status == InvoiceStatus.OPEN and newer.balance_minor == 550
    assert result.payment.unapplied_minor == 0
    over = pay(acme, 1000, key="k2").payment
    newer.refresh_from_db()
    assert newer.status == InvoiceStatus.PAID
    assert (over.allocated_minor, over.unapplied_minor) == (550, 450)


def test_credit_left_over_pays_the_next_invoice_when_it_is_issued(acme, mailoutbox):
    from tally.audit.models import AuditEvent
    from tally.reminders.services import send_due_reminders

    first = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))  # 3.50
    over = pay(acme, 800, key="overpaid", allocations=[(first.pk, 350)]).payment
    assert over.unapplied_minor == 450
    second = issued_invoice(acme, picks=20)  # 7.00, issued Nov 1, due Dec 1
    over.refresh_from_db()
    assert (second.allocated_minor, second.balance_minor, second.status) == (450, 250, "open")
    assert over.unapplied_minor == 0
    assert Allocation.objects.get(invoice=second).payment == over
    allocated = AuditEvent.objects.filter(action="payment.allocated").latest("id")
    assert allocated.object_id == str(second.pk) and '"amount_minor":450' in allocated.data
    send_due_reminders(today=date(2026, 12, 1))
    assert [m.subject.split(" for ", 1)[1] for m in mailoutbox] == [
        "$2.50 is due today (Dec 1, 2026)"
    ]


def test_credit_larger_than_the_next_invoice_pays_it_and_the_rest_waits(acme):
    from tally.audit.models import AuditEvent
    from tally.reminders.models import Reminder

    advance = pay(acme, 1000, key="advance").payment  # no invoice yet: all of it is credit
    assert advance.unapplied_minor == 1000
    invoice = issued_invoice(acme, picks=10)  # 3.50
    advance.refresh_from_db()
    assert (invoice.status, invoice.balance_minor, advance.unapplied_minor) == ("paid", 0, 650)
    assert not Reminder.objects.filter(invoice=invoice, status="scheduled").exists()
    actions = list(
        AuditEvent.objects.filter(object_id=str(invoice.pk), object_type="invoicing.invoice")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-4:] == [
        "invoice.issued",
        "payment.allocated",
        "invoice.paid",
        "reminders.skipped",
    ]
    skipped = AuditEvent.objects.get(action="reminders.skipped", object_id=str(invoice.pk))
    assert '"why":"invoice paid"' in skipped.data and '"skipped":5' in skipped.data


def test_several_credits_pay_the_next_invoice_oldest_first(acme):
    older = pay(acme, 200, key="older").payment
    newer = pay(acme, 300, key="newer").payment
    invoice = issued_invoice(acme, picks=10)  # 3.50
    older.refresh_from_db()
    newer.refresh_from_db()
    assert (older.unapplied_minor, newer.unapplied_minor) == (0, 150)
    assert invoice.status == "paid"


def test_credit_left_by_an_explicit_allocation_can_be_applied_to_open_invoices_later(acme):
    first = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))  # 3.50
    second = issued_invoice(acme, picks=20)  # 7.00
    payment = pay(acme, 1000, key="for-first", allocations=[(first.pk, 350)]).payment
    assert payment.unapplied_minor == 650  # the remittance named the first invoice only
    payment = apply_unapplied_credit(actor=SystemActor.TESTS, client=acme, payment_id=payment.pk)
    second.refresh_from_db()
    assert (payment.unapplied_minor, second.balance_minor, second.status) == (0, 50, "open")


def test_explicit_allocation_is_checked_against_each_balance(acme):
    a = issued_invoice(acme, picks=10)
    b = issued_invoice(acme, picks=10)
    with pytest.raises(DomainError) as err:
        pay(acme, 1000, key="k", allocations=[(a.pk, 100), (b.pk, 351)])
    assert err.value.code == "invalid_allocation"
    assert (err.value.problems[0].row, err.value.problems[0].field) == (2, "amount")
    assert not Payment.objects.exists()
    pay(acme, 1000, key="k", allocations=[(b.pk, 200)])
    b.refresh_from_db()
    a.refresh_from_db()
    assert (a.balance_minor, b.balance_minor) == (350, 150)


def test_a_retry_with_the_same_key_gives_the_same_payment(acme):
    issued_invoice(acme, picks=10)
    first = pay(acme, 200, key="retry-me")
    second = pay(acme, 200, key="retry-me")
    assert second.replayed and second.payment.pk == first.payment.pk
    assert Payment.objects.count() == 1 and Allocation.objects.count() == 1
    with pytest.raises(DomainError) as err:
        pay(acme, 300, key="retry-me")
    assert err.value.code == "idempotency_key_reused"


def test_a_payment_in_another_currency_is_refused(acme):
    with pytest.raises(DomainError) as err:
        pay(acme, 100, key="eur", currency="EUR")
    assert err.value.problems[0].field == "currency"
    assert "EUR does not match the client's currency USD" in str(err.value)
    assert not Payment.objects.exists()


def test_an_allocation_to_another_clients_invoice_is_not_found(acme, globex):
    theirs = issued_invoice(globex, picks=10)
    with pytest.raises(DomainError) as err:
        pay(acme, 100, key="x", allocations=[(theirs.pk, 100)])
    assert err.value.code == "not_found"
    theirs.refresh_from_db()
    assert theirs.allocated_minor == 0

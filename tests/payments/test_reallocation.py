"""Taking a misapplied payment back and putting it on the right invoice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tally.actions.invoices import void_invoice
from tally.actions.payments import reallocate_payment
from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tally.errors import DomainError, NotFound
from tally.invoicing.models import InvoiceStatus
from tally.payments.models import Allocation
from tally.reminders.models import ReminderStatus
from tests.factories import issued_invoice, pay

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def reallocate(client, payment, releases, allocations=None):
    return reallocate_payment(
        actor=SystemActor.TESTS,
        client=client,
        payment_id=payment.pk,
        releases=releases,
        allocations=allocations,
    )


def test_a_misapplied_payment_moves_to_the_right_invoice_and_the_wrong_one_owes_again(acme):
    wrong = issued_invoice(acme, picks=10, issue_date=today())  # 3.50
    right = issued_invoice(acme, picks=20, issue_date=today())  # 7.00
    payment = pay(acme, 350, invoice=wrong).payment
    wrong.refresh_from_db()
    assert wrong.status == InvoiceStatus.PAID

    moved = reallocate(acme, payment, [(wrong.pk, 350)], [(right.pk, 350)])

    wrong.refresh_from_db()
    right.refresh_from_db()
    assert (wrong.status, wrong.allocated_minor, wrong.balance_minor) == ("open", 0, 350)
    assert wrong.paid_at is None
    assert (right.allocated_minor, right.balance_minor) == (350, 350)
    assert (moved.allocated_minor, moved.unapplied_minor) == (350, 0)
    assert list(
        Allocation.objects.filter(payment=payment).values_list("invoice", "amount_minor")
    ) == [(right.pk, 350)]
    actions = list(
        AuditEvent.objects.filter(object_id=str(wrong.pk), object_type="invoicing.invoice")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-3:] == [
        AuditAction.PAYMENT_UNALLOCATED,
        AuditAction.INVOICE_REOPENED,
        AuditAction.INVOICE_REMINDERS_RESUMED,
    ]


def test_an_invoice_that_owes_again_gets_back_only_its_reminders_still_to_come(acme):
    # Issued 40 days ago, due 10 days ago: the steps at -3 and 0 days went by while paid.
    invoice = issued_invoice(acme, picks=10, issue_date=today() - timedelta(days=40))
    payment = pay(acme, 350, invoice=invoice).payment
    assert not invoice.reminders.filter(status=ReminderStatus.SCHEDULED).exists()

    reallocate(acme, payment, [(invoice.pk, 100)])

    steps = dict(invoice.reminders.values_list("offset_days", "status"))
    assert steps == {
        -3: ReminderStatus.SKIPPED,
        0: ReminderStatus.SKIPPED,
        7: ReminderStatus.SKIPPED,
        14: ReminderStatus.SCHEDULED,
        30: ReminderStatus.SCHEDULED,
    }
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.balance_minor == 100
    assert invoice.due_date < today()  # overdue again, as the derived status says


def test_money_taken_back_and_left_unplaced_is_unapplied_credit(acme):
    invoice = issued_invoice(acme, picks=20, issue_date=today())  # 7.00
    payment = pay(acme, 700, invoice=invoice).payment
    after = reallocate(acme, payment, [(invoice.pk, 250)])
    assert (after.allocated_minor, after.unapplied_minor) == (450, 250)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.balance_minor) == ("open", 250)
    assert Allocation.objects.get(payment=payment).amount_minor == 450


def test_a_payment_taken_back_no_longer_blocks_voiding_its_invoice(acme):
    invoice = issued_invoice(acme, picks=10, issue_date=today())  # 3.50
    payment = pay(acme, 200, invoice=invoice).payment  # meant for another client's account
    with pytest.raises(DomainError) as refused:
        void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=invoice.pk, reason="Wrong")
    assert refused.value.code == "invoice_has_payments"
    reallocate(acme, payment, [(invoice.pk, 200)])
    void_invoice(actor=SystemActor.TESTS, client=acme, invoice_id=invoice.pk, reason="Wrong")
    payment.refresh_from_db()
    assert payment.unapplied_minor == 200


def test_taking_back_more_than_was_put_on_an_invoice_is_refused_and_writes_nothing(acme):
    invoice = issued_invoice(acme, picks=10, issue_date=today())
    other = issued_invoice(acme, picks=20, issue_date=today())
    payment = pay(acme, 350, invoice=invoice).payment
    count = AuditEvent.objects.count()
    for releases in ([(invoice.pk, 351)], [(other.pk, 1)], [(invoice.pk, 0)], []):
        with pytest.raises(DomainError) as refused:
            reallocate(acme, payment, releases, [(other.pk, 1)])
        assert refused.value.code == "invalid_unallocation"
    # Putting back more than the other invoice owes refuses the whole correction.
    with pytest.raises(DomainError) as refused:
        reallocate(acme, payment, [(invoice.pk, 350)], [(other.pk, 701)])
    assert refused.value.code == "invalid_allocation"
    invoice.refresh_from_db()
    payment.refresh_from_db()
    assert (invoice.status, invoice.allocated_minor, payment.allocated_minor) == ("paid", 350, 350)
    assert AuditEvent.objects.count() == count


def test_another_clients_payment_or_invoice_is_not_found(acme, globex):
    theirs = issued_invoice(globex, picks=10, issue_date=today())
    their_payment = pay(globex, 350, invoice=theirs).payment
    ours = issued_invoice(acme, picks=10, issue_date=today())
    our_payment = pay(acme, 350, invoice=ours).payment
    with pytest.raises(NotFound):
        reallocate(acme, their_payment, [(theirs.pk, 350)])
    with pytest.raises(NotFound):
        reallocate(acme, our_payment, [(theirs.pk, 1)])
    with pytest.raises(NotFound):
        reallocate(acme, our_payment, [(ours.pk, 350)], [(theirs.pk, 350)])

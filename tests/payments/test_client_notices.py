"""What a client tells the 3PL about money (credit to apply, a payment it made): the
services validate, record once per form key, audit, and the operator applies, records or
declines."""

import uuid
from datetime import date

import pytest

from tally.accounts.models import Role
from tally.actions.payments import apply_credit_on_request
from tally.audit.models import AuditAction, AuditEvent
from tally.errors import DomainError, NotFound
from tally.invoicing.models import InvoiceStatus
from tally.payments.models import Allocation, ClientNotice, NoticeStatus
from tally.payments.services import (
    ask_to_apply_credit,
    decline_notice,
    match_remittance,
    report_payment,
)
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 25)


@pytest.fixture
def acme_user(acme):
    return make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example")


@pytest.fixture
def owing(acme):
    """Acme's two open invoices ($3.50 and $7.00) and $5.00 of unapplied credit in two
    payments ($2.00 received first, then $3.00)."""
    older = issued_invoice(acme, picks=10, issue_date=date(2026, 10, 1))
    newer = issued_invoice(
        acme, picks=20, period=(date(2026, 11, 1), date(2026, 11, 30)), issue_date=date(2026, 11, 2)
    )
    pay(acme, 200, received_on=date(2026, 11, 3), auto_allocate=False)
    pay(acme, 300, received_on=date(2026, 11, 4), auto_allocate=False)
    return older, newer


def problems(e: pytest.ExceptionInfo) -> list[tuple[str | None, int | None, str]]:
    return [(p.field, p.row, p.message) for p in e.value.problems]


def test_a_credit_request_is_recorded_once_per_form_and_audited(acme, acme_user, owing):
    older, newer = owing
    key = uuid.uuid4()
    lines = [(older.pk, 350), (newer.pk, 150)]
    first = ask_to_apply_credit(actor=acme_user, client=acme, lines=lines, key=key)
    again = ask_to_apply_credit(actor=acme_user, client=acme, lines=lines, key=key)
    assert not first.replayed and again.replayed and again.notice.pk == first.notice.pk
    assert ClientNotice.objects.count() == 1
    notice = first.notice
    assert (notice.kind, notice.status, notice.amount_minor) == ("credit_request", "waiting", 500)
    assert sorted(notice.invoices.values_list("invoice_id", "amount_minor")) == sorted(lines)
    [event] = AuditEvent.objects.filter(action=AuditAction.CREDIT_APPLICATION_REQUESTED)
    assert event.actor_label == "ap@acme.example" and event.client_id == acme.pk


def test_a_credit_request_asks_for_no_more_than_the_credit_and_what_each_invoice_owes(
    acme, acme_user, owing
):
    older, newer = owing
    with pytest.raises(DomainError) as e:
        ask_to_apply_credit(actor=acme_user, client=acme, lines=[(older.pk, 351)], key=uuid.uuid4())
    assert problems(e) == [
        ("lines", 0, f"{older.display_number} owes $3.50: ask for that much at most")
    ]
    with pytest.raises(DomainError) as e:
        ask_to_apply_credit(
            actor=acme_user, client=acme, lines=[(older.pk, 350), (newer.pk, 151)], key=uuid.uuid4()
        )
    assert problems(e) == [
        ("lines", None, "that is $5.01 in all, and $5.00 of your credit is left to ask for")
    ]
    # A request still waiting holds its part of the credit.
    ask_to_apply_credit(actor=acme_user, client=acme, lines=[(older.pk, 300)], key=uuid.uuid4())
    with pytest.raises(DomainError) as e:
        ask_to_apply_credit(actor=acme_user, client=acme, lines=[(newer.pk, 201)], key=uuid.uuid4())
    assert "$2.00 of your credit is left" in problems(e)[0][2]
    assert ClientNotice.objects.count() == 1


def test_another_clients_invoice_or_a_paid_one_cannot_be_named(acme, globex, acme_user, owing):
    older, _ = owing
    theirs = issued_invoice(globex, picks=10, issue_date=date(2026, 10, 1))
    paid = issued_invoice(acme, picks=3, period=(date(2026, 9, 1), date(2026, 9, 30)))
    paid.refresh_from_db()
    assert paid.status == InvoiceStatus.PAID  # issued, and paid at once by the credit
    for invoice, words in ((theirs, "no such invoice"), (paid, "is not open")):
        with pytest.raises(DomainError) as e:
            ask_to_apply_credit(
                actor=acme_user, client=acme, lines=[(invoice.pk, 100)], key=uuid.uuid4()
            )
        assert words in problems(e)[0][2]
        with pytest.raises(DomainError) as e:
            report_payment(
                actor=acme_user,
                client=acme,
                amount_minor=100,
                currency="USD",
                paid_on=TODAY,
                method="ach",
                reference="",
                invoice_ids=[invoice.pk],
                key=uuid.uuid4(),
                today=TODAY,
            )
        assert words in problems(e)[0][2]
    assert not ClientNotice.objects.exists()


def test_remittance_advice_is_checked_and_kept_once(acme, acme_user, owing):
    older, _ = owing
    with pytest.raises(DomainError) as e:
        report_payment(
            actor=acme_user,
            client=acme,
            amount_minor=0,
            currency="EUR",
            paid_on=date(2026, 11, 26),
            method="pigeon",
            reference="",
            invoice_ids=[older.pk],
            key=uuid.uuid4(),
            today=TODAY,
        )
    assert {f for f, _, _ in problems(e)} == {"amount", "paid_on", "method", "invoices"}
    assert "is in USD, not EUR" in " ".join(m for _, _, m in problems(e))
    key = uuid.uuid4()
    for _ in range(2):
        result = report_payment(
            actor=acme_user,
            client=acme,
            amount_minor=350,
            currency="usd",
            paid_on=TODAY,
            method="wire",
            reference=" W-77 ",
            invoice_ids=[older.pk],
            key=key,
            today=TODAY,
        )
    assert ClientNotice.objects.get().reference == "W-77"
    assert result.replayed
    assert AuditEvent.objects.filter(action=AuditAction.PAYMENT_REPORTED).count() == 1


def test_the_operator_applies_the_credit_oldest_payment_first(acme, acme_user, owing, operator):
    older, newer = owing
    notice = ask_to_apply_credit(
        actor=acme_user, client=acme, lines=[(older.pk, 350), (newer.pk, 100)], key=uuid.uuid4()
    ).notice
    apply_credit_on_request(actor=operator, client=acme, notice_id=notice.pk)
    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.status == InvoiceStatus.PAID and newer.balance_minor == 600
    assert sorted(
        Allocation.objects.values_list("payment__received_on", "invoice_id", "amount_minor")
    ) == [
        (date(2026, 11, 3), older.pk, 200),
        (date(2026, 11, 4), older.pk, 150),
        (date(2026, 11, 4), newer.pk, 100),
    ]
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.DONE and notice.closed_by == operator
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_NOTICE_DONE).count() == 1
    with pytest.raises(DomainError) as e:  # answered once
        apply_credit_on_request(actor=operator, client=acme, notice_id=notice.pk)
    assert e.value.code == "notice_answered"


def test_applying_credit_that_was_used_meanwhile_changes_nothing(acme, acme_user, owing, operator):
    older, newer = owing
    notice = ask_to_apply_credit(
        actor=acme_user, client=acme, lines=[(newer.pk, 500)], key=uuid.uuid4()
    ).notice
    pay(acme, older.total_minor, invoice=older)  # a cheque for the older one
    from tally.actions.payments import apply_unapplied_credit
    from tally.payments.models import Payment

    first = Payment.objects.filter(client=acme).order_by("received_on").first()
    apply_unapplied_credit(
        actor=operator, client=acme, payment_id=first.pk, allocations=[(newer.pk, 200)]
    )
    with pytest.raises(DomainError) as e:
        apply_credit_on_request(actor=operator, client=acme, notice_id=notice.pk)
    assert e.value.code == "credit_used"
    newer.refresh_from_db()
    assert newer.balance_minor == 500
    assert ClientNotice.objects.get().status == NoticeStatus.WAITING


def test_a_declined_request_says_why_and_another_client_is_not_found(
    acme, globex, acme_user, owing, operator
):
    older, _ = owing
    notice = ask_to_apply_credit(
        actor=acme_user, client=acme, lines=[(older.pk, 100)], key=uuid.uuid4()
    ).notice
    with pytest.raises(NotFound):
        decline_notice(actor=operator, client=globex, notice_id=notice.pk, reason="No")
    with pytest.raises(DomainError) as e:
        decline_notice(actor=operator, client=acme, notice_id=notice.pk, reason="  ")
    assert problems(e) == [("reason", None, "tell the client why")]
    decline_notice(actor=operator, client=acme, notice_id=notice.pk, reason="Held for the refund.")
    notice.refresh_from_db()
    assert (notice.status, notice.answer) == ("declined", "Held for the refund.")
    [event] = AuditEvent.objects.filter(action=AuditAction.CLIENT_NOTICE_DECLINED)
    assert event.actor_label == operator.email


def test_remittance_advice_is_answered_by_the_payment_recorded_from_it(
    acme, acme_user, owing, operator
):
    older, _ = owing
    notice = report_payment(
        actor=acme_user,
        client=acme,
        amount_minor=350,
        currency="USD",
        paid_on=TODAY,
        method="wire",
        reference="W-77",
        invoice_ids=[older.pk],
        key=uuid.uuid4(),
        today=TODAY,
    ).notice
    from django.db import transaction

    with transaction.atomic():
        payment = pay(acme, 350, invoice=older, reference="W-77").payment
        match_remittance(actor=operator, client=acme, notice_id=notice.pk, payment=payment)
    notice.refresh_from_db()
    assert notice.status == "done" and notice.payment == payment

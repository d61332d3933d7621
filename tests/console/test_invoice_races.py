"""Two operators acting on one invoice at once, on PostgreSQL: one wins, the other is
told, the money and the billed events stay exact."""

import uuid

import pytest

from tally.accounts.models import Role
from tally.console.services import invoices as services
from tally.errors import DomainError
from tally.invoicing.models import CreditNote, Invoice, InvoiceStatus
from tests.concurrency import at_once
from tests.factories import assert_lines_total_their_events, issued_invoice, make_client, make_user

pytestmark = [pytest.mark.postgres_only]


@pytest.fixture
def invoice(tx_db):
    return issued_invoice(make_client("race"), picks=10)


def test_two_operators_voiding_at_once_one_wins_and_the_other_is_told(invoice):
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)

    def void(operator, reason):
        return lambda: services.void(
            actor=operator, invoice_id=invoice.pk, reason=reason, key=uuid.uuid4()
        )

    outcomes = at_once(void(first, "Billed twice"), void(second, "Wrong client"))
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == "invoice_not_voidable", outcomes
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID
    assert invoice.void_reason in ("Billed twice", "Wrong client")


def test_two_operators_regenerating_at_once_make_one_replacement(invoice):
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)

    def regenerate(operator):
        return lambda: services.void_and_replace(
            actor=operator, invoice_id=invoice.pk, reason="Wrong rate", key=uuid.uuid4()
        )

    outcomes = at_once(regenerate(first), regenerate(second))
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == "invoice_not_voidable", outcomes
    replacement = Invoice.objects.get(replaces=invoice)
    assert Invoice.objects.exclude(pk__in=[invoice.pk, replacement.pk]).count() == 0
    assert replacement.total_minor == invoice.total_minor
    assert_lines_total_their_events()


def test_a_credit_and_a_void_at_once_leave_one_of_them(invoice):
    operator = make_user(Role.OPERATOR)
    outcomes = at_once(
        lambda: services.void(
            actor=operator, invoice_id=invoice.pk, reason="Wrong", key=uuid.uuid4()
        ),
        lambda: services.credit(
            actor=operator,
            invoice_id=invoice.pk,
            amount_minor=100,
            lines=[],
            reason="Damaged",
            key=uuid.uuid4(),
        ),
    )
    assert sum(isinstance(o, DomainError) for o in outcomes) == 1, outcomes
    invoice.refresh_from_db()
    if invoice.status == InvoiceStatus.VOID:
        assert not CreditNote.objects.exists() and invoice.credited_minor == 0
    else:
        assert CreditNote.objects.get().amount_minor == invoice.credited_minor == 100

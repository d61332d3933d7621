"""A client's requests racing each other, on real PostgreSQL connections."""

import uuid
from datetime import date

import pytest

from tally.accounts.models import Role
from tally.errors import DomainError
from tally.payments.models import ClientNotice
from tally.payments.services import ask_to_apply_credit, report_payment
from tests.concurrency import at_once
from tests.factories import issued_invoice, make_client, make_user, pay

pytestmark = [pytest.mark.postgres_only]


def test_two_requests_at_once_never_ask_for_more_credit_than_there_is(tx_db):
    client = make_client("notice-race")
    user = make_user(role=Role.CLIENT_USER, client=client, email="ap@notice-race.example")
    invoice = issued_invoice(client, picks=100)  # 35.00
    pay(client, 1000, received_on=date(2026, 11, 20), auto_allocate=False)

    def ask():
        return ask_to_apply_credit(
            actor=user, client=client, lines=[(invoice.pk, 700)], key=uuid.uuid4()
        )

    outcomes = at_once(ask, ask, ask)
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(refused) == 2 and all(isinstance(o, DomainError) for o in refused)
    assert [o.code for o in refused] == ["invalid_credit_request"] * 2
    assert ClientNotice.objects.filter(client=client).count() == 1


def test_one_form_sent_twice_at_once_records_one_notice(tx_db):
    client = make_client("notice-twice")
    user = make_user(role=Role.CLIENT_USER, client=client, email="ap@notice-twice.example")
    invoice = issued_invoice(client, picks=100)
    pay(client, 1000, received_on=date(2026, 11, 20), auto_allocate=False)
    credit_key, advice_key = uuid.uuid4(), uuid.uuid4()

    def ask():
        return ask_to_apply_credit(
            actor=user, client=client, lines=[(invoice.pk, 700)], key=credit_key
        )

    def report():
        return report_payment(
            actor=user,
            client=client,
            amount_minor=500,
            currency=client.currency,
            paid_on=date(2026, 11, 24),
            method="ach",
            reference="A-1",
            invoice_ids=[invoice.pk],
            key=advice_key,
            today=date(2026, 11, 25),
        )

    outcomes = at_once(ask, ask, report, report)
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert ClientNotice.objects.filter(client=client).count() == 2
    assert sum(not o.replayed for o in outcomes) == 2

"""Two submissions of one console form, and two operators on one dispute, at once on
PostgreSQL: one wins, the other is told, the money stays exact."""

import uuid

import pytest

from tally.accounts.models import Role
from tally.audit.models import AuditAction, AuditEvent
from tally.console.services import disputes as services
from tally.console.services.submissions import AlreadySubmitted
from tally.disputes.models import Dispute, DisputeMessage
from tally.disputes.services import open_dispute
from tally.errors import DomainError
from tally.invoicing.models import CreditNote
from tests.concurrency import at_once
from tests.factories import issued_invoice, make_client, make_user

pytestmark = [pytest.mark.postgres_only]


@pytest.fixture
def race(tx_db):
    client = make_client("race")
    invoice = issued_invoice(client, picks=10)
    user = make_user(Role.CLIENT_USER, client=client)
    dispute = open_dispute(
        actor=user, client=client, invoice_id=invoice.pk, reason="Too many", amount_minor=100
    )
    return invoice, dispute


def settle(operator, dispute, key):
    return lambda: services.settle_dispute(
        actor=operator,
        dispute_id=dispute.pk,
        resolution="credited",
        summary="Credited.",
        credit_amount_minor=100,
        credit_reason=None,
        key=key,
    )


def test_one_resolve_form_submitted_twice_at_once_credits_once(race):
    invoice, dispute = race
    operator = make_user(Role.OPERATOR)
    key = uuid.uuid4()
    outcomes = at_once(settle(operator, dispute, key), settle(operator, dispute, key))
    assert sum(isinstance(o, Dispute) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, AlreadySubmitted) for o in outcomes) == 1, outcomes
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_minor == invoice.total_minor - 100


def test_two_operators_resolving_at_once_one_wins_and_the_other_is_told(race):
    invoice, dispute = race
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    outcomes = at_once(settle(first, dispute, uuid.uuid4()), settle(second, dispute, uuid.uuid4()))
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 1 and refused[0].code == "dispute_resolved", outcomes
    assert CreditNote.objects.filter(invoice=invoice).count() == 1
    invoice.refresh_from_db()
    assert invoice.balance_minor == invoice.total_minor - 100


def test_one_reply_form_submitted_twice_at_once_posts_once(race):
    _, dispute = race
    operator = make_user(Role.OPERATOR)
    key = uuid.uuid4()

    def reply():
        return services.reply_to_dispute(
            actor=operator, dispute_id=dispute.pk, body="Once.", key=key
        )

    outcomes = at_once(reply, reply)
    assert sum(isinstance(o, AlreadySubmitted) for o in outcomes) == 1, outcomes
    assert DisputeMessage.objects.filter(dispute=dispute, body="Once.").count() == 1


def test_two_operators_taking_the_same_dispute_at_once_one_gets_it_the_other_is_told(race):
    _, dispute = race
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)

    def take(operator):
        return lambda: services.take(
            actor=operator, dispute_id=dispute.pk, from_owner_id=None, key=uuid.uuid4()
        )

    outcomes = at_once(take(first), take(second))
    taken = [o for o in outcomes if isinstance(o, Dispute)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(taken) == 1 and len(refused) == 1, outcomes
    assert refused[0].code == "dispute_owner_changed"
    winner = taken[0].owner_id
    assert winner in (first.pk, second.pk)
    winner_email = first.email if winner == first.pk else second.email
    assert refused[0].message == f"{winner_email} has taken this dispute meanwhile"
    dispute.refresh_from_db()
    assert dispute.owner_id == winner and dispute.previous_owner_id is None
    assert AuditEvent.objects.filter(action=AuditAction.DISPUTE_TAKEN).count() == 1

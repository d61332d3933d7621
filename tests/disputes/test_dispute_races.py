"""Two clients' clicks racing to open a dispute, and a void racing a dispute, on PostgreSQL."""

import pytest

from tally.accounts.models import Role
from tally.actions.invoices import void_invoice
from tally.disputes.models import Dispute, DisputeMessage
from tally.disputes.services import open_dispute
from tally.errors import DomainError
from tally.invoicing.models import InvoiceStatus
from tests.concurrency import at_once
from tests.factories import issued_invoice, make_client, make_user

pytestmark = [pytest.mark.postgres_only]


def test_concurrent_opens_leave_one_open_dispute_and_a_clean_refusal(tx_db):
    client = make_client("race")
    invoice = issued_invoice(client, picks=10)
    users = [make_user(Role.CLIENT_USER, client=client) for _ in range(4)]

    def opener(user):
        return lambda: open_dispute(
            actor=user, client=client, invoice_id=invoice.pk, reason=f"from {user.email}"
        )

    outcomes = at_once(*(opener(u) for u in users))
    opened = [o for o in outcomes if isinstance(o, Dispute)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(opened) == 1 and len(refused) == 3, outcomes
    assert {e.code for e in refused} == {"dispute_already_open"}
    assert Dispute.objects.filter(invoice=invoice).count() == 1
    assert DisputeMessage.objects.filter(client=client).count() == 1


def test_a_void_racing_a_dispute_never_leaves_a_dispute_on_a_void_invoice(tx_db):
    client = make_client("race2")
    invoice = issued_invoice(client, picks=10)
    operator = make_user(Role.OPERATOR)
    user = make_user(Role.CLIENT_USER, client=client)
    outcomes = at_once(
        lambda: open_dispute(
            actor=user, client=client, invoice_id=invoice.pk, reason="Wrong count"
        ),
        lambda: void_invoice(
            actor=operator, client=client, invoice_id=invoice.pk, reason="Reissue"
        ),
    )
    assert sum(isinstance(o, DomainError) for o in outcomes) == 1, outcomes
    invoice.refresh_from_db()
    disputes = Dispute.objects.filter(invoice=invoice).count()
    assert (invoice.status, disputes) in {(InvoiceStatus.VOID, 0), (InvoiceStatus.OPEN, 1)}

"""Two operators issuing drafts at once on PostgreSQL: one wins each draft, the other is
told, and invoice numbers stay one gapless series."""

import uuid

import pytest

from tally.accounts.models import Role
from tally.console.services import drafts as services
from tally.errors import DomainError
from tally.invoicing.models import Invoice, InvoiceStatus
from tests.concurrency import at_once
from tests.factories import draft_invoice, make_client, make_user

pytestmark = [pytest.mark.postgres_only]


def test_two_operators_issuing_one_draft_at_once_issue_it_once(tx_db):
    draft = draft_invoice(make_client("race"), picks=10)
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)

    def issue(operator):
        return lambda: services.issue_draft(actor=operator, invoice_id=draft.pk, key=uuid.uuid4())

    outcomes = at_once(issue(first), issue(second))
    issued = [o for o in outcomes if isinstance(o, Invoice)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(issued) == 1 and len(refused) == 1, outcomes
    assert refused[0].code == "invoice_not_draft"
    assert list(Invoice.objects.exclude(number=None).values_list("number", flat=True)) == [1]


def test_overlapping_batches_at_once_issue_every_draft_once_with_gapless_numbers(tx_db):
    drafts = [draft_invoice(make_client(), picks=2) for _ in range(6)]
    ids = [d.pk for d in drafts]
    first, second = make_user(Role.OPERATOR), make_user(Role.OPERATOR)
    outcomes = at_once(
        lambda: services.issue_drafts(actor=first, invoice_ids=ids[:4], key=uuid.uuid4()),
        lambda: services.issue_drafts(
            actor=second, invoice_ids=list(reversed(ids[2:])), key=uuid.uuid4()
        ),
    )
    assert all(isinstance(o, list) for o in outcomes), outcomes
    issued = [r for batch in outcomes for r in batch if r.invoice is not None]
    refused = [r for batch in outcomes for r in batch if r.error is not None]
    assert sorted(r.invoice_id for r in issued) == ids
    assert all(r.error.code == "invoice_not_draft" for r in refused)
    assert len(issued) + len(refused) == 8
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, 7))
    assert not Invoice.objects.filter(status=InvoiceStatus.DRAFT).exists()

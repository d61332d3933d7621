"""The client-visible status is one rule (invoicing/status.py): the sort expression, the
filters and the status of one invoice read in Python all give the same answer."""

from datetime import date, timedelta

import pytest

from tally.actions.invoices import void_invoice
from tally.disputes.models import Dispute, DisputeStatus
from tally.invoicing.models import Invoice, InvoiceStatus
from tally.invoicing.status import (
    OPEN_DISPUTE,
    RULES,
    STATUS_COLUMNS,
    DerivedStatus,
    derived_status,
)
from tests.factories import draft_invoice

pytestmark = pytest.mark.django_db
TODAY = date(2026, 12, 20)


def test_the_rules_name_the_disputes_open_status_as_the_disputes_app_does():
    assert OPEN_DISPUTE == DisputeStatus.OPEN


def test_every_status_has_a_rule_and_the_last_rule_takes_the_rest():
    assert {r.status for r in RULES} == set(DerivedStatus)
    assert RULES[-1].stored is None and RULES[-1].disputed is None and not RULES[-1].any_of


def test_the_statuses_are_declared_most_pressing_first_and_rank_highest_first():
    assert [s.label for s in DerivedStatus] == [
        "Overdue",
        "Disputed",
        "Partially paid",
        "Open",
        "Paid",
        "Void",
    ]
    assert [s.rank for s in DerivedStatus] == list(reversed(range(len(DerivedStatus))))
    assert [DerivedStatus.ranked(s.rank) for s in DerivedStatus] == list(DerivedStatus)


def _expected(every_status):
    """What each invoice of the fixture is, by its name there."""
    return {
        invoice.pk: DerivedStatus(
            {
                "overdue_partly_paid": "overdue",
                "partially_credited": "partially_paid",
                "disputed_paid": "disputed",
            }.get(name, name)
        )
        for name, invoice in every_status.invoices().items()
    }


@pytest.mark.parametrize("day", [TODAY, TODAY - timedelta(days=200), TODAY + timedelta(days=400)])
def test_the_expression_the_filters_and_python_agree_on_every_invoice(acme, every_status, day):
    issued = Invoice.objects.filter(client=acme).issued()
    annotated = {
        v["id"]: v
        for v in issued.with_status(day).values(
            "id", "status_rank", "derived_status", *STATUS_COLUMNS
        )
    }
    assert len(annotated) == len(every_status.invoices())
    disputed = set(
        Dispute.objects.filter(status=DisputeStatus.OPEN).values_list("invoice_id", flat=True)
    )
    by_filter = {
        s: set(issued.status_is(s, today=day).values_list("id", flat=True)) for s in DerivedStatus
    }
    for invoice_id, v in annotated.items():
        status = DerivedStatus(v["derived_status"])
        assert v["status_rank"] == status.rank
        assert derived_status(v, invoice_id in disputed, day) == status
        # Exactly one filter finds each invoice: the one for its status.
        assert [s for s, ids in by_filter.items() if invoice_id in ids] == [status]
    if day == TODAY:
        assert {i: DerivedStatus(v["derived_status"]) for i, v in annotated.items()} == _expected(
            every_status
        )


def test_several_statuses_filter_as_one_condition(acme, every_status):
    issued = Invoice.objects.filter(client=acme).issued()
    both = issued.status_is(DerivedStatus.OVERDUE, "disputed", today=TODAY)
    assert set(both.values_list("id", flat=True)) == {
        every_status.overdue.pk,
        every_status.overdue_partly_paid.pk,
        every_status.disputed.pk,
        every_status.disputed_paid.pk,
    }
    assert not issued.status_is(today=TODAY).exists()


def test_outstanding_is_every_open_invoice_whatever_its_status(acme, every_status):
    outstanding = set(
        Invoice.objects.filter(client=acme).issued().outstanding().values_list("id", flat=True)
    )
    assert outstanding == {
        i.pk
        for i in every_status.invoices().values()
        if Invoice.objects.get(pk=i.pk).status == InvoiceStatus.OPEN
    }
    assert every_status.disputed.pk in outstanding
    assert every_status.disputed_paid.pk not in outstanding


def test_issued_leaves_out_drafts_and_drafts_voided_before_issue(acme, operator):
    draft = draft_invoice(
        acme, picks=3, period=(date(2026, 3, 1), date(2026, 3, 31)), day=date(2026, 3, 2)
    )
    assert not Invoice.objects.issued().filter(pk=draft.pk).exists()
    void_invoice(actor=operator, client=acme, invoice_id=draft.pk, reason="wrong period")
    assert Invoice.objects.filter(pk=draft.pk, status=InvoiceStatus.VOID).exists()
    assert not Invoice.objects.issued().filter(pk=draft.pk).exists()

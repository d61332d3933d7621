"""An invoice's page in the console, and its actions: void, void and regenerate, credit."""

import json
import re
import uuid
from datetime import date

import pytest
from django.urls import reverse

from tally.actions.invoices import create_credit_note
from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tally.console.queries.invoice_detail import invoice_view
from tally.console.queries.line_events import line_events
from tally.errors import DomainError
from tally.invoicing.models import CreditNote, CreditNoteLine, Invoice, InvoiceStatus
from tally.invoicing.services import add_adjustment
from tally.portal.queries import invoice_detail
from tally.rating.services import create_rate_card
from tests.factories import (
    add_events,
    assert_lines_total_their_events,
    billing_lines,
    draft_invoice,
    issued_invoice,
    pay,
)

pytestmark = pytest.mark.django_db
TODAY = date(2026, 11, 20)


def _key() -> str:
    return uuid.uuid4().hex


def _page(invoice: Invoice) -> str:
    return reverse("console:invoice", args=[invoice.pk])


def test_the_page_shows_what_the_client_sees_and_the_audit_history(ops, invoice, dispute, operator):
    pay(invoice.client, 100, invoice=invoice)
    html = ops.get(_page(invoice)).content.decode()
    assert invoice.display_number in html and "Acme Inc." in html
    assert all(line.description in html for line in invoice.lines.all())
    assert "$4.40" in html and "$3.40" in html
    assert reverse("console:dispute", args=[dispute.pk]) in html
    # The history: generated and issued by the tests, the payment allocated, the dispute.
    for action in ("invoice.generated", "invoice.issued", "payment.allocated", "dispute.opened"):
        assert action in html, action
    assert "ap@acme.example" in html  # the user who opened the dispute, by name or email


def test_a_lines_events_page_by_keyset_both_ways(acme):
    invoice = issued_invoice(acme, picks=23)
    line = invoice.lines.get()
    first = line_events(invoice.pk, line.pk, limit=10)
    second = line_events(invoice.pk, line.pk, first.next_cursor, limit=10)
    third = line_events(invoice.pk, line.pk, second.next_cursor, limit=10)
    assert len({e.id for e in first.rows + second.rows + third.rows}) == 23
    assert third.next_cursor is None
    back = line_events(invoice.pk, line.pk, third.prev_cursor, limit=10)
    assert [e.id for e in back.rows] == [e.id for e in second.rows]


def test_a_lines_events_answer_htmx_with_the_table_alone(ops, invoice):
    line = invoice.lines.get(kind="pick")
    url = reverse("console:invoice_line", args=[invoice.pk, line.pk])
    alone = ops.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "<html" not in alone and "REF-" in alone
    assert "<html" in ops.get(url).content.decode()
    other = issued_invoice(invoice.client, picks=1, period=(date(2026, 9, 1), date(2026, 9, 30)))
    assert ops.get(reverse("console:invoice_line", args=[other.pk, line.pk])).status_code == 404


def test_void_with_a_reason_frees_the_events_and_is_audited(ops, invoice, operator):
    url = reverse("console:void_invoice", args=[invoice.pk])
    response = ops.post(url, {"key": _key(), "reason": "Billed twice", "then": "void"}, follow=True)
    assert response.status_code == 200
    assert f"{invoice.display_number} is void." in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.VOID and invoice.void_reason == "Billed twice"
    row = AuditEvent.objects.get(action="invoice.voided", object_id=str(invoice.pk))
    assert row.actor_id == operator.pk
    assert not billing_lines() or all(not lines for lines in billing_lines().values())


def test_void_needs_a_reason_next_to_the_field(ops, invoice):
    url = reverse("console:void_invoice", args=[invoice.pk])
    response = ops.post(url, {"key": _key(), "reason": "", "then": "void"})
    assert response.status_code == 422
    assert 'id="void-reason-error"' in response.content.decode()
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_a_payment_allocated_blocks_voiding_with_a_clear_message(ops, invoice):
    pay(invoice.client, 100, invoice=invoice)
    response = ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "Wrong", "then": "void"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "$1.00 of payments is allocated to" in html and "Un-allocate the payment" in html
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN


def test_an_open_dispute_blocks_voiding(ops, invoice, dispute):
    response = ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "Wrong", "then": "regenerate"},
    )
    assert response.status_code == 422
    assert "has an open dispute" in response.content.decode()
    assert Invoice.objects.count() == 1


def test_a_void_invoice_cannot_be_voided_again(ops, invoice):
    url = reverse("console:void_invoice", args=[invoice.pk])
    ops.post(url, {"key": _key(), "reason": "Wrong", "then": "void"})
    response = ops.post(url, {"key": _key(), "reason": "Again", "then": "void"})
    assert response.status_code == 422
    assert "was voided meanwhile" in response.content.decode()


def test_a_double_submit_voids_and_regenerates_once(ops, invoice):
    data = {"key": _key(), "reason": "Wrong rate", "then": "regenerate"}
    url = reverse("console:void_invoice", args=[invoice.pk])
    assert ops.post(url, data).status_code == 302
    assert ops.post(url, data).status_code == 302
    assert Invoice.objects.filter(replaces=invoice).count() == 1
    assert Invoice.objects.count() == 2


def test_void_and_regenerate_bills_the_same_events_on_a_draft_that_names_it(ops, acme, operator):
    invoice = issued_invoice(acme, picks=10, labels=20)
    before = {e for e, lines in billing_lines().items() if lines}
    response = ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "Wrong labels", "then": "regenerate"},
        follow=True,
    )
    assert response.status_code == 200
    draft = Invoice.objects.get(replaces=invoice)
    assert draft.status == InvoiceStatus.DRAFT and draft.total_minor == invoice.total_minor
    assert {e for e, lines in billing_lines().items() if lines} == before
    assert set(map(tuple, billing_lines().values())) == {
        (line,) for line in draft.lines.values_list("pk", flat=True)
    }
    assert_lines_total_their_events()
    html = response.content.decode()
    assert "Replaced by" in html and reverse("console:draft", args=[draft.pk]) in html
    draft_html = ops.get(_page(draft)).content.decode()
    assert "Replaces" in draft_html and invoice.display_number in draft_html
    actions = set(
        AuditEvent.objects.filter(actor_id=operator.pk).values_list("action", "object_id")
    )
    assert ("invoice.replaced", str(invoice.pk)) in actions
    assert ("invoice.regenerated", str(draft.pk)) in actions
    assert ("invoice.voided", str(invoice.pk)) in actions


def test_regenerating_from_the_page_leaves_a_late_event_and_says_what_it_billed(ops, acme):
    invoice = issued_invoice(acme, picks=10, labels=20)
    add_events(acme, "pick", 1, day=date(2026, 10, 3))  # arrived after the invoice
    response = ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "Wrong labels", "then": "regenerate"},
        follow=True,
    )
    draft = Invoice.objects.get(replaces=invoice)
    html = response.content.decode()
    assert f"Replacement draft #{draft.pk} bills the same 30 events, at today’s rates." in html
    assert list(draft.lines.values_list("event_count", flat=True)) == [20, 10]
    assert sum(1 for lines in billing_lines().values() if not lines) == 1


def test_regenerating_says_which_events_have_no_price_today(ops, acme):
    invoice = issued_invoice(acme, picks=10, labels=20)
    create_rate_card(
        actor=SystemActor.TESTS, client=acme, effective_from=date(2026, 10, 1), prices={"pick": "1"}
    )
    response = ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "No label fee", "then": "regenerate"},
        follow=True,
    )
    draft = Invoice.objects.get(replaces=invoice)
    assert (
        f"Replacement draft #{draft.pk} bills 10 events of the 30 {invoice.display_number} "
        "billed, at today’s rates; the other 20 have no price today and stay unbilled."
    ) in response.content.decode()


def test_regenerating_carries_the_adjustment_lines_over(acme, operator):
    from tally.actions.invoices import issue_invoice, void_and_regenerate

    draft = draft_invoice(acme, picks=4)
    add_adjustment(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=draft.pk,
        description="Hazmat handling",
        amount_minor=500,
        reason="Agreed surcharge",
    )
    issued = issue_invoice(
        actor=operator, client=acme, invoice_id=draft.pk, issue_date=date(2026, 11, 1)
    )
    replacement = void_and_regenerate(actor=operator, client=acme, invoice_id=issued.pk, reason="x")
    assert replacement.total_minor == issued.total_minor == 140 + 500
    assert replacement.lines.filter(
        description="Hazmat handling", reason="Agreed surcharge"
    ).exists()


def test_the_portal_names_the_replacement_once_it_is_issued_and_not_before(
    ops, acme, acme_browser, operator
):
    from tally.actions.invoices import issue_invoice

    invoice = issued_invoice(acme, picks=3)
    ops.post(
        reverse("console:void_invoice", args=[invoice.pk]),
        {"key": _key(), "reason": "Wrong rate", "then": "regenerate"},
    )
    draft = Invoice.objects.get(replaces=invoice)
    assert invoice_detail(acme.pk, invoice.pk, TODAY).replacement_number is None
    page = acme_browser.get(
        reverse("portal:invoice", args=[invoice.display_number])
    ).content.decode()
    assert "replaced by" not in page
    issued = issue_invoice(actor=operator, client=acme, invoice_id=draft.pk)
    assert invoice_detail(acme.pk, invoice.pk, TODAY).replacement_number == issued.display_number
    page = acme_browser.get(
        reverse("portal:invoice", args=[invoice.display_number])
    ).content.decode()
    assert f'href="{reverse("portal:invoice", args=[issued.display_number])}"' in page
    assert "It is replaced by <a" in page
    # And the replacement says what it replaces.
    page = acme_browser.get(
        reverse("portal:invoice", args=[issued.display_number])
    ).content.decode()
    assert invoice.display_number in page and "Replaces" in page


def test_the_portal_never_names_another_clients_invoice(acme, globex):
    # The scope hides everything of another client: the replacement is read inside it.
    invoice = issued_invoice(acme, picks=3)
    assert invoice_detail(acme.pk, invoice.pk, TODAY).replacement_number is None


def test_credit_by_amount_with_a_reason_the_client_reads(ops, invoice, operator):
    response = ops.post(
        reverse("console:credit_invoice", args=[invoice.pk]),
        {"key": _key(), "amount": "1.25", "reason": "Damaged pallet"},
        follow=True,
    )
    assert response.status_code == 200
    note = CreditNote.objects.get(invoice=invoice)
    assert (note.amount_minor, note.reason, note.created_by) == (125, "Damaged pallet", operator)
    invoice.refresh_from_db()
    assert invoice.balance_minor == 440 - 125


def test_credit_by_chosen_lines_whole_or_in_part(ops, invoice):
    picks = invoice.lines.get(kind="pick")  # $3.50
    labels = invoice.lines.get(kind="label")  # $0.90
    ops.post(
        reverse("console:credit_invoice", args=[invoice.pk]),
        {
            "key": _key(),
            "lines": [picks.pk, labels.pk],
            f"line_{picks.pk}": "1.00",
            "reason": "Cancelled orders",
        },
    )
    note = CreditNote.objects.get(invoice=invoice)
    assert note.amount_minor == 100 + 90
    assert note.reason == "Cancelled orders"
    # Which lines, and how much of each, recorded as data, audited and shown.
    assert sorted(note.lines.values_list("line_id", "amount_minor", "client_id")) == sorted(
        [(picks.pk, 100, invoice.client_id), (labels.pk, 90, invoice.client_id)]
    )
    created = AuditEvent.objects.get(action=AuditAction.CREDIT_NOTE_CREATED)
    assert {
        (x["line_id"], x["amount_minor"]) for x in json.loads(created.data)["after"]["lines"]
    } == {
        (picks.pk, 100),
        (labels.pk, 90),
    }
    html = ops.get(reverse("console:invoice", args=[invoice.pk])).content.decode()
    credited = html[html.index(f'aria-label="Lines credited by {note.display_number}"') :]
    credited = credited[: credited.index("</ul>")]
    assert re.findall(r"<li>([^<]*)</li>", credited) == [
        f"{labels.description}: $0.90",  # in the invoice's order
        f"{picks.description}: $1.00",
    ]


def test_a_credit_of_lines_that_do_not_add_up_is_refused_and_writes_nothing(invoice):
    picks = invoice.lines.get(kind="pick")
    with pytest.raises(DomainError) as refused:
        create_credit_note(
            actor=SystemActor.TESTS,
            client=invoice.client,
            invoice_id=invoice.pk,
            amount_minor=200,
            reason="Cancelled orders",
            lines=[(picks.pk, 100)],
        )
    assert [p.field for p in refused.value.problems] == ["amount"]
    assert not CreditNote.objects.exists() and not CreditNoteLine.objects.exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"amount": "", "reason": "x"}, "credit-amount", "Enter an amount, or choose the lines"),
        ({"amount": "5.00", "reason": "x"}, "credit-amount", "Must be at most $4.40"),
        ({"amount": "1.005", "reason": "x"}, "credit-amount", "at most 2 decimals"),
        ({"amount": "1", "reason": ""}, "credit-reason", "Write the reason"),
        ({"amount": "1", "lines": ["PICK"], "reason": "x"}, "credit-amount", "not both"),
        (
            {"lines": ["PICK"], "line_PICK": "3.51", "reason": "x"},
            "credit-line-PICK",
            "Must be at most $3.50",
        ),
    ],
)
def test_a_refused_credit_says_why_next_to_the_field(ops, invoice, data, field, message):
    pick = str(invoice.lines.get(kind="pick").pk)
    data = {k.replace("PICK", pick): ([pick] if v == ["PICK"] else v) for k, v in data.items()}
    response = ops.post(
        reverse("console:credit_invoice", args=[invoice.pk]), {"key": _key(), **data}
    )
    assert response.status_code == 422
    html = response.content.decode()
    field = field.replace("PICK", pick)
    assert f'id="{field}-error"' in html, html[html.find("credit-heading") :][:3000]
    assert message in html
    assert not CreditNote.objects.exists()


def test_a_paid_invoice_offers_no_credit_and_refuses_one(ops, invoice):
    pay(invoice.client, invoice.total_minor, invoice=invoice)
    html = ops.get(_page(invoice)).content.decode()
    assert 'id="credit-heading"' not in html and 'id="void-heading"' not in html
    response = ops.post(
        reverse("console:credit_invoice", args=[invoice.pk]),
        {"key": _key(), "amount": "1", "reason": "x"},
    )
    assert response.status_code == 422
    assert not CreditNote.objects.exists()


def test_the_view_of_a_missing_invoice_is_a_404(ops):
    assert ops.get("/console/invoices/999999/").status_code == 404
    assert ops.post("/console/invoices/999999/void/", {}).status_code == 404


def test_the_invoice_view_reads_a_fixed_number_of_queries(
    invoice, dispute, django_assert_max_num_queries
):
    for n in range(5):
        pay(invoice.client, 10, invoice=invoice, received_on=date(2026, 11, 2 + n))
    with django_assert_max_num_queries(10):
        view = invoice_view(invoice.pk, TODAY)
    assert len(view.allocations) == 5

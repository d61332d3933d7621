"""Answering, noting and resolving a dispute from the console: through the services,
audited with the operator as actor, errors next to their field, a resubmission harmless."""

import uuid

import pytest

from tally.actions.invoices import create_credit_note
from tally.audit.actors import SystemActor
from tally.audit.models import AuditAction, AuditEvent
from tally.disputes.models import Dispute, DisputeMessage
from tally.internal_notes.models import InternalNote
from tally.invoicing.models import CreditNote
from tests.factories import pay

pytestmark = pytest.mark.django_db


def key() -> str:
    return uuid.uuid4().hex


def url(dispute, action=""):
    return f"/console/disputes/{dispute.pk}/{action + '/' if action else ''}"


def written():
    return (
        DisputeMessage.objects.count(),
        InternalNote.objects.count(),
        CreditNote.objects.count(),
        Dispute.objects.filter(status="resolved").count(),
        AuditEvent.objects.count(),
    )


def audited(action, operator):
    return AuditEvent.objects.filter(action=action, actor_id=operator.pk).count()


def test_a_reply_joins_the_conversation_as_the_operator_and_is_audited(ops, operator, dispute):
    response = ops.post(url(dispute, "reply"), {"key": key(), "body": "  We are checking.  "})
    assert response.status_code == 302
    assert response["Location"] == url(dispute) + "#conversation"
    message = DisputeMessage.objects.filter(dispute=dispute).last()
    assert (message.author_id, message.author_side, message.body) == (
        operator.pk,
        "operator",
        "We are checking.",
    )
    assert audited(AuditAction.DISPUTE_MESSAGE_POSTED, operator) == 1
    page = ops.get(response["Location"]).content.decode()
    assert "Reply sent to Acme Inc." in page, page
    assert "Client's turn" in page


def test_the_same_reply_form_sent_twice_posts_once(ops, dispute):
    form = {"key": key(), "body": "Once only."}
    first = ops.post(url(dispute, "reply"), form)
    second = ops.post(url(dispute, "reply"), form)
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert DisputeMessage.objects.filter(dispute=dispute, body="Once only.").count() == 1


def test_an_empty_reply_is_refused_next_to_its_field_and_writes_nothing(ops, dispute):
    before = written()
    form_key = key()
    response = ops.post(url(dispute, "reply"), {"key": form_key, "body": "   "})
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="reply-body-error"' in html and "Write the reply the client will read." in html
    assert 'aria-describedby="reply-body-error"' in html
    assert f'value="{form_key}"' in html  # the corrected form goes out under the same key
    assert written() == before
    # ... and the corrected form is taken.
    assert ops.post(url(dispute, "reply"), {"key": form_key, "body": "Fixed"}).status_code == 302


def test_a_form_without_its_key_is_refused(ops, dispute):
    response = ops.post(url(dispute, "reply"), {"body": "No key"})
    assert response.status_code == 422
    assert "This form has expired" in response.content.decode()
    assert not DisputeMessage.objects.filter(body="No key").exists()


def test_an_internal_note_is_added_audited_and_kept_out_of_the_conversation(
    ops, operator, dispute, acme_browser
):
    response = ops.post(url(dispute, "notes"), {"key": key(), "body": "Carrier says 14 voids."})
    assert response.status_code == 302 and response["Location"].endswith("#notes")
    note = InternalNote.objects.get(dispute=dispute)
    assert (note.author_id, note.body) == (operator.pk, "Carrier says 14 voids.")
    assert audited(AuditAction.INTERNAL_NOTE_ADDED, operator) == 1
    assert not DisputeMessage.objects.filter(body__contains="14 voids").exists()
    # The client's own page of the invoice does not have it.
    client_page = acme_browser.get(f"/invoices/{dispute.invoice.display_number}/")
    assert client_page.status_code == 200
    assert "14 voids" not in client_page.content.decode()


def test_the_same_note_form_sent_twice_adds_one_note(ops, dispute):
    form = {"key": key(), "body": "One note."}
    assert ops.post(url(dispute, "notes"), form).status_code == 302
    assert ops.post(url(dispute, "notes"), form).status_code == 302
    assert InternalNote.objects.filter(dispute=dispute).count() == 1


def resolve_form(**changes):
    form = {
        "key": key(),
        "resolution": "credited",
        "credit_amount": "0.90",
        "credit_reason": "",
        "summary": "We credited the labels of the cancelled orders.",
    }
    return {**form, **changes}


def test_resolving_as_credited_issues_the_credit_and_tells_the_client(
    ops, operator, dispute, acme_browser
):
    response = ops.post(url(dispute, "resolve"), resolve_form())
    assert response.status_code == 302 and response["Location"].endswith("#resolution")
    dispute.refresh_from_db()
    assert (dispute.status, dispute.resolution) == ("resolved", "credited")
    assert dispute.resolved_by_id == operator.pk
    note = dispute.credit_note
    assert note.amount_minor == 90
    assert note.reason == "We credited the labels of the cancelled orders."
    dispute.invoice.refresh_from_db()
    assert dispute.invoice.balance_minor == dispute.invoice.total_minor - 90
    assert audited(AuditAction.DISPUTE_RESOLVED, operator) == 1
    assert audited(AuditAction.CREDIT_NOTE_CREATED, operator) == 1
    page = ops.get(url(dispute)).content.decode()
    assert "Resolved: Credited" in page and note.display_number in page
    assert 'action="/console/disputes/' + str(dispute.pk) + '/reply/"' not in page
    client_page = acme_browser.get(f"/invoices/{dispute.invoice.display_number}/").content.decode()
    assert "We credited the labels of the cancelled orders." in client_page


def test_the_credit_amount_may_be_changed_and_given_its_own_reason(ops, dispute):
    ops.post(
        url(dispute, "resolve"),
        resolve_form(credit_amount="0.45", credit_reason="Half the labels"),
    )
    dispute.refresh_from_db()
    assert dispute.credit_note.amount_minor == 45
    assert dispute.credit_note.reason == "Half the labels"


@pytest.mark.parametrize(
    "amount, message",
    [
        ("", "Enter the amount to credit."),
        ("0", "Enter an amount above zero."),
        ("1.001", "Enter the amount in USD with at most 2 decimals."),
        ("abc", "Enter the amount as a number, like 120.50."),
        ("4.41", "Must be at most $4.40, what the invoice billed less earlier credits."),
    ],
)
def test_a_wrong_credit_amount_is_refused_next_to_its_field(ops, dispute, amount, message):
    before = written()
    response = ops.post(url(dispute, "resolve"), resolve_form(credit_amount=amount))
    assert response.status_code == 422
    html = response.content.decode()
    error = html[html.index('id="credit-amount-error"') :]
    assert message in error[: error.index("</p>")]
    assert written() == before


def test_a_resolution_needs_a_summary_and_an_outcome(ops, dispute):
    before = written()
    response = ops.post(url(dispute, "resolve"), resolve_form(summary="", resolution=""))
    html = response.content.decode()
    assert response.status_code == 422
    assert "Write the summary the client will read." in html
    assert "Choose how the dispute ends." in html
    assert written() == before


@pytest.mark.parametrize("outcome", ["upheld", "withdrawn"])
def test_upheld_and_withdrawn_credit_nothing_even_with_the_prefilled_amount(
    ops, operator, dispute, outcome
):
    response = ops.post(url(dispute, "resolve"), resolve_form(resolution=outcome))
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert (dispute.resolution, dispute.credit_note_id) == (outcome, None)
    assert not CreditNote.objects.exists()
    assert audited(AuditAction.DISPUTE_RESOLVED, operator) == 1


def test_the_same_resolution_sent_twice_credits_once(ops, dispute):
    form = resolve_form()
    assert ops.post(url(dispute, "resolve"), form).status_code == 302
    assert ops.post(url(dispute, "resolve"), form).status_code == 302
    assert CreditNote.objects.count() == 1


def test_a_second_resolution_from_another_page_is_told_it_was_resolved_meanwhile(ops, dispute):
    assert ops.post(url(dispute, "resolve"), resolve_form()).status_code == 302
    before = written()
    late = ops.post(url(dispute, "resolve"), resolve_form(resolution="upheld"))
    assert late.status_code == 422
    assert "resolved meanwhile" in late.content.decode()
    late_reply = ops.post(url(dispute, "reply"), {"key": key(), "body": "Too late"})
    assert late_reply.status_code == 422 and written() == before


def test_a_dispute_on_a_paid_invoice_credited_from_the_console_leaves_credit_on_the_account(
    ops, dispute
):
    invoice = dispute.invoice
    payment = pay(invoice.client, invoice.total_minor, invoice=invoice).payment
    page = ops.get(url(dispute)).content.decode()
    assert "comes back from its payments as unapplied credit" in page
    response = ops.post(url(dispute, "resolve"), resolve_form())
    assert response.status_code == 302
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.credited_minor, invoice.balance_minor) == ("paid", 90, 0)
    assert payment.unapplied_minor == 90


def test_a_credit_beyond_what_is_left_after_a_credit_meanwhile_is_told_the_new_limit(ops, dispute):
    form = resolve_form(credit_amount="0.90")
    invoice = dispute.invoice
    create_credit_note(
        actor=SystemActor.TESTS,
        client=invoice.client,
        invoice_id=invoice.pk,
        amount_minor=400,
        reason="Meanwhile",
    )
    response = ops.post(url(dispute, "resolve"), form)
    assert response.status_code == 422
    html = response.content.decode()
    error = html[html.index('id="credit-amount-error"') :]
    assert "Must be at most $0.40, what the invoice billed less earlier credits." in error

"""What clients told the 3PL about money, in the console: counted on the overview, a
queue per kind, applied, recorded or declined once per form."""

import re
import uuid
from datetime import date
from html import unescape

import pytest
from django.urls import reverse

from tally.audit.models import AuditAction, AuditEvent
from tally.console.services import notices as notice_services
from tally.console.services import payments as payment_services
from tally.errors import DomainError, NotFound
from tally.invoicing.models import Invoice
from tally.payments.models import ClientNotice, Payment
from tally.payments.services import ask_to_apply_credit, report_payment
from tests.factories import issued_invoice, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def owing(acme):
    invoice = issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))  # $7.00
    pay(acme, 500, received_on=date(2026, 11, 3), auto_allocate=False)
    return invoice


@pytest.fixture
def credit_request(acme, acme_user, owing):
    return ask_to_apply_credit(
        actor=acme_user, client=acme, lines=[(owing.pk, 450)], key=uuid.uuid4()
    ).notice


@pytest.fixture
def advice(acme, acme_user, owing):
    return report_payment(
        actor=acme_user,
        client=acme,
        amount_minor=250,
        currency="USD",
        paid_on=date(2026, 11, 24),
        method="wire",
        reference="W-991",
        invoice_ids=[owing.pk],
        key=uuid.uuid4(),
        today=date(2026, 11, 25),
    ).notice


def key_of(html: str, action: str) -> str:
    form = html.split(f'action="{action}"')[1]
    return re.search(r'name="key" value="([0-9a-f-]+)"', form).group(1)


def test_the_overview_counts_each_kind_waiting(ops, credit_request, advice):
    html = ops.get(reverse("console:home")).content.decode()
    for name, url in (("credit_requests", "credit"), ("remittances", "remittance")):
        card = html.split(f'data-figure="{name}"')[0].rsplit("<a", 1)[1]
        assert reverse("console:notices", args=[url]) in card
        assert re.search(
            rf'data-figure="{name}">\s*<span class="card-label">[^<]*</span>\s*<span class="card-value">1<',
            html,
        )


def test_the_operator_applies_the_credit_as_asked_once(ops, acme, credit_request, owing):
    queue = ops.get(reverse("console:notices", args=["credit"])).content.decode()
    assert "Acme" in queue and owing.display_number in queue and "$4.50" in queue
    page_url = reverse("console:notice", args=[credit_request.pk])
    html = ops.get(page_url).content.decode()
    action = reverse("console:apply_notice", args=[credit_request.pk])
    post = {"key": key_of(html, action)}
    assert ops.post(action, post).status_code == 302
    assert ops.post(action, post).status_code == 302  # sent twice: done once
    owing.refresh_from_db()
    assert owing.balance_minor == 250
    assert ClientNotice.objects.get().status == "done"
    queue = ops.get(reverse("console:notices", args=["credit"])).content.decode()
    assert "Nothing waiting." in queue
    credit_page = ops.get(reverse("console:credit")).content.decode()
    assert "request waiting" not in credit_page


def test_the_credit_page_shows_the_requests_waiting(ops, acme, credit_request):
    html = ops.get(reverse("console:credit")).content.decode()
    assert f"{reverse('console:notices', args=['credit'])}?client={acme.pk}" in html
    assert "1 request waiting" in html


def test_declining_needs_a_reason_the_client_then_reads(ops, acme_browser, credit_request):
    html = ops.get(reverse("console:notice", args=[credit_request.pk])).content.decode()
    action = reverse("console:decline_notice", args=[credit_request.pk])
    key = key_of(html, action)
    response = ops.post(action, {"key": key, "reason": ""})
    assert response.status_code == 422
    assert 'id="decline-reason-error">Tell the client why.' in response.content.decode()
    assert (
        ops.post(action, {"key": key, "reason": "The credit pays the refund."}).status_code == 302
    )
    assert ClientNotice.objects.get().answer == "The credit pays the refund."
    mine = acme_browser.get(reverse("portal:requests")).content.decode()
    assert "The credit pays the refund." in mine


def test_a_payment_recorded_from_remittance_advice_answers_it(ops, acme, advice, owing):
    form = ops.get(reverse("console:record_payment") + f"?advice={advice.pk}").content.decode()
    assert 'id="from-advice"' in form and "W-991" in form
    assert f'<option value="{acme.pk}" selected' in form
    assert 'value="2.50"' in form and 'value="2026-11-24"' in form
    post = {
        "key": re.search(r'name="key" value="([0-9a-f]+)"', form).group(1),
        "advice": str(advice.pk),
        "client": str(acme.pk),
        "amount": "2.50",
        "currency": "USD",
        "received_on": "2026-11-24",
        "method": "wire",
        "reference": "W-991",
        "payer": "Acme",
        f"alloc_{owing.pk}": "2.50",
    }
    response = ops.post(reverse("console:record_payment"), post)
    assert response.status_code == 302
    payment = Payment.objects.get(reference="W-991")
    advice.refresh_from_db()
    assert advice.status == "done" and advice.payment == payment
    assert Invoice.objects.get(pk=owing.pk).balance_minor == 450
    queue = ops.get(reverse("console:notices", args=["remittance"])).content.decode()
    assert "Nothing waiting." in queue
    html = ops.get(reverse("console:notice", args=[advice.pk])).content.decode()
    assert reverse("console:payment", args=[payment.pk]) in html


def test_client_users_get_no_console_request_pages(acme_browser, credit_request):
    for url in (
        reverse("console:notices", args=["credit"]),
        reverse("console:notice", args=[credit_request.pk]),
    ):
        assert acme_browser.get(url).status_code == 404
    assert (
        acme_browser.post(reverse("console:apply_notice", args=[credit_request.pk])).status_code
        == 404
    )


# -- advice answered by a payment recorded the ordinary way --------------------------------
def _record_form(ops, acme) -> str:
    return ops.get(reverse("console:record_payment") + f"?client={acme.pk}").content.decode()


def _record(ops, acme, html: str, **changes) -> object:
    post = {
        "key": key_of(html, reverse("console:record_payment")),
        "client": str(acme.pk),
        "amount": "2.50",
        "currency": "USD",
        "received_on": "2026-11-24",
        "method": "wire",
        "reference": "W-991",
        "payer": "Acme",
        **changes,
    }
    return ops.post(reverse("console:record_payment"), post)


def _reported_on_invoice(acme_browser, invoice) -> bool:
    page = acme_browser.get(reverse("portal:invoice", args=[invoice.display_number]))
    return 'class="note payment-reported"' in page.content.decode()


def test_the_payments_form_lists_the_clients_waiting_advice(ops, acme, advice, globex):
    html = _record_form(ops, acme)
    fieldset = html.split('id="pay-answers"')[1].split("</fieldset>")[0]
    assert "This client reported a payment not yet recorded." in fieldset
    assert f'name="answers" value="{advice.pk}"' in fieldset and "reference W-991" in fieldset
    assert 'name="answers" value="none"' in fieldset
    other = ops.get(reverse("console:record_payment") + f"?client={globex.pk}").content.decode()
    assert 'id="pay-answers"' not in other


def test_recording_a_payment_asks_which_waiting_advice_it_answers(ops, acme, advice):
    response = _record(ops, acme, _record_form(ops, acme))
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="pay-answers-error">This client has reported a payment not yet recorded' in html
    assert not Payment.objects.filter(reference="W-991").exists()
    both = _record(ops, acme, html, answers=[str(advice.pk), "none"])
    assert both.status_code == 422
    assert "or “None of these”, not both." in both.content.decode()


def test_a_payment_ticked_as_answering_advice_closes_it_for_the_client_to_see(
    ops, acme, acme_browser, advice, owing, operator
):
    assert _reported_on_invoice(acme_browser, owing)
    html = _record_form(ops, acme)
    response = _record(ops, acme, html, answers=[str(advice.pk)])  # kept as credit
    assert response.status_code == 302
    payment = Payment.objects.get(reference="W-991")
    advice.refresh_from_db()
    assert (advice.status, advice.payment, advice.closed_by) == ("done", payment, operator)
    done = AuditEvent.objects.get(action=AuditAction.CLIENT_NOTICE_DONE)
    assert done.actor_id == operator.pk and done.object_id == str(advice.pk)
    page = ops.get(response["Location"]).content.decode()
    assert "Payment recorded; the client's remittance advice is answered." in unescape(page)
    answers = page.split('id="answers-advice">')[1].split("</dd>")[0]
    assert f'href="{reverse("console:notice", args=[advice.pk])}"' in answers
    queue = ops.get(reverse("console:notices", args=["remittance"])).content.decode()
    assert "Nothing waiting." in queue
    # The client: the invoice no longer says "payment reported"; its request says how.
    assert not _reported_on_invoice(acme_browser, owing)
    mine = acme_browser.get(reverse("portal:requests")).content.decode()
    assert "Matched to your payment of $2.50 received Nov 24, 2026" in mine
    # Sent again: one payment, the advice answered once.
    assert _record(ops, acme, html, answers=[str(advice.pk)]).status_code == 302
    assert Payment.objects.filter(reference="W-991").count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_NOTICE_DONE).count() == 1


def test_none_of_these_records_the_payment_and_leaves_the_advice_waiting(
    ops, acme, acme_browser, advice, owing
):
    response = _record(ops, acme, _record_form(ops, acme), reference="OTHER-1", answers=["none"])
    assert response.status_code == 302
    advice.refresh_from_db()
    assert advice.status == "waiting" and advice.payment is None
    assert _reported_on_invoice(acme_browser, owing)


def test_advice_is_closed_as_matched_to_a_payment_recorded_already(
    ops, acme, acme_browser, advice, owing, operator, globex
):
    recorded = pay(acme, 250, received_on=date(2026, 11, 24), reference="W-991").payment
    theirs = pay(globex, 250, received_on=date(2026, 11, 24)).payment
    url = reverse("console:notice", args=[advice.pk])
    html = ops.get(url).content.decode()
    form = html.split('id="match-advice"')[1].split("</form>")[0]
    assert f'<option value="{recorded.pk}">#{recorded.pk} · $2.50 received Nov 24, 2026' in form
    assert f'value="{theirs.pk}"' not in form
    action = reverse("console:match_notice", args=[advice.pk])
    key = key_of(html, action)
    refused = ops.post(action, {"key": key, "payment": str(theirs.pk)})
    assert refused.status_code == 422
    assert 'id="match-payment-error">Choose one of this client\'s payments.' in unescape(
        refused.content.decode()
    )
    assert ops.post(action, {"key": key, "payment": str(recorded.pk)}).status_code == 302
    assert ops.post(action, {"key": key, "payment": str(recorded.pk)}).status_code == 302
    advice.refresh_from_db()
    assert (advice.status, advice.payment, advice.closed_by) == ("done", recorded, operator)
    assert AuditEvent.objects.filter(action=AuditAction.CLIENT_NOTICE_DONE).count() == 1
    html = ops.get(url).content.decode()
    assert reverse("console:payment", args=[recorded.pk]) in html
    assert 'id="match-advice"' not in html
    assert not _reported_on_invoice(acme_browser, owing)


def test_an_answered_advice_ticked_on_a_stale_form_records_nothing(ops, acme, advice, operator):
    html = _record_form(ops, acme)
    recorded = pay(acme, 250, received_on=date(2026, 11, 24)).payment
    from tally.payments.services import match_remittance

    match_remittance(actor=operator, client=acme, notice_id=advice.pk, payment=recorded)
    response = _record(ops, acme, html, answers=[str(advice.pk)])
    assert response.status_code == 422
    assert 'id="pay-answers-error">Remittance advice ticked here was answered meanwhile' in (
        response.content.decode()
    )
    assert not Payment.objects.filter(reference="W-991").exists()


def _second_advice(acme, acme_user) -> ClientNotice:
    return report_payment(
        actor=acme_user,
        client=acme,
        amount_minor=250,
        currency="USD",
        paid_on=date(2026, 11, 24),
        method="wire",
        reference="W-991 again",
        invoice_ids=[],
        key=uuid.uuid4(),
        today=date(2026, 11, 25),
    ).notice


def test_one_payment_answers_every_advice_named_and_each_is_audited(
    acme, acme_user, advice, operator
):
    again = _second_advice(acme, acme_user)
    result = payment_services.record_received_payment(
        actor=operator,
        client_id=acme.pk,
        amount_minor=250,
        currency="USD",
        received_on=date(2026, 11, 24),
        method="wire",
        reference="W-991",
        payer="",
        allocations=[],
        key=uuid.uuid4(),
        advice_ids=[again.pk, advice.pk],
    )
    for notice in (advice, again):
        notice.refresh_from_db()
        assert (notice.status, notice.payment) == ("done", result.payment)
    audited = AuditEvent.objects.filter(action=AuditAction.CLIENT_NOTICE_DONE)
    assert sorted(audited.values_list("object_id", flat=True)) == sorted(
        [str(advice.pk), str(again.pk)]
    )
    assert set(audited.values_list("actor_id", flat=True)) == {operator.pk}


def test_advice_already_answered_refuses_the_payment_and_records_nothing(acme, advice, operator):
    first = pay(acme, 250, received_on=date(2026, 11, 24)).payment
    notice_services.match_to_payment(
        actor=operator, notice_id=advice.pk, payment_id=first.pk, key=uuid.uuid4()
    )
    with pytest.raises(DomainError) as refused:
        payment_services.record_received_payment(
            actor=operator,
            client_id=acme.pk,
            amount_minor=300,
            currency="USD",
            received_on=date(2026, 11, 24),
            method="wire",
            reference="W-992",
            payer="",
            allocations=[],
            key=uuid.uuid4(),
            advice_ids=[advice.pk],
        )
    assert refused.value.code == "notice_answered"
    assert not Payment.objects.filter(reference="W-992").exists()


def test_advice_is_never_matched_to_another_clients_payment(acme, globex, advice, operator):
    theirs = pay(globex, 250, received_on=date(2026, 11, 24)).payment
    with pytest.raises(NotFound):
        notice_services.match_to_payment(
            actor=operator, notice_id=advice.pk, payment_id=theirs.pk, key=uuid.uuid4()
        )
    advice.refresh_from_db()
    assert advice.status == "waiting"

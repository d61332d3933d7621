"""What clients told the 3PL about money, in the console: counted on the overview, a
queue per kind, applied, recorded or declined once per form."""

import re
import uuid
from datetime import date

import pytest
from django.urls import reverse

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

"""The portal's two forms by which a client tells the 3PL about money, and what it then
reads: its requests and their answers, 'payment reported' on the invoice, its credit on
the aging report."""

import re
import uuid
from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.payments.models import ClientNotice
from tally.payments.services import decline_notice
from tests.factories import issued_invoice, make_user, pay

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme_browser(acme):
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example"))
    return browser


@pytest.fixture
def owing(acme):
    """Acme's open October invoice ($7.00, overdue) and $5.00 of unapplied credit."""
    invoice = issued_invoice(acme, picks=20, issue_date=date(2026, 10, 1))
    pay(acme, 500, received_on=date(2026, 11, 3), auto_allocate=False)
    return invoice


def form_key(html: str) -> str:
    return re.search(r'name="key" value="([0-9a-f-]+)"', html).group(1)


def test_a_client_asks_for_its_credit_to_pay_an_overdue_invoice_once(acme, acme_browser, owing):
    url = reverse("portal:apply_credit")
    html = acme_browser.get(url).content.decode()
    assert "$5.00" in html and owing.display_number in html
    post = {"key": form_key(html), f"amount_{owing.pk}": "4.50"}
    first = acme_browser.post(url, post)
    second = acme_browser.post(url, post)  # a double click
    assert first.status_code == second.status_code == 302
    assert first.url == reverse("portal:requests")
    assert ClientNotice.objects.get().amount_minor == 450
    listing = acme_browser.get(reverse("portal:requests")).content.decode()
    assert "Apply credit" in listing and "$4.50" in listing and "Waiting for the 3PL" in listing


def test_asking_for_more_than_the_invoice_owes_is_an_error_next_to_its_amount(
    acme, acme_browser, owing
):
    url = reverse("portal:apply_credit")
    html = acme_browser.get(url).content.decode()
    response = acme_browser.post(url, {"key": form_key(html), f"amount_{owing.pk}": "5.01"})
    assert response.status_code == 422
    html = response.content.decode()
    response = acme_browser.post(url, {"key": form_key(html), f"amount_{owing.pk}": "7.50"})
    assert (
        f'id="id_amount_{owing.pk}-error">{owing.display_number} owes $7.00: ask for that '
        "much at most.<" in response.content.decode()
    )
    assert "that is $5.01 in all, and $5.00 of your credit is left to ask for".capitalize() in html
    assert 'value="5.01"' in html  # nothing lost
    response = acme_browser.post(url, {"key": form_key(html), f"amount_{owing.pk}": "1.005"})
    assert "Enter the amount in USD with at most 2 decimals" in response.content.decode()
    assert not ClientNotice.objects.exists()


def test_another_clients_invoice_cannot_be_named(acme, globex, acme_browser, owing):
    theirs = issued_invoice(globex, picks=20, issue_date=date(2026, 10, 1))
    url = reverse("portal:report_paid")
    html = acme_browser.get(url).content.decode()
    assert theirs.display_number not in html
    response = acme_browser.post(
        url,
        {
            "key": form_key(html),
            "amount": "7.00",
            "currency": "USD",
            "paid_on": "2026-11-24",
            "method": "ach",
            "reference": "",
            "invoices": [str(theirs.pk)],
        },
    )
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    assert not ClientNotice.objects.exists()


def test_remittance_advice_shows_payment_reported_until_a_payment_is_recorded(
    acme, acme_browser, owing, operator
):
    url = reverse("portal:report_paid")
    html = acme_browser.get(url + f"?invoice={owing.display_number}").content.decode()
    assert f'value="{owing.pk}" checked' in html
    post = {
        "key": form_key(html),
        "amount": "7.00",
        "currency": "USD",
        "paid_on": "2026-11-24",
        "method": "wire",
        "reference": "W-991",
        "invoices": [str(owing.pk)],
    }
    assert acme_browser.post(url, post).status_code == 302
    assert acme_browser.post(url, post).status_code == 302
    assert ClientNotice.objects.count() == 1
    invoice_url = reverse("portal:invoice", args=[owing.display_number])
    html = acme_browser.get(invoice_url).content.decode()
    assert (
        "Payment reported on Nov 25, 2026: $7.00 paid Nov 24, 2026 by Wire transfer (W-991)" in html
    )
    assert "I've paid this" not in html
    pay(acme, 200, invoice=owing, reference="W-991")  # recorded against the invoice
    html = acme_browser.get(invoice_url).content.decode()
    assert "Payment reported" not in html


def test_remittance_advice_of_a_day_to_come_or_no_amount_is_refused_next_to_the_fields(
    acme_browser, owing
):
    url = reverse("portal:report_paid")
    html = acme_browser.get(url).content.decode()
    response = acme_browser.post(
        url,
        {
            "key": form_key(html),
            "amount": "",
            "currency": "USD",
            "paid_on": "2026-11-26",
            "method": "",
        },
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_amount-error">Enter the amount you paid.' in html
    assert 'id="id_paid_on-error">Enter today or an earlier day' in html
    assert 'id="id_method-error">Choose how you paid.' in html


def test_the_client_reads_why_a_request_was_declined(acme, acme_browser, owing, operator):
    from tally.payments.services import ask_to_apply_credit

    user = make_user(role=Role.CLIENT_USER, client=acme, email="ap2@acme.example")
    notice = ask_to_apply_credit(
        actor=user, client=acme, lines=[(owing.pk, 300)], key=uuid.uuid4()
    ).notice
    decline_notice(
        actor=operator, client=acme, notice_id=notice.pk, reason="We refund it on Friday."
    )
    html = acme_browser.get(reverse("portal:requests")).content.decode()
    assert "Declined" in html and "We refund it on Friday." in html


def test_another_client_sees_none_of_acmes_requests(acme, globex, acme_browser, owing):
    from tally.payments.services import ask_to_apply_credit
    from tally.portal import queries

    user = make_user(role=Role.CLIENT_USER, client=acme, email="ap2@acme.example")
    ask_to_apply_credit(actor=user, client=acme, lines=[(owing.pk, 300)], key=uuid.uuid4())
    assert len(queries.notice_page(acme.pk).rows) == 1
    assert queries.notice_page(globex.pk).rows == []
    assert queries.payment_reported(globex.pk, owing.pk) is None


def test_the_aging_report_shows_the_unapplied_credit(acme_browser, owing):
    html = acme_browser.get(reverse("portal:aging")).content.decode()
    assert "Unapplied credit" in html and "−$5.00" in html
    assert "Owed less credit" in html and "$2.00" in html
    assert reverse("portal:apply_credit") in html
    past = acme_browser.get(reverse("portal:aging"), {"as_of": "2026-11-01"}).content.decode()
    assert "Unapplied credit" not in past

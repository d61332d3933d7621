"""A client withdraws its own open dispute; the conversation shows the lines disputed."""

from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.audit.models import AuditAction, AuditEvent
from tally.disputes.models import Dispute, DisputeStatus, Resolution
from tally.disputes.services import open_dispute
from tally.invoicing.models import InvoiceLine
from tests.factories import issued_invoice, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(acme):
    return make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example")


@pytest.fixture
def browser(clerk):
    browser = HttpClient()
    browser.force_login(clerk)
    return browser


@pytest.fixture
def invoice(acme):
    return issued_invoice(acme, picks=12, labels=3, issue_date=date(2026, 11, 1))


@pytest.fixture
def dispute(acme, clerk, invoice):
    label_line = InvoiceLine.objects.get(invoice=invoice, description__icontains="label")
    return open_dispute(
        actor=clerk,
        client=acme,
        invoice_id=invoice.pk,
        reason="Labels for cancelled orders",
        line_ids=[label_line.pk],
    )


def withdraw_url(invoice, dispute) -> str:
    return reverse("portal:withdraw", args=[invoice.display_number, dispute.pk])


def test_the_conversation_names_the_lines_disputed(browser, invoice, dispute):
    page = browser.get(reverse("portal:invoice", args=[invoice.display_number])).content.decode()
    disputed = page.split('<ul class="disputed-lines">')[1].split("</ul>")[0]
    label = InvoiceLine.objects.get(invoice=invoice, description__icontains="label")
    assert label.description in disputed
    pick = InvoiceLine.objects.get(invoice=invoice, description__icontains="pick")
    assert pick.description not in disputed


def test_the_client_withdraws_its_dispute_with_a_reason(browser, clerk, invoice, dispute):
    response = browser.post(withdraw_url(invoice, dispute), {"why": "Found the orders, sorry."})
    assert response.status_code == 302
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.RESOLVED
    assert dispute.resolution == Resolution.WITHDRAWN
    assert dispute.resolution_summary == "Found the orders, sorry."
    event = AuditEvent.objects.get(action=AuditAction.DISPUTE_WITHDRAWN)
    assert event.actor_id == clerk.pk
    page = browser.get(response["Location"]).content.decode()
    assert f"You withdrew your dispute on {invoice.display_number}." in page
    assert "Resolved: Withdrawn" in page and "Found the orders, sorry." in page
    assert "Withdraw this dispute" not in page  # nothing open to withdraw


def test_without_a_reason_the_summary_says_the_client_withdrew(browser, invoice, dispute):
    response = browser.post(
        withdraw_url(invoice, dispute),
        {"why": ""},
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL=f"http://testserver/invoices/{invoice.display_number}/",
    )
    html = response.content.decode()
    assert "You withdrew this dispute." in html
    dispute.refresh_from_db()
    assert dispute.resolution_summary == "Withdrawn by the client."


def test_a_second_withdrawal_changes_nothing_and_says_so(browser, invoice, dispute):
    browser.post(withdraw_url(invoice, dispute), {"why": "first"})
    response = browser.post(withdraw_url(invoice, dispute), {"why": "again"}, follow=True)
    assert "That dispute was already resolved." in response.content.decode()
    dispute.refresh_from_db()
    assert dispute.resolution_summary == "first"
    assert AuditEvent.objects.filter(action=AuditAction.DISPUTE_WITHDRAWN).count() == 1


def test_another_clients_dispute_is_a_404(globex, invoice, dispute):
    theirs = issued_invoice(globex, picks=3, issue_date=date(2026, 11, 1))
    mallory = make_user(role=Role.CLIENT_USER, client=globex, email="ap@globex.example")
    browser = HttpClient()
    browser.force_login(mallory)
    # Their own invoice's URL with Acme's dispute, and Acme's invoice's URL: both 404.
    assert browser.post(withdraw_url(theirs, dispute), {"why": ""}).status_code == 404
    assert browser.post(withdraw_url(invoice, dispute), {"why": ""}).status_code == 404
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.OPEN


def test_an_overlong_reason_is_refused_next_to_the_field(browser, invoice, dispute):
    response = browser.post(withdraw_url(invoice, dispute), {"why": "x" * 2001})
    assert response.status_code == 422
    assert f'id="withdraw-{dispute.pk}-error"' in response.content.decode()
    assert Dispute.objects.get(pk=dispute.pk).status == DisputeStatus.OPEN

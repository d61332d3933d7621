"""Credit note PDFs and payment receipts: real PDFs of the client's own documents, named by
their stored numbers; another client's document is a 404."""

from datetime import date

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note, credit_invoice_lines
from tally.audit.actors import SystemActor
from tests.factories import issued_invoice, make_user, pay
from tests.pdfs import pdf_text, save_artifact

pytestmark = pytest.mark.django_db


def browser_for(client) -> HttpClient:
    browser = HttpClient()
    browser.force_login(make_user(role=Role.CLIENT_USER, client=client))
    return browser


@pytest.fixture
def credited(acme):
    """An Acme invoice of $4.34 credited $1.00 for a documented reason."""
    invoice = issued_invoice(acme, picks=12, labels=3, issue_date=date(2026, 11, 1))
    note = create_credit_note(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        amount_minor=100,
        reason="Three labels printed twice",
    )
    return invoice, note


def test_a_credit_note_pdf_says_what_it_credits_and_why(acme, credited):
    invoice, note = credited
    browser = browser_for(acme)
    page = browser.get(reverse("portal:invoice", args=[invoice.display_number])).content.decode()
    link = reverse("portal:credit_note_pdf", args=[note.display_number])
    assert f'href="{link}"' in page

    response = browser.get(link)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{note.display_number}.pdf"'
    pages, _, text = pdf_text(response.content)
    assert pages == 1
    for expected in (
        "CREDIT NOTE",
        note.display_number,
        invoice.display_number,
        "Three labels printed twice",
        "$1.00",
        "now owes $3.34",
    ):
        assert expected in text, expected
    save_artifact("credit-note.pdf", response.content)


def test_a_receipt_says_what_was_received_and_what_it_paid(acme):
    first = issued_invoice(acme, picks=12, issue_date=date(2026, 10, 1))
    second = issued_invoice(acme, picks=6, issue_date=date(2026, 11, 1))
    payment = pay(
        acme,
        1000,
        allocations=[(first.pk, first.total_minor), (second.pk, second.total_minor)],
        reference="ACH 778812",
        payer="Acme Inc. treasury",
        received_on=date(2026, 11, 12),
    ).payment
    browser = browser_for(acme)
    page = browser.get(reverse("portal:payments")).content.decode()
    link = reverse("portal:receipt_pdf", args=[payment.pk])
    assert f'href="{link}"' in page

    response = browser.get(link)
    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="receipt-2026-11-12-{payment.pk}.pdf"'
    )
    _, _, text = pdf_text(response.content)
    unapplied = 1000 - first.total_minor - second.total_minor
    for expected in (
        "RECEIPT",
        "$10.00",
        "ACH 778812",
        "Acme Inc. treasury",
        first.display_number,
        second.display_number,
        f"${unapplied // 100}.{unapplied % 100:02d}",
    ):
        assert expected in text, expected
    save_artifact("payment-receipt.pdf", response.content)


def test_another_clients_documents_are_a_404(acme, globex, credited):
    _, note = credited
    payment = pay(acme, 500, auto_allocate=False).payment
    mallory = browser_for(globex)
    assert (
        mallory.get(reverse("portal:credit_note_pdf", args=[note.display_number])).status_code
        == 404
    )
    assert mallory.get(reverse("portal:receipt_pdf", args=[payment.pk])).status_code == 404
    assert mallory.get("/credit-notes/CN-00000١/credit-note.pdf").status_code == 404


def test_a_credit_note_by_lines_prints_each_line_it_credits(acme):
    invoice = issued_invoice(acme, picks=12, labels=3, issue_date=date(2026, 11, 1))
    picks = invoice.lines.get(kind="pick")
    labels = invoice.lines.get(kind="label")
    note = credit_invoice_lines(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        lines=[(picks.pk, 70), (labels.pk, 9)],
        reason="Cancelled orders",
    )
    response = browser_for(acme).get(reverse("portal:credit_note_pdf", args=[note.display_number]))
    _, _, text = pdf_text(response.content)
    assert f"Credit on {picks.description} $0.70" in text
    assert f"Credit on {labels.description} $0.09" in text
    assert "Reason: Cancelled orders" in text and "This credit note $0.79" in text
    save_artifact("credit-note-by-lines.pdf", response.content)

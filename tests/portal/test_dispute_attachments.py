"""Files sent with a dispute: kept with the message, downloaded only by their client."""

from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role
from tally.audit.models import AuditAction, AuditEvent
from tally.disputes.models import Dispute, DisputeAttachment, DisputeMessage
from tally.disputes.services import open_dispute
from tests.disputes.test_attachments import CSV, PDF, PNG
from tests.factories import issued_invoice, make_user

pytestmark = pytest.mark.django_db


def signed_in(user) -> HttpClient:
    browser = HttpClient()
    browser.force_login(user)
    return browser


@pytest.fixture
def clerk(acme):
    return make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example")


@pytest.fixture
def invoice(acme):
    return issued_invoice(acme, picks=12, labels=3, issue_date=date(2026, 11, 1))


def upload(name: str, data: bytes) -> SimpleUploadedFile:
    # The browser's claimed type is ignored: only the bytes count.
    return SimpleUploadedFile(name, data, content_type="application/octet-stream")


def test_a_dispute_opened_with_files_keeps_them_and_lists_them(clerk, invoice):
    browser = signed_in(clerk)
    number = invoice.display_number
    response = browser.post(
        reverse("portal:dispute", args=[number]),
        {
            "reason": "Cancelled before shipping: see the list and the manifest.",
            "attachments": [upload("cancellations.csv", CSV), upload("manifest.pdf", PDF)],
        },
    )
    assert response.status_code == 302
    files = list(DisputeAttachment.objects.order_by("id"))
    assert [(f.filename, f.content_type, f.size_bytes) for f in files] == [
        ("cancellations.csv", "text/csv", len(CSV)),
        ("manifest.pdf", "application/pdf", len(PDF)),
    ]
    assert files[0].message == DisputeMessage.objects.get()
    opened = AuditEvent.objects.get(action=AuditAction.DISPUTE_OPENED)
    assert '"filename":"manifest.pdf"' in opened.data.replace(" ", "")

    page = browser.get(reverse("portal:invoice", args=[number])).content.decode()
    for f in files:
        link = reverse("portal:dispute_attachment", args=[number, f.pk, f.filename])
        assert f'href="{link}"' in page

    download = browser.get(reverse("portal:dispute_attachment", args=[number, files[1].pk, "x"]))
    assert download.status_code == 200
    assert download.content == PDF
    assert download["Content-Type"] == "application/pdf"
    # The stored name, never the URL's; always a download, never shown inline.
    assert download["Content-Disposition"] == 'attachment; filename="manifest.pdf"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_message_with_a_disguised_file_is_refused_whole(clerk, acme, invoice):
    dispute = open_dispute(actor=clerk, client=acme, invoice_id=invoice.pk, reason="Too many picks")
    number = invoice.display_number
    response = signed_in(clerk).post(
        reverse("portal:message", args=[number, dispute.pk]),
        {"body": "Photo attached", "attachments": [upload("photo.pdf", PNG)]},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert f'id="message-files-{dispute.pk}-error"' in page
    assert "its content is image/png, so its name should end .png" in page
    assert DisputeMessage.objects.filter(dispute=dispute).count() == 1  # only the reason
    assert not DisputeAttachment.objects.exists()


def test_another_clients_attachment_is_a_404(clerk, acme, globex, invoice):
    dispute = open_dispute(
        actor=clerk,
        client=acme,
        invoice_id=invoice.pk,
        reason="See file",
        attachments=[],
    )
    signed_in(clerk).post(
        reverse("portal:message", args=[invoice.display_number, dispute.pk]),
        {"body": "Here", "attachments": [upload("list.csv", CSV)]},
    )
    secret = DisputeAttachment.objects.get()
    theirs = issued_invoice(globex, picks=2, issue_date=date(2026, 11, 1))
    mallory = signed_in(make_user(role=Role.CLIENT_USER, client=globex, email="m@globex.example"))
    for number in (theirs.display_number, invoice.display_number):
        url = reverse("portal:dispute_attachment", args=[number, secret.pk, "list.csv"])
        assert mallory.get(url).status_code == 404
    # And Acme's own file under another of Acme's invoices is not found either.
    other = issued_invoice(acme, picks=1, issue_date=date(2026, 11, 2))
    url = reverse("portal:dispute_attachment", args=[other.display_number, secret.pk, "list.csv"])
    assert signed_in(clerk).get(url).status_code == 404
    assert Dispute.objects.count() == 1

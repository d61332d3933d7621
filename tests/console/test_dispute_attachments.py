"""Files in a dispute's conversation, from the console: an operator sends them with a
reply and downloads the client's; the client downloads the operator's."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tally.disputes.attachments import Upload
from tally.disputes.models import DisputeAttachment, DisputeMessage
from tally.disputes.services import post_dispute_message
from tests.disputes.test_attachments import CSV, PDF, PNG

pytestmark = pytest.mark.django_db


def reply(ops, dispute, *files):
    return ops.post(
        reverse("console:reply", args=[dispute.pk]),
        {"key": uuid.uuid4().hex, "body": "The carrier's manifest.", "attachments": list(files)},
    )


def test_an_operator_replies_with_a_file_the_client_then_downloads(ops, acme_browser, dispute):
    response = reply(ops, dispute, SimpleUploadedFile("manifest.pdf", PDF))
    assert response.status_code == 302
    sent = DisputeAttachment.objects.get()
    assert sent.message.author_side == "operator" and sent.content_type == "application/pdf"
    number = dispute.invoice.display_number
    page = acme_browser.get(reverse("portal:invoice", args=[number])).content.decode()
    link = reverse("portal:dispute_attachment", args=[number, sent.pk, "manifest.pdf"])
    assert link in page
    assert acme_browser.get(link).content == PDF


def test_a_refused_file_keeps_the_reply_unsent_with_the_reason_by_the_field(ops, dispute):
    response = reply(ops, dispute, SimpleUploadedFile("photo.pdf", PNG))
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="reply-files-error"' in html and "should end .png" in html
    assert ">The carrier&#39;s manifest.</textarea>" in html  # what was typed is kept
    assert DisputeMessage.objects.filter(author_side="operator").count() == 0


def test_the_operator_sees_and_downloads_the_clients_file(ops, acme_user, dispute):
    post_dispute_message(
        actor=acme_user,
        client=dispute.client,
        dispute_id=dispute.pk,
        body="Our cancellation list.",
        attachments=[Upload("cancellations.csv", CSV)],
    )
    file = DisputeAttachment.objects.get()
    page = ops.get(reverse("console:dispute", args=[dispute.pk])).content.decode()
    link = reverse("console:dispute_attachment", args=[dispute.pk, file.pk, "cancellations.csv"])
    assert link in page
    download = ops.get(link)
    assert download.content == CSV and download["Content-Type"] == "text/csv"
    assert download["Content-Disposition"] == 'attachment; filename="cancellations.csv"'
    # Under another dispute's URL the file is not found.
    other = reverse("console:dispute_attachment", args=[dispute.pk + 1, file.pk, "x"])
    assert ops.get(other).status_code == 404

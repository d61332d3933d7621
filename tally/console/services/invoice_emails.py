"""An issued invoice's email, sent again on an operator's request."""

import uuid

from django.db import transaction

from tally.accounts.models import User
from tally.invoicing.emails import request_invoice_email
from tally.invoicing.models import InvoiceEmail, InvoiceEmailReason

from .drafts import client_of
from .submissions import claim


@transaction.atomic
def send_invoice_again(*, actor: User, invoice_id: int, key: uuid.UUID) -> InvoiceEmail:
    """Email an issued invoice to its client's billing contacts once more (a contact
    lost it, a send failed): a new email, recorded and retried as the first."""
    claim(actor, key)
    return request_invoice_email(
        actor=actor,
        client=client_of(invoice_id),
        invoice_id=invoice_id,
        reason=InvoiceEmailReason.SENT_AGAIN,
    )

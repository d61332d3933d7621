"""What Tally's emails carry that a domain app cannot draw itself: the invoice's PDF is the
portal's (tally/portal/pdf.py), a layer above the reminders."""

from datetime import date

from tally.clients.models import Client
from tally.invoicing.emails import Attachment
from tally.invoicing.models import Invoice
from tally.portal import queries
from tally.portal.pdf import render_invoice_pdf


def invoice_pdf(invoice: Invoice, client: Client, today: date) -> list[Attachment]:
    """The invoice as the client downloads it from the portal, read through the portal's
    client-scoped queries, in the client's locale."""
    header = queries.client_header(client.pk)
    detail = queries.invoice_detail(client.pk, invoice.pk, today)
    pdf = render_invoice_pdf(header, detail, locale=client.locale)
    return [Attachment(f"{invoice.display_number}.pdf", pdf, "application/pdf")]

"""An issued invoice's emails to its client: when each went, to whom, and "send again".

The invoice's console page includes `console/_invoice_emails.html` with
`invoice_emails_context(invoice_id)` in its context; so does a draft's page once issued.
"""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from tally.errors import DomainError

from ..access import Console, operator_console
from ..forms.invoice_emails import SendAgainForm
from ..queries import invoice_emails as queries
from ..services import invoice_emails as services
from ..services.submissions import AlreadySubmitted, new_key


def invoice_emails_context(invoice_id: int) -> dict[str, Any]:
    """What the partial needs: the invoice's emails (None for a draft) and a fresh form."""
    return {
        "invoice_emails": queries.invoice_emails(invoice_id),
        "send_form": SendAgainForm(initial={"key": new_key()}),
    }


def invoice_page(invoice_id: int) -> str:
    """The console's page of an invoice; a draft's page (which shows an issued draft's
    emails too) where there is no invoice page."""
    try:
        return reverse("console:invoice", args=[invoice_id])
    except NoReverseMatch:
        return reverse("console:draft", args=[invoice_id])


@operator_console
@require_POST
def send_again(request: HttpRequest, console: Console, invoice_id: int) -> HttpResponse:
    form = SendAgainForm(request.POST)
    back = redirect(invoice_page(invoice_id) + "#emails")
    if not form.is_valid():
        messages.error(request, "This form has expired. Reload the page and try again.")
        return back
    try:
        email = services.send_invoice_again(
            actor=console.user, invoice_id=invoice_id, key=form.cleaned_data["key"]
        )
    except AlreadySubmitted:
        messages.info(request, "The email was asked for by the first submission of the form.")
        return back
    except DomainError as e:
        if e.code == "invoice_not_issued":
            messages.error(request, "Only an issued invoice that is not void is emailed.")
        else:
            raise
        return back
    messages.success(
        request,
        f"{email.invoice.display_number} is on its way again to "
        f"{email.client.name}'s billing contacts.",
    )
    return back

"""Who receives the client's invoices and reminders: every client user sees them, the
client's account admin (`User.is_client_admin`) adds and removes them."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tally.clients.services import add_billing_contact, remove_billing_contact
from tally.errors import DomainError, NotFound

from . import queries
from .access import Portal, client_portal
from .forms import BillingContactForm, show_refusal


def _is_admin(request: HttpRequest) -> bool:
    return bool(getattr(request.user, "is_client_admin", False))


def _page(
    request: HttpRequest, portal: Portal, form: BillingContactForm, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "portal/billing_contacts.html",
        {
            "portal": portal,
            "contacts": queries.billing_contacts(portal.client_id),
            "form": form,
            "can_edit": _is_admin(request),
        },
        status=status,
    )


@require_GET
@client_portal
def billing_contacts(request: HttpRequest, portal: Portal) -> HttpResponse:
    return _page(request, portal, BillingContactForm())


@require_POST
@client_portal
def add_contact(request: HttpRequest, portal: Portal) -> HttpResponse:
    form = BillingContactForm(request.POST)
    if form.is_valid():
        try:
            contact = add_billing_contact(
                actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
                client_id=portal.client_id,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
            )
        except DomainError as refused:
            show_refusal(form, refused)
        else:
            messages.success(request, f"{contact.email} will receive your invoices and reminders.")
            return redirect("portal:billing_contacts")
    return _page(request, portal, form, status=422)


@require_POST
@client_portal
def remove_contact(request: HttpRequest, portal: Portal, contact_id: int) -> HttpResponse:
    try:
        contact = remove_billing_contact(
            actor=request.user,  # type: ignore[arg-type]  # signed in: client_portal checked
            client_id=portal.client_id,
            contact_id=contact_id,
        )
    except NotFound:
        raise
    except DomainError as refused:
        messages.error(request, refused.message[:1].upper() + refused.message[1:] + ".")
    else:
        messages.success(request, f"{contact.email} will no longer receive them.")
    return redirect("portal:billing_contacts")

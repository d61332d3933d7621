"""Creating and changing clients (platform owner's configuration)."""

import zoneinfo

from babel import Locale, UnknownLocaleError
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.errors import DomainError, NotFound, Problem
from tally.money import MoneyError, check_currency

from .models import BillingContact, Client


def _validate(
    *,
    code: str,
    name: str,
    currency: str,
    time_zone: str,
    payment_terms_days: int,
    tax_rate_bp: int | None,
    locale: str,
) -> list[Problem]:
    problems = []
    if not name.strip():
        problems.append(Problem("is required", field="name"))
    if not code.strip():
        problems.append(Problem("is required", field="code"))
    try:
        check_currency(currency)
    except MoneyError as e:
        problems.append(Problem(str(e), field="currency"))
    try:
        zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(Problem(f"unknown time zone {time_zone!r}", field="time_zone"))
    try:
        Locale.parse(locale)
    except (UnknownLocaleError, ValueError, TypeError):
        problems.append(
            Problem(f"unknown locale {locale!r}: use one such as en_US", field="locale")
        )
    if not 0 <= payment_terms_days <= 365:
        problems.append(Problem("must be between 0 and 365 days", field="payment_terms_days"))
    if tax_rate_bp is not None and not 0 <= tax_rate_bp <= 10000:
        problems.append(Problem("must be between 0 and 10000 basis points", field="tax_rate_bp"))
    return problems


@transaction.atomic
def create_client(
    *,
    actor: Actor,
    name: str,
    code: str,
    currency: str,
    payment_terms_days: int = 30,
    time_zone: str = "UTC",
    tax_rate_bp: int | None = None,
    address: str = "",
    billing_contacts: list[tuple[str, str]] | None = None,
    locale: str = "en_US",
) -> Client:
    locale = locale.replace("-", "_")
    problems = _validate(
        code=code,
        name=name,
        currency=currency,
        time_zone=time_zone,
        payment_terms_days=payment_terms_days,
        tax_rate_bp=tax_rate_bp,
        locale=locale,
    )
    if Client.objects.filter(code=code).exists():
        problems.append(Problem(f"a client with code {code!r} exists", field="code"))
    if problems:
        raise DomainError("invalid_client", "the client was not created", problems)
    client = Client.objects.create(
        name=name.strip(),
        code=code.strip(),
        currency=currency.upper(),
        payment_terms_days=payment_terms_days,
        time_zone=time_zone,
        tax_rate_bp=tax_rate_bp,
        address=address,
        locale=str(Locale.parse(locale)),
    )
    BillingContact.objects.bulk_create(
        BillingContact(client=client, name=n, email=e.lower()) for n, e in billing_contacts or []
    )
    audit.record(
        actor=actor,
        action=AuditAction.CLIENT_CREATED,
        obj=client,
        client_id=client.pk,
        after={
            "name": client.name,
            "code": client.code,
            "currency": client.currency,
            "payment_terms_days": payment_terms_days,
            "time_zone": time_zone,
            "tax_rate_bp": tax_rate_bp,
            "locale": client.locale,
            "billing_contacts": [e for _, e in billing_contacts or []],
        },
    )
    return client


def _may_keep_contacts(actor: Actor, client_id: int) -> bool:
    """A client user keeps its own client's contacts only as the client's admin; the
    3PL's people and the system keep any client's."""
    own = getattr(actor, "client_id", None)
    if own is None:
        return True
    return own == client_id and bool(getattr(actor, "is_client_admin", False))


def _refuse_unless_keeper(actor: Actor, client_id: int) -> None:
    if not _may_keep_contacts(actor, client_id):
        raise DomainError(
            "not_allowed", "only your company's account admin can change billing contacts"
        )


@transaction.atomic
def add_billing_contact(*, actor: Actor, client_id: int, name: str, email: str) -> BillingContact:
    """Someone else who receives the client's invoices and reminders."""
    _refuse_unless_keeper(actor, client_id)
    client = Client.objects.select_for_update().filter(pk=client_id).first()
    if client is None:
        raise NotFound("client")
    name, email = name.strip(), email.strip().lower()
    problems = []
    if not name:
        problems.append(Problem("enter the person's or mailbox's name", field="name"))
    try:
        validate_email(email)
    except ValidationError:
        problems.append(Problem(f"{email!r} is not an email address", field="email"))
    else:
        if BillingContact.objects.filter(client=client, email=email).exists():
            problems.append(Problem("that address already receives them", field="email"))
    if problems:
        raise DomainError("invalid_contact", "the contact was not added", problems)
    contact = BillingContact.objects.create(client=client, name=name, email=email)
    audit.record(
        actor=actor,
        action=AuditAction.BILLING_CONTACT_ADDED,
        obj=contact,
        client_id=client.pk,
        after={"name": name, "email": email},
    )
    return contact


@transaction.atomic
def remove_billing_contact(*, actor: Actor, client_id: int, contact_id: int) -> BillingContact:
    """Stop sending one contact the client's invoices and reminders. The last contact
    stays: with none, an issued invoice would reach nobody."""
    _refuse_unless_keeper(actor, client_id)
    # The client's row is the lock: two admins removing the last two contacts at once
    # cannot leave none.
    if not Client.objects.select_for_update().filter(pk=client_id).exists():
        raise NotFound("client")
    contact = BillingContact.objects.filter(client_id=client_id, pk=contact_id).first()
    if contact is None:
        raise NotFound("billing contact")
    if BillingContact.objects.filter(client_id=client_id).count() == 1:
        raise DomainError(
            "last_contact",
            "the last billing contact stays: add another before removing this one",
        )
    audit.record(
        actor=actor,
        action=AuditAction.BILLING_CONTACT_REMOVED,
        obj=contact,
        client_id=client_id,
        before={"name": contact.name, "email": contact.email},
    )
    contact.delete()
    return contact

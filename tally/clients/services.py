"""Creating and changing clients (platform owner's configuration)."""

import zoneinfo

from babel import Locale, UnknownLocaleError
from django.db import transaction

from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.errors import DomainError, Problem
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

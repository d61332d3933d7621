"""Rate cards: creating a client's prices for a span of time."""

from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q

from tally.audit import services as audit
from tally.audit.actors import Actor
from tally.audit.models import AuditAction
from tally.clients.models import Client
from tally.errors import DomainError, Problem
from tally.money import MoneyError, parse_price
from tally.operations.models import EventKind

from .models import RateCard, RatePrice


@transaction.atomic
def create_rate_card(
    *,
    actor: Actor,
    client: Client,
    effective_from: date,
    prices: dict[str, Any],
    effective_to: date | None = None,
    name: str = "",
) -> RateCard:
    """Add a rate card. An open-ended card that starts earlier is closed where this one starts."""
    problems = []
    micros: dict[str, int] = {}
    for kind, value in prices.items():
        if kind not in EventKind.values:
            problems.append(Problem(f"unknown kind {kind!r}", field=f"prices.{kind}"))
            continue
        try:
            micros[kind] = parse_price(value)
        except MoneyError as e:
            problems.append(Problem(str(e), field=f"prices.{kind}"))
    if not prices:
        problems.append(Problem("a rate card needs at least one price", field="prices"))
    if effective_to is not None and effective_to <= effective_from:
        problems.append(Problem("must be after effective_from", field="effective_to"))
    if problems:
        raise DomainError("invalid_rate_card", "the rate card was not created", problems)

    Client.objects.select_for_update().get(pk=client.pk)
    predecessor = (
        RateCard.objects.filter(
            client=client, effective_to__isnull=True, effective_from__lt=effective_from
        )
        .order_by("-effective_from")
        .first()
    )
    if predecessor is not None:
        predecessor.effective_to = effective_from
        predecessor.save(update_fields=["effective_to"])
        audit.record(
            actor=actor,
            action=AuditAction.RATE_CARD_CLOSED,
            obj=predecessor,
            after={"effective_to": effective_from},
        )
    overlap = RateCard.objects.filter(client=client).filter(
        Q(effective_to__isnull=True) | Q(effective_to__gt=effective_from)
    )
    if effective_to is not None:
        overlap = overlap.filter(effective_from__lt=effective_to)
    if overlap.exists():
        raise DomainError(
            "overlapping_rate_card",
            "the dates overlap an existing rate card",
            [Problem("overlaps an existing rate card", field="effective_from")],
        )
    card = RateCard.objects.create(
        client=client, name=name, effective_from=effective_from, effective_to=effective_to
    )
    RatePrice.objects.bulk_create(
        RatePrice(client=client, rate_card=card, kind=k, unit_price_micros=v)
        for k, v in micros.items()
    )
    audit.record(
        actor=actor,
        action=AuditAction.RATE_CARD_CREATED,
        obj=card,
        after={
            "effective_from": effective_from,
            "effective_to": effective_to,
            "prices_micros": micros,
            "name": name,
        },
    )
    return card

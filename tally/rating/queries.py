"""Which price applies when: a client's rate cards cut into segments of a period."""

from dataclasses import dataclass
from datetime import date

from django.db.models import Q

from .models import RateCard, RatePrice


@dataclass(frozen=True)
class PriceSegment:
    start: date  # inclusive
    end: date  # exclusive
    prices: dict[str, int]  # kind → unit price in micros


def price_segments(client_id: int, start: date, end: date) -> list[PriceSegment]:
    """The rate cards covering [start, end), each clipped to it, in date order."""
    cards = list(
        RateCard.objects.filter(client_id=client_id, effective_from__lt=end)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=start))
        .order_by("effective_from")
    )
    prices: dict[int, dict[str, int]] = {c.pk: {} for c in cards}
    for card_id, kind, micros in RatePrice.objects.filter(rate_card__in=cards).values_list(
        "rate_card_id", "kind", "unit_price_micros"
    ):
        prices[card_id][kind] = micros
    return [
        PriceSegment(max(c.effective_from, start), min(c.effective_to or end, end), prices[c.pk])
        for c in cards
    ]

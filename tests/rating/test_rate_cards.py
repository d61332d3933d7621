from datetime import date

import pytest

from tally.audit.actors import SystemActor
from tally.errors import DomainError
from tally.rating.models import RateCard
from tally.rating.queries import price_segments
from tally.rating.services import create_rate_card

pytestmark = pytest.mark.django_db


def test_a_new_card_closes_the_open_ended_one_before_it(acme):
    create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2026, 7, 1),
        prices={"pick": "0.40"},
    )
    cards = list(
        RateCard.objects.filter(client=acme)
        .order_by("effective_from")
        .values_list("effective_from", "effective_to")
    )
    assert cards == [(date(2026, 1, 1), date(2026, 7, 1)), (date(2026, 7, 1), None)]
    segments = price_segments(acme.pk, date(2026, 6, 15), date(2026, 7, 15))
    assert [(s.start, s.end, s.prices["pick"]) for s in segments] == [
        (date(2026, 6, 15), date(2026, 7, 1), 350_000),
        (date(2026, 7, 1), date(2026, 7, 15), 400_000),
    ]


def test_prices_keep_sub_cent_precision(acme):
    card = create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2027, 1, 1),
        prices={"label": "0.0451", "pick": "0.000125"},
    )
    assert dict(card.prices.values_list("kind", "unit_price_micros")) == {
        "label": 45_100,
        "pick": 125,
    }


@pytest.mark.parametrize(
    ("prices", "field", "message"),
    [
        ({"teleport": "1"}, "prices.teleport", "unknown kind 'teleport'"),
        ({"pick": "-1"}, "prices.pick", "not a non-negative price"),
        ({"pick": "abc"}, "prices.pick", "is not a number"),
        ({"pick": "0.00000001"}, "prices.pick", "more than six decimals"),
        ({}, "prices", "at least one price"),
    ],
)
def test_bad_prices_are_refused_with_the_field_named(acme, prices, field, message):
    with pytest.raises(DomainError) as err:
        create_rate_card(
            actor=SystemActor.TESTS, client=acme, effective_from=date(2027, 1, 1), prices=prices
        )
    assert err.value.problems[0].field == field and message in err.value.problems[0].message
    assert RateCard.objects.filter(client=acme).count() == 1


def test_overlapping_cards_are_refused(acme):
    create_rate_card(
        actor=SystemActor.TESTS,
        client=acme,
        effective_from=date(2025, 6, 1),
        effective_to=date(2025, 9, 1),
        prices={"pick": "0.30"},
    )
    with pytest.raises(DomainError, match="overlapping_rate_card"):
        create_rate_card(
            actor=SystemActor.TESTS,
            client=acme,
            effective_from=date(2025, 8, 1),
            effective_to=date(2025, 10, 1),
            prices={"pick": "0.30"},
        )
    assert RateCard.objects.filter(client=acme).count() == 2

"""How a client pays: the operator's bank details, which depend on the invoice's currency."""

from django.conf import settings


def payment_instructions(currency: str) -> str:
    """The text for `currency` (settings.TALLY_PAYMENT_INSTRUCTIONS_<code>), else the one
    for every other currency. A EUR invoice must not send its payer to a USD account."""
    by_currency: dict[str, str] = settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY
    return by_currency.get(currency.upper(), settings.TALLY_PAYMENT_INSTRUCTIONS)

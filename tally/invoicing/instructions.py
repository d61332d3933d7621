"""How a client pays: the operator's bank details, which depend on the invoice's currency."""

from django.conf import settings


def bank_details(currency: str) -> str | None:
    """The operator's instructions for `currency` (TALLY_PAYMENT_INSTRUCTIONS_<code>), if any."""
    by_currency: dict[str, str] = settings.TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY
    return by_currency.get(currency.upper())


def payment_instructions(currency: str) -> str:
    """What to print under "How to pay": the bank details for `currency`, or, without any,
    whom to ask. Never another currency's account: a EUR payer sent to a USD account pays
    conversion fees, or pays nowhere."""
    details = bank_details(currency)
    if details:
        return details
    return (
        f"For how to pay in {currency.upper()}, contact {settings.TALLY_OPERATOR_NAME} "
        f"at {settings.TALLY_OPERATOR_CONTACT}."
    )

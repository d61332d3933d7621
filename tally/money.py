"""Money is integer minor units everywhere; prices are exact decimals.

Amounts live in the database as BIGINT minor units (cents, yen, fils), so sums over
millions of rows are exact on SQLite and PostgreSQL alike. Unit prices need sub-cent
precision, so they are stored as integer *micro* units of the major currency
(1.000000 = 1_000_000) and multiplied out exactly here, rounding half up once per line.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern, get_currency_precision, list_currencies

PRICE_SCALE = 1_000_000  # unit prices: six decimals of the major unit
_KNOWN_CURRENCIES = frozenset(list_currencies())


class MoneyError(ValueError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in _KNOWN_CURRENCIES:
        raise MoneyError(f"unknown currency {code!r}: use an ISO 4217 code such as USD or EUR")
    return code


def exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent: USD 2, JPY 0, BHD 3."""
    return int(get_currency_precision(check_currency(currency)))


def round_half_up_div(numerator: int, denominator: int) -> int:
    """Integer division rounded half away from zero, exact for any size."""
    if denominator <= 0:
        raise MoneyError("denominator must be positive")
    sign = -1 if numerator < 0 else 1
    q, r = divmod(abs(numerator), denominator)
    if 2 * r >= denominator:
        q += 1
    return sign * q


def line_amount(quantity: int, unit_price_micros: int, currency: str) -> int:
    """quantity × unit price, in minor units, rounded half up to the currency's exponent."""
    scale = PRICE_SCALE // 10 ** exponent(currency)
    return round_half_up_div(quantity * unit_price_micros, scale)


def tax_amount(subtotal_minor: int, tax_rate_bp: int) -> int:
    """Tax on a subtotal; the rate is in basis points of a percent (8.25% = 825)."""
    return round_half_up_div(subtotal_minor * tax_rate_bp, 10_000)


def parse_price(value: str | Decimal | int) -> int:
    """'0.0450' → 45000 micros. Refuses more than six decimals rather than rounding."""
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise MoneyError(f"{value!r} is not a non-negative price")
    micros = d * PRICE_SCALE
    if micros != micros.to_integral_value():
        raise MoneyError(f"{value!r} has more than six decimals")
    return int(micros)


def parse_amount(value: str | Decimal | int, currency: str) -> int:
    """'1234.50' USD → 123450 minor units. Refuses fractions of the minor unit."""
    try:
        d = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not an amount") from None
    if not d.is_finite():
        raise MoneyError(f"{value!r} is not an amount")
    minor = d * (10 ** exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"{value!r} has more decimals than {currency} allows")
    return int(minor)


def to_decimal(minor: int, currency: str) -> Decimal:
    exp = exponent(currency)
    return (Decimal(minor) / (10**exp)).quantize(Decimal(1).scaleb(-exp))


def price_to_decimal(micros: int) -> Decimal:
    d = (Decimal(micros) / PRICE_SCALE).quantize(Decimal("0.000001"))
    # Show at least four decimals, more only when the price needs them.
    return d.quantize(Decimal("0.0001")) if d == d.quantize(Decimal("0.0001")) else d.normalize()


@cache
def _currency_format(locale: str) -> tuple[Locale, NumberPattern]:
    parsed = Locale.parse(locale)
    return parsed, parsed.currency_formats["standard"]


def format_money(minor: int, currency: str, locale: str = "en_US") -> str:
    """What babel's format_currency gives, with the locale's pattern parsed once: a page of
    invoices formats a hundred amounts."""
    parsed, pattern = _currency_format(locale)
    return pattern.apply(to_decimal(minor, currency), parsed, currency=currency)


def quantize_rounding(d: Decimal) -> Decimal:
    return d.quantize(Decimal(1), rounding=ROUND_HALF_UP)

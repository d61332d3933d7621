"""Money is integer minor units everywhere; prices are exact decimals.

Amounts live in the database as BIGINT minor units (cents, yen, fils), so sums over
millions of rows are exact on SQLite and PostgreSQL alike. Unit prices need sub-cent
precision, so they are stored as integer *micro* units of the major currency
(1.000000 = 1_000_000) and multiplied out exactly here, rounding half up once per line.
"""

import copy
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache

from babel import Locale
from babel.numbers import NumberPattern

PRICE_SCALE = 1_000_000  # unit prices: six decimals of the major unit

# ISO 4217's current currencies and their minor units, pinned here rather than read from
# babel: CLDR's decimals are a display habit (RSD and IQD with none, where ISO 4217 has two
# and three), and amounts are stored in minor units, so a library upgrade must never
# change their scale. Historical and non-currency codes (DEM, XAU, XXX) are not accepted.
_ISO_4217_EXPONENT = {
    **dict.fromkeys(
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN "
        "BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB "
        "EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS "
        "KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN "
        "MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD "
        "SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS "
        "UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG".split(),
        2,
    ),
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}


class MoneyError(ValueError):
    pass


def check_currency(code: str) -> str:
    code = (code or "").upper()
    if code not in _ISO_4217_EXPONENT:
        raise MoneyError(f"unknown currency {code!r}: use an ISO 4217 code such as USD or EUR")
    return code


def exponent(currency: str) -> int:
    """ISO 4217 minor-unit exponent: USD 2, JPY 0, BHD 3."""
    return _ISO_4217_EXPONENT[check_currency(currency)]


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


# The largest magnitudes accepted, as powers of ten: every amount in minor units and every
# price in micros stays well inside a 64-bit integer (the database's bigint). Checked
# before any arithmetic: int(Decimal("1e999999")) alone takes seconds.
MAX_AMOUNT_DIGITS = 15  # below 10**15 major units, so 10**18 minor units for three decimals
MAX_PRICE_DIGITS = 12  # below 10**12 per unit, so 10**18 micros


def _too_large(d: Decimal, digits: int) -> bool:
    return d != 0 and d.adjusted() >= digits


def parse_price(value: str | Decimal | int) -> int:
    """'0.0450' → 45000 micros. Refuses more than six decimals rather than rounding."""
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise MoneyError(f"{value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise MoneyError(f"{value!r} is not a non-negative price")
    if _too_large(d, MAX_PRICE_DIGITS):
        raise MoneyError(f"{value!r} is too large a price")
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
    if _too_large(d, MAX_AMOUNT_DIGITS):
        raise MoneyError(f"{value!r} is too large an amount")
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


def _babel_money(minor: int, currency: str, locale: str) -> str:
    parsed, pattern = _currency_format(locale)
    # As many decimals as ISO 4217 gives the currency, not CLDR's (see _ISO_4217_EXPONENT).
    places = copy.copy(pattern)
    places.frac_prec = (exponent(currency),) * 2
    return places.apply(
        to_decimal(minor, currency), parsed, currency=currency, currency_digits=False
    )


@dataclass(frozen=True)
class _Layout:
    """How a locale writes amounts of a currency, read off babel's own output."""

    prefix: str
    suffix: str
    negative_prefix: str
    negative_suffix: str
    group: str
    decimal: str
    exp: int

    def write(self, minor: int) -> str:
        units, fraction = divmod(-minor if minor < 0 else minor, 10**self.exp)
        digits = f"{units:,}".replace(",", self.group)
        if self.exp:
            digits += f"{self.decimal}{fraction:0{self.exp}d}"
        if minor < 0:
            return f"{self.negative_prefix}{digits}{self.negative_suffix}"
        return f"{self.prefix}{digits}{self.suffix}"


_PROBE = 1_234_567_891_234  # every digit position of a grouped amount, in minor units


@cache
def _layout(currency: str, locale: str) -> _Layout | None:
    """The prefix, suffix and separators babel uses for this currency and locale, or None
    when they cannot be read back exactly (then babel formats every amount)."""
    parts = []
    for minor in (_PROBE, -_PROBE):
        text = _babel_money(minor, currency, locale)
        first = next((i for i, ch in enumerate(text) if ch.isdigit()), None)
        last = max((i for i, ch in enumerate(text) if ch.isdigit()), default=None)
        if first is None or last is None:
            return None
        parts.append((text[:first], text[last + 1 :], text[first : last + 1]))
    (prefix, suffix, body), (negative_prefix, negative_suffix, negative_body) = parts
    exp = exponent(currency)
    group = next((ch for ch in body if not ch.isdigit()), "")
    decimal = body[-exp - 1] if exp else ""
    layout = _Layout(prefix, suffix, negative_prefix, negative_suffix, group, decimal, exp)
    probe = layout.write(_PROBE)
    if not group or body != probe[len(prefix) : len(probe) - len(suffix)] or body != negative_body:
        return None
    # A last check on small amounts and zero, where a pattern could differ.
    for minor in (0, 5, -7, 10**exp, 999 * 10**exp, 1234 * 10**exp, -1234 * 10**exp):
        if layout.write(minor) != _babel_money(minor, currency, locale):
            return None
    return layout


def format_money(minor: int, currency: str, locale: str = "en_US") -> str:
    """Exactly what babel's format_currency gives. A page of invoices formats a hundred
    amounts: the locale's layout is read once from babel, then written with str.format."""
    layout = _layout(currency, locale)
    return layout.write(minor) if layout else _babel_money(minor, currency, locale)


def quantize_rounding(d: Decimal) -> Decimal:
    return d.quantize(Decimal(1), rounding=ROUND_HALF_UP)

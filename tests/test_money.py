from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.money import (
    MoneyError,
    exponent,
    format_money,
    line_amount,
    parse_amount,
    parse_price,
    tax_amount,
    to_decimal,
)


def test_exponents_follow_iso_4217():
    assert (exponent("USD"), exponent("JPY"), exponent("BHD")) == (2, 0, 3)
    # Where CLDR (babel) shows fewer decimals than ISO 4217 gives, ISO 4217 counts: an
    # amount in minor units must not change scale with a library.
    assert (exponent("RSD"), exponent("IQD"), exponent("LBP"), exponent("CLF")) == (2, 3, 2, 4)
    assert parse_amount("1234.50", "RSD") == 123450
    assert line_amount(3, parse_price("1.50"), "RSD") == 450  # 4.50 RSD, not 5
    assert format_money(123450, "RSD", "sr_Latn_RS").startswith("1.234,50")
    assert format_money(123456, "IQD", "en_US").endswith("123.456")


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "DEM", "HRK", "", "usd?"])
def test_codes_that_are_not_a_current_currency_are_refused(code):
    with pytest.raises(MoneyError, match="use an ISO 4217 code"):
        exponent(code)


def test_line_amount_rounds_half_up_to_the_minor_unit():
    # 3 labels at 0.045 = 0.135 → 0.14
    assert line_amount(3, parse_price("0.045"), "USD") == 14
    # 1 at 0.005 = half a cent → 1 cent
    assert line_amount(1, parse_price("0.005"), "USD") == 1
    assert line_amount(1, parse_price("0.004999"), "USD") == 0
    # JPY has no minor unit: 7 × 12.5 = 87.5 → 88
    assert line_amount(7, parse_price("12.5"), "JPY") == 88


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**9))
def test_line_amount_matches_decimal_arithmetic(quantity, micros):
    expected = (Decimal(quantity) * Decimal(micros) / Decimal(10**6) * 100).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    assert line_amount(quantity, micros, "USD") == int(expected)


def test_tax_is_exact_in_basis_points():
    assert tax_amount(10_000, 825) == 825
    assert tax_amount(1, 5000) == 1  # half a cent rounds up


def test_prices_refuse_more_than_six_decimals_rather_than_round():
    assert parse_price("0.0450") == 45_000
    with pytest.raises(MoneyError, match="six decimals"):
        parse_price("0.0000001")
    with pytest.raises(MoneyError, match="not a number"):
        parse_price("abc")


def test_amounts_refuse_fractions_of_the_minor_unit():
    assert parse_amount("1,234.50", "USD") == 123_450
    assert parse_amount("1000", "JPY") == 1000
    with pytest.raises(MoneyError, match="more decimals than JPY"):
        parse_amount("10.5", "JPY")


def test_format_money_uses_the_locale_and_currency():
    assert format_money(123_450, "USD") == "$1,234.50"
    assert format_money(123_450, "EUR", "de_DE") == "1.234,50\xa0€"


@settings(max_examples=500)
@given(
    minor=st.integers(min_value=-(10**15), max_value=10**15),
    currency=st.sampled_from(["USD", "EUR", "JPY", "BHD", "GBP", "CAD", "CHF"]),
    locale=st.sampled_from(["en_US", "en_GB", "de_DE", "fr_FR", "ja_JP", "fr_CA", "es_ES"]),
)
def test_format_money_is_what_babel_format_currency_gives(minor, currency, locale):
    """format_money writes amounts from a layout read off babel; it must print exactly
    what babel would, for any amount, currency and locale."""
    from babel.numbers import format_currency

    assert format_money(minor, currency, locale) == format_currency(
        to_decimal(minor, currency), currency, locale=locale
    )


@pytest.mark.parametrize("text", ["1e999999", "1e15", "-1e15", "1000000000000000"])
def test_an_amount_too_large_for_the_books_is_refused_before_any_arithmetic(text):
    # int(Decimal("1e999999") * 100) alone would take seconds of CPU.
    with pytest.raises(MoneyError, match="too large an amount"):
        parse_amount(text, "USD")
    assert parse_amount("999999999999999.99", "USD") == 99999999999999999


@pytest.mark.parametrize("text", ["1e999999", "1e12"])
def test_a_price_too_large_is_refused(text):
    with pytest.raises(MoneyError, match="too large a price"):
        parse_price(text)
    assert parse_price("999999999999.999999") == 999999999999999999

"""The portal's plain formatting filters print exactly what Django's general ones would.

`day`, `long_day`, `month_day`, `moment`, `time_of_day` and `iso_moment` replace `|date` in the pages
(Jinja2 templates, filters registered in `tally.jinja`), `invoice_url` replaces
`{% url %}` per row: the same text, for any date, instant and client time zone.
"""

import zoneinfo
from datetime import UTC, date, datetime

from django.template import Context, Template, engines
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from tally.invoicing.naming import format_invoice_number
from tally.portal.formatting import (
    day,
    invoice_url,
    iso_moment,
    long_day,
    moment,
    month_day,
    time_of_day,
)

ZONES = ["America/Chicago", "Europe/Berlin", "Asia/Tokyo", "Australia/Adelaide", "UTC"]
instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 12, 31), timezones=st.just(UTC)
)


def render(source: str, value: object) -> str:
    """As a page prints it: Django's own filters (`|date`) through Django's engine, which
    puts aware datetimes in the current time zone; the portal's (`|day`) through the
    pages' engine, Jinja2, where they are registered."""
    if "|date" in source:
        return Template(source).render(Context({"v": value}))
    return engines["jinja2"].from_string(source).render({"v": value})


@given(value=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_day_is_what_the_date_filter_prints(value):
    assert day(value) == render('{{ v|date:"M j, Y" }}', value) == render("{{ v|day }}", value)


@given(value=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_long_day_is_what_the_date_filter_prints(value):
    assert long_day(value) == render('{{ v|date:"F j, Y" }}', value)
    assert render("{{ v|long_day }}", value) == long_day(value)


@given(value=st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)))
def test_month_day_is_what_the_date_filter_prints(value):
    assert month_day(value) == render('{{ v|date:"M j" }}', value)


@given(value=instants, zone=st.sampled_from(ZONES))
def test_day_of_an_instant_is_its_day_in_the_clients_time_zone(value, zone):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert day(value) == render('{{ v|date:"M j, Y" }}', value)


@given(value=instants, zone=st.sampled_from(ZONES))
def test_moment_is_the_date_filter_in_the_clients_time_zone(value, zone):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert render("{{ v|moment }}", value) == render('{{ v|date:"M j, Y H:i" }}', value)
        assert render("{{ v|iso_moment }}", value) == render("{{ v|date:'c' }}", value)
        assert moment(value) == render("{{ v|moment }}", value)


@given(value=instants, zone=st.sampled_from(ZONES))
def test_time_of_day_is_the_date_filter_in_the_clients_time_zone(value, zone):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert render("{{ v|time_of_day }}", value) == render('{{ v|date:"H:i" }}', value)
        assert moment(value) == f"{day(value)} {time_of_day(value)}"


def test_empty_values_print_nothing():
    assert day(None) == moment(None) == time_of_day(None) == iso_moment(None) == ""


@given(number=st.integers(min_value=1, max_value=999_999_999))
def test_invoice_url_is_the_reversed_url(number):
    text = format_invoice_number(number)
    assert invoice_url(text) == reverse("portal:invoice", args=[text])


def test_a_service_period_is_said_in_as_few_words_as_it_can_be():
    from tally.portal.formatting import period

    assert period(date(2026, 11, 5), date(2026, 11, 5)) == "Nov 5, 2026"
    assert period(date(2026, 11, 1), date(2026, 11, 30)) == "Nov 1 – Nov 30, 2026"
    # Across the new year each end keeps its year: "Dec 29 – Jan 4, 2026" would be wrong.
    assert period(date(2025, 12, 29), date(2026, 1, 4)) == "Dec 29, 2025 – Jan 4, 2026"


def test_how_late_an_invoice_is_and_the_words_the_pdf_uses():
    from tally.portal.formatting import count, days_late, method_label

    today = date(2026, 11, 29)
    assert days_late(date(2026, 10, 26), today) == "34 days late"
    assert days_late(date(2026, 11, 28), today) == "1 day late"
    assert days_late(today, today) == days_late(date(2026, 12, 1), today) == ""
    assert (method_label("wire"), method_label("ach"), method_label("check")) == (
        "Wire transfer",
        "ACH",
        "Check",
    )
    assert count(1583) == "1,583" and count(7) == "7"

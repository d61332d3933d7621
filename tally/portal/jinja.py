"""The Jinja2 environment for the portal's partials: the invoice table, an invoice's
drilldown, a line's events.

A table page is fifty rows of a dozen cells; Django's template engine spent most of the
billing page's time on them (bench/RESULTS.md). Jinja2 compiles a template to Python, and
renders the same rows several times faster. The filters are the Django templates' own
(`templatetags/portal.py`), so both engines print a date or an amount the same way.
"""

from typing import Any

from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.text import capfirst
from jinja2 import Environment, StrictUndefined, pass_context
from jinja2.runtime import Context

from tally.payments.instructions import payment_instructions

from .templatetags import portal as tags


@pass_context
def _money(context: Context, minor: int | None, currency: str) -> str:
    return tags.money(context, minor, currency)  # type: ignore[arg-type]


@pass_context
def _query_with(context: Context, **changes: object) -> str:
    return tags.query_with(context, **changes)  # type: ignore[arg-type]


def _url(name: str, *args: Any) -> str:
    return reverse(name, args=args)


def _pluralize(count: int) -> str:
    return "" if count == 1 else "s"


def environment(**options: Any) -> Environment:
    env = Environment(**{**options, "undefined": StrictUndefined})
    env.globals.update(
        money=_money,
        query_with=_query_with,
        url=_url,
        period=tags.period,
        days_late=tags.days_late,
        payment_instructions=payment_instructions,
    )
    env.filters.update(
        day=tags.day,
        month_day=tags.month_day,
        method_label=tags.method_label,
        count=tags.count,
        capfirst=capfirst,
        linebreaksbr=linebreaksbr,
        unit_price=tags.unit_price,
        moment=tags.moment,
        iso_moment=tags.iso_moment,
        invoice_url=tags.invoice_url,
        kind_label=tags.kind_label,
        pluralize=_pluralize,
    )
    return env

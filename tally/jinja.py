"""The template environment of every page Tally serves: one engine, Jinja2.

The portal's pages, the sign-in and password-reset pages and the base page they extend
are Jinja2 templates (`tally/jinja2/`, `<app>/jinja2/`). A page is mostly its long
lists — fifty invoice rows, a page of events — and Django's engine spent most of a page's
time on them; Jinja2 compiles a template to Python and renders the same rows several
times faster (bench/RESULTS.md). Django's engine stays for Django's admin and for the
plain-text emails (`<app>/templates/`), which are not HTML.

Every filter and global a page uses is registered here, once; the functions themselves
are plain Python in `tally.portal.formatting` (the PDF prints with them too). Django's
Jinja2 backend adds `request`, `csrf_input` and `csrf_token` to every page rendered with
a request, and the context processors in settings add `messages` and `operator_name`.
Undefined variables are errors, not blanks.
"""

from typing import Any

from django.template.defaultfilters import filesizeformat, linebreaksbr
from django.templatetags.static import static
from django.urls import reverse
from django.utils.text import capfirst
from django_htmx.jinja import htmx_script
from jinja2 import Environment, StrictUndefined, pass_context
from jinja2.runtime import Context

from tally.invoicing.instructions import payment_instructions
from tally.invoicing.naming import draft_name
from tally.portal import formatting


@pass_context
def money(context: Context, minor: int | None, currency: str) -> str:
    """An amount in the viewer's locale: the client's on the portal, the operator's on the
    console (en_US on pages with neither)."""
    viewer = context.get("portal") or context.get("console")
    return formatting.money(minor, currency, viewer.locale if viewer else "en_US")


@pass_context
def query_with(context: Context, **changes: object) -> str:
    """The current URL's query string with some parameters changed (None removes one)."""
    return formatting.query_with(context["request"].GET, **changes)


def url(name: str, *args: Any, **kwargs: Any) -> str:
    """Django's {% url %}: url('portal:invoice', number)."""
    return reverse(name, args=args or None, kwargs=kwargs or None)


def environment(**options: Any) -> Environment:
    env = Environment(**{**options, "undefined": StrictUndefined})
    env.globals.update(
        url=url,
        static=static,
        htmx_script=htmx_script,
        money=money,
        query_with=query_with,
        period=formatting.period,
        days_late=formatting.days_late,
        payment_instructions=payment_instructions,
    )
    env.filters.update(
        day=formatting.day,
        long_day=formatting.long_day,
        month_day=formatting.month_day,
        moment=formatting.moment,
        time_of_day=formatting.time_of_day,
        iso_moment=formatting.iso_moment,
        count=formatting.count,
        pluralize=formatting.pluralize,
        unit_price=formatting.unit_price,
        method_label=formatting.method_label,
        kind_label=formatting.kind_label,
        invoice_url=formatting.invoice_url,
        draft_name=draft_name,
        capfirst=capfirst,
        filesize=filesizeformat,
        linebreaksbr=linebreaksbr,
    )
    return env

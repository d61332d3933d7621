from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.utils import timezone
from hypothesis import settings as hypothesis_settings

from tally.audit import guard

# No time limit on a Hypothesis example: a test asserts what is computed, never how fast
# (that is the benchmark's), and a 200 ms deadline failed property tests on a busy machine.
hypothesis_settings.register_profile("tally", deadline=None)
hypothesis_settings.load_profile("tally")

if TYPE_CHECKING:  # models load once Django is set up, after this module
    from tally.invoicing.models import Invoice

# The tests' calendar: the clock starts at this instant and runs on from there. Many tests
# bill fixed dates (invoices issued 1 Nov 2026, due 1 Dec) and expect what the portal shows
# on a day in between, so "today" must not move with the machine's calendar: on 2 Dec
# 2026 those invoices would turn overdue and the suite fail for no change of code.
# Everything reads the time through django.utils.timezone.now, patched for the whole
# process before any fixture runs (the browser tests' live server and scenario included).
TESTS_START_AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def pytest_configure(config):
    real_now = timezone.now
    shift = real_now() - TESTS_START_AT
    timezone.now = lambda: real_now() - shift
    _record_jinja2_renders()


def _record_jinja2_renders():
    """The test client lists what a response rendered (`response.templates`,
    `response.context`) from the template_rendered signal, which Django's test set-up
    makes its own engine send. The pages are Jinja2 templates: their backend sends it too."""
    from django.template.backends import jinja2
    from django.test.signals import template_rendered

    render = jinja2.Template.render

    def render_and_record(self, context=None, request=None):
        context = {} if context is None else context
        html = render(self, context, request)  # adds request, csrf and the context processors
        template_rendered.send(sender=self, template=self.template, context=context)
        return html

    jinja2.Template.render = render_and_record


def pytest_collection_modifyitems(config, items):
    on_postgres = connection.vendor == "postgresql"
    for item in items:
        if item.get_closest_marker("postgres_only") and not on_postgres:
            item.add_marker(
                pytest.mark.skip(reason="PostgreSQL only; .ci/run runs it on PostgreSQL")
            )
        if item.get_closest_marker("sqlite_only") and on_postgres:
            item.add_marker(pytest.mark.skip(reason="SQLite only; .ci/run runs it on SQLite"))


@pytest.fixture(autouse=True)
def _mail_in_the_request(settings):
    """Tests read the outbox right after a request: reset emails go out in the request
    here. tests/accounts/test_password_reset.py checks the background path itself."""
    settings.TALLY_MAIL_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _fresh_client_headers():
    """Each test's clients are new: the portal's per-process header cache starts empty."""
    from tally.portal.access import forget_client_headers

    forget_client_headers()
    yield
    forget_client_headers()


@pytest.fixture
def tx_db(transactional_db):
    """A database where commits are real (for concurrency tests).

    The audit table refuses DELETE and TRUNCATE, so the guard is lifted just for the
    flush that ends the test and put back for the next one.
    """
    guard.install(connection)
    yield
    guard.remove(connection)


@pytest.fixture(autouse=True)
def _audit_guard_in_place(request):
    if "transactional_db" in request.fixturenames or "live_server" in request.fixturenames:
        yield
        return
    if "db" in request.fixturenames:
        guard.install(connection)
    yield


@pytest.fixture
def acme(db):
    from tests.factories import make_client

    return make_client("acme")


@pytest.fixture
def globex(db):
    from tests.factories import make_client

    return make_client("globex")


@pytest.fixture
def operator(db):
    from tests.factories import make_user

    return make_user(email="ops@northwind.example")


@dataclass
class EveryStatus:
    """Acme's invoices, each named for the status it shows on 20 Dec 2026 (some statuses
    twice, reached another way: `overdue_partly_paid` shows overdue)."""

    paid: "Invoice"
    overdue: "Invoice"
    overdue_partly_paid: "Invoice"
    open: "Invoice"
    partially_paid: "Invoice"
    partially_credited: "Invoice"  # shows partially paid
    disputed: "Invoice"
    disputed_paid: "Invoice"  # shows disputed
    void: "Invoice"

    def invoices(self) -> dict[str, "Invoice"]:
        """Every one of them, by its name here."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@pytest.fixture
def every_status(acme, globex, operator) -> EveryStatus:
    """Acme invoices in every client-facing status; one Globex invoice."""
    from datetime import date, timedelta

    from tally.accounts.models import Role
    from tally.actions.invoices import create_credit_note
    from tally.disputes.services import open_dispute
    from tests.factories import issued_invoice, make_user, pay, voided_invoice

    user = make_user(role=Role.CLIENT_USER, client=acme)

    def issued_on(day: date) -> dict:
        """Issued on `day`, billing the thirty days before it."""
        return {"period": (day - timedelta(days=30), day - timedelta(days=1)), "issue_date": day}

    paid = issued_invoice(acme, picks=10, **issued_on(date(2026, 6, 1)))
    pay(acme, paid.total_minor, invoice=paid, received_on=date(2026, 6, 20))
    overdue = issued_invoice(acme, picks=11, **issued_on(date(2026, 9, 1)))
    overdue_partly_paid = issued_invoice(acme, picks=12, **issued_on(date(2026, 9, 2)))
    pay(acme, 100, invoice=overdue_partly_paid, received_on=date(2026, 9, 15))
    open_ = issued_invoice(acme, picks=13, **issued_on(date(2026, 12, 1)))
    partially_paid = issued_invoice(acme, picks=14, **issued_on(date(2026, 12, 2)))
    pay(acme, 100, invoice=partially_paid, received_on=date(2026, 12, 10))
    credited = issued_invoice(acme, picks=15, **issued_on(date(2026, 12, 3)))
    create_credit_note(
        actor=operator, client=acme, invoice_id=credited.pk, amount_minor=50, reason="Damage"
    )
    disputed = issued_invoice(acme, picks=16, **issued_on(date(2026, 12, 4)))
    open_dispute(actor=user, client=acme, invoice_id=disputed.pk, reason="Too many")
    disputed_paid = issued_invoice(acme, picks=17, **issued_on(date(2026, 7, 1)))
    pay(acme, disputed_paid.total_minor, invoice=disputed_paid, received_on=date(2026, 7, 10))
    open_dispute(actor=user, client=acme, invoice_id=disputed_paid.pk, reason="Overcharged")
    void = voided_invoice(
        acme, picks=18, reason="Duplicate", actor=operator, **issued_on(date(2026, 11, 1))
    )
    issued_invoice(globex, picks=19, issue_date=date(2026, 9, 1))
    return EveryStatus(
        paid=paid,
        overdue=overdue,
        overdue_partly_paid=overdue_partly_paid,
        open=open_,
        partially_paid=partially_paid,
        partially_credited=credited,
        disputed=disputed,
        disputed_paid=disputed_paid,
        void=void,
    )

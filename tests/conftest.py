from datetime import UTC, datetime

import pytest
from django.db import connection
from django.utils import timezone

from tally.audit import guard

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

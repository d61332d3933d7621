import pytest
from django.db import connection

from tally.audit import guard


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

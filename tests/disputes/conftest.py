import pytest

from tally.accounts.models import Role
from tests.factories import issued_invoice, make_user


@pytest.fixture
def acme_user(acme):
    return make_user(Role.CLIENT_USER, client=acme, email="ap@acme.example")


@pytest.fixture
def globex_user(globex):
    return make_user(Role.CLIENT_USER, client=globex, email="ap@globex.example")


@pytest.fixture
def invoice(acme):
    """Acme's open invoice: 10 picks (3.50) and 100 labels (4.50), total 8.00."""
    return issued_invoice(acme, picks=10, labels=100)

import pytest
from django.test import Client as HttpClient

from tally.accounts import throttle
from tally.accounts.models import Role
from tests.clock import install
from tests.factories import make_user


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    """MD5 keeps these tests quick; the tests about hashing itself switch Argon2 back on
    (test_settings checks the product's own order)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def alice(acme):
    return make_user(role=Role.CLIENT_USER, client=acme, email="alice@acme.example")


@pytest.fixture
def clock(monkeypatch):
    """The throttle's clock, which the test moves by hand."""
    return install(monkeypatch, throttle)


@pytest.fixture
def browser():
    return HttpClient()

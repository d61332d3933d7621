"""CSRF, security headers, cookies and hashers around sign-in."""

import json
import subprocess

import argon2
import pytest
from django.conf import settings as django_settings
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.test import Client as HttpClient
from django.urls import reverse

from tally import settings as tally_settings
from tests.fresh_settings import settings_in_a_fresh_process

from .helpers import PASSWORD, sign_in, signed_in

pytestmark = pytest.mark.django_db


def test_signing_in_without_the_csrf_token_is_refused(alice):
    browser = HttpClient(enforce_csrf_checks=True)
    refused = sign_in(browser, "alice@acme.example", PASSWORD)
    assert refused.status_code == 403 and not signed_in(browser)

    browser.get(reverse("accounts:login"))
    token = browser.cookies["csrftoken"].value
    accepted = sign_in(browser, "alice@acme.example", PASSWORD, csrfmiddlewaretoken=token)
    assert accepted.status_code == 302 and signed_in(browser)


def test_signing_out_without_the_csrf_token_is_refused(alice):
    browser = HttpClient(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(reverse("accounts:logout")).status_code == 403
    assert signed_in(browser)


def test_asking_for_a_reset_without_the_csrf_token_is_refused(alice, mailoutbox):
    browser = HttpClient(enforce_csrf_checks=True)
    response = browser.post(reverse("accounts:password_reset"), {"email": "alice@acme.example"})
    assert response.status_code == 403 and mailoutbox == []


@pytest.mark.parametrize("page", ["accounts:login", "accounts:password_reset"])
def test_the_auth_pages_carry_the_security_headers_and_are_not_cached(page):
    response = HttpClient().get(reverse(page))
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "no-store" in response["Cache-Control"]


def test_session_and_csrf_cookies_are_http_only_and_same_site_lax(alice):
    browser = HttpClient()
    browser.get(reverse("accounts:login"))
    sign_in(browser, "alice@acme.example", PASSWORD)
    session, csrf = browser.cookies["sessionid"], browser.cookies["csrftoken"]
    assert session["httponly"] and session["samesite"] == "Lax"
    assert csrf["httponly"] and csrf["samesite"] == "Lax"


def test_passwords_are_hashed_with_argon2id_first_and_sign_in_goes_through_the_throttle():
    # The product's own settings module: these tests swap in a fast hasher (conftest).
    assert tally_settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert Argon2PasswordHasher().params().type == argon2.Type.ID
    assert django_settings.AUTHENTICATION_BACKENDS == [
        "tally.accounts.backends.ThrottledModelBackend"
    ]


_OWN_SETTINGS = {
    "TALLY_SECRET_KEY": "k3y-" * 16,
    "TALLY_FROM_EMAIL": "accounts@harbor3pl.example",
    "TALLY_OPERATOR_NAME": "Harbor 3PL Ltd",
    "TALLY_OPERATOR_ADDRESS": "1 Quay Road\\nDover CT17 9BY",
    "TALLY_OPERATOR_CONTACT": "accounts@harbor3pl.example",
    "TALLY_PAYMENT_INSTRUCTIONS_GBP": "Wire: Harbor 3PL, account 998877",
    "TALLY_BASE_URL": "https://billing.harbor3pl.example",
}


_OPERATOR = (
    "SECRET_KEY",
    "DEFAULT_FROM_EMAIL",
    "TALLY_OPERATOR_NAME",
    "TALLY_OPERATOR_ADDRESS",
    "TALLY_OPERATOR_CONTACT",
    "TALLY_OPERATOR_TAX_ID",
    "TALLY_PAYMENT_INSTRUCTIONS_BY_CURRENCY",
)


def _operator_in_a_fresh_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return settings_in_a_fresh_process(env, *_OPERATOR)


def _as_named(name: str) -> str:
    """How the refusal names a setting: the bank details by currency, as a pattern."""
    return name[: -len("GBP")] + "<currency>" if "INSTRUCTIONS_" in name else name


def test_serving_for_real_refuses_to_start_and_names_every_demo_setting_left_in_place():
    refused = settings_in_a_fresh_process({"TALLY_HTTPS": "1"})
    assert refused.returncode != 0
    for name in _OWN_SETTINGS:
        assert f"\n  {_as_named(name)} (" in refused.stderr, name

    for name in _OWN_SETTINGS:
        one_missing = {k: v for k, v in _OWN_SETTINGS.items() if k != name}
        refused = settings_in_a_fresh_process({"TALLY_HTTPS": "1", **one_missing, name: " "})
        assert refused.returncode != 0
        assert f"needs settings of your own:\n  {_as_named(name)} (" in refused.stderr
        assert refused.stderr.count("\n  TALLY_") == 1, refused.stderr


def test_served_for_real_nothing_of_the_demo_company_is_printed():
    demo = json.loads(_operator_in_a_fresh_process({}).stdout)
    started = _operator_in_a_fresh_process({"TALLY_HTTPS": "1", **_OWN_SETTINGS})
    assert started.returncode == 0, started.stderr
    own = json.loads(started.stdout)
    assert own == [
        "k3y-" * 16,
        "accounts@harbor3pl.example",
        "Harbor 3PL Ltd",
        "1 Quay Road\nDover CT17 9BY",
        "accounts@harbor3pl.example",
        "",  # no tax ID set: none printed, not the demo's EIN
        {"GBP": "Wire: Harbor 3PL, account 998877"},
    ]
    assert not set(own[:-1]) & set(demo[:-1])
    assert not set(own[-1].values()) & set(demo[-1].values())
    with_tax_id = _operator_in_a_fresh_process(
        {"TALLY_HTTPS": "1", **_OWN_SETTINGS, "TALLY_OPERATOR_TAX_ID": "GB 123 4567 89"}
    )
    assert json.loads(with_tax_id.stdout)[5] == "GB 123 4567 89"


def test_a_tls_proxys_header_is_trusted_only_when_named():
    header = "SECURE_PROXY_SSL_HEADER"
    assert json.loads(settings_in_a_fresh_process({}, header).stdout) == [None]
    named = settings_in_a_fresh_process({"TALLY_PROXY_SSL_HEADER": "X-Forwarded-Proto"}, header)
    assert json.loads(named.stdout) == [["HTTP_X_FORWARDED_PROTO", "https"]]

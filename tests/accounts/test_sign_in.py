"""Signing in and out through the real pages: where people land, and one answer for every
refusal."""

import re

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher
from django.contrib.sessions.models import Session
from django.test import Client as HttpClient
from django.urls import reverse

from tally.accounts.models import Role, User
from tests.factories import make_user

from .helpers import PASSWORD, comparable, sign_in, signed_in

pytestmark = pytest.mark.django_db


def test_a_client_user_signs_in_with_email_and_password_and_lands_on_their_billing_page(
    browser, alice, acme
):
    response = sign_in(browser, "alice@acme.example", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in(browser) and browser.session["_auth_user_id"] == str(alice.pk)
    home = browser.get("/")
    assert home.status_code == 200
    assert "portal/billing.html" in [t.name for t in home.templates]
    assert acme.name in home.content.decode()


def test_an_operator_signs_in_and_is_sent_to_the_console(browser, operator):
    response = sign_in(browser, "ops@northwind.example", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/"
    home = browser.get("/")
    assert home.status_code == 302 and home["Location"] == "/console/"
    console = browser.get("/console/")
    assert console.status_code == 200
    assert "console/overview.html" in [t.name for t in console.templates]


def test_the_admin_still_renders_with_djangos_own_templates(browser):
    """Tally's pages are Jinja2 templates, and that engine is asked first; the admin's are
    Django's, found by Django's engine after it."""
    User.objects.create_user("staff@northwind.example", PASSWORD, role=Role.OPERATOR, is_staff=True)
    sign_in(browser, "staff@northwind.example", PASSWORD)
    index = browser.get("/admin/")
    assert index.status_code == 200
    assert "admin/index.html" in [t.name for t in index.templates]
    assert "Tally — billing" in index.content.decode()  # the admin's own header


def test_the_email_is_matched_whatever_its_case_and_surrounding_spaces(browser, alice):
    response = sign_in(browser, "  Alice@ACME.example ", PASSWORD)
    assert response.status_code == 302 and signed_in(browser)


def test_a_safe_next_page_is_honoured_and_an_outside_one_ignored(alice):
    inside = sign_in(HttpClient(), "alice@acme.example", PASSWORD, next="/reports/aging/")
    assert inside["Location"] == "/reports/aging/"
    outside = sign_in(HttpClient(), "alice@acme.example", PASSWORD, next="https://evil.example/")
    assert outside.status_code == 302 and outside["Location"] == "/"


def test_wrong_password_unknown_email_and_inactive_account_get_the_same_page(acme, alice):
    make_user(role=Role.CLIENT_USER, client=acme, email="gone@acme.example")
    User.objects.filter(email="gone@acme.example").update(is_active=False)

    wrong = sign_in(HttpClient(), "alice@acme.example", "not-her-password")
    unknown = sign_in(HttpClient(), "nobody@acme.example", "not-her-password")
    inactive = sign_in(HttpClient(), "gone@acme.example", PASSWORD)

    assert wrong.status_code == unknown.status_code == inactive.status_code == 200
    page = comparable(wrong, "alice@acme.example")
    assert "don’t match an account" in page
    assert comparable(unknown, "nobody@acme.example") == page
    assert comparable(inactive, "gone@acme.example") == page


def test_unknown_email_and_wrong_password_both_run_the_argon2_hasher(settings, monkeypatch, acme):
    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.Argon2PasswordHasher",
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    ]
    make_user(role=Role.CLIENT_USER, client=acme, email="alice@acme.example")
    calls = []
    encode, verify = Argon2PasswordHasher.encode, Argon2PasswordHasher.verify
    monkeypatch.setattr(
        Argon2PasswordHasher,
        "encode",
        lambda s, p, salt: calls.append("hash") or encode(s, p, salt),
    )
    monkeypatch.setattr(
        Argon2PasswordHasher, "verify", lambda s, p, enc: calls.append("hash") or verify(s, p, enc)
    )

    sign_in(HttpClient(), "alice@acme.example", "not-her-password")
    assert calls == ["hash"]
    sign_in(HttpClient(), "nobody@acme.example", "not-her-password")
    assert calls == ["hash", "hash"]


def test_signing_in_gives_the_browser_a_new_session_key(browser, alice):
    planted = browser.session  # e.g. a session id an attacker planted before sign-in
    planted["probe"] = "x"
    planted.save()
    before = browser.cookies["sessionid"].value

    sign_in(browser, "alice@acme.example", PASSWORD)

    after = browser.cookies["sessionid"].value
    assert signed_in(browser)
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()


def test_signing_out_by_get_is_refused_and_by_post_ends_the_session(browser, alice):
    sign_in(browser, "alice@acme.example", PASSWORD)
    key = browser.cookies["sessionid"].value

    assert browser.get(reverse("accounts:logout")).status_code == 405
    assert browser.get("/").status_code == 200  # still signed in

    response = browser.post(reverse("accounts:logout"))
    assert response.status_code == 302 and response["Location"] == reverse("accounts:login")
    assert not Session.objects.filter(session_key=key).exists()
    page = browser.get(response["Location"]).content.decode()
    assert "You have been signed out." in page
    assert "signed out" not in browser.get(reverse("accounts:login")).content.decode()  # once
    home = browser.get("/")
    assert home.status_code == 302 and home["Location"] == reverse("accounts:login")


def test_the_sign_out_button_posts_with_a_csrf_token(browser, alice):
    sign_in(browser, "alice@acme.example", PASSWORD)
    html = browser.get("/").content.decode()
    assert re.search(
        r'<form method="post" action="/accounts/logout/">\s*'
        r'<input type="hidden" name="csrfmiddlewaretoken" value="\w+">',
        html,
    )

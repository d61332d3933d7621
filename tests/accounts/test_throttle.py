"""Sign-in throttling: per (email, address) and per address, never per email alone."""

from datetime import timedelta

import pytest
from django.test import Client as HttpClient
from django.test import RequestFactory
from django.urls import reverse

from tally.accounts import throttle
from tally.accounts.models import LoginThrottle, Role, ThrottleScope, User
from tests.concurrency import at_once, raised
from tests.factories import make_user

from .helpers import ATTACKER, HOME_ADDRESS, PASSWORD, comparable, fail, sign_in, signed_in

pytestmark = pytest.mark.django_db


def test_after_five_failures_the_pair_is_refused_even_the_right_password(alice, monkeypatch):
    fail(HttpClient(), "alice@acme.example", 5, address=ATTACKER)

    checked = []
    monkeypatch.setattr(User, "check_password", lambda self, raw: checked.append(raw) or True)
    browser = HttpClient()
    response = sign_in(browser, "alice@acme.example", PASSWORD, address=ATTACKER)

    html = response.content.decode()
    assert response.status_code == 200 and not signed_in(browser)
    assert "don’t match an account" in html
    assert "Too many attempts — try again in 5 minutes." in html
    assert checked == []  # refused before the password was looked at


def test_the_same_account_still_signs_in_from_its_own_address(alice):
    fail(HttpClient(), "alice@acme.example", 5, address=ATTACKER)
    browser = HttpClient()
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=HOME_ADDRESS).status_code == 302
    assert signed_in(browser)


def test_failures_for_one_email_from_many_addresses_lock_nobody_out(alice):
    for n in range(1, 5):
        fail(HttpClient(), "alice@acme.example", 5, address=f"203.0.113.{n}")
    browser = HttpClient()
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=HOME_ADDRESS).status_code == 302
    assert signed_in(browser)


def test_four_failures_are_allowed_and_the_fifth_announces_the_wait(alice):
    browser = HttpClient()
    fail(browser, "alice@acme.example", 4, address=HOME_ADDRESS)
    fifth = sign_in(browser, "alice@acme.example", "nope", address=HOME_ADDRESS)
    assert "Too many attempts — try again in 5 minutes." in fifth.content.decode()

    fresh = make_user(role=Role.CLIENT_USER, client=alice.client, email="bob@acme.example")
    fail(browser, fresh.email, 4, address=HOME_ADDRESS)
    assert sign_in(browser, fresh.email, PASSWORD, address=HOME_ADDRESS).status_code == 302


def test_a_successful_sign_in_clears_its_pairs_failures(alice):
    browser = HttpClient()
    fail(browser, "alice@acme.example", 4, address=HOME_ADDRESS)
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=HOME_ADDRESS).status_code == 302
    browser.post(reverse("accounts:logout"))
    fail(browser, "alice@acme.example", 4, address=HOME_ADDRESS)
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=HOME_ADDRESS).status_code == 302


def test_a_throttled_unknown_email_gets_the_same_page_as_a_throttled_account(alice):
    fail(HttpClient(), "alice@acme.example", 5)
    fail(HttpClient(), "nobody@acme.example", 5)
    known = sign_in(HttpClient(), "alice@acme.example", "again", address=ATTACKER)
    unknown = sign_in(HttpClient(), "nobody@acme.example", "again", address=ATTACKER)
    page = comparable(known, "alice@acme.example")
    assert "Too many attempts" in page
    assert comparable(unknown, "nobody@acme.example") == page


def test_the_wait_ends_and_each_new_lockout_is_longer(alice, clock):
    fail(HttpClient(), "alice@acme.example", 5)
    refused = sign_in(HttpClient(), "alice@acme.example", PASSWORD, address=ATTACKER)
    assert "try again in 5 minutes" in refused.content.decode()

    clock.advance(minutes=4)
    refused = sign_in(HttpClient(), "alice@acme.example", PASSWORD, address=ATTACKER)
    assert "try again in 1 minute." in refused.content.decode()

    clock.advance(minutes=1, seconds=1)
    fail(HttpClient(), "alice@acme.example", 5)
    refused = sign_in(HttpClient(), "alice@acme.example", PASSWORD, address=ATTACKER)
    assert "try again in 10 minutes" in refused.content.decode()

    clock.advance(minutes=10, seconds=1)
    fail(HttpClient(), "alice@acme.example", 5)
    refused = sign_in(HttpClient(), "alice@acme.example", PASSWORD, address=ATTACKER)
    assert "try again in 20 minutes" in refused.content.decode()

    clock.advance(minutes=20, seconds=1)
    browser = HttpClient()
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=ATTACKER).status_code == 302


def test_lockouts_are_forgotten_after_a_quiet_day(alice, clock):
    fail(HttpClient(), "alice@acme.example", 5)
    clock.advance(days=1, minutes=10)
    fail(HttpClient(), "alice@acme.example", 5)
    refused = sign_in(HttpClient(), "alice@acme.example", PASSWORD, address=ATTACKER)
    assert "try again in 5 minutes" in refused.content.decode()


def test_failures_spread_over_more_than_the_window_do_not_add_up(alice, clock):
    fail(HttpClient(), "alice@acme.example", 4)
    clock.advance(minutes=16)
    fail(HttpClient(), "alice@acme.example", 4)
    browser = HttpClient()
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=ATTACKER).status_code == 302


def test_fifty_failures_from_one_address_across_emails_throttle_that_address(alice):
    browser = HttpClient()
    for n in range(50):
        sign_in(browser, f"guess{n}@acme.example", "Winter2026!", address=ATTACKER)

    refused = sign_in(browser, "alice@acme.example", PASSWORD, address=ATTACKER)
    assert refused.status_code == 200 and not signed_in(browser)
    assert "Too many attempts — try again in 15 minutes." in refused.content.decode()

    elsewhere = HttpClient()
    assert (
        sign_in(elsewhere, "alice@acme.example", PASSWORD, address=HOME_ADDRESS).status_code == 302
    )


def test_forty_nine_failures_from_one_address_do_not(alice):
    browser = HttpClient()
    for n in range(49):
        sign_in(browser, f"guess{n}@acme.example", "Winter2026!", address=ATTACKER)
    assert sign_in(browser, "alice@acme.example", PASSWORD, address=ATTACKER).status_code == 302


def test_the_admin_login_page_is_throttled_too(acme):
    User.objects.create_user("staff@northwind.example", PASSWORD, role=Role.OPERATOR, is_staff=True)
    fail(HttpClient(), "staff@northwind.example", 5)
    form = {"username": "staff@northwind.example", "password": PASSWORD, "next": "/admin/"}

    refused = HttpClient().post("/admin/login/", form, REMOTE_ADDR=ATTACKER)
    assert refused.status_code == 200

    allowed = HttpClient().post("/admin/login/", form, REMOTE_ADDR=HOME_ADDRESS)
    assert allowed.status_code == 302 and allowed["Location"] == "/admin/"


def test_the_counters_hold_no_email_or_address_in_clear(alice):
    fail(HttpClient(), "alice@acme.example", 2)
    rows = list(LoginThrottle.objects.values())
    assert {r["scope"] for r in rows} == {ThrottleScope.PAIR, ThrottleScope.ADDRESS}
    stored = repr(rows)
    assert "alice" not in stored and ATTACKER not in stored


def test_the_address_is_remote_addr_and_an_ipv6_client_counts_by_its_64():
    make = RequestFactory().get
    assert throttle.client_address(make("/", REMOTE_ADDR="192.0.2.7")) == "192.0.2.7"
    assert throttle.client_address(make("/", REMOTE_ADDR="::ffff:192.0.2.7")) == "192.0.2.7"
    a = throttle.client_address(make("/", REMOTE_ADDR="2001:db8:1:2::1"))
    b = throttle.client_address(make("/", REMOTE_ADDR="2001:db8:1:2:ffff::9"))
    c = throttle.client_address(make("/", REMOTE_ADDR="2001:db8:1:3::1"))
    assert a == b == "2001:db8:1:2::/64" and c != a
    spoofed = make("/", REMOTE_ADDR="192.0.2.7", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert throttle.client_address(spoofed) == "192.0.2.7"
    assert throttle.client_address(make("/", REMOTE_ADDR="")) == "unknown"


def test_purging_drops_idle_counters_but_keeps_locks_in_force(alice, clock):
    fail(HttpClient(), "alice@acme.example", 5, address="192.0.2.2")  # locked for 5 minutes
    fail(HttpClient(), "alice@acme.example", 2, address="192.0.2.1")
    clock.advance(minutes=2)
    assert throttle.purge(older_than=timedelta(minutes=1)) == 3
    assert throttle.wait_seconds("alice@acme.example", "192.0.2.2") > 0
    clock.advance(days=1)
    assert throttle.purge() == 1
    assert not LoginThrottle.objects.exists()


@pytest.mark.postgres_only
def test_concurrent_failures_from_several_workers_are_all_counted(tx_db):
    def fail_once():
        return throttle.record_failure("alice@acme.example", ATTACKER)

    assert raised(at_once(*[fail_once] * 4)) == []
    counts = dict(LoginThrottle.objects.values_list("scope", "failures"))
    assert counts == {ThrottleScope.PAIR: 4, ThrottleScope.ADDRESS: 4}


@pytest.mark.postgres_only
def test_concurrent_guesses_get_no_more_password_checks_than_the_limit(tx_db):
    # Each attempt is counted before its password is checked: a burst from several workers
    # cannot all pass the check before any of them is counted.
    from django.core.exceptions import PermissionDenied

    from tally.accounts.backends import ThrottledModelBackend

    make_user(role=Role.OPERATOR, email="burst@acme.example")
    guesses = 12

    def guess(n: int) -> str:
        request = RequestFactory().post("/accounts/login/", REMOTE_ADDR=ATTACKER)
        try:
            user = ThrottledModelBackend().authenticate(
                request, username="burst@acme.example", password=f"guess-{n}"
            )
        except PermissionDenied:
            return "refused"
        return "checked" if user is None else "signed in"

    outcomes = at_once(*(lambda n=n: guess(n) for n in range(guesses)))
    assert sorted(outcomes) == ["checked"] * throttle.PAIR.limit + ["refused"] * (
        guesses - throttle.PAIR.limit
    )

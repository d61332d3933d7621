"""One's own account: the browsers signed in to it, ending them, and changing the password."""

import io
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from tally.accounts import services
from tally.accounts.models import Role, SignInSession
from tally.audit.models import AuditAction, AuditEvent
from tests.factories import make_user

from .helpers import PASSWORD, sign_in, signed_in

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0"
SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


def browser_as(user_agent: str) -> HttpClient:
    return HttpClient(HTTP_USER_AGENT=user_agent)


@pytest.fixture
def desk(alice):
    """Alice signed in at her desk (Firefox on Windows)."""
    desk = browser_as(FIREFOX)
    sign_in(desk, alice.email, PASSWORD, address="198.51.100.20")
    assert signed_in(desk)
    return desk


@pytest.fixture
def phone(alice):
    """Alice signed in on her phone (Safari on iPhone)."""
    phone = browser_as(SAFARI)
    sign_in(phone, alice.email, PASSWORD, address="203.0.113.9")
    assert signed_in(phone)
    return phone


def session_rows(page: str) -> list[str]:
    return [chunk.split("</li>")[0] for chunk in page.split('<li data-session="')[1:]]


def test_the_account_page_lists_this_browser_first_then_the_others(alice, desk, phone):
    page = desk.get(reverse("accounts:account")).content.decode()
    rows = session_rows(page)
    assert len(rows) == 2
    assert "Firefox on Windows" in rows[0] and "This browser" in rows[0]
    assert "198.51.100.20" in rows[0] and "Sign out this browser" not in rows[0]
    assert "Safari on iPhone" in rows[1] and "203.0.113.9" in rows[1]
    assert "Sign out this browser" in rows[1]


def test_ending_another_browser_signs_it_out_and_is_audited(alice, desk, phone):
    phones = SignInSession.objects.get(user=alice, user_agent=SAFARI)
    response = desk.post(reverse("accounts:end_session", args=[phones.pk]), follow=True)
    assert "Safari on iPhone has been signed out." in response.content.decode()
    assert not SignInSession.objects.filter(pk=phones.pk).exists()
    assert not Session.objects.filter(session_key=phones.session_key).exists()
    # The phone's next request finds itself signed out; the desk is still in.
    assert phone.get(reverse("accounts:account")).status_code == 302
    assert desk.get(reverse("accounts:account")).status_code == 200
    event = AuditEvent.objects.get(action=AuditAction.USER_SESSION_ENDED)
    assert event.actor_id == alice.pk


def test_another_users_session_cannot_be_ended(alice, acme, desk):
    bob = make_user(role=Role.CLIENT_USER, client=acme, email="bob@acme.example")
    bobs_browser = browser_as(SAFARI)
    sign_in(bobs_browser, bob.email, PASSWORD)
    bobs = SignInSession.objects.get(user=bob)
    assert desk.post(reverse("accounts:end_session", args=[bobs.pk])).status_code == 404
    assert signed_in(bobs_browser)
    assert bobs_browser.get(reverse("accounts:account")).status_code == 200


def test_this_browser_is_not_ended_from_the_list(alice, desk):
    own = SignInSession.objects.get(user=alice)
    assert desk.post(reverse("accounts:end_session", args=[own.pk])).status_code == 404
    assert desk.get(reverse("accounts:account")).status_code == 200


def test_sign_out_everywhere_else(alice, desk, phone):
    laptop = browser_as(FIREFOX)
    sign_in(laptop, alice.email, PASSWORD)
    response = desk.post(reverse("accounts:end_other_sessions"), follow=True)
    assert "2 other browsers signed out." in response.content.decode()
    assert SignInSession.objects.filter(user=alice).count() == 1
    assert phone.get(reverse("accounts:account")).status_code == 302
    assert laptop.get(reverse("accounts:account")).status_code == 302


def test_signing_out_forgets_the_session(alice, desk):
    desk.post(reverse("accounts:logout"))
    assert not SignInSession.objects.filter(user=alice).exists()


def test_a_wrong_current_password_changes_nothing(alice, desk):
    response = desk.post(
        reverse("accounts:change_password"),
        {
            "old_password": "not-it",
            "new_password1": "a-new-long-pass-2026",
            "new_password2": "a-new-long-pass-2026",
        },
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert 'id="id_old_password-error"' in page and "incorrectly" in page
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_a_weak_new_password_is_refused_next_to_its_field(alice, desk):
    response = desk.post(
        reverse("accounts:change_password"),
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 422
    assert 'id="id_new_password2-error"' in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_changing_the_password_keeps_this_browser_and_ends_the_others(alice, desk, phone):
    new = "a-new-long-pass-2026"
    response = desk.post(
        reverse("accounts:change_password"),
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
        follow=True,
    )
    page = response.content.decode()
    assert "Your password has been changed." in page
    alice.refresh_from_db()
    assert alice.check_password(new)
    # This browser is still in, under its new session key, and still listed as itself.
    assert desk.get(reverse("accounts:account")).status_code == 200
    (row,) = SignInSession.objects.filter(user=alice)
    assert row.session_key == desk.session.session_key and row.user_agent == FIREFOX
    assert phone.get(reverse("accounts:account")).status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.USER_PASSWORD_CHANGED)
    assert '"other_sessions_ended":1' in event.data.replace(" ", "")


def test_a_password_reset_ends_every_session(alice, desk, phone):
    services.reset_password(actor=alice, user=alice, password="reset-long-pass-2026")
    assert not SignInSession.objects.filter(user=alice).exists()
    assert desk.get(reverse("accounts:account")).status_code == 302
    assert phone.get(reverse("accounts:account")).status_code == 302


def test_expired_sessions_are_not_listed_and_are_purged(alice, desk, phone):
    phones = SignInSession.objects.get(user=alice, user_agent=SAFARI)
    Session.objects.filter(session_key=phones.session_key).update(
        expire_date=timezone.now() - timedelta(minutes=1)
    )
    assert len(session_rows(desk.get(reverse("accounts:account")).content.decode())) == 1
    assert services.purge_ended_sessions() == 1
    assert not Session.objects.filter(session_key=phones.session_key).exists()
    assert SignInSession.objects.filter(user=alice).count() == 1


def test_the_account_page_needs_a_sign_in(db):
    response = HttpClient().get(reverse("accounts:account"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_the_purge_command_forgets_ended_sessions(alice, desk, phone):
    phones = SignInSession.objects.get(user=alice, user_agent=SAFARI)
    Session.objects.filter(session_key=phones.session_key).delete()
    out = io.StringIO()
    call_command("purge_ended_sessions", stdout=out)
    assert out.getvalue().strip() == "forgot 1 ended session(s)"
    assert list(SignInSession.objects.values_list("user_agent", flat=True)) == [FIREFOX]

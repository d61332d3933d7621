"""Password reset by email, through Django's own views and email backend."""

import re

import pytest
from django.test import Client as HttpClient
from django.urls import reverse

from tally.audit.models import AuditEvent

from .helpers import ATTACKER, HOME_ADDRESS, PASSWORD, fail, sign_in, signed_in, unlabelled_inputs

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "tangerine-ledger-57"


def ask_for_reset(browser, email):
    return browser.post(reverse("accounts:password_reset"), {"email": email})


def link_in(message) -> str:
    found = re.search(r"https?://testserver(/accounts/reset/\S+/\S+/)", message.body)
    assert found, message.body
    return found.group(1)


def choose_new_password(browser, link, password=NEW_PASSWORD):
    form_page = browser.get(link, follow=True)
    assert form_page.status_code == 200 and form_page.context["validlink"]
    return browser.post(
        form_page.redirect_chain[-1][0], {"new_password1": password, "new_password2": password}
    )


def test_the_sign_in_page_links_to_password_reset(browser):
    html = browser.get(reverse("accounts:login")).content.decode()
    assert f'<a href="{reverse("accounts:password_reset")}">Forgot your password?</a>' in html


def test_a_reset_email_names_the_operator_and_its_link_sets_a_new_password(
    browser, alice, mailoutbox, settings
):
    settings.TALLY_OPERATOR_NAME = "Harbor Freight Logistics"
    response = ask_for_reset(browser, "alice@acme.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")

    assert len(mailoutbox) == 1
    message = mailoutbox[0]
    assert message.to == ["alice@acme.example"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert "Harbor Freight Logistics" in message.subject
    assert "Harbor Freight Logistics" in message.body and "1 hour" in message.body

    done = choose_new_password(browser, link_in(message))
    assert done.status_code == 302 and done["Location"] == reverse(
        "accounts:password_reset_complete"
    )

    assert sign_in(HttpClient(), "alice@acme.example", PASSWORD).status_code == 200
    fresh = HttpClient()
    assert sign_in(fresh, "alice@acme.example", NEW_PASSWORD).status_code == 302
    assert signed_in(fresh)


def test_an_unknown_email_gets_the_same_answer_and_no_email(browser, alice, mailoutbox):
    known = ask_for_reset(HttpClient(), "alice@acme.example")
    unknown = ask_for_reset(HttpClient(), "nobody@acme.example")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    page = HttpClient().get(unknown["Location"])
    assert "If an account uses that address" in page.content.decode()


def test_a_reset_link_works_once(browser, alice, mailoutbox):
    ask_for_reset(browser, "alice@acme.example")
    link = link_in(mailoutbox[0])
    choose_new_password(browser, link)
    again = HttpClient().get(link, follow=True)
    assert again.status_code == 200 and not again.context["validlink"]
    assert "This link no longer works" in again.content.decode()


def test_a_weak_new_password_is_refused_by_the_validators(browser, alice, mailoutbox):
    ask_for_reset(browser, "alice@acme.example")
    response = choose_new_password(browser, link_in(mailoutbox[0]), password="password")
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    assert sign_in(HttpClient(), "alice@acme.example", PASSWORD).status_code == 302


def test_a_reset_signs_out_sessions_opened_with_the_old_password(browser, alice, mailoutbox):
    elsewhere = HttpClient()
    sign_in(elsewhere, "alice@acme.example", PASSWORD)
    assert elsewhere.get("/").status_code == 200

    ask_for_reset(browser, "alice@acme.example")
    choose_new_password(browser, link_in(mailoutbox[0]))

    assert elsewhere.get("/")["Location"] == reverse("accounts:login")


def test_a_reset_is_audited_without_the_password(browser, alice, mailoutbox):
    ask_for_reset(browser, "alice@acme.example")
    choose_new_password(browser, link_in(mailoutbox[0]))
    event = AuditEvent.objects.get(action="user.password_reset")
    assert (event.actor_id, event.object_id, event.client_id) == (
        alice.pk,
        str(alice.pk),
        alice.client_id,
    )
    assert "pbkdf2" not in event.data and "md5" not in event.data and NEW_PASSWORD not in event.data


def test_a_reset_lifts_the_accounts_sign_in_throttle(browser, alice, mailoutbox):
    fail(HttpClient(), "alice@acme.example", 5, address=HOME_ADDRESS)
    assert sign_in(HttpClient(), "alice@acme.example", PASSWORD).status_code == 200
    fail(HttpClient(), "nobody@acme.example", 5, address=ATTACKER)

    ask_for_reset(browser, "alice@acme.example")
    choose_new_password(browser, link_in(mailoutbox[0]))

    assert sign_in(HttpClient(), "alice@acme.example", NEW_PASSWORD).status_code == 302
    still = sign_in(HttpClient(), "nobody@acme.example", "x", address=ATTACKER)
    assert "Too many attempts" in still.content.decode()


def test_every_reset_page_labels_its_fields(browser, alice, mailoutbox):
    assert unlabelled_inputs(browser.get(reverse("accounts:login"))) == []
    assert unlabelled_inputs(browser.get(reverse("accounts:password_reset"))) == []
    ask_for_reset(browser, "alice@acme.example")
    assert unlabelled_inputs(browser.get(link_in(mailoutbox[0]), follow=True)) == []


def reset_from(address, email):
    return HttpClient().post(
        reverse("accounts:password_reset"), {"email": email}, REMOTE_ADDR=address
    )


def test_a_mailbox_gets_three_reset_emails_an_hour_and_then_the_same_answer_without_one(
    alice, mailoutbox, clock
):
    answers = [
        (r.status_code, r["Location"])
        for r in (reset_from(HOME_ADDRESS, "Alice@acme.example ") for _ in range(5))
    ]
    assert answers == [(302, reverse("accounts:password_reset_done"))] * 5
    assert len(mailoutbox) == 3  # from one address or several: the budget is the mailbox's

    reset_from(ATTACKER, "alice@acme.example")
    assert len(mailoutbox) == 3
    clock.advance(hours=1, minutes=1)
    reset_from(HOME_ADDRESS, "alice@acme.example")
    assert len(mailoutbox) == 4


def test_an_unknown_mailbox_is_budgeted_exactly_like_a_known_one(alice, mailoutbox, clock):
    known = [reset_from(HOME_ADDRESS, "alice@acme.example") for _ in range(5)]
    unknown = [reset_from(HOME_ADDRESS, "nobody@acme.example") for _ in range(5)]
    assert [(r.status_code, r["Location"]) for r in known] == [
        (r.status_code, r["Location"]) for r in unknown
    ]
    assert all(m.to == ["alice@acme.example"] for m in mailoutbox)


def test_an_address_asking_for_many_mailboxes_is_told_to_wait(alice, mailoutbox, clock):
    for i in range(20):
        assert reset_from(ATTACKER, f"someone-{i}@acme.example").status_code == 302
    refused = reset_from(ATTACKER, "alice@acme.example")
    assert refused.status_code == 429
    assert "Too many reset requests from your network. Try again in 15 minutes." in (
        refused.content.decode()
    )
    assert mailoutbox == []

    assert reset_from(HOME_ADDRESS, "alice@acme.example").status_code == 302  # not her problem
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    clock.advance(minutes=16)
    assert reset_from(ATTACKER, "someone-else@acme.example").status_code == 302


def test_the_answer_does_not_wait_for_the_mail_server(browser, alice, mailoutbox, settings):
    # Waiting for it would time apart an address with an account from one without.
    from tally.accounts import mail

    from . import held_mail

    settings.TALLY_MAIL_IN_BACKGROUND = True
    settings.EMAIL_BACKEND = "tests.accounts.held_mail.HeldEmailBackend"
    held_mail.release.clear()
    held_mail.held.clear()
    try:
        response = ask_for_reset(browser, "alice@acme.example")
        assert response.status_code == 302
        assert held_mail.held.wait(5)  # the mail server has the message and is not done…
        assert mailoutbox == []  # …yet the answer came back
    finally:
        held_mail.release.set()
        mail.drain()
    assert [m.to for m in mailoutbox] == [["alice@acme.example"]]
    assert link_in(mailoutbox[0]).startswith("/accounts/reset/")


def test_a_send_that_fails_in_the_background_is_logged(alice, settings, caplog):
    from tally.accounts import mail

    settings.TALLY_MAIL_IN_BACKGROUND = True

    def broken() -> None:
        raise ConnectionRefusedError("mail server down")

    mail.send_soon(broken)
    mail.drain()
    assert "sending an email in the background failed" in caplog.text
    assert "mail server down" in caplog.text

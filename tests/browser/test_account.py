"""One's own account in the browser: where one is signed in, ending another browser,
changing the password, and (as the client's admin) who receives the invoices."""

import re

from playwright.sync_api import expect

from tally.accounts.models import User
from tests.browser.helpers import shot
from tests.browser.scenario import EMAIL, PASSWORD

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "a-brand-new-Passphrase-2026"


def sign_in(page, password: str = PASSWORD) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/$"))


def test_a_client_signs_out_their_phone_and_changes_their_password(portal, new_context):
    desk = new_context().new_page()
    phone = new_context(user_agent=IPHONE, viewport={"width": 390, "height": 844}).new_page()
    sign_in(desk)
    sign_in(phone)

    desk.get_by_role("link", name="Account").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Your account")
    sessions = desk.locator("ul.sessions > li")
    expect(sessions).to_have_count(2)
    expect(sessions.nth(0)).to_contain_text("This browser")
    expect(sessions.nth(1)).to_contain_text("Safari on iPhone")
    shot(desk, portal, "account-two-browsers")

    sessions.nth(1).get_by_role("button", name=re.compile("Sign out Safari on iPhone")).click()
    expect(desk.get_by_role("status")).to_contain_text("Safari on iPhone has been signed out.")
    expect(sessions).to_have_count(1)
    phone.reload()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Sign in")

    desk.get_by_label("Current password").fill("not-my-password")
    desk.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    desk.get_by_label("New password again").fill(NEW_PASSWORD)
    desk.get_by_role("button", name="Change password").click()
    error = desk.locator("#id_old_password-error")
    expect(error).to_contain_text("incorrectly")
    expect(desk.get_by_label("Current password")).to_have_attribute("aria-invalid", "true")
    shot(desk, portal, "account-wrong-password")

    desk.get_by_label("Current password").fill(PASSWORD)
    desk.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    desk.get_by_label("New password again").fill(NEW_PASSWORD)
    desk.get_by_role("button", name="Change password").click()
    expect(desk.get_by_role("status")).to_contain_text("Your password has been changed.")
    desk.goto("/")  # still signed in after the change
    expect(desk.get_by_role("heading", level=1)).to_contain_text("Acme Inc.")
    sign_in(phone, NEW_PASSWORD)


def test_the_clients_admin_keeps_who_receives_the_invoices(portal, new_context):
    User.objects.filter(email=EMAIL).update(is_client_admin=True)
    page = new_context().new_page()
    sign_in(page)
    page.get_by_role("link", name="Account").click()
    page.get_by_role("link", name="Who receives invoices and reminders").click()
    contacts = page.locator("ul.contacts > li")
    expect(contacts).to_have_count(1)

    page.get_by_label("Name").fill("Dana Payables")
    page.get_by_label("Email").fill("ap@acme.example")  # already one of them
    page.get_by_role("button", name="Add").click()
    expect(page.locator("#id_email-error")).to_have_text("That address already receives them.")
    expect(page.get_by_label("Name")).to_have_value("Dana Payables")

    page.get_by_label("Email").fill("dana@acme.example")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status")).to_contain_text("dana@acme.example will receive")
    expect(contacts).to_have_count(2)
    shot(page, portal, "billing-contacts")

    page.get_by_role("button", name="Remove dana@acme.example").click()
    expect(contacts).to_have_count(1)
    expect(contacts).not_to_contain_text("dana@acme.example")

"""Signing in through the real form, and out again."""

import re

from playwright.sync_api import expect

from tests.browser.helpers import expected_order, rows, shot
from tests.browser.scenario import EMAIL, PASSWORD


def test_a_client_user_signs_in_through_the_login_form_and_sees_their_own_billing(
    portal, new_context, live_server
):
    page = new_context().new_page()
    page.goto("/")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_label("Email")).to_have_value(EMAIL)
    assert "/accounts/login/" in page.url
    shot(page, portal, "login-refused")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Acme Inc.")
    expect(rows(page)).to_have_text(expected_order(portal)[:25])
    shot(page, portal, "signed-in")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/accounts/login/"))
    page.goto("/reports/aging/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next=/reports/aging/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")

"""The payments page's date range at desktop and phone width: each date under its label,
the two side by side, the button whole, and an error under the field it is about."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import session_cookie
from tests.browser.helpers import shot

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def _box(page: Page, selector: str) -> dict[str, float]:
    box = page.locator(selector).bounding_box()
    assert box, selector
    return box


def _assert_laid_out(page: Page, width: int) -> None:
    start, end = _box(page, "#id_received_from"), _box(page, "#id_received_to")
    assert abs(start["y"] - end["y"]) < 1, "the two dates are not side by side"
    assert start["x"] + start["width"] <= end["x"]
    for field in ("received_from", "received_to"):
        label, field_box = _box(page, f"label[for=id_{field}]"), _box(page, f"#id_{field}")
        assert label["y"] + label["height"] <= field_box["y"] + 1, f"{field}: label not above"
        assert abs(label["x"] - field_box["x"]) < 2, f"{field}: label not over its field"
        assert label["height"] < 30, f"{field}: its label wraps"
        assert field_box["width"] >= 140, f"{field}: too narrow for a date"
    button = _box(page, "form.range-form button")
    assert button["height"] < 50, "the button's words wrap"
    form = _box(page, "form.range-form")
    assert form["x"] >= 0 and form["x"] + form["width"] <= width


@pytest.mark.parametrize("size", WIDTHS)
def test_the_payments_date_range_lays_out_at_desktop_and_phone_width(
    portal, new_context, live_server, size
):
    viewport = WIDTHS[size]
    phone = size == "phone"
    context = new_context(viewport=viewport, is_mobile=phone, has_touch=phone)
    context.add_cookies([session_cookie(portal.user, live_server.url)])
    page = context.new_page()
    year = portal.today.year
    page.goto(f"/payments/?received_from={year}-01-01&received_to={portal.today.isoformat()}")
    expect(page.locator(".table-summary")).to_contain_text("in this range")
    _assert_laid_out(page, viewport["width"])
    shot(page, portal, f"payments-range-{size}")

    # Given backwards: the error sits under the field it names, tied to it.
    page.fill("#id_received_from", f"{year}-06-01")
    page.fill("#id_received_to", f"{year}-05-01")
    page.get_by_role("button", name="Show").click()
    error = page.locator("#id_received_to-error")
    expect(error).to_have_text("“Received to” must not be before “Received from”.")
    expect(page.locator("#id_received_to")).to_have_attribute(
        "aria-describedby", "id_received_to-error"
    )
    field, error_box = _box(page, "#id_received_to"), _box(page, "#id_received_to-error")
    assert error_box["y"] >= field["y"] + field["height"] - 1
    _assert_laid_out(page, viewport["width"])
    shot(page, portal, f"payments-range-error-{size}")

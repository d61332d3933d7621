"""A month's billing run in Chromium: the operator picks the month and the clients, starts
the run, and watches its progress to the drafts without reloading; without JavaScript the
page offers a Refresh link that shows the same."""

import threading
import time
from datetime import date

import pytest
from django.db import connection
from playwright.sync_api import expect

from tally.invoicing import services
from tally.invoicing.models import BillingRun, BillingRunClient
from tests.browser.conftest import session_cookie
from tests.browser.test_console_disputes import console_shot
from tests.factories import add_events, make_client, make_user


@pytest.fixture
def month_of_work(tx_db, live_server, browser):
    """Four clients with October's events (one with storage it has no price for), and an
    operator."""
    clients = [
        make_client("acme"),
        make_client("globex", prices={"pick": "0.3500"}),
        make_client("initech"),
        make_client("umbrella"),
    ]
    acme, globex, _initech, umbrella = clients  # Initech has nothing in October
    add_events(acme, "pick", 40, day=date(2026, 10, 6))
    add_events(globex, "pick", 80, day=date(2026, 10, 7))
    add_events(globex, "storage_day", 9, day=date(2026, 10, 12))
    add_events(umbrella, "pick", 160, day=date(2026, 10, 8))
    return clients, make_user(email="billing@northwind.example")


def slowed(monkeypatch, seconds: float) -> None:
    """Each client's draft takes a while, so that the page has progress to show."""
    real = services._keep_if_billed

    def slow(*args):
        time.sleep(seconds)
        return real(*args)

    monkeypatch.setattr(services, "_keep_if_billed", slow)


def worker_thread(run_id: int) -> threading.Thread:
    """The worker's part of the run, beside the live server (the worker process has its own
    test in tests/worker/test_billing_run.py)."""

    def work() -> None:
        try:
            services.run_billing(run_id)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def test_an_operator_starts_a_run_and_watches_it_to_the_drafts(
    month_of_work, new_context, live_server, monkeypatch
):
    clients, operator = month_of_work
    context = new_context()
    context.add_cookies([session_cookie(operator, live_server.url)])
    page = context.new_page()
    page.goto("/console/billing/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Billing runs")
    expect(page.get_by_label("Month")).to_have_value("2026-10")  # the last complete month
    expect(page.get_by_label("Every client")).to_be_checked()

    # The finder narrows 4 clients to one; choosing one switches to "only those chosen".
    page.get_by_label("Find a client").fill("glob")
    expect(page.locator("#client-list li:visible")).to_have_count(1)
    expect(page.locator("#client-filter-count")).to_have_text("1 of 4 clients shown")
    console_shot(page, "console-billing-form-filtered")
    page.get_by_label("Find a client").fill("")
    for name in ("Acme Inc.", "Globex Inc.", "Initech Inc."):
        page.get_by_role("checkbox", name=name).check()
    expect(page.get_by_label("Only the clients chosen below")).to_be_checked()

    slowed(monkeypatch, 1.2)
    page.get_by_role("button", name="Start billing run").click()
    run = BillingRun.objects.get()
    expect(page).to_have_url(f"{live_server.url}/console/billing/{run.pk}/")
    expect(page.get_by_role("status").first).to_contain_text("Billing run for October 2026")
    live = page.locator("#run-status")
    expect(live).to_have_attribute("aria-live", "polite")
    expect(live).to_contain_text("0 of 3")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)  # JavaScript is on
    page.evaluate("window.stillThisPage = true")
    console_shot(page, "console-billing-run-queued")

    thread = worker_thread(run.pk)
    try:
        expect(live).to_contain_text("Running", timeout=5_000)
        expect(live).to_contain_text("1 of 3", timeout=5_000)
        console_shot(page, "console-billing-run-progress")
        expect(live).to_contain_text("Done", timeout=15_000)
    finally:
        thread.join(30)
    expect(live).to_contain_text("3 of 3")
    expect(live).to_contain_text("129 events rated")
    result = page.locator("#run-result")
    expect(result).to_contain_text("2 drafts for 3 clients; 9 events had no price")
    acme_draft = BillingRunClient.objects.get(run=run, client=clients[0]).invoice
    row = result.locator("tr", has_text="Acme Inc.")
    expect(row).to_contain_text(f"Draft #{acme_draft.pk}")
    expect(row).to_contain_text("$14.00")
    expect(result.locator("tr", has_text="Globex Inc.")).to_contain_text("Storage day: 9 events")
    expect(result.locator("tr", has_text="Initech Inc.")).to_contain_text("Nothing to bill")
    expect(result).not_to_contain_text("Umbrella")
    assert page.evaluate("window.stillThisPage") is True  # no reload
    console_shot(page, "console-billing-run-done")

    # The polling stopped with the run.
    polled: list[str] = []
    page.on("request", lambda request: polled.append(request.url))
    page.wait_for_timeout(2_500)
    assert polled == []

    page.goto("/console/billing/")
    listed = page.locator(f'tr[data-run="{run.pk}"]')
    expect(listed).to_contain_text("October 2026")
    expect(listed).to_contain_text("Done")
    expect(listed).to_contain_text("3 of 3")
    console_shot(page, "console-billing-runs-list")


def test_without_javascript_the_run_page_has_a_refresh_link(
    month_of_work, new_context, live_server
):
    clients, operator = month_of_work
    context = new_context(java_script_enabled=False)
    context.add_cookies([session_cookie(operator, live_server.url)])
    page = context.new_page()
    page.goto("/console/billing/")
    expect(page.locator(".client-filter")).to_be_hidden()  # the finder needs scripts
    page.get_by_label("Only the clients chosen below").check()
    page.get_by_role("checkbox", name="Umbrella Inc.").check()
    page.get_by_role("button", name="Start billing run").click()
    run = BillingRun.objects.get()
    expect(page).to_have_url(f"{live_server.url}/console/billing/{run.pk}/")
    expect(page.locator("#run-status")).to_contain_text("0 of 1")
    refresh = page.get_by_role("link", name="Refresh")
    expect(refresh).to_be_visible()
    console_shot(page, "console-billing-run-no-js-queued")

    services.run_billing(run.pk)
    refresh.click()
    expect(page.locator("#run-status")).to_contain_text("Done")
    expect(page.locator("#run-status")).to_contain_text("1 of 1")
    expect(page.locator("#run-result")).to_contain_text("Umbrella Inc.")
    expect(page.get_by_role("link", name="Refresh")).to_have_count(0)
    console_shot(page, "console-billing-run-no-js-done")

    # A second run of the month while one is under way is refused next to the month.
    BillingRun.objects.filter(pk=run.pk).update(status="running")
    page.goto("/console/billing/")
    page.get_by_role("button", name="Start billing run").click()
    expect(page.locator("#run-month-error")).to_contain_text(
        f"Already being billed by run {run.pk}, started by billing@northwind.example"
    )
    expect(page.get_by_label("Month")).to_have_attribute("aria-invalid", "true")
    console_shot(page, "console-billing-run-refused")

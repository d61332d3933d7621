"""An operator reviews drafts in Chromium: the list, a draft as its client will see it,
a line's events, an adjustment added and removed, issuing one, issuing several."""

from dataclasses import dataclass
from datetime import date

import pytest
from playwright.sync_api import expect

from tally.accounts.models import Role, User
from tally.invoicing.models import Invoice, InvoiceStatus
from tests.browser.conftest import session_cookie
from tests.browser.test_console_disputes import console_shot
from tests.factories import add_events, draft_invoice, generate, issued_invoice, make_client
from tests.worker.conftest import run_worker

SEPTEMBER = (date(2026, 9, 1), date(2026, 9, 30))


@dataclass
class Desk:
    operator: User
    acme: Invoice  # 60 picks and 20 labels of October, after a September invoice
    globex: Invoice
    initech: Invoice


@pytest.fixture
def desk(tx_db, live_server, browser) -> Desk:
    acme = make_client("acme")
    issued_invoice(acme, picks=40, labels=30, period=SEPTEMBER, issue_date=date(2026, 10, 1))
    add_events(acme, "pick", 60, day=date(2026, 10, 6), prefix="OCT")
    add_events(acme, "label", 20, day=date(2026, 10, 7))
    return Desk(
        operator=User.objects.create_user("ops@northwind.example", None, role=Role.OPERATOR),
        acme=generate(acme).invoice,
        globex=draft_invoice(make_client("globex"), picks=12),
        initech=draft_invoice(make_client("initech"), picks=7, labels=3),
    )


@pytest.fixture
def console(desk, new_context, live_server):
    context = new_context()
    context.add_cookies([session_cookie(desk.operator, live_server.url)])
    return context.new_page()


def test_an_operator_reviews_adjusts_and_issues_a_draft(desk, console, mailoutbox):
    draft = desk.acme
    console.goto("/console/drafts/")
    rows = console.locator("table.drafts tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.first).to_contain_text("Acme Inc.")
    expect(rows.first).to_contain_text("$21.90")  # 60 × 0.35 + 20 × 0.045
    console_shot(console, "console-drafts-list")

    rows.first.get_by_role("link", name="Acme Inc.").click()
    expect(console.get_by_role("heading", level=1)).to_contain_text(f"Draft #{draft.pk}")
    lines = console.locator("table.draft-lines tbody tr")
    expect(lines).to_have_count(2)
    pick = console.locator(f'tr[data-line="{draft.lines.get(kind="pick").pk}"]')
    expect(pick).to_contain_text("60")
    expect(pick).to_contain_text("Rate card, from")
    change = console.locator("#change")
    expect(change).to_contain_text("Change against INV-000001")
    expect(change.locator("tr", has_text="Picks")).to_contain_text("+$7.00")
    console_shot(console, "console-draft-review")

    # The events behind the picks line, a page at a time.
    pick.get_by_role("link", name="The 60 events of").click()
    events = console.locator("table.events tbody tr")
    expect(events).to_have_count(50)
    expect(events.first).to_contain_text("REF-OCT-0")
    console.get_by_role("link", name="Later events →").click()
    expect(events).to_have_count(10)
    expect(events.last).to_contain_text("REF-OCT-59")
    console.go_back()
    console.goto(f"/console/drafts/{draft.pk}/")

    # A discount, with its reason, then taken off again.
    console.get_by_label("Description the client will see").fill("Goodwill discount")
    console.get_by_label("Amount (a discount below zero)").fill("-1.90")
    console.get_by_label("Reason").fill("Two days of late pickups")
    console.get_by_role("button", name="Add adjustment").click()
    expect(console.get_by_role("status")).to_contain_text("Adjustment added.")
    expect(console.locator("#draft-total")).to_have_text("$20.00")
    expect(console.locator("table.draft-lines")).to_contain_text("Two days of late pickups")
    console_shot(console, "console-draft-adjusted")
    console.get_by_role("button", name="Remove the adjustment Goodwill discount").click()
    expect(console.get_by_role("status")).to_contain_text("Adjustment removed.")
    expect(console.locator("#draft-total")).to_have_text("$21.90")

    console.get_by_role("button", name="Issue $21.90 to Acme Inc.").click()
    expect(console.get_by_role("status")).to_contain_text("Issued.")
    draft.refresh_from_db()
    assert draft.status == InvoiceStatus.OPEN
    expect(console.locator("#issued h2")).to_have_text(f"Issued as {draft.display_number}")
    emails = console.locator("#emails")
    expect(emails.locator("tr.email")).to_contain_text("Queued")

    # The worker sends the email; the page says when, to whom; the operator sends it again.
    run_worker()
    [message] = mailoutbox
    assert message.extra_headers["X-Tally-Invoice"] == draft.display_number
    assert message.attachments[0][0] == f"{draft.display_number}.pdf"
    console.reload()
    expect(emails.locator("tr.email")).to_contain_text("Sent")
    expect(emails.locator("tr.email")).to_contain_text("ap@acme.example")
    console_shot(console, "console-draft-issued")
    emails.get_by_role("button", name="Send again").click()
    expect(console.get_by_role("status")).to_contain_text("is on its way again")
    expect(emails.locator("tr.email")).to_have_count(2)
    run_worker()
    assert len(mailoutbox) == 2


def test_an_operator_issues_several_drafts_from_the_list(desk, console):
    console.goto("/console/drafts/")
    console.get_by_label("Select the draft of Globex Inc.").check()
    console.get_by_label("Select the draft of Initech Inc.").check()
    console.get_by_role("button", name="Issue selected").click()
    expect(console.get_by_role("status")).to_contain_text(
        "Issued 2 invoices: INV-000002, INV-000003."
    )
    rows = console.locator("table.drafts tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Acme Inc.")
    console_shot(console, "console-drafts-issued-several")
    numbers = sorted(
        Invoice.objects.filter(pk__in=[desk.globex.pk, desk.initech.pk]).values_list(
            "number", flat=True
        )
    )
    assert numbers == [2, 3]

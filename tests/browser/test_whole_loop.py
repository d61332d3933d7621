"""The whole loop from both sides, in one Chromium test, through the worker and its emails.

The operator runs October's billing in the console (the worker's task bills it), reviews
Acme's draft and issues it; the worker emails it; the client opens the invoice from the
email's link and disputes two of its lines; the operators are emailed; the operator
replies and writes an internal note; the client reads the reply and never the note; the
operator resolves with a credit; the client sees the resolution and the new balance; and
the reminder step that came due while the invoice was disputed never goes out.
"""

import re
from dataclasses import dataclass
from datetime import date

import pytest
from django.core import mail
from django_tasks_db.models import DBTaskResult
from playwright.sync_api import Page, expect

from tally.accounts.models import Role, User
from tally.clients.models import Client
from tally.disputes.models import Dispute
from tally.invoicing.models import BillingRun, Invoice, InvoiceStatus
from tally.money import format_money
from tally.reminders.models import Reminder, ReminderStatus
from tally.reminders.services import CAME_DUE_WHILE_DISPUTED
from tally.worker import tasks
from tests.browser.conftest import session_cookie
from tests.browser.helpers import ARTIFACTS
from tests.browser.test_console_disputes import console_shot
from tests.factories import add_events, issued_invoice, make_client, make_user
from tests.worker.conftest import run_worker

OCTOBER_DAY = date(2026, 10, 6)
REASON = "Ten of the picks and all twelve labels were for orders we cancelled on 6 October."
DISPUTED = "4.04"  # 10 picks × $0.35 + 12 labels × $0.045
REPLY = "We found the cancelled orders in the carrier manifest and will credit them."
NOTE = "LOOP-NOTE: carrier confirms the 12 voided labels; goodwill on the picks too."
SUMMARY = "The ten picks and twelve labels of the cancelled orders are credited."


@dataclass
class Month:
    acme: Client  # terms of 3 days: its first reminder step falls on the day of issue
    globex: Client
    operator: User
    clerk: User  # Acme's client user, who reads its billing email


@pytest.fixture
def month(tx_db, live_server, browser, settings) -> Month:
    """October's events of two clients, not yet billed; Globex has an invoice of its own
    already, which Acme must never see."""
    settings.TALLY_BASE_URL = live_server.url
    acme = make_client("acme", terms=3)
    add_events(acme, "pick", 40, day=OCTOBER_DAY, prefix="ACME-ORD")  # $14.00
    add_events(acme, "label", 12, day=OCTOBER_DAY)  # $0.54
    add_events(acme, "stop", 2, day=date(2026, 10, 9))  # $25.00
    globex = make_client("globex")
    issued_invoice(globex, picks=9, period=(date(2026, 9, 1), date(2026, 9, 30)))
    add_events(globex, "pick", 30, day=date(2026, 10, 7))
    return Month(
        acme=acme,
        globex=globex,
        operator=User.objects.create_user("ops@northwind.example", None, role=Role.OPERATOR),
        clerk=make_user(role=Role.CLIENT_USER, client=acme, email="carol@acme.example"),
    )


def signed_in(new_context, live_server, user: User) -> Page:
    context = new_context()
    context.add_cookies([session_cookie(user, live_server.url)])
    return context.new_page()


def client_shot(page: Page, month: Month, name: str) -> None:
    """A screenshot of the client's page, which holds nothing of Globex's, nor the note."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, caret="initial")
    html = page.content()
    assert NOTE not in html and "LOOP-NOTE" not in html, "an internal note reached the client"
    assert "Globex" not in html and "globex" not in html


def link_in(body: str, path: str) -> str:
    [link] = re.findall(rf"https?://\S+{path}", body)
    return link


def reminders_of(number: str) -> list[mail.EmailMessage]:
    """The reminder emails of invoice `number` sent so far."""
    return [
        m
        for m in mail.outbox
        if m.extra_headers.get("X-Tally-Invoice") == number and "This is a reminder" in m.body
    ]


def usd(minor: int) -> str:
    return format_money(minor, "USD", "en_US")


def test_the_whole_loop_from_both_sides(month, new_context, live_server, mailoutbox):
    console = signed_in(new_context, live_server, month.operator)

    # 1. The operator bills October for every client; the worker runs the task.
    console.goto("/console/billing/")
    expect(console.get_by_label("Month")).to_have_value("2026-10")
    expect(console.get_by_label("Every client")).to_be_checked()
    console.get_by_role("button", name="Start billing run").click()
    run = BillingRun.objects.get()
    expect(console).to_have_url(f"{live_server.url}/console/billing/{run.pk}/")
    expect(console.locator("#run-status")).to_contain_text("0 of 2")
    run_worker()
    live = console.locator("#run-status")
    expect(live).to_contain_text("Done")  # polled in, without a reload
    expect(live).to_contain_text("2 of 2")
    expect(live).to_contain_text("84 events rated")  # 40 + 12 + 2 of Acme's, 30 of Globex's
    result = console.locator("#run-result")
    expect(result).to_contain_text("2 drafts for 2 clients")
    draft = Invoice.objects.get(client=month.acme, status=InvoiceStatus.DRAFT)
    assert draft.total_minor == 39_54
    acme_row = result.locator("tr", has_text="Acme Inc.")
    expect(acme_row).to_contain_text("$39.54")
    console_shot(console, "loop-01-console-billing-run-done")

    # 2. Reviews Acme's draft, line by line, and issues it.
    acme_row.get_by_role("link", name=f"Draft #{draft.pk}").click()
    expect(console.get_by_role("heading", level=1)).to_contain_text(f"Draft #{draft.pk}")
    lines = {line.kind: line for line in draft.lines.all()}
    assert sorted(lines) == ["label", "pick", "stop"]
    for kind, quantity, amount in (("pick", 40, 14_00), ("label", 12, 54), ("stop", 2, 25_00)):
        row = console.locator(f'tr[data-line="{lines[kind].pk}"]')
        expect(row).to_contain_text(str(quantity))
        expect(row).to_contain_text(usd(amount))
    console_shot(console, "loop-02-console-draft-review")
    console.get_by_role("button", name="Issue $39.54 to Acme Inc.").click()
    expect(console.get_by_role("status")).to_contain_text("Issued.")
    draft.refresh_from_db()
    invoice = draft
    number = invoice.display_number
    assert invoice.status == InvoiceStatus.OPEN
    assert (invoice.issue_date, invoice.due_date) == (date(2026, 11, 25), date(2026, 11, 28))
    expect(console.locator("#issued h2")).to_have_text(f"Issued as {number}")

    # 3. The worker emails it to Acme's billing contact, with a link to the invoice.
    assert mailoutbox == []
    run_worker()
    [invoice_mail] = mailoutbox
    assert invoice_mail.to == ["ap@acme.example"]
    assert invoice_mail.extra_headers["X-Tally-Invoice"] == number
    assert "  Total:       $39.54\n" in invoice_mail.body
    assert "How to pay:\n  ACH or wire: Northwind Logistics" in invoice_mail.body
    invoice_link = f"{live_server.url}/invoices/{number}/"
    assert f"\n  {invoice_link}\n" in invoice_mail.body
    console.reload()
    expect(console.locator("#emails tr.email")).to_contain_text("Sent")
    expect(console.locator("#emails tr.email")).to_contain_text("ap@acme.example")
    console_shot(console, "loop-03-console-issued-and-emailed")
    mailoutbox.clear()

    # 4. The client opens the invoice from the email's link and disputes two lines.
    portal = signed_in(new_context, live_server, month.clerk)
    portal.goto(invoice_link)
    expect(portal.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}")
    expect(portal.locator(".detail-amounts")).to_contain_text("Balance due $39.54")
    client_shot(portal, month, "loop-04-portal-invoice-from-email")
    portal.get_by_text("Dispute this invoice").click()
    portal.get_by_label("What is wrong with this invoice?").fill(REASON)
    portal.get_by_label("Amount you dispute").fill(DISPUTED)
    portal.get_by_role("checkbox", name=lines["pick"].description).check()
    portal.get_by_role("checkbox", name=lines["label"].description).check()
    portal.get_by_role("button", name="Open dispute").click()
    dispute_view = portal.locator("article.dispute")
    expect(dispute_view).to_contain_text("Open dispute")
    expect(dispute_view).to_contain_text(f"disputed amount ${DISPUTED}")
    dispute = Dispute.objects.get(invoice=invoice)
    assert dispute.amount_minor == 4_04
    assert sorted(dispute.lines.values_list("line_id", flat=True)) == sorted(
        [lines["pick"].pk, lines["label"].pk]
    )
    portal.reload()
    expect(portal.locator(".detail-head .status")).to_have_text("Disputed")
    expect(portal.locator("li.reminder").first).to_contain_text("Paused while disputed")
    client_shot(portal, month, "loop-05-portal-disputed")

    # The reminder step of today is due, but the invoice is disputed: the run holds it back.
    held = tasks.send_due_reminders.enqueue()
    run_worker()
    assert DBTaskResult.objects.get(pk=held.id).return_value["paused"] == 1
    first_step = Reminder.objects.get(invoice=invoice, offset_days=-3)
    assert (first_step.scheduled_for, first_step.status) == (
        date(2026, 11, 25),
        ReminderStatus.SCHEDULED,
    )

    # 5. The operators are emailed; the operator follows the link, replies and notes.
    [notice] = mailoutbox
    assert notice.to == [month.operator.email]
    assert notice.subject == f"Acme Inc. disputes invoice {number}"
    assert REASON in notice.body
    assert reminders_of(number) == []
    mailoutbox.clear()
    console.goto(link_in(notice.body, f"/console/disputes/{dispute.pk}/"))
    expect(console.get_by_role("heading", level=1)).to_contain_text(f"Dispute on {number}")
    console.get_by_label("Reply to the client").fill(REPLY)
    console.get_by_role("button", name="Send reply").click()
    expect(console.get_by_role("status")).to_contain_text("Reply sent to Acme Inc.")
    console.get_by_label("New internal note").fill(NOTE)
    console.get_by_role("button", name="Add internal note").click()
    notes = console.locator("aside.internal-notes")
    expect(notes).to_contain_text("Never shown to the client")
    expect(notes.locator("ol.notes li")).to_contain_text(NOTE)
    expect(console.locator("#conversation")).not_to_contain_text(NOTE)
    console_shot(console, "loop-06-console-reply-and-note")

    # 6. The client's contacts get the reply; its link shows the reply and never the note.
    run_worker()
    [reply] = mailoutbox
    assert reply.to == ["ap@acme.example"]
    assert REPLY in reply.body and NOTE not in reply.body
    mailoutbox.clear()
    portal = portal.context.new_page()  # a new tab, as from the mail program
    portal.goto(link_in(reply.body, f"/invoices/{number}/#dispute-{dispute.pk}"))
    conversation = portal.locator(f"#dispute-{dispute.pk} .conversation li")
    expect(conversation).to_have_count(2)
    expect(conversation.last).to_contain_text(REPLY)
    expect(conversation.last.locator(".who")).to_have_text("Northwind Logistics")
    assert NOTE not in portal.content()
    client_shot(portal, month, "loop-07-portal-reads-the-reply")

    # 7. The operator resolves with a credit of the amount at stake, prefilled.
    console.get_by_label("Credited").check()
    expect(console.get_by_label("Credit amount (USD)")).to_have_value(DISPUTED)
    console.get_by_label("Summary the client will see").fill(SUMMARY)
    console.get_by_role("button", name="Resolve dispute").click()
    expect(console.locator("#resolution")).to_contain_text("Credited")
    expect(console.locator("#resolution")).to_contain_text(SUMMARY)
    console_shot(console, "loop-08-console-resolved")
    dispute.refresh_from_db()
    credit_note = dispute.credit_note
    assert credit_note.amount_minor == 4_04
    invoice.refresh_from_db()
    assert invoice.balance_minor == 39_54 - 4_04

    # 8. The client sees the resolution, the credit note and the new balance.
    portal.goto(invoice_link)
    expect(portal.locator("article.dispute")).to_contain_text("Resolved: Credited")
    expect(portal.locator("article.dispute .resolution")).to_have_text(SUMMARY)
    expect(portal.locator(".detail-amounts")).to_have_text("Total $39.54 · Balance due $35.50")
    expect(portal.locator("tfoot tr", has_text="Credits")).to_contain_text("−$4.04")
    expect(portal.locator("tfoot tr.balance")).to_contain_text("$35.50")
    expect(portal.get_by_text(credit_note.display_number)).to_contain_text("$4.04")
    assert NOTE not in portal.content()
    client_shot(portal, month, "loop-09-portal-resolved")
    portal.goto("/")  # no longer disputed; credits count as part paid (invoicing.status)
    expect(portal.locator(f"#status-{number}")).to_have_text("Partially paid")

    # 9. The step that came due while disputed never goes out, even past its day; the
    # schedule goes on, and the due date's reminder asks for the new balance.
    mailoutbox.clear()
    for day in ("2026-11-25", "2026-11-27"):
        tasks.send_due_reminders.enqueue(day)
        run_worker()
    assert reminders_of(number) == []
    first_step.refresh_from_db()
    assert (first_step.status, first_step.status_detail) == (
        ReminderStatus.SKIPPED,
        CAME_DUE_WHILE_DISPUTED,
    )
    tasks.send_due_reminders.enqueue("2026-11-28")
    run_worker()
    [on_due_date] = reminders_of(number)
    assert on_due_date.to == ["ap@acme.example"]
    assert "  Amount due:  $35.50\n" in on_due_date.body
    portal.goto(invoice_link)
    steps = portal.locator("li.reminder")
    expect(steps.first).to_contain_text(f"Not sent ({CAME_DUE_WHILE_DISPUTED})")
    expect(steps.nth(1)).to_contain_text("Sent")
    client_shot(portal, month, "loop-10-portal-reminders-after-resolution")

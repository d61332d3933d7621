"""Reminder emails as the worker sends them: from templates, in the client's locale, with
the invoice's PDF attached and a link to the invoice in the portal."""

import logging
from datetime import date

import pytest
from django.core.management import call_command
from django.test import Client as WebClient

from tally.accounts.models import Role
from tally.reminders.services import send_due_reminders
from tally.worker import tasks
from tests.factories import issued_invoice, make_client, make_user
from tests.portal.test_pdf import pdf_text
from tests.worker.conftest import run_worker

DEC_8 = date(2026, 12, 8)


def the_pdf(message) -> bytes:
    [(filename, content, mimetype)] = message.attachments
    assert mimetype == "application/pdf"
    return filename, content


def test_the_workers_reminder_carries_the_invoice_pdf_and_a_link_that_opens_it(
    tx_db, mailoutbox, settings
):
    settings.TALLY_BASE_URL = "https://billing.northwind.example"
    acme = make_client("acme")
    invoice = issued_invoice(acme, picks=100)  # 35.00
    number = invoice.display_number
    tasks.send_due_reminders.enqueue(today=DEC_8.isoformat())

    run_worker()

    [message] = mailoutbox
    filename, content = the_pdf(message)
    assert filename == f"{number}.pdf"
    _, _, text = pdf_text(content)
    assert number in text and "Acme Inc." in text and "Total $35.00" in text
    assert "The invoice is attached as a PDF." in message.body
    link = f"https://billing.northwind.example/invoices/{number}/"
    assert f"\n  {link}\n" in message.body
    # The link is the invoice's page for the client's users.
    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=acme))
    page = web.get(link.removeprefix(settings.TALLY_BASE_URL))
    assert page.status_code == 200 and number in page.content.decode()


@pytest.mark.django_db
def test_a_reminder_is_written_in_the_clients_locale(mailoutbox):
    berlin = make_client("berlin", currency="EUR", locale="de_DE")
    invoice = issued_invoice(berlin, picks=100)  # 35,00 €

    call_command("send_reminders", today=DEC_8.isoformat(), stdout=None)

    [message] = mailoutbox
    number = invoice.display_number
    assert message.subject == (
        f"Northwind Logistics: invoice {number} for 35,00\xa0€ is 7 days overdue "
        "(was due 01.12.2026)"
    )
    assert "Amount due:  35,00\xa0€" in message.body
    assert "Due date:    01.12.2026 (7 days overdue)" in message.body
    _, _, text = pdf_text(the_pdf(message)[1])
    assert "35,00 €" in text  # the PDF too


@pytest.mark.django_db
def test_a_locale_babel_does_not_know_is_refused():
    from tally.errors import DomainError

    with pytest.raises(DomainError) as refused:
        make_client("nowhere", locale="xx_QQ")
    assert [p.field for p in refused.value.problems] == ["locale"]


@pytest.mark.django_db
def test_a_reminder_whose_pdf_cannot_be_drawn_goes_without_it_and_the_failure_is_logged(
    mailoutbox, caplog
):
    invoice = issued_invoice(make_client("acme"), picks=100)

    def broken(*args):
        raise ValueError("the font is missing")

    with caplog.at_level(logging.ERROR, logger="tally.reminders.services"):
        report = send_due_reminders(today=DEC_8, attach=broken)

    assert report.sent == 1
    [message] = mailoutbox
    assert message.attachments == [] and "attached" not in message.body
    assert f"/invoices/{invoice.display_number}/" in message.body
    [logged] = caplog.records
    assert "goes without its attachment" in logged.getMessage()
    assert "the font is missing" in str(logged.exc_info[1])

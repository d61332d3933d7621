"""The dispute desk and a dispute's page: what the billing team reads."""

from datetime import date, timedelta

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from tally.accounts.models import Role
from tally.actions.disputes import resolve_dispute
from tally.console.queries import disputes as queries
from tally.disputes.models import Dispute
from tally.disputes.services import open_dispute, post_dispute_message
from tally.internal_notes.services import add_internal_note
from tests.factories import DEFAULT_PRICES, issued_invoice, make_client, make_user

pytestmark = pytest.mark.django_db


def test_the_desk_lists_open_disputes_oldest_first_with_whose_turn_it_is(
    acme, acme_user, operator, dispute
):
    euro = make_client("berlin", currency="EUR")
    euro_invoice = issued_invoice(euro, picks=4)
    later = open_dispute(
        actor=operator, client=euro, invoice_id=euro_invoice.pk, reason="Phoned in", amount_minor=99
    )
    post_dispute_message(actor=operator, client=euro, dispute_id=later.pk, body="Looking into it.")
    Dispute.objects.filter(pk=dispute.pk).update(opened_at=timezone.now() - timedelta(days=3))

    desk = queries.dispute_desk(timezone.localdate())

    assert [r.id for r in desk.rows] == [dispute.pk, later.pk]
    first, second = desk.rows
    assert (first.client_name, first.invoice_number) == (
        "Acme Inc.",
        dispute.invoice.display_number,
    )
    assert first.at_stake_minor == 90  # the disputed labels line: 20 × $0.045
    assert first.age_days == 3 and second.age_days == 0
    assert first.turn == queries.Turn.OPERATOR  # the client spoke last
    assert second.turn == queries.Turn.CLIENT  # the 3PL answered last
    assert (second.currency, second.at_stake_minor) == ("EUR", 99)  # the amount named
    assert (desk.total, desk.waiting) == (2, 1)


def test_a_resolved_dispute_leaves_the_desk(acme, operator, dispute):
    resolve_dispute(
        actor=operator, client=acme, dispute_id=dispute.pk, resolution="upheld", summary="Right."
    )
    desk = queries.dispute_desk(timezone.localdate())
    assert desk.rows == [] and desk.total == 0


def test_a_dispute_without_lines_or_amount_has_the_invoice_total_at_stake(acme, acme_user):
    invoice = issued_invoice(acme, picks=10)
    d = open_dispute(actor=acme_user, client=acme, invoice_id=invoice.pk, reason="All wrong.")
    page = queries.dispute_page(d.pk)
    assert page is not None
    assert page.at_stake_minor == invoice.total_minor == 350
    assert page.suggested_credit_minor == 350


def test_the_desk_page_shows_money_in_the_invoices_currency(ops, operator, dispute):
    euro = make_client("berlin", currency="EUR", prices={**DEFAULT_PRICES, "pick": "500"})
    invoice = issued_invoice(euro, picks=4)  # €2,000.00
    open_dispute(
        actor=operator, client=euro, invoice_id=invoice.pk, reason="x", amount_minor=123456
    )
    html = ops.get("/console/disputes/").content.decode()
    assert "€1,234.56" in html
    assert "$0.90" in html
    assert "Acme Inc." in html and "Berlin Inc." in html
    assert "Our turn" in html and "2 open disputes, 1 waiting for our answer" in html
    assert f'href="/console/disputes/{dispute.pk}/"' in html


def test_the_dispute_page_shows_invoice_lines_conversation_and_notes_apart(
    ops, operator, acme, dispute
):
    post_dispute_message(actor=operator, client=acme, dispute_id=dispute.pk, body="Checking.")
    add_internal_note(actor=operator, dispute_id=dispute.pk, body="Goodwill up to $1 is fine.")
    response = ops.get(f"/console/disputes/{dispute.pk}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert dispute.invoice.display_number in html
    assert "Label" in html and "$0.90" in html  # the disputed line and its amount
    assert "Labels for cancelled orders." in html and "Checking." in html
    notes = html[html.index('class="internal-notes"') :]
    assert "Never shown to the client" in notes and "Goodwill up to $1 is fine." in notes
    conversation = html[html.index('id="conversation"') : html.index('id="notes"')]
    assert "Goodwill" not in conversation
    # Read through the disputes app's queries: the line's unit price, each message's side
    # and author.
    assert "0.0450" in html
    client_says, we_say = conversation.split('<li class="message-')[1:3]
    assert client_says.startswith('client">') and "ap@acme.example" in client_says
    assert we_say.startswith('operator">') and "ops@northwind.example" in we_say
    # The credit starts from the amount at stake.
    assert (
        'name="credit_amount" type="number" step="any" min="0" inputmode="decimal" value="0.90"'
        in html
    )


def test_the_page_is_the_same_for_a_platform_owner(dispute):
    http = HttpClient()
    http.force_login(make_user(role=Role.PLATFORM_OWNER))
    assert http.get(f"/console/disputes/{dispute.pk}/").status_code == 200


def test_the_desk_writes_money_in_the_operators_locale(ops, dispute):
    euro = make_client("berlin", currency="EUR", prices={**DEFAULT_PRICES, "pick": "500"})
    invoice = issued_invoice(euro, picks=4)
    open_dispute(
        actor=make_user(role=Role.CLIENT_USER, client=euro),
        client=euro,
        invoice_id=invoice.pk,
        reason="x",
        amount_minor=123456,
    )
    html = ops.get("/console/disputes/", HTTP_ACCEPT_LANGUAGE="de-DE").content.decode()
    assert "1.234,56\xa0€" in html


def test_the_desk_pages_oldest_first_with_the_shared_paginator(acme, acme_user, ops):
    opened = []
    for days_ago in (5, 4, 3):
        invoice = issued_invoice(acme, picks=2)
        d = open_dispute(actor=acme_user, client=acme, invoice_id=invoice.pk, reason="x")
        Dispute.objects.filter(pk=d.pk).update(opened_at=timezone.now() - timedelta(days=days_ago))
        opened.append(d.pk)
    today = timezone.localdate()
    first = queries.dispute_desk(today, limit=2)
    assert [r.id for r in first.rows] == opened[:2] and first.prev_cursor is None
    second = queries.dispute_desk(today, cursor=first.next_cursor, limit=2)
    assert [r.id for r in second.rows] == opened[2:] and second.next_cursor is None
    back = queries.dispute_desk(today, cursor=second.prev_cursor, limit=2)
    assert [r.id for r in back.rows] == opened[:2]
    assert second.total == 3  # the counts are of the whole queue, not the page
    # A forged cursor is no cursor: the first page.
    forged = ops.get("/console/disputes/", {"cursor": "not-a-cursor"})
    assert forged.status_code == 200 and f'data-dispute="{opened[0]}"' in forged.content.decode()


def test_the_dispute_page_says_how_late_an_open_invoice_is(ops, acme, acme_user):
    september = (date(2026, 9, 1), date(2026, 9, 30))
    invoice = issued_invoice(acme, picks=3, period=september, issue_date=date(2026, 10, 1))
    d = open_dispute(actor=acme_user, client=acme, invoice_id=invoice.pk, reason="Late")
    html = ops.get(f"/console/disputes/{d.pk}/").content.decode()
    assert invoice.due_date == date(2026, 10, 31)  # 25 days before the tests' Nov 25
    assert "25 days late" in html

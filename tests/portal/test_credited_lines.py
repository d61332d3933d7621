"""A credit note of chosen lines shows the client which lines it credits and by how much:
on the invoice's page and its PDF, read under the client scope, never another client's."""

from datetime import date

import pytest
from django.test import Client as WebClient

from tally.accounts.models import Role
from tally.actions.invoices import create_credit_note, credit_invoice_lines
from tally.audit.actors import SystemActor
from tally.invoicing.models import CreditNoteLine
from tally.portal import queries
from tally.portal.scope import client_scope
from tests.factories import issued_invoice, make_client, make_user
from tests.portal.test_pdf import pdf_text, render

pytestmark = pytest.mark.django_db


def test_the_client_sees_which_lines_a_credit_note_credits(acme, globex):
    invoice = issued_invoice(acme, picks=10, labels=20)  # picks $3.50, labels $0.90
    picks, labels = invoice.lines.get(kind="pick"), invoice.lines.get(kind="label")
    note = credit_invoice_lines(
        actor=SystemActor.TESTS,
        client=acme,
        invoice_id=invoice.pk,
        lines=[(picks.pk, 100), (labels.pk, 90)],
        reason="Cancelled orders",
    )
    other = issued_invoice(globex, picks=4)
    credit_invoice_lines(
        actor=SystemActor.TESTS,
        client=globex,
        invoice_id=other.pk,
        lines=[(other.lines.get().pk, 35)],
        reason="Globex-only credit",
    )

    [row] = queries.invoice_detail(acme.pk, invoice.pk, date(2026, 11, 20)).credit_notes
    assert (row.reason, row.amount_minor) == ("Cancelled orders", 190)
    assert [(c.description, c.amount_minor) for c in row.lines] == [
        (labels.description, 90),
        (picks.description, 100),
    ]

    web = WebClient()
    web.force_login(make_user(role=Role.CLIENT_USER, client=acme))
    html = web.get(f"/invoices/{invoice.display_number}/").content.decode()
    listed = html[html.index(f'aria-label="Lines credited by {note.display_number}"') :]
    listed = listed[: listed.index("</ul>")]
    assert f"<li>{labels.description}: $0.90</li>" in listed
    assert f"<li>{picks.description}: $1.00</li>" in listed
    assert "Globex" not in html

    _, _, text = pdf_text(render(acme, invoice))
    assert f"Cancelled orders ({labels.description}: $0.90; {picks.description}: $1.00)" in text

    # The table is in the client scope: each client reads its own rows only.
    with client_scope(acme.pk):
        assert CreditNoteLine.objects.count() == 2
    with client_scope(globex.pk):
        assert list(CreditNoteLine.objects.values_list("amount_minor", flat=True)) == [35]


def test_a_credit_note_by_amount_lists_no_lines():
    berlin = make_client("berlin")
    invoice = issued_invoice(berlin, picks=10)
    create_credit_note(
        actor=SystemActor.TESTS,
        client=berlin,
        invoice_id=invoice.pk,
        amount_minor=50,
        reason="Goodwill",
    )
    [row] = queries.invoice_detail(berlin.pk, invoice.pk, date(2026, 11, 20)).credit_notes
    assert row.lines == ()
    assert not CreditNoteLine.objects.exists()

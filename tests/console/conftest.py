from datetime import date

import pytest
from django.test import Client as HttpClient

from tally.accounts.models import Role
from tally.disputes.services import open_dispute
from tally.invoicing.services import start_billing_run
from tests.factories import issued_invoice, make_user


@pytest.fixture
def acme_user(acme):
    return make_user(role=Role.CLIENT_USER, client=acme, email="ap@acme.example")


@pytest.fixture
def invoice(acme):
    """Acme's issued invoice of October: 10 picks ($3.50) and 20 labels ($0.90), $4.40."""
    return issued_invoice(acme, picks=10, labels=20)


@pytest.fixture
def dispute(invoice, acme_user):
    """Acme disputes its labels line, $0.90, and waits for the 3PL's answer."""
    line = invoice.lines.get(kind="label")
    return open_dispute(
        actor=acme_user,
        client=invoice.client,
        invoice_id=invoice.pk,
        reason="Labels for cancelled orders.",
        line_ids=[line.pk],
    )


@pytest.fixture
def billing_run(operator, acme):
    """October's run for every client, queued for the worker."""
    return start_billing_run(
        actor=operator, month=date(2026, 10, 1), client_ids=None, today=date(2026, 11, 20)
    )


@pytest.fixture
def ops(operator):
    """A browser signed in as the operator."""
    http = HttpClient()
    http.force_login(operator)
    return http


@pytest.fixture
def acme_browser(acme_user):
    http = HttpClient()
    http.force_login(acme_user)
    return http

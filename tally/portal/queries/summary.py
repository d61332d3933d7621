"""The head of the billing page: who the client is, and the four stat cards."""

from dataclasses import dataclass
from datetime import date

from django.db import connection

from tally.clients.models import Client
from tally.disputes.models import Dispute
from tally.errors import NotFound
from tally.invoicing.models import (
    Invoice,
)
from tally.payments.models import Payment

from ..scope import client_scope
from .common import _tables


@dataclass(frozen=True)
class ClientHeader:
    id: int
    name: str
    code: str
    currency: str
    time_zone: str
    address: str


@dataclass(frozen=True)
class StatCards:
    currency: str
    outstanding_minor: int
    open_count: int
    overdue_minor: int
    overdue_count: int
    paid_ytd_minor: int
    disputed_count: int
    unapplied_credit_minor: int


def client_header(client_id: int) -> ClientHeader:
    with client_scope(client_id, _tables(Client)):
        values = (
            Client.objects.filter(pk=client_id)
            .values("id", "name", "code", "currency", "time_zone", "address")
            .first()
        )
    if values is None:
        raise NotFound("client")
    return ClientHeader(**values)


# The four cards in one statement: the billing page's first read, and the ORM took longer
# to build its three aggregates than the database took to run them. Overdue is the table's
# status (open, past due, no open dispute); disputed counts invoices with an open dispute
# (at most one each, a unique index), the table's "disputed"; paid YTD is money received.
# These copy invoicing/status.py's rules in SQL: tests/portal/test_fast_paths.py holds
# the two together.
_STAT_CARDS_SQL = """
SELECT
    (SELECT currency FROM clients_client WHERE id = %(client)s),
    o.outstanding, o.open_count, o.overdue, o.overdue_count,
    (SELECT COALESCE(SUM(amount_minor), 0) FROM payments_payment
     WHERE client_id = %(client)s AND received_on >= %(year_start)s AND received_on <= %(today)s),
    (SELECT COUNT(*) FROM disputes_dispute d
     WHERE d.client_id = %(client)s AND d.status = 'open' AND EXISTS (
         SELECT 1 FROM invoicing_invoice i WHERE i.id = d.invoice_id AND i.status NOT IN ('void', 'draft')
     )),
    (SELECT COALESCE(SUM(unapplied_minor), 0) FROM payments_payment WHERE client_id = %(client)s)
FROM (
    SELECT COALESCE(SUM(balance_minor), 0) AS outstanding,
           COUNT(*) AS open_count,
           COALESCE(SUM(balance_minor) FILTER (WHERE overdue), 0) AS overdue,
           COUNT(*) FILTER (WHERE overdue) AS overdue_count
    FROM (
        SELECT i.balance_minor,
               i.due_date < %(today)s AND NOT EXISTS (
                   SELECT 1 FROM disputes_dispute d WHERE d.invoice_id = i.id AND d.status = 'open'
               ) AS overdue
        FROM invoicing_invoice i
        WHERE i.client_id = %(client)s AND i.status = 'open'
    ) open_invoice
) o
"""


def stat_cards(client_id: int, today: date) -> StatCards:
    with client_scope(client_id, _tables(Client, Invoice, Dispute, Payment)):
        with connection.cursor() as cursor:
            cursor.execute(
                _STAT_CARDS_SQL,
                {
                    "client": client_id,
                    "today": connection.ops.adapt_datefield_value(today),
                    "year_start": connection.ops.adapt_datefield_value(date(today.year, 1, 1)),
                },
            )
            row = cursor.fetchone()
    if row is None or row[0] is None:
        raise NotFound("client")
    currency, outstanding, open_count, overdue, overdue_count, paid, disputed, unapplied = row
    return StatCards(
        currency=currency,
        outstanding_minor=int(outstanding),
        open_count=int(open_count),
        overdue_minor=int(overdue),
        overdue_count=int(overdue_count),
        paid_ytd_minor=int(paid),
        disputed_count=int(disputed),
        unapplied_credit_minor=int(unapplied),
    )

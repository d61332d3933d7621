"""Every client's aging in one currency as of a day, most owed first, a page at a time:
the whole table behind the overview's clients owing most (`overview.aging_by_client`).

One statement whatever the page: what each client owed at the end of the day is summed
in Python from the invoices that owed then (`overview.aging_rows`, as the overview does:
in SQL the payments and credits of each invoice would be worked out twice), and the
page is cut from it by the shared keyset paginator (`paginate_rows`), most owed first,
then the client."""

from dataclasses import dataclass
from datetime import date
from typing import Any

from tally.pagination import IntKey, KeysetPaginator

from .overview import AgingRow, aging_rows, totals_of

PAGE_SIZE = 50

AGING_PAGES = KeysetPaginator(
    "console.aging", [IntKey("owed", seek=False), IntKey("client_id")], descending=True
)


@dataclass(frozen=True)
class AgingPage:
    as_of: date
    currency: str
    currencies: list[str]  # those anything was owed in at the end of the day
    rows: list[AgingRow]  # most owed first
    total: AgingRow | None  # every client's, in this currency
    clients: int  # how many owed something in this currency
    next_cursor: str | None
    prev_cursor: str | None


def aging_page(
    as_of: date, currency: str = "", cursor: str | None = None, limit: int | None = None
) -> AgingPage:
    """A page of the clients that owed something in `currency` at the end of `as_of`
    (the first currency owed when it is none of them), most owed first."""
    rows = aging_rows(as_of)
    currencies = sorted({r.currency for r in rows})
    if currency not in currencies:
        currency = currencies[0] if currencies else ""
    if not currency:
        return AgingPage(as_of, "", [], [], None, 0, None, None)
    of_currency = [r for r in rows if r.currency == currency]
    positions: list[dict[str, Any]] = [
        {"owed": r.balance_minor, "client_id": r.client_id, "row": r} for r in of_currency
    ]
    page = AGING_PAGES.paginate_rows(
        positions,
        AGING_PAGES.decode(cursor),
        limit or PAGE_SIZE,
    )
    return AgingPage(
        as_of=as_of,
        currency=currency,
        currencies=currencies,
        rows=[r["row"] for r in page.results],
        total=totals_of(currency, of_currency),
        clients=len(of_currency),
        next_cursor=page.next,
        prev_cursor=page.prev,
    )

"""Downloads for the client: CSVs streamed a keyset page at a time, and the invoice PDF."""

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import date

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from tally.money import to_decimal

from . import queries
from .access import Portal, client_portal
from .views import HtmxHttpRequest, invoice_id_from_number, table_filters


class _Echo:
    def write(self, value: str) -> str:
        return value


# A spreadsheet runs a cell that starts like this as a formula: "=HYPERLINK(…)" in an
# event's reference (free text from the 3PL's systems) must open as text.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _stream_csv(
    filename: str, header: list[str], rows: Iterable[list[object]]
) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@client_portal
def invoices_csv(request: HtmxHttpRequest, portal: Portal) -> StreamingHttpResponse:
    """The invoice list as filtered and sorted on screen, every page of it."""
    form, filters = table_filters(request, portal)
    rows = queries.all_invoice_rows(
        portal.client_id, portal.today, filters, form.sort_key, form.is_descending
    )
    return _stream_csv(
        f"invoices-{portal.client.code}-{portal.today}.csv",
        ["number", "issue_date", "due_date", "status", "currency", "total", "balance"],
        (
            [
                r.number,
                r.issue_date,
                r.due_date,
                r.status,
                r.currency,
                to_decimal(r.total_minor, r.currency),
                to_decimal(r.balance_minor, r.currency),
            ]
            for r in rows
        ),
    )


@require_GET
@client_portal
def line_events_csv(
    request: HtmxHttpRequest, portal: Portal, number: str, line_id: int
) -> StreamingHttpResponse:
    """Every event a line bills, streamed: a line with a million events never sits in memory."""
    first = queries.line_events(portal.client_id, line_id, limit=1)  # 404 for a line not theirs
    if first.invoice_number != number:
        raise Http404("no such line on this invoice")
    events = queries.all_line_events(portal.client_id, line_id)
    return _stream_csv(
        f"{first.invoice_number}-line-{line_id}-events.csv",
        ["occurred_at", "kind", "reference", "quantity", "details"],
        (
            [
                e.occurred_at.isoformat(),
                e.kind,
                e.reference,
                e.quantity,
                json.dumps(e.details, sort_keys=True, separators=(",", ":")),
            ]
            for e in events
        ),
    )


@require_GET
@client_portal
def aging_csv(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    try:
        as_of = (
            date.fromisoformat(request.GET.get("as_of", ""))
            if request.GET.get("as_of")
            else portal.today
        )
    except ValueError:
        as_of = portal.today
    report = queries.aging(portal.client_id, as_of)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="aging-{portal.client.code}-{as_of}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(["as_of", "bucket", "invoices", "balance", "currency"])
    for b in report.buckets:
        writer.writerow(
            [
                as_of,
                b.label,
                b.invoice_count,
                to_decimal(b.balance_minor, report.currency),
                report.currency,
            ]
        )
    writer.writerow(
        [
            as_of,
            "Total",
            report.invoice_count,
            to_decimal(report.total_minor, report.currency),
            report.currency,
        ]
    )
    return response


@require_GET
@client_portal
def invoice_pdf(request: HtmxHttpRequest, portal: Portal, number: str) -> HttpResponse:
    invoice_id = invoice_id_from_number(portal, number)
    from .pdf import render_invoice_pdf

    detail = queries.invoice_detail(portal.client_id, invoice_id, portal.today)
    response = HttpResponse(
        render_invoice_pdf(portal.client, detail, locale=portal.locale),
        content_type="application/pdf",
    )
    response["Content-Disposition"] = f'attachment; filename="{detail.row.number}.pdf"'
    return response

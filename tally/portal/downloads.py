"""Downloads for the client: CSVs streamed a keyset page at a time, and the invoice PDF.

The CSVs are for spreadsheets: headings, kinds and statuses in the words the pages use,
times in the client's time zone, amounts as plain numbers with their currency beside them
(a spreadsheet sums them), and an event's details as columns of their own.
"""

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import datetime, tzinfo

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from tally.money import to_decimal
from tally.payments.forms import AgingDayForm
from tally.web import download, save_as

from . import queries
from .access import Portal, client_portal
from .formatting import kind_label
from .views import HtmxHttpRequest, invoice_id_from_number, statement_state, table_filters


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

    return save_as(StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8"), filename)


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
        ["Invoice", "Issue date", "Due date", "Status", "Currency", "Total", "Balance"],
        (
            [
                r.number,
                r.issue_date,
                r.due_date,
                r.status_label,
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
    keys = queries.line_detail_keys(portal.client_id, line_id)
    events = queries.all_line_events(portal.client_id, line_id)
    # The client's zone, which client_portal set: taken now, as the rows are written after
    # the view has returned (and its override of the current zone has ended).
    zone = timezone.get_current_timezone()
    return _stream_csv(
        f"{first.invoice_number}-line-{line_id}-events.csv",
        [f"When ({zone})", "Kind", "Reference", "Quantity", *keys],
        (
            [
                local_time(e.occurred_at, zone),
                kind_label(e.kind),
                e.reference,
                e.quantity,
                *(detail_cell(e.details.get(key)) for key in keys),
            ]
            for e in events
        ),
    )


def local_time(moment: datetime, zone: tzinfo) -> str:
    """An instant in the client's time zone, as the pages show it, to the second, written
    as spreadsheets read a date and time: 2026-10-03 14:05:09."""
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"


def detail_cell(value: object) -> object:
    """One detail of an event as a cell: text and numbers as they are, nothing for a key
    the event lacks, a nested object or list as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return value


@require_GET
@client_portal
def aging_csv(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    as_of = AgingDayForm(request.GET if "as_of" in request.GET else None, today=portal.today).day
    report = queries.aging(portal.client_id, as_of)
    response = save_as(
        HttpResponse(content_type="text/csv; charset=utf-8"),
        f"aging-{portal.client.code}-{as_of}.csv",
    )
    writer = csv.writer(response)
    writer.writerow(["As of", "Days past due", "Invoices", "Balance", "Currency"])
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
    pdf = render_invoice_pdf(portal.client, detail, locale=portal.locale)
    return download(pdf, "application/pdf", f"{detail.row.number}.pdf")


@require_GET
@client_portal
def dispute_attachment(
    request: HttpRequest, portal: Portal, number: str, attachment_id: int, filename: str
) -> HttpResponse:
    """A file sent with a dispute of the client's own invoice: always downloaded, never
    shown inline, under the name it was stored with (never the URL's)."""
    invoice_id = invoice_id_from_number(portal, number)
    file = queries.attachment_file(portal.client_id, invoice_id, attachment_id)
    return download(file.data, file.content_type, file.filename)


@require_GET
@client_portal
def statement_pdf(request: HtmxHttpRequest, portal: Portal) -> HttpResponse:
    """The statement of the range the page shows, as a PDF; a bad range is the page with
    its errors."""
    form, result = statement_state(request, portal)
    if result is None:
        return render(
            request, "portal/statement.html", {"portal": portal, "form": form, "statement": None},
            status=422,
        )  # fmt: skip
    from .statement_pdf import render_statement_pdf

    pdf = render_statement_pdf(portal.client, result, locale=portal.locale)
    name = f"statement-{portal.client.code}-{result.start}-{result.end}.pdf"
    return download(pdf, "application/pdf", name)


@require_GET
@client_portal
def credit_note_pdf(request: HttpRequest, portal: Portal, number: int) -> HttpResponse:
    """A credit note of the client's, as a PDF named by its stored number."""
    from .documents_pdf import render_credit_note_pdf

    note = queries.credit_note_document(portal.client_id, number)
    pdf = render_credit_note_pdf(portal.client, note, locale=portal.locale)
    return download(pdf, "application/pdf", f"{note.number}.pdf")


@require_GET
@client_portal
def receipt_pdf(request: HttpRequest, portal: Portal, payment_id: int) -> HttpResponse:
    """The receipt of a payment of the client's, named by its day and its id."""
    from .documents_pdf import render_receipt_pdf

    receipt = queries.payment_receipt(portal.client_id, payment_id)
    pdf = render_receipt_pdf(portal.client, receipt, locale=portal.locale)
    return download(pdf, "application/pdf", f"receipt-{receipt.received_on}-{receipt.id}.pdf")

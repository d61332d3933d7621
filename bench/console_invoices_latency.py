"""Server-side latency of the console's invoices list and invoice page, through Django's
real request handling, on the portal benchmark's data set (bench/portal_dataset.py).

    .venv/bin/python bench/console_invoices_latency.py --db sqlite --requests 50

Signed in as an operator (made if the data set has none), each scenario warmed up and then
run `--requests` times; p50 and p95 in milliseconds, printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import re
import time

import portal_common as common

HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "invoice-table"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    common.configure(args.db)
    common.setup_django()

    from django.test import Client as HttpClient
    from django.utils import timezone

    from tally.accounts.models import Role, User
    from tally.invoicing.models import Invoice, InvoiceLine
    from tally.operations.models import Event

    manifest = common.load_manifest(args.db)
    operator = User.objects.filter(role=Role.OPERATOR).first() or User.objects.create_user(
        "bench-ops@northwind.example", None, role=Role.OPERATOR
    )
    http = HttpClient(HTTP_HOST="localhost")
    http.force_login(operator)
    today = timezone.localdate()
    big = manifest["big_client"]["id"]
    number = (
        Invoice.objects.filter(number__isnull=False)
        .order_by("-number")
        .values_list("number", flat=True)[100]
    )
    reference = (
        Event.objects.filter(client_id=big)
        .order_by("-id")
        .values_list("reference", flat=True)[5000]
    )
    other = Invoice.objects.exclude(client_id=big).filter(number__isnull=False).first()
    other_reference = (
        Event.objects.filter(client_id=other.client_id).values_list("reference", flat=True).first()
    )
    million = manifest["million_line"]
    heavy_invoice = InvoiceLine.objects.get(pk=million["line_id"]).invoice_id

    def deep_cursor(query: str, pages: int) -> str:
        url = f"/console/invoices/?{query}"
        for _ in range(pages):
            html = http.get(url).content.decode()
            found = re.search(r'rel="next" href="([^"]+)"', html)
            if not found:
                break
            url = "/console/invoices/" + found.group(1).replace("&amp;", "&")
        return url

    scenarios = {
        "list, first page": ("/console/invoices/", {}),
        "list, htmx table": ("/console/invoices/?sort=issue_date&dir=desc", HTMX_TABLE),
        "list, page 100": (deep_cursor("sort=amount&dir=asc", 99), HTMX_TABLE),
        "status overdue + disputed": (
            "/console/invoices/?status=overdue&status=disputed",
            HTMX_TABLE,
        ),
        "aging over 90, as of today": (
            f"/console/invoices/?aging=over_90&as_of={today.isoformat()}",
            HTMX_TABLE,
        ),
        "aging 1-30 of the big client": (
            f"/console/invoices/?client={big}&aging=1_30&as_of={today.isoformat()}",
            HTMX_TABLE,
        ),
        "amount 100-200, any currency": (
            "/console/invoices/?amount_min=100&amount_max=200",
            HTMX_TABLE,
        ),
        "search number INV-…": (f"/console/invoices/?q=INV-{number}", HTMX_TABLE),
        "search reference (unbilled), every client": (
            f"/console/invoices/?q={reference}",
            HTMX_TABLE,
        ),
        "search reference, small client": (f"/console/invoices/?q={other_reference}", HTMX_TABLE),
        "search reference (unbilled), its client": (
            f"/console/invoices/?q={reference}&client={big}",
            HTMX_TABLE,
        ),
        "invoice page (1M-event line)": (f"/console/invoices/{heavy_invoice}/", {}),
        "line events, first page": (
            f"/console/invoices/{heavy_invoice}/lines/{million['line_id']}/",
            {"HTTP_HX_REQUEST": "true"},
        ),
    }
    print(f"| scenario ({args.db}, {args.requests} requests) | p50 ms | p95 ms | rows |")
    print("|---|---:|---:|---:|")
    for name, (url, headers) in scenarios.items():
        for _ in range(args.warmup):
            response = http.get(url, **headers)
            assert response.status_code == 200, (name, url, response.status_code)
        times = []
        for _ in range(args.requests):
            start = time.perf_counter()
            response = http.get(url, **headers)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        rows = response.content.decode().count("<tr data-invoice=")
        p50 = common.percentile(times, 50)
        p95 = common.percentile(times, 95)
        print(f"| {name} | {p50:.1f} | {p95:.1f} | {rows} |")


if __name__ == "__main__":
    main()

"""Server-side latency of the client portal, through Django's real request handling.

    .venv/bin/python bench/portal_latency.py --db sqlite
    .venv/bin/python bench/portal_latency.py --db postgres --requests 200 --label after
    .venv/bin/python bench/portal_latency.py --db sqlite --only events   # scenarios matching

In one process: django.test.Client, signed in (force_login) as the client user of the
largest client, every request through the whole middleware stack (sessions, auth, CSRF,
htmx), the view, the query layer inside its client scope, and the template. Each request
is timed with time.perf_counter around `client.get`; each scenario is warmed up first and
then run `--requests` times (rotating over its URLs). The browser's htmx requests carry
the headers it sends (HX-Request, HX-Target), so a filter or a page of the table is the
partial the browser really asks for.

Needs a data set: bench/portal_dataset.py --db <db>. Results go to
bench/data/portal-<db>/latency-<label>.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import portal_common as common

HTMX_TABLE = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "invoice-table"}
HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class Scenario:
    name: str
    group: str
    goal_ms: float
    requests: list[tuple[str, dict[str, str]]]  # (url, headers), rotated


def build_scenarios(manifest: dict[str, Any]) -> list[Scenario]:
    """The URLs of each scenario, found in the data set (as the database owner)."""
    from django.db.models import Max, Min

    from tally.invoicing.models import Invoice, InvoiceLine
    from tally.invoicing.naming import format_invoice_number
    from tally.invoicing.queries import billed_events
    from tally.portal import queries
    from tally.portal.queries.events import EVENT_PAGES

    big = manifest["big_client"]["id"]
    rng = random.Random(7)
    visible = Invoice.objects.filter(client_id=big).exclude(status="draft")
    span = visible.aggregate(
        lo=Min("issue_date"), hi=Max("issue_date"), amin=Min("total_minor"), amax=Max("total_minor")
    )
    numbers = [format_invoice_number(n) for n in visible.values_list("number", flat=True)]
    sample = rng.sample(numbers, min(200, len(numbers)))
    recent = [
        format_invoice_number(n)
        for n in visible.order_by("-issue_date").values_list("number", flat=True)[:200]
    ]
    scenarios: list[Scenario] = []

    def add(name: str, group: str, goal: float, reqs: list[tuple[str, dict[str, str]]]) -> None:
        scenarios.append(Scenario(name, group, goal, reqs))

    add("billing page (stat cards + first table page)", "billing", 50, [("/", {})])
    add("billing table, first page (htmx)", "table", 50, [("/", HTMX_TABLE)])
    for status in queries.STATUSES:
        add(f"filter status={status}", "filter", 50, [(f"/?status={status}", HTMX_TABLE)])
    add(
        "filter status=overdue, full page (shared link)",
        "filter",
        50,
        [("/?status=overdue", {})],
    )
    lo, hi = span["lo"], span["hi"]
    quarter = [(hi - timedelta(days=90 * k + 90), hi - timedelta(days=90 * k)) for k in range(8)]
    add(
        "filter issued date range (a quarter)",
        "filter",
        50,
        [(f"/?issued_from={a}&issued_to={b}", HTMX_TABLE) for a, b in quarter],
    )
    add(
        "filter due date range (a quarter)",
        "filter",
        50,
        [(f"/?due_from={a}&due_to={b}", HTMX_TABLE) for a, b in quarter],
    )
    add(
        "filter issued from (open-ended, 1 year)",
        "filter",
        50,
        [(f"/?issued_from={hi - timedelta(days=365)}", HTMX_TABLE)],
    )
    add("filter amount range", "filter", 50, [("/?amount_min=500&amount_max=1500", HTMX_TABLE)])
    add("filter amount ≥ (large invoices)", "filter", 50, [("/?amount_min=100000", HTMX_TABLE)])
    add(
        "search by invoice number",
        "filter",
        50,
        [(f"/?q={n}", HTMX_TABLE) for n in sample[:50]],
    )
    # References of billed events: one event from each of 50 lines spread over the client.
    usage_lines = list(
        InvoiceLine.objects.filter(client_id=big, kind__in=["pick", "label"]).order_by("id")
    )
    refs = [
        ref
        for line in rng.sample(usage_lines, min(50, len(usage_lines)))
        for ref in billed_events(line).values_list("reference", flat=True)[:1]
    ]
    add(
        "search by event reference (order / tracking no.)",
        "filter",
        50,
        [(f"/?q={r}", HTMX_TABLE) for r in refs] or [("/?q=SO-000-000000001", HTMX_TABLE)],
    )
    add(
        "filters combined (status + dates + amount)",
        "filter",
        50,
        [
            (f"/?status=paid&issued_from={a}&issued_to={b}&amount_min=100", HTMX_TABLE)
            for a, b in quarter
        ],
    )
    add("filter aging bucket (over 90 days)", "filter", 50, [("/?bucket=over_90", HTMX_TABLE)])
    for sort in queries.SORTS:
        for direction in ("desc", "asc"):
            add(
                f"sort {sort} {direction}",
                "sort",
                50,
                [(f"/?sort={sort}&dir={direction}", HTMX_TABLE)],
            )
    # Deep pages: walk next_cursor 60 pages in, then time that page.
    for sort, direction, status in (
        ("issue_date", "desc", ""),
        ("amount", "asc", ""),
        ("balance", "desc", ""),
        ("status", "desc", ""),
        ("due_date", "asc", "paid"),
    ):
        filters = queries.InvoiceFilters(statuses=(status,) if status else ())
        cursor = None
        for _ in range(60):
            page = queries.invoice_page(
                big,
                _today(big),
                filters,
                sort=sort,
                descending=direction == "desc",
                cursor=cursor,
            )
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        extra = f"&status={status}" if status else ""
        add(
            f"page 61 (sort {sort} {direction}{' , ' + status if status else ''})",
            "page",
            50,
            [(f"/?sort={sort}&dir={direction}{extra}&cursor={cursor}", HTMX_TABLE)],
        )
    add(
        "invoice drilldown (htmx), 200 invoices",
        "drilldown",
        50,
        [(f"/invoices/{n}/", HTMX) for n in sample],
    )
    add(
        "invoice drilldown (htmx), recent invoices",
        "drilldown",
        50,
        [(f"/invoices/{n}/", HTMX) for n in recent[:50]],
    )
    add("invoice page (full)", "drilldown", 50, [(f"/invoices/{n}/", {}) for n in sample[:50]])
    million = manifest["million_line"]
    number = format_invoice_number(million["invoice_number"])
    line_id = million["line_id"]
    million_url = f"/invoices/{number}/"
    add("drilldown of the million-event line's invoice", "drilldown", 50, [(million_url, HTMX)])
    events_url = f"/invoices/{number}/lines/{line_id}/events/"
    add("events of the 1M line, page 1 (htmx)", "events", 30, [(events_url, HTMX)])
    add("events of the 1M line, page 1 (full page)", "events", 30, [(events_url, {})])
    total = InvoiceLine.objects.get(pk=line_id).event_count
    ordered = billed_events(InvoiceLine.objects.get(pk=line_id)).order_by("occurred_at", "id")
    for fraction in (0.1, 0.5, 0.999):
        depth = int(total * fraction)
        at, eid = ordered.values_list("occurred_at", "id")[depth]
        after = EVENT_PAGES.encode({"occurred_at": at, "id": eid})
        add(
            f"events of the 1M line, depth {depth:,} (htmx)",
            "events",
            30,
            [(f"{events_url}?cursor={after}", HTMX)],
        )
    # Searched by reference (the box above the line's events): an order number of its
    # last day, and one it does not bill (every day of the line is sought).
    near_end = ordered.values_list("reference", flat=True)[total - 100]
    add(
        "events of the 1M line, searched by a reference near its end (htmx)",
        "events",
        30,
        [(f"{events_url}?q={quote(near_end)}", HTMX)],
    )
    add(
        "events of the 1M line, searched by a reference it does not bill (htmx)",
        "events",
        30,
        [(f"{events_url}?q=NO-SUCH-REF", HTMX)],
    )
    at, eid = ordered.values_list("occurred_at", "id")[total // 2]
    before = EVENT_PAGES.encode({"occurred_at": at, "id": eid}, backwards=True)
    add(
        f"events of the 1M line, earlier page at depth {total // 2:,} (htmx)",
        "events",
        30,
        [(f"{events_url}?cursor={before}", HTMX)],
    )
    small_lines = list(
        InvoiceLine.objects.filter(client_id=big, invoice__status__in=["open", "paid"])
        .exclude(pk=line_id)
        .order_by("id")
        .values_list("id", "invoice__number")
    )[::97][:50]
    add(
        "events of ordinary lines, page 1 (htmx)",
        "events",
        30,
        [
            (f"/invoices/{format_invoice_number(n)}/lines/{lid}/events/", HTMX)
            for lid, n in small_lines
        ],
    )
    add("aging report", "aging", 50, [("/reports/aging/", {})])
    add(
        "aging report as of a past day",
        "aging",
        50,
        [(f"/reports/aging/?as_of={lo + timedelta(days=900)}", {})],
    )
    # The activity page (issue 13): this month by day, twelve months by month, and the
    # charges accrued so far, read from the running totals; and each line's events.
    add("activity page (charts + charges so far)", "activity", 50, [("/activity/", {})])
    slugs = [line.slug for line in queries.activity(big, _today(big)).estimate.lines]
    if slugs:
        charges = [f"/activity/charges/{slug}/events/" for slug in slugs]
        add("charges so far: a line's events, page 1", "activity", 50, [(u, {}) for u in charges])
        add(
            "charges so far: a line's events, page 1 (htmx)",
            "activity",
            50,
            [(u, HTMX) for u in charges],
        )
    return scenarios


def _today(client_id: int) -> Any:
    import zoneinfo

    from django.utils import timezone

    from tally.clients.models import Client

    tz = Client.objects.values_list("time_zone", flat=True).get(pk=client_id)
    return timezone.now().astimezone(zoneinfo.ZoneInfo(tz)).date()


def count_queries(get: Callable[[], Any]) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        get()
    return len(ctx.captured_queries)


def run(
    scenarios: list[Scenario], email: str, n: int, warmup: int, budget: float
) -> list[dict[str, Any]]:
    from django.test import Client

    from tally.accounts.models import User

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=email))
    results = []
    for sc in scenarios:
        reqs = sc.requests

        def get(i: int, reqs: list[tuple[str, dict[str, str]]] = reqs) -> Any:
            url, headers = reqs[i % len(reqs)]
            response = client.get(url, **headers)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
            return response

        for i in range(warmup):
            get(i)
        queries_per_request = count_queries(lambda: get(0))
        times, cpu = [], []
        size = 0
        started = time.perf_counter()
        for i in range(n):
            if i >= 30 and time.perf_counter() - started > budget:
                break  # a slow scenario: enough samples, keep the run bounded
            c0, t0 = time.thread_time(), time.perf_counter()
            response = get(i)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.thread_time() - c0) * 1000)
            size = len(response.content)
        times.sort()
        cpu.sort()
        row = {
            "scenario": sc.name,
            "group": sc.group,
            "goal_ms": sc.goal_ms,
            "n": len(times),
            "p50": round(common.percentile(times, 50), 2),
            "p95": round(common.percentile(times, 95), 2),
            "max": round(times[-1], 2),
            # CPU time of this process (Django + SQLite; on PostgreSQL the server's is not in it)
            "cpu_p50": round(common.percentile(cpu, 50), 2),
            "queries": queries_per_request,
            "bytes": size,
        }
        row["ok"] = row["p95"] <= sc.goal_ms
        results.append(row)
        print(
            f"  {sc.name:<62} p50 {row['p50']:7.2f}  p95 {row['p95']:7.2f}  max {row['max']:7.2f}"
            f"  cpu p50 {row['cpu_p50']:6.2f} ms"
            f"  {queries_per_request:3d} q  {'ok' if row['ok'] else 'MISS'}",
            flush=True,
        )
    return results


def markdown(db: str, results: list[dict[str, Any]]) -> str:
    lines = [
        f"| scenario ({db}) | goal | n | p50 ms | p95 ms | max ms | CPU p50 ms | SQL statements |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        mark = "" if r["ok"] else " **miss**"
        lines.append(
            f"| {r['scenario']} | ≤ {r['goal_ms']:.0f} | {r['n']} | {r['p50']:.1f} "
            f"| {r['p95']:.1f}{mark} "
            f"| {r['max']:.1f} | {r['cpu_p50']:.1f} | {r['queries']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--budget",
        type=float,
        default=30,
        help="seconds per scenario: a slower one stops early (after at least 30 requests)",
    )
    parser.add_argument("--label", default="run")
    parser.add_argument("--only", default="", help="run the scenarios whose name contains this")
    args = parser.parse_args()
    common.configure(args.db)
    common.setup_django()
    manifest = common.load_manifest(args.db)
    t = time.perf_counter()
    scenarios = build_scenarios(manifest)
    if args.only:
        scenarios = [s for s in scenarios if re.search(args.only, s.name)]
    print(f"{len(scenarios)} scenarios ({time.perf_counter() - t:.1f} s to find their URLs)")
    started = time.perf_counter()
    results = run(
        scenarios, manifest["big_client"]["user_email"], args.requests, args.warmup, args.budget
    )
    out = {
        "db": args.db,
        "label": args.label,
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "requests_per_scenario": args.requests,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": common.machine(),
        "results": results,
    }
    path = common.var_dir(args.db) / f"latency-{args.label}.json"
    path.write_text(json.dumps(out, indent=2))
    print()
    print(markdown(args.db, results))
    missed = [r["scenario"] for r in results if not r["ok"]]
    print(
        f"\n{len(results) - len(missed)}/{len(results)} scenarios within their goal; written {path}"
    )


if __name__ == "__main__":
    main()

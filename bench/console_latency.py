"""Server-side latency of the operator console, on the portal benchmark's data set.

    .venv/bin/python bench/console_latency.py --db sqlite
    .venv/bin/python bench/console_latency.py --db postgres
    .venv/bin/python bench/console_latency.py --db postgres --analyze --label stats
    .venv/bin/python bench/console_latency.py --db sqlite --only overview --explain

In one process, as bench/portal_latency.py: django.test.Client signed in (force_login) as
the data set's operator, every request through Django's whole request handling
(middleware, session, the `operator_console` check, the view, the console's queries, the
template), timed with perf_counter around `client.get`; each scenario warmed up, then
timed `--requests` times. Scenarios: the overview (today and as of a past day), the
dispute desk, the reminders to look at, the events with no price, and every console list
page that exists in the code being measured (invoices, drafts, payments, billing runs:
each looked up by its URL name, skipped when it is not there): its first page, the page
reached by following its `next` link 50+ times (or its last page, if it has fewer), and
filtered pages. p50, p95, max and SQL statements per request; goal p95 ≤ 100 ms each.

Planner statistics: `bench/portal_dataset.py --no-analyze` builds the data set as a
database that was never analysed (autovacuum off on PostgreSQL); `--analyze` here runs
ANALYZE first (what `PRAGMA optimize` runs on SQLite, and autovacuum on PostgreSQL), so
one build measures both. The manifest and the results say which it was.

Needs a data set: bench/portal_dataset.py --db <db>. Results go to
bench/data/portal-<db>/console-<label>.json and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import time
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

import portal_common as common
from portal_latency import Scenario, markdown, run

OPERATOR = "ops@portal-bench.example"
GOAL_MS = 100
DEPTH = 55  # how many `next` links a deep page is reached by
HTMX = {"HTTP_HX_REQUEST": "true"}

# The console's list pages (URL name) and the filters each is measured with, as query
# strings; `{client}` is the largest client, `{as_of}` a day 60 days back, `{today}`,
# `{reference}` an order number the largest client picked 400 days back (a search by
# event reference: every client's, or one client's).
LISTS: dict[str, list[str]] = {
    "console:invoices": [
        "status=overdue",
        "status=outstanding&currency=USD",
        "client={client}",
        "client={client}&status=paid",
        "client={client}&aging=over_90&as_of={today}",
        "client={client}&aging=1_30&as_of={as_of}",
        "q=INV-000037",
        "q={reference}",
        "client={client}&q={reference}",
    ],
    "console:drafts": ["client={client}"],
    "console:payments": ["client={client}", "client={client}&unapplied=1"],
    "console:billing_runs": [],
    "console:aging": ["as_of={as_of}", "currency=EUR"],
    "console:reminders": [],
    "console:disputes": [],
}


def _next_link(body: str) -> str | None:
    match = re.search(r'<a[^>]*rel="next"[^>]*href="([^"]+)"', body) or re.search(
        r'<a[^>]*href="([^"]+)"[^>]*rel="next"', body
    )
    return html.unescape(match.group(1)) if match else None


def _follow(client: Any, url: str, times: int) -> tuple[str, int]:
    """The URL reached from `url` by following its `next` link `times` times (or as far as
    the list goes), and how many were followed."""
    path = url.split("?", 1)[0]
    followed = 0
    for _ in range(times):
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        link = _next_link(response.content.decode())
        if not link:
            break
        url = path + link if link.startswith("?") else link
        followed += 1
    return url, followed


def _a_reference(client_id: int, day: date) -> str:
    """The reference of a pick of the client on that day (an order number)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reference FROM operations_event WHERE client_id = %s AND occurred_on = %s "
            "AND kind = 'pick' ORDER BY reference LIMIT 1",
            [client_id, day],
        )
        row = cursor.fetchone()
    if row is None:
        raise SystemExit(f"no pick of client {client_id} on {day}")
    return str(row[0])


def build_scenarios(manifest: dict[str, Any], only: str = "") -> list[Scenario]:
    """Every scenario, or those whose name matches `only` (a list's `next` links are then
    followed only for the lists and filters it matches: a deep page's name begins with
    theirs)."""
    from django.test import Client
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from tally.accounts.models import User

    today = timezone.localdate()
    as_of = today - timedelta(days=60)
    big = manifest["big_client"]["id"]
    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=OPERATOR))
    scenarios: list[Scenario] = []

    def add(name: str, group: str, urls: list[str]) -> None:
        scenarios.append(Scenario(name, group, GOAL_MS, [(u, {}) for u in urls]))

    def wanted(name: str) -> bool:
        return not only or re.search(only, name) is not None

    reference = _a_reference(big, today - timedelta(days=400))
    add("overview", "overview", ["/console/"])
    add(
        "overview, aging as of a past day",
        "overview",
        [f"/console/?as_of={today - timedelta(days=d)}" for d in (30, 200, 400, 900)],
    )
    add("events with no price", "overview", [reverse("console:unrated")])
    for name, filters in LISTS.items():
        try:
            base = reverse(name)
        except NoReverseMatch:
            print(f"  ({name} is not in this code: skipped)")
            continue
        label = name.split(":", 1)[1].replace("_", " ")
        add(f"{label}, first page", "list", [base])
        if wanted(label):
            deep, followed = _follow(client, base, DEPTH)
            if followed:
                add(f"{label}, page {followed + 1}", "deep", [deep])
        for query in filters:
            url = (
                base
                + "?"
                + query.format(client=big, as_of=as_of, today=today, reference=quote(reference))
            )
            add(f"{label} ?{query}", "filter", [url])
            if not wanted(f"{label} ?{query}"):
                continue
            deep, followed = _follow(client, url, DEPTH)
            if followed:
                add(f"{label} ?{query}, page {followed + 1}", "deep", [deep])
    return scenarios


def analyze() -> str:
    from django.db import connection

    t = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")
            what = "ANALYZE"
        else:
            # What `PRAGMA optimize` runs on tables it finds unanalysed (SQLite 3.46+
            # analyses them all; this machine's 3.40 only those its queries used).
            cursor.execute("ANALYZE")
            what = "ANALYZE"
    return f"{what} ({time.perf_counter() - t:.1f} s)"


def statistics() -> str:
    """Whether the planner has statistics of the events table."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' "
                "AND tablename = 'operations_event'"
            )
            return "analysed" if cursor.fetchone()[0] else "no statistics"
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        if not cursor.fetchone()[0]:
            return "no statistics"
        cursor.execute("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'operations_event'")
        return "analysed" if cursor.fetchone()[0] else "no statistics"


def explain(scenarios: list[Scenario]) -> None:
    """Each statement of a scenario's first request, with its plan."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tally.accounts.models import User

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=OPERATOR))
    pg = connection.vendor == "postgresql"
    for sc in scenarios:
        print(f"\n## {sc.name}: {sc.requests[0][0]}")
        with CaptureQueriesContext(connection) as ctx:
            client.get(sc.requests[0][0])
        for q in ctx.captured_queries:
            sql = q["sql"]
            if not sql.lstrip().upper().startswith(("SELECT", "WITH")) or "django_session" in sql:
                continue
            print(f"\n-- {q['time']} s: {sql[:400]}")
            with connection.cursor() as cursor:
                cursor.execute(("EXPLAIN ANALYZE " if pg else "EXPLAIN QUERY PLAN ") + sql)
                for row in cursor.fetchall():
                    print("   ", row[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--budget", type=float, default=20, help="seconds per scenario at most")
    parser.add_argument("--label", default="run")
    parser.add_argument("--only", default="", help="run the scenarios whose name matches this")
    parser.add_argument("--analyze", action="store_true", help="run ANALYZE first")
    parser.add_argument("--explain", action="store_true", help="print plans, do not time")
    args = parser.parse_args()
    common.configure(args.db)
    common.setup_django()
    manifest = common.load_manifest(args.db)
    analysed = analyze() if args.analyze else ""
    stats = statistics()
    print(f"planner statistics: {stats} {analysed}".rstrip())
    t = time.perf_counter()
    scenarios = build_scenarios(manifest, args.only)
    if args.only:
        scenarios = [s for s in scenarios if re.search(args.only, s.name)]
    print(f"{len(scenarios)} scenarios ({time.perf_counter() - t:.1f} s to find their URLs)")
    if args.explain:
        explain(scenarios)
        return
    started = time.perf_counter()
    results = run(scenarios, OPERATOR, args.requests, args.warmup, args.budget)
    out = {
        "db": args.db,
        "label": args.label,
        "statistics": stats,
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "requests_per_scenario": args.requests,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": common.machine(),
        "results": results,
    }
    path = common.var_dir(args.db) / f"console-{args.label}.json"
    path.write_text(json.dumps(out, indent=2))
    print()
    print(f"load average {out['machine']['load']}; planner statistics: {stats}")
    print(markdown(args.db, results))
    missed = [r["scenario"] for r in results if not r["ok"]]
    print(
        f"\n{len(results) - len(missed)}/{len(results)} scenarios within their goal; written {path}"
    )


if __name__ == "__main__":
    main()

"""A month's billing run started from the operator console, as an operator starts it.

    .venv/bin/python bench/billing_run.py --db sqlite                    # 10M events, 200 clients
    .venv/bin/python bench/billing_run.py --db postgres --pg-db tally_bench_billing
    .venv/bin/python bench/billing_run.py --db sqlite --events 200000    # a smoke run
    .venv/bin/python bench/billing_run.py --db sqlite --reuse            # the run again, same data

The data: `generate.py`'s month (`--clients` 200, `--events` 10M, the biggest client
`--big-share` 0.45 of them), ingested through `ingest_events` as `run.py` does, then
ANALYZE. `--reuse` keeps the database and deletes the month's drafts and runs first
(straight SQL: the benchmark's own cleanup), so the run bills the whole month again.

Then, timed: a `tally worker` process is already running (as `tally serve` runs one); the
operator posts the console's form (`/console/billing/`, every client, the month) through
Django's test client — the view, the one-time key, `start_billing_run`, the task row —
and the worker's `run_billing` task bills client by client. Meanwhile this process
watches the run's row every 50 ms (what the page's htmx poll reads) and asks for the
page's htmx partial once a second, as the browser would. Reported: the time from the
post to `done`, each gap between progress writes (`progress_at`, written by the worker
at most every 0.5 s while counting a client and after each client), the gaps as the
watcher saw them change, and the htmx poll's latency. Then the invariants of `run.py`'s
rating checks, over the drafts the run made.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import run as core  # noqa: E402

WATCH_EVERY = 0.05  # seconds between reads of the run's row
PAGE_EVERY = 1.0  # the page's htmx poll


def forget_month(month: date) -> None:
    """Delete the month's drafts and runs, so that a run bills the whole month again."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        drafts = "SELECT id FROM invoicing_invoice WHERE status = 'draft' AND period_start = %s"
        cursor.execute(
            "DELETE FROM invoicing_billingrunclient WHERE run_id IN "
            "(SELECT id FROM invoicing_billingrun WHERE period_start = %s)",
            [month],
        )
        cursor.execute("DELETE FROM invoicing_billingrun WHERE period_start = %s", [month])
        cursor.execute(f"DELETE FROM invoicing_billedrange WHERE invoice_id IN ({drafts})", [month])  # noqa: S608
        cursor.execute(f"DELETE FROM invoicing_invoiceline WHERE invoice_id IN ({drafts})", [month])  # noqa: S608
        cursor.execute(f"DELETE FROM invoicing_invoice WHERE id IN ({drafts})", [month])  # noqa: S608


def start_worker() -> subprocess.Popen[str]:
    """`tally worker`, as `tally serve` runs it, on the benchmark's database."""
    log = open(core.DATA / "billing-run-worker.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(  # noqa: S603 - fixed arguments
        [
            sys.executable,
            str(core.ROOT / "manage.py"),
            "worker",
            "--no-periodic",
            "--interval",
            "0.2",
            "--no-startup-delay",
        ],
        env=os.environ.copy(),
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def operator_browser() -> Any:
    from django.test import Client

    from tally.accounts.models import Role, User

    user = User.objects.filter(email="bench-operator@northwind.example").first()
    if user is None:
        user = User.objects.create_user(
            "bench-operator@northwind.example", "bench-password-1", role=Role.OPERATOR
        )
    http = Client(HTTP_HOST="localhost")
    http.force_login(user)
    return http


def run_from_console(month: date, report: core.Report) -> dict[str, Any]:
    import uuid

    from django.utils import timezone

    from tally.invoicing.models import BillingRun

    http = operator_browser()
    assert http.get("/console/billing/").status_code == 200
    from tally.worker.models import WorkerProcess

    worker = start_worker()
    up = time.perf_counter()
    while not WorkerProcess.objects.filter(pid=worker.pid).exists():  # up and polling
        assert worker.poll() is None, (core.DATA / "billing-run-worker.log").read_text()
        assert time.perf_counter() - up < 300, "the worker did not start"
        time.sleep(0.1)
    time.sleep(0.5)
    try:
        t0 = time.perf_counter()
        posted_at = timezone.now()
        answer = http.post(
            "/console/billing/",
            {"key": uuid.uuid4().hex, "month": f"{month:%Y-%m}", "scope": "all"},
        )
        assert answer.status_code == 302, answer.content.decode()[:2000]
        run_id = int(answer["Location"].rstrip("/").rsplit("/", 1)[1])
        page_url = answer["Location"]
        seen: list[tuple[float, int, int]] = []  # (seconds since post, clients done, events)
        polls: list[float] = []
        last: tuple[Any, ...] | None = None
        next_page = time.perf_counter()
        while True:
            row = BillingRun.objects.filter(pk=run_id).values(
                "status", "clients_done", "events_rated", "progress_at"
            )[0]
            now = time.perf_counter()
            state = (row["clients_done"], row["events_rated"], row["progress_at"])
            if state != last:
                seen.append((now - t0, row["clients_done"], row["events_rated"]))
                last = state
            if row["status"] in ("done", "failed"):
                break
            if now >= next_page:
                p0 = time.perf_counter()
                # 286: the run finished since its row was read (htmx stops polling).
                assert http.get(page_url, HTTP_HX_REQUEST="true").status_code in (200, 286)
                polls.append(time.perf_counter() - p0)
                next_page = p0 + PAGE_EVERY
            if now - t0 > 600:
                raise RuntimeError("the run took over 10 minutes")
            time.sleep(WATCH_EVERY)
        wall = time.perf_counter() - t0
    finally:
        worker.send_signal(signal.SIGINT)
        # The worker's CPU time, its start-up included (a few seconds of Django's).
        _, _, usage = os.wait4(worker.pid, 0)
        worker.returncode = 0
    run = BillingRun.objects.get(pk=run_id)
    assert run.status == "done", run.error
    return {
        "worker_cpu": usage.ru_utime + usage.ru_stime,
        "run": run,
        "wall": wall,
        "posted_at": posted_at,
        "seen": seen,
        "polls": polls,
    }


def summarise(got: dict[str, Any], month: date, report: core.Report) -> None:
    from tally.invoicing.models import BillingRunClient, Invoice

    run = got["run"]
    seen = got["seen"]  # every change of the run's row, the first being the queued run
    queued = (run.started_at - got["posted_at"]).total_seconds()
    worker_time = (run.finished_at - run.started_at).total_seconds()
    report.add(
        "billing run: clients, drafts, events",
        f"{run.clients_done} clients, {run.drafts} drafts, {run.events_rated:,} events rated",
    )
    report.add("billing run: post to done (wall)", f"{got['wall']:.1f} s")
    report.add(
        "billing run: waiting for the worker, then billing",
        f"{queued:.1f} s queued, {worker_time:.1f} s running",
    )
    report.add("billing run: throughput", core.rate(run.events_rated, worker_time))
    report.add(
        "billing run: the worker process's CPU time",
        f"{got['worker_cpu']:.1f} s (its Django start-up included)",
    )
    gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:], strict=False)]
    first = seen[1][0] if len(seen) > 1 else float("nan")
    report.add(
        "progress as watched (every 50 ms): changes",
        f"{len(seen)} changes; first after {first:.2f} s",
    )
    if gaps:
        report.add(
            "progress as watched: gap between changes",
            f"max {max(gaps):.2f} s, p95 {quantile(gaps, 0.95):.2f} s, "
            f"median {statistics.median(gaps):.2f} s",
        )
    worst = sorted(zip(gaps, seen, strict=False), key=lambda g: -g[0])[:3]
    report.add(
        "progress as watched: the longest gaps",
        "; ".join(
            f"{gap:.2f} s from {at:.1f} s ({done} clients done, {events:,} events)"
            for gap, (at, done, events) in worst
        ),
    )
    big = BillingRunClient.objects.filter(run=run).order_by("-events").first()
    if big is not None:
        inside = [
            b[0] - a[0]
            for a, b in zip(seen, seen[1:], strict=False)
            if a[1] == b[1]  # no client finished in between: progress within one client
        ]
        report.add(
            "progress within one client (largest: " + f"{big.events:,} events)",
            f"{len(inside)} updates inside clients, max gap {max(inside, default=0):.2f} s",
        )
    polls = got["polls"]
    if polls:
        report.add(
            "the page's htmx poll during the run",
            f"{len(polls)} polls, median {statistics.median(polls) * 1000:.0f} ms, "
            f"max {max(polls) * 1000:.0f} ms",
        )
    drafts = Invoice.objects.filter(
        pk__in=BillingRunClient.objects.filter(run=run).values("invoice_id")
    ).select_related("client")
    t0 = time.perf_counter()
    core.check([_WithUnrated(invoice, run) for invoice in drafts], month)
    print(f"    (checks {time.perf_counter() - t0:.1f} s, not counted)", flush=True)


class _WithUnrated:
    """What run.py's `check` reads of a billing: the invoice and its unrated events."""

    def __init__(self, invoice: Any, run: Any) -> None:
        from tally.invoicing.models import BillingRunClient
        from tally.invoicing.services import UnratedEvents

        self.invoice = invoice
        entry = BillingRunClient.objects.get(run=run, client_id=invoice.client_id)
        self.unrated = [UnratedEvents(**u) for u in entry.unrated]


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description="Tally: a billing run from the console")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--pg-url", default=core.PG_URL)
    parser.add_argument("--pg-db", default="tally_bench_billing")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--events", type=int, default=10_000_000, help="events in the month")
    parser.add_argument("--big-share", type=float, default=0.45)
    parser.add_argument("--batch", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--reuse", action="store_true", help="keep the data; bill it again")
    parser.add_argument("--record", action="store_true", help="append to RESULTS.md")
    parser.add_argument("--note", action="append", default=[])
    args = parser.parse_args()

    db_dir = "sqlite-billing" if args.db == "sqlite" else "postgres-billing"
    core.configure(args.db, args.pg_url, args.pg_db)
    os.environ["TALLY_VAR_DIR"] = str(core.DATA / db_dir)
    (core.DATA / db_dir).mkdir(parents=True, exist_ok=True)
    ds = generate.Dataset(
        clients=args.clients,
        months=1,
        events_per_month=args.events,
        big_share=args.big_share,
        seed=args.seed,
    )
    report = core.Report(
        args.db,
        {
            "clients": ds.clients,
            "events_in_the_month": ds.events_per_month,
            "big_client_share": ds.big_share,
        },
        notes=args.note,
    )
    month = ds.first_month
    print(f"{args.db}: {ds}", flush=True)
    if args.reuse:
        core.setup_django(migrate=True)
        forget_month(month)
    else:
        if args.db == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                (core.DATA / db_dir / f"tally.sqlite3{suffix}").unlink(missing_ok=True)
        else:
            core.fresh_database(args.db, args.pg_url)
        core.setup_django(migrate=True)
        generate.create_clients(ds)
        core.ingest(ds, args.batch, report)
        took = core.analyze()
        print(f"    (ANALYZE {took:.1f} s, not counted)", flush=True)
    from django.db import connections

    connections.close_all()
    got = run_from_console(month, report)
    summarise(got, month, report)
    report.add(
        "load average (1, 5, 15 min) at the end", ", ".join(f"{x:.1f}" for x in os.getloadavg())
    )
    report.machine = core.machine()
    if args.record:
        with open(BENCH / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + report.markdown())
    print()
    print(report.markdown())


if __name__ == "__main__":
    main()

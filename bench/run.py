"""Measure ingestion and rating on SQLite or PostgreSQL, through the product's services.

    .venv/bin/python bench/run.py --db sqlite --events 20000          # a smoke run, seconds
    .venv/bin/python bench/run.py --db postgres --clients 20 --events 2000000
    .venv/bin/python bench/run.py --db postgres --big-month           # 10M events, one client
    .venv/bin/python bench/run.py --db sqlite --events 2000000 --record

Each run starts from an empty database of its own (bench/data/sqlite/tally.sqlite3, or the
PostgreSQL database `tally_bench`, dropped and created again) and migrates it. Then:

* ingestion — the generated rows, in batches, through `ingest_events`, the service behind
  the API, the CSV import and the `tally ingest-events` command. Only the service call is
  timed, not making the rows. Then one batch is sent again, to time the re-send path
  (every row a harmless duplicate).
* rating — `generate_period_invoices` for each month: every client's draft invoice.
  The count is every event of the month (rated or reported as unrated).
* checks — every billed event is on exactly one line of the month's invoices, each line's
  quantity and event count equal its events', and the unrated events are those left.
* `--big-month` — one client, one month of `--big-events` (default 10M) events: ingest,
  then rate in a fresh process whose peak RSS (getrusage) is the rating's own.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tally.audit.actors import SystemActor

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
PG_URL = "postgres://postgres@127.0.0.1:5432/"
PG_DB = "tally_bench"

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402


def configure(db: str, pg_url: str = PG_URL, pg_db: str = PG_DB) -> None:
    """Point Django at the benchmark's own database, before anything imports settings."""
    global PG_DB
    PG_DB = pg_db
    var = DATA / db
    var.mkdir(parents=True, exist_ok=True)
    os.environ["TALLY_VAR_DIR"] = str(var)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tally.settings"
    if db == "postgres":
        os.environ["DATABASE_URL"] = pg_url + PG_DB
    else:
        os.environ.pop("DATABASE_URL", None)


def fresh_database(db: str, pg_url: str = PG_URL) -> None:
    if db == "postgres":
        import psycopg

        with psycopg.connect(pg_url + "postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{PG_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{PG_DB}"')
    else:
        for suffix in ("", "-wal", "-shm"):
            (DATA / db / f"tally.sqlite3{suffix}").unlink(missing_ok=True)


def setup_django(migrate: bool) -> None:
    import django

    django.setup()
    if migrate:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    """Wall time, and CPU time of this process and of its PostgreSQL backend.

    The machine may be shared, so wall-clock throughput moves with other people's load;
    CPU seconds per event (client + server) are the steadier figure. The backend's CPU
    comes from /proc (the server runs on this machine); None when it cannot be read.
    """

    def __init__(self) -> None:
        self.wall = self.client = 0.0
        self.server: float | None = 0.0
        self._tick = os.sysconf("SC_CLK_TCK")

    def _backend_cpu(self) -> tuple[int, float] | None:
        from django.db import connection

        if connection.vendor != "postgresql":
            return (0, 0.0)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return pid, (int(fields[11]) + int(fields[12])) / self._tick

    def __enter__(self) -> Stopwatch:
        self._b0 = self._backend_cpu()
        self._c0 = time.process_time()
        self._w0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall += time.perf_counter() - self._w0
        self.client += time.process_time() - self._c0
        b1 = self._backend_cpu()
        if self.server is None or self._b0 is None or b1 is None or b1[0] != self._b0[0]:
            self.server = None
        else:
            self.server += b1[1] - self._b0[1]

    def cpu(self, events: int) -> str:
        from django.db import connection

        per = 1e6 / events if events else 0.0
        load = f" (load average {os.getloadavg()[0]:.1f})"
        if connection.vendor != "postgresql":
            return f"{self.client * per:.1f} µs per event, SQLite in-process{load}"
        server = "n/a" if self.server is None else f"{self.server * per:.1f}"
        total = "" if self.server is None else f" = {(self.client + self.server) * per:.1f}"
        return f"{self.client * per:.1f} µs client + {server} µs server{total} µs{load}"


def month_end(month: date) -> date:
    return (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def machine() -> dict[str, str]:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            engine = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            engine = f"SQLite {cursor.fetchone()[0]}"
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
        mem = f"{kib / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "database": engine,
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


@dataclass
class Report:
    db: str
    dataset: dict[str, Any]
    figures: list[tuple[str, str]] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: str) -> None:
        self.figures.append((name, value))
        print(f"  {name:<44} {value}", flush=True)

    def markdown(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M")
        ds = ", ".join(f"{k}={v}" for k, v in self.dataset.items())
        m = self.machine
        lines = [
            f"### {self.db} — {stamp}",
            "",
            f"Machine: {m.get('cpus')} × {m.get('cpu')}, {m.get('ram')} RAM, {m.get('database')}, "
            f"Python {m.get('python')}; load average at the end {m.get('load')}.",
            f"Dataset: {ds}.",
            "",
            "| measure | value |",
            "|---|---|",
            *(f"| {k} | {v} |" for k, v in self.figures),
        ]
        lines += [f"\n{n}" for n in self.notes]
        return "\n".join(lines) + "\n"


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f} events/s" if seconds > 0 else "—"


def _stream(batches: list[list[dict[str, Any]]], start: Any, out: Any) -> None:
    """One of `--streams` processes: wait for the start, send its batches, report."""
    from django.db import connections

    from tally.operations.services import ingest_events

    connections.close_all()  # its own connection, not the parent's
    watch = Stopwatch()
    with watch:  # connects, so that the timed part does not
        pass
    watch = Stopwatch()
    created = 0
    start.wait()
    for batch in batches:
        with watch:
            created += ingest_events(
                actor=SystemActor.BENCHMARK, rows=batch, source=generate.SOURCE
            ).created
    out.put((created, watch.client, watch.server))


def ingest_streams(
    ds: generate.Dataset, batch_size: int, streams: int, report: Report, label: str = ""
) -> int:
    """Ingestion by `streams` processes at once, as concurrent feeds would send it: the
    month's batches dealt out in turn. Wall time from the common start to the last one
    done; CPU summed over the processes and their PostgreSQL backends."""
    import multiprocessing as mp

    from django.db import connections

    plans = generate.client_plans(ds)
    dealt: list[list[list[dict[str, Any]]]] = [[] for _ in range(streams)]
    sent = 0
    for month in ds.month_starts():
        rows = generate.month_rows(plans, month, ds.events_per_month, seed=ds.seed)
        for i, batch in enumerate(generate.batches(rows, batch_size)):
            dealt[i % streams].append(batch)
            sent += len(batch)
    connections.close_all()
    ctx = mp.get_context("fork")
    start, out = ctx.Barrier(streams + 1), ctx.Queue()
    procs = [ctx.Process(target=_stream, args=(b, start, out)) for b in dealt]
    for proc in procs:
        proc.start()
    start.wait()
    t0 = time.perf_counter()
    results = [out.get() for _ in procs]
    wall = time.perf_counter() - t0
    for proc in procs:
        proc.join()
    created = sum(r[0] for r in results)
    assert created == sent, f"{created} stored of {sent} sent"
    client = sum(r[1] for r in results)
    servers = [r[2] for r in results]
    report.add(
        f"{label}ingest: events", f"{sent:,} in batches of {batch_size:,}, {streams} streams"
    )
    report.add(f"{label}ingest: time (service calls only)", f"{wall:.1f} s")
    report.add(f"{label}ingest: throughput", rate(sent, wall))
    per = 1e6 / sent
    server = "n/a" if None in servers else f"{sum(servers) * per:.1f}"  # type: ignore[arg-type]
    report.add(
        f"{label}ingest: CPU",
        f"{client * per:.1f} µs client + {server} µs server, all streams "
        f"(load average {os.getloadavg()[0]:.1f})",
    )
    return sent


def ingest(
    ds: generate.Dataset, batch_size: int, report: Report, label: str = "", streams: int = 1
) -> int:
    from tally.operations.services import ingest_events

    if streams > 1:
        return ingest_streams(ds, batch_size, streams, report, label)
    plans = generate.client_plans(ds)
    watch = Stopwatch()
    created = 0
    sent = 0
    gen = 0.0
    for month in ds.month_starts():
        rows = generate.month_rows(plans, month, ds.events_per_month, seed=ds.seed)
        t_gen = time.perf_counter()
        for batch in generate.batches(rows, batch_size):
            gen += time.perf_counter() - t_gen
            with watch:
                result = ingest_events(
                    actor=SystemActor.BENCHMARK, rows=batch, source=generate.SOURCE
                )
            t_gen = time.perf_counter()
            created += result.created
            sent += len(batch)
            if sent % (batch_size * 20) == 0:
                print(f"    … {sent:,} rows, {sent / watch.wall:,.0f}/s", flush=True)
    assert created == sent, f"{created} stored of {sent} sent"
    report.add(f"{label}ingest: events", f"{sent:,} in batches of {batch_size:,}")
    report.add(f"{label}ingest: time (service calls only)", f"{watch.wall:.1f} s")
    report.add(f"{label}ingest: throughput", rate(sent, watch.wall))
    report.add(f"{label}ingest: CPU", watch.cpu(sent))
    print(f"    (making the rows took {gen:.1f} s, not counted)")

    # The re-send path: the first batch again, every row already stored.
    first = next(
        generate.batches(
            generate.month_rows(plans, ds.first_month, ds.events_per_month, seed=ds.seed),
            batch_size,
        )
    )
    t0 = time.perf_counter()
    again = ingest_events(actor=SystemActor.BENCHMARK, rows=first, source=generate.SOURCE)
    took = time.perf_counter() - t0
    assert again.created == 0 and again.duplicates == len(first)
    report.add(f"{label}re-send of one batch (all duplicates)", rate(len(first), took))
    return sent


def analyze() -> float:
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - t0


def rate_months(ds: generate.Dataset, report: Report, label: str = "") -> None:
    from tally.invoicing.services import generate_period_invoices

    for month in ds.month_starts():
        with Stopwatch() as watch:
            results = [
                r
                for r in generate_period_invoices(
                    actor=SystemActor.BENCHMARK, period_start=month, period_end=month_end(month)
                )
                if r.invoice is not None
            ]
        took = watch.wall
        billed = sum(sum(line.event_count for line in r.invoice.lines.all()) for r in results)
        unrated = sum(u.events for r in results for u in r.unrated)
        report.add(
            f"{label}rating {month:%Y-%m}: {len(results)} invoices",
            f"{billed + unrated:,} events ({unrated:,} unrated) in {took:.1f} s",
        )
        report.add(f"{label}rating {month:%Y-%m}: throughput", rate(billed + unrated, took))
        report.add(f"{label}rating {month:%Y-%m}: CPU", watch.cpu(billed + unrated))
        check(results, month)


def check(results: list[Any], month: date) -> None:
    """The invariants rating promises, recounted in SQL over what was just generated:
    each line's totals are those of the events its ranges hold (a join, not the blocks'
    aggregates rating used), and every event of the month is billed once or reported."""
    from django.db import connection

    ids = [r.invoice.pk for r in results]
    if not ids:
        return
    marks = ",".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.id, l.quantity, l.event_count, COALESCE(SUM(e.quantity), 0), COUNT(e.id) "
            "FROM invoicing_invoiceline l JOIN invoicing_billedrange r ON r.line_id = l.id "
            "LEFT JOIN operations_event e ON e.client_id = r.client_id AND e.kind = r.kind "
            "AND e.occurred_at >= r.occurred_from AND e.occurred_at < r.occurred_to "
            "AND e.id > r.after_id AND e.id <= r.upto_id "
            f"WHERE l.invoice_id IN ({marks}) GROUP BY l.id, l.quantity, l.event_count",
            ids,
        )
        for line_id, qty, count, ev_qty, ev_count in cursor.fetchall():
            assert (qty, count) == (ev_qty, ev_count), (
                f"line {line_id}: {qty}/{count} vs {ev_qty}/{ev_count}"
            )
    billed = sum(sum(line.event_count for line in r.invoice.lines.all()) for r in results)
    unrated = sum(u.events for r in results for u in r.unrated)
    # Each client's month is in its own time zone; count its events client by client.
    from tally.invoicing.services import local_midnight_utc
    from tally.operations.models import Event

    total = 0
    for r in results:
        c = r.invoice.client
        total += Event.objects.filter(
            client=c,
            occurred_at__gte=local_midnight_utc(month, c.time_zone),
            occurred_at__lt=local_midnight_utc(month_end(month) + timedelta(days=1), c.time_zone),
        ).count()
    assert total == billed + unrated, f"{total} events, {billed} billed, {unrated} unrated"


def rate_only(period: str) -> dict[str, Any]:
    """Run in a fresh process: rate one month, report time and this process's peak RSS."""
    from tally.invoicing.services import generate_period_invoices

    month = date.fromisoformat(period + "-01")
    rss0 = peak_rss_mib()
    with Stopwatch() as watch:
        results = [
            r
            for r in generate_period_invoices(
                actor=SystemActor.BENCHMARK, period_start=month, period_end=month_end(month)
            )
            if r.invoice is not None
        ]
    took = watch.wall
    rss_rating = peak_rss_mib()  # before the checks below, which are the benchmark's own
    billed = sum(sum(line.event_count for line in r.invoice.lines.all()) for r in results)
    unrated = sum(u.events for r in results for u in r.unrated)
    check(results, month)
    return {
        "seconds": took,
        "events": billed + unrated,
        "unrated": unrated,
        "peak_rss_mib": rss_rating,
        "peak_rss_with_checks_mib": peak_rss_mib(),
        "cpu": watch.cpu(billed + unrated),
        "rss_before_mib": rss0,
    }


def big_month(args: argparse.Namespace, report: Report) -> None:
    ds = generate.Dataset(
        clients=1, months=1, events_per_month=args.big_events, big_share=1.0, seed=args.seed
    )
    report.dataset.update(big_month_events=args.big_events)
    print(f"big month: {args.big_events:,} events of one client", flush=True)
    fresh_database(args.db, args.pg_url)
    setup_django(migrate=True)
    from django.db import connections

    generate.create_clients(ds)
    ingest(ds, args.batch, report, label="big month ", streams=args.streams)
    took = analyze()
    print(f"    (ANALYZE {took:.1f} s, not counted)")
    connections.close_all()
    cmd = [sys.executable, __file__, "--db", args.db, "--pg-url", args.pg_url, "--pg-db", PG_DB]
    cmd += ["--rate-only", f"{ds.first_month:%Y-%m}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    got = json.loads(out.strip().splitlines()[-1])
    report.add(
        "big month rating: one invoice",
        f"{got['events']:,} events ({got['unrated']:,} unrated) in {got['seconds']:.1f} s",
    )
    report.add("big month rating: throughput", rate(got["events"], got["seconds"]))
    report.add("big month rating: CPU", got["cpu"])
    report.add(
        "big month rating: peak RSS of the rating process", f"{got['peak_rss_mib']:,.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Tally ingestion and rating benchmark")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--pg-url", default=PG_URL, help="server URL ending in / (default %(default)s)"
    )
    parser.add_argument(
        "--pg-db", default=PG_DB, help="the database to drop and create (default %(default)s)"
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--months", type=int, default=1)
    parser.add_argument("--events", type=int, default=200_000, help="events per month, all clients")
    parser.add_argument("--big-share", type=float, default=0.45)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per ingest_events call")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--streams",
        type=int,
        default=1,
        help="ingest processes at once (PostgreSQL; SQLite has one writer at a time)",
    )
    parser.add_argument("--big-month", action="store_true", help="also the one-client big month")
    parser.add_argument("--big-events", type=int, default=10_000_000)
    parser.add_argument("--only-big-month", action="store_true", help="skip the multi-client run")
    parser.add_argument("--record", action="store_true", help="append the figures to RESULTS.md")
    parser.add_argument("--note", action="append", default=[], help="a note for RESULTS.md")
    parser.add_argument("--rate-only", metavar="YYYY-MM", help=argparse.SUPPRESS)
    args = parser.parse_args()

    configure(args.db, args.pg_url, args.pg_db)
    if args.rate_only:
        setup_django(migrate=False)
        print(json.dumps(rate_only(args.rate_only)))
        return

    ds = generate.Dataset(
        clients=args.clients,
        months=args.months,
        events_per_month=args.events,
        big_share=args.big_share,
        seed=args.seed,
    )
    report = Report(
        args.db,
        {
            "clients": ds.clients,
            "months": ds.months,
            "events_per_month": ds.events_per_month,
            "big_client_share": ds.big_share,
            "batch": args.batch,
            **({"streams": args.streams} if args.streams > 1 else {}),
        },
        notes=args.note,
    )
    print(f"{args.db}: {ds}", flush=True)
    if not args.only_big_month:
        fresh_database(args.db, args.pg_url)
        setup_django(migrate=True)
        generate.create_clients(ds)
        ingest(ds, args.batch, report, streams=args.streams)
        took = analyze()
        print(f"    (ANALYZE {took:.1f} s, not counted)")
        rate_months(ds, report)
        report.add("peak RSS of the benchmark process", f"{peak_rss_mib():,.0f} MiB")
    else:
        report.dataset = {"batch": args.batch}
    if args.big_month or args.only_big_month:
        if not args.only_big_month:
            from django.db import connections

            connections.close_all()
        big_month(args, report)
    report.machine = machine()
    if args.record:
        with open(BENCH / "RESULTS.md", "a", encoding="utf-8") as f:
            f.write("\n" + report.markdown())
    print()
    print(report.markdown())


if __name__ == "__main__":
    main()

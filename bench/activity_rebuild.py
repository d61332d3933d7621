"""CPU time of the daily activity totals' rebuild (`operations.activity.rebuild`, the
backfill of operations migration 0009) on the portal benchmark's data set, checked against
the hourly recount (`activity.differences`).

    .venv/bin/python bench/activity_rebuild.py --db sqlite
    .venv/bin/python bench/activity_rebuild.py --db postgres --repeat 3
    # the code before a change, on the same data: a copy of it made by `git archive`
    PORTAL_BENCH_CODE=/tmp/before .venv/bin/python bench/activity_rebuild.py --db sqlite

Needs a data set: bench/portal_dataset.py --db <db> (e.g. --scale 0.1 --clients 40). Each
rebuild is one transaction, committed, as the migration's. The figure is CPU seconds per
million events: this process's (on SQLite the database's work too) plus, on PostgreSQL,
its server backend's, read from /proc (the server runs on this machine; parallel workers
are turned off for the session, so the backend does all of the server's work). The load
average goes with it: on a shared machine wall time says little.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import portal_common as common


def backend_cpu() -> float:
    """CPU seconds of this connection's PostgreSQL backend so far (0 on SQLite)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(work: Callable[[], int]) -> dict[str, Any]:
    server, client, wall = backend_cpu(), time.process_time(), time.perf_counter()
    result = work()
    out: dict[str, Any] = {
        "wall_s": time.perf_counter() - wall,
        "client_cpu_s": time.process_time() - client,
        "server_cpu_s": backend_cpu() - server,
        "load": os.getloadavg()[0],
        "result": result,
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-check", action="store_true", help="skip the recount")
    args = parser.parse_args()
    common.configure(args.db)
    common.setup_django()
    from django.db import connection

    from tally.operations import activity

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET max_parallel_workers_per_gather = 0")
        cursor.execute("SELECT count(*) FROM operations_event")
        events = cursor.fetchone()[0]
    per = 1e6 / events
    runs = []
    for _ in range(args.repeat):
        run = measured(activity.rebuild)
        cpu = run["client_cpu_s"] + run["server_cpu_s"]
        print(
            f"rebuild: {run['result']:,} rows, {events:,} events; CPU {cpu:.2f} s "
            f"(client {run['client_cpu_s']:.2f} + server {run['server_cpu_s']:.2f}) = "
            f"{cpu * per:.2f} s per million events; wall {run['wall_s']:.1f} s at load "
            f"{run['load']:.1f}",
            flush=True,
        )
        runs.append(run)
    report = {"db": args.db, "code": str(common.CODE), "events": events, "rebuilds": runs}
    if not args.no_check:
        check = measured(lambda: len(activity.differences()))
        print(f"differences from the hourly recount: {check['result']}", flush=True)
        report["check"] = check
    report["machine"] = common.machine()
    print(json.dumps(report, indent=2, default=str))
    if not args.no_check and report["check"]["result"]:
        raise SystemExit("the rebuilt totals differ from the recount")


if __name__ == "__main__":
    main()

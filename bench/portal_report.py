"""Markdown tables for the "Client portal" section of bench/RESULTS.md from the recorded runs.

    .venv/bin/python bench/portal_report.py --before before --after after

Reads bench/data/portal-{sqlite,postgres}/latency-<label>.json and load-<label>.json (as
written by portal_latency.py and portal_load.py) and prints, per database, the latency
of every scenario before and after, and the load runs.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import portal_common as common


def _load(db: str, kind: str, label: str) -> dict[str, Any] | None:
    path = common.var_dir(db) / f"{kind}-{label}.json"
    return json.loads(path.read_text()) if path.exists() else None


def latency_table(db: str, before: dict[str, Any] | None, after: dict[str, Any]) -> str:
    old = {r["scenario"]: r for r in (before or {}).get("results", [])}
    head = f"| {db}: scenario | goal ms | before p50 / p95 | after p50 / p95 | after max | after CPU p50 | SQL statements before → after |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|"]
    for r in after["results"]:
        b = old.get(r["scenario"])
        was = f"{b['p50']:.1f} / {b['p95']:.1f}" if b else "–"
        mark = "" if r["ok"] else " **miss**"
        stmts = f"{b['queries']} → {r['queries']}" if b else str(r["queries"])
        lines.append(
            f"| {r['scenario']} | {r['goal_ms']:.0f} | {was} | {r['p50']:.1f} / {r['p95']:.1f}{mark} "
            f"| {r['max']:.1f} | {r['cpu_p50']:.1f} | {stmts} |"
        )
    ok = sum(1 for r in after["results"] if r["ok"])
    was_ok = sum(1 for r in (before or {}).get("results", []) if r["ok"])
    lines.append("")
    lines.append(
        f"Within the goal: {was_ok}/{len(old)} before, {ok}/{len(after['results'])} after "
        f"({after['requests_per_scenario']} requests per scenario after; load average at the "
        f"end {after['machine']['load']})."
    )
    return "\n".join(lines)


def load_table(db: str, runs: list[tuple[str, dict[str, Any]]]) -> str:
    lines = [
        f"| {db}: run | server | connections | req/s | p50 ms | p95 ms | p99 ms | CPU ms per request (server + db + wrk) | ceiling on 2 idle cores | other load (cores) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, data in runs:
        for r in data["runs"]:
            cpu = ""
            ceiling = other = "–"
            if "server_cpu_ms_per_request" in r:
                cpu = (
                    f"{r['server_cpu_ms_per_request']:.1f} + {r['db_cpu_ms_per_request']:.1f} "
                    f"+ {r['wrk_cpu_ms_per_request']:.1f}"
                )
                ceiling = f"{r['cpu_bound_ceiling_rps']:.0f}"
                other = f"{r['other_cores_busy']:.2f}"
            lines.append(
                f"| {label} | {data['server']} | {r['connections']} | {r['rps']:.0f} | "
                f"{r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['p99_ms']:.1f} | {cpu or '–'} | "
                f"{ceiling} | {other} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default="before")
    parser.add_argument("--after", default="after")
    parser.add_argument("--load", default="before,after", help="load run labels, in order")
    args = parser.parse_args()
    for db in common.DBS:
        after = _load(db, "latency", args.after)
        if after:
            print(f"\n#### Latency, {db}\n")
            print(latency_table(db, _load(db, "latency", args.before), after))
        runs = [(lb, d) for lb in args.load.split(",") if (d := _load(db, "load", lb))]
        if runs:
            print(f"\n#### Throughput, {db}\n")
            print(load_table(db, runs))


if __name__ == "__main__":
    main()

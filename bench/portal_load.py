"""Throughput of the client portal under a realistic mix, with a real server and wrk.

    .venv/bin/python bench/portal_load.py --db sqlite
    .venv/bin/python bench/portal_load.py --db postgres --connections 4,8,16 --duration 30
    .venv/bin/python bench/portal_load.py --db sqlite --workers 3 --threads 2

Starts gunicorn (the production server) on 127.0.0.1 serving the benchmark database, signs
in the largest client's user (a session row, its cookie handed to wrk), checks that every
URL of the mix answers 200, then runs wrk (Debian's `wrk`, with a Lua script written to
bench/data/portal-<db>/portal_wrk.lua: it holds the session cookie, so it stays there) for
`--duration` seconds at each number of open connections. Server and load generator share
the machine's cores, as they would on a small box; nothing else is excluded, so other
work on the machine shows up in the figures.

The mix (weights): the billing page 20, table partials (filters, sorts, pages, a deep
page) 30, invoice drilldowns 25, line events (first pages, deep pages of the million-event
line) 15, aging 5, an invoice's full page 5 — what a client's AP clerk does in a session.

Results go to bench/data/portal-<db>/load-<label>.json and are printed as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import portal_common as common

WEIGHTS = {"billing": 20, "table": 30, "drilldown": 25, "events": 15, "aging": 5, "full": 5}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_cookie(email: str) -> str:
    from django.test import Client

    from tally.accounts.models import User

    client = Client(HTTP_HOST="localhost")
    client.force_login(User.objects.get(email=email))
    return client.cookies["sessionid"].value


def mix(scenarios: list[Any]) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, path, headers) for every URL, grouped into the mix's kinds."""
    out = []
    for sc in scenarios:
        if sc.group == "billing":
            kind = "billing"
        elif sc.group in ("filter", "sort", "page", "table"):
            kind = "full" if not sc.requests[0][1] else "table"
        elif sc.group == "drilldown":
            kind = "full" if not sc.requests[0][1] else "drilldown"
        elif sc.group == "events":
            kind = "events"
        else:
            kind = "aging"
        for url, headers in sc.requests:
            wire = {
                "HX-Request" if k == "HTTP_HX_REQUEST" else "HX-Target": v
                for k, v in headers.items()
            }
            out.append((kind, url, wire))
    return out


def write_lua(
    urls: list[tuple[str, str, dict[str, str]]], cookie: str, seed: int, lua: Path
) -> Path:
    """A wrk script whose request() draws from the mix by weight."""
    by_kind: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for kind, url, headers in urls:
        by_kind.setdefault(kind, []).append((url, headers))
    rng = random.Random(seed)
    draws = []
    for kind, weight in WEIGHTS.items():
        pool = by_kind.get(kind, [])
        for _ in range(weight * 20):
            if pool:
                draws.append(rng.choice(pool))
    rng.shuffle(draws)

    def lua_str(s: str) -> str:
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'

    entries = []
    for url, headers in draws:
        hdr = ", ".join(f"[{lua_str(k)}] = {lua_str(v)}" for k, v in headers.items())
        entries.append(f"  {{{lua_str(url)}, {{{hdr}}}}},")
    lua.write_text(
        "-- Written by bench/portal_load.py: the portal's request mix, drawn by weight.\n"
        "local requests = {\n" + "\n".join(entries) + "\n}\n"
        f"local cookie = {lua_str('sessionid=' + cookie)}\n"
        "local counter = 0\n"
        "function setup(thread)\n"
        "  counter = counter + 1\n"
        "  thread:set('offset', counter * 997)\n"
        "end\n"
        "function init(args)\n"
        "  i = tonumber(offset or 0)\n"
        "end\n"
        "function request()\n"
        "  i = i + 1\n"
        "  local r = requests[(i % #requests) + 1]\n"
        "  local headers = {['Cookie'] = cookie}\n"
        "  for k, v in pairs(r[2]) do headers[k] = v end\n"
        "  return wrk.format('GET', r[1], headers)\n"
        "end\n"
        "function done(summary, latency, requests)\n"
        "  local out = string.format(\n"
        '    \'{"requests": %d, "duration_us": %d, "non_2xx": %d, "errors": %d, \'\n'
        '    .. \'"p50_us": %d, "p90_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\',\n'
        "    summary.requests, summary.duration, summary.errors.status,\n"
        "    summary.errors.connect + summary.errors.read + summary.errors.write\n"
        "      + summary.errors.timeout,\n"
        "    math.floor(latency:percentile(50)), math.floor(latency:percentile(90)),\n"
        "    math.floor(latency:percentile(95)), math.floor(latency:percentile(99)),\n"
        "    math.floor(latency.max))\n"
        "  io.write('WRK_RESULT ' .. out .. '\\n')\n"
        "end\n"
    )
    return lua


def start_server(db: str, port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    cmd = [
        str(gunicorn),
        "tally.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--keep-alive",
        "5",
        "--access-logfile",
        "-" if os.environ.get("PORTAL_BENCH_ACCESS_LOG") else "/dev/null",
        "--error-logfile",
        str(log),
    ]
    env = common.server_env(db)
    env["PYTHONPATH"] = str(common.CODE)
    proc = subprocess.Popen(cmd, env=env, cwd=str(common.CODE), start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"gunicorn did not start; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return out


def machine_busy() -> float:
    """CPU seconds all processes have used, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return (sum(parts[:8]) - idle) / TICK


def pg_backends(db: str) -> list[int]:
    if db != "postgres":
        return []
    import psycopg

    with psycopg.connect(common.PG_SERVER + "postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [common.PG_DB],
        ).fetchall()
    return [r[0] for r in rows]


class CpuMeter:
    """Where the CPU of a run went: the server's processes, PostgreSQL's backends serving
    it, wrk, and everything else on the machine (other people's work)."""

    def __init__(self, db: str, server: subprocess.Popen) -> None:
        self.db, self.server = db, server

    def _sample(self) -> dict[str, Any]:
        server = [self.server.pid, *children(self.server.pid)]
        backends = pg_backends(self.db)
        wrk = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "server": {p: proc_cpu(p) for p in server},
            "db": {p: proc_cpu(p) for p in backends},
            "wrk": wrk.ru_utime + wrk.ru_stime,
            "busy": machine_busy(),
            "wall": time.monotonic(),
        }

    def start(self) -> None:
        self.before = self._sample()

    def stop(self, requests: int) -> dict[str, float]:
        after = self._sample()
        b = self.before

        def spent(kind: str) -> float:
            return sum(v - b[kind].get(p, 0.0) for p, v in after[kind].items())

        server, db, wrk = spent("server"), spent("db"), after["wrk"] - b["wrk"]
        wall = after["wall"] - b["wall"]
        others = max(0.0, after["busy"] - b["busy"] - server - db - wrk)
        n = max(1, requests)
        per_request = (server + db + wrk) / n
        return {
            "server_cpu_ms_per_request": round(server / n * 1000, 2),
            "db_cpu_ms_per_request": round(db / n * 1000, 2),
            "wrk_cpu_ms_per_request": round(wrk / n * 1000, 2),
            # What the two cores could serve if nothing else ran on them.
            "cpu_bound_ceiling_rps": round((os.cpu_count() or 1) / per_request, 0),
            # Cores' worth of CPU that other processes used during the run.
            "other_cores_busy": round(others / wall, 2),
        }


def check_urls(port: int, urls: list[tuple[str, str, dict[str, str]]], cookie: str) -> None:
    for _kind, url, headers in urls:
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}{url}", headers={"Cookie": f"sessionid={cookie}", **headers}
        )
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310 (loopback)
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")


def run_wrk(
    port: int,
    lua: Path,
    connections: int,
    duration: int,
    threads: int,
    meter: CpuMeter | None = None,
) -> dict[str, Any]:
    cmd = [
        "wrk",
        f"-t{min(threads, connections)}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}/",
    ]
    if meter:
        meter.start()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    match = re.search(r"WRK_RESULT (\{.*\})", out)
    if not match:
        raise SystemExit(f"wrk said:\n{out}")
    r = json.loads(match.group(1))
    cpu = meter.stop(r["requests"]) if meter else {}
    seconds = r["duration_us"] / 1e6
    return {
        "connections": connections,
        "seconds": round(seconds, 1),
        "requests": r["requests"],
        "rps": round(r["requests"] / seconds, 1),
        "p50_ms": round(r["p50_us"] / 1000, 1),
        "p90_ms": round(r["p90_us"] / 1000, 1),
        "p95_ms": round(r["p95_us"] / 1000, 1),
        "p99_ms": round(r["p99_us"] / 1000, 1),
        "max_ms": round(r["max_us"] / 1000, 1),
        "non_2xx": r["non_2xx"],
        "socket_errors": r["errors"],
        "load_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        **cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=common.DBS, required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="per worker (gthread if > 1)")
    parser.add_argument("--connections", default="4,8,16", help="wrk open connections, each run")
    parser.add_argument("--duration", type=int, default=30, help="seconds of each run")
    parser.add_argument("--warmup", type=int, default=5, help="seconds of load before measuring")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--label", default="run")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("needs wrk: apt-get install -y wrk")

    common.configure(args.db)
    common.setup_django()
    import portal_latency

    manifest = common.load_manifest(args.db)
    urls = mix(portal_latency.build_scenarios(manifest))
    cookie = session_cookie(manifest["big_client"]["user_email"])
    lua = write_lua(urls, cookie, 11, common.var_dir(args.db) / "portal_wrk.lua")
    from django.db import connections

    connections.close_all()

    port = free_port()
    log = common.var_dir(args.db) / "gunicorn.log"
    server = start_server(args.db, port, args.workers, args.threads, log)
    runs = []
    try:
        check_urls(port, urls, cookie)
        if args.warmup:
            run_wrk(port, lua, 4, args.warmup, args.wrk_threads)
        for c in (int(x) for x in args.connections.split(",")):
            r = run_wrk(port, lua, c, args.duration, args.wrk_threads, CpuMeter(args.db, server))
            runs.append(r)
            print(
                f"  {c:3d} connections: {r['rps']:7.1f} req/s  p50 {r['p50_ms']:6.1f}  "
                f"p95 {r['p95_ms']:6.1f}  p99 {r['p99_ms']:6.1f} ms  "
                f"non-2xx {r['non_2xx']}  CPU/request: server {r['server_cpu_ms_per_request']}"
                f" db {r['db_cpu_ms_per_request']} wrk {r['wrk_cpu_ms_per_request']} ms "
                f"→ ceiling {r['cpu_bound_ceiling_rps']:.0f} req/s; "
                f"others used {r['other_cores_busy']} cores",
                flush=True,
            )
    finally:
        stop_server(server)
    result = {
        "db": args.db,
        "label": args.label,
        "when": time.strftime("%Y-%m-%d %H:%M"),
        "server": f"gunicorn, {args.workers} workers × {args.threads} threads",
        "load_generator": f"wrk, {args.wrk_threads} thread(s), Lua request mix",
        "urls_in_mix": len(urls),
        "weights": WEIGHTS,
        "machine": common.machine(),
        "runs": runs,
    }
    path = common.var_dir(args.db) / f"load-{args.label}.json"
    path.write_text(json.dumps(result, indent=2))
    print()
    print(
        f"| connections ({args.db}, {result['server']}) | req/s | p50 ms | p95 ms | p99 ms "
        "| CPU ms/request (server + db + wrk) | ceiling req/s | other load (cores) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        total = (
            r["server_cpu_ms_per_request"]
            + r["db_cpu_ms_per_request"]
            + r["wrk_cpu_ms_per_request"]
        )
        print(
            f"| {r['connections']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
            f"| {r['p99_ms']:.1f} | {total:.1f} | {r['cpu_bound_ceiling_rps']:.0f} "
            f"| {r['other_cores_busy']} |"
        )
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()

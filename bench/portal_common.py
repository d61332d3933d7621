"""Shared plumbing of the portal benchmark: where its databases live, Django set-up, stats.

The portal benchmark keeps its own databases, apart from the ingestion benchmark's:
bench/data/portal-sqlite/tally.sqlite3 and the PostgreSQL database `tally_portal_bench`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DATA = BENCH / "data"
# Another server or database (e.g. one per worktree when several people share a machine):
# PORTAL_BENCH_PG_SERVER=postgres://tally_ci@127.0.0.1:5432/ PORTAL_BENCH_PG_DB=tally_me_bench
PG_SERVER = os.environ.get("PORTAL_BENCH_PG_SERVER", "postgres://postgres@127.0.0.1:5432/")
PG_DB = os.environ.get("PORTAL_BENCH_PG_DB", "tally_portal_bench")
DBS = ("sqlite", "postgres")

# PORTAL_BENCH_CODE=<dir> runs the benchmark against another copy of the code (e.g. an
# earlier commit from `git archive`), for before/after comparisons on the same data.
CODE = Path(os.environ.get("PORTAL_BENCH_CODE", ROOT)).resolve()
sys.path.insert(0, str(CODE))


def var_dir(db: str) -> Path:
    return DATA / f"portal-{db}"


def sqlite_path() -> Path:
    return var_dir("sqlite") / "tally.sqlite3"


def manifest_path(db: str) -> Path:
    return var_dir(db) / "manifest.json"


def configure(db: str) -> None:
    """Point Django at the benchmark's database, before anything imports the settings."""
    if db not in DBS:
        raise SystemExit(f"--db must be one of {DBS}")
    var = var_dir(db)
    var.mkdir(parents=True, exist_ok=True)
    os.environ["TALLY_VAR_DIR"] = str(var)
    os.environ["DJANGO_SETTINGS_MODULE"] = "tally.settings"
    if db == "postgres":
        os.environ["DATABASE_URL"] = PG_SERVER + PG_DB
    else:
        os.environ.pop("DATABASE_URL", None)


def server_env(db: str) -> dict[str, str]:
    """The environment a separate server process needs to serve the benchmark database."""
    env = dict(os.environ)
    env["TALLY_VAR_DIR"] = str(var_dir(db))
    env["DJANGO_SETTINGS_MODULE"] = "tally.settings"
    env.pop("DATABASE_URL", None)
    if db == "postgres":
        env["DATABASE_URL"] = PG_SERVER + PG_DB
    return env


def setup_django() -> None:
    import django

    django.setup()


def load_manifest(db: str) -> dict[str, Any]:
    path = manifest_path(db)
    if not path.exists():
        raise SystemExit(f"no dataset for {db}: run bench/portal_dataset.py --db {db} first")
    return json.loads(path.read_text())


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def machine() -> dict[str, str]:
    """The machine and the engine, for the results file (needs Django set up)."""
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
            mem = f"{int(f.readline().split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    cpu = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "database": engine,
        "python": platform.python_version(),
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }

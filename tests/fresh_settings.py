"""Settings as a fresh process builds them: tally/settings.py reads the environment once, at
import, so what a set of environment variables does is seen only in a process of its own."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def settings_in_a_fresh_process(env: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    """Import the settings with `env` and no other TALLY_* variable (but the test run's own
    var dir); the process prints the named settings as a JSON list, or fails as Tally would
    at start-up."""
    script = (
        "import json; from tally import settings as s; "
        f"print(json.dumps([getattr(s, name, None) for name in {list(names)!r}]))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
    base["TALLY_VAR_DIR"] = os.environ.get("TALLY_VAR_DIR", "var")
    return subprocess.run(  # noqa: S603 (fixed arguments)
        [sys.executable, "-c", script],
        env={**base, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )

"""The docs name files that exist: a renamed module must take its mentions along."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md", "CONVENTIONS.md", "bench/RESULTS.md"]
# Paths that exist only once the product runs, or outside this repository.
RUNTIME = ("var/", ".venv/", "../", "/")


def _cited_paths(text: str) -> set[str]:
    """Backticked words that look like a path in the repository (`tally/portal/scope.py`)."""
    found = set()
    for word in re.findall(r"`([^`\s]+)`", text):
        if "/" not in word or "<" in word or "=" in word or word.startswith(RUNTIME):
            continue
        found.add(word.rstrip("/"))
    return found


def _exists(cited: str) -> bool:
    """A path from the root or from tally/, a file without its suffix, or a module.attribute."""
    candidates = [cited, f"tally/{cited}"]
    module, _, _attribute = cited.partition(".")
    if _attribute and "/" in module and not Path(cited).suffix.startswith((".py", ".md")):
        candidates += [f"{module}.py", f"tally/{module}.py"]
    for candidate in candidates:
        path = ROOT / candidate
        if path.exists() or any(path.parent.glob(path.name + "*")):
            return True
    # A room every app has (`management/commands/`) is cited without its app.
    return any(ROOT.glob(f"tally/*/{cited}"))


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_cites_exists(doc: str) -> None:
    missing = sorted(p for p in _cited_paths((ROOT / doc).read_text()) if not _exists(p))
    assert missing == [], f"{doc} cites paths that do not exist: {missing}"


def test_every_results_file_the_code_cites_exists() -> None:
    cited = {
        (source.relative_to(ROOT), name)
        for source in [*ROOT.glob("tally/**/*.py"), *ROOT.glob("bench/*.py")]
        for name in re.findall(r"\bbench/[\w.-]+\.md\b", source.read_text())
    }
    missing = sorted(f"{source}: {name}" for source, name in cited if not (ROOT / name).exists())
    assert missing == [], f"code cites results files that do not exist: {missing}"

"""The apps' layers (pyproject.toml) are checked by import-linter, which sees imports
inside functions too; this keeps such imports from hiding a dependency between apps."""

import ast
from pathlib import Path

import tally

TALLY = Path(tally.__file__).parent


def _part(module: str) -> str | None:
    """The part of Tally a module belongs to: `tally.invoicing.services` → `invoicing`."""
    parts = module.split(".")
    return parts[1] if parts[0] == "tally" and len(parts) > 1 else None


def _imports_inside_functions(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                found += [(inner.lineno, alias.name) for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                found.append((inner.lineno, inner.module))
    return found


def test_no_import_inside_a_function_crosses_from_one_part_of_tally_to_another():
    crossing = []
    for path in sorted(TALLY.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        here = path.relative_to(TALLY).parts[0].removesuffix(".py")
        for line, module in _imports_inside_functions(path):
            there = _part(module)
            if there is not None and there != here:
                crossing.append(f"{path.relative_to(TALLY)}:{line}: {module}")
    assert crossing == [], "import at the top of the module (or move the code to tally.actions)"

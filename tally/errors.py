"""Domain errors with a stable code, so pages, the API and the CLI render them alike."""

from dataclasses import dataclass, field


@dataclass
class Problem:
    """One thing wrong with the input: where (row, field) and what."""

    message: str
    field: str | None = None
    row: int | None = None

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.field:
            where.append(f"field {self.field!r}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass
class DomainError(Exception):
    """A refused operation. Nothing was written when this is raised from a service."""

    code: str
    message: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        if not self.problems:
            return f"{self.code}: {self.message}"
        shown = "; ".join(str(p) for p in self.problems[:20])
        more = f" (and {len(self.problems) - 20} more)" if len(self.problems) > 20 else ""
        return f"{self.code}: {self.message}: {shown}{more}"


class NotFound(DomainError):
    """The object does not exist *for this client* — the same answer either way."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found")

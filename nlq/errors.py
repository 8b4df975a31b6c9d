"""Errors a person can act on.

Every failure caused by user input is an `NlqError`; the CLI prints its message
and exits with its `exit_code`, never a traceback.  `QueryError` points at the
spot in the query: line, column, a caret under it, what was expected there and,
where one helps, a hint.
"""

from __future__ import annotations

from dataclasses import dataclass, field


class NlqError(Exception):
    """A failure the user can fix; `str()` is the whole message."""

    exit_code = 1


class UsageError(NlqError):
    """The command line or request was malformed (unknown dialect, missing file...)."""

    exit_code = 2


@dataclass
class QueryError(NlqError):
    """A query that does not parse or does not pass a semantic check.

    `position` is a 0-based character offset into `query` (None when the
    problem is the query as a whole).  `expected` lists what would have been
    accepted there, in words a person reads ("a label matcher", "`)`").
    """

    message: str
    query: str = ""
    position: int | None = None
    end: int | None = None
    expected: list[str] = field(default_factory=list)
    hint: str | None = None
    kind: str = "syntax"  # "syntax" | "type" | "catalog" | "semantic" | "length" | "degenerate"

    def __post_init__(self) -> None:
        super().__init__(self.message)

    @property
    def line(self) -> int | None:
        if self.position is None:
            return None
        return self.query.count("\n", 0, self.position) + 1

    @property
    def column(self) -> int | None:
        if self.position is None:
            return None
        line_start = self.query.rfind("\n", 0, self.position) + 1
        return self.position - line_start + 1

    def headline(self) -> str:
        where = f"line {self.line}, column {self.column}: " if self.position is not None else ""
        return f"{where}{self.message}"

    def render(self) -> str:
        """The multi-line form shown to a person: message, the line, a caret, hints."""
        parts = [self.headline()]
        if self.position is not None and self.query:
            line_start = self.query.rfind("\n", 0, self.position) + 1
            line_end = self.query.find("\n", self.position)
            if line_end == -1:
                line_end = len(self.query)
            source_line = self.query[line_start:line_end]
            width = 1
            if self.end is not None and self.end > self.position:
                width = max(1, min(self.end, line_end) - self.position)
            parts.append("  " + source_line)
            parts.append("  " + " " * (self.position - line_start) + "^" * width)
        if self.expected:
            parts.append("expected " + _one_of(self.expected))
        if self.hint:
            parts.append("hint: " + self.hint)
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.render()

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "kind": self.kind,
            "line": self.line,
            "column": self.column,
            "position": self.position,
            "expected": self.expected,
            "hint": self.hint,
        }


def _one_of(items: list[str]) -> str:
    items = list(dict.fromkeys(items))
    if len(items) == 1:
        return items[0]
    if len(items) <= 8:
        return "one of " + ", ".join(items[:-1]) + " or " + items[-1]
    return "one of " + ", ".join(items[:8]) + f" (and {len(items) - 8} more)"

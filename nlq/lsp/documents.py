"""Which dialect a document is in, the queries it holds, and offset <-> LSP position.

A query file holds one or more queries separated by blank lines; a line whose
first non-blank character is `#` is a comment (it also ends a query).  Each
query (a *block*) is validated and formatted on its own.

LSP positions count UTF-16 code units per line; Python strings count code
points, so columns are converted both ways here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlparse

EXTENSIONS = {
    ".promql": "promql", ".prom": "promql",
    ".logql": "logql",
    ".ddq": "datadog-metrics", ".ddmetrics": "datadog-metrics",
    ".ddlogs": "datadog-logs", ".ddl": "datadog-logs",
}
LANGUAGE_IDS = {
    "promql": "promql", "prometheus": "promql",
    "logql": "logql", "loki": "logql",
    "datadog-metrics": "datadog-metrics", "ddq": "datadog-metrics", "datadog": "datadog-metrics",
    "datadog-logs": "datadog-logs", "ddlogs": "datadog-logs",
}


def dialect_of(uri: str, language_id: str | None = None) -> str | None:
    """The dialect from the client's language id, else the file extension; None when neither fits."""
    if language_id and language_id.lower() in LANGUAGE_IDS:
        return LANGUAGE_IDS[language_id.lower()]
    suffix = PurePosixPath(unquote(urlparse(uri).path)).suffix.lower()
    return EXTENSIONS.get(suffix)


@dataclass(frozen=True)
class Block:
    """One query: its text and the document offset where it starts."""

    start: int
    text: str

    @property
    def end(self) -> int:
        return self.start + len(self.text)


def blocks(text: str) -> list[Block]:
    """The queries of a document, in order."""
    out: list[Block] = []
    offset = 0
    start = end = None
    for line in text.splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            if start is None:
                start = offset
            end = offset + len(line.rstrip("\r\n"))
        elif start is not None:
            out.append(Block(start, text[start:end]))
            start = None
        offset += len(line)
    if start is not None:
        out.append(Block(start, text[start:end]))
    return out


def position(text: str, offset: int) -> tuple[int, int]:
    """(line, UTF-16 character) of a code-point `offset` in `text`."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset)
    line_start = text.rfind("\n", 0, offset) + 1
    return line, len(text[line_start:offset].encode("utf-16-le")) // 2


def offset(text: str, line: int, character: int) -> int:
    """The code-point offset of an LSP (line, UTF-16 character) position in `text`."""
    lines = text.split("\n")
    line = max(0, min(line, len(lines) - 1))
    start = sum(len(x) + 1 for x in lines[:line])
    units = 0
    for i, ch in enumerate(lines[line]):
        if units >= character:
            return start + i
        units += 2 if ord(ch) > 0xFFFF else 1
    return start + len(lines[line])

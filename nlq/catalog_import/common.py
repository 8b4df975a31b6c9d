"""What every importer needs: the time window, value cutting, field kinds, progress."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from nlq.catalog import LogField, value_kind
from nlq.errors import UsageError

#: label values kept per label by default; more are cut to the most frequent
DEFAULT_MAX_VALUES = 200
#: field values listed only for fields with at most this many distinct strings / numbers
MAX_FIELD_VALUES = 30
MAX_NUMBER_VALUES = 12

T = TypeVar("T")


@dataclass(frozen=True)
class TimeWindow:
    """[start, end] in Unix seconds: what the series and label calls look at."""

    start_s: float
    end_s: float

    @classmethod
    def last(cls, seconds: float, end_s: float | None = None) -> TimeWindow:
        end = time.time() if end_s is None else end_s
        return cls(end - seconds, end)

    def __post_init__(self) -> None:
        if self.end_s <= self.start_s:
            raise UsageError("the import window is empty: --start must be before --end")

    @property
    def seconds(self) -> float:
        return self.end_s - self.start_s


def top_values(counts: dict[str, int], max_values: int) -> tuple[list[str], bool]:
    """Sorted values, cut to the `max_values` most frequent (ties by value); True when cut."""
    if len(counts) <= max_values:
        return sorted(counts), False
    top = sorted(counts, key=lambda v: (-counts[v], v))[:max_values]
    return sorted(top), True


def log_fields(observed: dict[str, set[str]]) -> dict[str, LogField]:
    """Fields with their kind; values listed only where there are few (not ids or timings)."""
    out = {}
    for name, values in sorted(observed.items()):
        kind = value_kind(values)
        limit = {"string": MAX_FIELD_VALUES, "number": MAX_NUMBER_VALUES}.get(kind, 0)
        listed = sorted(values, key=lambda v: (float(v), v) if kind == "number" else (0.0, v))
        out[name] = LogField(name, kind, listed if len(values) <= limit else [])
    return out


def progress(items: Iterable[T], label: str, length: int | None = None, show: bool = True) -> Iterator[T]:
    """Items, with a progress bar on stderr when `show` and stderr is a terminal."""
    if not show or not sys.stderr.isatty():
        yield from items
        return
    import click

    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar

"""The dialect registry: one line per dialect, imported lazily."""

from __future__ import annotations

import importlib
from functools import cache

from nlq.dialects.base import Dialect
from nlq.errors import UsageError

# name -> module that defines `DIALECT`
_REGISTRY = {
    "promql": "nlq.dialects.promql",
    "logql": "nlq.dialects.logql",
    "datadog-metrics": "nlq.dialects.datadog_metrics",
    "datadog-logs": "nlq.dialects.datadog_logs",
}

DIALECT_NAMES = tuple(_REGISTRY)


@cache
def get(name: str) -> Dialect:
    """The dialect called `name`, or a `UsageError` naming the ones that exist."""
    module = _REGISTRY.get(name)
    if module is None:
        raise UsageError(f"unknown dialect {name!r}: choose one of {', '.join(DIALECT_NAMES)}")
    return importlib.import_module(module).DIALECT


__all__ = ["DIALECT_NAMES", "Dialect", "get"]

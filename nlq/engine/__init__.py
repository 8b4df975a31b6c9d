"""Query engines that run nlq's ASTs over a snapshot's DuckDB tables.

One entry per dialect, imported lazily.  Each engine is a function

    evaluate(node, conn, time_range: nlq.results.TimeRange) -> nlq.results.Result

where `node` is the dialect's AST (what `nlq.dialects.get(dialect).parse`
returns) and `conn` a DuckDB connection holding the snapshot tables described
in `nlq.snapshot.store`.  `run_query` parses text first.

    >>> from nlq.engine import run_query
    >>> from nlq.results import TimeRange
    >>> run_query("promql", "sum(up)", conn, TimeRange.instant(t_ms))
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from nlq.errors import NlqError, UsageError

# dialect -> "module:function"
ENGINES = {
    "promql": "nlq.engine.promql:evaluate",
    "logql": "nlq.engine.logql:evaluate",
    "datadog-metrics": "nlq.engine.datadog:evaluate_metrics",
    "datadog-logs": "nlq.engine.datadog:evaluate_logs",
}


class EngineUnavailable(NlqError):
    """The dialect has no engine (yet) in this build."""

    exit_code = 2


def engine_for(dialect: str) -> Callable[..., Any]:
    """The `evaluate` function of `dialect`'s engine."""
    target = ENGINES.get(dialect)
    if target is None:
        raise UsageError(f"unknown dialect {dialect!r}: choose one of {', '.join(ENGINES)}")
    module_name, _, func = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and module_name.startswith(exc.name):
            raise EngineUnavailable(f"no engine for {dialect} yet ({module_name} is missing)") from exc
        raise
    function = getattr(module, func, None)
    if function is None:
        raise EngineUnavailable(f"no engine for {dialect} yet ({module_name}.{func} is missing)")
    return function


def run_query(dialect: str, text_or_ast: Any, conn, time_range):
    """Evaluate a query (text, parsed with the dialect's parser, or an AST) -> `nlq.results.Result`."""
    evaluate = engine_for(dialect)
    node = text_or_ast
    if isinstance(text_or_ast, str):
        node = _parser(dialect)(text_or_ast)
    return evaluate(node, conn, time_range)


def _parser(dialect: str) -> Callable[[str], Any]:
    """The dialect's parser: engines run the same AST that validation checks."""
    from nlq import dialects

    return dialects.get(dialect).parse


__all__ = ["ENGINES", "EngineUnavailable", "engine_for", "run_query"]

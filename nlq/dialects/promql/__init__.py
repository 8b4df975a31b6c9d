"""PromQL, Prometheus's query language: grammar, AST, formatter and checks (in progress)."""

from __future__ import annotations


def __getattr__(name: str):
    # Until the parser lands, callers (nlq.engine.promql.ast_fallback) see an ImportError
    # and fall back to promql-parser.
    if name == "DIALECT":
        raise ImportError("nlq.dialects.promql has no parser yet")
    raise AttributeError(name)

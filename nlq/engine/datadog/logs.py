"""Log searches over the `dd_logs` table of a snapshot (see nlq/snapshot/store.py):

    dd_logs(ts, service, host, status, source, message, tags VARCHAR[], attributes JSON)

Each row becomes an event of the model `nlq.engine.datadog.search` documents: the
reserved attributes as columns, `tags`, and the JSON attributes at the top level
(so `trace_id` inside them is the reserved attribute, `@http.status_code` a path).
"""

from __future__ import annotations

import json

import duckdb

from nlq.engine.datadog.search import compile_search, search


def row_event(ts, service, host, status, source, message, tags, attributes) -> dict:
    event = json.loads(attributes) if isinstance(attributes, str) else dict(attributes or {})
    event.update(
        {
            "timestamp": ts,
            "service": service,
            "host": host,
            "status": status,
            "source": source,
            "message": message,
            "tags": list(tags or []),
        }
    )
    return {k: v for k, v in event.items() if v is not None}


def search_logs(
    con: duckdb.DuckDBPyConnection,
    query,
    start_ms: int | None = None,
    end_ms: int | None = None,
) -> list[dict]:
    """The events of `dd_logs` in [start_ms, end_ms) that match `query` (text or AST), oldest first.

    The result is a bag: two identical events both come back.
    """
    node = compile_search(query) if isinstance(query, str) else query
    sql = "SELECT ts, service, host, status, source, message, tags, attributes FROM dd_logs"
    where, params = [], []
    if start_ms is not None:
        where.append("ts >= ?")
        params.append(start_ms)
    if end_ms is not None:
        where.append("ts < ?")
        params.append(end_ms)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY ts, service, host, message"
    events = (row_event(*row) for row in con.execute(sql, params).fetchall())
    return search(node, events)

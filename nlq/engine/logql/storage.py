"""Log storage in DuckDB: streams and their lines.

    log_streams(stream_id INTEGER, labels MAP(VARCHAR, VARCHAR))
    log_lines(stream_id INTEGER, ts BIGINT  -- nanoseconds since the epoch
              , line VARCHAR, metadata MAP(VARCHAR, VARCHAR))  -- structured metadata

DuckDB does the set work a query starts with: the stream selector's matchers
and the line filters ahead of the first parser, with RE2 regexes (DuckDB's
regex engine is Go's), and the time window.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from nlq.dialects.logql import ast


@dataclass(frozen=True)
class Entry:
    stream: tuple[tuple[str, str], ...]  # sorted stream labels
    ts: int  # ns
    line: str
    metadata: tuple[tuple[str, str], ...]


class LogStore:
    def __init__(self, connection: duckdb.DuckDBPyConnection | None = None):
        self.db = connection or duckdb.connect(":memory:")
        # A snapshot's connection already holds the tables, often read-only: create only what is missing.
        present = {
            row[0] for row in self.db.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        if "log_streams" not in present:
            self.db.execute(
                "CREATE TABLE log_streams(stream_id INTEGER, labels MAP(VARCHAR, VARCHAR))"
            )
        if "log_lines" not in present:
            self.db.execute(
                "CREATE TABLE log_lines(stream_id INTEGER, ts BIGINT, line VARCHAR, metadata MAP(VARCHAR, VARCHAR))"
            )
        self._ids: dict[tuple, int] = {}
        self._pending: list[tuple] = []

    def clear(self) -> None:
        self.db.execute("DELETE FROM log_streams")
        self.db.execute("DELETE FROM log_lines")
        self._ids.clear()
        self._pending.clear()

    def add(
        self, labels: dict[str, str], ts_ns: int, line: str, metadata: dict[str, str] | None = None
    ) -> None:
        labels = {k: v for k, v in labels.items() if v != ""}  # an empty stream label is no label
        key = tuple(sorted(labels.items()))
        if key not in self._ids:
            self._ids[key] = len(self._ids) + 1
            self.db.execute(
                "INSERT INTO log_streams VALUES (?, MAP(?, ?))",
                [self._ids[key], list(labels), list(labels.values())],
            )
        meta = metadata or {}
        self._pending.append((self._ids[key], ts_ns, line, list(meta), list(meta.values())))

    def flush(self) -> None:
        """Write the lines added so far (add() batches them)."""
        if self._pending:
            self.db.executemany("INSERT INTO log_lines VALUES (?, ?, ?, MAP(?, ?))", self._pending)
            self._pending.clear()

    def select(
        self, selector: ast.Selector, line_filters: list[ast.LineFilter], start_ns: int, end_ns: int
    ) -> list[Entry]:
        """Lines of matching streams with start < ts <= end that pass the given line filters."""
        self.flush()
        where = ["l.ts > ?", "l.ts <= ?"]
        params: list = [start_ns, end_ns]
        for m in selector.matchers:
            value = "coalesce(element_at(s.labels, ?)[1], '')"
            params.append(m.name)
            if m.op == "=":
                where.append(f"{value} = ?")
            elif m.op == "!=":
                where.append(f"{value} != ?")
            elif m.op == "=~":
                where.append(f"regexp_full_match({value}, ?)")
            else:
                where.append(f"NOT regexp_full_match({value}, ?)")
            params.append(m.value)
        for f in line_filters:
            clauses = []
            for v in f.values:
                if f.op in ("|=", "!="):
                    clauses.append("contains(l.line, ?)")
                else:
                    clauses.append("regexp_matches(l.line, ?)")
                params.append(v.value)
            joined = " OR ".join(clauses)
            where.append(f"({joined})" if f.op in ("|=", "|~") else f"NOT ({joined})")
        rows = self.db.execute(
            "SELECT map_entries(s.labels), l.ts, l.line, map_entries(l.metadata) FROM log_lines l"
            " JOIN log_streams s USING (stream_id) WHERE "
            + " AND ".join(where)
            + " ORDER BY s.stream_id, l.ts",
            params,
        ).fetchall()
        return [
            Entry(
                tuple(sorted((e["key"], e["value"]) for e in labels)),
                ts,
                line,
                tuple((e["key"], e["value"]) for e in meta),
            )
            for labels, ts, line, meta in rows
        ]

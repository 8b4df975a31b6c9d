"""Series selection and sample fetching over the DuckDB tables `prom_series`/`prom_samples`.

DuckDB does the selection (label matchers, regular expressions with RE2, fully
anchored and with `.` matching newlines as in Prometheus) and fetches the samples;
the evaluator works on numpy arrays.  Selections are memoised per `Storage`, so
a query that names a selector twice (or a test harness running one query many
times) reads it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from nlq.errors import NlqError


class StorageError(NlqError):
    """A selector that DuckDB could not run (a regular expression that does not compile...)."""


@dataclass
class StoredSeries:
    labels: dict[str, str]  # with __name__ when the series has a name
    ts: np.ndarray  # int64 milliseconds, ascending
    values: np.ndarray  # float64; NaN where stale
    stale: np.ndarray  # bool: staleness markers


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _column(name: str) -> str:
    if name == "__name__":
        return "coalesce(metric, '')"
    return f"coalesce(labels[{_quote(name)}], '')"


def matcher_sql(name: str, op: str, value: str) -> str:
    col = _column(name)
    if op == "=":
        return f"{col} = {_quote(value)}"
    if op == "!=":
        return f"{col} <> {_quote(value)}"
    pattern = _quote("(?s:" + value + ")")
    if op == "=~":
        return f"regexp_full_match({col}, {pattern})"
    if op == "!~":
        return f"NOT regexp_full_match({col}, {pattern})"
    raise StorageError(f"unknown matcher operator {op!r}")


class Storage:
    """The Prometheus tables of one DuckDB connection, optionally bounded in time."""

    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn
        self._cache: dict[tuple, list[StoredSeries]] = {}
        try:
            conn.execute("SELECT series_id, ts, value, stale FROM prom_samples LIMIT 0").fetchall()
            conn.execute("SELECT series_id, metric, labels FROM prom_series LIMIT 0").fetchall()
        except duckdb.Error as exc:
            raise StorageError(f"no Prometheus tables in this database: {str(exc).splitlines()[0]}") from exc

    def select(self, matchers: tuple[tuple[str, str, str], ...], mint: int | None = None,
               maxt: int | None = None) -> list[StoredSeries]:
        """Series matching all `matchers` ((name, op, value) triples), samples in [mint, maxt]."""
        key = (tuple(sorted(matchers)), mint, maxt)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        where = " AND ".join(matcher_sql(*m) for m in matchers) or "TRUE"
        time_where = []
        if mint is not None:
            time_where.append(f"p.ts >= {int(mint)}")
        if maxt is not None:
            time_where.append(f"p.ts <= {int(maxt)}")
        tw = (" AND " + " AND ".join(time_where)) if time_where else ""
        try:
            rows = self.conn.execute(
                f"SELECT series_id, metric, labels FROM prom_series WHERE {where} ORDER BY series_id"
            ).fetchall()
            if not rows:
                self._cache[key] = []
                return []
            ids = [r[0] for r in rows]
            self.conn.register("_nlq_ids", {"sid": np.asarray(ids, dtype=np.int64)})
            try:
                data = self.conn.execute(
                    "SELECT p.series_id, p.ts, p.value, p.stale FROM prom_samples p "
                    f"SEMI JOIN _nlq_ids i ON p.series_id = i.sid WHERE TRUE{tw} ORDER BY p.series_id, p.ts"
                ).fetchnumpy()
            finally:
                self.conn.unregister("_nlq_ids")
        except duckdb.Error as exc:
            message = str(exc).split("\n")[0]
            raise StorageError(f"cannot select series: {message}") from exc
        sids = np.asarray(data["series_id"], dtype=np.int64)
        ts = np.asarray(data["ts"], dtype=np.int64)
        values = _float_array(data["value"])
        stale = np.asarray(data["stale"], dtype=bool) if len(sids) else np.zeros(0, dtype=bool)
        out = []
        bounds = np.searchsorted(sids, np.asarray(ids, dtype=np.int64), side="left")
        ends = np.searchsorted(sids, np.asarray(ids, dtype=np.int64), side="right")
        for (_sid, metric, labels), lo, hi in zip(rows, bounds, ends, strict=True):
            lbl = dict(labels or {})
            if metric:
                lbl["__name__"] = metric
            v = values[lo:hi].copy()
            st = stale[lo:hi].copy()
            v[st] = np.nan
            out.append(StoredSeries(lbl, ts[lo:hi], v, st))
        self._cache[key] = out
        return out


def _float_array(column) -> np.ndarray:
    if isinstance(column, np.ma.MaskedArray):
        return column.filled(np.nan).astype(np.float64)
    return np.asarray(column, dtype=np.float64)

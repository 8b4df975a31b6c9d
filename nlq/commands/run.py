"""`nlq run`: evaluate a query over a snapshot, with nlq's engine or the reference."""

from __future__ import annotations

import json
import re
from datetime import datetime

import click

from nlq.errors import NlqError, UsageError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}


def parse_duration_ms(text: str) -> int:
    """`30s`, `5m`, `1h30m` or plain seconds (`15`, `0.5`) -> milliseconds."""
    text = text.strip()
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise UsageError(f"not a duration: {text!r} (use e.g. 30s, 5m, 1h30m or seconds)")
    return round(total)


def parse_time_ms(text: str, start_ms: int, end_ms: int) -> int:
    """A time: Unix seconds, RFC 3339, `end`/`start`, or `end-30m` / `start+1h`."""
    t = text.strip()
    m = re.fullmatch(r"(start|end)(?:\s*([+-])\s*(\S+))?", t)
    if m:
        base = start_ms if m.group(1) == "start" else end_ms
        if m.group(2):
            delta = parse_duration_ms(m.group(3))
            base = base + delta if m.group(2) == "+" else base - delta
        return base
    if t.startswith("-"):
        return end_ms - parse_duration_ms(t[1:])
    try:
        return round(float(t) * 1000)
    except ValueError:
        pass
    try:
        return round(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError as exc:
        raise UsageError(f"not a time: {text!r} (Unix seconds, RFC 3339, end, end-30m)") from exc


def _snapshot_bounds(conn) -> tuple[int, int]:
    rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    return int(rows["start_ms"]), int(rows["end_ms"])


@click.command("run")
@click.option("--dialect", "-d", default="promql", show_default=True,
              type=click.Choice(["promql", "logql", "datadog-metrics", "datadog-logs"]), help="Query language.")
@click.argument("query")
@click.option("--at", "at", default=None, help="Instant query time (default: the snapshot's end).")
@click.option("--start", default=None, help="Range query start.")
@click.option("--end", default=None, help="Range query end.")
@click.option("--step", default=None, help="Range query step (e.g. 1m).")
@click.option("--snapshot", default="shop-a", show_default=True, help="Snapshot to query.")
@click.option("--engine", type=click.Choice(["duckdb", "prometheus"]), default="duckdb", show_default=True,
              help="nlq's engine over DuckDB, or the real Prometheus (PromQL only) as reference.")
@click.option("--json", "as_json", is_flag=True, help="Print the normalised result JSON (nlq.results).")
def command(dialect, query, at, start, end, step, snapshot, engine, as_json) -> None:
    """Evaluate QUERY over a snapshot and print the result.

    \b
    Times: Unix seconds, RFC 3339, `end`, `end-30m`, `start+1h` or `-30m`
    (before the snapshot's end).  Without --at or --start/--end/--step the
    query is an instant query at the snapshot's end.

    \b
    Examples:
      nlq run 'sum by (service) (rate(http_requests_total[5m]))'
      nlq run --start end-1h --end end --step 5m 'up' --json
      nlq run --engine prometheus 'count(up)'
    """
    from nlq.results import TimeRange

    try:
        from nlq.snapshot import open_snapshot
    except ImportError as exc:  # pragma: no cover
        raise UsageError("snapshots are not available in this build (nlq.snapshot is missing)") from exc
    conn = open_snapshot(snapshot)
    try:
        snap_start, snap_end = _snapshot_bounds(conn)
        if at is not None and (start or end or step):
            raise UsageError("give either --at or --start/--end/--step")
        if start or end or step:
            if not (start and end and step):
                raise UsageError("a range query needs --start, --end and --step")
            tr = TimeRange.range(parse_time_ms(start, snap_start, snap_end), parse_time_ms(end, snap_start, snap_end),
                                 parse_duration_ms(step))
        else:
            t = parse_time_ms(at, snap_start, snap_end) if at is not None else snap_end
            tr = TimeRange.instant(t)
        if tr.start_ms < snap_start or tr.end_ms > snap_end:
            raise UsageError(
                f"time outside snapshot {snapshot}: it covers {_iso(snap_start)} .. {_iso(snap_end)}")
        if len(tr.steps()) > 11_000:
            raise UsageError("too many steps (over 11000): use a larger --step")
        if engine == "prometheus":
            result = _reference(dialect, query, snapshot, tr)
        else:
            from nlq.engine import run_query

            result = run_query(dialect, query, conn, tr)
    finally:
        conn.close()
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=1))
        return
    _print_table(result)


def _reference(dialect: str, query: str, snapshot: str, tr):
    if dialect != "promql":
        raise UsageError("--engine prometheus runs PromQL only")
    try:
        from nlq.reference import prometheus
    except ImportError as exc:
        raise UsageError("the Prometheus reference is not available in this build") from exc
    from nlq.results import as_result

    if not prometheus.binaries_available():
        raise NlqError("prometheus/promtool not found: apt-get install -y prometheus (or use --engine duckdb)")
    if tr.is_instant:
        return as_result(prometheus.query(snapshot, query, tr.start_ms / 1000))
    return as_result(prometheus.query_range(snapshot, query, tr.start_ms / 1000, tr.end_ms / 1000,
                                            tr.step_ms / 1000))


def _iso(ms: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _print_table(result) -> None:
    from rich.console import Console
    from rich.table import Table

    from nlq.results import format_labels, format_value

    console = Console()
    if result.type == "string":
        console.print(json.dumps(result.string))
        return
    series = result.series if result.ordered else sorted(result.series, key=lambda s: sorted(s.labels.items()))
    table = Table(title=f"{result.type}: {len(series)} series")
    table.add_column("series")
    if result.type in ("vector", "scalar"):
        table.add_column("value", justify="right")
        table.add_column("time")
        for s in series:
            t, v = s.samples[0]
            table.add_row(format_labels(s.labels) or "{}", format_value(v), _iso(t))
    elif result.type == "streams":
        table.add_column("lines", justify="right")
        for s in series:
            table.add_row(format_labels(s.labels) or "{}", str(len(s.lines or [])))
    else:
        table.add_column("points", justify="right")
        table.add_column("first", justify="right")
        table.add_column("last", justify="right")
        for s in series:
            first = f"{format_value(s.samples[0][1])} @{_iso(s.samples[0][0])}" if s.samples else ""
            last = f"{format_value(s.samples[-1][1])} @{_iso(s.samples[-1][0])}" if s.samples else ""
            table.add_row(format_labels(s.labels) or "{}", str(len(s.samples)), first, last)
    console.print(table)
    for w in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")

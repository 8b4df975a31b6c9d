#!/usr/bin/env python
"""Per-query time of nlq's PromQL engine beside the real Prometheus's, in one run.

    .venv/bin/python benchmarks/engine_vs_prometheus.py                 # gold queries of evals/promql.jsonl
    .venv/bin/python benchmarks/engine_vs_prometheus.py --generated 200 # queries from nlq.snapshot.querygen
    .venv/bin/python benchmarks/engine_vs_prometheus.py --range         # 30 min range queries, 60 s step

Each query runs --repeat times on each engine against one snapshot (default the
first variant) at the window's end; the table gives the median milliseconds of
each, whether the two results agree, and the medians over all queries.  The
Prometheus time includes the HTTP round trip on loopback and the JSON decoding,
as `nlq run --engine prometheus` pays it.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlq.results import TimeRange, compare  # noqa: E402


def gold_queries(path: Path) -> list[str]:
    out = []
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            if record.get("dialect", "promql") == "promql" and record.get("gold"):
                out.append(record["gold"])
    return out


def timed(fn, repeat: int):
    times, result, error = [], None, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            result = fn()
        except Exception as exc:  # noqa: BLE001 - reported in the table
            error = f"{type(exc).__name__}: {exc}"
            break
        times.append(time.perf_counter() - t0)
    return (statistics.median(times) * 1000 if times else None), result, error


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--snapshot", default=None, help="variant (default: the first)")
    parser.add_argument("--gold", default=str(ROOT / "evals" / "promql.jsonl"), help="JSONL with a `gold` query a line")
    parser.add_argument("--generated", type=int, default=0, help="use N generated queries instead of the gold set")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--range", action="store_true", help="range queries (30 min, 60 s step) instead of instant")
    args = parser.parse_args()

    from nlq.catalog import load_catalog
    from nlq.engine import engine_for
    from nlq.reference import prometheus as ref
    from nlq.snapshot import snapshot_names
    from nlq.snapshot.differential import engine_connection, evaluation_times
    from nlq.snapshot.querygen import generate_queries

    name = args.snapshot or snapshot_names()[0]
    if args.generated:
        queries = generate_queries(load_catalog(ROOT / "snapshots" / "catalog" / "promql.json"), args.generated)
    else:
        queries = gold_queries(Path(args.gold))
    con = engine_connection(name)
    instants, span = evaluation_times(con)
    tr = span if args.range else TimeRange.instant(instants[-1])
    started = time.perf_counter()
    ref.start(name)
    print(f"# prometheus ready in {time.perf_counter() - started:.1f} s; snapshot {name}; {len(queries)} queries; "
          f"{'range ' + str(tr.to_json()) if args.range else 'instant at ' + str(tr.start_ms)}; median of {args.repeat}")

    def reference(query: str):
        if tr.is_instant:
            return ref.query(name, query, tr.start_ms / 1000)
        return ref.query_range(name, query, tr.start_ms / 1000, tr.end_ms / 1000, tr.step_ms / 1000)

    print(f"{'engine ms':>10} {'prom ms':>9} {'ratio':>7}  agree  query")
    engine_ms, prom_ms, agree = [], [], 0
    for query in queries:
        e_ms, got, e_err = timed(partial(engine_for("promql"), query, con, tr), args.repeat)
        p_ms, expected, p_err = timed(partial(reference, query), args.repeat)
        same = "-"
        if got is not None and expected is not None and not e_err and not p_err:
            ok, _ = compare(got, expected)
            same = "yes" if ok else "NO"
            agree += ok
        if e_ms is not None:
            engine_ms.append(e_ms)
        if p_ms is not None:
            prom_ms.append(p_ms)
        ratio = f"{e_ms / p_ms:7.1f}" if e_ms and p_ms else "      -"
        e_txt = f"{e_ms:10.2f}" if e_ms is not None else f"{'error':>10}"
        p_txt = f"{p_ms:9.2f}" if p_ms is not None else f"{'error':>9}"
        print(f"{e_txt} {p_txt} {ratio}  {same:>5}  {query}")
        for err in (e_err, p_err):
            if err:
                print(f"{'':>36}{err[:200]}")
    if engine_ms and prom_ms:
        print(f"# median over queries: engine {statistics.median(engine_ms):.2f} ms, "
              f"prometheus {statistics.median(prom_ms):.2f} ms; agree {agree}/{len(queries)}")
    con.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

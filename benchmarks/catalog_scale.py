"""How catalog size affects constrained decoding: grammar compile, mask time, prompt size.

For synthetic PromQL catalogs of 100, 1,000 and 10,000 metrics (about five
label values per metric-label, ~50,000 distinct label values at 10k), prints:

* narrow: `nlq.constrain.narrow.narrow_text` (the catalog-specialised Lark text;
  it scopes labels per group of metrics, at most `MAX_SCOPED_ENTITIES` groups,
  see `scope_groups`; the `applied` column says whether it did);
* compile: llguidance compiling it once against SmolLM2's tokenizer
  (`nlq.constrain.narrow.compiled_matcher`, which validates too); beside it
  today's path in `ConstraintGrammar.validated_spec` plus a matcher (two
  compiles), and a cached matcher (a copy of the compiled one);
* masks: every next-token mask (`fill_next_token_bitmask`) while fresh matchers
  walk 8 queries over metrics spread through the catalog, twice each: median,
  p99 and max, in wall time and in the thread's CPU time (the machine is
  shared: wall time includes waiting for a core), the first mask of each
  walk apart (lexer states built lazily);
* prompt: tokens of the catalog slice the prompt shows (k=6 metrics), and the
  BM25 ranking's time over the whole catalog.

Wall and CPU seconds are both printed, with the load average.

Goals: 10k compiles < 2 s, masks < 1 ms per token.

    .venv/bin/python benchmarks/catalog_scale.py                # 100, 1000, 10000
    .venv/bin/python benchmarks/catalog_scale.py --sizes 100 1000 --unscoped
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import llguidance  # noqa: E402
import llguidance.numpy  # noqa: E402

from nlq.catalog import Catalog, Metric  # noqa: E402
from nlq.constrain.grammar import ConstraintGrammar  # noqa: E402
from nlq.constrain.narrow import compiled_matcher, generation_text, grammar_file, narrow_text  # noqa: E402
from nlq.grammar import grammar_text  # noqa: E402
from nlq.prompting.catalog_slice import catalog_slice  # noqa: E402

SUBSYSTEMS = ["http", "grpc", "db", "cache", "queue", "node", "container", "kafka", "auth", "billing"]
NOUNS = ["requests", "errors", "bytes_sent", "bytes_received", "connections", "queue_depth", "latency_seconds",
         "retries", "evictions", "hits", "misses", "lag", "threads", "sessions", "tokens"]
LABELS = ["service", "instance", "job", "region", "zone", "method", "route", "status_code", "pod", "namespace",
          "cluster", "db", "operation", "topic", "partition", "queue", "cache", "tenant", "version", "node"]
QUESTIONS = ["p99 latency of the checkout service", "error rate by route", "bytes sent per pod in eu-west-1"]


def synthetic_catalog(n_metrics: int, values_per_label: int = 5) -> Catalog:
    """A deterministic catalog: n metrics, 3-4 labels each, ~5 values per label of each metric.

    A label's values are drawn from its own pool of n/4 names, scattered per
    metric, so distinct values grow with the catalog (~50,000 at 10,000 metrics).
    """
    catalog = Catalog("promql")
    for i in range(n_metrics):
        sub = SUBSYSTEMS[i % len(SUBSYSTEMS)]
        noun = NOUNS[(i // len(SUBSYSTEMS)) % len(NOUNS)]
        serial = i // (len(SUBSYSTEMS) * len(NOUNS))
        kind = i % 4
        suffix = "_total" if kind == 0 else ""
        name = f"{sub}_{noun}{suffix}" if serial == 0 else f"{sub}_app{serial}_{noun}{suffix}"
        labels = {}
        for j in range(3 + i % 2):
            label = LABELS[(i * 7 + j * 3) % len(LABELS)]
            pool = max(n_metrics // 4, values_per_label)
            picks = sorted({((i * values_per_label + k) * 2_654_435_761 % 2**32) % pool for k in range(values_per_label)})
            labels[label] = [f"{label}-{v}" for v in picks]
        type_ = "counter" if suffix else "gauge"
        catalog.metrics[name] = Metric(name, type_, f"The {noun.replace('_', ' ')} of {sub}.", "", labels)
    return catalog


def load_tokenizers():
    from transformers import AutoTokenizer

    from nlq.constrain.tokenizer import ll_tokenizer_for
    from nlq.models.embedded import EOS_TOKEN, convert, converted_dir, is_converted

    folder = converted_dir() if is_converted() else convert(log=lambda m: print(m, file=sys.stderr))
    hf = AutoTokenizer.from_pretrained(folder)
    eos = int(hf.convert_tokens_to_ids(EOS_TOKEN))
    return hf, ll_tokenizer_for(hf, eos)


def mask_trace(spec: str, ll_tok, hf, query: str, matcher=None) -> dict:
    """Walk `query` token by token with one matcher, timing each next-token mask.

    Returns every mask's wall and thread-CPU time in ms (the first separately: a
    fresh matcher builds its lexer states lazily) and any llguidance error.  CPU
    time is what the mask costs; wall time adds whatever else the machine runs.
    """
    tokens = hf.encode(query, add_special_tokens=False)
    bitmask = llguidance.numpy.allocate_token_bitmask(1, ll_tok.vocab_size)
    matcher = matcher or llguidance.LLMatcher(ll_tok, spec)
    wall, cpu = [], []
    for token in tokens:
        w0, c0 = time.perf_counter(), time.thread_time()
        llguidance.numpy.fill_next_token_bitmask(matcher, bitmask, 0)
        cpu.append((time.thread_time() - c0) * 1000)
        wall.append((time.perf_counter() - w0) * 1000)
        if matcher.is_error() or not matcher.consume_token(token):
            return {"wall": wall, "cpu": cpu, "tokens": len(wall),
                    "error": (matcher.get_error() or "token refused").splitlines()[0][:120]}
    return {"wall": wall, "cpu": cpu, "tokens": len(wall), "error": None}


def percentiles(values: list[float]) -> dict:
    """median, p99 (nearest rank) and max, in ms."""
    if not values:
        return {"median": None, "p99": None, "max": None}
    ordered = sorted(values)
    p99 = ordered[max(0, min(len(ordered) - 1, round(0.99 * len(ordered) + 0.5) - 1))]
    return {"median": round(statistics.median(ordered), 3), "p99": round(p99, 3), "max": round(ordered[-1], 3)}


def queries(catalog: Catalog, count: int = 8) -> list[str]:
    """Queries over metrics spread through the catalog, each through the parser states that
    matter: start, function, metric name, `{`, label name and value, after the selector."""
    names = sorted(catalog.metrics)
    out = []
    for i in range(count):
        metric = names[(i * len(names)) // count + len(names) // (2 * count)]
        label, values = sorted(catalog.metrics[metric].labels.items())[i % 3]
        if i % 2:
            out.append(f'sum by ({label}) (rate({metric}{{{label}="{values[0]}"}}[5m])) > 0')
        else:
            out.append(f'topk(3, avg by ({label}) ({metric}{{{label}=~"{values[-1]}|{values[0]}"}}))')
    return out


def run(n: int, hf, ll_tok, scoped: bool) -> dict:
    catalog = synthetic_catalog(n)
    distinct = len({v for m in catalog.metrics.values() for vs in m.labels.values() for v in vs})
    entries = sum(len(vs) for m in catalog.metrics.values() for vs in m.labels.values())
    text = grammar_text(grammar_file("promql"))
    w0, c0 = time.perf_counter(), time.process_time()
    narrowed, stats, _missing = narrow_text(text, "promql", catalog, scoped=scoped)
    narrowed = generation_text(narrowed)
    narrow_s, narrow_cpu = time.perf_counter() - w0, time.process_time() - c0
    # today's path: ConstraintGrammar.validated_spec (a compile) then a matcher (another)
    w0, c0 = time.perf_counter(), time.process_time()
    grammar = ConstraintGrammar(narrowed, name=f"bench-{n}")
    spec = grammar.validated_spec(ll_tok)
    llguidance.LLMatcher(ll_tok, spec)
    validate_s, validate_cpu = time.perf_counter() - w0, time.process_time() - c0
    # the compile cache: one compile (which validates), then copies
    w0, c0 = time.perf_counter(), time.process_time()
    compiled_matcher(spec, ll_tok)
    compile_s, compile_cpu = time.perf_counter() - w0, time.process_time() - c0
    w0 = time.perf_counter()
    for _ in range(20):
        compiled_matcher(spec, ll_tok)
    copy_ms = (time.perf_counter() - w0) * 1000 / 20
    first_wall, first_cpu, wall, cpu, errors = [], [], [], [], []
    for query in queries(catalog):
        for _request in range(2):  # the same question twice: lexer states are then warm
            trace = mask_trace(spec, ll_tok, hf, query, compiled_matcher(spec, ll_tok))
            first_wall.append(trace["wall"][0])
            first_cpu.append(trace["cpu"][0])
            wall += trace["wall"][1:]
            cpu += trace["cpu"][1:]
            if trace["error"]:
                errors.append(trace["error"])
    slice_times, slice_tokens = [], []
    for question in QUESTIONS:
        start = time.perf_counter()
        piece = catalog_slice(catalog, question, k=6)
        slice_times.append((time.perf_counter() - start) * 1000)
        slice_tokens.append(len(hf.encode(piece.text, add_special_tokens=False)))
    return {
        "metrics": n, "distinct_values": distinct, "label_value_entries": entries, "scoped": scoped,
        "scoped_applied": bool(stats.get("scoped_metrics")), "lark_kb": round(len(narrowed) / 1024),
        "narrow_s": round(narrow_s, 3), "narrow_cpu_s": round(narrow_cpu, 3),
        "compile_s": round(compile_s, 3), "compile_cpu_s": round(compile_cpu, 3),
        "total_s": round(narrow_s + compile_s, 3), "total_cpu_s": round(narrow_cpu + compile_cpu, 3),
        "validate_and_matcher_s": round(validate_s, 3), "validate_and_matcher_cpu_s": round(validate_cpu, 3),
        "cached_matcher_ms": round(copy_ms, 3),
        "masks": len(wall), "mask_ms": percentiles(wall), "mask_cpu_ms": percentiles(cpu),
        "first_mask_ms": percentiles(first_wall), "first_mask_cpu_ms": percentiles(first_cpu),
        "errors": sorted(set(errors)),
        "slice_tokens": max(slice_tokens), "slice_ms": round(statistics.median(slice_times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--unscoped", action="store_true", help="Also measure without per-metric label scoping.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object per line.")
    args = parser.parse_args()
    hf, ll_tok = load_tokenizers()
    if not args.json:
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs", flush=True)
    rows = []
    for n in args.sizes:
        for scoped in ([True, False] if args.unscoped else [True]):
            row = run(n, hf, ll_tok, scoped)
            row["load_average"] = [round(x, 2) for x in os.getloadavg()]
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
                continue
            m, c, f = row["mask_ms"], row["mask_cpu_ms"], row["first_mask_cpu_ms"]
            print(f"{n:>6} metrics  {row['distinct_values']:>6} values  scoped={scoped!s:5} "
                  f"(applied {row['scoped_applied']!s:5})  lark {row['lark_kb']:>5} KB\n"
                  f"        narrow {row['narrow_s']:.3f} s (cpu {row['narrow_cpu_s']:.3f})  "
                  f"compile {row['compile_s']:.3f} s (cpu {row['compile_cpu_s']:.3f})  "
                  f"[validate + matcher, today's path: {row['validate_and_matcher_s']:.3f} s "
                  f"(cpu {row['validate_and_matcher_cpu_s']:.3f})]  cached matcher {row['cached_matcher_ms']:.3f} ms\n"
                  f"        {row['masks']} masks, ms wall median/p99/max {m['median']} / {m['p99']} / {m['max']}, "
                  f"cpu {c['median']} / {c['p99']} / {c['max']}; first mask cpu median/max {f['median']} / {f['max']}"
                  + (f"  ERRORS {row['errors']}" if row["errors"] else "")
                  + f"\n        prompt catalog slice {row['slice_tokens']} tokens, {row['slice_ms']} ms", flush=True)
    if not args.json:
        goal = [r for r in rows if r["metrics"] == 10_000 and r["scoped"]]
        if goal:
            r = goal[0]
            p99 = r["mask_cpu_ms"]["p99"]
            print(f"goals at 10k: narrow + compile {r['total_s']} s wall, {r['total_cpu_s']} s cpu (< 2 s: "
                  f"{r['total_s'] < 2}); mask p99 {p99} ms cpu, {r['mask_ms']['p99']} ms wall "
                  f"(< 1 ms: {p99 is not None and p99 < 1})")


if __name__ == "__main__":
    main()

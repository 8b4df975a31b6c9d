"""How catalog size affects constrained decoding: grammar compile, mask time, prompt size.

For synthetic PromQL catalogs of 100, 1,000 and 10,000 metrics (about five
label values per metric-label, ~50,000 distinct label values at 10k), prints:

* narrow_s: `nlq.constrain.narrow.narrow_text` (the catalog-specialised Lark text;
  it scopes labels per metric only up to `MAX_SCOPED_ENTITIES` metrics, the
  `applied` column says whether it did);
* compile_s: llguidance compiling and validating it against SmolLM2's tokenizer
  (`LLMatcher.validate_grammar`) plus the first matcher;
* mask_ms: time of each next-token mask (`fill_next_token_bitmask`) while one
  matcher walks `sum by (l) (rate(m{l="v"}[5m])) > 0` token by token (the parser
  states: start, function, metric name, `{`, label value, after the selector):
  the first mask, then median and worst; again for a second request;
* slice_tokens: tokens of the catalog slice the prompt shows (k=6 metrics), and
  slice_ms, the BM25 ranking over the whole catalog.

Goals: 10k compiles < 2 s, masks < 1 ms per token.

    .venv/bin/python benchmarks/catalog_scale.py                # 100, 1000, 10000
    .venv/bin/python benchmarks/catalog_scale.py --sizes 100 1000 --unscoped
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import llguidance  # noqa: E402
import llguidance.numpy  # noqa: E402

from nlq.catalog import Catalog, Metric  # noqa: E402
from nlq.constrain.grammar import ConstraintGrammar  # noqa: E402
from nlq.constrain.narrow import generation_text, grammar_file, narrow_text  # noqa: E402
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


def mask_trace(spec: str, ll_tok, hf, query: str) -> dict:
    """Walk `query` token by token with one matcher, timing each next-token mask.

    Returns the first mask (a fresh matcher builds its lexer states lazily), the
    median and the worst of the rest, in ms, and any llguidance error.
    """
    tokens = hf.encode(query, add_special_tokens=False)
    bitmask = llguidance.numpy.allocate_token_bitmask(1, ll_tok.vocab_size)
    matcher = llguidance.LLMatcher(ll_tok, spec)
    times = []
    for token in tokens:
        start = time.perf_counter()
        llguidance.numpy.fill_next_token_bitmask(matcher, bitmask, 0)
        times.append((time.perf_counter() - start) * 1000)
        if len(times) == 1 or times[-1] >= max(times[1:] or [0]):
            worst_at = hf.decode(tokens[: len(times) - 1])
        if matcher.is_error() or not matcher.consume_token(token):
            return {"first": round(times[0], 3), "median": None, "max": None,
                    "error": (matcher.get_error() or "token refused").splitlines()[0][:120], "tokens": len(times)}
    rest = times[1:] or times
    return {"first": round(times[0], 3), "median": round(statistics.median(rest), 3), "max": round(max(rest), 3),
            "worst_after": worst_at, "error": None, "tokens": len(times)}


def run(n: int, hf, ll_tok, scoped: bool) -> dict:
    catalog = synthetic_catalog(n)
    distinct = len({v for m in catalog.metrics.values() for vs in m.labels.values() for v in vs})
    entries = sum(len(vs) for m in catalog.metrics.values() for vs in m.labels.values())
    text = grammar_text(grammar_file("promql"))
    start = time.perf_counter()
    narrowed, stats, _missing = narrow_text(text, "promql", catalog, scoped=scoped)
    narrowed = generation_text(narrowed)
    narrow_s = time.perf_counter() - start
    start = time.perf_counter()
    grammar = ConstraintGrammar(narrowed, name=f"bench-{n}")
    spec = grammar.validated_spec(ll_tok)
    llguidance.LLMatcher(ll_tok, spec)
    compile_s = time.perf_counter() - start
    metric = sorted(catalog.metrics)[n // 2]
    label, values = sorted(catalog.metrics[metric].labels.items())[0]
    # parser states along the way: start, function, metric name, `{`, label value, after the selector
    query = f'sum by ({label}) (rate({metric}{{{label}="{values[0]}"}}[5m])) > 0'
    masks = mask_trace(spec, ll_tok, hf, query)
    warm = mask_trace(spec, ll_tok, hf, query)  # a second request with the same grammar
    slice_times, slice_tokens = [], []
    for question in QUESTIONS:
        start = time.perf_counter()
        piece = catalog_slice(catalog, question, k=6)
        slice_times.append((time.perf_counter() - start) * 1000)
        slice_tokens.append(len(hf.encode(piece.text, add_special_tokens=False)))
    return {
        "metrics": n, "distinct_values": distinct, "label_value_entries": entries, "scoped": scoped,
        "scoped_applied": bool(stats.get("scoped_metrics")),
        "lark_kb": round(len(narrowed) / 1024), "narrow_s": round(narrow_s, 3), "compile_s": round(compile_s, 3),
        "total_s": round(narrow_s + compile_s, 3), "mask_ms": masks, "mask_ms_warm": warm,
        "slice_tokens": max(slice_tokens), "slice_ms": round(statistics.median(slice_times), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--unscoped", action="store_true", help="Also measure without per-metric label scoping.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object per line.")
    args = parser.parse_args()
    hf, ll_tok = load_tokenizers()
    rows = []
    for n in args.sizes:
        for scoped in ([True, False] if args.unscoped else [True]):
            row = run(n, hf, ll_tok, scoped)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
            else:
                m, w = row["mask_ms"], row["mask_ms_warm"]
                masks = (f"first {m['first']} / median {m['median']} / max {m['max']} "
                         f"(2nd request: first {w['first']} median {w['median']} max {w['max']}; "
                         f"worst after {m.get('worst_after')!r})"
                         + (f" ERROR {m['error']}" if m["error"] else ""))
                print(f"{n:>6} metrics  {row['distinct_values']:>6} values  scoped={scoped!s:5} "
                      f"(applied {row['scoped_applied']!s:5})  "
                      f"lark {row['lark_kb']:>6} KB  narrow {row['narrow_s']:>7.3f} s  compile {row['compile_s']:>7.3f} s"
                      f"  masks ms: {masks}  slice {row['slice_tokens']} tokens, {row['slice_ms']} ms", flush=True)
    if not args.json:
        goal = [r for r in rows if r["metrics"] == 10_000 and r["scoped"]]
        if goal:
            r = goal[0]
            worst = r["mask_ms_warm"]["max"]
            print(f"goals at 10k: compile {r['total_s']} s (< 2 s: {r['total_s'] < 2}), "
                  f"worst steady mask {worst} ms (< 1 ms: {worst is not None and worst < 1})")


if __name__ == "__main__":
    main()

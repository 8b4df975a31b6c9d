"""What grounding label values in the question costs per request, and what it withholds.

A grounded grammar (nlq.constrain.grounding) differs per question, so it is
built and compiled per request where the catalog's own grammar is cached.  For
each dialect's bundled snapshot catalog and the questions in `fewshot/` (not the
benchmark's), prints the medians and p95 of:

* build: narrowing the Lark text with the question's values withheld;
* compile: llguidance validating it and compiling a matcher against SmolLM2's
  tokenizer (what a backend does before its first token);
* cached: the same two steps for the catalog's own grammar, already cached
  (what an ungrounded request pays);
* withheld: label values taken away, and the share of questions where grounding
  withheld nothing (the catalog's grammar serves them).

Each question is new to the in-memory caches, as in a server's first sight of
it: the caches of grounded grammars and compiled matchers are cleared before
each one.

`--synthetic N ...` measures synthetic PromQL catalogs of N metrics instead
(benchmarks/catalog_scale.py's, about five values per label), with questions
that name one service each, grounding forced on whatever the catalog's size:
what `MAX_GROUNDED_VALUES` in nlq.constrain.narrow is set from.

    .venv/bin/python benchmarks/grounding_cost.py
    .venv/bin/python benchmarks/grounding_cost.py --limit 40 --json
    .venv/bin/python benchmarks/grounding_cost.py --synthetic 100 1000 10000 --limit 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nlq.constrain import narrow  # noqa: E402
from nlq.constrain.narrow import compiled_matcher, narrowed_grammar  # noqa: E402
from nlq.translate import default_catalog  # noqa: E402

DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")


def load_ll_tokenizer():
    from transformers import AutoTokenizer

    from nlq.constrain.tokenizer import ll_tokenizer_for
    from nlq.models.embedded import EOS_TOKEN, convert, converted_dir, is_converted

    folder = converted_dir() if is_converted() else convert(log=lambda m: print(m, file=sys.stderr))
    hf = AutoTokenizer.from_pretrained(folder)
    return ll_tokenizer_for(hf, int(hf.convert_tokens_to_ids(EOS_TOKEN)))


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(dialect: str, questions: list[str], ll_tok, catalog=None) -> dict:
    catalog = default_catalog(dialect) if catalog is None else catalog
    base = narrowed_grammar(dialect, catalog, ll_tokenizer=ll_tok)
    compiled_matcher(base.validated_spec(ll_tok), ll_tok)
    build, compile_, cached, withheld, untouched = [], [], [], [], 0
    for question in questions:
        narrow._GROUNDED.clear()
        narrow._COMPILED.clear()
        compiled_matcher(base.validated_spec(ll_tok), ll_tok)  # the catalog's own stays compiled
        start = time.perf_counter()
        grammar = narrowed_grammar(dialect, catalog, question=question)
        built = time.perf_counter()
        compiled_matcher(grammar.validated_spec(ll_tok), ll_tok)
        done = time.perf_counter()
        if grammar is base:
            untouched += 1
        build.append(built - start)
        compile_.append(done - built)
        withheld.append(grammar.narrowed.get("withheld_values", 0))
        start = time.perf_counter()
        compiled_matcher(narrowed_grammar(dialect, catalog).validated_spec(ll_tok), ll_tok)
        cached.append(time.perf_counter() - start)
    return {
        "dialect": dialect,
        "questions": len(questions),
        "build_ms": {"p50": 1000 * statistics.median(build), "p95": 1000 * p95(build)},
        "compile_ms": {"p50": 1000 * statistics.median(compile_), "p95": 1000 * p95(compile_)},
        "cached_ms": {"p50": 1000 * statistics.median(cached), "p95": 1000 * p95(cached)},
        "withheld_values_p50": statistics.median(withheld),
        "nothing_withheld": untouched / len(questions),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=60, help="questions per dialect (default 60)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--synthetic", type=int, nargs="+", metavar="N",
                        help="synthetic PromQL catalogs of N metrics instead of the snapshot catalogs")
    args = parser.parse_args()
    ll_tok = load_ll_tokenizer()
    rows = []
    if args.synthetic:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from catalog_scale import synthetic_catalog

        narrow.MAX_GROUNDED_VALUES = 10**9  # measure what the limit protects against
        for n in args.synthetic:
            catalog = synthetic_catalog(n)
            services = sorted({v for m in catalog.metrics.values() for v in m.labels.get("service", [])})
            questions = [f"error rate of {s} by route" for s in services[: args.limit]]
            row = measure("promql", questions, ll_tok, catalog)
            row["dialect"] = f"promql, {n:,} metrics"
            rows.append(row)
    for dialect in () if args.synthetic else DIALECTS:
        lines = (ROOT / "fewshot" / f"{dialect}.jsonl").read_text().splitlines()
        questions = [json.loads(line)["question"] for line in lines if line.strip()][: args.limit]
        rows.append(measure(dialect, questions, ll_tok))
    if args.json:
        print(json.dumps({"load_average": os.getloadavg()[0], "dialects": rows}, indent=2))
        return 0
    print(f"load average {os.getloadavg()[0]:.2f}; milliseconds per new question, p50 / p95")
    print(f"{'catalog':<24} {'n':>3} {'build':>13} {'compile':>13} {'cached':>11} {'withheld':>9} {'none':>6}")
    for r in rows:
        print(f"{r['dialect']:<24} {r['questions']:>3} "
              f"{r['build_ms']['p50']:>6.1f} /{r['build_ms']['p95']:>6.1f} "
              f"{r['compile_ms']['p50']:>6.1f} /{r['compile_ms']['p95']:>6.1f} "
              f"{r['cached_ms']['p50']:>4.1f} /{r['cached_ms']['p95']:>5.1f} "
              f"{r['withheld_values_p50']:>9.0f} {100 * r['nothing_withheld']:>5.0f}%")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Few-shot retrieval quality by leave-one-out over fewshot/ (never evals/), and its cost.

For every curated pair, its question is the query and the rest of the bank the
candidates; a good retriever returns neighbours whose queries are shaped like
the held-out pair's query.  Printed per dialect and method:

* stratum@1  - the nearest neighbour has the same stratum (filter, grouping, rate, join, edge)
* tags@1     - mean Jaccard overlap of the curation tags (counter, histogram, json, ...)
* query@1    - mean Jaccard overlap of the words of the two queries (metric, labels, functions)
* query@3    - the best such overlap among the top three (what the prompt shows)
* ms/query   - median time of one retrieval (embedding the question included)

and once: the embedding model's load time and the bank-embedding time (cold,
then from the disk cache).

    .venv/bin/python benchmarks/retrieval_quality.py [--dialect promql] [--methods bm25,embedding,hybrid]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nlq.prompting.fewshot import FEWSHOT_DIR, FewShotBank  # noqa: E402
from nlq.prompting.retrieval import words  # noqa: E402

DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def measure(bank: FewShotBank, method: str) -> dict[str, float]:
    stratum, tags, query1, query3, times = [], [], [], [], []
    for index, held in enumerate(bank.examples):
        started = time.perf_counter()
        best = bank.rank(held.question, 3, method, exclude=index)
        times.append(time.perf_counter() - started)
        target = set(words(held.query))
        overlaps = [jaccard(target, set(words(bank.examples[i].query))) for i in best]
        first = bank.examples[best[0]]
        stratum.append(first.stratum == held.stratum)
        tags.append(jaccard(set(first.tags), set(held.tags)))
        query1.append(overlaps[0])
        query3.append(max(overlaps))
    return {
        "stratum@1": statistics.fmean(stratum),
        "tags@1": statistics.fmean(tags),
        "query@1": statistics.fmean(query1),
        "query@3": statistics.fmean(query3),
        "ms/query": statistics.median(times) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialect", action="append", choices=DIALECTS)
    parser.add_argument("--methods", default="bm25,embedding,hybrid")
    args = parser.parse_args()
    methods = args.methods.split(",")

    from nlq.prompting.embedding import Embedder

    started = time.perf_counter()
    import torch  # noqa: F401 - timed apart: the embedded LLM imports it anyway

    torch_s = time.perf_counter() - started
    embedder = Embedder.shared()
    print(f"import torch {torch_s:.2f} s; embedding model load {embedder.load_s:.2f} s")

    banks = {d: FewShotBank.load(d) for d in args.dialect or DIALECTS}
    questions = [e.question for b in banks.values() for e in b.examples]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        embedder.embed_cached(questions, Path(folder))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        embedder.embed_cached(questions, Path(folder))
        warm = time.perf_counter() - started
    print(f"bank embedding, {len(questions)} questions: {cold:.2f} s cold, {warm * 1000:.1f} ms from the cache")
    for bank in banks.values():
        bank.vectors()

    print(f"\nleave-one-out over {FEWSHOT_DIR}")
    header = f"{'dialect':16} {'method':10} {'n':>4} {'stratum@1':>9} {'tags@1':>7} {'query@1':>8} {'query@3':>8} {'ms/query':>8}"
    print(header)
    print("-" * len(header))
    totals: dict[str, list[tuple[int, dict]]] = {m: [] for m in methods}
    for dialect, bank in banks.items():
        for method in methods:
            row = measure(bank, method)
            totals[method].append((len(bank.examples), row))
            print(f"{dialect:16} {method:10} {len(bank.examples):4d} {row['stratum@1']:9.3f} {row['tags@1']:7.3f} "
                  f"{row['query@1']:8.3f} {row['query@3']:8.3f} {row['ms/query']:8.1f}")
    if len(banks) > 1:
        for method, rows in totals.items():
            n = sum(count for count, _ in rows)
            mean = {key: sum(count * row[key] for count, row in rows) / n for key in rows[0][1]}
            print(f"{'all':16} {method:10} {n:4d} {mean['stratum@1']:9.3f} {mean['tags@1']:7.3f} "
                  f"{mean['query@1']:8.3f} {mean['query@3']:8.3f} {mean['ms/query']:8.1f}")


if __name__ == "__main__":
    main()

"""Latency of `nlq ask`: cold start to first answer, per-question p50/p95, decode speed, mask share.

    .venv/bin/python benchmarks/translate_latency.py                      # promql, 8 questions
    .venv/bin/python benchmarks/translate_latency.py -d logql -n 12 --json out.json
    .venv/bin/python benchmarks/translate_latency.py --model vllm:http://127.0.0.1:8000

What it measures:

* cold start: a fresh Python process that imports nlq, loads the model (from
  the converted cache), narrows and compiles the grammar and answers one
  question, timed from process start to the answer (seconds);
* warm: in this process, per question, the whole `translate()` call (all
  attempts), reported as p50/p95 seconds;
* decode tokens/s: generated tokens (sampled + forced) over decode time,
  summed over all attempts;
* mask share: time computing llguidance masks and consuming tokens
  (`mask_s` + `grammar_s`) over decode time.

Questions come from evals/<dialect>.jsonl (the `question` field, first N), so
they are not the few-shot examples the prompt retrieves.  The development
machine has 2 cores shared with other work: run it several times and report
medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FALLBACK_QUESTIONS = {
    "promql": ["5xx error rate of checkout", "memory used by each pod", "p95 latency of the frontend",
               "which targets are down"],
    "logql": ["error logs of the cart service", "how many lines per level in checkout over the last hour"],
    "datadog-metrics": ["average cpu by host", "request hits of checkout"],
    "datadog-logs": ["error logs of the cart service", "checkout logs with status 500"],
}

COLD = """
import time, json, sys
t0 = time.perf_counter()
from nlq.translate import translate, default_catalog
t_import = time.perf_counter() - t0
r = translate({question!r}, {dialect!r}, default_catalog({dialect!r}), {model!r})
print(json.dumps({{"import_s": t_import, "answer_s": time.perf_counter() - t0, "status": r.status,
                  "query": r.query, "timings": r.timings}}))
"""


def questions(dialect: str, n: int) -> list[str]:
    path = ROOT / "evals" / f"{dialect}.jsonl"
    found = []
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip():
                found.append(json.loads(line)["question"])
            if len(found) >= n:
                break
    return found or FALLBACK_QUESTIONS[dialect][:n]


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def cold_start(dialect: str, question: str, model: str | None) -> dict:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", COLD.format(question=question, dialect=dialect, model=model)],
                          cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"cold start failed:\n{proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["process_s"] = wall
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dialect", default="promql",
                        choices=["promql", "logql", "datadog-metrics", "datadog-logs"])
    parser.add_argument("-n", "--questions", type=int, default=8)
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurement")
    parser.add_argument("--json", dest="json_out", default=None, help="write the results here")
    args = parser.parse_args()

    qs = questions(args.dialect, args.questions)
    report: dict = {"dialect": args.dialect, "questions": len(qs), "model": args.model or "embedded"}
    if not args.no_cold:
        cold = cold_start(args.dialect, qs[0], args.model)
        report["cold_start"] = {k: round(v, 3) if isinstance(v, float) else v for k, v in cold.items()
                                if k != "timings"}
        report["cold_start"]["load_s"] = round(cold["timings"].get("load_s", 0.0), 3)
        report["cold_start"]["grammar_s"] = round(cold["timings"].get("grammar_s", 0.0), 3)
        print(f"cold start to first answer: {cold['process_s']:.2f} s "
              f"(imports {cold['import_s']:.2f} s, model load {cold['timings'].get('load_s', 0):.2f} s, "
              f"grammar {cold['timings'].get('grammar_s', 0):.2f} s)", file=sys.stderr)

    from nlq.models import load_model
    from nlq.translate import default_catalog, translate

    catalog = default_catalog(args.dialect)
    model = load_model(args.model)
    translate(qs[0], args.dialect, catalog, model, max_retries=0)  # warm-up: grammar compile, caches
    rows = []
    for question in qs:
        result = translate(question, args.dialect, catalog, model, max_retries=args.max_retries)
        decode = sum(a.timings.get("decode_s", 0.0) for a in result.attempts)
        mask = sum(a.timings.get("mask_s", 0.0) + a.timings.get("grammar_s", 0.0) for a in result.attempts)
        forward = sum(a.timings.get("forward_s", 0.0) for a in result.attempts)
        prefill = sum(a.timings.get("prefill_s", 0.0) for a in result.attempts)
        tokens = sum(a.tokens for a in result.attempts)
        rows.append({"question": question, "status": result.status, "query": result.query,
                     "attempts": len(result.attempts), "total_s": result.timings["total_s"],
                     "decode_s": decode, "prefill_s": prefill, "forward_s": forward, "mask_s": mask,
                     "tokens": tokens, "prompt_tokens": result.tokens["prompt"]})
        print(f"{result.timings['total_s']:6.2f} s  {result.status:7} {len(result.attempts)} att  "
              f"{question[:50]!r} -> {result.query!r}", file=sys.stderr)
    totals = [r["total_s"] for r in rows]
    decode = sum(r["decode_s"] for r in rows)
    report["per_question_s"] = {"p50": round(statistics.median(totals), 3),
                                "p95": round(percentile(totals, 0.95), 3),
                                "mean": round(statistics.fmean(totals), 3)}
    report["decode_tokens_per_s"] = round(sum(r["tokens"] for r in rows) / decode, 2) if decode else None
    report["mask_share_of_decode"] = round(sum(r["mask_s"] for r in rows) / decode, 4) if decode else None
    report["prefill_share_of_total"] = round(sum(r["prefill_s"] for r in rows) / sum(totals), 4)
    report["valid"] = sum(r["status"] == "ok" for r in rows)
    report["rows"] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]
    summary = {k: v for k, v in report.items() if k != "rows"}
    print(json.dumps(summary, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

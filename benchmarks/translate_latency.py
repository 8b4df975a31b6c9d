"""Latency of `nlq ask`: cold start to first answer, per-question p50/p95, decode speed, mask share,
beside raw llama.cpp on the same GGUF, prompts and grammar as the reference.

    .venv/bin/python benchmarks/translate_latency.py                      # promql, 8 questions
    .venv/bin/python benchmarks/translate_latency.py -d logql -n 12 --json out.json
    .venv/bin/python benchmarks/translate_latency.py --model llama-cpp --reference none
    .venv/bin/python benchmarks/translate_latency.py --model vllm:http://127.0.0.1:8000

Rows of the table (each backend's cold start in its own fresh process):

* `nlq <model>`: `translate()` end to end with `--model` (default: the embedded
  model through transformers): retrieval, prompt, constrained decode, checks,
  retries, explanation;
* `nlq llama-cpp`: the same with the llama.cpp backend (when `--model` is not
  already it);
* `llama.cpp + grammar`: raw llama.cpp decode of each question's first-attempt
  prompt under the same narrowed grammar (llguidance masks), nothing else
  (`ok` counts answers that pass translate()'s checks: parse + catalog);
* `llama.cpp, no grammar`: the same loop without masks, so their cost shows.

The reference rows need llama-cpp-python (`--reference llama-cpp`, the
default when it is importable; `--reference none` skips them).

What it measures:

* cold start: a fresh Python process that imports nlq, loads the model (from
  the converted cache), narrows and compiles the grammar and answers one
  question, timed from process start to the answer (seconds);
* warm: in this process, per question, the whole call, reported as p50/p95
  seconds;
* decode tokens/s: generated tokens (sampled + forced) over decode time,
  summed over all attempts;
* mask share: time computing llguidance masks and consuming tokens
  (`mask_s` + `grammar_s`) over decode time;
* prefill share: prompt evaluation over the whole time; cached: prompt tokens
  reused from the previous call's KV cache.

Questions come from evals/<dialect>.jsonl (the `question` field, first N), so
they are not the few-shot examples the prompt retrieves.  The development
machine has 2 cores shared with other work: the 1-minute load average is
printed beside the figures; compare rows of one run, and run it several times.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
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

COLD_TRANSLATE = """
import time, json, sys
t0 = time.perf_counter()
from nlq.translate import translate, default_catalog
from nlq.models import load_model
t_import = time.perf_counter() - t0
model = load_model({model!r})
if {style!r}:
    model.prompt_style = {style!r}
r = translate({question!r}, {dialect!r}, default_catalog({dialect!r}), model)
r.timings["load_s"] = getattr(model, "load_s", 0.0)
print(json.dumps({{"import_s": t_import, "answer_s": time.perf_counter() - t0, "status": r.status,
                  "query": r.query, "timings": r.timings}}))
"""

# raw llama.cpp: load the GGUF, render the same first-attempt prompt, decode (no checks, no retries)
COLD_RAW = """
import time, json, sys
t0 = time.perf_counter()
from nlq.models.llamacpp import load
from nlq.prompting.prompt import build_prompt
from nlq.translate import default_catalog
t_import = time.perf_counter() - t0
t1 = time.perf_counter()
model = load("")
load_s = time.perf_counter() - t1
catalog = default_catalog({dialect!r})
spec = None
if {constrained!r}:
    from nlq.constrain.narrow import narrowed_grammar
    spec = narrowed_grammar({dialect!r}, catalog).validated_spec(model.ll_tokenizer)
style = {style!r} or getattr(model, "prompt_style", "fewshot")
model.prompt_style = style
prompt = model.render(build_prompt({question!r}, {dialect!r}, catalog, style=style).messages)
gen = model.decode(prompt, spec, max_tokens={max_tokens!r})
print(json.dumps({{"import_s": t_import, "answer_s": time.perf_counter() - t0, "status": "ok",
                  "query": gen.texts[0].strip(), "timings": {{"load_s": load_s}}}}))
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


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def cold_start(script: str) -> dict:
    """Run `script` in a fresh interpreter; its last stdout line is a JSON report."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=900)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"cold start failed:\n{proc.stderr[-2000:]}")
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return {"process_s": round(wall, 3), "import_s": round(data["import_s"], 3),
            "load_s": round(data["timings"].get("load_s", 0.0), 3),
            "grammar_s": round(data["timings"].get("grammar_s", 0.0), 3),
            "status": data["status"], "query": data["query"], "load_average": load_average()}


def warm_translate(model, qs: list[str], warmup: str, dialect: str, catalog, max_retries: int,
                   label: str) -> list[dict]:
    """Per question, `translate()` end to end with a loaded backend."""
    from nlq.translate import translate

    # warm-up on a question outside the measured ones (grammar compile, caches), so
    # the prompt cache holds what a previous question leaves, not the same prompt
    translate(warmup, dialect, catalog, model, max_retries=0)
    rows = []
    for question in qs:
        result = translate(question, dialect, catalog, model, max_retries=max_retries)
        attempts = result.attempts
        rows.append({"question": question, "status": result.status, "query": result.query,
                     "attempts": len(attempts), "total_s": result.timings["total_s"],
                     "decode_s": sum(a.timings.get("decode_s", 0.0) for a in attempts),
                     "prefill_s": sum(a.timings.get("prefill_s", 0.0) for a in attempts),
                     "forward_s": sum(a.timings.get("forward_s", 0.0) for a in attempts),
                     "mask_s": sum(a.timings.get("mask_s", 0.0) + a.timings.get("grammar_s", 0.0)
                                   for a in attempts),
                     "tokens": sum(a.tokens for a in attempts), "prompt_tokens": result.tokens["prompt"]})
        _progress(label, rows[-1])
    return rows


def raw_llamacpp(model, qs: list[str], warmup: str, dialect: str, catalog, constrained: bool, max_tokens: int,
                 label: str) -> list[dict]:
    """Per question, llama.cpp decode of the first-attempt prompt alone (greedy, one try)."""
    from nlq import dialects
    from nlq.constrain.narrow import narrowed_grammar
    from nlq.errors import NlqError
    from nlq.prompting.prompt import build_prompt

    grammar = narrowed_grammar(dialect, catalog)
    spec = grammar.validated_spec(model.ll_tokenizer) if constrained else None
    checker = dialects.get(dialect)
    style = getattr(model, "prompt_style", "fewshot")  # as translate() renders it
    prompts = [model.render(build_prompt(q, dialect, catalog, style=style).messages) for q in qs]
    model.decode(model.render(build_prompt(warmup, dialect, catalog, style=style).messages), spec,
                 max_tokens=max_tokens)
    rows = []
    for question, prompt in zip(qs, prompts, strict=True):
        start = time.perf_counter()
        gen = model.decode(prompt, spec, max_tokens=max_tokens)
        total = time.perf_counter() - start
        text = gen.texts[0].strip()
        try:  # the checks translate() applies: parses, catalog rules
            checker.validate(text, catalog)
            status = "valid"
        except NlqError:
            status = "invalid"
        t = gen.timings
        rows.append({"question": question, "status": status, "query": text, "attempts": 1, "total_s": total,
                     "decode_s": t["decode_s"], "prefill_s": t["prefill_s"], "forward_s": t["forward_s"],
                     "mask_s": t["mask_s"] + t["grammar_s"], "tokens": gen.completion_tokens,
                     "prompt_tokens": gen.prompt_tokens, "cached_tokens": gen.cached_tokens})
        _progress(label, rows[-1])
    return rows


def _progress(label: str, row: dict) -> None:
    print(f"[{label}] {row['total_s']:6.2f} s  {row['status']:7} {row['attempts']} att  "
          f"{row['question'][:50]!r} -> {row['query']!r}", file=sys.stderr)


def summarize(rows: list[dict]) -> dict:
    totals = [r["total_s"] for r in rows]
    decode = sum(r["decode_s"] for r in rows)
    return {
        "p50_s": round(statistics.median(totals), 3),
        "p95_s": round(percentile(totals, 0.95), 3),
        "mean_s": round(statistics.fmean(totals), 3),
        "decode_tokens_per_s": round(sum(r["tokens"] for r in rows) / decode, 2) if decode else None,
        "mask_share_of_decode": round(sum(r["mask_s"] for r in rows) / decode, 4) if decode else None,
        "prefill_share_of_total": round(sum(r["prefill_s"] for r in rows) / sum(totals), 4),
        "ok": sum(r["status"] in ("ok", "valid") for r in rows),
        "questions": len(rows),
        "load_average": load_average(),
    }


def print_table(sections: list[dict]) -> None:
    head = (f"{'backend':26} {'cold s':>7} {'p50 s':>7} {'p95 s':>7} {'tok/s':>7} "
            f"{'mask %':>7} {'prefill %':>9} {'ok':>6} {'load':>5}")
    print(head)
    print("-" * len(head))
    for s in sections:
        m, cold = s["summary"], s.get("cold_start") or {}
        tps = m["decode_tokens_per_s"]
        mask = m["mask_share_of_decode"]
        print(f"{s['backend'][:26]:26} {cold.get('process_s', float('nan')):7.2f} {m['p50_s']:7.2f} "
              f"{m['p95_s']:7.2f} {tps if tps is not None else float('nan'):7.1f} "
              f"{100 * mask if mask is not None else float('nan'):7.2f} "
              f"{100 * m['prefill_share_of_total']:9.1f} {m['ok']:>3}/{m['questions']:<2} "
              f"{m['load_average'] or float('nan'):5.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-d", "--dialect", default="promql",
                        choices=["promql", "logql", "datadog-metrics", "datadog-logs"])
    parser.add_argument("-n", "--questions", type=int, default=8)
    parser.add_argument("--model", default=None)
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--max-tokens", type=int, default=96, help="for the raw llama.cpp rows")
    has_llama = importlib.util.find_spec("llama_cpp") is not None
    parser.add_argument("--reference", choices=["llama-cpp", "none"], default="llama-cpp" if has_llama else "none",
                        help="raw llama.cpp rows beside nlq's (default: llama-cpp when llama-cpp-python is installed)")
    parser.add_argument("--prompt-style", choices=["fewshot", "compact"], default=None,
                        help="override every backend's prompt style (default: the backend's own, "
                             "compact where a tuned adapter is loaded)")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold-start measurements")
    parser.add_argument("--json", dest="json_out", default=None, help="write the results here")
    args = parser.parse_args()
    if args.reference == "llama-cpp" and not has_llama:
        raise SystemExit("--reference llama-cpp needs llama-cpp-python installed")

    from nlq.models import load_model, parse_spec
    from nlq.translate import default_catalog

    qs = questions(args.dialect, args.questions + 1)
    warmup = qs.pop() if len(qs) > args.questions else FALLBACK_QUESTIONS[args.dialect][-1]
    catalog = default_catalog(args.dialect)
    report: dict = {"dialect": args.dialect, "questions": len(qs), "model": args.model or "embedded",
                    "prompt_style": args.prompt_style or "backend's own",
                    "cpu_count": os.cpu_count(), "load_average_start": load_average(), "sections": []}
    models = [args.model]
    if args.reference == "llama-cpp" and parse_spec(args.model)[0] != "llama-cpp":
        models.append("llama-cpp")

    for spec in models:  # first use converts the model into the cache: not part of a cold start
        if args.prompt_style:
            load_model(spec).prompt_style = args.prompt_style
        else:
            load_model(spec)
    for spec in models:
        label = f"nlq {spec or 'embedded'}"
        section: dict = {"backend": label}
        if not args.no_cold:
            script = COLD_TRANSLATE.format(question=qs[0], dialect=args.dialect, model=spec, style=args.prompt_style)
            section["cold_start"] = cold_start(script)
            print(f"[{label}] cold start {section['cold_start']}", file=sys.stderr)
        rows = warm_translate(load_model(spec), qs, warmup, args.dialect, catalog, args.max_retries, label)
        section["summary"], section["rows"] = summarize(rows), rows
        report["sections"].append(section)

    if args.reference == "llama-cpp":
        llama = load_model("llama-cpp")
        if args.prompt_style:
            llama.prompt_style = args.prompt_style
        for constrained in (True, False):
            label = "llama.cpp + grammar" if constrained else "llama.cpp, no grammar"
            section = {"backend": label}
            if not args.no_cold:
                script = COLD_RAW.format(question=qs[0], dialect=args.dialect, constrained=constrained,
                                         max_tokens=args.max_tokens, style=args.prompt_style)
                section["cold_start"] = cold_start(script)
                print(f"[{label}] cold start {section['cold_start']}", file=sys.stderr)
            rows = raw_llamacpp(llama, qs, warmup, args.dialect, catalog, constrained, args.max_tokens, label)
            section["summary"], section["rows"] = summarize(rows), rows
            report["sections"].append(section)

    report["load_average_end"] = load_average()
    for section in report["sections"]:
        section["rows"] = [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}
                           for r in section["rows"]]
    print_table(report["sections"])
    print(f"(load average {report['load_average_start']} at start, {report['load_average_end']} at end; "
          f"{os.cpu_count()} cores)")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

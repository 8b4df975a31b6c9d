"""llama.cpp decode options side by side, in one process: prompt-lookup drafting
(`NLQ_DRAFT_TOKENS`) and prefill threads (`NLQ_PREFILL_THREADS`).

    .venv/bin/python benchmarks/decode_options.py                       # 8 questions per dialect
    .venv/bin/python benchmarks/decode_options.py -n 20 --drafts 0 2 4 6 --threads 1 2
    .venv/bin/python benchmarks/decode_options.py --model llama-cpp:base --json out.json

Per question (the first N of evals/<dialect>.jsonl in every dialect, never
printed), the first-attempt prompt of translate() is decoded under the
narrowed grammar once per option, greedy, the options in a rotated order so
that none always runs first.  Each option's decode time is divided by the
first option's on the same question, and the table shows the median of those
ratios beside the median times: the machine is shared and noisy, so only
ratios measured side by side are compared.  Drafting must not change what
greedy decoding writes: `same` counts the answers equal to the first option's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from translate_latency import questions  # noqa: E402  the same first N questions per dialect

DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--questions", type=int, default=8, help="questions per dialect")
    parser.add_argument("--model", default="llama-cpp", help="a llama-cpp model spec (default: the shipped adapter)")
    parser.add_argument("--drafts", type=int, nargs="+", default=[0, 4], help="drafted tokens per pass")
    parser.add_argument("--threads", type=int, nargs="+", default=[2], help="prefill threads")
    parser.add_argument("--json", dest="json_out", default=None, help="write every measurement here")
    args = parser.parse_args()

    from nlq.constrain.narrow import narrowed_grammar
    from nlq.models import load_model
    from nlq.prompting.prompt import build_prompt
    from nlq.translate import default_catalog, token_budget

    model = load_model(args.model)
    if not hasattr(model, "draft_tokens"):
        raise SystemExit(f"--model {args.model}: not a llama.cpp model")
    style = getattr(model, "prompt_style", "fewshot")
    k_examples = getattr(model, "prompt_examples", 3)
    options = list(itertools.product(args.drafts, args.threads))
    rows = []
    for dialect in DIALECTS:
        catalog = default_catalog(dialect)
        spec = narrowed_grammar(dialect, catalog).validated_spec(model.ll_tokenizer)
        for index, question in enumerate(questions(dialect, args.questions)):
            prompt = model.render(build_prompt(question, dialect, catalog, style=style,
                                               k_examples=k_examples).messages)
            measured = {}
            shift = index % len(options)
            for draft_tokens, threads in options[shift:] + options[:shift]:
                model.draft_tokens, model.n_threads_batch = draft_tokens, threads
                model.llm.n_tokens = 0  # every option prefills the whole prompt
                start = time.perf_counter()
                gen = model.decode(prompt, spec, max_tokens=token_budget(dialect))
                measured[(draft_tokens, threads)] = {
                    "seconds": time.perf_counter() - start, "text": gen.texts[0], "passes": gen.steps + 1,
                    "drafted": gen.drafted, "accepted": gen.accepted, "tokens": gen.completion_tokens,
                    "prefill_s": gen.timings["prefill_s"]}
            rows.append({"dialect": dialect, "measured": measured})
            print(f"\r{len(rows)} questions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)

    base = options[0]
    print(f"{len(rows)} questions, {model.name}; ratios against drafts={base[0]}, threads={base[1]} "
          "on the same question (medians)")
    print(f"{'drafts':>6} {'threads':>7} {'time s':>7} {'ratio':>6} {'prefill s':>9} {'passes':>6} "
          f"{'accepted':>9} {'same':>7}")
    for option in options:
        per = [row["measured"][option] for row in rows]
        ratio = statistics.median(row["measured"][option]["seconds"] / row["measured"][base]["seconds"]
                                  for row in rows)
        drafted = sum(m["drafted"] for m in per)
        accepted = f"{sum(m['accepted'] for m in per) / drafted:.0%}" if drafted else "-"
        same = sum(row["measured"][option]["text"] == row["measured"][base]["text"] for row in rows)
        print(f"{option[0]:>6} {option[1]:>7} {statistics.median(m['seconds'] for m in per):>7.3f} {ratio:>6.2f} "
              f"{statistics.median(m['prefill_s'] for m in per):>9.3f} "
              f"{statistics.median(m['passes'] for m in per):>6.0f} {accepted:>9} {same:>3}/{len(rows)}")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(
            [{"dialect": r["dialect"], "measured": [{"drafts": k[0], "threads": k[1], **v}
                                                    for k, v in r["measured"].items()]} for r in rows], indent=1))


if __name__ == "__main__":
    main()

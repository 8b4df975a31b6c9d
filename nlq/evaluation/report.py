"""Summaries of an eval run and its report: report.md, results.jsonl rows and PNG charts.

A run has one *best* configuration, run on every selected case, and any number
of ablations, possibly on a stratified sample of those cases
(`nlq.evaluation.ablations`, `nlq.evaluation.runner`).  The report leads with
the best configuration's execution accuracy per dialect and stratum, then its
details (parse rate, catalog-check pass rate, exact match, retries, tokens,
latency), then the ablations side by side on the cases they share, where the
seconds went, the neighbour check, and the best configuration's misses.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from nlq.evaluation.cases import STRATA, TAG_VOCABULARY, Case
from nlq.evaluation.neighbours import NeighbourReport
from nlq.evaluation.scoring import Score

DEFAULT_CONFIG = "default"
#: how many of the best configuration's misses report.md lists (results.jsonl has all)
MAX_MISSES = 150


@dataclass
class Row:
    """One case's outcome under one configuration: the score plus what the translation cost."""

    case: Case
    score: Score
    status: str = "ok"  # translate(): ok / failed / refused / error; "gold" when scoring golds
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)
    config: str = DEFAULT_CONFIG
    score_s: float = 0.0  # seconds scoring the prediction (gold answers not included)
    #: the configuration this row was read off (its first attempt), when not generated itself
    derived_from: str | None = None

    def to_dict(self) -> dict:
        score = self.score.to_dict()
        score.pop("case", None)
        out = {
            "id": self.case.id,
            "config": self.config,
            "dialect": self.case.dialect,
            "stratum": self.case.stratum,
            "tags": self.case.tags,
            "question": self.case.question,
            "gold": self.case.gold,
            "prediction": score.pop("query", None),
            "status": self.status,
            "valid": score.pop("valid", False),
            "correct": score.pop("equivalent", False),
            **score,
            "retries": self.retries,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "latency_s": round(self.latency_s, 4),
            "score_s": round(self.score_s, 4),
            "message": self.message,
            **self.extra,
        }
        if self.derived_from:
            out["derived_from"] = self.derived_from
        return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(rows: list[Row]) -> dict:
    n = len(rows)

    def share(pred: Callable[[Row], bool]) -> float:
        return sum(1 for r in rows if pred(r)) / n if n else 0.0

    def mean(values: list[float]) -> float:
        return statistics.fmean(values) if values else 0.0

    latencies = [r.latency_s for r in rows]
    generated = [r for r in rows if "first_parsed" in r.extra]
    return {
        # the model's first generation, before any retry: what the decoding grammar buys
        "first_parse_rate": sum(r.extra["first_parsed"] for r in generated) / len(generated)
        if generated else None,
        "first_valid_rate": sum(r.extra["first_valid"] for r in generated) / len(generated)
        if generated else None,
        "cases": n,
        "correct": sum(1 for r in rows if r.score.equivalent),
        "parse_rate": share(lambda r: r.score.parsed),
        "valid_rate": share(lambda r: r.score.valid),
        "exact_match": share(lambda r: r.score.exact),
        "execution_accuracy": share(lambda r: r.score.equivalent),
        "retries_mean": mean([r.retries for r in rows]),
        "prompt_tokens_mean": mean([r.prompt_tokens for r in rows]),
        "completion_tokens_mean": mean([r.completion_tokens for r in rows]),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "model_s": sum(latencies),
        "score_s": sum(r.score_s for r in rows),
    }


def breakdown(rows: list[Row]) -> dict[str, dict[str, dict]]:
    """{"dialect": {...}, "stratum": {...}, "time": {...}, "card": {...}, "ops": {...}} of summaries."""
    groups: dict[str, dict[str, list[Row]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        groups["dialect"][row.case.dialect].append(row)
        groups["stratum"][row.case.stratum].append(row)
        for axis in TAG_VOCABULARY:
            groups[axis][row.case.tag(axis)].append(row)
    order = {"stratum": STRATA, **TAG_VOCABULARY}
    out: dict[str, dict[str, dict]] = {}
    for axis in ("dialect", "stratum", *TAG_VOCABULARY):
        members = groups.get(axis)
        if not members:
            continue
        keys = [k for k in order.get(axis, sorted(members)) if k in members]
        out[axis] = {k: summarise(members[k]) for k in keys}
    return out


def _dialects(rows: Iterable[Row]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        if row.case.dialect not in seen:
            seen.append(row.case.dialect)
    return seen


def dialect_strata(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """("all", rows), then per dialect ("promql", its rows) followed by ("promql / filter", ...)."""
    out: list[tuple[str, list[Row]]] = [("all", rows)]
    for dialect in _dialects(rows):
        mine = [r for r in rows if r.case.dialect == dialect]
        out.append((dialect, mine))
        for stratum in STRATA:
            cell = [r for r in mine if r.case.stratum == stratum]
            if cell:
                out.append((f"{dialect} / {stratum}", cell))
    return out


# --------------------------------------------------------------------------- markdown
def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _cell(text: object, limit: int = 200) -> str:
    out = str(text).replace("|", "\\|").replace("\n", " ")
    return out if len(out) <= limit else out[: limit - 1] + "…"


_METRIC_HEAD = (
    "| {key} | cases | exec. accuracy | parse | catalog checks | exact | retries/case "
    "| prompt tok | completion tok | p50 s | p95 s |"
)


def _metric_row(key: str, s: dict) -> str:
    return (
        f"| {key} | {s['cases']} | **{_pct(s['execution_accuracy'])}** | {_pct(s['parse_rate'])} | "
        f"{_pct(s['valid_rate'])} | {_pct(s['exact_match'])} | {s['retries_mean']:.2f} | "
        f"{s['prompt_tokens_mean']:.0f} | {s['completion_tokens_mean']:.1f} | "
        f"{s['latency_p50_s']:.2f} | {s['latency_p95_s']:.2f} |"
    )


def _metric_table(key: str, items: list[tuple[str, dict]]) -> list[str]:
    return [_METRIC_HEAD.format(key=key), "|---" * 11 + "|"] + [_metric_row(k, s) for k, s in items] + [""]


def _headline(rows: list[Row]) -> list[str]:
    """Execution accuracy per dialect (rows) and stratum (columns)."""
    strata = [s for s in STRATA if any(r.case.stratum == s for r in rows)]
    lines = ["| dialect | " + " | ".join(strata) + " | all |", "|---" * (len(strata) + 2) + "|"]
    for dialect in [*_dialects(rows), None]:
        mine = [r for r in rows if dialect is None or r.case.dialect == dialect]
        cells = []
        for stratum in [*strata, None]:
            cell = [r for r in mine if stratum is None or r.case.stratum == stratum]
            s = summarise(cell)
            cells.append(f"{_pct(s['execution_accuracy'])} ({s['correct']}/{s['cases']})" if cell else "")
        name = dialect or "**all**"
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def _ablations(rows: list[Row], configs: list[str], labels: dict[str, str], best: str) -> list[str]:
    sample = {r.case.id for r in rows if r.config != best}
    shared = [r for r in rows if r.case.id in sample]
    best_all = {r.case.id for r in rows if r.config == best}
    by_config = {c: [r for r in shared if r.config == c] for c in configs}
    lines = ["## Ablations", ""]
    if len(sample) < len(best_all):
        lines += [
            f"The ablations ran on a stratified sample of **{len(sample)} of the {len(best_all)} cases** "
            f"(`--ablation-sample`); every column below, `{best}` included, covers those "
            f"{len(sample)} cases only, so the columns compare like with like. `{best}`'s figures "
            "on all cases are in the tables above.",
            "",
        ]
    else:
        lines += [f"Every configuration ran on the same {len(sample)} cases.", ""]
    lines += ["Configurations:", ""]
    lines += [f"- `{c}`: {labels.get(c, c)}" for c in configs]
    derived = sorted({(r.config, r.derived_from) for r in shared if r.derived_from})
    for name, source in derived:
        lines.append(
            f"- `{name}` was read off `{source}`'s first attempt (greedy first tries are deterministic; "
            "`--no-derive` generates it again)"
        )
    best_rows = {r.case.id: r for r in by_config.get(best, [])}
    for c in configs:
        mine = by_config[c]
        if c != best and mine and all(
            r.case.id in best_rows
            and (r.score.query, r.prompt_tokens) == (best_rows[r.case.id].score.query,
                                                     best_rows[r.case.id].prompt_tokens)
            for r in mine
        ):
            lines.append(
                f"- **`{c}` changed nothing here**: the same prompt length and the same answer as "
                f"`{best}` on every case (the backend's prompt style may ignore this setting)"
            )
    lines += ["", "### Execution accuracy", ""]
    lines += ["| | cases | " + " | ".join(f"`{c}`" for c in configs) + " |", "|---" * (len(configs) + 2) + "|"]
    for key, group_rows in dialect_strata(by_config[best] if best in by_config else shared):
        ids = {r.case.id for r in group_rows}
        cells = []
        for c in configs:
            s = summarise([r for r in by_config[c] if r.case.id in ids])
            cells.append(_pct(s["execution_accuracy"]) if s["cases"] else "")
        name = f"**{key}**" if " / " not in key else key
        lines.append(f"| {name} | {len(ids)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "### Each configuration on the same cases",
        "",
        "Parse and catalog-check pass rates say what the grammar buys: an unconstrained model "
        "must get the syntax and the names right on its own.",
        "",
    ]
    lines += _metric_table("configuration", [(f"`{c}`", summarise(by_config[c])) for c in configs])
    lines += [
        "First generation only (before any retry), the figure for constrained vs unconstrained decoding:",
        "",
        "| configuration | cases | 1st try parses | 1st try passes catalog checks | final: parses | final: passes checks |",
        "|---|---|---|---|---|---|",
    ]
    for c in configs:
        s = summarise(by_config[c])
        first = [_pct(s[k]) if s[k] is not None else "n/a" for k in ("first_parse_rate", "first_valid_rate")]
        lines.append(f"| `{c}` | {s['cases']} | {first[0]} | {first[1]} | {_pct(s['parse_rate'])} | "
                     f"{_pct(s['valid_rate'])} |")
    return lines + [""]


def _timing(timing: dict) -> list[str]:
    lines = ["## Where the seconds went", ""]
    configs = timing.get("configs", {})
    if configs:
        lines += [
            "| configuration | translations | read off another | model s | model s/translation "
            "| scoring s | predictions run |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, t in configs.items():
            per = t["model_s"] / t["translations"] if t["translations"] else 0.0
            lines.append(
                f"| `{name}` | {t['translations']} | {t['derived']} | {t['model_s']:.1f} | {per:.2f} | "
                f"{t['score_s']:.1f} | {t['scored']} |"
            )
        lines.append("")
    facts = [(k, v) for k, v in timing.items() if k != "configs"]
    lines += [f"- {k}: {v}" for k, v in facts]
    return lines + [""]


def _neighbours(report: NeighbourReport) -> list[str]:
    lines = [
        "## Neighbour check",
        "",
        "Near-miss mutants of each gold, scored against the gold: the share the scorer catches "
        "(answers differ on at least one variant). Mutants that mean the same as the gold on any "
        "data (by a rule, see below) are not near misses and are counted apart.",
        "",
        "| mutation | near misses | caught | share | equivalent mutants |",
        "|---|---|---|---|---|",
    ]
    for kind, (n, caught, equivalent) in sorted(report.by_kind().items()):
        lines.append(f"| {kind} | {n} | {caught} | {_pct(caught / n if n else 0)} | {equivalent} |")
    near = report.near_misses()
    caught_all = sum(bool(m.caught) for m in near)
    lines += [
        f"| **all** | {len(near)} | {caught_all} | **{_pct(report.caught_share())}** | "
        f"{len(report.equivalents())} |",
        "",
    ]
    equivalents = report.equivalents()
    if equivalents:
        lines += ["Equivalent mutants (the same query on any data; not near misses):", ""]
        lines += [f"- `{m.case_id}` {m.kind}: `{_cell(m.query)}` ({m.equivalent})" for m in equivalents[:60]]
        lines.append("")
    missed = [m for m in near if not m.caught]
    if missed:
        lines += [
            "Near misses the scorer lets through (the snapshots give them the gold's answer on "
            "every variant):",
            "",
        ]
        lines += [f"- `{m.case_id}` {m.kind}: `{_cell(m.query)}`" for m in missed[:60]]
        lines.append("")
    return lines


def _misses(rows: list[Row], best: str) -> list[str]:
    failures = [r for r in rows if not r.score.equivalent]
    if not failures:
        return []
    lines = [
        f"## Misses of `{best}`",
        "",
        f"{len(failures)} case(s); the first {min(len(failures), MAX_MISSES)} below, all in results.jsonl.",
        "",
        "| case | question | gold | predicted | why |",
        "|---|---|---|---|---|",
    ]
    for r in failures[:MAX_MISSES]:
        # no query: translate()'s message says what the last try was and why it was refused
        why = (r.message or r.score.reason or r.status) if not r.score.query else (r.score.reason or r.status)
        pred = f"`{_cell(r.score.query, 160)}`" if r.score.query else f"({r.status})"
        lines.append(
            f"| {r.case.id} | {_cell(r.case.question, 80)} | `{_cell(r.case.gold, 160)}` | {pred} | {_cell(why, 160)} |"
        )
    return lines + [""]


def render_markdown(
    rows: list[Row],
    meta: dict,
    neighbours: NeighbourReport | None = None,
    chart: str | None = None,
    *,
    best: str | None = None,
    labels: dict[str, str] | None = None,
    ablation_chart: str | None = None,
    timing: dict | None = None,
) -> str:
    """report.md: see the module docstring.  `best` defaults to the first row's configuration."""
    configs: list[str] = []
    for row in rows:
        if row.config not in configs:
            configs.append(row.config)
    best = best or (configs[0] if configs else DEFAULT_CONFIG)
    labels = labels or {}
    main = [r for r in rows if r.config == best]
    lines = ["# nlq eval", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines.append("")
    if main:
        lines += [
            f"## Execution accuracy of `{best}`",
            "",
            f"Configuration: {labels.get(best, best)}. A case is right when the predicted query's "
            "answer equals the gold's on every snapshot variant.",
            "",
        ]
        lines += _headline(main)
        if chart:
            lines += [f"![execution accuracy per stratum]({chart})", ""]
        lines += ["### Per dialect and stratum", ""]
        lines += _metric_table("", [(f"**{k}**" if " / " not in k else k, summarise(g))
                                    for k, g in dialect_strata(main)])
        per = breakdown(main)
        lines += ["### Per stratum, all dialects", ""]
        lines += _metric_table("stratum", list(per.get("stratum", {}).items()))
        for axis in TAG_VOCABULARY:
            if axis in per:
                lines += [f"### Per tag: {axis}", ""]
                lines += _metric_table(axis, list(per[axis].items()))
    if len(configs) > 1:
        lines += _ablations(rows, configs, labels, best)
        if ablation_chart:
            lines += [f"![execution accuracy per stratum and configuration]({ablation_chart})", ""]
    if timing:
        lines += _timing(timing)
    if neighbours is not None and neighbours.mutants:
        lines += _neighbours(neighbours)
    lines += _misses(main, best)
    return "\n".join(lines)


# --------------------------------------------------------------------------- charts
def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def write_chart(rows: list[Row], path: Path) -> bool:
    """Parse rate, catalog-check pass rate and execution accuracy per stratum; False without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return False
    per = breakdown(rows)["stratum"]
    names = list(per)
    metrics = [
        ("parse_rate", "parses"),
        ("valid_rate", "passes checks"),
        ("execution_accuracy", "same answer"),
    ]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    width = 0.26
    for i, (key, label) in enumerate(metrics):
        xs = [j + (i - 1) * width for j in range(len(names))]
        ax.bar(xs, [100 * per[n][key] for n in names], width, label=label)
    ax.set_xticks(range(len(names)), [f"{n}\n({per[n]['cases']})" for n in names])
    ax.set_ylim(0, 105)
    ax.set_ylabel("% of cases")
    ax.set_title("nlq eval per stratum")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3, fontsize=8, frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def write_ablation_chart(rows: list[Row], path: Path, best: str) -> bool:
    """Execution accuracy per stratum, one bar per configuration, on the cases all of them ran."""
    plt = _pyplot()
    if plt is None:
        return False
    configs: list[str] = []
    for row in rows:
        if row.config not in configs:
            configs.append(row.config)
    sample = {r.case.id for r in rows if r.config != best}
    shared = [r for r in rows if r.case.id in sample]
    strata = [s for s in STRATA if any(r.case.stratum == s for r in shared)]
    if len(configs) < 2 or not strata:
        return False
    fig, ax = plt.subplots(figsize=(min(11, max(7, 0.4 * len(strata) * len(configs))), 4.5), dpi=120)
    width = 0.8 / len(configs)
    for i, config in enumerate(configs):
        xs = [j - 0.4 + (i + 0.5) * width for j in range(len(strata))]
        values = []
        for stratum in strata:
            s = summarise([r for r in shared if r.config == config and r.case.stratum == stratum])
            values.append(100 * s["execution_accuracy"])
        ax.bar(xs, values, width, label=config)
    counts = {s: len({r.case.id for r in shared if r.case.stratum == s}) for s in strata}
    ax.set_xticks(range(len(strata)), [f"{s}\n({counts[s]})" for s in strata])
    ax.set_ylim(0, 105)
    ax.set_ylabel("execution accuracy, %")
    ax.set_title(f"nlq eval: configurations on the same {len(sample)} cases")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=min(len(configs), 7), fontsize=8,
              frameon=False)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True

"""Summaries of an eval run: overall, per stratum, per tag; report.md and a PNG chart."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from nlq.evaluation.cases import STRATA, TAG_VOCABULARY, Case
from nlq.evaluation.neighbours import NeighbourReport
from nlq.evaluation.scoring import Score


@dataclass
class Row:
    """One case's outcome: the score plus what the translation cost."""

    case: Case
    score: Score
    status: str = "ok"  # translate(): ok / failed / refused; "gold" when scoring golds
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    message: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "id": self.case.id,
            "dialect": self.case.dialect,
            "stratum": self.case.stratum,
            "tags": self.case.tags,
            "question": self.case.question,
            "gold": self.case.gold,
            "status": self.status,
            **{k: v for k, v in self.score.to_dict().items() if k != "case"},
            "retries": self.retries,
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
            "latency_s": round(self.latency_s, 4),
            "message": self.message,
            **self.extra,
        }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def summarise(rows: list[Row]) -> dict:
    n = len(rows)

    def share(pred) -> float:
        return sum(1 for r in rows if pred(r)) / n if n else 0.0

    latencies = [r.latency_s for r in rows]
    return {
        "cases": n,
        "parse_rate": share(lambda r: r.score.parsed),
        "valid_rate": share(lambda r: r.score.valid),
        "exact_match": share(lambda r: r.score.exact),
        "execution_accuracy": share(lambda r: r.score.equivalent),
        "retries_mean": statistics.fmean([r.retries for r in rows]) if n else 0.0,
        "prompt_tokens_mean": statistics.fmean([r.prompt_tokens for r in rows]) if n else 0.0,
        "completion_tokens_mean": statistics.fmean([r.completion_tokens for r in rows])
        if n
        else 0.0,
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
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
    for axis, members in groups.items():
        keys = [k for k in order.get(axis, sorted(members)) if k in members]
        out[axis] = {k: summarise(members[k]) for k in keys}
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _table(title: str, summaries: dict[str, dict]) -> list[str]:
    lines = [
        f"### {title}",
        "",
        "| | cases | parse | valid | exact | exec. accuracy | p50 s | p95 s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summaries.items():
        lines.append(
            f"| {key} | {s['cases']} | {_pct(s['parse_rate'])} | {_pct(s['valid_rate'])} | "
            f"{_pct(s['exact_match'])} | {_pct(s['execution_accuracy'])} | "
            f"{s['latency_p50_s']:.2f} | {s['latency_p95_s']:.2f} |"
        )
    return lines + [""]


def render_markdown(
    rows: list[Row], meta: dict, neighbours: NeighbourReport | None = None, chart: str | None = None
) -> str:
    total = summarise(rows)
    lines = ["# nlq eval", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += [
        "",
        "## Overall",
        "",
        "| cases | parse | valid | exact | exec. accuracy | retries/case | prompt tok | completion tok | p50 s | p95 s |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {total['cases']} | {_pct(total['parse_rate'])} | {_pct(total['valid_rate'])} | "
        f"{_pct(total['exact_match'])} | {_pct(total['execution_accuracy'])} | {total['retries_mean']:.2f} | "
        f"{total['prompt_tokens_mean']:.0f} | {total['completion_tokens_mean']:.1f} | "
        f"{total['latency_p50_s']:.2f} | {total['latency_p95_s']:.2f} |",
        "",
    ]
    if chart:
        lines += [f"![execution accuracy per stratum]({chart})", ""]
    titles = {
        "dialect": "Per dialect",
        "stratum": "Per stratum",
        "time": "Per tag: time",
        "card": "Per tag: card",
        "ops": "Per tag: ops",
    }
    for axis, summaries in breakdown(rows).items():
        lines += _table(titles.get(axis, axis), summaries)
    if neighbours is not None and neighbours.mutants:
        lines += [
            "## Neighbour check",
            "",
            "Near-miss mutants of each gold, scored against the gold: the share the scorer catches "
            "(answers differ on at least one variant).",
            "",
            "| mutation | mutants | caught | share |",
            "|---|---|---|---|",
        ]
        for kind, (n, caught) in sorted(neighbours.by_kind().items()):
            lines.append(f"| {kind} | {n} | {caught} | {_pct(caught / n if n else 0)} |")
        n_all = len(neighbours.mutants)
        caught_all = sum(bool(m.caught) for m in neighbours.mutants)
        lines += [f"| all | {n_all} | {caught_all} | {_pct(neighbours.caught_share())} |", ""]
        missed = [m for m in neighbours.mutants if not m.caught]
        if missed:
            lines += [
                "Mutants with the gold's answer on every variant (near misses the scorer lets through, "
                "or rewrites that mean the same on this data):",
                "",
            ]
            lines += [f"- `{m.case_id}` {m.kind}: `{m.query}`" for m in missed[:50]]
            lines.append("")
    failures = [r for r in rows if not r.score.equivalent]
    if failures:
        lines += ["## Misses", "", "| case | question | predicted | why |", "|---|---|---|---|"]
        for r in failures[:200]:
            why = (
                (r.score.reason or r.message or r.status)
                .replace("|", "\\|")
                .replace("\n", " ")[:160]
            )
            pred = (r.score.query or "").replace("|", "\\|")
            lines.append(f"| {r.case.id} | {r.case.question} | `{pred}` | {why} |")
        lines.append("")
    return "\n".join(lines)


def write_chart(rows: list[Row], path: Path) -> bool:
    """A bar chart of parse rate, valid rate and execution accuracy per stratum; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
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

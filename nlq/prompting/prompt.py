"""Chat prompts for translation: a short system text per dialect, the relevant
catalog slice, retrieved few-shot pairs as earlier turns, then the question.

The prompt ends with the chat template's assistant header (`<|im_start|>assistant\\n`
for SmolLM2), so the model's first token carries no leading space; llguidance
refuses whitespace the grammar does not allow there.  On a retry the failed
query and the validator's message come back as one more exchange.

    >>> p = build_prompt("5xx rate of checkout", "promql", catalog)   # doctest: +SKIP
    >>> p.messages[-1]                                                # doctest: +SKIP
    {'role': 'user', 'content': '5xx rate of checkout'}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from nlq.catalog import Catalog
from nlq.prompting.catalog_slice import catalog_slice, compact_catalog_slice
from nlq.prompting.fewshot import Example, FewShotBank

SYSTEM = {
    "promql": (
        "You translate questions about metrics into one PromQL query. Answer with the query only. "
        "Use only the metrics and labels listed. Counters (_total, _count, _bucket) need rate() or "
        "increase() over a range such as [5m]; latency percentiles use histogram_quantile(0.95, "
        "sum by (le) (rate(x_bucket[5m])))."
    ),
    "logql": (
        "You translate questions about logs into one LogQL query for Grafana Loki. Answer with the "
        "query only. Start with a stream selector such as {service=\"api\"} using only the labels "
        "listed; filter lines with |= \"text\"; parse fields with | json or | logfmt; count with "
        "sum by (label) (count_over_time({...} [5m]))."
    ),
    "datadog-metrics": (
        "You translate questions about metrics into one Datadog metric query. Answer with the query "
        "only. Use only the metrics and tags listed. Form: avg:metric.name{tag:value} by {tag}, "
        "or {*} for all; counts take .as_count() or .as_rate()."
    ),
    "datadog-logs": (
        "You translate questions about logs into one Datadog log search query. Answer with the query "
        "only. Use only the tags and attributes listed: service:name status:error @attribute:value, "
        "combined with AND, OR, NOT and parentheses."
    ),
}


#: prompt styles: "fewshot" (the base model: instructions + slice + retrieved pairs) and
#: "compact" (a tuned adapter: one line + compact slice + its retrieved pairs + question;
#: see `compact_messages`)
STYLES = ("fewshot", "compact")
TITLES = {"promql": "PromQL", "logql": "LogQL", "datadog-metrics": "Datadog metrics", "datadog-logs": "Datadog logs"}
#: metrics (or log fields) in the compact slice
COMPACT_CATALOG_K = 3


@dataclass
class Attempted:
    """A failed attempt fed back on a retry."""

    query: str
    error: str


@dataclass
class Prompt:
    messages: list[dict[str, str]]
    #: catalog names shown to the model
    catalog_names: list[str] = field(default_factory=list)
    examples: list[Example] = field(default_factory=list)


def build_prompt(
    question: str,
    dialect: str,
    catalog: Catalog | None = None,
    *,
    bank: FewShotBank | None = None,
    k_examples: int = 3,
    k_catalog: int = 4,
    feedback: list[Attempted] | None = None,
    style: str = "fewshot",
    leave_out: int | None = None,
) -> Prompt:
    """The chat prompt for `question` in `style` ("fewshot" or "compact").

    A tuned adapter's prompt is the compact one with as many retrieved pairs as
    it was trained with (its `prompt_examples`, passed as `k_examples`): the
    prompt at inference must be the one it saw in training (`nlq.training.examples`
    renders through this function too).  `leave_out` is the index of a bank
    example not to retrieve: training on a curated pair must not show the model
    that same pair as its example.
    """
    if style not in STYLES:
        raise ValueError(f"prompt style {style!r}: expected one of {', '.join(STYLES)}")
    bank = bank if bank is not None else FewShotBank.load(dialect)
    examples = bank.retrieve(question, k_examples, exclude=leave_out)
    if style == "compact":
        messages, names = compact_messages(question, dialect, catalog, examples)
        return Prompt(messages + _feedback_turns(question, feedback), names, examples)
    system = SYSTEM[dialect]
    slice_ = catalog_slice(catalog, question, k=k_catalog)
    if slice_.text:
        system += "\n\nAvailable:\n" + slice_.text
    messages = [{"role": "system", "content": system}, *_example_turns(examples)]
    messages.append({"role": "user", "content": question.strip()})
    messages += _feedback_turns(question, feedback)
    return Prompt(messages, slice_.names, examples)


def _example_turns(examples: Sequence[Example]) -> list[dict[str, str]]:
    """Retrieved pairs as earlier exchanges, best last: nearest the question, where a small model copies most."""
    turns = []
    for example in reversed(examples):
        turns.append({"role": "user", "content": example.question})
        turns.append({"role": "assistant", "content": example.query})
    return turns


def compact_messages(question: str, dialect: str, catalog: Catalog | None,
                     examples: Sequence[Example] = ()) -> tuple[list[dict[str, str]], list[str]]:
    """The compact prompt: a one-line instruction naming the dialect and the catalog slice,
    the retrieved `examples` as earlier exchanges, then the question.

    ~100-180 tokens with SmolLM2's chat template, ~40 more per example.  Short,
    so that training on the CPU is affordable; it carries the catalog slice, so
    that a model tuned on one catalog copies names from the prompt rather than
    recalling them.

    >>> compact_messages("rps of /a", "promql", None)[0][0]["content"]
    'Write one PromQL query.'
    """
    slice_ = compact_catalog_slice(catalog, question, k=COMPACT_CATALOG_K)
    system = f"Write one {TITLES[dialect]} query." + (f" Catalog:\n{slice_.text}" if slice_.text else "")
    messages = [{"role": "system", "content": system}, *_example_turns(examples)]
    return messages + [{"role": "user", "content": question.strip()}], slice_.names


def _feedback_turns(question: str, feedback: list[Attempted] | None) -> list[dict[str, str]]:
    """On a retry: each failed query and the validator's message, as one more exchange."""
    turns = []
    for attempt in feedback or []:
        turns.append({"role": "assistant", "content": attempt.query})
        turns.append(
            {
                "role": "user",
                "content": f"That query is wrong: {attempt.error}\nWrite a corrected query for: {question.strip()}",
            }
        )
    return turns

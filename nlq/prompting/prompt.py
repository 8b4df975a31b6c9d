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

from dataclasses import dataclass, field

from nlq.catalog import Catalog
from nlq.prompting.catalog_slice import catalog_slice
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
) -> Prompt:
    system = SYSTEM[dialect]
    slice_ = catalog_slice(catalog, question, k=k_catalog)
    if slice_.text:
        system += "\n\nAvailable:\n" + slice_.text
    messages = [{"role": "system", "content": system}]
    bank = bank if bank is not None else FewShotBank.load(dialect)
    examples = bank.retrieve(question, k_examples)
    # best example last: nearest the question, where a small model copies most
    for example in reversed(examples):
        messages.append({"role": "user", "content": example.question})
        messages.append({"role": "assistant", "content": example.query})
    messages.append({"role": "user", "content": question.strip()})
    for attempt in feedback or []:
        messages.append({"role": "assistant", "content": attempt.query})
        messages.append(
            {
                "role": "user",
                "content": f"That query is wrong: {attempt.error}\nWrite a corrected query for: {question.strip()}",
            }
        )
    return Prompt(messages, slice_.names, examples)

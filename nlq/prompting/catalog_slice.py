"""The part of a catalog worth showing the model for one question.

A catalog may hold thousands of metrics; a 135M-parameter model reads a few.
Metrics (PromQL, Datadog metrics) are ranked by BM25 over their name, help
text, label names and values; log catalogs show their labels and the fields
closest to the question.  Values mentioned in the question are listed first.

    >>> slice_ = catalog_slice(catalog, "5xx rate of checkout", k=5)   # doctest: +SKIP
    >>> print(slice_.text)                                             # doctest: +SKIP
    - http_requests_total (counter): Total HTTP requests. Labels: service (checkout, cart), code (500, 200)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nlq.catalog import Catalog
from nlq.prompting.retrieval import BM25, words

MAX_VALUES = 4
#: values longer than this (pod names, hashes) cost many tokens: one example unless asked about
LONG_VALUE = 20


@dataclass
class CatalogSlice:
    text: str
    #: names shown: metrics, or log labels and fields
    names: list[str] = field(default_factory=list)


def _values(values: list[str], question_words: set[str], limit: int = MAX_VALUES) -> list[str]:
    # mentioned: every word of the value is in the question ("checkout", not "checkout-7f9c-x2")
    mentioned = [v for v in values if words(v) and set(words(v)) <= question_words]
    rest = [v for v in values if v not in mentioned]
    if any(len(v) > LONG_VALUE for v in rest):
        rest = rest[:1]
    return (mentioned[:limit] + rest)[:max(limit, 1)]


def _labels_text(labels: dict[str, list[str]], question_words: set[str], prefix: str = "") -> str:
    parts = []
    for name, values in labels.items():
        shown = _values(values, question_words)
        more = ", ..." if len(values) > len(shown) else ""
        parts.append(f"{prefix}{name} ({', '.join(shown)}{more})" if shown else f"{prefix}{name}")
    return ", ".join(parts)


def catalog_slice(catalog: Catalog | None, question: str, k: int = 4) -> CatalogSlice:
    if catalog is None:
        return CatalogSlice("")
    q = set(words(question, expand=True))
    if catalog.metrics:
        names = list(catalog.metrics)
        docs = []
        for name in names:
            m = catalog.metrics[name]
            doc = words(name) * 2 + words(m.help) + words(" ".join(m.labels))
            doc += words(" ".join(v for vs in m.labels.values() for v in vs[:50]))
            docs.append(doc)
        best = BM25(docs).top(list(q), k)
        if not best:
            best = list(range(min(k, len(names))))
        lines, shown_families = [], set()
        for i in best:
            m = catalog.metrics[names[i]]
            title = m.name
            if m.family and m.type in ("histogram", "summary"):
                # one line per histogram: x_bucket, x_sum and x_count share labels and help
                if m.family in shown_families:
                    continue
                shown_families.add(m.family)
                members = [n for n in names if catalog.metrics[n].family == m.family]
                title = ", ".join(sorted(members))
            help_text = f": {m.help.rstrip('.')}." if m.help else "."
            labels = _labels_text({k: v for k, v in m.labels.items() if k != "le"}, q)
            lines.append(f"- {title} ({m.type}){help_text}" + (f" Labels: {labels}" if labels else ""))
        return CatalogSlice("\n".join(lines), [names[i] for i in best])
    lines, shown = [], []
    if catalog.log_labels:
        label_word = "Tags and reserved attributes" if catalog.dialect == "datadog-logs" else "Stream labels"
        lines.append(f"{label_word}: " + _labels_text(catalog.log_labels, q))
        shown += list(catalog.log_labels)
    if catalog.log_fields:
        fields = list(catalog.log_fields)
        docs = [words(f) + words(" ".join(catalog.log_fields[f].values[:50])) for f in fields]
        best = BM25(docs).top(list(q), k) or list(range(min(k, len(fields))))
        best_fields = {fields[i]: catalog.log_fields[fields[i]].values for i in best}
        if catalog.dialect == "datadog-logs":
            lines.append("Attributes: " + _labels_text(best_fields, q, prefix="@"))
        else:
            lines.append("Parsed fields (after | json or | logfmt): " + _labels_text(best_fields, q))
        shown += list(best_fields)
    return CatalogSlice("\n".join(lines), shown)

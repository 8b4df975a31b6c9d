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

import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field

from nlq.catalog import Catalog, Metric
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


def _ranked_metrics(catalog: Catalog, question_words: set[str], k: int) -> list[str]:
    """The names of the `k` metric families closest to the question: those carrying the most
    label values the question names first, then by BM25 over name, help, label names and values.

    Value linking, as text-to-SQL systems link schema: "memory of the billing pods"
    needs a metric that has series for `billing`, however well node_memory_* matches
    "memory" by name.  A value whose words are all metric-name words of the catalog
    (`orders` where checkout.order.value exists) is ambiguous and links nothing: BM25
    weighs it as a name.  A histogram's _bucket, _sum and _count count as one family,
    so they do not crowd the others out.
    """
    index = _metric_index(catalog)
    scores = index.bm25.scores(list(question_words))
    linked = index.linked(question_words)
    if not linked and not any(scores):
        return index.names[:k]
    order = sorted(range(len(index.names)), key=lambda i: (-linked.get(i, 0), -scores[i], i))
    chosen, families = [], set()
    for i in order:
        if not (linked.get(i) or scores[i] > 0) or len(families) >= k and index.families[i] not in families:
            break
        chosen.append(index.names[i])
        families.add(index.families[i])
    return chosen


@dataclass
class _MetricIndex:
    names: list[str]
    bm25: BM25
    #: per metric: its family (histogram and summary series share one), else its name
    families: list[str]
    #: first word of a label value -> (the value's words, index of a metric carrying it)
    values: dict[str, list[tuple[frozenset[str], int]]]

    def linked(self, question_words: set[str]) -> dict[int, int]:
        """Metric index -> how many distinct label values named in the question it carries."""
        found: dict[int, set[frozenset[str]]] = {}
        for word in question_words:
            for value_words, metric in self.values.get(word, ()):
                if value_words <= question_words:
                    found.setdefault(metric, set()).add(value_words)
        return {metric: len(values) for metric, values in found.items()}


#: id(catalog) -> (a weak reference to it, its index)
_METRIC_INDEXES: dict[int, tuple[weakref.ref, _MetricIndex]] = {}
#: label values shorter than this, or without a letter ("1", "ok"), are too common to link
_LINK_MIN_CHARS = 3


def _metric_index(catalog: Catalog) -> _MetricIndex:
    """The catalog's metric names, BM25 index and value index, built once per catalog object:
    every question and every retry ranks against it (0.7 s to build for 10,000 metrics)."""
    held = _METRIC_INDEXES.get(id(catalog))
    if held is not None and held[0]() is catalog and len(held[1].names) == len(catalog.metrics):
        return held[1]
    names = list(catalog.metrics)
    docs = []
    values: dict[str, list[tuple[frozenset[str], int]]] = {}
    name_words = {w for name in names for w in words(name)}
    for i, name in enumerate(names):
        m = catalog.metrics[name]
        doc = words(name) * 2 + words(m.help) + words(" ".join(m.labels))
        doc += words(" ".join(v for vs in m.labels.values() for v in vs[:50]))
        docs.append(doc)
        for label, label_values in m.labels.items():
            if label in ("le", "quantile"):
                continue
            for value in label_values[:50]:
                value_words = words(value)
                if (len(value) >= _LINK_MIN_CHARS and value_words and any(c.isalpha() for c in value)
                        and not set(value_words) <= name_words):
                    values.setdefault(value_words[0], []).append((frozenset(value_words), i))
    families = [catalog.metrics[n].family if catalog.metrics[n].type in ("histogram", "summary")
                and catalog.metrics[n].family else n for n in names]
    index = _MetricIndex(names, BM25(docs), families, values)
    for key in [key for key, (ref, _) in _METRIC_INDEXES.items() if ref() is None]:
        del _METRIC_INDEXES[key]  # catalogs gone: their ids may be reused
    _METRIC_INDEXES[id(catalog)] = (weakref.ref(catalog), index)
    return index


def _ranked_fields(catalog: Catalog, question_words: set[str], k: int) -> dict[str, list[str]]:
    """The `k` log fields closest to the question (BM25 over name and values), with their values.

    When the question names streams whose fields the catalog knows (`stream_fields`), only
    their fields: "response size of search" gets search's `size`, not the `bytes` other
    services log, and a plain-text stream gets none.
    """
    carried = _mentioned_stream_fields(catalog, question_words)
    fields = [f for f in catalog.log_fields if carried is None or f in carried]
    if not fields:
        return {}
    docs = [words(f) + words(" ".join(catalog.log_fields[f].values[:50])) for f in fields]
    best = BM25(docs).top(list(question_words), k) or list(range(min(k, len(fields))))
    return {fields[i]: catalog.log_fields[fields[i]].values for i in best}


def _shown_metrics(catalog: Catalog, names: list[str], sep: str) -> Iterator[tuple[str, Metric]]:
    """(title, metric) for each ranked name: a histogram or summary once, titled with its
    family's names joined by `sep` (x_bucket, x_sum and x_count share labels and help)."""
    shown_families: set[str] = set()
    for name in names:
        metric = catalog.metrics[name]
        if not (metric.family and metric.type in ("histogram", "summary")):
            yield metric.name, metric
            continue
        if metric.family in shown_families:
            continue
        shown_families.add(metric.family)
        members = sorted(n for n in catalog.metrics if catalog.metrics[n].family == metric.family)
        yield sep.join(members), metric


def _mentioned_stream_fields(catalog: Catalog, question_words: set[str]) -> set[str] | None:
    """The fields the streams the question names carry; None when it names none the catalog knows."""
    carried: set[str] | None = None
    for by_value in catalog.stream_fields.values():
        for value, names in by_value.items():
            if words(value) and set(words(value)) <= question_words:
                carried = (carried or set()) | set(names)
    return carried


def catalog_slice(catalog: Catalog | None, question: str, k: int = 4) -> CatalogSlice:
    if catalog is None:
        return CatalogSlice("")
    q = set(words(question, expand=True))
    if catalog.metrics:
        names = _ranked_metrics(catalog, q, k)
        lines = []
        for title, m in _shown_metrics(catalog, names, ", "):
            help_text = f": {m.help.rstrip('.')}." if m.help else "."
            labels = _labels_text({k: v for k, v in m.labels.items() if k != "le"}, q)
            lines.append(f"- {title} ({m.type}){help_text}" + (f" Labels: {labels}" if labels else ""))
        return CatalogSlice("\n".join(lines), names)
    lines, shown = [], []
    if catalog.log_labels:
        label_word = "Tags and reserved attributes" if catalog.dialect == "datadog-logs" else "Stream labels"
        lines.append(f"{label_word}: " + _labels_text(catalog.log_labels, q))
        shown += list(catalog.log_labels)
    if catalog.log_fields and (best_fields := _ranked_fields(catalog, q, k)):
        if catalog.dialect == "datadog-logs":
            lines.append("Attributes: " + _labels_text(best_fields, q, prefix="@"))
        else:
            lines.append("Parsed fields (after | json or | logfmt): " + _labels_text(best_fields, q))
        shown += list(best_fields)
    if formats := _mentioned_formats(catalog, q):
        lines.append("Line formats: " + formats)
    return CatalogSlice("\n".join(lines), shown)


def _mentioned_formats(catalog: Catalog, question_words: set[str]) -> str:
    """`service=cart:logfmt`: the line format of each stream the question names, so the model can
    pick the parser that works on it (nlq.log_formats); '' when it names none."""
    parts = []
    for label, formats in catalog.log_formats.items():
        parts += [f"{label}={value}:{fmt}" for value, fmt in formats.items()
                  if words(value) and set(words(value)) <= question_words]
    return " ".join(parts[:3])


# ---------------------------------------------------------------------------- compact
#: unmentioned values shown per label in the compact slice (mentioned values always come first)
COMPACT_VALUES = 2
#: unmentioned values longer than this (pod names, messages) are not shown at all
COMPACT_LONG_VALUE = 14


def _compact_labels(labels: dict[str, list[str]], question_words: set[str], prefix: str = "") -> str:
    """`service=checkout|cart|... code=200|500`: names and a few values, no prose.

    Values the question mentions come first; the others only as a hint of their
    form (two short ones).  Labels with a single value that the question does
    not mention (`env=prod` everywhere) are left out: they filter nothing.
    """
    parts = []
    for name, values in labels.items():
        mentioned = [v for v in values if words(v) and set(words(v)) <= question_words][:3]
        if len(values) == 1 and not mentioned and name not in question_words:
            continue
        hints = [v for v in values if v not in mentioned and len(v) <= COMPACT_LONG_VALUE and " " not in v]
        shown = mentioned + hints[: max(0, COMPACT_VALUES - len(mentioned))]
        more = "|..." if shown and len(values) > len(shown) else ""
        parts.append(f"{prefix}{name}={'|'.join(shown)}{more}" if shown else f"{prefix}{name}")
    return " ".join(parts)


def compact_catalog_slice(catalog: Catalog | None, question: str, k: int = 3) -> CatalogSlice:
    """The `k` most relevant metrics (or log labels and fields), one short line each.

    The tuned adapter reads this in its prompt and copies names from it, so the
    same model works on a catalog it never saw.  Same ranking as `catalog_slice`;
    no help text and fewer values, so the whole prompt stays near 100-180 tokens.

    >>> from nlq.catalog import Catalog
    >>> cat = Catalog.from_dict({"api_requests_total": {"handler": ["/a", "/b"]}})
    >>> compact_catalog_slice(cat, "rps of /a").text
    'api_requests_total counter handler=/a|/b'
    """
    if catalog is None:
        return CatalogSlice("")
    q = set(words(question, expand=True))
    if catalog.metrics:
        names = _ranked_metrics(catalog, q, k)
        lines = []
        for title, m in _shown_metrics(catalog, names, " "):
            labels = _compact_labels({k: v for k, v in m.labels.items() if k != "le"}, q)
            lines.append(f"{title} {m.type}" + (f" {labels}" if labels else ""))
        return CatalogSlice("\n".join(lines), names)
    lines, shown = [], []
    if catalog.log_labels:
        lines.append("labels: " + _compact_labels(catalog.log_labels, q))
        shown += list(catalog.log_labels)
    if catalog.log_fields and (best_fields := _ranked_fields(catalog, q, k)):
        prefix = "@" if catalog.dialect == "datadog-logs" else ""
        lines.append("fields: " + _compact_labels(best_fields, q | set(best_fields), prefix=prefix))
        shown += list(best_fields)
    if formats := _mentioned_formats(catalog, q):
        lines.append("format: " + formats)
    return CatalogSlice("\n".join(lines), shown)



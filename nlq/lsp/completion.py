"""Completion and hover from the dialect's vocabulary and the catalog.

Pure functions over (text, cursor offset); the language server and the
/v1/complete endpoint both use them.  What to offer depends on where the
cursor is:

| where | offered |
|---|---|
| inside `{...}` after `label=` / `label=~"` (PromQL, LogQL) or `tag:` (Datadog) | the label's values |
| inside `{...}` elsewhere | label (tag) names, of the metric before `{` when known |
| Datadog logs: after `service:` / `@field:` | that facet's values |
| anywhere else | metrics (PromQL, Datadog metrics), functions, aggregations, keywords, facets |
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nlq.catalog import Catalog
from nlq.lsp.vocabulary import words

MAX_ITEMS = 200
_WORD_CHARS = re.compile(r"[\w.@:-]*$")
_PROM_VALUE = re.compile(r"([A-Za-z_][\w.]*)\s*(?:=~|!~|!=|=)\s*\"([^\"]*)$")
_DD_VALUE = re.compile(r"(@?[\w.-]+):([^\s,}:]*)$")
_METRIC_BEFORE_BRACE = re.compile(r"([A-Za-z_:][\w:.]*)\s*$")


@dataclass
class Item:
    label: str
    kind: str  # "function" | "aggregation" | "keyword" | "metric" | "label" | "value"
    detail: str = ""
    documentation: str = ""
    insert_text: str | None = None

    def to_dict(self) -> dict:
        return {"label": self.label, "kind": self.kind, "detail": self.detail,
                "documentation": self.documentation, "insert_text": self.insert_text or self.label}


def _open_brace(before: str) -> int | None:
    """Offset of the `{` the cursor is inside (not closed yet), or None."""
    depth_quote = False
    position = None
    for i, ch in enumerate(before):
        if ch == '"' and (i == 0 or before[i - 1] != "\\"):
            depth_quote = not depth_quote
        elif not depth_quote and ch == "{":
            position = i
        elif not depth_quote and ch == "}":
            position = None
    return position


def _labels(catalog: Catalog | None, dialect: str, metric: str | None) -> dict[str, list[str]]:
    if catalog is None:
        return {}
    if dialect == "logql":
        return dict(catalog.log_labels)
    if metric and catalog.metric(metric):
        return dict(catalog.metric(metric).labels)
    merged: dict[str, list[str]] = {}
    for m in catalog.metrics.values():
        for name, values in m.labels.items():
            merged.setdefault(name, [])
            merged[name].extend(v for v in values if v not in merged[name])
    return merged


def _filter(items: list[Item], prefix: str) -> list[Item]:
    low = prefix.lower()
    return [i for i in items if i.label.lower().startswith(low)][:MAX_ITEMS]


def complete(text: str, offset: int, dialect: str, catalog: Catalog | None) -> list[Item]:
    """Completion items for the cursor at character `offset` of `text`."""
    offset = max(0, min(offset, len(text)))
    before = text[:offset]
    line_start = before.rfind("\n") + 1
    if before[line_start:].lstrip().startswith("#"):
        return []  # a comment: nothing to complete
    if dialect == "datadog-logs":
        return _complete_datadog_logs(before, catalog)
    brace = _open_brace(before)
    if brace is not None:
        inside = before[brace + 1:]
        metric_match = _METRIC_BEFORE_BRACE.search(before[:brace])
        metric = metric_match.group(1) if metric_match else None
        if dialect == "datadog-metrics" and metric and ":" in metric:
            metric = metric.split(":", 1)[1]
        labels = _labels(catalog, dialect, metric)
        value = (_DD_VALUE if dialect == "datadog-metrics" else _PROM_VALUE).search(inside)
        if value:
            name, prefix = value.group(1), value.group(2)
            items = [Item(v, "value", f"{name} value") for v in labels.get(name, [])]
            return _filter(items, prefix)
        prefix = re.search(r"[\w.-]*$", inside).group(0)
        return _filter([Item(n, "label", "label" if dialect != "datadog-metrics" else "tag",
                             insert_text=n + (":" if dialect == "datadog-metrics" else ""))
                        for n in sorted(labels)], prefix)
    prefix = re.search(r"[\w.]*$", before).group(0)
    if dialect == "datadog-metrics" and ":" in _WORD_CHARS.search(before).group(0):
        prefix = _WORD_CHARS.search(before).group(0).rsplit(":", 1)[1]
    items: list[Item] = []
    if catalog is not None and dialect in ("promql", "datadog-metrics"):
        items += [Item(name, "metric", m.type, m.help) for name, m in sorted(catalog.metrics.items())]
    items += [Item(w.name, w.kind, w.kind, w.doc) for w in words(dialect).values()]
    return _filter(items, prefix)


def _complete_datadog_logs(before: str, catalog: Catalog | None) -> list[Item]:
    value = _DD_VALUE.search(before)
    if value and catalog is not None:
        name, prefix = value.group(1), value.group(2)
        if name.startswith("@"):
            field = catalog.log_fields.get(name[1:])
            values = field.values if field else []
        else:
            values = catalog.log_labels.get(name, [])
        return _filter([Item(v, "value", f"{name} value") for v in values], prefix)
    prefix = re.search(r"[\w.@-]*$", before).group(0)
    items: list[Item] = []
    if catalog is not None:
        items += [Item(n, "label", "tag / reserved attribute", insert_text=n + ":")
                  for n in sorted(catalog.log_labels)]
        items += [Item("@" + n, "label", f"attribute ({f.kind})", insert_text=f"@{n}:")
                  for n, f in sorted(catalog.log_fields.items())]
    items += [Item(w.name, w.kind, w.kind, w.doc) for w in words("datadog-logs").values()]
    return _filter(items, prefix)


_HOVER_WORD = re.compile(r"[@\w.:]+")


def word_at(text: str, offset: int) -> tuple[str, int, int] | None:
    """The identifier under `offset` with its start and end offsets."""
    for match in _HOVER_WORD.finditer(text):
        if match.start() <= offset <= match.end():
            return match.group(0), match.start(), match.end()
    return None


def hover(text: str, offset: int, dialect: str, catalog: Catalog | None) -> tuple[str, int, int] | None:
    """(Markdown, start, end) describing the function or metric under the cursor, or None."""
    found = word_at(text, offset)
    if found is None:
        return None
    word, start, end = found
    candidates = [word, word.split(":")[-1], word.lstrip("@")]
    for name in candidates:
        entry = words(dialect).get(name)
        if entry is not None:
            return f"**{name}** ({entry.kind})\n\n{entry.doc}", start, end
        if catalog is not None and catalog.metric(name):
            m = catalog.metric(name)
            labels = ", ".join(f"`{k}`" for k in sorted(m.labels)) or "none"
            parts = [f"**{name}** ({m.type}{', ' + m.unit if m.unit else ''})"]
            if m.help:
                parts.append(m.help)
            parts.append(f"labels: {labels}")
            return "\n\n".join(parts), start, end
        if catalog is not None and dialect in ("logql", "datadog-logs"):
            if name in catalog.log_labels:
                values = ", ".join(catalog.log_labels[name][:10])
                return f"**{name}** (label)\n\nvalues: {values}", start, end
            if name in catalog.log_fields:
                f = catalog.log_fields[name]
                return f"**{name}** (field, {f.kind})\n\nvalues: {', '.join(f.values[:10])}", start, end
    return None

"""Narrow a dialect's grammar to a catalog, so the model can only name what exists.

Each grammar file defines its catalog names as single rules (PromQL:
`metric_name`, `label_name`, `label_value`; LogQL: `label_name`, `label_value`,
`field_name`; Datadog metrics: `metric_name`, `tag_key`, `tag_value`; Datadog
logs: `attribute_name`, `attribute_value`, `tag_key`, `tag_value`).  A request-time
grammar replaces their bodies with the catalog's names as quoted literals,
longest first (llguidance's lexer does not backtrack), gathered in one terminal
per set (`NLQ_METRIC_NAME: "http_requests_total" | "up"`):

* names (`metric_name`, `label_name`, `field_name`, `tag_key`, ...): the catalog's;
* pairs: a rule that uses a key rule once and its value rule (`matcher:
  label_name MATCH_OP label_value`) is expanded per key, so each label takes only
  its own observed values.  Quoted values (PromQL, LogQL) also take simple
  regexes over them (`"5.."`, `"a|b"`, `".*"`), after `=~` and `!~` only: the
  matcher's operator is split, so `=` and `!=` take a value exactly; a label the catalog marks
  high-cardinality, or with no observed values, keeps the grammar's own value rule.  Bare
  values (Datadog) take wildcards that match a known value (`ip-10-1-*`, `5*`, `*`), and a log
  search's comparisons and ranges only where a key's values are numbers;
* scoping: a rule that names a metric and leads to its label names (PromQL's
  vector selector, Datadog's metric query) is cloned per metric, so
  `http_requests_total{...}` takes only that metric's labels and values;
* subsets: a selector that only some metrics fit (PromQL's `bucket_selector`,
  histogram_quantile's argument, nlq.constrain.histograms) names only those.

Name sets of more than `TRIE_MIN_ITEMS` become one regex with shared prefixes
(`trie_regex`): the same language, compiled and masked by llguidance far faster
than thousands of alternatives.

The result is compiled and validated with llguidance (`GrammarError` if refused)
and cached per (dialect, catalog fingerprint) in memory and on disk
($NLQ_CACHE_DIR/grammars/).  `compiled_matcher` keeps each grammar's compiled
llguidance matcher and hands out copies, so a request does not compile again.

    >>> g = narrowed_grammar("promql", catalog)          # doctest: +SKIP
    >>> g.narrowed                                       # doctest: +SKIP
    {'metric_name': 42, 'label_name': 17, 'label_value': 230, 'scoped_metrics': 42}
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import os
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path

from nlq import dialects
from nlq.catalog import Catalog, Metric, value_kind
from nlq.constrain import larktext
from nlq.constrain.aggregations import as_loki_validates
from nlq.constrain.calls import typed_calls
from nlq.constrain.datadog_names import checked_names
from nlq.constrain.grammar import ConstraintGrammar, GrammarError
from nlq.constrain.grounding import Mentions, grounded_values, withheld
from nlq.constrain.histograms import BUCKET_SELECTOR, bucket_quantiles
from nlq.constrain.keyed_values import NUMERIC_VALUE, keyed_values
from nlq.constrain.selectors import named_selectors
from nlq.grammar import grammar_text

#: bump when the narrowing output changes, to invalidate disk caches
NARROW_VERSION = 20
#: per-metric scoping clones the selector rules once per group of metrics (`scope_groups`);
#: llguidance's Earley parser then predicts every clone where a metric may start.  Measured:
#: 200 or 1,000 clones exceed its 50,000-item limit per mask ("Too many items"); 100 cost
#: 2-3x the mask time of global label sets.  Past this many groups, label sets are global.
MAX_SCOPED_ENTITIES = 100
#: values per key beyond which a label counts as free-form (the catalog kept only the frequent ones)
MAX_VALUES_PER_KEY = 500
#: name sets larger than this become one regex with shared prefixes factored out (a trie)
#: rather than a list of alternatives.  Same language; llguidance builds its lexer from
#: a trie's few branches per character instead of every name at once.  Measured at 10,000
#: metrics (benchmarks/catalog_scale.py): compile 1.3 -> 0.6 s.  Small sets stay literal,
#: which is easier to read in a cached grammar.
TRIE_MIN_ITEMS = 64
#: verdicts a probe remembers (a value is probed once per set it is in)
MAX_REMEMBERED_VERDICTS = 1_000_000


@dataclass
class DialectNames:
    """Which grammar rules a dialect narrows and where the catalog keeps their names."""

    #: the rule naming the thing that owns keys (metric_name), if scoping applies
    entity: str | None
    #: key rule -> value rule
    pairs: dict[str, str]
    #: other name rules (LogQL's parsed fields, PromQL's quoted metric name)
    names: tuple[str, ...] = ()
    #: a name rule that names the entity again inside its selector (PromQL's `{"metric"}`):
    #: dropped from each scoped clone, where the entity is already named before the braces
    entity_again: str | None = None
    #: the terminal for a matcher's operator, where equality and regex operators share one
    #: (`=`, `!=`, `=~`, `!~`): narrowing splits it, so `=` takes an observed value exactly and
    #: only `=~`/`!~` take patterns over them (`service=".*"` matches no series)
    match_op: str | None = None
    #: a rule in a pair rule that only keys with numeric values take (comparisons and ranges,
    #: nlq.constrain.keyed_values): `@http.status_code:>=500`, never `service:>=500`
    numeric_only: str | None = None
    #: rules that name the entity but only some entities fit, with the test for them:
    #: histogram_quantile's `bucket_selector` takes bucket series only
    entity_subsets: dict[str, Callable[[Metric], bool]] = field(default_factory=dict)


def _holds_buckets(metric: Metric) -> bool:
    return metric.holds_buckets


RULES: dict[str, DialectNames] = {
    "promql": DialectNames("metric_name", {"label_name": "label_value"}, ("quoted_metric",),
                           entity_again="quoted_metric", match_op="MATCH_OP",
                           entity_subsets={BUCKET_SELECTOR: _holds_buckets}),
    "logql": DialectNames(None, {"label_name": "label_value"}, ("field_name",), match_op="MATCH_OP"),
    "datadog-metrics": DialectNames("metric_name", {"tag_key": "tag_value"}),
    "datadog-logs": DialectNames(None, {"tag_key": "tag_value", "attribute_name": "attribute_value"},
                                 numeric_only=NUMERIC_VALUE),
}


@dataclass
class CatalogNames:
    """The catalog as sets of names: what a narrowed grammar may say."""

    entities: dict[str, dict[str, list[str] | None]] = field(default_factory=dict)
    #: metrics cloned together when scoping, with the labels (and values) they take
    groups: list[tuple[list[str], dict[str, list[str] | None]]] = field(default_factory=list)
    #: key rule -> key -> values (None: any value)
    pairs: dict[str, dict[str, list[str] | None]] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)
    #: subset rule -> the entities it may name (DialectNames.entity_subsets)
    subsets: dict[str, list[str]] = field(default_factory=dict)


def catalog_names(dialect: str, catalog: Catalog, per_entity: bool = True) -> CatalogNames:
    """The catalog's name sets; `per_entity=False` skips each metric's own label values
    (unscoped narrowing only needs the merged sets: at 10,000 metrics that is most of the work)."""
    out = CatalogNames()
    if dialect in ("promql", "datadog-metrics"):
        key_rule = next(iter(RULES[dialect].pairs))
        merged: dict[str, set[str] | None] = {}
        for name, metric in sorted(catalog.metrics.items()):
            keys: dict[str, list[str] | None] = {}
            for label, values in metric.labels.items():
                free = label in metric.high_cardinality or not values or len(values) > MAX_VALUES_PER_KEY
                if per_entity:
                    keys[label] = None if free else sorted(set(values))
                if free:
                    merged[label] = None
                elif merged.get(label, set()) is not None:
                    merged.setdefault(label, set()).update(values)
            out.entities[name] = dict(sorted(keys.items()))
        out.pairs[key_rule] = {k: (None if v is None else sorted(v)) for k, v in sorted(merged.items())}
        if RULES[dialect].entity_again:
            out.names[RULES[dialect].entity_again] = sorted(catalog.metrics)
        for rule, fits in RULES[dialect].entity_subsets.items():
            out.subsets[rule] = sorted(name for name, metric in catalog.metrics.items() if fits(metric))
    elif dialect == "logql":
        out.pairs["label_name"] = _value_map(catalog.log_labels)
        out.names["field_name"] = sorted(catalog.log_fields)
    elif dialect == "datadog-logs":
        out.pairs["tag_key"] = _value_map(catalog.log_labels)
        out.pairs["attribute_name"] = _value_map({k: f.values for k, f in catalog.log_fields.items()})
    return out


def scope_groups(names: CatalogNames, limit: int) -> list[tuple[list[str], dict[str, list[str] | None]]]:
    """Metrics that may share one clone of the selector rules when labels are scoped.

    Scoping clones the selector once per group, and llguidance's Earley parser
    predicts every clone wherever a metric may start (past ~100 clones it
    exceeds its 50,000 items per mask).  So metrics with the same labels and
    values share a clone: the same language with fewer clones (exporters give
    many metrics the same labels).  If that still leaves more than `limit`
    groups, metrics are grouped by their label *names*, each label taking the
    values it has anywhere in the catalog: a metric still only takes its own
    labels.  More than `limit` label-name sets: [] (no scoping).
    """
    exact: dict[tuple, tuple[list[str], dict]] = {}
    for metric, keys in names.entities.items():
        signature = tuple((k, None if v is None else tuple(v)) for k, v in keys.items())
        exact.setdefault(signature, ([], keys))[0].append(metric)
    if len(exact) <= limit:
        return list(exact.values())
    merged = next(iter(names.pairs.values()), {})
    by_names: dict[tuple[str, ...], list[str]] = {}
    for metric, keys in names.entities.items():
        by_names.setdefault(tuple(keys), []).append(metric)
    if len(by_names) <= limit:
        return [(metrics, {k: merged.get(k) for k in labels}) for labels, metrics in by_names.items()]
    return []


def _value_map(mapping: dict[str, list[str]]) -> dict[str, list[str] | None]:
    return {
        k: (sorted(set(v)) if v and len(v) <= MAX_VALUES_PER_KEY else None)
        for k, v in sorted(mapping.items())
    }


# ---------------------------------------------------------------------------
# literal forms: what a catalog string looks like inside a rule


class _Probe:
    """Decides whether a string fits a rule, using the rule's terminals as Python regexes."""

    def __init__(self, text: str, rules: list[str]):
        import lark

        self.parser = lark.Lark(text, start=rules, parser="earley", lexer="dynamic")
        self.defs = larktext.definitions(text)
        self._regex: dict[str, re.Pattern | None] = {}
        # a value is probed once per set it is in (global and per label): remember the verdicts
        self._seen: dict[tuple[str, str], bool] = {}

    def _rule_regex(self, rule: str) -> re.Pattern | None:
        if rule not in self._regex:
            parts = []
            for alt in larktext.alternatives(self.defs[rule].body):
                names = larktext.referenced_names(alt)
                if len(names) != 1 or not names[0].isupper() or larktext.tokens(alt)[0][1] != names[0]:
                    self._regex[rule] = None
                    break
                try:
                    parts.append(self.parser.get_terminal(names[0]).pattern.to_regexp())
                except KeyError:
                    self._regex[rule] = None
                    break
            else:
                self._regex[rule] = re.compile("|".join(f"(?:{p})" for p in parts))
        return self._regex[rule]

    def accepts(self, rule: str, text: str) -> bool:
        key = (rule, text)
        known = self._seen.get(key)
        if known is None:
            if len(self._seen) > MAX_REMEMBERED_VERDICTS:  # a long-lived process narrows many catalogs
                self._seen.clear()
            known = self._seen[key] = self._accepts(rule, text)
        return known

    def _accepts(self, rule: str, text: str) -> bool:
        regex = self._rule_regex(rule)
        if regex is not None:
            return regex.fullmatch(text) is not None
        try:
            self.parser.parse(text, start=rule)
            return True
        except Exception:  # noqa: BLE001 - any lark error means "not accepted"
            return False

    def quoted(self, rule: str) -> bool:
        """True when the rule's strings carry their quotes (`label_value: STRING`)."""
        return self.accepts(rule, '"nlq_probe"') and not self.accepts(rule, "nlq_probe")


@lru_cache(maxsize=8)
def _probe_for(text: str, rules: tuple[str, ...]) -> _Probe:
    """One probe per grammar text: building its lark parser costs ~0.2 s, once per process."""
    return _Probe(text, list(rules))


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_SEPARATOR = re.compile(r"[-_./:]")
_REGEX_META = re.compile(r'[+*?()\[\]{}|^$\\"]')
_WILDCARD_META = re.compile(r"[*?]")


def _separator_prefixes(value: str, meta: re.Pattern) -> list[str]:
    """`value`'s proper prefixes that end at a separator ("checkout-", "/api/", "ip-10-1-"),
    up to the first character `meta` matches (past it a pattern would change meaning)."""
    found = meta.search(value)
    limit = found.start() if found else len(value)
    return [value[: m.end()] for m in _SEPARATOR.finditer(value, 0, len(value) - 1) if m.end() <= limit]


def _code_stems(value: str) -> list[str]:
    """A status code's hundreds and tens ("5" and "50" of "503"), which people abbreviate."""
    return [value[:1], value[:2]] if len(value) == 3 and value.isdigit() else []


def _regex_items(values: list[str]) -> list[str]:
    """Simple regexes a person writes over observed values: `5..` for 500/503, `.*`,
    and prefixes cut at a separator (`checkout-.*` for pod names)."""
    items = {".*", ".+"}
    firsts = set()
    for v in values:
        stems = _code_stems(v)
        items.update(stem + "." * (3 - len(stem)) for stem in stems)
        firsts.update(stems[:1])
        # an unescaped "." in a prefix also matches itself
        items.update(prefix + ".*" for prefix in _separator_prefixes(v, _REGEX_META))
    # classes of first digits: "[45].." for 4xx and 5xx; every subset where they are HTTP's five
    # classes at most (26 patterns), else only all of them
    sizes = range(2, len(firsts) + 1) if len(firsts) <= 5 else [len(firsts)]
    for size in sizes:
        items.update("[" + "".join(chosen) + "].." for chosen in itertools.combinations(sorted(firsts), size))
    return sorted(items)


def _wildcard_items(values: list[str]) -> list[str]:
    """Bare wildcards a person writes over observed values, each matching one of them at
    least: `*`, the hundreds of status codes (`5*`, `50*`), prefixes cut at a separator
    (`ip-10-1-*`, `checkout-*`) and the first word of a value with spaces (`GET*` for
    "GET /api/cart", which no bare value can spell).  `orders*`, where no value starts so,
    matches nothing."""
    items = {"*"}
    for v in values:
        items.update(stem + "*" for stem in _code_stems(v))
        items.update(prefix + "*" for prefix in _separator_prefixes(v, _WILDCARD_META))
        first_word = v.split(" ", 1)[0]
        if first_word != v and first_word and not _WILDCARD_META.search(first_word):
            items.add(first_word + "*")
    return sorted(items)


def trie_regex(strings: list[str]) -> str:
    """A regex (Rust and Python syntax) matching exactly `strings`, common prefixes shared.

    >>> trie_regex(["up", "up_time", "upper"])
    'up(?:_time|per)?'
    """

    def alternatives(items: list[str]) -> list[str]:
        """Sorted, distinct, non-empty strings as alternatives, one per first character."""
        parts = []
        for _first, same in itertools.groupby(items, key=lambda x: x[0]):
            same = list(same)
            # the longest prefix all of them share (sorted: the first and the last decide)
            prefix = os.path.commonprefix([same[0], same[-1]])
            tail = group([x[len(prefix):] for x in same]) if len(same) > 1 else ""
            parts.append("".join(map(_regex_char, prefix)) + tail)
        return parts

    def group(items: list[str]) -> str:
        optional = items[0] == ""  # sorted: the empty string comes first
        parts = alternatives(items[1:] if optional else items)
        if not parts:
            return ""
        if len(parts) == 1 and not optional:
            return parts[0]
        return "(?:" + "|".join(parts) + ")" + ("?" if optional else "")

    ordered = sorted(set(strings))
    if ordered and ordered[0] != "":
        return "|".join(alternatives(ordered))  # the top level needs no group
    return group(ordered) if ordered else ""


_PLAIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_ =,:;'\"<>!@%&~`#")


def _regex_char(ch: str) -> str:
    """`ch` inside a Lark `/regex/` that both Rust's regex and Python's re read as itself."""
    if ch in _PLAIN or (ord(ch) > 127 and ch.isprintable()):
        return ch
    if ch in ".^$|?*+()[]{}\\/-":
        return "\\" + ch
    return f"\\x{ord(ch):02x}" if ord(ch) < 128 else f"\\u{ord(ch):04x}"


#: a value with a wildcard anywhere (`*timeout*`), where the grammar takes one
#: (a leading `*` shows a search over words, not a choice among the catalog's names)
ANY_WILDCARD = r"/\*[A-Za-z0-9_.\/:\-*]*/"
#: the empty language (llguidance compiles it; nothing can match)
NOTHING = r"/[^\s\S]/"


# ---------------------------------------------------------------------------
# the rewrite


class _Builder:
    def __init__(self, text: str, dialect: str, names: CatalogNames):
        self.text = text
        self.dialect = dialect
        self.spec = RULES[dialect]
        self.names = names
        self.defs = larktext.definitions(text)
        wanted = [r for r in self._wanted_rules() if r in self.defs]
        self.missing = [r for r in self._wanted_rules() if r not in self.defs]
        self.probe = _probe_for(text, tuple(wanted)) if wanted else None
        self.extra: list[str] = []
        self.replacements: dict[str, str] = {}
        self._terminals: dict[tuple, str] = {}
        self._value_terms: dict[tuple, str | None] = {}
        #: per-metric clones of the rules between a selector and its label names, defined
        #: once and shared by every selector that leads to them (vector and bucket selectors)
        self._cloned: set[str] = set()
        self.stats: dict[str, int] = {}

    def _wanted_rules(self) -> list[str]:
        rules = []
        if self.spec.entity:
            rules.append(self.spec.entity)
        for key, value in self.spec.pairs.items():
            rules += [key, value]
        rules += list(self.spec.names)
        return rules

    # -- terminals --------------------------------------------------------
    def terminal(self, hint: str, literals: list[str]) -> str:
        """A terminal matching exactly `literals` (already in their grammar form), deduplicated."""
        literals = sorted(set(literals), key=lambda s: (-len(s), s))  # longest first: greedy lexer
        key = tuple(literals)
        name = self._terminals.get(key)
        if name is None:
            name = f"NLQ_{hint.upper()}_{len(self._terminals)}"
            self._terminals[key] = name
            if len(literals) > TRIE_MIN_ITEMS:
                self.extra.append(f"{name}: /{trie_regex(literals)}/")
            else:
                self.extra.append(f"{name}: " + " | ".join(larktext.lark_string(s) for s in literals))
        return name

    def literals(self, rule: str, raw: list[str]) -> list[str]:
        out = []
        for value in raw:
            if self.probe.accepts(rule, value):
                out.append(value)
            elif self.probe.accepts(rule, _quote(value)):
                out.append(_quote(value))
        return out

    def value_terminal(self, value_rule: str, values: list[str]) -> str | None:
        """The terminal for one key's values, or None when none fits the rule (memoised:
        metric groups that share a label's values share its terminal)."""
        key = ("values", value_rule, tuple(values))
        if key not in self._value_terms:
            self._value_terms[key] = self._value_terminal(value_rule, values)
        return self._value_terms[key]

    def _quotable(self, value_rule: str, values: list[str]) -> list[str]:
        """The values the (quoted) rule can spell once quoted."""
        return [v for v in values if self.probe.accepts(value_rule, _quote(v))]

    def _value_terminal(self, value_rule: str, values: list[str]) -> str | None:
        if self.probe.quoted(value_rule):
            plain = self._quotable(value_rule, values)
            if not plain:
                return None
            items = self.terminal(f"{value_rule}_items", plain + _regex_items(plain))
            name = self._terminals.get(("re", items))
            if name is None:
                name = f"NLQ_{value_rule.upper()}_RE_{len(self._terminals)}"
                self._terminals[("re", items)] = name
                self.extra.append(f'{name}: "\\"" {items} ("|" {items})* "\\""')
            return name
        fitting = self.literals(value_rule, values)
        if not fitting:
            return None
        term = self.terminal(value_rule, fitting)
        if self.probe.accepts(value_rule, "*") and self.probe.accepts(value_rule, "ab-1*"):
            # the rule takes bare wildcards (Datadog): those that match a known value
            key = ("wild", term)
            if key not in self._terminals:
                self._terminals[key] = f"{term}_OR_WILDCARD"
                wildcards = [w for w in _wildcard_items(values) if self.probe.accepts(value_rule, w)]
                wild = self.terminal(f"{value_rule}_wildcards", wildcards)
                self.extra.append(f"{term}_OR_WILDCARD: {term} | {wild}")
            return self._terminals[key]
        return term

    def matched_value(self, value_rule: str, values: list[str]) -> str | None:
        """A rule for a matcher's operator and one key's quoted values: an equality operator
        and an observed value exactly, or a regex operator and a pattern over them
        (`NLQ_EQUALITY_OP "\"checkout\"" | NLQ_REGEX_OP <patterns>`); None when no value fits."""
        patterns = self.value_terminal(value_rule, values)
        if patterns is None:
            return None
        exact = self.terminal(f"{value_rule}_exact", [_quote(v) for v in self._quotable(value_rule, values)])
        key = ("matched", exact, patterns)
        if key not in self._terminals:
            self._define("NLQ_EQUALITY_OP", '"!=" | "="')
            self._define("NLQ_REGEX_OP", '"=~" | "!~"')
            self._terminals[key] = f"nlq_{value_rule}_matched_{len(self._terminals)}"
            self.extra.append(f"{self._terminals[key]}: NLQ_EQUALITY_OP {exact} | NLQ_REGEX_OP {patterns}")
        return self._terminals[key]

    def wildcard_terminal(self, value_rule: str, unspellable: Sequence[str] = ()) -> str | None:
        """Bare values that match without naming one, for a key whose values grounding
        withheld or the rule cannot spell (`unspellable`, such as Datadog tag values with a
        space): `*`, `*timeout*` where the rule takes a leading wildcard (a log search's
        words), and the wildcards over `unspellable` (`GET*`); None for quoted values and
        rules without wildcards."""
        if self.probe.quoted(value_rule) or not self.probe.accepts(value_rule, "*"):
            return None
        if self.probe.accepts(value_rule, "*ab-1*"):
            self._define("NLQ_ANY_WILDCARD", ANY_WILDCARD)
            base = "NLQ_ANY_WILDCARD"
        else:
            base = self.terminal(f"{value_rule}_star", ["*"])
        prefixes = [w for w in _wildcard_items(list(unspellable)) if w != "*" and self.probe.accepts(value_rule, w)]
        if not prefixes:
            return base
        prefix_terminal = self.terminal(f"{value_rule}_prefixes", prefixes)
        key = ("wild-prefixes", base, prefix_terminal)
        if key not in self._terminals:
            self._terminals[key] = f"{prefix_terminal}_OR_ANY"
            self.extra.append(f"{prefix_terminal}_OR_ANY: {prefix_terminal} | {base}")
        return self._terminals[key]

    def _define(self, name: str, body: str) -> None:
        if ("defined", name) not in self._terminals:
            self._terminals[("defined", name)] = name
            self.extra.append(f"{name}: {body}")

    # -- the steps ----------------------------------------------------------
    def build(self) -> str:
        if self.probe is None:
            return self.text
        free_values = {v: self._keep_original(v) for v in self.spec.pairs.values() if v in self.defs}
        for name_rule in self.spec.names:
            items = self.names.names.get(name_rule) or []
            if name_rule in self.defs and items:
                fitting = self.literals(name_rule, items)
                if fitting:
                    self.replacements[name_rule] = f"{name_rule}: {self.terminal(name_rule, fitting)}"
                    self.stats[name_rule] = len(fitting)
        for key_rule, value_rule in self.spec.pairs.items():
            keys = self.names.pairs.get(key_rule) or {}
            if key_rule not in self.defs or not keys:
                continue
            fitting_keys = self.literals(key_rule, list(keys))
            if not fitting_keys:
                continue
            self.replacements[key_rule] = f"{key_rule}: {self.terminal(key_rule, fitting_keys)}"
            self.stats[key_rule] = len(fitting_keys)
            if value_rule in self.defs:
                pair_rules = self._pair_rules(key_rule, value_rule)
                all_values = sorted({v for vs in keys.values() if vs for v in vs})
                # The union of every key's values is only needed where a value appears
                # without its key; when pair rules are its only users (PromQL's matcher),
                # building it would double the grammar (measured: 10,000 metrics,
                # 1.8 -> 1.0 MB of Lark text, compile 2.4 -> 1.3 s).
                used_alone = self._used_outside(value_rule, pair_rules)
                term = self.value_terminal(value_rule, all_values) if all_values and used_alone else None
                if term:
                    self.replacements[value_rule] = f"{value_rule}: {term} | {free_values[value_rule]}" \
                        if any(v is None for v in keys.values()) else f"{value_rule}: {term}"
                if all_values:
                    self.stats[value_rule] = len(all_values)
                for pair_rule in pair_rules:
                    self._expand_pair(pair_rule, pair_rule, key_rule, value_rule, keys, free_values)
        if self.spec.entity:
            self._scope()
        self._subset_selectors()
        return larktext.replace_definitions(self.text, self.replacements, self.extra)

    def _subset_selectors(self) -> None:
        """A subset rule scoping did not clone (labels unscoped, or too many metric groups) names
        its subset, unscoped.  A catalog with none of its metrics leaves the rule as it is: the
        checks then refuse what it names."""
        entity = RULES[self.dialect].entity
        for rule in RULES[self.dialect].entity_subsets:
            if rule not in self.defs or rule in self.replacements or entity not in self.defs:
                continue
            members = self.literals(entity, self.names.subsets.get(rule, []))
            if members:
                body = larktext.substitute(self.defs[rule].body, {entity: self.terminal(entity, members)})
                self.replacements[rule] = f"{self.defs[rule].prefix}{rule}: {body}"

    def _keep_original(self, rule: str) -> str:
        """Keep a rule's original body under a new name (for free-form values)."""
        name = f"nlq_free_{rule}"
        self.extra.append(f"{name}: {self.defs[rule].body}")
        return name

    def _used_outside(self, rule: str, users: list[str]) -> bool:
        """True when a rule other than `users` (and `rule` itself) refers to `rule`."""
        return any(
            rule in larktext.referenced_names(d.body)
            for name, d in self.defs.items()
            if not d.is_terminal and name != rule and name not in users
        )

    def _pair_rules(self, key_rule: str, value_rule: str) -> list[str]:
        found = []
        for name, d in self.defs.items():
            if d.is_terminal or name in (key_rule, value_rule):
                continue
            refs = larktext.referenced_names(d.body)
            if refs.count(key_rule) == 1 and value_rule in refs:
                found.append(name)
        return found

    def _expand_pair(self, rule: str, new_name: str, key_rule: str, value_rule: str,
                     keys: dict[str, list[str] | None], free_values: dict[str, str],
                     mapping: dict[str, str] | None = None) -> None:
        """`rule` rewritten as one alternative per key, each with that key's values."""
        body = self.defs[rule].body
        match_op = self.spec.match_op
        # the operator is split per key (equality: exact values; regex: patterns) where the
        # rule writes it and its values are quoted strings
        split_op = match_op in larktext.referenced_names(body) and self.probe.quoted(value_rule)
        alts = []
        # [] is a key whose every value grounding withheld (nlq.constrain.grounding): it takes
        # only a wildcard where the dialect writes one bare (Datadog's `host:*`); a quoted
        # `service=".*"` would only tempt the model into a value validation refuses.
        for key, values in keys.items():
            if not self.probe.accepts(key_rule, key):
                continue
            term = self.value_terminal(value_rule, values) if values else None
            if values == [] or values and term is None:
                # withheld, or known values none of which the rule can spell (a Datadog tag
                # value with a space): only a wildcard can match one
                term = self.wildcard_terminal(value_rule, values or [])
                if term is None:
                    continue
            sub = dict(mapping or {})
            sub[key_rule] = self.terminal(key_rule, [key])
            sub[value_rule] = term or free_values[value_rule]
            if values and split_op:
                sub[match_op], sub[value_rule] = "", self.matched_value(value_rule, values)
            if self.spec.numeric_only and values is not None and value_kind(set(values)) != "number":
                # comparisons and ranges over names (`service:>=500`) match nothing; a number is
                # what the catalog's field kinds call one.  [] is a key grounding withheld whole,
                # which keeps numbers: so its values were names too
                self._define("NLQ_NOTHING", NOTHING)
                sub[self.spec.numeric_only] = "NLQ_NOTHING"
            alt_name = f"nlq_{new_name}_{len(self.extra)}"
            self.extra.append(f"{alt_name}: {larktext.substitute(body, sub)}")
            alts.append(alt_name)
        if not alts and any(values == [] for values in keys.values()):
            # every key withheld: the rule matches nothing (`up{}` or a bare `up` remain)
            self._define("NLQ_NOTHING", NOTHING)
            alts = ["NLQ_NOTHING"]
        if alts:
            if new_name == rule:
                self.replacements[rule] = f"{rule}: " + " | ".join(alts)
            else:
                self.extra.append(f"{new_name}: " + " | ".join(alts))
            self.stats["pair_rules"] = self.stats.get("pair_rules", 0) + len(alts)

    # -- per-metric scoping -------------------------------------------------
    def _graph(self) -> dict[str, set[str]]:
        return {
            name: {r for r in larktext.referenced_names(d.body) if r in self.defs and not self.defs[r].is_terminal}
            for name, d in self.defs.items()
            if not d.is_terminal
        }

    def _in_clone(self, rule: str) -> str:
        """`rule`'s body for a per-metric clone: without the alternatives that name the metric again."""
        again = self.spec.entity_again
        alts = larktext.alternatives(self.defs[rule].body)
        kept = [a for a in alts if again not in larktext.referenced_names(a)] if again else alts
        return " | ".join(kept)

    def _scope(self) -> None:
        entity = self.spec.entity
        key_rule, value_rule = next(iter(self.spec.pairs.items()))
        if entity not in self.defs or key_rule not in self.defs or not self.names.entities:
            return
        graph = self._graph()

        @cache
        def reaches(rule: str, target: str, banned: str = "") -> bool:
            seen, stack = set(), [rule]
            while stack:
                r = stack.pop()
                for nxt in graph.get(r, ()):
                    if nxt == banned:
                        continue
                    if nxt == target:
                        return True
                    if nxt not in seen:
                        seen.add(nxt)
                        stack.append(nxt)
            return False

        free_values = {value_rule: f"nlq_free_{value_rule}"}
        scoped: set[str] = set()  # metrics whose labels are scoped
        for sel, d in list(self.defs.items()):
            if d.is_terminal or entity not in larktext.referenced_names(d.body):
                continue
            if not reaches(sel, key_rule, entity):
                continue
            # rules between the selector and the key names, cloned per metric (in grammar order:
            # the clones' text, and the names _expand_pair numbers, do not depend on hashing)
            chain = [r for r in graph if r != sel and reaches(sel, r, entity) and reaches(r, key_rule, entity)]
            if any(reaches(r, sel) for r in [*chain, sel]):
                continue  # recursion back into the selector: cloning would copy the whole language
            pair_rules = set(self._pair_rules(key_rule, value_rule))
            alts = larktext.alternatives(d.body)
            with_entity = [a for a in alts if entity in larktext.referenced_names(a)]
            without = [a for a in alts if entity not in larktext.referenced_names(a)]
            clones = []
            subset = set(self.names.subsets.get(sel, ())) if sel in self.spec.entity_subsets else None
            for index, (metrics, keys) in enumerate(self.names.groups):
                members = [m for m in metrics if self.probe.accepts(entity, m) and (subset is None or m in subset)]
                if not members:
                    continue
                mapping = {entity: self.terminal(entity, members)}
                fitting = {k: v for k, v in keys.items() if self.probe.accepts(key_rule, k)}
                if fitting:
                    mapping[key_rule] = self.terminal(f"{key_rule}_keys", list(fitting))
                    for r in chain:
                        mapping[r] = f"nlq_{r}__m{index}"
                    for r in chain:
                        if mapping[r] in self._cloned:
                            continue
                        self._cloned.add(mapping[r])
                        if r in pair_rules:
                            self._expand_pair(r, mapping[r], key_rule, value_rule, fitting, free_values,
                                              mapping=mapping)
                        else:
                            self.extra.append(f"{mapping[r]}: {larktext.substitute(self._in_clone(r), mapping)}")
                clone = f"nlq_{sel}__m{index}"
                self.extra.append(f"{clone}: " + " | ".join(larktext.substitute(a, mapping) for a in with_entity))
                clones.append(clone)
                scoped.update(members)
            if clones:
                self.replacements[sel] = f"{d.prefix}{sel}{d.priority}: " + " | ".join(without + clones)
                # the metric groups: every selector's clones come from them, a subset's fewer
                self.stats["scoped_groups"] = max(self.stats.get("scoped_groups", 0), len(clones))
        if scoped:
            self.stats["scoped_metrics"] = len(scoped)
            self.stats[entity] = len(self.names.entities)
            if entity not in self.replacements:
                fitting = self.literals(entity, list(self.names.entities))
                self.replacements[entity] = f"{entity}: {self.terminal(entity, fitting)}"
        elif entity in self.defs:
            fitting = self.literals(entity, list(self.names.entities))
            if fitting:
                self.replacements[entity] = f"{entity}: {self.terminal(entity, fitting)}"
                self.stats[entity] = len(fitting)


# ---------------------------------------------------------------------------
# public API with caches

_MEMORY: dict[str, ConstraintGrammar] = {}
_LOCK = threading.Lock()


def catalog_fingerprint(catalog: Catalog | None) -> str:
    if catalog is None:
        return "none"
    blob = json.dumps(catalog.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _disk_dir() -> Path:
    from nlq.cache import cache_root

    return cache_root() / "grammars"


_IGNORE_WS = re.compile(r"^%ignore\s+(WS|WS_INLINE|_WS)\s*$", re.MULTILINE)
_IGNORE_COMMENT = re.compile(r"^%ignore\s+COMMENT\s*$\n?", re.MULTILINE)


#: generation-only rewrites of a dialect's grammar text, before narrowing
def _promql_for_generation(text: str) -> str:
    return named_selectors(bucket_quantiles(typed_calls(text)))


GENERATION_REWRITES = {"promql": _promql_for_generation, "logql": as_loki_validates,
                       "datadog-metrics": checked_names, "datadog-logs": keyed_values}


def generation_source(dialect: str) -> str:
    """The dialect's grammar as generation starts from it: the file, rewritten where a
    construct the checks always refuse, or no question means, can be kept out of the
    language (nlq.constrain.calls, nlq.constrain.histograms, nlq.constrain.aggregations,
    nlq.constrain.selectors, nlq.constrain.datadog_names, nlq.constrain.keyed_values)."""
    text = grammar_text(grammar_file(dialect))
    rewrite = GENERATION_REWRITES.get(dialect)
    return rewrite(text) if rewrite else text


def generation_text(text: str) -> str:
    """The grammar as the model may write it: ignorable whitespace is single spaces, no comments.

    A grammar for validation ignores any whitespace (newlines, tabs, runs of
    blanks); a small model given that freedom drifts into multi-line output.  A
    `# comment` runs to the end of the line, so a model that writes `#` may say
    anything until its token budget runs out: no generated query needs one.
    Everything the restricted grammar allows the full one accepts.
    """
    text = _IGNORE_COMMENT.sub("", text)
    if not _IGNORE_WS.search(text):
        return text
    text = _IGNORE_WS.sub("%ignore NLQ_GEN_SPACE", text)
    return text.rstrip("\n") + '\n\n// generation: ignorable whitespace is a single space\nNLQ_GEN_SPACE: " "\n'


def ground_names(names: CatalogNames, question: str) -> set[tuple[str, str]]:
    """Withhold, in place, the label values `question` does not mention (nlq.constrain.grounding),
    in each metric's labels and in the merged sets; returns the (key, value) pairs withheld."""
    mentions = Mentions(question)
    taken: set[tuple[str, str]] = set()
    for entity, keys in names.entities.items():
        grounded = grounded_values(keys, mentions)
        taken |= withheld(keys, grounded)
        names.entities[entity] = grounded
    for key_rule, keys in names.pairs.items():
        grounded = grounded_values(keys, mentions)
        taken |= withheld(keys, grounded)
        names.pairs[key_rule] = grounded
    return taken


def narrow_text(text: str, dialect: str, catalog: Catalog, scoped: bool = True,
                names: CatalogNames | None = None) -> tuple[str, dict, list]:
    """(narrowed Lark text, counts per narrowed rule, rules the grammar lacks); `names`:
    the catalog's name sets when already computed (and perhaps grounded in a question)."""
    names = catalog_names(dialect, catalog, per_entity=scoped) if names is None else names
    if scoped and names.entities:
        names.groups = scope_groups(names, MAX_SCOPED_ENTITIES)
        scoped = bool(names.groups)
    builder = _Builder(text, dialect, names)
    if not scoped:
        builder.spec = dataclasses.replace(builder.spec, entity=None)
        entity = RULES[dialect].entity
        if entity and entity in builder.defs and names.entities:
            fitting = builder.literals(entity, list(names.entities))
            if fitting:
                builder.replacements[entity] = f"{entity}: {builder.terminal(entity, fitting)}"
                builder.stats[entity] = len(fitting)
    narrowed = builder.build()
    return narrowed, builder.stats, builder.missing


def narrowed_grammar(
    dialect: str,
    catalog: Catalog | None = None,
    *,
    scoped: bool = True,
    disk_cache: bool | None = None,
    ll_tokenizer=None,
    question: str | None = None,
) -> ConstraintGrammar:
    """The dialect's grammar narrowed to `catalog` (the plain grammar when None).

    With a `question`, label values it does not mention are withheld as well
    (`ground_names`); such a grammar is kept in memory only, a few hundred at most.
    Validated with llguidance when `ll_tokenizer` is given (else at first use by a
    backend); raises `GrammarError` when llguidance refuses the result.
    """
    fingerprint = catalog_fingerprint(catalog)  # once: a 10,000-metric catalog takes ~80 ms to hash
    if question and catalog is not None:
        grounded = _grounded_grammar(dialect, catalog, fingerprint, question, scoped)
        if grounded is not None:
            if ll_tokenizer is not None:
                grounded.validated_spec(ll_tokenizer)
            return grounded
    text = generation_source(dialect)
    if disk_cache is None:
        disk_cache = os.environ.get("NLQ_GRAMMAR_CACHE", "1") != "0"
    key = hashlib.sha256(
        f"{NARROW_VERSION}|{dialect}|{scoped}|{fingerprint}|".encode() + text.encode()
    ).hexdigest()[:20]
    with _LOCK:
        grammar = _MEMORY.get(key)
    if grammar is None:
        start = time.perf_counter()
        meta: dict = {"narrowed": {}, "missing": []}
        narrowed = None
        path = _disk_dir() / f"{dialect}-{key}.lark"
        if catalog is not None and disk_cache and path.is_file():
            try:
                meta = json.loads(path.with_suffix(".json").read_text())
                narrowed = path.read_text()
            except (OSError, ValueError):
                narrowed = None
        if narrowed is None:
            if catalog is None:
                narrowed = generation_text(text)
            else:
                narrowed, stats, missing = narrow_text(text, dialect, catalog, scoped)
                narrowed = generation_text(narrowed)
                meta = {"narrowed": stats, "missing": missing}
                if disk_cache:
                    _write_atomic(path, narrowed)
                    _write_atomic(path.with_suffix(".json"), json.dumps(meta))
        grammar = ConstraintGrammar(
            lark=narrowed,
            name=f"{dialect}" + (f"@{fingerprint}" if catalog is not None else ""),
            narrowed=meta["narrowed"],
            missing_rules=meta["missing"],
            catalog_fingerprint=fingerprint if catalog is not None else "",
        )
        grammar.build_s = time.perf_counter() - start
        with _LOCK:
            _MEMORY[key] = grammar
    if ll_tokenizer is not None:
        grammar.validated_spec(ll_tokenizer)
    return grammar


#: grammars grounded in a question kept in memory (a server sees many questions)
MAX_GROUNDED = 256
#: a grounded grammar is narrowed and compiled per question; past this many distinct label
#: values that costs more than the answer (benchmarks/grounding_cost.py --synthetic: 1,000
#: metrics, ~4,800 values, 0.2 s; 10,000 metrics, ~50,000 values, 2-3 s), so larger
#: catalogs are narrowed to the catalog only (translate() says so in its grammar record)
MAX_GROUNDED_VALUES = 5_000
_GROUNDED: OrderedDict[str, ConstraintGrammar] = OrderedDict()
#: catalogs whose name sets grounding keeps ready to copy (one per catalog in use)
MAX_NAME_SETS = 8
_NAMES: OrderedDict[tuple, tuple[str, int]] = OrderedDict()


def remember(cache: OrderedDict, key, value, limit: int) -> None:
    """Put `value` in the LRU `cache`, dropping the least recently used past `limit` (hold the cache's lock)."""
    cache[key] = value
    while len(cache) > limit:
        cache.popitem(last=False)


def _frozen_names(dialect: str, catalog: Catalog, fingerprint: str, scoped: bool) -> tuple[str, int]:
    """The catalog's name sets as JSON, and how many distinct label values they hold;
    computed once per catalog (grounding edits a fresh copy per question)."""
    key = (dialect, fingerprint, scoped)
    with _LOCK:
        frozen = _NAMES.get(key)
    if frozen is None:
        names = catalog_names(dialect, catalog, per_entity=scoped)
        count = sum(len(values or ()) for keys in names.pairs.values() for values in keys.values())
        frozen = (json.dumps([names.entities, names.pairs, names.names, names.subsets]), count)
        with _LOCK:
            remember(_NAMES, key, frozen, MAX_NAME_SETS)
    return frozen


def groundable(dialect: str, catalog: Catalog, scoped: bool = True, fingerprint: str = "") -> bool:
    """False when the catalog is too large to narrow again per question (`MAX_GROUNDED_VALUES`).
    `fingerprint`: the catalog's, when known (hashing a large catalog takes a while)."""
    fingerprint = fingerprint or catalog_fingerprint(catalog)
    return _frozen_names(dialect, catalog, fingerprint, scoped)[1] <= MAX_GROUNDED_VALUES


def _grounded_grammar(dialect: str, catalog: Catalog, fingerprint: str, question: str,
                      scoped: bool) -> ConstraintGrammar | None:
    """The narrowed grammar with the values `question` does not mention withheld; None when
    grounding withholds nothing, or the catalog is too large (the catalog's own cached
    grammar then serves)."""
    frozen, count = _frozen_names(dialect, catalog, fingerprint, scoped)
    if count > MAX_GROUNDED_VALUES:
        return None
    entities, pairs, plain, subsets = json.loads(frozen)
    names = CatalogNames(entities=entities, pairs=pairs, names=plain, subsets=subsets)
    taken = ground_names(names, question)
    if not taken:
        return None
    text = generation_source(dialect)
    key = hashlib.sha256(
        f"{NARROW_VERSION}|{dialect}|{scoped}|{fingerprint}|{sorted(taken)}|".encode() + text.encode()
    ).hexdigest()[:20]
    with _LOCK:
        grammar = _GROUNDED.get(key)
        if grammar is not None:
            _GROUNDED.move_to_end(key)
            return grammar
    start = time.perf_counter()
    narrowed, stats, missing = narrow_text(text, dialect, catalog, scoped, names=names)
    stats["withheld_values"] = len(taken)
    grammar = ConstraintGrammar(lark=generation_text(narrowed), name=f"{dialect}@{fingerprint}+grounded",
                                narrowed=stats, missing_rules=missing, catalog_fingerprint=fingerprint)
    grammar.build_s = time.perf_counter() - start
    with _LOCK:
        remember(_GROUNDED, key, grammar, MAX_GROUNDED)
    return grammar


#: compiled matchers kept (a 10,000-metric grammar's is a few MB): the grammars in use
MAX_COMPILED = 16
_COMPILED: OrderedDict[tuple[str, int], object] = OrderedDict()


def compiled_matcher(spec: str, ll_tokenizer):
    """A fresh `llguidance.LLMatcher` for `spec`, compiled once per (grammar, tokenizer).

    Creating a matcher compiles the grammar (about 0.2 s for a 10,000-metric
    catalog, once per sequence and request otherwise); a deep copy of a
    pristine compiled matcher costs about 0.1 ms.  Raises `GrammarError` when
    llguidance refuses the grammar (compiling is validating).
    """
    import llguidance

    key = (hashlib.sha256(spec.encode()).hexdigest(), id(ll_tokenizer))
    with _LOCK:
        pristine = _COMPILED.get(key)
        if pristine is not None:
            _COMPILED.move_to_end(key)
            return pristine.deep_copy()
    pristine = llguidance.LLMatcher(ll_tokenizer, spec)  # outside the lock: compiling takes a while
    if pristine.is_error():
        raise GrammarError(f"llguidance refused the grammar: {pristine.get_error()}")
    with _LOCK:
        remember(_COMPILED, key, pristine, MAX_COMPILED)
        return pristine.deep_copy()


def grammar_file(dialect: str) -> str:
    """The dialect's grammar file name (also while its parser package is still missing)."""
    if dialect not in RULES:
        dialects.get(dialect)  # raises the UsageError naming the dialects
    try:
        return dialects.get(dialect).grammar_file
    except (ImportError, AttributeError):
        return dialect.replace("-", "_") + ".lark"


def _write_atomic(path: Path, text: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache only costs speed


def describe_sets(names: CatalogNames) -> dict:
    """Counts for reports: how many names and values a catalog contributes."""
    counts: dict[str, int] = defaultdict(int)
    counts["entities"] = len(names.entities)
    for rule, keys in names.pairs.items():
        counts[rule] = len(keys)
        counts[f"{rule}_values"] = sum(len(v or []) for v in keys.values())
    for rule, items in names.names.items():
        counts[rule] = len(items)
    return dict(counts)


__all__ = [
    "GrammarError", "RULES", "catalog_fingerprint", "catalog_names", "compiled_matcher", "generation_source",
    "ground_names", "groundable", "narrow_text", "remember",
    "narrowed_grammar", "trie_regex",
]

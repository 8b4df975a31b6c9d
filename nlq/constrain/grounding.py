"""Values the question names: a narrowed grammar may only pick a label value the user asked about.

Narrowing to the catalog stops the model inventing names that do not exist; it
does not stop it choosing one the user never mentioned.  A small model that has
seen `{service="checkout"}` in its examples adds it to "instances holding over
200 file descriptors", and the query is valid, plausible and wrong.  Grounding
narrows once more per question: where a label has several values in the
catalog, the grammar keeps only those the question mentions.

What stays whatever the question says:

* labels with a single value (`namespace="shop"`, `env:prod`): a constant of the
  catalog, not a choice; LogQL needs one of them when no service is named;
* quantities (`500`, `0.5`, `+Inf`, `1.15.0`): status codes, buckets, quantiles
  and versions come from phrases ("5xx", "p99", "under 500ms"), not from names;
* the common vocabulary of exporters and conventions (`GENERIC_VALUES`: CPU modes,
  connection states, log levels, HTTP methods, gRPC codes, languages): "cpu
  utilisation" means `mode="idle"` on any Linux host, where a team's own names
  (services, hosts, queues, pods) can only come from the question;
* labels with free-form values (the catalog keeps no list): nothing to choose from.

A value counts as mentioned (`Mentions.names`) when the question contains it, or
one of its parts of four letters or more, at the start of a word ("warn" in
"warnings", "timeout" of `GatewayTimeout` in "timeouts"); when a question word of
four letters or more starts the value or one of its parts ("rabbit" for
`rabbitmq`, "email" for `email-notifications`, "ip-10-0-2-8" for
`ip-10-0-2-8:9100`), or, with five or more, is one typo away from it
("paymnets", "fronted"); when the two are equal without punctuation ("node.js",
`nodejs`); when a question word equals a short part of it, two or three
letters ("eu" of `eu-west-1`, "db" of `checkout-db`), unless that word is a
function word ("in", "on", "by", ...) or a part most values of the label share
("api" of `/api/cart` among routes that nearly all start /api: it names none
of them); or when a question word is the initials of its parts ("ksm" for
`kube-state-metrics`).  A withheld key keeps its name, so `sum by (service)` is
still possible, and Datadog's wildcards (`host:*`): only a chosen value
(`service="..."`) is not.  Where no label of a metric is left, PromQL writes the
metric bare (nlq.constrain.narrow).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Set

#: values every Prometheus, OpenTelemetry or Datadog setup shares, which a question implies
#: without naming them ("cpu utilisation" -> mode="idle"): not a team's own names
GENERIC_VALUES = frozenset("""
    idle user system iowait irq softirq steal nice guest guest_nice
    used free active waiting pending running succeeded failed unknown
    error err warn warning info debug trace fatal critical notice emerg alert
    get post put delete patch head options connect
    ok cancelled canceled invalidargument deadlineexceeded notfound alreadyexists permissiondenied
    resourceexhausted failedprecondition aborted outofrange unimplemented internal unavailable
    dataloss unauthenticated
    true false yes no
    java python go golang nodejs node ruby dotnet php rust
""".split())
#: quantities, not names: status codes, bucket bounds, quantiles, partitions, versions
_QUANTITY = re.compile(r"[-+]?(\d[\d.]*|inf|nan)", re.IGNORECASE)
#: a question splits into words at spaces and punctuation that is never inside a name
_QUESTION_WORD = re.compile(r"[^\s,;!?()\[\]{}'\"`<>=]+")
#: a value splits into parts at the separators names use, and between camelCase words
_VALUE_PART = re.compile(r"[-_./:@\s]+|(?<=[a-z0-9])(?=[A-Z])")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
#: shortest word or part that may match by its start or with a typo ("node" for node-exporter)
MIN_PREFIX = 4
#: shortest word read as a typo of a value ("card" is not "cart"; "paymnets" is "payments")
MIN_TYPO = 5
#: values shorter than this must match a whole question word ("ok", not the "ok" in "broker")
MIN_INNER = 3
#: short words that say how, not what: never read as a value's part ("in" of `in-memory`)
FUNCTION_WORDS = frozenset("""
    a an as at be by do for from go if in is it its me my no not of off on or our per
    so the to up via was we who why all and any are but can did get has how let new now
    out own set she than that this too use was way yes you
""".split())


class Mentions:
    """What one question mentions, prepared once and asked about many values."""

    def __init__(self, question: str):
        self.text = question.lower()
        self.words = [w.strip(".:-/") for w in _QUESTION_WORD.findall(self.text)]
        self.words = [w for w in self.words if w]
        self._long = [w for w in self.words if len(w) >= MIN_PREFIX]
        self._short = {w for w in self.words if 2 <= len(w) < MIN_PREFIX and w.isalpha()} - FUNCTION_WORDS
        self._squashed = {_NOT_ALNUM.sub("", w) for w in self.words}
        self._initials = {w for w in self.words if 2 <= len(w) <= 5 and w.isalpha()}
        self._verdicts: dict[str, bool] = {}  # a value recurs in many metrics' labels

    def names(self, value: str, shared_parts: Set[str] = frozenset()) -> bool:
        """True when the question mentions `value` (see the module docstring for how);
        `shared_parts`: parts most values of its label share, which name none of them."""
        verdict = self._verdicts.get(value)
        if verdict is None:
            verdict = self._verdicts[value] = self._names(value)
        return verdict or self._names_a_short_part(value, shared_parts)

    def _names_a_short_part(self, value: str, shared_parts: Set[str]) -> bool:
        parts = value_parts(value)
        return len(parts) >= 2 and any(p in self._short and p not in shared_parts for p in parts)

    def _names(self, value: str) -> bool:
        v = value.lower()
        if not v:
            return False
        if len(v) < MIN_INNER:
            return v in self.words
        parts = value_parts(value)
        if self._at_word_start(v) or any(len(p) >= MIN_PREFIX and self._at_word_start(p) for p in parts):
            return True
        if _NOT_ALNUM.sub("", v) in self._squashed:
            return True
        for w in self._long:
            if v.startswith(w) or any(p.startswith(w) or len(w) >= MIN_TYPO and _one_typo(w, p)
                                      for p in parts if len(p) >= MIN_PREFIX):
                return True
        return len(parts) >= 2 and "".join(p[0] for p in parts) in self._initials

    def _at_word_start(self, text: str) -> bool:
        at = self.text.find(text)
        while at >= 0:
            if at == 0 or not self.text[at - 1].isalnum():
                return True
            at = self.text.find(text, at + 1)
        return False


def value_parts(value: str) -> list[str]:
    """A value's parts, lower-cased: `eu-west-1` -> eu, west, 1; `GatewayTimeout` -> gateway, timeout."""
    return [p.lower() for p in _VALUE_PART.split(value) if p]


def shared_by_most(part_sets: Iterable[Set[str]]) -> set[str]:
    """The parts more than half of `part_sets` hold: what a label's values have in common
    ("api" of /api/cart, /api/login, ...) and so what names none of them in particular."""
    sets = list(part_sets)
    counts = Counter(part for parts in sets for part in set(parts))
    return {part for part, count in counts.items() if 2 * count > len(sets)}


def _one_typo(a: str, b: str) -> bool:
    """True when `a` and `b` differ by one insertion, deletion, substitution or swap of neighbours."""
    if a == b or abs(len(a) - len(b)) > 1:
        return a == b
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i in range(len(short)) if short[i] != long_[i]), len(short))
    return short[i:] == long_[i + 1:]


def is_generic(value: str) -> bool:
    """True for the common vocabulary of exporters (`GENERIC_VALUES`), in any case or spelling."""
    return _NOT_ALNUM.sub("", value.lower()) in GENERIC_VALUES


def is_quantity(value: str) -> bool:
    return _QUANTITY.fullmatch(value) is not None


def grounded_values(keys: Mapping[str, list[str] | None], mentions: Mentions) -> dict[str, list[str] | None]:
    """`keys` (key -> its values, None for free-form) with the unmentioned values of every
    multi-valued key withheld.  A key left with no value maps to [] (it may still be
    grouped by, not matched)."""
    out: dict[str, list[str] | None] = {}
    for key, values in keys.items():
        if values is None or len(values) < 2:
            out[key] = values
        else:
            shared = shared_by_most(value_parts(v) for v in values)
            out[key] = [v for v in values if is_quantity(v) or is_generic(v) or mentions.names(v, shared)]
    return out


def withheld(before: Mapping[str, list[str] | None], after: Mapping[str, list[str] | None]) -> set[tuple[str, str]]:
    """The (key, value) pairs grounding took away."""
    return {(k, v) for k, values in before.items() if values for v in values if v not in (after.get(k) or ())}


__all__ = ["GENERIC_VALUES", "Mentions", "grounded_values", "is_generic", "is_quantity", "shared_by_most",
           "value_parts", "withheld"]

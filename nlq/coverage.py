"""Values the question names that a query leaves out: a reason to try once more.

A small model's commonest wrong answer is a valid, plausible query that drops
a filter the user asked for: "login requests of the inventory service" answered
with `sum(rate(http_requests_total{service="inventory"}[5m]))`, no route.
Grounding (nlq.constrain.grounding) lets the grammar name only values the
question mentions; it cannot make the model name them.  So after a valid first
answer, translate() asks `left_out`: which values the question names are
absent from the query?  Where some are, it samples one more batch with that
pointed out and keeps a candidate that leaves out fewer; where none does, the
first answer stands (it is valid; leaving a value out is not an error).

A value counts as *named* here on a narrower reading than grounding's, because
this one asks for something rather than allowing it: every word of the value is
a word of the question (`checkout` in "p99 of checkout", `label-printing` in
"label printing queue depth"), the reading the prompt's catalog slice uses to
list a value first (nlq.prompting.catalog_slice), less the words most values
of its key share: `/api/login` is named by "login" where most routes start
with /api, `eu-west-1` by "eu" among `us-east-1` and `us-west-2`, but
`ip-10-0-1-17` only by all of its words, never by "17" alone.  Grounding's prefixes, typos
and initials may let "node" allow `node-exporter`; they do not demand it.

Not asked for: values of a key with a single value (`namespace="shop"`, a
constant of the catalog), the common vocabulary (`GENERIC_VALUES`: "errors" may
mean a level, a status or a metric), quantities (status codes and quantiles are
phrases, "5xx", "p99", not names), and a value whose words all lie inside a
longer named value (`checkout` when the question names `checkout-db`).

A value is *present* when its text appears anywhere in the query, in any case:
a matcher, a regex alternative, a negation (`service!="checkout"` answers
"except checkout"), a line filter, a Datadog tag.  That reading is lenient on
purpose: a value hidden inside a metric name (`memory`) counts as present, so
the check never asks for a filter the query may already express.

    >>> left_out('sum(rate(http_requests_total{service="inventory"}[5m]))', [("inventory",), ("/api/login",)])
    ['/api/login']
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from nlq.catalog import Catalog
from nlq.constrain.grounding import is_generic, is_quantity, shared_by_most
from nlq.constrain.narrow import catalog_fingerprint, catalog_names, remember
from nlq.prompting.retrieval import words

#: catalogs whose askable values are remembered (a server sees one or two)
_MAX_CATALOGS = 8
_askable: OrderedDict[tuple[str, str], tuple[tuple[str, frozenset[str]], ...]] = OrderedDict()
_askable_lock = threading.Lock()  # translate() runs on the server's worker threads


def askable_values(dialect: str, catalog: Catalog, fingerprint: str = "") -> tuple[tuple[str, frozenset[str]], ...]:
    """(value, the words that name it) for every value a question may ask for by name: the
    values of the catalog's keys with several, less generic ones and quantities.  A word
    most values of the key share ("api" of `/api/login`, `/api/orders`) is not needed.
    Remembered per catalog."""
    key = (dialect, fingerprint or catalog_fingerprint(catalog))
    with _askable_lock:
        cached = _askable.get(key)
        if cached is not None:
            _askable.move_to_end(key)
            return cached
    found: set[tuple[str, frozenset[str]]] = set()
    for keys in catalog_names(dialect, catalog, per_entity=False).pairs.values():
        for values in keys.values():
            if values is None or len(values) < 2:
                continue
            value_words = {value: frozenset(words(value)) for value in values}
            shared = shared_by_most(value_words.values())  # "api" of /api/login names no route
            for value, own in value_words.items():
                naming = own - shared
                if not any(word.isalpha() for word in naming):
                    naming = own  # "17" alone must not name ip-10-0-1-17: a number is rarely a name
                if naming and not is_generic(value) and not is_quantity(value):
                    found.add((value, naming))
    askable = tuple(sorted(found, key=lambda item: (item[0], sorted(item[1]))))
    with _askable_lock:
        remember(_askable, key, askable, _MAX_CATALOGS)
    return askable


def named_values(question: str, dialect: str, catalog: Catalog | None,
                 fingerprint: str = "") -> list[tuple[str, ...]]:
    """The catalog values `question` names outright (every word of the value is one of its
    words), the longest reading only (`checkout-db`, not also `checkout`).  Values that read
    the same (`checkout`, `/api/checkout`) come as one tuple, shortest first: naming one
    answers all."""
    if catalog is None:
        return []
    question_words = set(words(question))
    named: dict[frozenset[str], list[str]] = {}
    for value, value_words in askable_values(dialect, catalog, fingerprint):
        if value_words <= question_words and value not in named.get(value_words, ()):
            named.setdefault(value_words, []).append(value)
    return [tuple(sorted(values, key=lambda v: (len(v), v))) for value_words, values in named.items()
            if not any(value_words < other for other in named)]


def left_out(query: str, named: list[tuple[str, ...]]) -> list[str]:
    """The first (shortest) of each group in `named` none of whose values the query's text
    contains, in any case."""
    text = query.lower()
    return [group[0] for group in named if not any(value.lower() in text for value in group)]


__all__ = ["askable_values", "left_out", "named_values"]

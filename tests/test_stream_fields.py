"""The fields each log stream carries: recorded in the catalog, shown in the prompt, checked.

`Catalog.log_fields` is the union over every stream, so a query may name a real
field on a stream that never logs it (`| logfmt | unwrap bytes` where that
service logs `size`): valid LogQL that finds nothing.  These tests check each
link: the snapshot catalog, the round trip, the check that warns (and so makes
translate() retry), the prompt, the pair generator, and the data itself.
"""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.catalog_tools import merge_catalogs
from nlq.doubts import doubts
from nlq.errors import UsageError
from nlq.log_formats import fields_by_stream, kind_label, missing_field
from nlq.prompting.catalog_slice import catalog_slice, compact_catalog_slice
from nlq.snapshot.world import SNAPSHOTS_DIR
from nlq.training.pairs import generate_pairs
from nlq.validation import validate

LOGQL = dialects.get("logql")
#: a catalog unlike the snapshot's: `app` names the program, two formats, one text stream
CATALOG = Catalog.from_dict({
    "dialect": "logql",
    "log_labels": {"app": ["billing", "gateway", "ledger"], "severity": ["error", "info"]},
    "log_fields": {"amount_cents": {"kind": "number", "values": []}, "took": {"kind": "duration", "values": []},
                   "route": {"kind": "string", "values": ["/pay", "/refund"]},
                   "upstream": {"kind": "string", "values": ["bank", "ledger"]},
                   "resp_size": {"kind": "bytes", "values": []}},
    "log_formats": {"app": {"billing": "json", "gateway": "logfmt", "ledger": "text"}},
    "stream_fields": {"app": {"billing": ["amount_cents", "route", "took"],
                              "gateway": ["resp_size", "route", "took", "upstream"], "ledger": []}},
}, dialect="logql")


def _doubt(query: str, catalog: Catalog = CATALOG):
    return missing_field(LOGQL.validate(query, catalog), catalog)


def test_fields_are_recorded_per_program_by_the_label_that_names_it():
    streams = [({"app": "a", "pod": "a-1"}, {"x"}), ({"app": "a", "pod": "a-2"}, {"y"}), ({"app": "b"}, set())]
    assert kind_label([labels for labels, _ in streams]) == "app"
    assert fields_by_stream(streams, "app") == {"app": {"a": ["x", "y"], "b": []}}
    assert fields_by_stream(streams, None) == {}
    assert fields_by_stream([({"app": "a"}, {"x"})], "app") == {}  # one program: nothing per stream


def test_the_snapshot_catalogs_know_which_service_logs_which_field():
    for folder in (SNAPSHOTS_DIR / "catalog", SNAPSHOTS_DIR / "renamed" / "catalog"):
        catalog = load_catalog(folder / "logql.json", "logql")
        by_service = catalog.stream_fields["service"]
        assert set(by_service) == set(catalog.log_labels["service"])
        assert {name for names in by_service.values() for name in names} == set(catalog.log_fields)
        formats = catalog.log_formats["service"]
        assert all(by_service[s] == [] for s, fmt in formats.items() if fmt == "text")  # no key, no field
    shop = load_catalog(SNAPSHOTS_DIR / "catalog" / "logql.json", "logql").stream_fields["service"]
    assert "size" in shop["cart"] and "bytes" not in shop["cart"] and "bytes" in shop["checkout"]


def test_stream_fields_survive_a_round_trip_and_a_merge_and_a_bad_shape_is_a_clear_error(tmp_path):
    path = tmp_path / "logs.json"
    CATALOG.save(path)
    assert load_catalog(path).stream_fields == CATALOG.stream_fields
    other = Catalog("logql", stream_fields={"app": {"gateway": ["retries"], "queue": ["depth"]}})
    merged = merge_catalogs(CATALOG, other).stream_fields["app"]
    assert merged["gateway"] == ["resp_size", "retries", "route", "took", "upstream"] and merged["queue"] == ["depth"]
    assert merge_catalogs(CATALOG, other).log_formats == CATALOG.log_formats
    with pytest.raises(UsageError, match="stream_fields maps a stream label"):
        Catalog.from_dict({"dialect": "logql", "log_labels": {}, "stream_fields": {"app": ["billing"]}})


@pytest.mark.parametrize(("query", "field"), [
    ('{app="billing"} | json | upstream="bank"', "upstream"),
    ('avg_over_time({app="billing"} | json | unwrap bytes(resp_size) | __error__="" [5m])', "resp_size"),
    ('{app="gateway"} | logfmt | route="/pay" and amount_cents > 100', "amount_cents"),
    ('{app="gateway"} | logfmt | amount_cents > 100 or took > 1s', None),  # the other side keeps lines
    ('{app="gateway"} | logfmt | amount_cents != 3', "amount_cents"),  # a number filter on nothing
    ('{app="gateway"} | logfmt | upstream!="bank"', None),
    ('{app="billing"} | json | upstream=""', None),  # a missing field reads as "": keeps every line
    ('{app="billing"} | json | severity="error"', None),  # a stream label, not a parsed field
    ('{app="billing"} | regexp "up=(?P<upstream>\\\\w+)" | upstream="bank"', None),  # made by the stage
    ('{severity="error"} | json | upstream="bank"', None),  # no program named: no claim
    ('{app="billing"} | json | route="/pay"', None),
])
def test_a_field_the_stream_never_carries_is_found_where_it_makes_the_query_find_nothing(query, field):
    finding = _doubt(query)
    assert (finding and re.search(r"field `(\w+)`", finding.message).group(1)) == (field or None)
    if finding:
        start, end = finding.span
        assert field in query[start:end]


def test_validate_warns_and_the_translator_treats_it_as_a_doubt_to_retry():
    query = '{app="billing"} | json | upstream="bank"'
    result = validate(query, "logql", CATALOG)
    assert result.valid
    assert result.warnings == ["no line of app billing carries a field `upstream`, so the filter keeps no line; "
                               "its fields: amount_cents, route, took"]
    assert [code for code, _ in doubts(LOGQL.parse(query), query, CATALOG)] == ["field"]
    from nlq.translate import DOUBTFUL

    assert "field" in DOUBTFUL


def test_the_prompt_shows_only_the_fields_of_the_streams_the_question_names():
    assert "resp_size" in compact_catalog_slice(CATALOG, "response size on gateway").text
    assert "resp_size" not in compact_catalog_slice(CATALOG, "response size on billing").text
    assert "fields:" not in compact_catalog_slice(CATALOG, "ledger lines").text  # plain text: none to parse
    assert "Parsed fields" not in catalog_slice(CATALOG, "ledger lines").text
    assert "resp_size" in compact_catalog_slice(CATALOG, "response size").text  # no stream named: all


def test_generated_queries_only_name_fields_their_stream_carries():
    queries = [p.query for p in generate_pairs(CATALOG, n=200, seed=0)]
    assert len([q for q in queries if "| json" in q or "| logfmt" in q]) > 20
    assert [q for q in queries if missing_field(LOGQL.parse(q), CATALOG)] == []
    assert any("unwrap bytes(resp_size)" in q and 'app="gateway"' in q for q in queries)


def test_every_generated_logql_query_on_the_snapshot_catalog_is_free_of_doubts():
    catalog = load_catalog(SNAPSHOTS_DIR / "catalog" / "logql.json", "logql")
    pairs = [p for p in generate_pairs(catalog, n=300, seed=1) if p.dialect == "logql"]
    assert len(pairs) > 200
    doubted = [(p.query, [f.message for _, f in doubts(LOGQL.parse(p.query), p.query, catalog)]) for p in pairs]
    assert [d for d in doubted if d[1]] == []


def test_on_the_data_a_filter_on_a_field_the_service_lacks_finds_nothing_and_the_check_says_so():
    """The reason for the check, on the snapshot: cart logs `size`, not `bytes`."""
    from nlq.engine import run_query
    from nlq.results import TimeRange
    from nlq.snapshot import open_snapshot

    catalog = load_catalog(SNAPSHOTS_DIR / "catalog" / "logql.json", "logql")
    con = open_snapshot("shop-a")
    end = int(con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()[0])
    at = TimeRange.instant(end)
    count = 'sum(count_over_time({service="cart"} | logfmt | FIELD > 1B [6h]))'
    right, wrong = (count.replace("FIELD", name) for name in ("size", "bytes"))
    assert run_query("logql", right, con, at).series and not run_query("logql", wrong, con, at).series
    assert _doubt(wrong, catalog) and not _doubt(right, catalog)


def test_each_side_of_a_binary_expression_is_judged_on_its_own():
    query = ('sum(count_over_time({app="billing"} | regexp "u=(?P<upstream>\\\\w+)" | upstream="bank" [5m])) / '
             'sum(count_over_time({app="gateway"} | logfmt | amount_cents > 1 [5m]))')
    finding = _doubt(query)
    assert finding and "`amount_cents`" in finding.message and "app gateway" in finding.message


def test_a_world_synthesized_from_a_catalog_writes_each_stream_with_its_own_fields():
    from nlq.log_formats import line_fields
    from nlq.snapshot.synth import SynthSpec, loki_rows

    streams, lines = loki_rows(CATALOG, SynthSpec.default(hours=1), seed=1)
    seen: dict[str, set[str]] = {}
    for sid, _, line in lines:
        fields: dict[str, set[str]] = defaultdict(set)
        line_fields(line, fields)
        seen.setdefault(streams[sid]["app"], set()).update(fields)
    assert seen["gateway"] - {"level", "msg"} == {"resp_size", "route", "took", "upstream"}
    assert seen["billing"] - {"level", "msg"} == {"amount_cents", "route", "took"}
    assert seen["ledger"] == set()  # plain text: no field a parser would find

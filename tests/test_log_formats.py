"""Stream line formats: read off the lines, kept in the catalog, used to pick the parser.

The snapshot's streams mix JSON, logfmt and plain text, as real fleets do; a
query that parses a stream with the wrong parser is valid LogQL and finds
nothing.  These tests check each link: detection, the catalog, the prompt,
the checks that warn (and so make translate() retry), and the pair generator.
"""

from __future__ import annotations

import json

import pytest

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.errors import UsageError
from nlq.log_formats import detect_format, parser_mismatch, stream_formats
from nlq.prompting.catalog_slice import catalog_slice, compact_catalog_slice
from nlq.snapshot.loggen import LogEvent, render_loki_line
from nlq.snapshot.world import SNAPSHOTS_DIR
from nlq.training.pairs import generate_pairs
from nlq.validation import validate

LOGQL = dialects.get("logql")
CATALOG = Catalog("logql", log_labels={"app": ["billing", "gateway", "ledger"], "severity": ["error", "info"]},
                  log_fields={}, log_formats={"app": {"billing": "json", "gateway": "logfmt", "ledger": "text"}})


@pytest.mark.parametrize("log_format", ["json", "logfmt", "text"])
def test_each_format_the_snapshot_writes_is_detected_as_itself(log_format):
    event = LogEvent(ts_ns=1_700_000_000_000_000_000, service="cart", pod="cart-1", host="h", version="1",
                     level="error", msg="request failed",
                     fields={"method": "GET", "path": "/cart", "status": 500, "duration": "12ms", "bytes": 512,
                             "trace_id": "abc"})
    assert detect_format(render_loki_line(event, log_format)) == log_format


def test_a_line_of_prose_with_one_equals_sign_is_text_not_logfmt():
    assert detect_format("user logged in after retry=3 attempts") == "text"
    assert detect_format('{"not": "closed"') == "text"


def test_formats_are_recorded_per_program_and_a_program_that_mixes_them_gets_none():
    streams = [({"service": "a", "pod": "a-1", "level": "info"}, "json"),
               ({"service": "a", "pod": "a-2", "level": "error"}, "json"),
               ({"service": "b", "pod": "b-1", "level": "info"}, "logfmt"),
               ({"service": "c", "pod": "c-1", "level": "info"}, "json"),
               ({"service": "c", "pod": "c-1", "level": "info"}, "text")]
    assert stream_formats(streams, "service") == {"service": {"a": "json", "b": "logfmt"}}
    assert stream_formats(streams, None) == {}
    assert stream_formats([({"service": "a"}, "json"), ({"service": "b"}, "json"), ({"service": "b"}, "text")],
                          "service") == {}  # one program known tells nothing per stream


def test_the_snapshot_catalog_records_the_format_each_service_was_written_in():
    import yaml

    world = yaml.safe_load((SNAPSHOTS_DIR / "world.yaml").read_text())
    written = {name: spec["log_format"] for name, spec in world["services"].items()}
    catalog = load_catalog(SNAPSHOTS_DIR / "catalog" / "logql.json", "logql")
    assert catalog.log_formats == {"service": written}


def test_formats_survive_a_round_trip_and_a_bad_one_is_a_clear_error(tmp_path):
    path = tmp_path / "logs.json"
    CATALOG.save(path)
    assert load_catalog(path, "logql").log_formats == CATALOG.log_formats
    data = {**CATALOG.to_dict(), "log_formats": {"app": {"billing": "xml"}}}
    with pytest.raises(UsageError, match="'xml' is not one of json, logfmt, text"):
        Catalog.from_dict(data, source="logs.json")
    assert "log_formats" not in Catalog("promql").to_dict()  # catalogs without them keep their old form


@pytest.mark.parametrize(("query", "found"), [
    ('{app="gateway"} | json | method="GET"', "app gateway writes logfmt lines: `| json` extracts nothing from "
                                                 "them; use `| logfmt`"),
    ('sum(rate({app="billing"} | logfmt [5m]))', "app billing writes json lines"),
    ('{app="ledger"} | logfmt', "app ledger writes plain-text lines"),
    ('{app="gateway"} | logfmt | method="GET"', None),
    ('{app=~"billing|gateway"} | json', None),  # a mix: the catalog cannot say
    ('{severity="error"} | json', None),
    ('{app="ledger"} |= "timeout"', None),
])
def test_a_parser_that_contradicts_the_streams_format_is_found(query, found):
    finding = parser_mismatch(LOGQL.parse(query), CATALOG)
    if found is None:
        assert finding is None
    else:
        assert finding is not None and finding.message.startswith(found)
        assert query[slice(*finding.span)].strip() in ("| json", "| logfmt", "json", "logfmt")


def test_validate_warns_about_the_wrong_parser_but_calls_the_query_valid():
    result = validate('{app="gateway"} | json', "logql", CATALOG)
    assert result.valid and result.warnings == [
        "app gateway writes logfmt lines: `| json` extracts nothing from them; use `| logfmt`"]
    assert validate('{app="gateway"} | json', "logql").warnings == []  # no catalog, no knowledge


def test_the_prompt_names_the_format_of_the_streams_the_question_names():
    assert compact_catalog_slice(CATALOG, "GET requests on gateway").text.splitlines()[-1] == \
        "format: app=gateway:logfmt"
    assert "Line formats: app=ledger:text" in catalog_slice(CATALOG, "ledger errors").text
    assert "format" not in compact_catalog_slice(CATALOG, "error logs everywhere").text


def test_generated_queries_parse_each_stream_with_its_own_parser_and_never_parse_text():
    catalog = Catalog.from_dict({**CATALOG.to_dict(), "log_fields": {
        "status": {"kind": "number", "values": ["200", "503"]}, "took": {"kind": "duration", "values": []},
        "method": {"kind": "string", "values": ["GET", "POST"]}}}, dialect="logql")
    queries = {p.query for p in generate_pairs(catalog, n=150, seed=0)}
    parsed = {q for q in queries if "| json" in q or "| logfmt" in q}
    assert any('app="gateway"} | logfmt' in q for q in parsed)
    assert any('app="billing"} | json' in q for q in parsed)
    assert not [q for q in parsed if parser_mismatch(LOGQL.parse(q), catalog) or 'app="ledger"}' in q]
    assert any("status = 503" in q for q in queries)  # a named code, not only >= 500


def test_the_snapshot_and_renamed_catalogs_flag_none_of_the_curated_pairs():
    for dialect_dir in (SNAPSHOTS_DIR / "catalog", SNAPSHOTS_DIR / "renamed" / "catalog"):
        catalog = load_catalog(dialect_dir / "logql.json", "logql")
        assert catalog.log_formats
    catalog = load_catalog(SNAPSHOTS_DIR / "catalog" / "logql.json", "logql")
    fewshot = SNAPSHOTS_DIR.parent / "fewshot" / "logql.jsonl"
    queries = [json.loads(line)["query"] for line in fewshot.read_text().splitlines() if line.strip()]
    assert len(queries) > 100
    assert [q for q in queries if parser_mismatch(LOGQL.parse(q), catalog)] == []


def test_a_world_synthesized_from_a_catalog_writes_each_stream_in_its_recorded_format(tmp_path):
    from nlq.engine import run_query
    from nlq.results import TimeRange
    from nlq.snapshot.synth import SynthSpec, loki_rows, open_synth, synth_world

    catalog = Catalog.from_dict({**CATALOG.to_dict(), "log_fields": {
        "method": {"kind": "string", "values": ["GET", "POST"]}}}, dialect="logql")
    streams, lines = loki_rows(catalog, SynthSpec.default(hours=1), seed=1)
    seen = {(streams[sid]["app"], detect_format(line)) for sid, _, line in lines}
    assert seen == {("billing", "json"), ("gateway", "logfmt"), ("ledger", "text")}

    paths = synth_world([catalog], tmp_path, variants=1, spec=SynthSpec.default(hours=1))
    con = open_synth(paths[0])
    end = int(con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()[0])
    at = TimeRange.instant(end)
    count = 'sum(count_over_time({app="gateway"} | PARSER | method="GET" [1h]))'
    right = run_query("logql", count.replace("PARSER", "logfmt"), con, at)
    wrong = run_query("logql", count.replace("PARSER", "json"), con, at)
    assert right.series and right.series[0].samples[0][1] > 0 and not wrong.series

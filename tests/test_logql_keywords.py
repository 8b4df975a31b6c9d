"""Parser keywords glued to a name are one identifier, as Loki's lexer reads them."""

from __future__ import annotations

import pytest

from nlq import dialects
from nlq.dialects.logql import ast

LOGQL = dialects.get("logql")


def last_stage(query: str):
    node = LOGQL.parse(query)
    return node.stages[-1]


def test_json_glued_to_a_label_name_is_a_label_filter():
    stage = last_stage('{app="a"} | json_path="x"')
    assert isinstance(stage, ast.LabelFilterStage)
    assert stage.filter == ast.StringFilter("json_path", "=", "x")


def test_logfmt_glued_to_a_label_name_is_a_label_filter():
    stage = last_stage('{app="a"} | logfmt_level="error"')
    assert stage == ast.LabelFilterStage(ast.StringFilter("logfmt_level", "=", "error"))


def test_json_then_a_spaced_extraction_stays_a_parser():
    stage = last_stage('{app="a"} | json _path="x"')
    assert isinstance(stage, ast.JsonParser)
    assert stage.extractions == (ast.Extraction("_path", "x"),)


@pytest.mark.parametrize(
    "query",
    ['{app="a"} | json_path="x"', '{app="a"} | json_a="x", b="y"', 'rate({app=""} |= ip("10.0.0.1") | json_path="" [1m])'],
)
def test_glued_forms_round_trip(query):
    node = LOGQL.parse(query)
    assert LOGQL.parse(LOGQL.format(node)) == node


@pytest.mark.parametrize("keyword, stage", [("unpack", ast.UnpackParser()), ("json", ast.JsonParser()),
                                            ("decolorize", ast.Decolorize())])
def test_a_keyword_before_an_ip_line_filter_is_the_stage_then_the_filter(keyword, stage):
    """`| unpack != ip("...")` is the unpack parser and an ip() line filter, as in Loki, not a
    label filter on a label called unpack (found by the random round-trip test)."""
    node = LOGQL.parse(f'{{app="a"}} | {keyword} != ip("10.0.0.1")')
    assert node.stages == (stage, ast.LineFilter("!=", (ast.LineFilterValue("10.0.0.1", True),)))
    assert LOGQL.parse(LOGQL.format(node)) == node

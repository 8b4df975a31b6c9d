"""A correctly signed slash command end to end, with the real embedded model.

The command is acknowledged within Slack's 3 s even while the model is still
loading, the answer arrives at a real response_url receiver on 127.0.0.1 as
Block Kit, the Share button posts it in-channel, and the translation's span
reaches a real OTLP/HTTP receiver with the GenAI attributes.
"""

from __future__ import annotations

import json
import time
import urllib.parse

import pytest
from service_util import Receiver, Server, signed_headers, slash_body

from nlq.validation import validate

pytestmark = [pytest.mark.slow, pytest.mark.model]


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, receiver):
    s = Server({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "200",
                "NLQ_TRANSLATE_TIMEOUT_S": "400"}, tmp_path_factory.mktemp("slack-model"))
    yield s
    s.stop()


def test_signed_command_acked_fast_and_answered_at_response_url(server, receiver):
    body = slash_body("logql errors from payments with timeouts", receiver.url + "/hook")
    started = time.monotonic()
    ack = server.client.post("/slack/commands", content=body, headers=signed_headers(body))
    ack_s = time.monotonic() - started
    assert ack.status_code == 200
    assert ack_s < 3.0, f"ack took {ack_s:.2f} s"
    assert ack.json()["response_type"] == "ephemeral"
    assert "LogQL" in ack.json()["text"]

    _headers, raw = receiver.next("/hook", timeout=400)
    answer = json.loads(raw)
    assert answer["response_type"] == "ephemeral"
    section = answer["blocks"][0]["text"]["text"]
    assert section.startswith("```") and section.endswith("```")
    query = section.strip("`")
    assert validate(query, "logql").valid, query
    assert "payments" in query
    assert answer["blocks"][1]["type"] == "context"
    buttons = {b["action_id"]: b for b in answer["blocks"][2]["elements"]}
    assert "/explore?schemaVersion=1" in buttons["nlq_open_0"]["url"]
    assert server.metric("nlq_model_calls_total", endpoint="slack") == 1
    assert server.metric("nlq_tokens_total", direction="input") > 0
    assert server.client.get("/readyz").status_code == 200

    # Share in channel: Slack posts the button click to the interactivity URL.
    share = buttons["nlq_share"]
    payload = {"type": "block_actions", "user": {"id": "U123"}, "response_url": receiver.url + "/share",
               "actions": [{"action_id": "nlq_share", "value": share["value"]}]}
    click = urllib.parse.urlencode({"payload": json.dumps(payload)}).encode()
    assert server.client.post("/slack/actions", content=click, headers=signed_headers(click)).status_code == 200
    _headers, raw = receiver.next("/share", timeout=30)
    shared = json.loads(raw)
    assert shared["response_type"] == "in_channel"
    assert shared["blocks"][0]["text"]["text"].strip("`") == query


def test_translation_span_exported_with_genai_attributes(server, receiver):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    # FastAPI exports its own request spans too: read exports until the translation's span shows up.
    deadline = time.monotonic() + 30
    span = None
    while span is None:
        _headers, raw = receiver.next("/v1/traces", timeout=max(0.1, deadline - time.monotonic()))
        request = ExportTraceServiceRequest()
        request.ParseFromString(raw)
        spans = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
        span = next((s for s in spans if s.name.startswith("text_completion ")), None)
    attributes = {a.key: a.value for a in span.attributes}
    assert attributes["gen_ai.operation.name"].string_value == "text_completion"
    assert "SmolLM2" in attributes["gen_ai.request.model"].string_value
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    assert attributes["gen_ai.usage.output_tokens"].int_value > 0
    assert attributes["nlq.dialect"].string_value == "logql"
    # the question itself (which may hold personal data) is not a span attribute
    assert all("payments with timeouts" not in str(v) for v in attributes.values())

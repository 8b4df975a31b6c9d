"""The service's building blocks on their own: limits, redaction, configuration, Slack messages."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from nlq.errors import UsageError
from nlq.service.config import load_config
from nlq.service.limits import ModelQueue, QueueFull, QueueTimeout, RateLimiter
from nlq.service.redaction import redact
from nlq.service.slack import SlackRequestRefused, SlackVerifier, answer_message, split_dialect
from nlq.translate import Translation


def test_queue_refuses_when_full_and_frees_places_when_work_ends():
    async def scenario():
        queue = ModelQueue(size=2, timeout_s=5)
        release = threading.Event()
        first = asyncio.create_task(queue.run(lambda: release.wait(5) and "first"))
        second = asyncio.create_task(queue.run(lambda: "second"))
        await asyncio.sleep(0.05)
        assert queue.depth == 2
        with pytest.raises(QueueFull):
            await queue.run(lambda: "third")
        release.set()
        assert await first == "first" and await second == "second"
        assert queue.depth == 0
        assert await queue.run(lambda: "fourth") == "fourth"
        queue.shutdown()

    asyncio.run(scenario())


def test_queue_times_out_but_counts_the_work_until_it_ends():
    async def scenario():
        queue = ModelQueue(size=1, timeout_s=0.2)
        release = threading.Event()
        with pytest.raises(QueueTimeout):
            await queue.run(lambda: release.wait(5))
        assert queue.depth == 1  # still running on the worker
        with pytest.raises(QueueFull):
            await queue.run(lambda: None)
        release.set()
        for _ in range(50):
            if queue.depth == 0:
                break
            await asyncio.sleep(0.02)
        assert queue.depth == 0
        queue.shutdown()

    asyncio.run(scenario())


def test_rate_limiter_refills():
    now = [1000.0]
    limiter = RateLimiter(per_minute=2, clock=lambda: now[0])
    assert limiter.check("a") == 0 and limiter.check("a") == 0
    wait = limiter.check("a")
    assert 29 < wait <= 30
    assert limiter.check("b") == 0  # per client
    now[0] += 30
    assert limiter.check("a") == 0


@pytest.mark.parametrize("text,leaked", [
    ("errors for alice@example.com", "alice@example.com"),
    ("5xx from 192.168.10.24:8080", "192.168.10.24"),
    ("latency on 2001:db8::8a2e:370:7334", "2001:db8::8a2e:370:7334"),
    ("curl -H 'Authorization: Bearer abcdefghijklmnop'", "abcdefghijklmnop"),
    ("token xoxb-123456789012-abcdefABCDEF", "xoxb-123456789012"),
    ("api_key=sk_live_1234567890abcdef", "sk_live_1234567890abcdef"),
    ("why AKIAIOSFODNN7EXAMPLE fails", "AKIAIOSFODNN7EXAMPLE"),
    ("hash 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "9f86d081884c7d65"),
])
def test_redaction_removes(text, leaked):
    assert leaked not in redact(text)


def test_redaction_keeps_queries_and_questions_readable():
    for text in ('rate(http_requests_total{code=~"5.."}[5m]) by service',
                 "p99 latency of api::checkout at 12:30:00 over the last 1h"):
        assert redact(text) == text


def test_config_file_then_environment(tmp_path):
    path = tmp_path / "serve.toml"
    path.write_text('queue_size = 3\nrate_limit_per_minute = 10\n[catalogs]\nlogql = "x.json"\n')
    config = load_config(path, environ={"NLQ_QUEUE_SIZE": "5", "NLQ_SLACK_SIGNING_SECRET": "s"})
    assert config.queue_size == 5 and config.rate_limit_per_minute == 10
    assert config.catalogs == {"logql": "x.json"} and config.slack_signing_secret == "s"
    path.write_text("colour = 1\n")
    with pytest.raises(UsageError, match="unknown keys colour"):
        load_config(path, environ={})
    with pytest.raises(UsageError, match="queue_size"):
        load_config(None, environ={"NLQ_QUEUE_SIZE": "zero"})


def test_verifier_rejects_replay_and_stale_with_its_own_clock():
    import hashlib
    import hmac

    now = time.time()
    verifier = SlackVerifier("secret", clock=lambda: now)
    body = b"command=%2Fnlq&text=help"
    stamp = str(int(now))
    signature = "v0=" + hmac.new(b"secret", f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {"x-slack-request-timestamp": stamp, "x-slack-signature": signature}
    verifier.verify(body, headers)
    with pytest.raises(SlackRequestRefused, match="replay"):
        verifier.verify(body, headers)
    later = SlackVerifier("secret", clock=lambda: now + 301)
    with pytest.raises(SlackRequestRefused, match="5 minutes"):
        later.verify(body, headers)


def test_dialect_prefixes():
    assert split_dialect("logql errors from payments", "promql") == ("logql", "errors from payments")
    assert split_dialect("dd-logs: errors", "promql") == ("datadog-logs", "errors")
    assert split_dialect("error rate of checkout", "promql") == ("promql", "error rate of checkout")
    assert split_dialect("logql", "promql") == ("promql", "logql")  # a prefix alone is the question


def test_refusal_message_has_no_buttons():
    result = Translation(question="x", dialect="logql", status="refused", message="not about telemetry")
    message = answer_message(result)
    assert "not about telemetry" in message["text"]
    assert all(block["type"] != "actions" for block in message["blocks"])

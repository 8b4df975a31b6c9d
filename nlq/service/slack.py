"""Slack: request verification, the `/nlq` command's text, and Block Kit answers.

Verification (before anything else reads the body): both headers present, the
timestamp within 5 minutes of our clock, the `v0=` HMAC-SHA256 signature over
`v0:{timestamp}:{raw body}` compared in constant time (slack-sdk's
`SignatureVerifier`), and the signature not seen before (a replayed request,
even a correctly signed one, is refused; signatures are remembered for as long
as their timestamp is acceptable).

    /nlq help
    /nlq 5xx rate of checkout                       (default dialect)
    /nlq logql errors from payments with timeouts   (dialect prefix)
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier
from slack_sdk.webhook import WebhookClient

from nlq.dialects import DIALECT_NAMES

MAX_AGE_S = 60 * 5
SHARE_ACTION = "nlq_share"

#: what a user may type before the question to choose the dialect
DIALECT_PREFIXES = {
    "promql": "promql", "prometheus": "promql", "prom": "promql",
    "logql": "logql", "loki": "logql",
    "datadog-metrics": "datadog-metrics", "dd-metrics": "datadog-metrics", "ddm": "datadog-metrics",
    "datadog-logs": "datadog-logs", "dd-logs": "datadog-logs", "ddl": "datadog-logs",
}
TITLES = {"promql": "PromQL", "logql": "LogQL", "datadog-metrics": "Datadog metrics",
          "datadog-logs": "Datadog logs"}


class SlackRequestRefused(Exception):
    def __init__(self, status: int, reason: str, message: str):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message


class SlackVerifier:
    """Signature, freshness and replay checks for requests that claim to come from Slack."""

    def __init__(self, signing_secret: str, clock=time.time):
        self._verifier = SignatureVerifier(signing_secret)
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def verify(self, body: bytes, headers: Any) -> None:
        """Return quietly for a genuine, fresh, first-seen request; else raise `SlackRequestRefused`."""
        timestamp = headers.get("x-slack-request-timestamp")
        signature = headers.get("x-slack-signature")
        if not timestamp or not signature:
            raise SlackRequestRefused(401, "missing_header", "missing X-Slack-Request-Timestamp or "
                                                             "X-Slack-Signature header")
        try:
            sent = int(timestamp)
        except ValueError:
            raise SlackRequestRefused(401, "bad_timestamp",
                                      "X-Slack-Request-Timestamp is not a number") from None
        now = self._clock()
        if abs(now - sent) > MAX_AGE_S:
            raise SlackRequestRefused(401, "stale", "the request timestamp is more than 5 minutes "
                                                    "from the server's clock")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # Slack only sends UTF-8; slack-sdk's verifier would raise on anything else.
            raise SlackRequestRefused(400, "malformed", "the request body is not UTF-8") from None
        if not self._verifier.is_valid(body=text, timestamp=timestamp, signature=signature):
            raise SlackRequestRefused(401, "bad_signature", "the request signature does not match")
        with self._lock:
            self._seen = {s: t for s, t in self._seen.items() if t > now}
            if signature in self._seen:
                raise SlackRequestRefused(401, "replay", "this request was already received (replay)")
            self._seen[signature] = sent + MAX_AGE_S + 1


@dataclass
class SlashCommand:
    text: str
    response_url: str
    user_id: str
    team_id: str
    channel_id: str
    command: str


def parse_form(body: bytes) -> dict[str, str]:
    """The form fields of a Slack request body; ValueError when it is not a form."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError("the body is not UTF-8") from exc
    fields = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    return {k: v[0] for k, v in fields.items()}


def parse_slash_command(body: bytes) -> SlashCommand:
    """A slash command's fields; ValueError naming what is missing."""
    form = parse_form(body)
    missing = [k for k in ("command", "response_url", "user_id") if not form.get(k)]
    if missing:
        raise ValueError(f"not a slash command: missing {', '.join(missing)}")
    return SlashCommand(form.get("text", ""), form["response_url"], form["user_id"],
                        form.get("team_id", ""), form.get("channel_id", ""), form["command"])


def split_dialect(text: str, default: str) -> tuple[str, str]:
    """`"logql errors from payments"` -> `("logql", "errors from payments")`."""
    first, _, rest = text.strip().partition(" ")
    dialect = DIALECT_PREFIXES.get(first.lower().rstrip(":"))
    if dialect and rest.strip():
        return dialect, rest.strip()
    return default, text.strip()


def help_message(command: str, default: str) -> dict:
    prefixes = ", ".join(f"`{d}`" for d in DIALECT_NAMES)
    text = (
        f"*{command} QUESTION* translates a question about your telemetry into a query, "
        f"checks it against the catalog and explains it.\n"
        f"• `{command} 5xx rate of checkout by status code` ({TITLES[default]}, the default)\n"
        f"• `{command} logql errors from payments with timeouts`\n"
        f"• `{command} datadog-logs error logs of the cart service`\n"
        f"Dialect prefixes: {prefixes}. Answers are visible only to you until you press "
        f"*Share in channel*."
    )
    return {"response_type": "ephemeral", "text": text,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def _code(query: str) -> str:
    # A ``` inside the query would end the code block early; Slack has no escape for it.
    return "```" + query.replace("```", "` ` `") + "```"


def answer_message(result: Any, share_button: bool = True) -> dict:
    """The Block Kit message for a `Translation` (ok, refused or failed)."""
    title = TITLES.get(result.dialect, result.dialect)
    if not result.ok:
        word = "Refused" if result.status == "refused" else "No valid query"
        text = f"{word} ({title}): {result.message}"
        return {"response_type": "ephemeral", "text": text,
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}]}
    blocks: list[dict] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _code(result.query)[:2990]}},
    ]
    context = [result.explanation or f"{title} query, validated"]
    context += result.assumptions
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": line[:2900]} for line in context[:10]]})
    buttons: list[dict] = []
    for number, link in enumerate(result.links[:4]):
        if len(link.url) <= 3000:  # Block Kit refuses longer button URLs
            buttons.append({"type": "button", "action_id": f"nlq_open_{number}",
                            "text": {"type": "plain_text", "text": f"Open in {link.title}"[:75]},
                            "url": link.url})
    if share_button:
        value = json.dumps({"q": result.question, "d": result.dialect, "query": result.query,
                            "e": result.explanation or ""})
        if len(value) <= 2000:
            buttons.append({"type": "button", "action_id": SHARE_ACTION, "style": "primary",
                            "text": {"type": "plain_text", "text": "Share in channel"}, "value": value})
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return {"response_type": "ephemeral", "text": f"{title} for: {result.question}"[:3000], "blocks": blocks}


def shared_message(value: str, user_id: str) -> dict:
    """The in-channel copy of an answer when its user presses Share in channel."""
    data = json.loads(value)
    title = TITLES.get(data["d"], data["d"])
    blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": _code(data["query"])[:2990]}},
        {"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<@{user_id}> asked: {data['q']}"[:2900]},
            *([{"type": "mrkdwn", "text": data["e"][:2900]}] if data.get("e") else [])]},
    ]
    return {"response_type": "in_channel", "replace_original": False, "delete_original": False,
            "text": f"{title} for: {data['q']}"[:3000], "blocks": blocks}


def post(response_url: str, message: dict, timeout: int = 10) -> int:
    """POST `message` to Slack's response_url; the HTTP status that came back."""
    response = WebhookClient(response_url, timeout=timeout).send_dict(message)
    return response.status_code

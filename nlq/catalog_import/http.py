"""The HTTP client every catalog importer shares.

* Auth from the environment only, never from the command line (it would land
  in shell history and `ps`): `NLQ_BEARER_TOKEN` sends `Authorization: Bearer`,
  `NLQ_BASIC_USER` + `NLQ_BASIC_PASSWORD` send basic auth; importers add their
  own headers (Datadog's `DD-API-KEY`).  Secrets stay in request headers: they
  are never part of an error message, a log line or the catalog.
* TLS verification is on; `insecure=True` turns it off, `ca_file` adds a CA.
* Every call has a timeout; connection failures, 429 and 5xx answers are
  retried with exponential back-off (429 waits for `Retry-After` /
  `X-RateLimit-Reset` when the server names it, capped).
* Failures raise `ImportFailure` (an `NlqError`) whose message says what to
  check: a wrong URL (404, refused connection, unknown host), bad credentials
  (401/403), a timeout, or an answer that is not the expected JSON.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nlq.errors import NlqError

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
#: the longest back-off or rate-limit wait, seconds
MAX_WAIT_S = 30.0
USER_AGENT = "nlq-catalog-import/1"


class ImportFailure(NlqError):
    """A catalog import that cannot go on; the message says what to check."""


def auth_headers_from_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`Authorization` from NLQ_BEARER_TOKEN, or NLQ_BASIC_USER/NLQ_BASIC_PASSWORD (else none)."""
    env = os.environ if env is None else env
    token = env.get("NLQ_BEARER_TOKEN")
    if token:
        return {"Authorization": f"Bearer {token}"}
    user = env.get("NLQ_BASIC_USER")
    if user:
        raw = f"{user}:{env.get('NLQ_BASIC_PASSWORD', '')}".encode()
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
    return {}


def redact_url(url: str) -> str:
    """The URL without a `user:password@` part (for messages)."""
    parts = urllib.parse.urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host += f":{parts.port}"
        parts = parts._replace(netloc=host)
    return urllib.parse.urlunsplit(parts)


@dataclass
class HttpClient:
    """GET/POST JSON from one base URL with auth, timeouts and retries."""

    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    insecure: bool = False
    ca_file: str | None = None
    #: the system's name in messages ("Prometheus", "Loki", "Datadog")
    system: str = "server"
    #: seconds to sleep between tries (tests shorten it)
    backoff_s: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    calls: int = 0

    def __post_init__(self) -> None:
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ImportFailure(
                f"{self.system} URL {redact_url(self.base_url)!r} is not an http(s) URL "
                "(e.g. http://prometheus:9090)"
            )
        if parts.username:  # credentials in the URL move to a header, never to messages
            raw = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
            self.headers.setdefault("Authorization", "Basic " + base64.b64encode(raw.encode()).decode())
            self.base_url = redact_url(self.base_url)
        self.base_url = self.base_url.rstrip("/")
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.insecure:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=context))

    # -- public -----------------------------------------------------------
    def get_json(self, path: str, params: dict | list[tuple[str, str]] | None = None) -> Any:
        return self._request("GET", path, params, None)

    def post_form(self, path: str, params: dict | list[tuple[str, str]]) -> Any:
        body = urllib.parse.urlencode(params, doseq=True).encode()
        return self._request("POST", path, None, body, "application/x-www-form-urlencoded")

    def post_json(self, path: str, payload: dict) -> Any:
        return self._request("POST", path, None, json.dumps(payload).encode(), "application/json")

    # -- internals ----------------------------------------------------------
    def url(self, path: str, params: dict | list[tuple[str, str]] | None = None) -> str:
        query = f"?{urllib.parse.urlencode(params, doseq=True)}" if params else ""
        return f"{self.base_url}{path}{query}"

    def _request(self, method: str, path: str, params, body: bytes | None, content_type: str | None = None) -> Any:
        url = self.url(path, params)
        shown = f"{method} {self.base_url}{path}"
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **self.headers}
        if content_type:
            headers["Content-Type"] = content_type
        last_problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self._wait(attempt, last_problem))
            self.calls += 1
            request = urllib.request.Request(url, data=body, headers=headers, method=method)
            try:
                with self._opener.open(request, timeout=self.timeout_s) as response:
                    raw = response.read()
                    return self._decode(raw, shown, response.headers.get("Content-Type", ""))
            except urllib.error.HTTPError as exc:
                detail = _short(exc.read() if exc.fp else b"")
                if exc.code in (401, 403):
                    raise ImportFailure(
                        f"{shown}: {exc.code} {exc.reason}: the {self.system} rejected the credentials "
                        f"({self._auth_hint()}){detail}"
                    ) from None
                if exc.code == 404:
                    raise ImportFailure(
                        f"{shown}: 404 Not Found: is {self.base_url} the root URL of the {self.system}? "
                        f"(no such endpoint there){detail}"
                    ) from None
                if exc.code == 429 or exc.code >= 500:
                    last_problem = f"{exc.code} {exc.reason}{detail}"
                    self._retry_after = _retry_after(exc.headers)
                    continue
                raise ImportFailure(f"{shown}: {exc.code} {exc.reason}{detail}") from None
            except TimeoutError:
                last_problem = f"no answer within {self.timeout_s:g} s (timeout)"
                continue
            except urllib.error.URLError as exc:
                reason = exc.reason
                if isinstance(reason, TimeoutError | socket.timeout):
                    last_problem = f"no answer within {self.timeout_s:g} s (timeout)"
                    continue
                if isinstance(reason, ssl.SSLError):
                    raise ImportFailure(
                        f"{shown}: TLS error: {reason}. Pass --ca-file for a private CA "
                        "(or --insecure to skip verification)"
                    ) from None
                if isinstance(reason, socket.gaierror):
                    raise ImportFailure(f"{shown}: unknown host in {self.base_url}: check the URL") from None
                last_problem = f"cannot connect: {reason}"
                continue
            except (ConnectionError, OSError) as exc:
                last_problem = f"connection failed: {exc}"
                continue
        raise ImportFailure(
            f"{shown}: {last_problem}; gave up after {self.retries + 1} tries (check the URL and that "
            f"the {self.system} is up)"
        )

    _retry_after: float | None = None

    def _wait(self, attempt: int, problem: str) -> float:
        wait = self.backoff_s * (2 ** (attempt - 1))
        if self._retry_after is not None:
            wait = max(wait, self._retry_after)
            self._retry_after = None
        return min(wait, MAX_WAIT_S)

    def _auth_hint(self) -> str:
        if "DD-API-KEY" in self.headers:
            return "check DD_API_KEY / DD_APP_KEY and DD_SITE"
        if "Authorization" in self.headers:
            return "check NLQ_BEARER_TOKEN or NLQ_BASIC_USER / NLQ_BASIC_PASSWORD"
        return "it needs credentials: set NLQ_BEARER_TOKEN, or NLQ_BASIC_USER and NLQ_BASIC_PASSWORD"

    def _decode(self, raw: bytes, shown: str, content_type: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            kind = "HTML" if raw.lstrip()[:1] == b"<" else (content_type or "non-JSON")
            raise ImportFailure(
                f"{shown}: the answer is {kind}, not JSON: is this a {self.system} API URL? "
                f"(starts {_short(raw, 80).strip(': ')})"
            ) from None


def _short(raw: bytes, limit: int = 200) -> str:
    text = raw.decode("utf-8", "replace").strip()
    if not text:
        return ""
    return ": " + (text[:limit] + "…" if len(text) > limit else text)


def _retry_after(headers) -> float | None:
    for name in ("Retry-After", "X-RateLimit-Reset"):
        value = headers.get(name) if headers else None
        if value:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def require(condition: bool, what: str, system: str) -> None:
    """Raise the wrong-shape error when an answer lacks what the API documents."""
    if not condition:
        raise ImportFailure(f"unexpected answer from the {system}: {what}")

"""Helpers for the service tests: a real `nlq serve` subprocess on loopback and small receivers.

Nothing here is mocked: the server is the CLI command on a free 127.0.0.1 port,
the Slack response_url receiver and the OTLP receiver are real HTTP servers.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`nlq serve` in a subprocess; `.url`, `.log_path`, `.get/.post` over real HTTP."""

    def __init__(self, env: dict[str, str], tmp: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / f"serve-{self.port}.log"
        full_env = {**os.environ, "NLQ_SLACK_SIGNING_SECRET": SECRET,
                    "NLQ_SLACK_RESPONSE_URL_PREFIXES": "http://127.0.0.1:", **env}
        if "OTEL_EXPORTER_OTLP_ENDPOINT" not in env:  # spans only go where a test sends them
            full_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nlq.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=ROOT, env=full_env, stdout=self._log, stderr=subprocess.STDOUT)
        self.client = httpx.Client(base_url=self.url, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nlq serve exited: {self.log_path.read_text()[-2000:]}")
            try:
                if self.client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("nlq serve did not answer /healthz within 60 s")
            time.sleep(0.2)

    def metric(self, name: str, **labels: str) -> float:
        """Sum of a metric's samples whose labels include `labels` (0 when absent)."""
        total = 0.0
        for line in self.client.get("/metrics").text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            head, value = line.rsplit(" ", 1)
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total

    def logs(self) -> list[dict]:
        self._log.flush()
        lines = []
        for line in self.log_path.read_text().splitlines():
            with contextlib.suppress(ValueError):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        self.client.close()
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self._log.close()


def signed_headers(body: bytes, timestamp: int | None = None, secret: str = SECRET) -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    # Computed here from Slack's documented recipe over the raw bytes, not with the library under test.
    base = b"v0:" + str(timestamp).encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"}


def slash_body(text: str, response_url: str, user: str = "U123") -> bytes:
    return urllib.parse.urlencode({
        "token": "deprecated", "team_id": "T1", "team_domain": "acme", "channel_id": "C1",
        "channel_name": "sre", "user_id": user, "user_name": "alice", "command": "/nlq", "text": text,
        "api_app_id": "A1", "response_url": response_url,
        "trigger_id": uuid.uuid4().hex}).encode()  # unique per request, as Slack's are


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records every POST (path, headers, body)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, dict, bytes]] = []
        self._taken: set[int] = set()
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._arrived:
                    receiver.posts.append((self.path, dict(self.headers), body))
                    receiver._arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, path: str, timeout: float) -> tuple[dict, bytes]:
        """The oldest POST to `path` not returned before; TimeoutError when none comes in time."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, (got, headers, body) in enumerate(self.posts):
                    if got == path and index not in self._taken:
                        self._taken.add(index)
                        return headers, body
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no POST to {path} within {timeout} s")
                self._arrived.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

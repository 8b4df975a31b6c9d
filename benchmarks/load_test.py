#!/usr/bin/env python
"""Load test of `nlq serve` with the embedded model, on 127.0.0.1, bounded in requests and time.

    .venv/bin/python benchmarks/load_test.py                          # 50 clients, 60 s
    .venv/bin/python benchmarks/load_test.py --clients 50 --duration 90 --max-requests 20000
    .venv/bin/python benchmarks/load_test.py --url http://127.0.0.1:8080   # an already running server

Starts `nlq serve` on a free loopback port (unless --url), waits for /readyz
(the model loaded), warms up with one translation per dialect, then runs --clients concurrent clients for --duration
seconds or --max-requests requests, whichever ends first, and stops.  Each
client sends a mix of /v1/translate (the model), /v1/validate, /v1/format and
/v1/complete requests, each carrying a marker that its answer must echo back,
so an answer delivered to the wrong request is caught.  While it runs, the
server's resident memory (VmRSS) is sampled every second.

Printed: requests by endpoint and status, throughput, p50/p95/p99 latency
(overall and per endpoint), RSS start/peak/end and its trend.  Exit status 1
when a 5xx other than the deliberate 503 back-pressure came back, or an
answer did not match its question.  A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    ("error logs of the cart service", "logql", "cart"),
    ("errors from payments with timeouts", "logql", "payments"),
    ("warning logs from checkout", "logql", "checkout"),
    ("error logs of the search service", "logql", "search"),
    ("error logs of checkout", "datadog-logs", "checkout"),
    ("5xx rate of checkout", "promql", "checkout"),
]
SERVICES = ["cart", "checkout", "payments", "search", "auth", "frontend"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Stats:
    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.status: Counter[tuple[str, int]] = Counter()
        self.mismatches: list[str] = []
        self.errors: Counter[str] = Counter()
        self.translations_with_service = 0
        self.translations_ok = 0


def make_request(client_id: int, number: int, rng: random.Random, translate_share: float):
    """(endpoint, JSON body, check(answer) -> problem or None) with a marker only this request has."""
    marker = f"c{client_id}n{number}"
    service = rng.choice(SERVICES)
    if rng.random() < translate_share:
        question, dialect, expected = rng.choice(QUESTIONS)

        def check_translation(answer: dict, stats: Stats) -> str | None:
            if answer.get("question") != question or answer.get("dialect") != dialect:
                return f"translate answered {answer.get('question')!r} for {question!r}"
            if answer.get("status") == "ok":
                stats.translations_ok += 1
                stats.translations_with_service += expected in (answer.get("query") or "")
            return None

        return "translate", {"question": question, "dialect": dialect}, check_translation
    kind = rng.choice(["validate", "format", "complete"])
    if kind == "validate":
        query = f'{{service="{service}", req="{marker}"}} |= "error"'

        def check_validation(answer: dict, _stats: Stats) -> str | None:
            if answer.get("query") != query or answer.get("valid") is not True:
                return f"validate answered {answer.get('query')!r} for {query!r}"
            return None

        return "validate", {"query": query, "dialect": "logql", "catalog": False}, check_validation
    if kind == "format":
        query = f'{{service="{service}",req="{marker}"}}|="error"'
        expected_text = f'{{service="{service}", req="{marker}"}} |= "error"'

        def check_format(answer: dict, _stats: Stats) -> str | None:
            if answer.get("query") != expected_text:
                return f"format answered {answer.get('query')!r} for {query!r}"
            return None

        return "format", {"query": query, "dialect": "logql"}, check_format
    prefix = service[:2]
    text = f'{{service="{prefix}'

    def check_completion(answer: dict, _stats: Stats) -> str | None:
        labels = [item["label"] for item in answer.get("items", [])]
        if not labels or not all(label.startswith(prefix) for label in labels) or service not in labels:
            return f"complete answered {labels} for prefix {prefix!r}"
        return None

    return "complete", {"text": text, "dialect": "logql"}, check_completion


async def client_loop(client_id: int, http: httpx.AsyncClient, stats: Stats, deadline: float,
                      budget: list[int], translate_share: float, request_timeout: float) -> None:
    rng = random.Random(client_id)
    number = 0
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        number += 1
        endpoint, body, check = make_request(client_id, number, rng, translate_share)
        started = time.perf_counter()
        try:
            response = await http.post(f"/v1/{endpoint}", json=body, timeout=request_timeout)
        except httpx.HTTPError as exc:
            stats.errors[f"{endpoint}: {type(exc).__name__}"] += 1
            continue
        elapsed = time.perf_counter() - started
        stats.latency[endpoint].append(elapsed)
        stats.status[(endpoint, response.status_code)] += 1
        if response.status_code == 200:
            problem = check(response.json(), stats)
            if problem:
                stats.mismatches.append(problem)
        elif response.status_code == 503:
            await asyncio.sleep(float(response.headers.get("retry-after", "1")) * rng.uniform(0.5, 1.0))


async def sample_rss(pid: int | None, samples: list[tuple[float, float]], stop: asyncio.Event) -> None:
    started = time.monotonic()
    while not stop.is_set() and pid is not None:
        value = rss_mib(pid)
        if value is not None:
            samples.append((time.monotonic() - started, value))
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares MiB per minute."""
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 60 * sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


async def warm_up(http: httpx.AsyncClient, pid: int | None, timeout: float) -> None:
    """One translation per dialect first: grammar compilation and the model's first-use buffers
    are one-time allocations, not the steady state whose memory trend the run measures."""
    before = rss_mib(pid) if pid else None
    for dialect in dict.fromkeys(d for _, d, _ in QUESTIONS):
        question = next(q for q, d, _ in QUESTIONS if d == dialect)
        started = time.perf_counter()
        response = await http.post("/v1/translate", json={"question": question, "dialect": dialect},
                                   timeout=timeout)
        status = response.json().get("status", response.status_code)
        print(f"warm-up {dialect}: HTTP {response.status_code} {status} in {time.perf_counter() - started:.1f} s")
    if pid:
        print(f"warm-up RSS MiB: {before:.0f} -> {rss_mib(pid):.0f}")


async def run(url: str, pid: int | None, clients: int, duration: float, max_requests: int,
              translate_share: float, request_timeout: float) -> int:
    stats = Stats()
    rss: list[tuple[float, float]] = []
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits) as http:
        await warm_up(http, pid, request_timeout)
        sampler = asyncio.create_task(sample_rss(pid, rss, stop))
        started = time.monotonic()
        deadline = started + duration
        budget = [max_requests]
        await asyncio.gather(*(client_loop(i, http, stats, deadline, budget, translate_share,
                                           request_timeout) for i in range(clients)))
        wall = time.monotonic() - started
        stop.set()
        await sampler
        healthy = (await http.get("/healthz")).status_code == 200
    return report(stats, rss, wall, clients, healthy)


def report(stats: Stats, rss: list[tuple[float, float]], wall: float, clients: int, healthy: bool) -> int:
    everything = [v for values in stats.latency.values() for v in values]
    total = len(everything)
    print(f"\nclients {clients}, wall {wall:.1f} s, answered requests {total}, "
          f"throughput {total / wall:.1f} req/s")
    print(f"{'endpoint':<10} {'status':>6} {'count':>7}")
    for (endpoint, status), count in sorted(stats.status.items()):
        print(f"{endpoint:<10} {status:>6} {count:>7}")
    print(f"\n{'endpoint':<10} {'n':>6} {'req/s':>7} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    for endpoint, values in sorted(stats.latency.items()) + [("all", everything)]:
        print(f"{endpoint:<10} {len(values):>6} {len(values) / wall:>7.2f} "
              f"{percentile(values, 50) * 1000:>9.1f} {percentile(values, 95) * 1000:>9.1f} "
              f"{percentile(values, 99) * 1000:>9.1f}")
    ok_translations = [v for v in stats.latency.get("translate", [])]
    served = stats.status.get(("translate", 200), 0)
    print(f"\ntranslations answered 200: {served} (valid query: {stats.translations_ok}, "
          f"naming the asked service: {stats.translations_with_service}); "
          f"503 back-pressure: {stats.status.get(('translate', 503), 0)} of {len(ok_translations)}")
    if rss:
        values = [v for _, v in rss]
        trend = slope(rss)
        growth = values[-1] - values[0]
        flat = abs(growth) < max(20.0, 0.05 * values[0])
        print(f"server RSS MiB: start {values[0]:.0f}, peak {max(values):.0f}, end {values[-1]:.0f}, "
              f"trend {trend:+.1f} MiB/min over {len(rss)} samples -> {'flat' if flat else 'NOT flat'}")
    unexpected = {k: v for k, v in stats.status.items() if k[1] >= 500 and k[1] != 503}
    if stats.errors:
        print("transport errors:", dict(stats.errors))
    if unexpected:
        print("UNEXPECTED 5xx:", unexpected)
    if stats.mismatches:
        print(f"MISMATCHED answers: {len(stats.mismatches)}; first: {stats.mismatches[:3]}")
    print(f"service healthy after the run: {healthy}")
    failed = bool(unexpected or stats.mismatches or stats.errors or not healthy)
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


def start_server(queue_size: int, timeout_s: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "NLQ_RATE_LIMIT_PER_MINUTE": "0", "NLQ_QUEUE_SIZE": str(queue_size),
           "NLQ_TRANSLATE_TIMEOUT_S": str(timeout_s)}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "nlq.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, f"http://127.0.0.1:{port}"


def wait_ready(url: str, process: subprocess.Popen | None, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process is not None and process.poll() is not None:
            raise SystemExit("nlq serve exited before it was ready")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"nlq serve not ready after {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an already running nlq serve (else one is started)")
    parser.add_argument("--pid", type=int, help="its process id, for RSS sampling with --url")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (at least 60 for the report)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="stop after this many requests")
    parser.add_argument("--translate-share", type=float, default=0.2,
                        help="fraction of requests that go to /v1/translate (the model)")
    parser.add_argument("--queue-size", type=int, default=2, help="NLQ_QUEUE_SIZE of the started server")
    parser.add_argument("--timeout", type=float, default=150.0, help="NLQ_TRANSLATE_TIMEOUT_S of it")
    args = parser.parse_args()
    process = None
    url, pid = args.url, args.pid
    if url is None:
        process, url = start_server(args.queue_size, args.timeout)
        pid = process.pid
    try:
        ready_s = wait_ready(url, process, 300)
        print(f"nlq serve at {url} ready after {ready_s:.1f} s (model loaded); "
              f"{args.clients} clients for {args.duration:.0f} s, at most {args.max_requests} requests")
        return asyncio.run(run(url, pid, args.clients, args.duration, args.max_requests, args.translate_share,
                               args.timeout + 15))
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())

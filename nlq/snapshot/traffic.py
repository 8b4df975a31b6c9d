"""The request traffic every dataset is drawn from.

One model of requests per (pod, route, method, status code) and of latency per
(pod, route) per scrape step, so that Prometheus counters, histograms, Datadog
trace metrics and the request logs all tell the same story: the payments error
spike, checkout's slower new version, cart's restarted pod.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nlq.snapshot.world import Pod, Variant, World, stable_hash

SERVER_ERRORS = ("500", "502", "503")


@dataclass
class RequestKind:
    pod: Pod
    route: str
    method: str
    status_code: str


@dataclass
class Traffic:
    pods: list[Pod]
    alive: np.ndarray  # [pods, steps] bool: the pod is scraped (and serves) at step t
    reset_step: dict[str, int]  # pod name -> first step after a process restart
    kinds: list[RequestKind]
    counts: np.ndarray  # [kinds, steps] int64: requests finished during the step
    # latency: median seconds per (pod, route) and step
    route_keys: list[tuple[str, str]]  # (pod name, route)
    median_s: np.ndarray  # [route_keys, steps]
    load: np.ndarray  # [steps] traffic level around 1.0


def status_codes(service: str, route: str, method: str) -> list[str]:
    ok = {"GET": "200", "POST": "200", "DELETE": "204"}[method]
    if route in ("/api/checkout", "/api/reservations", "/api/shipments") and method == "POST":
        ok = "201"
    client = "401" if route == "/api/login" else ("404" if method in ("GET", "DELETE") else "400")
    codes = [ok, client, "500", "503"]
    if service in ("checkout", "frontend"):
        codes.insert(3, "502")
    return codes


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], scale: float, keep: float = 0.9) -> np.ndarray:
    """AR(1) noise around 1.0: values wander slowly instead of jumping each step."""
    white = rng.normal(0.0, scale, size=shape)
    out = np.empty(shape)
    out[..., 0] = white[..., 0]
    for t in range(1, shape[-1]):  # 1440 steps, each vectorised over series
        out[..., t] = keep * out[..., t - 1] + white[..., t] * np.sqrt(1 - keep * keep)
    return np.clip(1.0 + out, 0.2, 3.0)


def build_traffic(world: World, variant: Variant) -> Traffic:
    rng = np.random.default_rng([variant.seed, 1])
    inc = variant.incidents
    steps = world.steps
    step_s = world.step_ms / 1000
    t = np.arange(steps)
    # Morning ramp (06:00 -> 12:00 UTC) with a gentle wave.
    load = 0.65 + 0.5 * t / steps + 0.08 * np.sin(2 * np.pi * t / (steps / 3))
    load = np.round(load * smooth_noise(rng, (steps,), 0.04), 6)

    pods = world.pods(variant)
    restart_cfg = world.raw["incidents"]["pod_restart"]
    alive = np.zeros((len(pods), steps), dtype=bool)
    reset_step: dict[str, int] = {}
    for i, pod in enumerate(pods):
        alive[i, pod.start : pod.end if pod.end is not None else steps] = True
        if pod.service == restart_cfg["service"] and pod.index == restart_cfg["pod_index"]:
            down = int(restart_cfg["down_scrapes"])
            alive[i, inc.restart_step : inc.restart_step + down] = False
            reset_step[pod.name] = inc.restart_step + down
    service_alive = {}
    for i, pod in enumerate(pods):
        service_alive.setdefault(pod.service, np.zeros(steps))
        service_alive[pod.service] += alive[i]

    in_error = (t >= inc.error_start) & (t < inc.error_end)
    spike = world.raw["incidents"]["error_spike"]
    kinds: list[RequestKind] = []
    expected: list[np.ndarray] = []
    pod_index = {p.name: i for i, p in enumerate(pods)}
    for pod in pods:
        service = world.services[pod.service]
        share_of_pod = alive[pod_index[pod.name]] / np.maximum(service_alive[pod.service], 1)
        for route in service.routes:
            per_method = route.share / len(route.methods)
            for method in route.methods:
                rate = service.rps * per_method * load * share_of_pod * step_s
                codes = status_codes(service.name, route.route, method)
                probs = {c: np.full(steps, 0.0) for c in codes}
                probs[codes[1]][:] = 0.015
                probs["500"][:] = 0.002
                probs["503"][:] = 0.0005
                if "502" in probs:
                    probs["502"][:] = 0.0005
                if service.name == spike["service"]:
                    probs["500"][in_error] = inc.error_ratio * 0.35
                    probs["503"][in_error] = inc.error_ratio * 0.65
                if service.name == spike["upstream_service"] and route.route == "/api/checkout":
                    probs["502"][in_error] = inc.error_ratio * 0.8
                probs[codes[0]] = 1.0 - sum(p for c, p in probs.items() if c != codes[0])
                for code in codes:
                    kinds.append(RequestKind(pod, route.route, method, code))
                    expected.append(rate * probs[code])
    lam = np.array(expected)
    counts = rng.poisson(lam * smooth_noise(rng, lam.shape, 0.08, keep=0.7)).astype(np.int64)

    reg = world.raw["incidents"]["latency_regression"]
    route_keys: list[tuple[str, str]] = []
    medians: list[float] = []
    slow: list[bool] = []
    for pod in pods:
        service = world.services[pod.service]
        for route in service.routes:
            route_keys.append((pod.name, route.route))
            factor = 0.7 + (stable_hash("latency", service.name, route.route) % 800) / 1000
            medians.append(service.latency_s * factor)
            slow.append(pod.service == reg["service"] and pod.version == reg["new_version"])
    median = np.array(medians)[:, None] * (0.85 + 0.25 * load)[None, :]
    median = median * smooth_noise(rng, median.shape, 0.06, keep=0.8)
    median[np.array(slow)] *= inc.slowdown
    return Traffic(
        pods=pods,
        alive=alive,
        reset_step=reset_step,
        kinds=kinds,
        counts=counts,
        route_keys=route_keys,
        median_s=np.round(median, 6),
        load=load,
    )


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7), vectorised."""
    x = np.abs(z) / np.sqrt(2.0)
    k = 1.0 / (1.0 + 0.3275911 * x)
    poly = k * (0.254829592 + k * (-0.284496736 + k * (1.421413741 + k * (-1.453152027 + k * 1.061405429))))
    erf = 1.0 - poly * np.exp(-x * x)
    return 0.5 * (1.0 + np.sign(z) * erf)


def split_into_buckets(
    rng: np.random.Generator, n: np.ndarray, median: np.ndarray, sigma: float, bounds: np.ndarray
) -> np.ndarray:
    """Draw how `n` requests (shape [..]) with lognormal latency fall into buckets.

    Returns counts per bucket, shape [.., len(bounds) + 1] (the last is above every bound).
    """
    z = (np.log(bounds)[None, :] - np.log(np.maximum(median.reshape(-1), 1e-9))[:, None]) / sigma
    cdf = np.round(normal_cdf(z), 9)
    p = np.diff(np.concatenate([np.zeros((cdf.shape[0], 1)), cdf, np.ones((cdf.shape[0], 1))], axis=1), axis=1)
    p = np.clip(p, 0.0, 1.0)
    p /= p.sum(axis=1, keepdims=True)
    out = rng.multinomial(n.reshape(-1), p)
    return out.reshape(*n.shape, len(bounds) + 1)

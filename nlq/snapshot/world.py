"""The world a snapshot describes: read from snapshots/world.yaml, fixed per variant.

`load_world()` gives the structure (services, pods, hosts, routes); `World.variant(name)`
draws the per-variant numbers (incident times and magnitudes) from the variant's seed.
Pod names, IPs and scrape offsets come from hashes of the world's names, never from the
seed, so every variant has exactly the same series and streams.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path

import numpy as np
import yaml

from nlq.errors import UsageError

SNAPSHOTS_DIR = Path(__file__).resolve().parents[2] / "snapshots"
WORLD_FILE = SNAPSHOTS_DIR / "world.yaml"

_POD_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def stable_hash(*parts: object) -> int:
    """A hash that is the same on every machine and Python run (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _token(length: int, *parts: object) -> str:
    h = stable_hash(*parts)
    out = []
    for _ in range(length):
        h, r = divmod(h, len(_POD_ALPHABET))
        out.append(_POD_ALPHABET[r])
    return "".join(out)


@dataclass
class Route:
    route: str
    methods: list[str]
    share: float


@dataclass
class Service:
    name: str
    pods: int
    language: str
    log_format: str
    rps: float
    latency_s: float
    routes: list[Route]
    grpc: dict | None = None


@dataclass
class Host:
    name: str
    region: str
    zone: str
    cpus: int
    memory_gib: int


@dataclass
class Pod:
    """One pod; `start`/`end` are step indexes ([start, end) is when it is scraped)."""

    name: str
    service: str
    index: int
    host: Host
    ip: str
    version: str
    start: int = 0
    end: int | None = None  # None: alive to the end of the window


@dataclass
class Incidents:
    error_start: int  # step indexes
    error_end: int
    error_ratio: float
    deploy_step: int
    rollout_steps: int
    slowdown: float
    restart_step: int
    lag_start: int
    lag_end: int
    lag_peak: float


@dataclass
class Variant:
    name: str
    seed: int
    incidents: Incidents


@dataclass
class World:
    raw: dict
    end_ms: int
    start_ms: int
    step_ms: int
    steps: int
    env: str
    namespace: str
    cluster: str
    hosts: list[Host]
    services: dict[str, Service]
    variants: dict[str, dict] = field(default_factory=dict)

    @property
    def minutes_to_steps(self) -> float:
        return 60_000 / self.step_ms

    def variant(self, name: str) -> Variant:
        """The variant called `name`, its incident numbers drawn from its seed."""
        if name not in self.variants:
            raise UsageError(f"unknown snapshot {name!r}: choose one of {', '.join(self.variants)}")
        seed = int(self.variants[name]["seed"])
        rng = np.random.default_rng([seed, 7])
        inc = self.raw["incidents"]
        per_min = self.minutes_to_steps

        def draw(lo_hi: list[float]) -> float:
            lo, hi = lo_hi
            return float(rng.uniform(lo, hi))

        error_start = int(draw(inc["error_spike"]["start_min"]) * per_min)
        error_len = int(draw(inc["error_spike"]["duration_min"]) * per_min)
        lag_start = int(draw(inc["consumer_lag"]["start_min"]) * per_min)
        lag_len = int(draw(inc["consumer_lag"]["duration_min"]) * per_min)
        incidents = Incidents(
            error_start=error_start,
            error_end=error_start + error_len,
            error_ratio=round(draw(inc["error_spike"]["error_ratio"]), 3),
            deploy_step=int(draw(inc["latency_regression"]["deploy_min"]) * per_min),
            rollout_steps=int(inc["latency_regression"]["rollout_min"] * per_min),
            slowdown=round(draw(inc["latency_regression"]["slowdown"]), 3),
            restart_step=int(draw(inc["pod_restart"]["restart_min"]) * per_min),
            lag_start=lag_start,
            lag_end=lag_start + lag_len,
            lag_peak=round(draw(inc["consumer_lag"]["peak_lag"])),
        )
        return Variant(name=name, seed=seed, incidents=incidents)

    def pods(self, variant: Variant) -> list[Pod]:
        """Every pod that runs in the window; the checkout deploy replaces checkout's pods."""
        reg = self.raw["incidents"]["latency_regression"]
        out: list[Pod] = []
        slot = 0
        for service in self.services.values():
            versions = [("1.0.0", None)]
            if service.name == reg["service"]:
                versions = [(reg["old_version"], "old"), (reg["new_version"], "new")]
            for version, generation in versions:
                replica_set = _token(10, service.name, version)
                for i in range(service.pods):
                    host = self.hosts[slot % len(self.hosts)]
                    slot += 1
                    pod = Pod(
                        name=f"{service.name}-{replica_set}-{_token(5, service.name, version, i)}",
                        service=service.name,
                        index=i,
                        host=host,
                        ip=f"10.{self.hosts.index(host)}.{16 + slot}.{10 + i}",
                        version=version,
                    )
                    # Rolling deploy: new pod i becomes ready one minute before old pod i goes.
                    step_i = variant.incidents.deploy_step + i * variant.incidents.rollout_steps
                    if generation == "old":
                        pod.end = step_i
                    elif generation == "new":
                        pod.start = step_i - int(self.minutes_to_steps)
                    out.append(pod)
        return out

    def scrape_offset_ms(self, job: str, instance: str) -> int:
        """Each target is scraped at its own fixed offset inside the interval, as Prometheus does.

        Never on a whole second: queries evaluated on whole seconds then never find a
        sample on a window's edge, where Prometheus 2.x and 3.x disagree.
        """
        offset = 1 + stable_hash("offset", job, instance) % (self.step_ms - 1)
        return offset + 1 if offset % 1000 == 0 else offset


@cache
def load_world(path: str | None = None) -> World:
    """Read the world definition (default: snapshots/world.yaml)."""
    raw = yaml.safe_load(Path(path or WORLD_FILE).read_text())
    clock = raw["clock"]
    end = datetime.fromisoformat(clock["end"].replace("Z", "+00:00"))
    end_ms = int(end.timestamp() * 1000)
    step_ms = int(clock["scrape_interval_s"]) * 1000
    steps = int(clock["hours"]) * 3600 * 1000 // step_ms
    services = {}
    for name, spec in raw["services"].items():
        services[name] = Service(
            name=name,
            pods=int(spec["pods"]),
            language=spec["language"],
            log_format=spec["log_format"],
            rps=float(spec["rps"]),
            latency_s=float(spec["latency_s"]),
            routes=[Route(r["route"], list(r["methods"]), float(r["share"])) for r in spec["routes"]],
            grpc=spec.get("grpc"),
        )
    return World(
        raw=raw,
        end_ms=end_ms,
        start_ms=end_ms - steps * step_ms,
        step_ms=step_ms,
        steps=steps,
        env=raw["env"],
        namespace=raw["namespace"],
        cluster=raw["cluster"],
        hosts=[Host(**h) for h in raw["hosts"]],
        services=services,
        variants={v["name"]: v for v in raw["variants"]},
    )

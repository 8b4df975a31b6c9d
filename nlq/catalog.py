"""The catalog: what exists in a system, so queries can only name real things.

One catalog describes one dialect's world:

* PromQL and Datadog metrics: `metrics`, each with a type, help text and its
  label (tag) names with their observed values.  Every *queryable* name is an
  entry: a classic histogram `x` appears as `x_bucket` (with `le`), `x_sum` and
  `x_count`, each with `family="x"` and `type="histogram"`.
* LogQL: `log_labels` are the stream labels (`{service="cart"}`) and
  `log_fields` the fields a parser (`| json`, `| logfmt`) extracts from lines;
  `log_formats` and `stream_fields` say, per program, which parser its lines
  need and which of those fields they carry (nlq.log_formats).
* Datadog logs: `log_labels` are tags and reserved attributes (`service:`,
  `status:`, `host:`), `log_fields` the `@attributes`.

On disk it is JSON (or YAML) in the full form written by `Catalog.to_dict`:

    {"dialect": "promql",
     "metrics": {"up": {"type": "gauge", "help": "...", "labels": {"job": ["api"]}}},
     "log_labels": {}, "log_fields": {}}

`Catalog.from_dict` also reads the minimal hand-written form
`{"metric_name": {"label": ["value", ...]}}`, inferring types from names.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlq.errors import UsageError
from nlq.log_formats import FORMATS

PROMETHEUS_TYPES = ("counter", "gauge", "histogram", "summary", "unknown")
DATADOG_TYPES = ("count", "rate", "gauge", "distribution", "unknown")
FIELD_KINDS = ("string", "number", "duration", "bytes")
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
DURATION_RE = re.compile(r"^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$")
BYTES_RE = re.compile(r"^\d+(\.\d+)?\s?([KMGT]i?)?B$")


def value_kind(values: set[str]) -> str:
    """number, duration, bytes or string (FIELD_KINDS): the kind every observed value fits."""
    if values and all(NUMBER_RE.match(v) for v in values):
        return "number"
    if values and all(DURATION_RE.match(v) for v in values):
        return "duration"
    if values and all(BYTES_RE.match(v) for v in values):
        return "bytes"
    return "string"


@dataclass
class Metric:
    name: str
    type: str = "unknown"
    help: str = ""
    unit: str = ""
    labels: dict[str, list[str]] = field(default_factory=dict)
    # Labels whose value list was cut to the most frequent ones: any value may occur.
    high_cardinality: list[str] = field(default_factory=list)
    # Base name of a histogram or summary family (`x` for `x_bucket`).
    family: str | None = None

    @property
    def is_counter_like(self) -> bool:
        """True when raw values only make sense through rate()/increase()."""
        if self.type == "counter":
            return True
        return self.type in ("histogram", "summary") and self.name.endswith(
            ("_bucket", "_sum", "_count")
        )

    @property
    def holds_buckets(self) -> bool:
        """True for what histogram_quantile() takes: a classic histogram's `_bucket` series
        (or any series with an `le` label), or a native histogram."""
        return (
            self.name.endswith("_bucket")
            or "le" in self.labels
            or (self.type == "histogram" and not self.name.endswith(("_sum", "_count")))
        )

    def to_dict(self) -> dict:
        out: dict = {"type": self.type, "help": self.help, "labels": self.labels}
        if self.unit:
            out["unit"] = self.unit
        if self.high_cardinality:
            out["high_cardinality"] = self.high_cardinality
        if self.family:
            out["family"] = self.family
        return out


@dataclass
class LogField:
    name: str
    kind: str = "string"
    values: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "values": self.values}


@dataclass
class Catalog:
    dialect: str
    metrics: dict[str, Metric] = field(default_factory=dict)
    log_labels: dict[str, list[str]] = field(default_factory=dict)
    log_fields: dict[str, LogField] = field(default_factory=dict)
    source: str = ""
    # LogQL: the format of each stream's lines (json, logfmt, text) by the stream label that
    # decides it, `{"service": {"cart": "logfmt"}}`; the parser a query needs (nlq.log_formats)
    log_formats: dict[str, dict[str, str]] = field(default_factory=dict)
    # LogQL: the parsed fields each stream's lines carry, by the stream label that names the
    # program, `{"service": {"cart": ["duration", "size"]}}`; `log_fields` is their union
    # (`size` is cart's, `bytes` the JSON services'), so only this says what a stream has
    stream_fields: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    # -- lookups used by the semantic checks ------------------------------
    def metric(self, name: str) -> Metric | None:
        return self.metrics.get(name)

    def label_names(self) -> set[str]:
        names: set[str] = set()
        for metric in self.metrics.values():
            names.update(metric.labels)
        return names

    # -- (de)serialisation ------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "dialect": self.dialect,
            "metrics": {name: m.to_dict() for name, m in sorted(self.metrics.items())},
            "log_labels": {k: sorted(v) for k, v in sorted(self.log_labels.items())},
            "log_fields": {k: f.to_dict() for k, f in sorted(self.log_fields.items())},
            # only when known: a catalog without formats keeps the form (and fingerprint) it had
            **({"log_formats": self.log_formats} if self.log_formats else {}),
            **({"stream_fields": self.stream_fields} if self.stream_fields else {}),
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n")

    @classmethod
    def from_dict(cls, data: dict, dialect: str | None = None, source: str = "") -> Catalog:
        if not isinstance(data, dict):
            raise UsageError(f"catalog {source or ''}: expected a JSON/YAML object at the top level")
        if "dialect" in data or "metrics" in data or "log_labels" in data:
            return cls._from_full(data, dialect, source)
        return cls._from_minimal(data, dialect or "promql", source)

    @classmethod
    def _from_full(cls, data: dict, dialect: str | None, source: str) -> Catalog:
        metrics = {}
        for name, spec in (data.get("metrics") or {}).items():
            if not isinstance(spec, dict):
                raise UsageError(f"catalog {source}: metric {name!r} must map to an object")
            metrics[name] = Metric(
                name=name,
                type=spec.get("type", infer_metric_type(name)),
                help=spec.get("help", ""),
                unit=spec.get("unit", ""),
                labels={k: [str(v) for v in vs] for k, vs in (spec.get("labels") or {}).items()},
                high_cardinality=list(spec.get("high_cardinality", [])),
                family=spec.get("family"),
            )
        fields = {
            name: LogField(name, spec.get("kind", "string"), [str(v) for v in spec.get("values", [])])
            for name, spec in (data.get("log_fields") or {}).items()
        }
        return cls(
            dialect=dialect or data.get("dialect", "promql"),
            metrics=metrics,
            log_labels={k: [str(v) for v in vs] for k, vs in (data.get("log_labels") or {}).items()},
            log_fields=fields,
            source=source,
            log_formats=_log_formats(data.get("log_formats"), source),
            stream_fields=_stream_fields(data.get("stream_fields"), source),
        )

    @classmethod
    def _from_minimal(cls, data: dict, dialect: str, source: str) -> Catalog:
        metrics = {}
        for name, labels in data.items():
            if labels is None:
                labels = {}
            if not isinstance(labels, dict):
                raise UsageError(
                    f"catalog {source}: {name!r} must map label names to value lists, "
                    f'e.g. {{"{name}": {{"service": ["api", "web"]}}}}'
                )
            metrics[name] = Metric(
                name=name,
                type=infer_metric_type(name),
                unit=infer_unit(name),
                labels={k: [str(v) for v in (vs or [])] for k, vs in labels.items()},
            )
        return cls(dialect=dialect, metrics=metrics, source=source)


def _log_formats(data: object, source: str) -> dict[str, dict[str, str]]:
    if not data:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise UsageError(f'catalog {source}: log_formats maps a stream label to value -> format, '
                         f'e.g. {{"service": {{"cart": "logfmt"}}}}')
    for label, values in data.items():
        for value, fmt in values.items():
            if fmt not in FORMATS:
                raise UsageError(f"catalog {source}: log_formats {label}={value}: {fmt!r} is not one of "
                                 f"{', '.join(FORMATS)}")
    return {str(k): {str(v): str(f) for v, f in sorted(vs.items())} for k, vs in data.items()}


def _stream_fields(data: object, source: str) -> dict[str, dict[str, list[str]]]:
    if not data:
        return {}
    if not (isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())
            and all(isinstance(names, list) for v in data.values() for names in v.values())):
        raise UsageError(f'catalog {source}: stream_fields maps a stream label to value -> field names, '
                         f'e.g. {{"service": {{"cart": ["duration", "size"]}}}}')
    return {str(k): {str(v): sorted(str(n) for n in names) for v, names in sorted(vs.items())}
            for k, vs in data.items()}


def infer_metric_type(name: str) -> str:
    """Prometheus naming conventions: `_total` counters, `_bucket` histograms, else gauge."""
    if name.endswith("_total"):
        return "counter"
    if name.endswith(("_bucket", "_sum", "_count")):
        return "histogram"
    return "gauge"


#: unit suffixes of the Prometheus naming conventions (before _total/_bucket/_sum/_count)
UNIT_SUFFIXES = {"_seconds": "seconds", "_bytes": "bytes", "_ratio": "ratio"}


def infer_unit(name: str) -> str:
    """`seconds`, `bytes` or `ratio` from the name's unit suffix, else ''.

    >>> infer_unit("http_request_duration_seconds_bucket"), infer_unit("up")
    ('seconds', '')
    """
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    for suffix, unit in UNIT_SUFFIXES.items():
        if name.endswith(suffix):
            return unit
    return ""


def load_catalog(path: str | Path, dialect: str | None = None) -> Catalog:
    """Read a catalog file (JSON, or YAML by extension) with a clear error for bad input."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"catalog file not found: {path}")
    text = path.read_text()
    try:
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise UsageError(f"catalog {path}: not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    return Catalog.from_dict(data, dialect=dialect, source=str(path))

"""Service settings: defaults < config file < environment variables.

The config file (`--config FILE` or NLQ_SERVE_CONFIG) is JSON, YAML or TOML, a
flat object whose keys are the field names below (`catalogs` maps a dialect to
a catalog file).  Every field also has an environment variable:

| field | variable | default |
|---|---|---|
| model | NLQ_MODEL | embedded |
| catalogs | NLQ_CATALOG_PROMQL, NLQ_CATALOG_LOGQL, NLQ_CATALOG_DATADOG_METRICS, NLQ_CATALOG_DATADOG_LOGS | snapshots/catalog/<dialect>.json |
| slack_signing_secret | NLQ_SLACK_SIGNING_SECRET | (unset: /slack/* answers 503) |
| slack_default_dialect | NLQ_SLACK_DEFAULT_DIALECT | promql |
| slack_response_url_prefixes | NLQ_SLACK_RESPONSE_URL_PREFIXES (comma-separated) | https://hooks.slack.com/ |
| grafana_url, prometheus_url, datadog_site | NLQ_GRAFANA_URL, NLQ_PROMETHEUS_URL, NLQ_DATADOG_SITE | see nlq.links |
| max_question_chars | NLQ_MAX_QUESTION_CHARS | 1000 |
| max_body_bytes | NLQ_MAX_BODY_BYTES | 65536 |
| rate_limit_per_minute | NLQ_RATE_LIMIT_PER_MINUTE (0 = off) | 60 |
| queue_size | NLQ_QUEUE_SIZE | 8 |
| translate_timeout_s | NLQ_TRANSLATE_TIMEOUT_S | 60 |
| max_retries | NLQ_MAX_RETRIES | 2 |
| load_model_at_start | NLQ_LOAD_MODEL_AT_START | true |

The response_url prefixes stop a forged-but-signed request from making the
service POST to arbitrary hosts: Slack's response URLs are always under
hooks.slack.com.
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from nlq.dialects import DIALECT_NAMES
from nlq.errors import UsageError

LINK_VARIABLES = {
    "grafana_url": "NLQ_GRAFANA_URL",
    "prometheus_url": "NLQ_PROMETHEUS_URL",
    "datadog_site": "NLQ_DATADOG_SITE",
}


@dataclass
class ServiceConfig:
    model: str = "embedded"
    catalogs: dict[str, str] = field(default_factory=dict)
    slack_signing_secret: str = ""
    slack_default_dialect: str = "promql"
    slack_response_url_prefixes: tuple[str, ...] = ("https://hooks.slack.com/",)
    grafana_url: str = ""
    prometheus_url: str = ""
    datadog_site: str = ""
    max_question_chars: int = 1000
    max_body_bytes: int = 65536
    rate_limit_per_minute: int = 60
    queue_size: int = 8
    translate_timeout_s: float = 60.0
    max_retries: int = 2
    load_model_at_start: bool = True

    def validate(self) -> ServiceConfig:
        """Raise `UsageError` for values the service cannot run with."""
        if self.slack_default_dialect not in DIALECT_NAMES:
            raise UsageError(f"slack_default_dialect {self.slack_default_dialect!r}: choose one of "
                             f"{', '.join(DIALECT_NAMES)}")
        for dialect in self.catalogs:
            if dialect not in DIALECT_NAMES:
                raise UsageError(f"catalogs: unknown dialect {dialect!r}")
        for name in ("max_question_chars", "max_body_bytes", "queue_size"):
            if getattr(self, name) < 1:
                raise UsageError(f"{name} must be at least 1")
        if self.rate_limit_per_minute < 0 or self.translate_timeout_s <= 0:
            raise UsageError("rate_limit_per_minute must be >= 0 and translate_timeout_s > 0")
        return self

    def export_link_settings(self) -> None:
        """Hand the link base URLs to `nlq.links`, which reads them from the environment."""
        for name, variable in LINK_VARIABLES.items():
            value = getattr(self, name)
            if value:
                os.environ[variable] = value


def _coerce(name: str, raw: Any) -> Any:
    kind = {f.name: f.type for f in fields(ServiceConfig)}[name]
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if kind.startswith("tuple"):
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(s.strip() for s in items if s.strip())
        if kind.startswith("dict"):
            if not isinstance(raw, dict):
                raise ValueError("expected an object")
            return {str(k): str(v) for k, v in raw.items()}
        return str(raw)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"config {name}: cannot read {raw!r}: {exc}") from exc


def read_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"config file not found: {path}")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the user's file
        raise UsageError(f"config {path}: cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise UsageError(f"config {path}: expected an object at the top level")
    known = {f.name for f in fields(ServiceConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"config {path}: unknown keys {', '.join(unknown)}")
    return data


def load_config(path: str | Path | None = None, environ: dict[str, str] | None = None,
                **overrides: Any) -> ServiceConfig:
    """Defaults, then the file (`path` or NLQ_SERVE_CONFIG), then the environment, then `overrides`."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    path = path or environ.get("NLQ_SERVE_CONFIG")
    if path:
        values.update(read_config_file(path))
    catalogs = dict(values.get("catalogs") or {})
    for dialect in DIALECT_NAMES:
        variable = "NLQ_CATALOG_" + dialect.upper().replace("-", "_")
        if environ.get(variable):
            catalogs[dialect] = environ[variable]
    values["catalogs"] = catalogs
    for f in fields(ServiceConfig):
        variable = LINK_VARIABLES.get(f.name) or (
            "NLQ_RATE_LIMIT_PER_MINUTE" if f.name == "rate_limit_per_minute"
            else "NLQ_MODEL" if f.name == "model" else f"NLQ_{f.name.upper()}")
        if f.name != "catalogs" and environ.get(variable):
            values[f.name] = environ[variable]
    values.update({k: v for k, v in overrides.items() if v is not None})
    return ServiceConfig(**{k: _coerce(k, v) for k, v in values.items()}).validate()

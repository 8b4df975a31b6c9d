"""`nlq catalog`: import a catalog from a running system, merge, show, and synthesise data for it."""

from __future__ import annotations

import json
import sys
import time

import click

from nlq.errors import UsageError


@click.group("catalog")
def command() -> None:
    """Catalogs: what metrics, labels, streams and fields a system has.

    \b
    Examples:
      nlq catalog import --prometheus http://prometheus:9090 --since 6h -o prom.json
      NLQ_BEARER_TOKEN=... nlq catalog import --loki https://loki.example -o logs.json
      DD_API_KEY=... DD_APP_KEY=... nlq catalog import --datadog metrics -o dd.json
      nlq catalog merge prom.json extra.yaml -o all.json
      nlq catalog show all.json --search latency
      nlq catalog synth --catalog all.json --out .cache/synth/mine
    """


def _duration_s(text: str) -> float:
    from nlq.commands.run import parse_duration_ms

    return parse_duration_ms(text) / 1000


def _window(since: str, start: str | None, end: str | None):
    from datetime import datetime

    from nlq.catalog_import.common import TimeWindow

    def at(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            try:
                return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise UsageError(f"not a time: {text!r} (Unix seconds or RFC 3339)") from exc

    end_s = at(end) if end else time.time()
    start_s = at(start) if start else end_s - _duration_s(since)
    return TimeWindow(start_s, end_s)


@command.command("import")
@click.option("--prometheus", "prometheus_url", metavar="URL", help="A Prometheus-API server (Prometheus, Thanos, Mimir...).")
@click.option("--loki", "loki_url", metavar="URL", help="A Loki server.")
@click.option("--datadog", "datadog", type=click.Choice(["metrics", "logs"]), default=None,
              help="Datadog (keys from DD_API_KEY/DD_APP_KEY, site from DD_SITE): metrics or logs.")
@click.option("--datadog-url", default=None, help="Datadog API root instead of https://api.$DD_SITE.")
@click.option("--facet", "facets", multiple=True, help="Datadog logs: a facet to read (repeatable; @x = attribute).")
@click.option("--from-file", "from_file", type=click.Path(dir_okay=False), help="Exported JSON (see docs/own-catalog.md).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Catalog file to write (JSON, or YAML by extension).")
@click.option("--since", default="1h", show_default=True, help="Window: this long before --end.")
@click.option("--start", default=None, help="Window start (Unix seconds or RFC 3339).")
@click.option("--end", default=None, help="Window end (default: now).")
@click.option("--max-values", default=200, show_default=True, type=click.IntRange(1),
              help="Values kept per label; more are cut to the most frequent and marked high_cardinality.")
@click.option("--series-limit", default=10_000, show_default=True, type=click.IntRange(1),
              help="Prometheus: series asked for per metric and call.")
@click.option("--lines", "lines_per_kind", default=200, show_default=True, type=click.IntRange(1),
              help="Loki: lines sampled per stream kind to find fields.")
@click.option("--org-id", default=None, help="Loki: tenant (X-Scope-OrgID) of a multi-tenant Loki.")
@click.option("--match", default=None, help="Prometheus: only metric names matching this regex.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds per HTTP call.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(0), help="Retries of a failed call.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--ca-file", default=None, type=click.Path(dir_okay=False), help="CA bundle for TLS.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_command(prometheus_url, loki_url, datadog, datadog_url, facets, from_file, output, since, start, end,
                   max_values, series_limit, lines_per_kind, org_id, match, timeout, retries, insecure, ca_file, quiet):
    """Import a catalog and write it to -o (atomically: no file is left on failure).

    Credentials come from the environment only: NLQ_BEARER_TOKEN, or
    NLQ_BASIC_USER and NLQ_BASIC_PASSWORD (Prometheus, Loki); DD_API_KEY and
    DD_APP_KEY (Datadog).  They are never written to the catalog.
    """
    from nlq.catalog_import.http import HttpClient, auth_headers_from_env
    from nlq.catalog_tools import counts, write_atomic

    chosen = [x for x in (prometheus_url, loki_url, datadog, from_file) if x]
    if len(chosen) != 1:
        raise UsageError("give exactly one of --prometheus URL, --loki URL, --datadog metrics|logs, --from-file FILE")
    window = _window(since, start, end)
    options = {"timeout_s": timeout, "retries": retries, "insecure": insecure, "ca_file": ca_file}
    show = not quiet
    notes: list[str] = []
    if prometheus_url:
        from nlq.catalog_import.prometheus import import_prometheus

        client = HttpClient(prometheus_url, headers=auth_headers_from_env(), system="Prometheus API server",
                            **options)
        catalog, notes = import_prometheus(client, window, max_values=max_values, series_limit=series_limit,
                                           match=match, show_progress=show)
    elif loki_url:
        from nlq.catalog_import.loki import import_loki

        headers = auth_headers_from_env() | ({"X-Scope-OrgID": org_id} if org_id else {})
        client = HttpClient(loki_url, headers=headers, system="Loki server", **options)
        catalog, notes = import_loki(client, window, max_values=max_values, lines_per_kind=lines_per_kind,
                                     show_progress=show)
    elif datadog:
        from nlq.catalog_import import datadog as dd

        client = dd.datadog_client(url=datadog_url, **options)
        if datadog == "metrics":
            catalog, notes = dd.import_datadog_metrics(client, window, max_values=max_values, show_progress=show)
        else:
            catalog, notes = dd.import_datadog_logs(client, window, facets=tuple(facets) or dd.DEFAULT_FACETS,
                                                    max_values=max_values, show_progress=show)
    else:
        from nlq.catalog_import.files import import_file

        catalog = import_file(from_file, max_values=max_values)
    path = write_atomic(catalog, output)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in counts(catalog).items() if v)
    click.echo(f"{path}: {catalog.dialect} catalog, {summary or 'empty'}")


@command.command("merge")
@click.argument("first", type=click.Path(dir_okay=False))
@click.argument("second", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Merged catalog file.")
@click.option("--dialect", default=None, help="Dialect for minimal (hand-written) catalogs; default promql.")
def merge_command(first: str, second: str, output: str, dialect: str | None) -> None:
    """Union of two catalogs of one dialect (FIRST's type/help win where they differ)."""
    from nlq.catalog import load_catalog
    from nlq.catalog_tools import counts, merge_catalogs, write_atomic

    merged = merge_catalogs(load_catalog(first, dialect), load_catalog(second, dialect))
    write_atomic(merged, output)
    click.echo(f"{output}: {merged.dialect} catalog, " + ", ".join(f"{v} {k}" for k, v in counts(merged).items() if v))


@command.command("show")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--search", "text", default=None, help="Only entries whose name, help, labels or values contain TEXT.")
@click.option("--json", "as_json", is_flag=True, help="Print the (filtered) catalog as JSON.")
@click.option("--dialect", default=None, help="Dialect for a minimal (hand-written) catalog.")
def show_command(file: str, text: str | None, as_json: bool, dialect: str | None) -> None:
    """Print a catalog: metrics with type, unit and label values, or log labels and fields."""
    from nlq.catalog import load_catalog
    from nlq.catalog_tools import search, summary_lines

    catalog = load_catalog(file, dialect)
    if text:
        catalog = search(catalog, text)
    if as_json:
        click.echo(json.dumps(catalog.to_dict(), indent=1))
        return
    lines = summary_lines(catalog)
    if not lines:
        click.echo(f"nothing matches {text!r}" if text else "the catalog is empty", err=True)
        sys.exit(1 if text else 0)
    click.echo("\n".join(lines))


@command.command("synth")
@click.option("--catalog", "catalog_paths", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="Catalog file (repeatable: one per dialect).")
@click.option("--out", "out_dir", default=".cache/synth", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the variants' DuckDB files.")
@click.option("--variants", default=3, show_default=True, type=click.IntRange(1, 20), help="Seeded variants.")
@click.option("--seed", default=1, show_default=True, help="Base seed (variant i gets seed*1000+i).")
@click.option("--prefix", default="synth", show_default=True, help="Variant names: PREFIX-1, PREFIX-2, ...")
@click.option("--hours", default=6.0, show_default=True, type=click.FloatRange(0.1, 48), help="Window length.")
@click.option("--step", default="15s", show_default=True, help="Scrape interval.")
@click.option("--max-series", default=12, show_default=True, type=click.IntRange(1, 1000),
              help="Series per metric at most.")
def synth_command(catalog_paths, out_dir, variants, seed, prefix, hours, step, max_series) -> None:
    """Deterministic data for every metric, stream and tag of the catalogs, in snapshot tables.

    Each variant is one DuckDB file with the tables of nlq.snapshot.store, so
    the engines (`nlq.engine.run_query`) read it like a shop snapshot.
    """
    from nlq.catalog import load_catalog
    from nlq.snapshot.synth import SynthSpec, synth_world

    catalogs = []
    for path in catalog_paths:
        catalog = load_catalog(path)
        if any(c.dialect == catalog.dialect for c in catalogs):
            raise UsageError(f"two {catalog.dialect} catalogs: merge them first (nlq catalog merge)")
        catalogs.append(catalog)
    step_ms = round(_duration_s(step) * 1000)
    if step_ms < 1000:
        raise UsageError("--step must be at least 1s")
    spec = SynthSpec.default(hours=hours, step_ms=step_ms, max_series=max_series)
    started = time.perf_counter()
    for path in synth_world(catalogs, out_dir, variants=variants, base_seed=seed, prefix=prefix, spec=spec):
        click.echo(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    click.echo(f"{variants} variant(s) in {time.perf_counter() - started:.1f} s", err=True)

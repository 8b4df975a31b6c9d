"""`nlq conformance`: run nlq's engines against the real systems' own test suites."""

from __future__ import annotations

import fnmatch
import importlib
import json
import os
from pathlib import Path

import click

from nlq.errors import UsageError

SUITE_NAMES = ("promqltest", "logqltest", "datadog-search")


def corpora_dir() -> Path:
    """$NLQ_CORPORA, else ../shared/corpora beside the repository."""
    env = os.environ.get("NLQ_CORPORA")
    if env:
        return Path(env)
    import nlq

    return Path(nlq.__file__).resolve().parents[2] / "shared" / "corpora"


class SuiteNotFound(UsageError):
    exit_code = 2


def _suite_files(module, root: Path | None, file_glob: str | None) -> tuple[Path, list[Path]]:
    base = root if root is not None else corpora_dir() / module.DEFAULT_DIR
    if base.is_file():
        files = [base]
    elif base.is_dir():
        files = sorted(base.glob(module.FILE_PATTERN))
    else:
        raise SuiteNotFound(f"suite folder not found: {base} (set NLQ_CORPORA or pass --path)")
    if file_glob:
        files = [f for f in files if fnmatch.fnmatch(f.name, file_glob) or fnmatch.fnmatch(str(f), file_glob)]
    return base, files


def _load(name: str):
    from nlq.conformance import SUITES

    try:
        return importlib.import_module(SUITES[name])
    except ModuleNotFoundError as exc:
        if exc.name and SUITES[name].startswith(exc.name):
            raise SuiteNotFound(f"suite {name} is not available yet ({SUITES[name]} is missing)") from exc
        raise


def run_suite(name: str, root: Path | None = None, file_glob: str | None = None, progress=None):
    """A `SuiteReport` of suite `name` (every case of every file, run)."""
    from nlq.conformance.report import CaseResult, SuiteReport

    module = _load(name)
    _, files = _suite_files(module, root, file_glob)
    report = SuiteReport(name)
    for path in files:
        if progress is not None:
            progress(path)
        try:
            report.cases.extend(module.run_file(path))
        except Exception as exc:  # a file the runner cannot read counts as one failure
            report.cases.append(CaseResult(path.name, 0, "", "failed", got=f"{type(exc).__name__}: {exc}",
                                           reason="the file could not be run"))
    return report


@click.command("conformance")
@click.argument("suite", type=click.Choice((*SUITE_NAMES, "all")))
@click.option("--file", "file_glob", default=None, help="Only the suite's files matching this glob (e.g. 'functions*').")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--verbose", "-v", is_flag=True, help="Print every failure with its expected and actual result.")
@click.option("--path", "root", type=click.Path(path_type=Path), default=None,
              help="The suite's folder (default: <corpora>/<suite folder>; corpora = $NLQ_CORPORA or ../shared/corpora).")
def command(suite: str, file_glob: str | None, as_json: bool, verbose: bool, root: Path | None) -> None:
    """Run a conformance suite: the real systems' engine tests on nlq's engines.

    \b
    SUITE: promqltest (Prometheus's promql/promqltest), logqltest (Loki's engine
    tests), datadog-search (log search matching), or all.
    Exit status 0 when the run completes (whatever the pass rate), 2 when the
    suite or its files cannot be found.

    \b
    --json prints {"suite", "passed", "failed", "unsupported",
                   "files": [{"file", "passed", "failed", "unsupported"}],
                   "failures": [{"file", "line", "query", "expected", "got"}]};
    for `all`, a JSON list of those objects, one per suite.

    \b
    Examples:
      nlq conformance promqltest
      nlq conformance promqltest --file 'functions*' --verbose
      nlq conformance all --json > conformance.json
    """
    names = list(SUITE_NAMES) if suite == "all" else [suite]
    if suite == "all" and root is not None:
        raise UsageError("--path needs a single suite")
    reports = []
    for name in names:
        if as_json:
            try:
                reports.append(run_suite(name, root, file_glob))
            except SuiteNotFound:
                if suite != "all":
                    raise
                reports.append(None)
            continue
        reports.append(_run_with_progress(name, root, file_glob, verbose, missing_ok=(suite == "all")))
    if as_json:
        payload = [r.to_dict() for r in reports if r is not None]
        click.echo(json.dumps(payload[0] if suite != "all" else payload, indent=1))


def _run_with_progress(name, root, file_glob, verbose, missing_ok):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console()
    try:
        module = _load(name)
        _, files = _suite_files(module, root, file_glob)
    except SuiteNotFound as exc:
        if missing_ok:
            console.print(f"[yellow]{name}: skipped: {exc}[/yellow]")
            return None
        raise
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        task = progress.add_task(name, total=len(files))

        started = []

        def tick(path):
            if started:
                progress.advance(task)
            started.append(path)
            progress.update(task, description=f"{name}: {path.name}")

        report = run_suite(name, root, file_glob, progress=tick)
        progress.advance(task)
    table = Table(title=f"{name}", show_footer=True)
    table.add_column("file", footer="total")
    for status, style in (("passed", "green"), ("failed", "red"), ("unsupported", "yellow")):
        table.add_column(status, justify="right", style=style, footer=str(report.count(status)))
    table.add_column("pass rate", justify="right", footer=_rate(report.count("passed"), report.count("failed")))
    for f in report.files():
        p, fl, u = (report.count(s, f) for s in ("passed", "failed", "unsupported"))
        table.add_row(f, str(p), str(fl), str(u), _rate(p, fl))
    console.print(table)
    console.print("pass rate = passed / (passed + failed); unsupported cases are listed, with reasons, "
                  f"in conformance/{name}.unsupported")
    if verbose:
        for c in report.cases:
            if c.status == "failed":
                console.print(f"[red]FAIL[/red] {c.file}:{c.line} {c.query}", markup=True, highlight=False)
                if c.expected:
                    console.print("  expected: " + c.expected.replace("\n", "\n            "), markup=False,
                                  highlight=False)
                console.print("  got:      " + (c.got or c.reason), markup=False, highlight=False)
    return report


def _rate(passed: int, failed: int) -> str:
    total = passed + failed
    return f"{100 * passed / total:.1f}%" if total else "-"

"""The `nlq` command line: a thin layer over the library.

Each sub-command lives in its own module under `nlq/commands/` and defines a
click command named `command`; they are discovered here, so adding a command
is adding a file.  User mistakes (`NlqError`) print a clear message and exit
with the error's code; they never show a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

from nlq import commands
from nlq.errors import NlqError


class NlqGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except NlqError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=NlqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nlq")
def main() -> None:
    """nlq: translate questions about telemetry into PromQL, LogQL and Datadog queries.

    \b
    Dialects: promql, logql, datadog-metrics, datadog-logs.
    Examples:
      nlq validate --dialect promql 'sum by (service) (rate(http_requests_total[5m]))'
      nlq format --dialect logql '{service="cart"}|="error"'
    """


def _register_commands() -> None:
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        command = getattr(module, "command", None)
        if isinstance(command, click.Command):
            main.add_command(command)


_register_commands()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

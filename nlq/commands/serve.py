"""`nlq serve`: the HTTP service (Slack slash command, editor JSON API, metrics)."""

from __future__ import annotations

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; keep 127.0.0.1 behind a reverse proxy.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config file (JSON, YAML or TOML); NLQ_SERVE_CONFIG also names one. "
                   "Environment variables override it.")
@click.option("--model", default=None, help="Model backend spec (NLQ_MODEL); default embedded.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True)
def command(host: str, port: int, config_path: str | None, model: str | None, log_level: str):
    """Serve POST /slack/commands, the /v1 editor API, /metrics, /healthz and /readyz.

    The model loads in the background; /readyz answers 200 once it is in.
    Logs are JSON lines on stderr.  See docs/slack.md for the Slack side.

    \b
    Examples:
      NLQ_SLACK_SIGNING_SECRET=... nlq serve --port 8080
      nlq serve --config nlq-serve.toml
    """
    import uvicorn

    from nlq.service.app import create_app
    from nlq.service.config import load_config
    from nlq.service.logs import setup_logging

    config = load_config(config_path, model=model)
    setup_logging(log_level)
    app = create_app(config)
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=5)

"""`nlq serve`: the HTTP service (Slack slash command, editor JSON API, metrics).

Modules, one job each:

| module | job |
|---|---|
| `config` | settings from environment variables and an optional config file |
| `limits` | body size, per-client rate limit, the bounded model queue with its timeout |
| `redaction` | strips secrets, tokens, e-mail and IP addresses from text before it is logged |
| `logs` | JSON log lines, each with the request id |
| `telemetry` | Prometheus metrics and OpenTelemetry GenAI spans |
| `translator` | the model (loaded in the background), catalogs, translation through the queue |
| `slack` | signature check, replay guard, command parsing, Block Kit answers |
| `api` | the editor JSON API (`/v1/...`) |
| `app` | assembles the ASGI app |

Import `nlq.service.app.create_app` for the app; this package itself imports nothing heavy.
"""

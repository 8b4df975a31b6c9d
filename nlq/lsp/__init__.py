"""`nlq lsp`: a language server for PromQL, LogQL and Datadog query files.

| module | job |
|---|---|
| `documents` | which dialect a document is, and the queries (blocks) in it |
| `vocabulary` | the functions of each dialect, with one-line docs |
| `completion` | completion items and hover texts from the vocabulary and the catalog (also used by /v1/complete) |
| `server` | the pygls 2.x server: diagnostics, completion, hover, formatting, code actions |

Only `server` imports pygls.
"""

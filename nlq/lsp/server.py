"""The pygls 2.x language server behind `nlq lsp` (stdio).

Features, each per query block of the document (see `nlq.lsp.documents`):

* diagnostics on open and on every change (pushed, with the document version
  so clients like Helix keep them; an empty list clears fixed errors);
* completion of functions, metrics, labels and values (`nlq.lsp.completion`);
* hover docs for functions and catalog metrics, labels and fields;
* formatting with the dialect's canonical formatter (blocks that do not parse
  are left alone);
* a code action on a `# comment` line or a selected sentence: "Translate into
  <dialect>", which runs `nlq.translate` (model) on a worker thread and
  inserts the query with workspace/applyEdit.

Catalogs: `initializationOptions.catalogs` ({dialect: path}), else
NLQ_CATALOG_<DIALECT>, else the bundled snapshot.  Nothing may print to
stdout: it is the protocol stream.
"""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.doubts import doubts
from nlq.errors import NlqError, QueryError
from nlq.lsp import completion
from nlq.lsp.documents import Block, blocks, dialect_of, offset, position

LOGGER = logging.getLogger("nlq.lsp")
TRANSLATE_COMMAND = "nlq.translate"
SOURCE = "nlq"
KINDS = {
    "function": types.CompletionItemKind.Function,
    "aggregation": types.CompletionItemKind.Operator,
    "keyword": types.CompletionItemKind.Keyword,
    "metric": types.CompletionItemKind.Variable,
    "label": types.CompletionItemKind.Field,
    "value": types.CompletionItemKind.Value,
}


class NlqLanguageServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("nlq", "0.1.0", text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.catalog_paths: dict[str, str] = {}
        self.model_spec: str | None = os.environ.get("NLQ_MODEL")
        self._catalogs: dict[str, Catalog | None] = {}
        self.language_ids: dict[str, str] = {}

    def dialect(self, uri: str) -> str | None:
        return dialect_of(uri, self.language_ids.get(uri))

    def catalog(self, dialect: str) -> Catalog | None:
        if dialect not in self._catalogs:
            path = self.catalog_paths.get(dialect) or os.environ.get(
                "NLQ_CATALOG_" + dialect.upper().replace("-", "_"))
            try:
                if path:
                    self._catalogs[dialect] = load_catalog(path, dialect)
                else:
                    from nlq.translate import default_catalog

                    self._catalogs[dialect] = default_catalog(dialect)
            except NlqError as exc:
                self.window_show_message(types.ShowMessageParams(types.MessageType.Warning,
                                                                 f"nlq: {exc}"))
                self._catalogs[dialect] = None
        return self._catalogs[dialect]


server = NlqLanguageServer()


def _range(text: str, start: int, end: int) -> types.Range:
    return types.Range(types.Position(*position(text, start)), types.Position(*position(text, end)))


def _diagnostic(text: str, block: Block, error: QueryError) -> types.Diagnostic:
    if error.position is None:
        start, end = block.start, block.end
    else:
        start = block.start + error.position
        end = block.start + (error.end if error.end and error.end > error.position else error.position + 1)
        end = min(end, block.end)
    message = error.headline().split(": ", 1)[-1] if error.position is not None else error.message
    if error.expected:
        message += "\nexpected " + ", ".join(error.expected[:8])
    if error.hint:
        message += "\nhint: " + error.hint
    severity = types.DiagnosticSeverity.Error
    return types.Diagnostic(range=_range(text, start, max(end, start)), message=message,
                            severity=severity, source=SOURCE, code=error.kind)


def diagnostics(text: str, dialect: str, catalog: Catalog | None) -> list[types.Diagnostic]:
    """One diagnostic per query block that fails validation, and a warning per valid block
    that says nothing about the data (nlq.degenerate)."""
    spec = dialects.get(dialect)
    out = []
    for block in blocks(text):
        try:
            node = spec.validate(block.text, catalog)
        except QueryError as error:
            out.append(_diagnostic(text, block, error))
        except Exception as exc:  # noqa: BLE001 - a checker bug must not kill the session
            LOGGER.exception("validator crashed")
            out.append(types.Diagnostic(range=_range(text, block.start, block.end), source=SOURCE,
                                        message=f"nlq internal error: {type(exc).__name__}: {exc}",
                                        severity=types.DiagnosticSeverity.Warning))
        else:
            # valid, so warnings: the system would run these queries
            for code, finding in doubts(node, block.text, catalog):
                start, end = finding.span or (0, len(block.text))
                out.append(types.Diagnostic(range=_range(text, block.start + start, block.start + end),
                                            message=finding.message, source=SOURCE, code=code,
                                            severity=types.DiagnosticSeverity.Warning))
    return out


def publish(ls: NlqLanguageServer, uri: str) -> None:
    dialect = ls.dialect(uri)
    if dialect is None:
        return
    document = ls.workspace.get_text_document(uri)
    try:
        items = diagnostics(document.source, dialect, ls.catalog(dialect))
    except (ImportError, NlqError) as exc:
        ls.window_log_message(types.LogMessageParams(types.MessageType.Warning, f"nlq: {exc}"))
        return
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=uri, version=document.version, diagnostics=items))


@server.feature(types.INITIALIZE)
def initialize(ls: NlqLanguageServer, params: types.InitializeParams) -> None:
    options = params.initialization_options or {}
    if isinstance(options, dict):
        catalogs = options.get("catalogs") or {}
        if isinstance(catalogs, dict):
            ls.catalog_paths = {str(k): str(v) for k, v in catalogs.items()}
        if options.get("model"):
            ls.model_spec = str(options["model"])


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NlqLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
    ls.language_ids[params.text_document.uri] = params.text_document.language_id
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NlqLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
    publish(ls, params.text_document.uri)


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NlqLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.language_ids.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(
        types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))


@server.feature(types.TEXT_DOCUMENT_COMPLETION,
                types.CompletionOptions(trigger_characters=["{", "\"", ",", "(", ":", "@", "|", " "]))
def complete(ls: NlqLanguageServer, params: types.CompletionParams) -> types.CompletionList:
    uri = params.text_document.uri
    dialect = ls.dialect(uri)
    if dialect is None:
        return types.CompletionList(is_incomplete=False, items=[])
    text = ls.workspace.get_text_document(uri).source
    at = offset(text, params.position.line, params.position.character)
    items = [
        types.CompletionItem(
            label=item.label, kind=KINDS.get(item.kind), detail=item.detail or None,
            documentation=types.MarkupContent(types.MarkupKind.Markdown, item.documentation)
            if item.documentation else None,
            insert_text=item.insert_text or item.label)
        for item in completion.complete(text, at, dialect, ls.catalog(dialect))
    ]
    return types.CompletionList(is_incomplete=False, items=items)


@server.feature(types.TEXT_DOCUMENT_HOVER)
def hover(ls: NlqLanguageServer, params: types.HoverParams) -> types.Hover | None:
    uri = params.text_document.uri
    dialect = ls.dialect(uri)
    if dialect is None:
        return None
    text = ls.workspace.get_text_document(uri).source
    found = completion.hover(text, offset(text, params.position.line, params.position.character),
                             dialect, ls.catalog(dialect))
    if found is None:
        return None
    markdown, start, end = found
    return types.Hover(contents=types.MarkupContent(types.MarkupKind.Markdown, markdown),
                       range=_range(text, start, end))


@server.feature(types.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: NlqLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
    uri = params.text_document.uri
    dialect = ls.dialect(uri)
    if dialect is None:
        return []
    spec = dialects.get(dialect)
    text = ls.workspace.get_text_document(uri).source
    edits = []
    for block in blocks(text):
        try:
            formatted = spec.format(spec.parse(block.text))
        except QueryError:
            continue  # the diagnostic already says why; never rewrite what does not parse
        if formatted != block.text:
            edits.append(types.TextEdit(range=_range(text, block.start, block.end), new_text=formatted))
    return edits


@server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.RefactorRewrite]))
def code_actions(ls: NlqLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    uri = params.text_document.uri
    dialect = ls.dialect(uri)
    if dialect is None:
        return []
    text = ls.workspace.get_text_document(uri).source
    lines = text.split("\n")
    start = offset(text, params.range.start.line, params.range.start.character)
    end = offset(text, params.range.end.line, params.range.end.character)
    title = dialects.get(dialect).title
    if end > start:
        question = text[start:end].strip().lstrip("#").strip()
        target = {"mode": "replace", "start": start, "end": end}
    else:
        line = params.range.start.line
        current = lines[line] if line < len(lines) else ""
        if not current.lstrip().startswith("#"):
            return []
        question = current.lstrip().lstrip("#").strip()
        target = {"mode": "insert_after", "line": line}
    if not question:
        return []
    argument = {"uri": uri, "version": ls.workspace.get_text_document(uri).version,
                "question": question, "dialect": dialect, **target}
    return [types.CodeAction(
        title=f"Translate into {title}: {question[:60]}",
        kind=types.CodeActionKind.RefactorRewrite,
        command=types.Command(title=f"Translate into {title}", command=TRANSLATE_COMMAND,
                              arguments=[argument]))]


@server.command(TRANSLATE_COMMAND)
async def translate_command(ls: NlqLanguageServer, *arguments: Any) -> dict:
    """Translate the question and insert the query (workspace/applyEdit)."""
    from nlq.translate import translate

    if not arguments or not isinstance(arguments[0], dict):
        return {"status": "error", "message": "nlq.translate takes one object argument"}
    request = arguments[0]
    dialect = str(request.get("dialect", ""))
    question = str(request.get("question", ""))
    uri = str(request.get("uri", ""))
    result = await asyncio.to_thread(translate, question, dialect, ls.catalog(dialect), ls.model_spec)
    if not result.ok:
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Warning,
                                                       f"nlq: {result.message}"))
        return {"status": result.status, "message": result.message}
    text = ls.workspace.get_text_document(uri).source
    if request.get("mode") == "replace":
        edit_range = _range(text, int(request["start"]), int(request["end"]))
        new_text = result.query
    else:
        line = int(request.get("line", 0))
        line_end = position(text, offset(text, line, 10**9))
        edit_range = types.Range(types.Position(*line_end), types.Position(*line_end))
        new_text = "\n" + result.query
    edit = types.WorkspaceEdit(changes={uri: [types.TextEdit(range=edit_range, new_text=new_text)]})
    applied = await ls.workspace_apply_edit_async(types.ApplyWorkspaceEditParams(
        edit=edit, label=f"nlq: {question[:40]}"))
    return {"status": "ok", "query": result.query, "explanation": result.explanation,
            "applied": bool(applied and applied.applied)}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)  # stderr: stdout carries the protocol
    server.start_io()

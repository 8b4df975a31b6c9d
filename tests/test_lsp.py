"""`nlq lsp` driven by pygls's own client over stdio, as an editor would."""

from __future__ import annotations

import ast
import asyncio
import json
import subprocess
import sys

import pytest
from lsprotocol import types
from pygls.lsp.client import LanguageClient

from nlq.validation import validate

URI = "file:///work/queries/errors.logql"


class Session:
    """A started client with the diagnostics and applyEdit requests it received."""

    def __init__(self) -> None:
        self.client = LanguageClient("nlq-test", "1")
        self.diagnostics: dict[str, list[list[types.Diagnostic]]] = {}
        self.edits: list[types.ApplyWorkspaceEditParams] = []
        self.changed = asyncio.Event()

        @self.client.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def on_diagnostics(ls, params: types.PublishDiagnosticsParams):
            self.diagnostics.setdefault(params.uri, []).append(params.diagnostics)
            self.changed.set()

        @self.client.feature(types.WORKSPACE_APPLY_EDIT)
        def on_apply_edit(ls, params: types.ApplyWorkspaceEditParams):
            self.edits.append(params)
            self.changed.set()
            return types.ApplyWorkspaceEditResult(applied=True)

        @self.client.feature(types.WINDOW_SHOW_MESSAGE)
        def on_message(ls, params):
            pass

    async def start(self) -> None:
        await self.client.start_io(sys.executable, "-m", "nlq.cli", "lsp")
        await self.client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), process_id=None, root_uri="file:///work/queries"))
        self.client.initialized(types.InitializedParams())

    async def next_diagnostics(self, uri: str, count: int, timeout: float = 30) -> list[types.Diagnostic]:
        async def wait():
            while len(self.diagnostics.get(uri, [])) < count:
                self.changed.clear()
                await self.changed.wait()
            return self.diagnostics[uri][count - 1]

        return await asyncio.wait_for(wait(), timeout)

    async def stop(self) -> None:
        await self.client.shutdown_async(None)
        self.client.exit(None)
        await self.client.stop()


def open_document(session: Session, uri: str, text: str, language_id: str = "logql") -> None:
    session.client.text_document_did_open(types.DidOpenTextDocumentParams(
        types.TextDocumentItem(uri=uri, language_id=language_id, version=1, text=text)))


def change_document(session: Session, uri: str, text: str, version: int) -> None:
    session.client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


def code_action(item) -> dict:
    """A code action as the JSON the server sent.

    lsprotocol 2025.0.0's client-side hook structures every result item that has a
    `command` key as a `Command`, so our CodeAction (title, kind, command object)
    arrives as Command(command=<the command object's repr>).  The wire format itself
    is checked by `test_code_action_wire_format` with a raw JSON-RPC client.
    """
    if isinstance(item, types.Command) and isinstance(item.command, str) and item.command.startswith("{"):
        return {"title": item.title, "command": ast.literal_eval(item.command)}
    return {"title": item.title, "kind": item.kind,
            "command": {"command": item.command.command, "arguments": item.command.arguments}}


def run(coroutine):
    return asyncio.run(coroutine)


def test_diagnostics_completion_hover_formatting_and_code_action():
    async def scenario():
        session = Session()
        await session.start()
        try:
            text = '# errors of the cart service\n{service="cart"} |= "error"\n\nrate({service="cart"})\n'
            open_document(session, URI, text)
            first = await session.next_diagnostics(URI, 1)
            assert len(first) == 1
            assert first[0].range.start.line == 3 and first[0].source == "nlq"
            assert first[0].severity == types.DiagnosticSeverity.Error

            fixed = text.replace("rate({service=\"cart\"})", "rate({service=\"cart\"}[5m])")
            change_document(session, URI, fixed, 2)
            assert len(await session.next_diagnostics(URI, 2)) == 0

            unknown = fixed + '\n{service="nope"}\n'
            change_document(session, URI, unknown, 3)
            catalog_problem = await session.next_diagnostics(URI, 3)
            assert len(catalog_problem) == 1 and catalog_problem[0].code == "catalog"

            # completion of a label value inside the selector on line 1
            result = await session.client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(URI), position=types.Position(1, 10)))
            labels = {item.label for item in result.items}
            assert {"cart", "payments"} <= labels

            hover = await session.client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(URI), position=types.Position(3, 2)))
            assert "rate" in hover.contents.value and "log lines per second" in hover.contents.value

            messy = '{service="cart"}|="error"\n'
            change_document(session, URI, messy, 4)
            edits = await session.client.text_document_formatting_async(types.DocumentFormattingParams(
                text_document=types.TextDocumentIdentifier(URI),
                options=types.FormattingOptions(tab_size=2, insert_spaces=True)))
            assert [e.new_text for e in edits] == ['{service="cart"} |= "error"']

            change_document(session, URI, text, 5)
            actions = await session.client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(URI),
                range=types.Range(types.Position(0, 3), types.Position(0, 3)),
                context=types.CodeActionContext(diagnostics=[])))
            assert len(actions) == 1
            action = code_action(actions[0])
            assert action["command"]["command"] == "nlq.translate"
            assert action["command"]["arguments"][0]["question"] == "errors of the cart service"
            none_here = await session.client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(URI),
                range=types.Range(types.Position(1, 2), types.Position(1, 2)),
                context=types.CodeActionContext(diagnostics=[])))
            assert not none_here
        finally:
            await session.stop()

    run(scenario())


def test_datadog_file_by_extension_and_promql_by_language_id():
    async def scenario():
        session = Session()
        await session.start()
        try:
            dd = "file:///work/q/cpu.ddq"
            open_document(session, dd, "avg:system.cpu.user{host:ip-10-0-1-17} by {host}\n", language_id="plaintext")
            assert len(await session.next_diagnostics(dd, 1)) == 0
            completion = await session.client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(dd), position=types.Position(0, 7)))
            assert "system.cpu.user" in {i.label for i in completion.items}
            hover = await session.client.text_document_hover_async(types.HoverParams(
                text_document=types.TextDocumentIdentifier(dd), position=types.Position(0, 10)))
            assert "system.cpu.user" in hover.contents.value and "host" in hover.contents.value
            prom = "file:///work/q/untitled-1"
            open_document(session, prom, "sum(rate(http_requests_total[5m])\n", language_id="promql")
            problems = await session.next_diagnostics(prom, 1)
            assert len(problems) == 1
        finally:
            await session.stop()

    run(scenario())


@pytest.mark.slow
@pytest.mark.model
def test_code_action_translates_a_comment_with_the_model():
    async def scenario():
        session = Session()
        await session.start()
        try:
            text = "# error logs of the cart service\n"
            open_document(session, URI, text)
            await session.next_diagnostics(URI, 1)
            actions = await session.client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(URI),
                range=types.Range(types.Position(0, 0), types.Position(0, 0)),
                context=types.CodeActionContext(diagnostics=[])))
            command = code_action(actions[0])["command"]
            result = await asyncio.wait_for(session.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command=command["command"], arguments=command["arguments"])), 400)
            assert result["status"] == "ok", result
            assert session.edits, "the server did not send workspace/applyEdit"
            edit = session.edits[0].edit.changes[URI][0]
            assert edit.range.start.line == 0 and edit.new_text.startswith("\n")
            query = edit.new_text.strip()
            assert query == result["query"]
            assert validate(query, "logql").valid
            assert "cart" in query
        finally:
            await session.stop()

    run(scenario())


def _rpc(process: subprocess.Popen, message: dict) -> None:
    data = json.dumps(message).encode()
    process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
    process.stdin.flush()


def _read(process: subprocess.Popen) -> dict:
    length = 0
    while (line := process.stdout.readline().strip()):
        name, _, value = line.decode().partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return json.loads(process.stdout.read(length))


def test_code_action_wire_format():
    """A raw JSON-RPC client over the server's stdio: the code action is a CodeAction with a command."""
    process = subprocess.Popen([sys.executable, "-m", "nlq.cli", "lsp"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        _rpc(process, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                       "params": {"capabilities": {}, "processId": None, "rootUri": None}})
        assert _read(process)["result"]["capabilities"]["codeActionProvider"]
        _rpc(process, {"jsonrpc": "2.0", "method": "initialized", "params": {}})
        _rpc(process, {"jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {"textDocument": {
            "uri": "file:///q/a.promql", "languageId": "promql", "version": 1,
            "text": "# 5xx rate of checkout\n"}}})
        _rpc(process, {"jsonrpc": "2.0", "id": 2, "method": "textDocument/codeAction", "params": {
            "textDocument": {"uri": "file:///q/a.promql"},
            "range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
            "context": {"diagnostics": []}}})
        while (message := _read(process)).get("id") != 2:
            pass  # diagnostics notifications come first
        [action] = message["result"]
        assert action["kind"] == "refactor.rewrite"
        assert action["title"].startswith("Translate into PromQL")
        assert action["command"]["command"] == "nlq.translate"
        assert action["command"]["arguments"][0]["dialect"] == "promql"
        _rpc(process, {"jsonrpc": "2.0", "id": 3, "method": "shutdown", "params": None})
        while _read(process).get("id") != 3:
            pass
        _rpc(process, {"jsonrpc": "2.0", "method": "exit", "params": None})
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_valid_block_that_says_nothing_gets_a_warning_not_an_error():
    from nlq.lsp.server import diagnostics

    text = 'up{job="a"}\n\nup{job="a"} - up{job="a"}\n\nup{job="a", job="a"}\n'
    found = diagnostics(text, "promql", None)
    assert [d.severity for d in found] == [types.DiagnosticSeverity.Warning] * 2
    assert {d.code for d in found} == {"degenerate"} and found[0].message.startswith("both sides of `-`")
    whole, repeat = found[0].range, found[1].range  # the operation; the second copy of the matcher
    assert (whole.start.line, whole.start.character, whole.end.character) == (2, 0, 25)
    assert (repeat.start.line, repeat.start.character, repeat.end.character) == (4, 12, 19)

"""`nlq lsp`: the language server for .promql, .logql, .ddq and .ddlogs files (stdio)."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Speak LSP over stdin/stdout (the default and only transport).")
def command(stdio: bool) -> None:
    """Run the nlq language server over stdio.

    Diagnostics as you type, completion of functions, metrics, labels and
    values, hover docs, formatting, and a code action that turns a `# comment`
    or a selected sentence into a query.  See docs/editor.md for VS Code,
    Neovim and Helix.
    """
    from nlq.lsp.server import main

    main()

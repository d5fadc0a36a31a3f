"""The CLI reference (``docs/cli.md``), generated from the Click commands themselves.

``scripts/cli_docs.py`` writes it; ``tests/test_docs.py`` fails when the file is stale, so
a command or option cannot exist undocumented (datasette does the same with cog).
"""

from __future__ import annotations

from collections.abc import Iterator

import click

WIDTH = 100

HEADER = """# CLI reference

Every `lakebox` command with its `--help`, generated from the code by `scripts/cli_docs.py`
(a test fails when this page is stale: run `.venv/bin/python scripts/cli_docs.py` after
changing a command). Getting started: [getting-started.md](getting-started.md).

Global options (`--box`, `--output`, `--verbose`) come before the command:
`lakebox --box demo.lakebox --output json fg list`. Most commands also take `-o json` after
their name.
"""


def _walk(command: click.Command, ctx: click.Context) -> Iterator[tuple[str, click.Context]]:
    yield ctx.command_path, ctx
    if isinstance(command, click.Group):
        for name in sorted(command.list_commands(ctx)):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from _walk(
                sub, click.Context(sub, info_name=name, parent=ctx, terminal_width=WIDTH, max_content_width=WIDTH)
            )


def render(root: click.Command | None = None) -> str:
    """The whole reference as Markdown: a contents list, then each command's help."""
    if root is None:
        from lakebox.cli import cli

        root = cli
    # the root's own settings (-h/--help): contexts built by hand do not apply context_settings
    settings = {k: v for k, v in root.context_settings.items() if k == "help_option_names"}
    top = click.Context(root, info_name="lakebox", terminal_width=WIDTH, max_content_width=WIDTH, **settings)
    entries = list(_walk(root, top))
    lines = [HEADER, "## Commands", ""]
    for path, ctx in entries[1:]:
        depth = path.count(" ") - 1
        summary = ctx.command.get_short_help_str(limit=80)
        lines.append(f"{'  ' * depth}- [`{path}`](#{_anchor(path)}): {summary}")
    lines.append("")
    for path, ctx in entries:
        lines += [f"## {path}", "", "```text", ctx.command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _anchor(path: str) -> str:
    """GitHub's heading anchor for ``## lakebox fg ingest``."""
    return "-".join(path.lower().split())

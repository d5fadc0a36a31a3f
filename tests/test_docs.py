"""The user docs stay true: the CLI reference matches the commands, every link resolves inside
the repository, and the getting-started page reaches every user page."""

from __future__ import annotations

import re
from pathlib import Path

import click

from lakebox.cli import cli
from lakebox.cli.reference import render

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")
USER_PAGES = ("concepts.md", "cli.md", "teaching.md", "interop.md", "tui.md")


def test_cli_reference_is_current() -> None:
    assert (DOCS / "cli.md").read_text(encoding="utf-8") == render(), (
        "docs/cli.md is stale: run .venv/bin/python scripts/cli_docs.py"
    )


def test_cli_reference_documents_every_command_and_option() -> None:
    text = render()

    def walk(command: click.Command, path: str) -> None:
        assert f"## {path}\n" in text, path
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert opt in text, f"{path} {opt}"
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                if not sub.hidden:
                    walk(sub, f"{path} {name}")

    walk(cli, "lakebox")


def _links(page: Path) -> list[str]:
    return [m for m in LINK.findall(page.read_text(encoding="utf-8")) if not m.startswith(("http://", "https://", "#"))]


def test_doc_links_resolve_inside_the_repository() -> None:
    bad = []
    for page in sorted(DOCS.glob("*.md")):
        for link in _links(page):
            target = (page.parent / link.split("#")[0]).resolve()
            if not target.is_relative_to(ROOT) or not target.exists():
                bad.append(f"{page.name}: {link}")
    assert not bad, bad


def test_getting_started_links_every_user_page_and_says_how_to_run_lakebox() -> None:
    page = DOCS / "getting-started.md"
    links = set(_links(page))
    assert set(USER_PAGES) <= links
    text = page.read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in text and ".venv/bin/lakebox" in text

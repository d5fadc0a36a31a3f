"""``lakebox projects list|create``: the boxes of a projects home (``lakebox serve --home``)."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.markup import escape

from lakebox.cli.state import State, output_option, pass_state

home_option = click.option(
    "--home", type=click.Path(file_okay=False, path_type=Path), default=lambda: os.environ.get("LAKEBOX_PROJECTS", "."),
    show_default="$LAKEBOX_PROJECTS or the current directory", help="The folder holding the projects' boxes.",
)  # fmt: skip


@click.group("projects", short_help="Projects of a home served by `lakebox serve --home DIR`.")
def projects() -> None:
    """Projects of a home folder: each box in it (NAME.lakebox) is a project served by
    `lakebox serve --home DIR` under /api/v1/projects/NAME, with its own users, keys and
    audit log. Manage one project's keys with `lakebox --box DIR/NAME.lakebox apikey ...`."""


@projects.command("list", short_help="List the projects of a home.")
@home_option
@output_option
@pass_state
def list_projects(state: State, home: Path) -> None:
    """List the projects (boxes) under --home."""
    from lakebox.server.projects import find_boxes

    rows = [{"project": name, "box": str(folder)} for name, folder in find_boxes(home)]
    data = {"columns": [{"name": "project", "type": "string"}, {"name": "box", "type": "string"}], "rows": rows,
            "row_count": len(rows)}  # fmt: skip
    state.out.rows(data, title=f"Projects in {home}")


@projects.command("create", short_help="Create a project (a new box in the home).")
@click.argument("name")
@home_option
@output_option
@pass_state
def create_project(state: State, name: str, home: Path) -> None:
    """Create project NAME as the box HOME/NAME.lakebox."""
    import lakebox
    from lakebox.server.projects import create_box

    home.mkdir(parents=True, exist_ok=True)
    folder = create_box(home, name)
    lakebox.connect(folder).close()
    state.out.result({"project": name, "box": str(folder)},
                     f"[green]✓[/] Created project [bold]{escape(name)}[/] at {escape(str(folder))}.")  # fmt: skip

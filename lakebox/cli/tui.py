"""``lakebox tui [BOX]``: the terminal registry browser (Textual, imported only when used)."""

from __future__ import annotations

from pathlib import Path

import click

from lakebox.box import TOML_NAME
from lakebox.cli.state import State, pass_state
from lakebox.extras import require


@click.command("tui", short_help="Browse a box in the terminal.")
@click.argument("box", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--read-only", is_flag=True, help="Browse only: editing descriptions and tags is off.")
@pass_state
def tui(state: State, box: Path | None, read_only: bool) -> None:
    """Browse the box at BOX (default: --box, $LAKEBOX_HOME or ./.lakebox) in a terminal UI.

    Search (/), the assets by kind, schemas, commit history with time travel, data previews,
    statistics, lineage (l), and editing of descriptions (e) and tags (t, d). ? shows every key.
    """
    where = (box if box is not None else state.box_path).expanduser()
    if not (where / TOML_NAME).is_file():
        state.open(where)  # raises the CLI's usual "No box at ..." error
    require("textual", "The terminal browser (lakebox tui)")  # MissingDependencyError: pip install 'lakebox[tui]'
    from lakebox.tui import BrowserApp
    # The box opens in the app's first worker, so the first screen shows at once.
    BrowserApp(opener=lambda: state.open(where), read_only=read_only).run()

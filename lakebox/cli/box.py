"""``lakebox doctor``, ``lakebox backup`` and ``lakebox box relocate``: operating a whole box.

A few lines each over ``lakebox.ops``. These work on a box that may be damaged, so they take
the box directory itself and never open it through ``lakebox.connect``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from lakebox.box import TOML_NAME
from lakebox.cli.formats import plural
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import StorageError

_STYLE = {"error": "red", "warning": "yellow", "info": "dim"}


def _box(state: State, path: Path | None) -> Path:
    where = Path(path if path is not None else state.box_path).expanduser().resolve()
    if not where.is_dir() or not (any(where.iterdir()) or (where / TOML_NAME).exists()):
        raise StorageError(f"No box at {where}: pass the box directory (or --box PATH).", path=str(where))
    return where


@click.command("doctor", short_help="Check a box end to end; --repair fixes what is safe.")
@click.argument("box", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--repair", is_flag=True, help="Repair what can be repaired safely, then check again.")
@click.option("--from-backup", "backup", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="A backup made by `lakebox backup`: restores a lost catalog and missing files from it.")
@click.option("--sample", default=1000, show_default=True, help="Keys per online group compared with the offline store.")
@click.option("--all-keys", is_flag=True, help="Compare every key of every online group (slower).")
@output_option
@pass_state
@click.pass_context
def doctor(ctx: click.Context, state: State, box: Path | None, repair: bool, backup: Path | None, sample: int,
           all_keys: bool) -> None:
    """Check BOX (default: --box, $LAKEBOX_HOME or ./.lakebox): the catalog's integrity, every
    group's Iceberg metadata and data files, commit log, pins and online store, orphan files
    and disk space. Exits with status 1 while errors remain.

    \b
    Examples:
      lakebox doctor
      lakebox doctor --repair --from-backup /backups/box-monday
    """
    from lakebox.ops import doctor as checks
    from lakebox.ops import repair as repairs

    root = _box(state, box)
    keys = None if all_keys else sample
    with state.busy("Checking the box…"):
        report = repairs.repair(root, backup=backup, sample=keys) if repair else checks.check(root, sample=keys)
    if state.text:
        _print_report(state, report.to_dict())
    else:
        state.out.result(report.to_dict(), "")
    if not report.ok:
        ctx.exit(1)


def _print_report(state: State, data: dict[str, Any]) -> None:
    console = state.console
    checked = data["checked"]
    summary = ", ".join(f"{v} {k}" for k, v in checked.items())
    for action in data["repaired"]:
        console.print(f"[green]✓ repaired[/] {escape(action)}")
    if data["findings"]:
        table = Table(title=f"lakebox doctor: {escape(data['box'])}", show_lines=True)
        for column in ("severity", "what", "fix"):
            table.add_column(column, overflow="fold")
        for finding in data["findings"]:
            style = _STYLE.get(finding["severity"], "")
            table.add_row(f"[{style}]{finding['severity']}[/]", escape(finding["what"]), escape(finding["fix"]))
        console.print(table)
    for item in data["not_repaired"]:
        console.print(f"[red]✗ not repaired[/] {escape(item)}")
    if data["ok"] and not data["findings"]:
        console.print(f"[green]✓[/] The box is healthy ({summary}).")
    elif data["ok"]:
        console.print(f"[green]✓[/] No errors ({summary}); see the notes above.")


@click.command("backup", short_help="Copy a live box consistently (writers keep going).")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@output_option
@pass_state
def backup(state: State, paths: tuple[Path, ...]) -> None:
    """lakebox backup [BOX] DEST: copy BOX (default: --box, $LAKEBOX_HOME or ./.lakebox) to
    the new directory DEST while writers keep writing. DEST is itself a box: connect to it, or
    use it with `lakebox doctor --repair --from-backup DEST`.
    """
    from lakebox.ops.backup import backup as run

    if len(paths) > 2:
        raise click.UsageError("lakebox backup takes [BOX] DEST.")
    box, dest = (paths[0], paths[1]) if len(paths) == 2 else (None, paths[0])
    with state.busy("Backing up…"):
        report = run(_box(state, box), dest)
    data = report.to_dict()
    state.out.result(data, f"[green]✓[/] Backed up {escape(data['source'])} to [bold]{escape(data['destination'])}[/] "
                           f"({plural(len(data['tables']), 'table')}, {plural(data['files'], 'file')}, {data['bytes'] / 2**20:.1f} MiB).")


@click.group("box", short_help="The box as a whole: relocate.")
def box() -> None:
    """Operations on the box directory as a whole (see also `lakebox doctor` and `lakebox backup`)."""


@box.command("relocate", short_help="Rewrite Iceberg metadata after the box was moved or copied.")
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=Path))
@output_option
@pass_state
def relocate(state: State, path: Path | None) -> None:
    """Rewrite the Iceberg metadata of a copied or moved box (default: --box, $LAKEBOX_HOME or
    ./.lakebox) for its current directory, so Spark, Trino and pyiceberg read this box's
    files and not the original's. lakebox itself reads a moved box correctly either way.
    """
    from lakebox.ops.relocate import relocate as run

    with state.busy("Relocating…"):
        report = run(_box(state, path))
    data = report.to_dict()
    if not data["tables"] and data["origin"] == data["current"]:
        message = "The box has not moved: nothing to rewrite."
    else:
        message = f"[green]✓[/] Rewrote the metadata of {plural(len(data['tables']), 'table')} for {escape(data['current'])}."
    state.out.result(data, message)


commands = (doctor, backup, box)

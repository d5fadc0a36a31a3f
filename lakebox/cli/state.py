"""What every CLI command shares: the box path, the output format, the consoles, time arguments."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from lakebox.box import TOML_NAME, default_path
from lakebox.cli.output import OUTPUT_FORMATS, Output, make_output
from lakebox.errors import StorageError

if TYPE_CHECKING:
    from rich.console import Console

    from lakebox.project import Project

F = TypeVar("F", bound=Callable[..., Any])

_COMMIT_ID = re.compile(r"^\s*\d+\s*$")


@dataclass
class State:
    """Per-invocation settings from the global options (``ctx.obj``)."""

    box: Path | None = None
    output: str = "text"
    _projects: list[Project] = field(default_factory=list)
    _consoles: dict[str, Console] = field(default_factory=dict, repr=False)

    @property
    def console(self) -> Console:
        """rich's console on stdout, made on first use (``-o json`` never imports rich)."""
        if "out" not in self._consoles:
            from rich.console import Console

            # no emoji codes: data such as a certificate fingerprint (65:AB:B4) or a name
            # between colons would be printed as an emoji (:ab: is one)
            self._consoles["out"] = Console(emoji=False)
        return self._consoles["out"]

    @property
    def err_console(self) -> Console:
        """rich's console on stderr (spinners, progress, text errors), made on first use."""
        if "err" not in self._consoles:
            from rich.console import Console

            self._consoles["err"] = Console(stderr=True, emoji=False)
        return self._consoles["err"]

    @property
    def box_path(self) -> Path:
        """``--box``, else ``$LAKEBOX_HOME``, else ``./.lakebox``."""
        return self.box if self.box is not None else default_path()

    @property
    def out(self) -> Output:
        if self.output == "json":
            return make_output(self.output)
        return make_output(self.output, self.console, self.err_console)

    @property
    def text(self) -> bool:
        return self.output == "text"

    def open(self, path: Path | None = None) -> Project:
        """Open an existing box (never creates one: a typo in ``--box`` must not make a box)."""
        where = Path(path if path is not None else self.box_path).expanduser()
        if not (where / TOML_NAME).is_file():
            nearby = boxes_in(Path.cwd()) if path is None and self.box is None else []
            if nearby:
                names = " or ".join(f"--box {p.name}" for p in nearby[:3])
                raise StorageError(
                    f"No box at {where.resolve()}, but this directory has {nearby[0].name if len(nearby) == 1 else 'boxes'}"
                    f": pass {names} (or export LAKEBOX_HOME={nearby[0].resolve()}).",
                    path=str(where),
                    found=[str(p) for p in nearby],
                )
            raise StorageError(
                f"No box at {where.resolve()}: run `lakebox init {where}` first, or pass --box PATH "
                "(default: $LAKEBOX_HOME or ./.lakebox).",
                path=str(where),
            )
        return self.connect(where)

    def connect(self, path: Path) -> Project:
        """Open or create the box at ``path``; it is closed when the command ends."""
        import lakebox

        project = lakebox.connect(path)
        self._projects.append(project)
        return project

    def close(self) -> None:
        while self._projects:
            self._projects.pop().close()

    @property
    def interactive(self) -> bool:
        """Text output with stderr on a terminal: show spinners and progress bars there."""
        return self.text and self.err_console.is_terminal

    @contextlib.contextmanager
    def busy(self, message: str) -> Iterator[None]:
        """A spinner on stderr while slow work runs (text output on a terminal only)."""
        if self.interactive:
            with self.err_console.status(message):
                yield
        else:
            yield


def boxes_in(folder: Path) -> list[Path]:
    """The boxes (``*.lakebox`` directories with a ``lakebox.toml``) directly in ``folder``."""
    try:
        return sorted(p for p in folder.glob("*.lakebox") if (p / TOML_NAME).is_file())
    except OSError:
        return []


pass_state = click.make_pass_decorator(State, ensure=True)


def _set_output(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value is not None:
        ctx.ensure_object(State).output = value


def max_rows_option(f: F) -> F:
    """``-n/--max-rows``: how many rows text output shows (JSON always has every row)."""
    from lakebox.cli.output import DEFAULT_MAX_ROWS

    return click.option(
        "-n",
        "--max-rows",
        type=click.IntRange(min=0),
        default=DEFAULT_MAX_ROWS,
        show_default=True,
        help="Rows shown in text output (JSON output always has every row).",
    )(f)


def output_option(f: F) -> F:
    """``-o/--output text|json`` on a command (overrides the global ``lakebox --output``)."""
    return click.option(
        "-o",
        "--output",
        type=click.Choice(OUTPUT_FORMATS),
        default=None,
        expose_value=False,
        callback=_set_output,
        help="Output format: text (tables) or json (one JSON document on stdout). Default: the global --output.",
    )(f)


class TimeOrCommit(click.ParamType):
    """A commit id (an integer) or an ISO-8601 timestamp with an offset (``2026-01-01T00:00:00Z``)."""

    name = "TIME|COMMIT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value)
        if _COMMIT_ID.match(text):
            return int(text)
        return text.strip()  # lakebox checks it: ISO-8601 with an offset, never a naive time


TIME_OR_COMMIT = TimeOrCommit()

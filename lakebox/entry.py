"""The ``lakebox`` console script: ``lakebox fg list`` without click or rich where it can.

``fg list`` is the command people and scripts run most. Through the click CLI it costs ~150 ms
of CPU, mostly imports: click (~25 ms), rich's console (~55 ms) and lakebox's catalog modules,
against ~23 ms for ``python -c "import sqlite3"`` plus reading the catalog. So ``main`` first
checks whether the command line is a listing it can answer byte for byte the same:

- exactly ``[--box PATH] [-o|--output text|json] fg list [-o|--output text|json]`` (also
  ``--box=PATH``, ``-ojson``; the last of a repeated option wins, as in click), not on Windows;
- ``-o json`` anywhere, text only into a pipe or a file (``tables.emit`` then prints the table
  at its natural width without colour) with ``COLUMNS`` unset or wide enough, and neither
  ``FORCE_COLOR``, ``TTY_COMPATIBLE`` nor ``TTY_INTERACTIVE`` set; stdout in UTF-8;
- a box that opens without a write or a warning, with groups the catalog alone describes
  (``lakebox.glance``), and text that ``lakebox.textgrid`` draws as rich does.

Anything else, and any doubt, runs the click CLI (``lakebox.cli.main``): other commands,
``--help``, ``-v``, a missing box (its error and exit code), a box to migrate or repair, a
moved box, external groups, a commit log behind Iceberg, a terminal. Nothing is printed before
the answer is complete, so falling back never doubles output. One difference is left on
purpose: with stderr on a terminal the click path flashes a transient spinner there while it
reads the catalog; the fast path finishes before one would be worth showing.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

FORMATS = ("text", "json")
WIDEST = 1000  # lakebox.cli.tables.WIDEST: wider piped tables are squeezed by rich
# environment variables that change what rich or click print (a terminal, shell completion)
_RICH_TERMINAL = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")
_COMPLETION = "_LAKEBOX_COMPLETE"


def main(argv: Sequence[str] | None = None) -> None:
    """The ``lakebox`` console script (``python -m lakebox.cli`` too)."""
    if not serve_listing(list(sys.argv[1:] if argv is None else argv)):
        from lakebox.cli import main as cli_main

        cli_main(argv)


def parse_listing(args: Sequence[str]) -> tuple[str | None, str] | None:
    """(``--box``, output format) when ``args`` is a feature-group listing this module serves;
    None for any other command line (click then parses it, and says what is wrong).

    >>> parse_listing(["--box", "demo.lakebox", "fg", "list", "-o", "json"])
    ('demo.lakebox', 'json')
    >>> parse_listing(["fg", "show", "players"]) is None
    True
    """
    box, output, i = None, "text", 0
    while i < len(args) and args[i] != "fg":  # the global options, before the command
        found = _option(args, i, "--box", None) or _option(args, i, "--output", "-o")
        if found is None:
            return None
        name, value, i = found
        if name == "--box":
            box = value
        elif value in FORMATS:
            output = value
        else:
            return None
    if args[i : i + 2] != ["fg", "list"]:
        return None
    i += 2
    while i < len(args):  # the command's own -o/--output
        found = _option(args, i, "--output", "-o")
        if found is None or found[1] not in FORMATS:
            return None
        output, i = found[1], found[2]
    return box, output


def _option(args: Sequence[str], i: int, long: str, short: str | None) -> tuple[str, str, int] | None:
    """(option, value, next index) when ``args[i]`` is ``long``/``short`` with its value."""
    token = args[i]
    if token == long or token == short:
        return (long, args[i + 1], i + 2) if i + 1 < len(args) else None
    if token.startswith(long + "="):
        return long, token[len(long) + 1 :], i + 1
    if short is not None and token.startswith(short) and len(token) > len(short):
        return long, token[len(short) :], i + 1  # -ojson
    return None


def serve_listing(args: Sequence[str]) -> bool:
    """Print ``lakebox fg list`` for ``args`` and return True, or return False having printed
    nothing when only the click CLI can answer the same way."""
    parsed = parse_listing(args)
    stdout = sys.stdout
    if parsed is None or _COMPLETION in os.environ or stdout is None or os.name == "nt":
        return False  # (Windows: click's console streams and rich's legacy mode are not mirrored)
    if (getattr(stdout, "encoding", None) or "").lower() not in ("utf-8", "utf8"):
        return False  # click would rewrap an ASCII stream, rich would draw an ASCII box
    box, output = parsed
    if output == "text" and (any(name in os.environ for name in _RICH_TERMINAL) or _isatty(stdout)):
        return False  # rich draws for a terminal
    from lakebox.glance import box_location, describe_groups

    groups = describe_groups(box_location(box))
    if groups is None:
        return False
    text = _json(groups) if output == "json" else _text(groups)
    if text is None:
        return False
    try:
        stdout.write(text)
        stdout.flush()
    except BrokenPipeError:  # as click does: the reader left (`lakebox fg list | head -1`); exit 1 quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout.fileno())
        sys.exit(1)
    return True


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return True  # unknown: let rich decide


def _json(groups: list[dict[str, object]]) -> str:
    """``JsonOutput.groups``: ``jsonpolicy.dumps(..., indent=2)`` of plain JSON values, echoed."""
    import json

    return json.dumps({"feature_groups": groups}, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _text(groups: list[dict[str, object]]) -> str | None:
    """``TextOutput.groups`` into a pipe, or None where rich must draw it."""
    from lakebox.textgrid import GROUP_COLUMNS, GROUPS_TITLE, escape, group_cells, no_groups, table, width

    columns = os.environ.get("COLUMNS")
    if columns and not (columns.isascii() and columns.isdigit() and int(columns) > 0):
        return None  # rich reads COLUMNS its own way
    if groups:  # piped: natural width (capped); with COLUMNS: the table must fit, or rich fits it
        return table(GROUPS_TITLE, GROUP_COLUMNS, [group_cells(g, escape) for g in groups],
                     int(columns) if columns else WIDEST)  # fmt: skip
    message = no_groups(lambda command: command)
    return message + "\n" if width(message) <= (int(columns) if columns else _terminal_width()) else None


def _terminal_width() -> int:
    """rich's console width without COLUMNS: the first of stdin, stdout and stderr that is a
    terminal, else 80."""
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


__all__ = ["main", "parse_listing", "serve_listing"]

"""How every CLI table fits the terminal: never a word cut in the middle.

``tidy(table)`` applies the policy to a rich ``Table`` before it is printed:

- key columns (the first by default: names, ids) stay whole: they never wrap or shrink
  while another column can give way;
- text columns wrap on word boundaries; a single word longer than the column ends in ``…``
  instead of being folded across lines (``attend/ance_g/br…`` never happens);
- no column is narrower than its header.

``emit(console, renderable)`` prints it: on a terminal (or with ``COLUMNS`` set) at that
width; into a pipe or a file at the table's natural width, so ``lakebox fg list | grep``
sees whole lines.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.segment import Segment, SegmentLines
from rich.table import Table
from rich.text import Text

WIDEST = 1000  # natural width of piped output is capped here (a runaway cell stays bounded)


def tidy(table: Table, keys: Iterable[int] = (0,)) -> Table:
    """Apply the table policy (see the module docstring) to ``table`` in place; return it."""
    whole = set(keys)
    for index, column in enumerate(table.columns):
        header = (
            column.header.cell_len if isinstance(column.header, Text) else Text.from_markup(str(column.header)).cell_len
        )
        column.min_width = max(column.min_width or 0, header)
        if index in whole:
            column.no_wrap = True
            column.overflow = "ellipsis"
        elif column.overflow == "fold":
            column.overflow = "ellipsis"
    return table


def natural_width(console: Console, renderable: RenderableType) -> int:
    """The width ``renderable`` takes when nothing limits it."""
    options = console.options.update_width(WIDEST)
    return Measurement.get(console, options, renderable).maximum


def piped(console: Console) -> bool:
    """Output goes to a pipe or a file and ``COLUMNS`` does not say how wide to be."""
    return not console.is_terminal and not os.environ.get("COLUMNS")


OPTIONAL = ("description", "parent")
"""Columns a table drops (saying so in its caption) when even its narrowest layout does not fit:
what they hold is shown by the ``show`` commands and in ``-o json``."""


def overflows(console: Console, table: Table) -> bool:
    """Whether ``table`` rendered at the console's width has a line wider than the console
    (rich would then crop it: the right-hand columns would be cut off)."""
    return _too_wide(console, _lines(console, table))


def _lines(console: Console, table: Table) -> list[list[Segment]]:
    return list(Segment.split_lines(console.render(table, console.options)))


def _too_wide(console: Console, lines: list[list[Segment]]) -> bool:
    return any(Segment.get_line_length(line) > console.width for line in lines)


def fit(console: Console, table: Table) -> Table:
    """Make ``table`` fit the console without cropping: drop optional columns (with a caption
    saying so), and if it still does not fit, let text columns shrink below their headers
    (long words then end in ``…``)."""
    dropped = []
    while overflows(console, table):
        optional = [c for c in table.columns if str(c.header) in OPTIONAL]
        if not optional:
            break
        table.columns.remove(optional[-1])
        dropped.append(str(optional[-1].header))
    if overflows(console, table):
        for column in table.columns:
            if not column.no_wrap:
                column.min_width = None
    if dropped:
        note = f"{', '.join(dropped)} hidden at this width: widen the terminal or use -o json"
        table.caption = f"{table.caption}; {note}" if table.caption else note
        table.caption_justify = "left"
    return table


def emit(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable``: at the terminal's width, or at its natural width when piped."""
    if isinstance(renderable, Table) and not piped(console):
        lines = _lines(console, renderable)
        if not _too_wide(console, lines):  # the usual case: print the lines measured, not a second rendering
            console.print(SegmentLines(lines, new_lines=True))
            return
        fit(console, renderable)
    if isinstance(renderable, Table) and piped(console):
        width = max(console.width, natural_width(console, renderable))
        if width > console.width:
            previous = console.width
            console.width = width
            try:
                console.print(renderable)
            finally:
                console.width = previous
            return
    console.print(renderable)

"""Plain-text tables drawn exactly as rich draws them into a pipe, for output without rich.

Hand-written because importing ``rich.console`` costs ~55 ms of CPU, more than twice what the
whole fast ``lakebox fg list`` (``lakebox.entry``) may take. It draws only what
``lakebox.cli.tables.emit`` prints into a pipe or a file: the table at its natural width (no
wrapping, cropping or ellipsis), no colour, rich's default ``HEAVY_HEAD`` box, the title
justified left over the table's width. Cell widths are rich's own (``rich.cells.cell_len``,
imported only for non-ASCII text: ~3 ms) and markup is resolved by ``rich.markup`` for a cell
that has any. Text that rich treats specially (control characters, tabs, zero-width joiners,
line separators other than ``\\n``) makes ``table`` return None, and the caller prints through
rich. ``tests/test_fast_listing.py`` compares both byte for byte.

What ``lakebox fg list`` shows is defined here once (``GROUP_COLUMNS``, ``group_cells``,
``no_groups``) and ``lakebox.cli.text_output`` builds its rich table from the same pieces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms)
if TYPE_CHECKING:
    from typing import Any, Literal

    Justify = Literal["left", "right"]

GROUPS_TITLE = "Feature groups"
# (header, justify, wraps): the columns of `lakebox fg list`
GROUP_COLUMNS: tuple[tuple[str, Justify, bool], ...] = (
    ("group", "left", False), ("primary key", "left", False), ("event time", "left", False),
    ("features", "right", False), ("commits", "right", False), ("description", "left", True),
)  # fmt: skip

# rich's HEAVY_HEAD box: top, header row, line under the header, body rows, bottom
_TOP, _HEAD, _HEAD_RULE, _BODY, _BOTTOM = "┏━┳┓", "┃┃┃", "┡━╇┩", "│││", "└─┴┘"
# characters rich strips, expands, joins or breaks lines at: such text goes through rich itself
_SPECIAL = frozenset([chr(c) for c in range(32) if c != 10] + [chr(c) for c in range(0x7F, 0xA0)]
                     + ["\u200d", "\ufe0f", "\u2028", "\u2029"])  # fmt: skip


def group_cells(group: Mapping[str, Any], escape: Callable[[str], str]) -> list[str]:
    """One row of the ``fg list`` table, as rich markup (``escape`` quotes the user's text);
    counts read as ``lakebox.cli.formats.number`` writes them (``1,000``)."""
    return [
        f"{escape(group['name'])} v{group['version']}",
        escape(", ".join(group["primary_key"])),
        escape(group["event_time"] or "-"),
        f"{len(group['features']):,}",
        f"{group['commit_count']:,}",
        escape(group["description"]),
    ]


def no_groups(bold: Callable[[str], str]) -> str:
    """What ``fg list`` says about an empty box (``bold`` marks the commands up)."""
    return f"No feature groups yet. Create one with {bold('lakebox fg ingest')} or run {bold('lakebox demo')}."


def escape(text: str) -> str:
    """``rich.markup.escape``, imported only for text it could change (a ``[`` or a ``\\``)."""
    if "[" not in text and "\\" not in text:
        return text
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def plain(markup: str) -> str | None:
    """The text rich prints for ``markup`` (no emoji codes), or None when rich would treat a
    character specially or the markup does not parse."""
    if not _SPECIAL.isdisjoint(markup):
        return None
    if "[" not in markup:
        return markup  # no tag: rich prints it as it is
    from rich.errors import MarkupError
    from rich.markup import render

    try:
        return render(markup, emoji=False).plain
    except MarkupError:
        return None


def width(text: str) -> int:
    """The cells ``text`` takes on a terminal, as rich counts them."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def table(
    title: str, columns: Sequence[tuple[str, Justify, bool]], rows: Sequence[Sequence[str]], limit: int
) -> str | None:
    """``Table(title=title, title_justify="left")`` with ``columns`` (header, justify, wraps)
    and ``rows`` of markup, as rich prints it at its natural width; None when a cell has text
    rich treats specially or the table is wider than ``limit``."""
    cells: list[list[list[str]]] = []
    for row in rows:
        texts = [plain(markup) for markup in row]
        if any(text is None for text in texts):
            return None
        cells.append([str(text).split("\n") for text in texts])
    widths = [
        2 + max([width(header), *(width(text) for row_lines in cells for text in row_lines[index])])
        for index, (header, _, _) in enumerate(columns)
    ]  # padding of one space each side
    total = sum(widths) + len(widths) + 1
    if total > limit or width(title) > total:
        return None
    justify = [j for _, j, _ in columns]

    def rule(chars: str) -> str:
        return chars[0] + chars[2].join(chars[1] * w for w in widths) + chars[3]

    def line(chars: str, texts: Sequence[str]) -> str:
        inner = chars[1].join(f" {_justify(t, w - 2, j)} " for t, w, j in zip(texts, widths, justify, strict=True))
        return chars[0] + inner + chars[2]

    out = [
        _justify(title, total, "left"),
        rule(_TOP),
        line(_HEAD, [header for header, _, _ in columns]),
        rule(_HEAD_RULE),
    ]
    for row_lines in cells:
        for k in range(max(len(lines) for lines in row_lines)):  # a cell with fewer lines is blank below
            out.append(line(_BODY, [lines[k] if k < len(lines) else "" for lines in row_lines]))
    out.append(rule(_BOTTOM))
    return "\n".join(out) + "\n"


def _justify(text: str, size: int, how: str) -> str:
    if how == "right":  # rich strips trailing space before it right-justifies
        text = text.rstrip()
        return " " * (size - width(text)) + text
    return text + " " * (size - width(text))


__all__ = ["GROUPS_TITLE", "GROUP_COLUMNS", "escape", "group_cells", "no_groups", "plain", "table", "width"]

"""Trials: an experiment's trials, best first; ``s`` sorts by the cursor's column."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from lakebox.tui.model import Table, Trials
from lakebox.tui.widgets import KeyTable, TabView, fill


class TrialsTab(TabView):
    TAB_ID = "trials"
    TITLE = "Trials"
    BODY = "#trials-table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort", tooltip="sort the trials by the cursor's column (again: reverse)"),
    ]
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [("click a header", "sort by that column")]
    DEFAULT_CSS = """
    TrialsTab #trials-info {
        color: $text;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: Trials | None = None
        self.sort: tuple[int, bool] | None = None  # (column, reverse)

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("", id="trials-info", classes="info-line")
            yield KeyTable(id="trials-table", cursor_type="cell", zebra_stripes=True)

    def reset(self) -> None:
        self.data = None
        self.sort = None

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.trials(ref)

    def show(self, trials: Trials) -> None:
        self.data = trials
        if self.sort is None and trials.table.sort_values:
            self.sort = (2, trials.direction != "min")  # best first
        self.render_trials()

    def render_trials(self) -> None:
        if self.data is None:
            return
        table = self.data.table
        order = list(range(len(table.rows)))
        label = "unsorted"
        if self.sort is not None and table.sort_values:
            column, reverse = self.sort
            present = [i for i in order if table.sort_values[i][column] is not None]
            missing = [i for i in order if table.sort_values[i][column] is None]
            present.sort(key=lambda i: _sort_key(table.sort_values[i][column]), reverse=reverse)
            order = present + missing
            label = f"sorted by {table.columns[column]} {'↓' if reverse else '↑'}"
        metric = self.data.metric
        info = f"{len(table.rows)} trial(s)" + (f" · value = {metric}" if metric else "") + f" · {label} · s sorts"
        self.query_one("#trials-info", Label).update(info)
        widget = self.query_one("#trials-table", DataTable)
        cursor = widget.cursor_coordinate
        fill(widget, Table(table.columns, rows=[table.rows[i] for i in order], numeric=table.numeric))
        widget.move_cursor(row=cursor.row, column=cursor.column, animate=False)

    def action_sort(self) -> None:
        if self.data is None or not self.data.table.columns:
            return
        column = self.query_one("#trials-table", DataTable).cursor_column
        reverse = not self.sort[1] if self.sort and self.sort[0] == column else False
        self.sort = (column, reverse)
        self.render_trials()

    @on(DataTable.HeaderSelected, "#trials-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.query_one("#trials-table", DataTable).move_cursor(column=event.column_index)
        self.action_sort()


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))

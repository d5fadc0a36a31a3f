"""Datasets: a feature view's training datasets; enter opens one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from lakebox.tui.model import Table
from lakebox.tui.widgets import KeyTable, OpenAsset, TabView, refill


class DatasetsTab(TabView):
    TAB_ID = "datasets"
    TITLE = "Datasets"
    BODY = "#datasets-table"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [("enter", "on a training dataset: open it")]

    def __init__(self) -> None:
        super().__init__()
        self.data = Table([])

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("enter on a training dataset opens it", classes="info-line")
            yield KeyTable(id="datasets-table", cursor_type="row", zebra_stripes=True)

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.datasets(ref)

    def show(self, table: Table) -> None:
        self.data = table
        refill(self.query_one("#datasets-table", DataTable), table)

    @on(DataTable.RowSelected, "#datasets-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row < len(self.data.keys):
            self.post_message(OpenAsset(self.data.keys[event.cursor_row]))

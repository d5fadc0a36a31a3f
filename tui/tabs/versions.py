"""Versions: every version of a model with its metrics; enter opens one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label

from lakebox.tui.model import Table
from lakebox.tui.widgets import KeyTable, OpenAsset, TabView, fill


class VersionsTab(TabView):
    TAB_ID = "versions"
    TITLE = "Versions"
    BODY = "#versions-table"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [("enter", "on a version: open it")]

    def __init__(self) -> None:
        super().__init__()
        self.data = Table([])

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("enter on a version opens it", classes="info-line")
            yield KeyTable(id="versions-table", cursor_type="row", zebra_stripes=True)

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.model_versions(ref)

    def show(self, table: Table) -> None:
        self.data = table
        widget = self.query_one("#versions-table", DataTable)
        fill(widget, table)
        if self.current in table.keys:
            widget.move_cursor(row=table.keys.index(self.current))

    @on(DataTable.RowSelected, "#versions-table")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        keys = self.data.keys
        if event.cursor_row < len(keys) and keys[event.cursor_row] != self.current:
            self.post_message(OpenAsset(keys[event.cursor_row], tab="versions"))

"""Executions: every run of a job, newest first (state, trigger, time, backfill window, error)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Label

from lakebox.tui.model import Table
from lakebox.tui.widgets import KeyTable, TabView, refill


class ExecutionsTab(TabView):
    TAB_ID = "executions"
    TITLE = "Executions"
    BODY = "#executions-table"

    def __init__(self) -> None:
        super().__init__()
        self.data = Table([])

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("", id="executions-info", classes="info-line")
            yield KeyTable(id="executions-table", cursor_type="row", zebra_stripes=True)

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.executions(ref)

    def show(self, table: Table) -> None:
        self.data = table
        failed = sum(1 for row in table.rows if row[1] in ("failed", "timed_out", "killed"))
        info = (Content.assemble((f"{len(table.rows)} execution(s)", "bold"), f" · {failed} failed")
                if table.rows else Content.styled("no executions yet: run the job (lakebox jobs run)", "italic dim"))
        self.query_one("#executions-info", Label).update(info)
        widget = self.query_one("#executions-table", DataTable)
        widget.display = bool(table.rows)
        refill(widget, table)

"""Overview: description, facts and tags of any asset, and its schema (or columns, snapshots,
metrics: whatever its kind lists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Label, Static

from lakebox.tui.model import Overview, Ref, Table, fmt
from lakebox.tui.widgets import KeyScroll, KeyTable, OpenAsset, Parts, TabView, fill


class OverviewTab(TabView):
    TAB_ID = "overview"
    TITLE = "Overview"
    BODY = "#schema"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [
        ("enter", "on a training dataset's snapshot: open that feature group"),
    ]
    DEFAULT_CSS = """
    OverviewTab #overview-scroll {
        height: auto;
        max-height: 60%;
        padding: 0 1;
    }
    OverviewTab #schema-title {
        padding: 0 1;
        margin-top: 1;
        text-style: bold;
        color: $text-accent;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: Overview | None = None
        self.focus_feature: str | None = None  # put the schema's cursor on it once loaded

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield KeyScroll(Static("", id="overview-info"), id="overview-scroll")
            yield Label("", id="schema-title")
            yield KeyTable(id="schema", cursor_type="row", zebra_stripes=True)

    def reset(self) -> None:
        self.data = None

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.overview(ref)

    def show(self, overview: Overview) -> None:
        self.data = overview
        text = Parts()
        text.add(overview.description or "no description", "" if overview.description else "italic dim")
        text.add("\n\n")
        width = max((len(k) for k, _ in overview.facts), default=4)
        for key, value in overview.facts:
            text.add(f"{key:<{width}}  ", "bold")
            text.add(f"{value}\n")
        text.add(f"{'tags':<{width}}  ", "bold")
        if overview.tags:
            text.add("  ".join(f"{k}={fmt(v)}" for k, v in overview.tags.items()), "$accent")
        else:
            text.add("none", "dim")
        self.query_one("#overview-info", Static).update(text.content())
        has_rows = overview.schema is not None and bool(overview.schema.rows)
        title = overview.schema_title + ("" if has_rows else ": none")
        self.query_one("#schema-title", Label).update(title if overview.schema is not None else "")
        schema = self.query_one("#schema", DataTable)
        row = schema.cursor_row
        fill(schema, overview.schema or Table([]))
        schema.display = has_rows
        if self.focus_feature and overview.schema is not None and self.focus_feature in overview.schema.keys:
            schema.move_cursor(row=overview.schema.keys.index(self.focus_feature))
        elif schema.row_count:
            schema.move_cursor(row=min(row, schema.row_count - 1), animate=False)
        self.focus_feature = None

    @on(DataTable.RowSelected, "#schema")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if self.data is None or self.data.schema is None or event.cursor_row >= len(self.data.schema.keys):
            return
        key = self.data.schema.keys[event.cursor_row]
        if isinstance(key, Ref):  # a training dataset's snapshot: open the group
            self.post_message(OpenAsset(key))

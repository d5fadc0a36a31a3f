"""Data: a page of a feature group's rows, as of the time-travel commit (or the latest)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Label

from lakebox.tui.model import Page
from lakebox.tui.widgets import KeyTable, TabView, fill

PAGE_SIZE = 50


class DataTab(TabView):
    TAB_ID = "data"
    TITLE = "Data"
    BODY = "#preview"
    USES_COMMIT = True
    DEFAULT_CSS = """
    DataTab #data-info {
        color: $text;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "page(1)", "Next", tooltip="next page of rows"),
        Binding("p", "page(-1)", "Prev", tooltip="previous page of rows"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.page_start = 0
        self.page: Page | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("", id="data-info", classes="info-line")
            yield KeyTable(id="preview", cursor_type="row", zebra_stripes=True)

    def reset(self) -> None:
        self.page_start = 0
        self.page = None

    def watch_commit(self) -> None:
        self.page_start = 0
        super().watch_commit()

    def request(self) -> Callable[[], Any]:
        ref, commit, start = self.current, self.commit, self.page_start
        assert ref is not None
        return lambda: self.source.preview(ref, commit, start, PAGE_SIZE)

    def show(self, page: Page) -> None:
        table = self.query_one("#preview", KeyTable)
        same_page = self.page is not None and self.page.start == page.start  # a refresh: keep the cursor
        row = table.cursor_row if same_page else 0
        self.page = page
        fill(table, page.table)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1), animate=False)
        rows = page.table.rows
        if page.commit_id is None:
            where = f"latest (commit {page.latest_commit})" if page.latest_commit is not None else "no commits yet"
        else:
            where = f"as of commit {page.commit_id} ⟲ time travel"
        span = f"rows {page.start + 1}–{page.start + len(rows)}" if rows else "no rows"
        more = " · n next" if page.has_more else " · end"
        back = " · p prev" if page.start else ""
        info = Content.assemble((where, "bold" if page.commit_id is None else "bold $warning"), f" · {span}{more}{back}")
        self.query_one("#data-info", Label).update(info)

    def action_page(self, step: int) -> None:
        if step > 0 and self.page is not None and not self.page.has_more:
            self.notify("That was the last page.", severity="information", timeout=2)
            return
        start = max(0, self.page_start + step * PAGE_SIZE)
        if start != self.page_start:
            self.page_start = start
            self.load(silent=True)  # the old page stays until the new one is read

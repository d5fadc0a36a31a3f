"""History: a feature group's commits; enter on one previews the data as of it (time travel)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label

from lakebox.tui.model import Commit, Table
from lakebox.tui.widgets import KeyTable, TabView, refill


class CommitChosen(Message):
    """Show the data as of ``commit_id`` (None: the latest)."""

    def __init__(self, commit_id: int | None) -> None:
        super().__init__()
        self.commit_id = commit_id


class HistoryTab(TabView):
    TAB_ID = "history"
    TITLE = "History"
    BODY = "#commits"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [
        ("enter", "on a commit: the data (and statistics) as of it; on the newest: the latest"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[Commit] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("enter on a commit: see the data as of it", classes="info-line")
            yield KeyTable(id="commits", cursor_type="row", zebra_stripes=True)

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.commits(ref)

    def show(self, commits: list[Commit]) -> None:
        self.commits = commits
        table = Table(["commit", "committed (UTC)", "ins", "upd", "del", "kind"], numeric={0, 2, 3, 4})
        for c in commits:
            table.rows.append([
                str(c.commit_id), c.committed_on.replace("T", " ").split(".")[0],
                str(c.inserted), str(c.updated), str(c.deleted), c.kind + (" (expired)" if c.expired else ""),
            ])
            table.keys.append(c.commit_id)
        refill(self.query_one("#commits", DataTable), table)

    @on(DataTable.RowSelected, "#commits")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row < len(self.commits):
            self.choose(self.commits[event.cursor_row])

    def choose(self, commit: Commit) -> None:
        if commit.expired:
            self.notify(f"Commit {commit.commit_id} was expired by the retention policy.", severity="warning")
            return
        newest = self.commits[0].commit_id if self.commits else None
        self.post_message(CommitChosen(None if commit.commit_id == newest else commit.commit_id))

"""Checks: a feature group's validation reports, and each rule's result in the highlighted one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Label, Static

from lakebox.tui.model import NULL, Table, fmt, short
from lakebox.tui.widgets import KeyScroll, KeyTable, Parts, TabView, fill


class ChecksTab(TabView):
    TAB_ID = "checks"
    TITLE = "Checks"
    BODY = "#reports"
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [("↑ ↓", "on a report: each rule's result, failed rows and samples")]
    DEFAULT_CSS = """
    ChecksTab #checks-info {
        color: $text;
    }
    ChecksTab #reports {
        height: auto;
        max-height: 50%;
    }
    ChecksTab #report-scroll {
        height: 1fr;
        padding: 0 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.reports: list[dict[str, Any]] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("", id="checks-info", classes="info-line")
            yield KeyTable(id="reports", cursor_type="row", zebra_stripes=True)
            yield KeyScroll(Static("", id="report-detail"), id="report-scroll")

    def request(self) -> Callable[[], Any]:
        ref = self.current
        assert ref is not None
        return lambda: self.source.validation_reports(ref)

    def show(self, reports: list[dict[str, Any]]) -> None:
        self.reports = reports
        info = self.query_one("#checks-info", Label)
        if not reports:
            info.update(Content.styled("no validation reports: no expectations, or nothing checked yet",
                                       "italic dim"))
        else:
            failed = sum(1 for r in reports if r.get("success") is False)
            info.update(Content.assemble((f"{len(reports)} report(s)", "bold"), f" · {failed} failed"))
        widget = self.query_one("#reports", DataTable)
        widget.display = bool(reports)
        table = Table(["commit", "checked (UTC)", "mode", "result", "rules", "rows"], numeric={0, 5})
        for r in reports:
            results = _results(r)
            passed = sum(1 for x in results if isinstance(x, dict) and x.get("success"))
            ok = r.get("success")
            report = r.get("report")
            inner = report if isinstance(report, dict) else {}
            table.rows.append([
                fmt(r.get("commit_id")) if r.get("commit_id") is not None else "refused",
                short(r.get("created_at")),
                fmt(r.get("mode")),
                "✓ passed" if ok else "× failed" if ok is False else NULL,
                f"{passed}/{len(results)}" if results else NULL,
                fmt(inner.get("row_count")),
            ])
        fill(widget, table)
        self.query_one("#report-detail", Static).update("")
        if reports:  # the newest report first
            self.show_report(len(reports) - 1)
            widget.move_cursor(row=len(reports) - 1)

    @on(DataTable.RowHighlighted, "#reports")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        self.show_report(event.cursor_row)

    def show_report(self, index: int) -> None:
        if not 0 <= index < len(self.reports):
            return
        report = self.reports[index]
        text = Parts()
        results = _results(report)
        for r in results:
            if not isinstance(r, dict):
                text.add(f"{r}\n")
                continue
            ok = r.get("success")
            text.add("✓ " if ok else "× ", "$success" if ok else "$error")
            kwargs = r.get("kwargs") or {}
            text.add(f"{r.get('rule') or 'check'}(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")", "bold")
            if not ok and r.get("failed_rows"):
                text.add(f"  {r['failed_rows']} row(s) failed", "$error")
            if r.get("observed") not in (None, "", {}):
                text.add(f"  observed {fmt(r['observed'])}", "dim")
            if not ok and r.get("sample"):
                text.add(f"\n    e.g. {fmt(r['sample'][:3])}", "dim")
            text.add("\n")
        if not results:
            text.add(fmt(dict(report.items())), "dim")
        self.query_one("#report-detail", Static).update(text.content())


def _results(report: dict[str, Any]) -> list[Any]:
    """The per-rule results of a stored report (``report["report"]["results"]``)."""
    inner = report.get("report")
    if isinstance(inner, dict) and isinstance(inner.get("results"), list):
        return list(inner["results"])
    return []

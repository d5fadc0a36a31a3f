"""Stats: per-feature statistics of a group (as of the time-travel commit) or of a training
dataset's train split, with the highlighted feature's histogram and quantiles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import DataTable, Label, Static

from lakebox.tui.model import FeatureStats, Stats, Table, bar_chart, fmt, short, sparkline
from lakebox.tui.widgets import KeyTable, Parts, TabView, refill


class StatsTab(TabView):
    TAB_ID = "stats"
    TITLE = "Stats"
    BODY = "#stats-table"
    USES_COMMIT = True
    KEY_HELP: ClassVar[list[tuple[str, str]]] = [
        ("↑ ↓", "on a feature: its histogram (or most frequent values) and quantiles"),
    ]
    DEFAULT_CSS = """
    StatsTab #stats-info {
        color: $text;
    }
    StatsTab #stats-table {
        min-height: 4;
    }
    StatsTab #histogram {
        height: auto;
        max-height: 10;
        padding: 0 1;
        border-top: hkey $panel-lighten-2;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        self.data: Stats | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="tab-body"):
            yield Label("", id="stats-info", classes="info-line")
            yield KeyTable(id="stats-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="histogram")

    def request(self) -> Callable[[], Any]:
        ref, commit = self.current, self.commit
        assert ref is not None
        return lambda: self.source.statistics(ref, commit if ref.kind == "feature_group" else None)

    def show(self, stats: Stats | None) -> None:
        self.data = stats
        info = self.query_one("#stats-info", Label)
        table = self.query_one("#stats-table", DataTable)
        histogram = self.query_one("#histogram", Static)
        table.display = histogram.display = stats is not None
        if stats is None:
            info.update(Content.styled("no statistics", "italic dim"))
            return
        where = stats.title or (f"as of commit {self.commit}" if self.commit is not None else "latest commit")
        rows = f" · {stats.row_count} rows" if stats.row_count is not None else ""
        info.update(Content.assemble((where, "bold"), rows, (" · ↑↓ histogram", "dim")))
        out = Table(["feature", "histogram", "nulls", "distinct", "min", "max", "mean", "count"],
                    numeric={2, 3, 6, 7})
        for f in stats.features:
            v = f.values
            hist = f.histogram
            out.rows.append([f.name, sparkline(hist[1], 12) if hist else "", fmt(v.get("null_count")),
                             fmt(v.get("distinct")), short(v.get("min")), short(v.get("max")), fmt(v.get("mean")),
                             fmt(v.get("count"))])
        refill(table, out)
        if stats.features:
            self.show_histogram(stats.features[min(table.cursor_row, len(stats.features) - 1)])

    @on(DataTable.RowHighlighted, "#stats-table")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        if self.data and 0 <= event.cursor_row < len(self.data.features):
            self.show_histogram(self.data.features[event.cursor_row])

    def show_histogram(self, feature: FeatureStats) -> None:
        v = feature.values
        text = Parts()
        text.add(feature.name, "bold")
        if v.get("type"):
            text.add(f" {v['type']}", "dim")
        parts = [f"{k} {fmt(v.get(k))}" for k in ("mean", "stddev") if v.get(k) is not None]
        if parts:
            text.add("  " + " · ".join(parts))
        text.add("\n")
        hist = feature.histogram
        size = self.app.size
        if hist:
            edges, counts = hist
            bins = len(counts)
            width = max(1, min(3, (max(size.width - 40, 20)) // max(bins, 1)))
            for line in bar_chart(counts, height=4 if size.height < 30 else 6, col_width=width):
                text.add(line + "\n", "$accent")
            lo, hi = (short(edges[0]), short(edges[-1])) if edges else ("", "")
            span = bins * width
            text.add(lo + " " * max(1, span - len(lo) - len(hi)) + hi + "\n", "dim")
        elif v.get("top"):
            top = v["top"][:5]
            most = max(int(c) for _, c in top) or 1
            for value, count in top:
                text.add(f"{str(value)[:14]:<14} ")
                text.add("█" * max(1, round(int(count) / most * 20)), "$accent")
                text.add(f" {count}\n", "dim")
        else:
            text.add("no histogram for this feature\n", "italic dim")
        quantiles = v.get("quantiles") or {}
        if quantiles:
            text.add("quantiles ", "bold")
            text.add("  ".join(f"p{float(q) * 100:g} {fmt(x)}" for q, x in quantiles.items()))
        self.query_one("#histogram", Static).update(text.content())

"""The lakebox registry browser: a keyboard-first Textual app over one box.

Layout: a search bar, the asset tree (or search results) on the left, and the selected asset's
detail on the right, in tabs that depend on its kind. Every read runs in a thread worker with a
loading indicator; every error becomes a notification. The app never closes the project it is
given (its opener's owner does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.timer import Timer
from textual.widgets import (
    ContentSwitcher,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    OptionList,
    Static,
    TabbedContent,
    TabPane,
    Tree,
)
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode
from textual.worker import get_current_worker

from lakebox.tui.data import (
    KIND_TITLES,
    NULL,
    Catalog,
    Commit,
    FeatureStats,
    Hit,
    Lineage,
    LineageNode,
    Overview,
    Page,
    ReadOnlyError,
    Ref,
    Source,
    Stats,
    Table,
    Unsupported,
    bar_chart,
    fmt,
    sparkline,
)
from lakebox.tui.screens import ConfirmScreen, DescriptionScreen, HelpScreen, TagScreen, UntagScreen

TABS_BY_KIND = {
    "feature_group": ("overview", "data", "history", "stats", "checks", "lineage"),
    "feature_view": ("overview", "datasets", "lineage"),
    "training_dataset": ("overview", "stats", "lineage"),
    "experiment": ("overview", "trials", "lineage"),
    "model": ("overview", "versions", "lineage"),
}
ALL_TABS = ("overview", "data", "history", "stats", "checks", "datasets", "trials", "versions", "lineage")
PAGE_SIZE = 50
SEARCH_DELAY_S = 0.2


class PreviewTable(DataTable[Any]):
    """The data preview; ``n`` and ``p`` page through the group."""

    BINDINGS: ClassVar = [
        Binding("n", "app.page(1)", "Next"),
        Binding("p", "app.page(-1)", "Prev"),
    ]


class SortableTable(DataTable[Any]):
    """Experiment trials: ``s`` sorts by the cursor's column (again: reverse)."""

    BINDINGS: ClassVar = [Binding("s", "app.sort_trials", "Sort")]


class BrowserApp(App[None]):
    """Browse a box: ``BrowserApp(opener=lambda: lakebox.connect(path)).run()``."""

    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#assets"
    TITLE = "lakebox"
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help"),
        Binding("slash", "focus_search", "Search"),
        Binding("l", "lineage", "Lineage"),
        Binding("e", "edit_description", "Edit"),
        Binding("t", "add_tag", "Tag"),
        Binding("d", "delete_tag", "Untag"),
        Binding("escape", "back", "Back", show=False),
        *[Binding(str(i), f"tab({i})", show=False) for i in range(1, 7)],
    ]

    def __init__(self, opener: Callable[[], Any] | None = None, *, project: Any = None, read_only: bool = False) -> None:
        super().__init__()
        if opener is None and project is None:
            raise ValueError("BrowserApp needs an opener or a project.")
        self.source = Source(opener if opener is not None else (lambda: project), read_only=read_only)
        self.read_only = read_only
        self.catalog: Catalog | None = None
        self.current: Ref | None = None
        self.commit: int | None = None  # time travel: the commit the Data tab shows (None = latest)
        self.page_start = 0
        self.page: Page | None = None
        self.overview_data: Overview | None = None
        self.stats_data: Stats | None = None
        self.commits_data: list[Commit] = []
        self.trials_data: Table | None = None
        self.trials_sort: tuple[int, bool] | None = None  # (column, reverse)
        self.trials_metric: str | None = None
        self.reports: list[dict[str, Any]] = []
        self.datasets_data = Table([])
        self.versions_data = Table([])
        self.hits: list[Hit] = []
        self._loaded: set[str] = set()
        self._generation: dict[str, int] = {}
        self._tree_nodes: dict[str, TreeNode[Any]] = {}
        self._search_timer: Timer | None = None
        self._focus_results = False
        self._focus_feature: str | None = None
        self._log_handler: _ToTextualLog | None = None

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Horizontal(id="searchbar"):
            yield Label("/", id="search-icon")
            yield Input(placeholder="search groups, features, views, tags…", id="search")
        with Horizontal(id="body"):
            with ContentSwitcher(initial="assets", id="sidebar"):
                yield Tree("box", id="assets")
                yield OptionList(id="results")
            with ContentSwitcher(initial="welcome", id="detail"):
                yield VerticalScroll(Static("Opening the box…", id="welcome-text"), id="welcome")
                with Vertical(id="asset"):
                    yield Label("", id="asset-title")
                    with TabbedContent(id="tabs"):
                        with TabPane("Overview", id="overview"):
                            with Vertical(id="overview-body", classes="tab-body"):
                                yield VerticalScroll(Static("", id="overview-info"), id="overview-scroll")
                                yield Label("", id="schema-title", classes="section")
                                yield DataTable(id="schema", cursor_type="row", zebra_stripes=True)
                        with TabPane("Data", id="data"):
                            with Vertical(id="data-body", classes="tab-body"):
                                yield Label("", id="data-info", classes="info-line")
                                yield PreviewTable(id="preview", cursor_type="row", zebra_stripes=True)
                        with TabPane("History", id="history"):
                            with Vertical(id="history-body", classes="tab-body"):
                                yield Label("enter on a commit: see the data as of it", classes="info-line")
                                yield DataTable(id="commits", cursor_type="row", zebra_stripes=True)
                        with TabPane("Stats", id="stats"):
                            with Vertical(id="stats-body", classes="tab-body"):
                                yield Label("", id="stats-info", classes="info-line")
                                yield DataTable(id="stats-table", cursor_type="row", zebra_stripes=True)
                                yield Static("", id="histogram")
                        with TabPane("Checks", id="checks"):
                            with Vertical(id="checks-body", classes="tab-body"):
                                yield Label("", id="checks-info", classes="info-line")
                                yield DataTable(id="reports", cursor_type="row", zebra_stripes=True)
                                yield VerticalScroll(Static("", id="report-detail"), id="report-scroll")
                        with TabPane("Datasets", id="datasets"):
                            with Vertical(id="datasets-body", classes="tab-body"):
                                yield Label("enter on a training dataset opens it", classes="info-line")
                                yield DataTable(id="datasets-table", cursor_type="row", zebra_stripes=True)
                        with TabPane("Trials", id="trials"):
                            with Vertical(id="trials-body", classes="tab-body"):
                                yield Label("", id="trials-info", classes="info-line")
                                yield SortableTable(id="trials-table", cursor_type="cell", zebra_stripes=True)
                        with TabPane("Versions", id="versions"):
                            with Vertical(id="versions-body", classes="tab-body"):
                                yield Label("enter on a version opens it", classes="info-line")
                                yield DataTable(id="versions-table", cursor_type="row", zebra_stripes=True)
                        with TabPane("Lineage", id="lineage"):
                            with Vertical(id="lineage-body", classes="tab-body"):
                                yield Label("enter on an asset jumps to it", classes="info-line")
                                yield Tree("lineage", id="lineage-tree")
        yield Footer()

    def on_mount(self) -> None:
        self._log_handler = _ToTextualLog(self)
        self._log_handler.attach()
        self.sub_title = "opening…"
        tree = self.query_one("#assets", Tree)
        tree.show_root = False
        tree.loading = True
        lineage = self.query_one("#lineage-tree", Tree)
        lineage.auto_expand = False
        tree.focus()
        # the first frame is drawn before the box opens (opening imports the engines: ~0.7 s)
        self.call_after_refresh(lambda: self.load_catalog(self._request("catalog")))

    def on_unmount(self) -> None:
        if self._log_handler is not None:
            self._log_handler.detach()

    # -- the catalog and the asset tree ------------------------------------------------------
    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def load_catalog(self, generation: int) -> None:
        self._fetch("catalog", generation, self.source.catalog, self._show_catalog)

    def _show_catalog(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.sub_title = catalog.name + (" · read-only" if self.read_only else "")
        tree = self.query_one("#assets", Tree)
        tree.loading = False
        tree.clear()
        self._tree_nodes.clear()
        branches: list[tuple[str, list[Ref] | None]] = [
            ("Feature groups", catalog.groups),
            ("Feature views", catalog.views),
            ("Training datasets", catalog.datasets),
            ("Experiments", catalog.experiments),
            ("Models", catalog.models),
        ]
        for title, refs in branches:
            if refs is None:
                continue  # the api of this lakebox has no such assets
            branch = tree.root.add(Text.assemble((title, "bold"), (f" ({len(refs)})", "dim")), expand=True)
            branch.allow_expand = bool(refs)
            for ref in refs:
                self._tree_nodes[ref.key] = branch.add_leaf(ref.short, data=ref)
        self._show_welcome()
        tree.cursor_line = 0
        if self.focused is None:
            tree.focus()

    def _show_welcome(self) -> None:
        catalog = self.catalog
        if catalog is None:
            return
        counts = [
            (len(catalog.groups), "feature group"),
            (len(catalog.views), "feature view"),
            (len(catalog.datasets), "training dataset"),
        ]
        if catalog.experiments is not None:
            counts.append((len(catalog.experiments), "experiment"))
        if catalog.models is not None:
            counts.append((len(catalog.models), "model"))
        text = Parts()
        text.add(catalog.name, "bold $accent")
        text.add(" · read-only\n" if self.read_only else "\n", "dim")
        text.add("\n".join(f"{n:>5} {what}{'' if n == 1 else 's'}" for n, what in counts) + "\n\n")
        text.add("↑ ↓ move · enter opens · / search\nl lineage · ? help · q quit", "dim")
        self.query_one("#welcome-text", Static).update(text.content())
        self.query_one("#detail", ContentSwitcher).current = "welcome"

    @on(Tree.NodeHighlighted, "#assets")
    def _asset_highlighted(self, event: Tree.NodeHighlighted[Any]) -> None:
        ref = event.node.data
        if isinstance(ref, Ref):
            if ref != self.current:
                self.open_asset(ref)
        elif self.current is None:
            self._show_welcome()

    @on(Tree.NodeSelected, "#assets")
    def _asset_selected(self, event: Tree.NodeSelected[Any]) -> None:
        if isinstance(event.node.data, Ref):
            self._focus_tab_body()

    # -- opening an asset --------------------------------------------------------------------
    def open_asset(self, ref: Ref, tab: str | None = None) -> None:
        """Show ``ref`` in the detail pane; ``tab`` picks the tab (default: keep the current
        one when this kind has it, else Overview)."""
        tabs = self.query_one("#tabs", TabbedContent)
        wanted = TABS_BY_KIND.get(ref.kind, ("overview",))
        previous = tabs.active
        self.current = ref
        self.commit = None
        self.page_start = 0
        self.page = None
        self.overview_data = None
        self.trials_sort = None
        self._loaded.clear()
        for tab_id in ALL_TABS:
            if tab_id in wanted:
                tabs.show_tab(tab_id)
            else:
                tabs.hide_tab(tab_id)
        self.query_one("#detail", ContentSwitcher).current = "asset"
        title = Content.assemble((KIND_TITLES.get(ref.kind, ref.kind) + " ", "dim"), (ref.short, "bold"))
        self.query_one("#asset-title", Label).update(title)
        target = tab if tab in wanted else previous if previous in wanted else "overview"
        if tabs.active != target:
            tabs.active = target
        self._load_tab(target)

    def _load_tab(self, tab: str, force: bool = False) -> None:
        ref = self.current
        if ref is None or (tab in self._loaded and not force):
            return
        self._loaded.add(tab)
        self._set_loading(tab, True)
        loader = {
            "overview": self.load_overview,
            "data": self.load_preview,
            "history": self.load_history,
            "stats": self.load_stats,
            "checks": self.load_checks,
            "datasets": self.load_datasets,
            "trials": self.load_trials,
            "versions": self.load_versions,
            "lineage": self.load_lineage,
        }[tab]
        loader(ref, self.commit, self.page_start, self._request(tab))

    def _set_loading(self, tab: str, loading: bool) -> None:
        for body in self.query(f"#{tab}-body"):
            body.loading = loading

    @on(TabbedContent.TabActivated, "#tabs")
    def _tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self._load_tab(event.pane.id)

    # -- workers --------------------------------------------------------------------------------
    def _request(self, tab: str) -> int:
        """A new request for ``tab`` (on the UI thread): results of older ones are dropped."""
        self._generation[tab] = self._generation.get(tab, 0) + 1
        return self._generation[tab]

    def _fetch(self, tab: str, generation: int, fetch: Callable[[], Any], show: Callable[[Any], None]) -> None:
        """Run ``fetch`` in this worker thread and hand the result to ``show`` on the UI thread,
        unless a newer request for ``tab`` was made meanwhile."""
        worker = get_current_worker()
        try:
            value, error = fetch(), None
        except Exception as e:  # shown as a notification, never a traceback
            value, error = None, e
        if worker.is_cancelled:
            return
        try:
            self.call_from_thread(self._deliver, tab, generation, value, error, show)
        except RuntimeError:  # the app is closing
            pass

    def _deliver(self, tab: str, generation: int, value: Any, error: Exception | None,
                 show: Callable[[Any], None]) -> None:
        if self._generation.get(tab) != generation:
            return
        self._set_loading(tab, False)
        if error is not None:
            self._loaded.discard(tab)
            self.report(error)
            if tab == "catalog":
                self.query_one("#assets", Tree).loading = False
                self.query_one("#welcome-text", Static).update(Content(f"Could not open the box:\n{error}"))
            return
        try:
            show(value)
        except Exception as e:  # a value the browser cannot draw: say so, keep running
            self.report(e)

    def report(self, error: BaseException) -> None:
        """An error as a notification: lakebox's message, never a traceback."""
        if isinstance(error, ReadOnlyError):
            self.notify(str(error), title="Read-only", severity="warning")
        elif isinstance(error, Unsupported):
            self.notify(f"This lakebox has no {error} yet.", title="Not available", severity="warning")
        else:
            self.log.error(repr(error))
            self.notify(str(error) or type(error).__name__, title=type(error).__name__, severity="error", timeout=8)

    @work(thread=True, exclusive=True, group="overview", exit_on_error=False)
    def load_overview(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("overview", generation, lambda: self.source.overview(ref), self._show_overview)

    @work(thread=True, exclusive=True, group="data", exit_on_error=False)
    def load_preview(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("data", generation, lambda: self.source.preview(ref, commit, start, PAGE_SIZE), self._show_preview)

    @work(thread=True, exclusive=True, group="history", exit_on_error=False)
    def load_history(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("history", generation, lambda: self.source.commits(ref), self._show_history)

    @work(thread=True, exclusive=True, group="stats", exit_on_error=False)
    def load_stats(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("stats", generation, lambda: self.source.statistics(ref, commit), self._show_stats)

    @work(thread=True, exclusive=True, group="checks", exit_on_error=False)
    def load_checks(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("checks", generation, lambda: self.source.validation_reports(ref), self._show_checks)

    @work(thread=True, exclusive=True, group="datasets", exit_on_error=False)
    def load_datasets(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("datasets", generation, lambda: self.source.datasets(ref), self._show_datasets)

    @work(thread=True, exclusive=True, group="trials", exit_on_error=False)
    def load_trials(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("trials", generation, lambda: self.source.trials(ref), self._show_trials)

    @work(thread=True, exclusive=True, group="versions", exit_on_error=False)
    def load_versions(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("versions", generation, lambda: self.source.model_versions(ref), self._show_versions)

    @work(thread=True, exclusive=True, group="lineage", exit_on_error=False)
    def load_lineage(self, ref: Ref, commit: int | None, start: int, generation: int) -> None:
        self._fetch("lineage", generation, lambda: self.source.lineage(ref), self._show_lineage)

    # -- overview -----------------------------------------------------------------------------
    def _show_overview(self, overview: Overview) -> None:
        self.overview_data = overview
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
        _fill(schema, overview.schema or Table([]))
        schema.display = has_rows
        if self._focus_feature and overview.schema is not None and self._focus_feature in overview.schema.keys:
            schema.move_cursor(row=overview.schema.keys.index(self._focus_feature))
        self._focus_feature = None

    @on(DataTable.RowSelected, "#schema")
    def _schema_row_chosen(self, event: DataTable.RowSelected) -> None:
        overview = self.overview_data
        if overview is None or overview.schema is None or event.cursor_row >= len(overview.schema.keys):
            return
        key = overview.schema.keys[event.cursor_row]
        if isinstance(key, Ref):  # a training dataset's snapshot: jump to the group
            self.jump_to(key)

    # -- data preview and time travel ---------------------------------------------------------
    def _show_preview(self, page: Page) -> None:
        self.page = page
        table = self.query_one("#preview", PreviewTable)
        _fill(table, page.table)
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
        if self.current is None or self.current.kind != "feature_group":
            return
        page = self.page
        if step > 0 and page is not None and not page.has_more:
            self.notify("That was the last page.", severity="information", timeout=2)
            return
        start = max(0, self.page_start + step * PAGE_SIZE)
        if start == self.page_start:
            return
        self.page_start = start
        self._load_tab("data", force=True)

    def _show_history(self, commits: list[Commit]) -> None:
        self.commits_data = commits
        table = Table(["commit", "committed (UTC)", "ins", "upd", "del", "kind"], numeric={0, 2, 3, 4})
        for c in commits:
            table.rows.append([
                str(c.commit_id), c.committed_on.replace("T", " ").split(".")[0],
                str(c.inserted), str(c.updated), str(c.deleted), c.kind + (" (expired)" if c.expired else ""),
            ])
            table.keys.append(c.commit_id)
        _fill(self.query_one("#commits", DataTable), table)

    @on(DataTable.RowSelected, "#commits")
    def _commit_chosen(self, event: DataTable.RowSelected) -> None:
        if event.cursor_row < len(self.commits_data):
            self.choose_commit(self.commits_data[event.cursor_row])

    def choose_commit(self, commit: Commit) -> None:
        """Preview the data (and statistics) as of ``commit``; the newest commit means latest."""
        if commit.expired:
            self.notify(f"Commit {commit.commit_id} was expired by the retention policy.", severity="warning")
            return
        newest = self.commits_data[0].commit_id if self.commits_data else None
        self.commit = None if commit.commit_id == newest else commit.commit_id
        self.page_start = 0
        self._loaded.discard("data")
        self._loaded.discard("stats")
        self.query_one("#tabs", TabbedContent).active = "data"
        self._load_tab("data")
        self.query_one("#preview", PreviewTable).focus()

    # -- statistics -----------------------------------------------------------------------------
    def _show_stats(self, stats: Stats | None) -> None:
        self.stats_data = stats
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
                             fmt(v.get("distinct")), _short(v.get("min")), _short(v.get("max")), fmt(v.get("mean")),
                             fmt(v.get("count"))])
        _fill(table, out)
        if stats.features:
            self._show_feature_histogram(stats.features[0])

    @on(DataTable.RowHighlighted, "#stats-table")
    def _stats_row(self, event: DataTable.RowHighlighted) -> None:
        if self.stats_data and 0 <= event.cursor_row < len(self.stats_data.features):
            self._show_feature_histogram(self.stats_data.features[event.cursor_row])

    def _show_feature_histogram(self, feature: FeatureStats) -> None:
        widget = self.query_one("#histogram", Static)
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
        if hist:
            edges, counts = hist
            bins = len(counts)
            width = max(1, min(3, (max(self.size.width - 40, 20)) // max(bins, 1)))
            for line in bar_chart(counts, height=4 if self.size.height < 30 else 6, col_width=width):
                text.add(line + "\n", "$accent")
            lo, hi = (_short(edges[0]), _short(edges[-1])) if edges else ("", "")
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
        widget.update(text.content())

    # -- validation reports ----------------------------------------------------------------------
    def _show_checks(self, reports: list[dict[str, Any]] | None) -> None:
        self.reports = reports or []
        info = self.query_one("#checks-info", Label)
        if reports is None:
            info.update(Content.styled("no validation reports (this lakebox does not record them yet)",
                                       "italic dim"))
        elif not reports:
            info.update(Content.styled("no validation reports: no expectations, or nothing checked yet",
                                       "italic dim"))
        else:
            failed = sum(1 for r in reports if r.get("success") is False)
            info.update(Content.assemble((f"{len(reports)} report(s)", "bold"), f" · {failed} failed"))
        self.query_one("#reports", DataTable).display = bool(reports)
        table = Table(["commit", "checked (UTC)", "mode", "result", "rules", "rows"], numeric={0, 5})
        for r in reports or []:
            results = _report_results(r)
            passed = sum(1 for x in results if isinstance(x, dict) and x.get("success"))
            ok = r.get("success")
            inner = r.get("report") if isinstance(r.get("report"), dict) else {}
            table.rows.append([
                fmt(r.get("commit_id")) if r.get("commit_id") is not None else "refused",
                _short(r.get("created_at") or r.get("validated_at")),
                fmt(r.get("mode")),
                "✓ passed" if ok else "× failed" if ok is False else NULL,
                f"{passed}/{len(results)}" if results else NULL,
                fmt(inner.get("row_count", r.get("row_count"))),
            ])
        _fill(self.query_one("#reports", DataTable), table)
        self.query_one("#report-detail", Static).update("")
        if self.reports:
            self._show_report(len(self.reports) - 1)
            self.query_one("#reports", DataTable).move_cursor(row=len(self.reports) - 1)

    @on(DataTable.RowHighlighted, "#reports")
    def _report_row(self, event: DataTable.RowHighlighted) -> None:
        self._show_report(event.cursor_row)

    def _show_report(self, index: int) -> None:
        if not 0 <= index < len(self.reports):
            return
        report = self.reports[index]
        text = Parts()
        results = _report_results(report)
        for r in results:
            if not isinstance(r, dict):
                text.add(f"{r}\n")
                continue
            ok = r.get("success")
            text.add("✓ " if ok else "× ", "$success" if ok else "$error")
            rule = r.get("rule") or r.get("expectation") or r.get("name") or "check"
            kwargs = r.get("kwargs") or {}
            text.add(f"{rule}(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")", "bold")
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

    # -- views, training datasets, experiments, models ------------------------------------
    def _show_datasets(self, table: Table) -> None:
        self.datasets_data = table
        _fill(self.query_one("#datasets-table", DataTable), table)

    @on(DataTable.RowSelected, "#datasets-table")
    def _dataset_chosen(self, event: DataTable.RowSelected) -> None:
        keys = self.datasets_data.keys
        if event.cursor_row < len(keys):
            self.jump_to(keys[event.cursor_row])

    def _show_trials(self, result: tuple[Table, str | None, str | None]) -> None:
        table, metric, direction = result
        self.trials_data = table
        self.trials_metric = metric
        if self.trials_sort is None and table.sort_values:
            self.trials_sort = (2, direction != "min")  # best first
        self._render_trials()

    def _render_trials(self) -> None:
        table = self.trials_data
        if table is None:
            return
        order = list(range(len(table.rows)))
        label = "unsorted"
        if self.trials_sort is not None and table.sort_values:
            column, reverse = self.trials_sort
            present = [i for i in order if table.sort_values[i][column] is not None]
            missing = [i for i in order if table.sort_values[i][column] is None]
            present.sort(key=lambda i: _sort_key(table.sort_values[i][column]), reverse=reverse)
            order = present + missing
            label = f"sorted by {table.columns[column]} {'↓' if reverse else '↑'}"
        metric = self.trials_metric
        info = f"{len(table.rows)} trial(s)" + (f" · value = {metric}" if metric else "") + f" · {label} · s sorts"
        self.query_one("#trials-info", Label).update(info)
        widget = self.query_one("#trials-table", SortableTable)
        cursor = widget.cursor_coordinate
        _fill(widget, Table(table.columns, rows=[table.rows[i] for i in order], numeric=table.numeric))
        widget.move_cursor(row=cursor.row, column=cursor.column, animate=False)

    def action_sort_trials(self) -> None:
        widget = self.query_one("#trials-table", SortableTable)
        if self.trials_data is None or not self.trials_data.columns:
            return
        column = widget.cursor_column
        reverse = not self.trials_sort[1] if self.trials_sort and self.trials_sort[0] == column else False
        self.trials_sort = (column, reverse)
        self._render_trials()

    @on(DataTable.HeaderSelected, "#trials-table")
    def _trials_header(self, event: DataTable.HeaderSelected) -> None:
        self.query_one("#trials-table", SortableTable).move_cursor(column=event.column_index)
        self.action_sort_trials()

    def _show_versions(self, table: Table) -> None:
        self.versions_data = table
        widget = self.query_one("#versions-table", DataTable)
        _fill(widget, table)
        if self.current in table.keys:
            widget.move_cursor(row=table.keys.index(self.current))

    @on(DataTable.RowSelected, "#versions-table")
    def _version_chosen(self, event: DataTable.RowSelected) -> None:
        keys = self.versions_data.keys
        if event.cursor_row < len(keys) and keys[event.cursor_row] != self.current:
            self.jump_to(keys[event.cursor_row], tab="versions")

    # -- lineage ------------------------------------------------------------------------------------
    def _show_lineage(self, lineage: Lineage) -> None:
        tree = self.query_one("#lineage-tree", Tree)
        tree.clear()
        tree.root.set_label(Text(lineage.root.title, "bold"))
        tree.root.data = lineage.root
        tree.root.expand()

        def add(parent: TreeNode[Any], nodes: list[LineageNode], arrow: str) -> None:
            for node in nodes:
                label = Text.assemble((f"{arrow} {node.relation} ", "dim"), node.label)
                if node.repeated:
                    label.append(" (again)", "dim")
                child = parent.add(label, data=node.ref, expand=True, allow_expand=bool(node.children))
                add(child, node.children, arrow)

        if not lineage.upstream and not lineage.downstream:
            tree.root.add_leaf(Text("no recorded lineage yet", "dim italic"))
        add(tree.root, lineage.upstream, "↑")
        add(tree.root, lineage.downstream, "↓")

    @on(Tree.NodeSelected, "#lineage-tree")
    def _lineage_chosen(self, event: Tree.NodeSelected[Any]) -> None:
        ref = event.node.data
        if isinstance(ref, Ref) and ref != self.current:
            self.jump_to(ref, tab="lineage")

    # -- jumping and searching --------------------------------------------------------------------
    def jump_to(self, ref: Ref, tab: str | None = None, feature: str | None = None) -> None:
        """Open ``ref``: move the tree's cursor to it and show it in the detail pane."""
        self.query_one("#sidebar", ContentSwitcher).current = "assets"
        node = self._tree_nodes.get(ref.key)
        self._focus_feature = feature
        if node is not None:
            tree = self.query_one("#assets", Tree)
            if node.parent is not None:
                node.parent.expand()
            self.current = ref  # the highlight that follows must not reopen it on another tab
            tree.move_cursor(node)
        self.open_asset(ref, tab=tab)

    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        text = event.value.strip()
        if not text:
            self.hits = []
            self.query_one("#sidebar", ContentSwitcher).current = "assets"
            return
        self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self._fire_search(text))

    def _fire_search(self, text: str) -> None:
        self._search_timer = None
        self.run_search(text, self._request("search"))

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, text: str, generation: int) -> None:
        self._fetch("search", generation, lambda: (text, self.source.search(text)), self._show_hits)

    def _show_hits(self, result: tuple[str, list[Hit]]) -> None:
        text, hits = result
        if text != self.query_one("#search", Input).value.strip():
            return  # typed on meanwhile
        self.hits = hits
        results = self.query_one("#results", OptionList)
        results.clear_options()
        if not hits:
            results.add_option(Option(Content.styled(f"nothing matches {text!r}", "italic dim"), disabled=True))
        width = max(results.size.width - 3, 20)
        for i, hit in enumerate(hits):
            prompt = Parts()
            prompt.add(_clip(hit.label, width), "bold")
            prompt.add("\n")
            kind = hit.context or KIND_TITLES.get(hit.kind, hit.kind)
            prompt.add(_clip(kind, width), "italic dim")
            snippet = " ".join(hit.snippet.split())
            if snippet and snippet.strip("[]") != hit.label.split(" ")[0] and width - len(kind) - 3 >= 12:
                prompt.add(" · ", "dim")
                _highlight(prompt, _clip(snippet, width - len(kind) - 3, keep_brackets=True))
            results.add_option(Option(prompt.content(), id=str(i)))
        self.query_one("#sidebar", ContentSwitcher).current = "results"
        if self._focus_results:
            self._focus_results = False
            self._enter_results()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        if self._search_timer is not None:  # enter right after typing: search now, then go to the results
            self._search_timer.stop()
            self._search_timer = None
            text = self.query_one("#search", Input).value.strip()
            if text:
                self._focus_results = True
                self.run_search(text, self._request("search"))
            return
        self._enter_results()

    def _enter_results(self) -> None:
        results = self.query_one("#results", OptionList)
        if self.query_one("#sidebar", ContentSwitcher).current == "results":
            results.focus()
            if results.option_count and results.highlighted is None:
                results.highlighted = 0

    def on_key(self, event: Any) -> None:
        if event.key == "down" and self.focused is self.query_one("#search", Input):
            if self.query_one("#sidebar", ContentSwitcher).current == "results":
                event.stop()
                self._search_submitted()

    @on(OptionList.OptionHighlighted, "#results")
    def _hit_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Moving through the results previews each asset in the detail pane."""
        if event.option.id is None:
            return
        hit = self.hits[int(event.option.id)]
        if hit.ref is not None and hit.ref != self.current:
            self._focus_feature = hit.feature
            self.open_asset(hit.ref, tab="overview")

    @on(OptionList.OptionSelected, "#results")
    def _hit_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is None:
            return
        hit = self.hits[int(event.option.id)]
        if hit.ref is None:
            self.notify(f"{hit.label} is not shown in the browser yet.", severity="warning")
            return
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        self.jump_to(hit.ref, tab="overview", feature=hit.feature)
        self.query_one("#assets", Tree).focus()

    # -- actions -------------------------------------------------------------------------------
    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_back(self) -> None:
        search = self.query_one("#search", Input)
        if self.focused is search or self.query_one("#sidebar", ContentSwitcher).current == "results":
            search.value = ""
            self.query_one("#sidebar", ContentSwitcher).current = "assets"
        self.query_one("#assets", Tree).focus()

    def action_tab(self, number: int) -> None:
        if self.current is None:
            return
        tabs = TABS_BY_KIND.get(self.current.kind, ("overview",))
        if number <= len(tabs):
            self.query_one("#tabs", TabbedContent).active = tabs[number - 1]

    def action_lineage(self) -> None:
        if self.current is None:
            self.notify("Choose an asset first.", severity="information", timeout=2)
            return
        self.query_one("#tabs", TabbedContent).active = "lineage"
        self._load_tab("lineage")
        self.query_one("#lineage-tree", Tree).focus()

    def _focus_tab_body(self) -> None:
        tab = self.query_one("#tabs", TabbedContent).active
        target = {"overview": "#schema", "data": "#preview", "history": "#commits", "stats": "#stats-table",
                  "checks": "#reports", "datasets": "#datasets-table", "trials": "#trials-table",
                  "versions": "#versions-table", "lineage": "#lineage-tree"}.get(tab)
        if target:
            self.query_one(target).focus()

    def _editable(self) -> Ref | None:
        if self.read_only:
            self.report(ReadOnlyError("The browser was started with --read-only: editing is off."))
            return None
        if self.current is None:
            self.notify("Choose an asset first.", severity="information", timeout=2)
            return None
        return self.current

    def action_edit_description(self) -> None:
        ref = self._editable()
        if ref is None:
            return
        overview = self.overview_data
        if overview is None or overview.ref != ref:
            self.notify("Still loading; try again in a moment.", timeout=2)
            return
        if not overview.editable_description:
            self.notify(f"The description of a {KIND_TITLES[ref.kind]} cannot be changed.", severity="warning")
            return

        def confirm(text: str | None) -> None:
            if text is None or text == overview.description:
                return
            self.push_screen(
                ConfirmScreen(f"Change the description of {ref.title}?", f"new: {text or '(empty)'}"),
                lambda yes: self.apply_edit(ref, "description", text, self._request("edit")) if yes else None,
            )

        self.push_screen(DescriptionScreen(ref.title, overview.description), confirm)

    def action_add_tag(self) -> None:
        ref = self._editable()
        if ref is None:
            return

        def confirm(result: tuple[str, Any] | None) -> None:
            if result is None:
                return
            key, value = result
            self.push_screen(
                ConfirmScreen(f"Set the tag {key} = {fmt(value)} on {ref.title}?"),
                lambda yes: self.apply_edit(ref, "tag", (key, value), self._request("edit")) if yes else None,
            )

        self.push_screen(TagScreen(ref.title), confirm)

    def action_delete_tag(self) -> None:
        ref = self._editable()
        if ref is None:
            return
        overview = self.overview_data
        if overview is None or overview.ref != ref:
            self.notify("Still loading; try again in a moment.", timeout=2)
            return
        if not overview.tags:
            self.notify(f"{ref.title} has no tags.", severity="information", timeout=3)
            return

        def confirm(key: str | None) -> None:
            if key is None:
                return
            self.push_screen(
                ConfirmScreen(f"Delete the tag {key} of {ref.title}?"),
                lambda yes: self.apply_edit(ref, "untag", key, self._request("edit")) if yes else None,
            )

        self.push_screen(UntagScreen(ref.title, overview.tags), confirm)

    @work(thread=True, group="edit", exit_on_error=False)
    def apply_edit(self, ref: Ref, what: str, value: Any, generation: int = 0) -> None:
        def run() -> str:
            if what == "description":
                self.source.set_description(ref, value)
                return "Description saved."
            if what == "tag":
                self.source.set_tag(ref, value[0], value[1])
                return f"Tag {value[0]} set."
            self.source.delete_tag(ref, value)
            return f"Tag {value} deleted."

        self._fetch("edit", generation, run, lambda message: self._edited(ref, message))

    def _edited(self, ref: Ref, message: str) -> None:
        self.notify(message, title=ref.title, timeout=3)
        if ref == self.current:
            self._load_tab("overview", force=True)


# -- helpers ------------------------------------------------------------------------------------
def _fill(widget: DataTable[Any], table: Table) -> None:
    """Replace a DataTable's columns and rows (cells as plain Text: data is never markup)."""
    widget.clear(columns=True)
    if not table.columns:
        return
    widget.add_columns(*table.columns)
    right = table.numeric
    widget.add_rows(
        [Text(cell, justify="right" if i in right else "left") for i, cell in enumerate(row)] for row in table.rows
    )


def _short(value: Any) -> str:
    """Short display of a min/max: ISO times lose their zeros, floats their noise."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        text = value.replace("T", " ").split(".")[0].rstrip("Z").replace("+00:00", "")
        return text[:10] if text.endswith("00:00:00") else text[:16]
    return fmt(value)


def _report_results(report: dict[str, Any]) -> list[Any]:
    """The per-rule results of a stored validation report (``report["report"]["results"]``)."""
    inner = report.get("report")
    if isinstance(inner, dict) and isinstance(inner.get("results"), list):
        return list(inner["results"])
    return list(report.get("results") or report.get("expectations") or [])


def _clip(text: str, width: int, keep_brackets: bool = False) -> str:
    """``text`` cut to ``width`` cells with an ellipsis (FTS5's [match] brackets take no cells)."""
    visible = len(text) - (text.count("[") + text.count("]") if keep_brackets else 0)
    if visible <= width:
        return text
    out, cells = [], 0
    for ch in text:
        if keep_brackets and ch in "[]":
            out.append(ch)
            continue
        if cells >= width - 1:
            break
        out.append(ch)
        cells += 1
    clipped = "".join(out)
    if keep_brackets and clipped.count("[") > clipped.count("]"):
        clipped += "]"
    return clipped + "…"


def _sort_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    return (1, str(value))


def _highlight(parts: Parts, snippet: str) -> None:
    """FTS5 snippets mark matches with [brackets]: show them in the accent colour instead."""
    bold = False
    part = ""
    for ch in snippet:
        if ch in "[]":
            parts.add(part, "bold $accent" if bold else "dim")
            part, bold = "", ch == "["
        else:
            part += ch
    parts.add(part, "bold $accent" if bold else "dim")


class Parts:
    """Builds Textual ``Content`` piece by piece (styles may use theme variables like $accent)."""

    def __init__(self) -> None:
        self.parts: list[str | tuple[str, str]] = []

    def add(self, text: str, style: str = "") -> Parts:
        if text:
            self.parts.append((text, style) if style else text)
        return self

    def content(self) -> Content:
        return Content.assemble(*self.parts)


class _ToTextualLog(logging.Handler):
    """While the app runs, lakebox's log records go to Textual's log, never to the terminal."""

    def __init__(self, app: App[Any]) -> None:
        super().__init__(logging.DEBUG)
        self.app = app
        self._logger = logging.getLogger("lakebox")
        self._propagate = True

    def attach(self) -> None:
        self._propagate = self._logger.propagate
        self._logger.addHandler(self)
        self._logger.propagate = False

    def detach(self) -> None:
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.app.log.logging(self.format(record))
        except Exception:  # never let logging break the app
            pass

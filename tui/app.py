"""The lakebox registry browser: a keyboard-first Textual app over one box.

Layout: a search bar, the sidebar (the asset tree, or search results) and the detail pane
(``detail.AssetDetail``: one widget per tab, ``tabs/``). One reactive, ``current``, names the
asset shown; ``commit`` is the time-travel commit. Every read runs in a thread worker; every
error becomes a notification. The tree follows the box: a timer checks the catalog files in a
worker and, when another process committed, everything shown is read again (``r`` does it by
hand). The app never closes the project it is given (its opener's owner does).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.events import Key
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Footer, Header, Input, Label, OptionList, Static, Tree
from textual.worker import get_current_worker

from lakebox.errors import LakeboxError
from lakebox.tui.detail import AssetDetail
from lakebox.tui.editing import EditingMixin
from lakebox.tui.keys import APP_BINDINGS, EDIT_ACTIONS
from lakebox.tui.model import Catalog, Hit, ReadOnlyError, Ref
from lakebox.tui.screens import HelpScreen
from lakebox.tui.sidebar import AssetTree, SearchResults
from lakebox.tui.source import Source
from lakebox.tui.tabs import CommitChosen
from lakebox.tui.widgets import KeyScroll, LoadFailed, OpenAsset, Parts

SEARCH_DELAY_S = 0.2
WATCH_INTERVAL_S = 1.0


class BrowserApp(EditingMixin, App[None]):
    """Browse a box: ``BrowserApp(opener=lambda: lakebox.connect(path)).run()``.

    ``watch_interval``: seconds between checks for changes by other processes (None: never).
    """

    CSS_PATH = "app.tcss"
    AUTO_FOCUS = "#assets"
    TITLE = "lakebox"
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

    current: reactive[Ref | None] = reactive(None, init=False)
    commit: reactive[int | None] = reactive(None, init=False)

    def __init__(self, opener: Callable[[], Any] | None = None, *, project: Any = None, read_only: bool = False,
                 watch_interval: float | None = WATCH_INTERVAL_S) -> None:
        super().__init__()
        if opener is None and project is None:
            raise ValueError("BrowserApp needs an opener or a project.")
        self.source = Source(opener if opener is not None else (lambda: project), read_only=read_only)
        self.read_only = read_only
        self.watch_interval = watch_interval
        self.catalog: Catalog | None = None
        self.unexpected_errors: list[BaseException] = []  # bugs (not LakeboxErrors): tests assert none
        self._token: Any = None  # the catalog files' state when the box was last read
        self._catalog_generation = 0
        self._search_generation = 0
        self._search_timer: Timer | None = None
        self._focus_results = False
        self._log_handler: _ToTextualLog | None = None
        self._detail_ready = False  # the detail pane is mounted (after the first frame)

    # -- layout -----------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header(icon="▤")
        with Horizontal(id="searchbar"):
            yield Label("/", id="search-icon")
            yield Input(placeholder="search groups, features, views, tags…", id="search")
        with Horizontal(id="body"):
            with ContentSwitcher(initial="assets", id="sidebar"):
                yield AssetTree(id="assets")
                yield SearchResults(id="results")
            with ContentSwitcher(initial="welcome", id="detail"):
                yield KeyScroll(Static("Opening the box…", id="welcome-text"), id="welcome")
                # the detail pane (every tab's widgets: most of the layout) is built after the
                # first frame, by ``_build_detail``
        yield Footer()

    @property
    def detail(self) -> AssetDetail:
        return self.query_one("#asset", AssetDetail)

    @property
    def asset_tree(self) -> AssetTree:
        return self.query_one("#assets", AssetTree)

    @property
    def results(self) -> SearchResults:
        return self.query_one("#results", SearchResults)

    def on_mount(self) -> None:
        self._log_handler = _ToTextualLog(self)
        self._log_handler.attach()
        self.sub_title = "opening…"
        self.asset_tree.focus()
        # The first frame (the search bar, "Opening the box…") is drawn before the detail pane is
        # built and before the box opens (opening imports the engines: ~1 s). No loading
        # indicator: its animation redraws 16 times a second, and on the UI thread it competes
        # with the worker that opens the box (~1 s more CPU before the tree shows).
        self.call_after_refresh(self._build_detail)

    async def _build_detail(self) -> None:
        """Mount the detail pane, then read the box: nothing can open an asset before the pane
        exists (assets come from the catalog; searches wait for ``_detail_ready``)."""
        detail = AssetDetail(id="asset").data_bind(BrowserApp.current, BrowserApp.commit)
        detail.display = False  # the switcher shows the welcome text until an asset is opened
        await self.query_one("#detail", ContentSwitcher).mount(detail)
        self._detail_ready = True
        self.load_catalog()

    def on_unmount(self) -> None:
        if self._log_handler is not None:
            self._log_handler.detach()

    # -- errors -----------------------------------------------------------------------------
    def report(self, error: BaseException) -> None:
        """An error as a notification: lakebox's message, never a traceback. Anything but a
        ``LakeboxError`` is a bug in the browser or the api: kept in ``unexpected_errors``."""
        if isinstance(error, ReadOnlyError):
            self.notify(str(error), title="Read-only", severity="warning")
            return
        if not isinstance(error, LakeboxError):
            self.unexpected_errors.append(error)
        self.log.error(repr(error))
        self.notify(str(error) or type(error).__name__, title=type(error).__name__, severity="error", timeout=8)

    @on(LoadFailed)
    def _load_failed(self, event: LoadFailed) -> None:
        self.report(event.error)

    # -- the catalog, the asset tree, and following the box ----------------------------------
    def load_catalog(self, silent: bool = False) -> None:
        self._catalog_generation += 1
        self._read_catalog(self._catalog_generation, silent)

    @work(thread=True, exclusive=True, group="catalog", exit_on_error=False)
    def _read_catalog(self, generation: int, silent: bool) -> None:
        worker = get_current_worker()
        try:
            token = self.source.change_token()
            value, error = (self.source.catalog(), token), None
        except Exception as e:
            value, error = None, e
        if not worker.is_cancelled:
            try:
                self.call_from_thread(self._show_catalog, generation, value, error, silent)
            except RuntimeError:  # the app is closing
                pass

    def _show_catalog(self, generation: int, value: tuple[Catalog, Any] | None, error: BaseException | None,
                      silent: bool) -> None:
        if generation != self._catalog_generation:
            return
        if value is None:
            assert error is not None
            self.report(error)
            if self.catalog is None:
                self.query_one("#welcome-text", Static).update(Content(f"Could not open the box:\n{error}"))
            return
        catalog, self._token = value
        first = self.catalog is None
        self.catalog = catalog
        for branch_error in catalog.errors:
            self.report(branch_error)
        self.sub_title = catalog.name + (" · read-only" if self.read_only else "")
        self.asset_tree.show_catalog(catalog)
        if self.current is not None and self.current not in catalog.refs():
            self.notify(f"{self.current.title} is gone (deleted by another process?).", severity="warning")
            self.current = None
            self.query_one("#detail", ContentSwitcher).current = "welcome"
        if self.current is None:
            self._show_welcome()
        if first:
            self.asset_tree.cursor_line = 0
            if self.focused is None:
                self.asset_tree.focus()
            if self.watch_interval is not None:
                self.set_interval(self.watch_interval, self._poll, name="watch the box")
        elif not silent:
            self.notify("Read the box again.", timeout=2)

    def _show_welcome(self) -> None:
        catalog = self.catalog
        welcome = next(self.query("#welcome-text").results(Static), None)
        if catalog is None or welcome is None:  # (None: the app is closing, a highlight came late)
            return
        counts = [(len(refs), title.lower()[:-1]) for title, refs in catalog.branches() if refs is not None]
        text = Parts()
        text.add(catalog.name, "bold $accent")
        text.add(" · read-only\n" if self.read_only else "\n", "dim")
        text.add("\n".join(f"{n:>5} {what}{'' if n == 1 else 's'}" for n, what in counts) + "\n\n")
        text.add("↑ ↓ move · enter opens · / search\nl lineage · r refresh · ? help · q quit", "dim")
        welcome.update(text.content())
        self.query_one("#detail", ContentSwitcher).current = "welcome"

    def _poll(self) -> None:
        if not any(w.group == "watch" and w.is_running for w in self.workers):
            self._check_box()

    @work(thread=True, exclusive=True, group="watch", exit_on_error=False)
    def _check_box(self) -> None:
        """Another process committed when the catalog files changed (checked off the UI thread)."""
        try:
            token = self.source.change_token()
        except OSError:
            return
        if token != self._token and not get_current_worker().is_cancelled:
            try:
                self.call_from_thread(self._box_changed, token)
            except RuntimeError:
                pass

    def _box_changed(self, token: Any) -> None:
        if token == self._token:
            return
        self._token = token
        self.refresh_box(silent=True)

    def refresh_box(self, silent: bool = False) -> None:
        """Read the tree and the shown asset again (``silent``: no loading indicators)."""
        if not self._detail_ready:
            return  # the box is read first once the detail pane is built
        self.load_catalog(silent=silent)
        if self.current is not None:
            self.detail.reload(silent=silent)

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
            self.detail.tab_view().focus_body()

    # -- opening an asset --------------------------------------------------------------------
    def watch_current(self) -> None:
        self.commit = None  # time travel is per asset

    def open_asset(self, ref: Ref, tab: str | None = None) -> None:
        """Show ``ref`` in the detail pane; ``tab`` picks the tab (default: keep the current
        one when this kind has it, else Overview)."""
        self.query_one("#detail", ContentSwitcher).current = "asset"
        if self.catalog is not None:
            ref = self.catalog.find(ref)  # a search hit or lineage node: the tree's own Ref
        if ref == self.current:
            if tab is not None and tab in self.detail.tab_ids:
                self.detail.activate(tab)
            return
        self.detail.wanted_tab = tab
        self.current = ref

    def jump_to(self, ref: Ref, tab: str | None = None, feature: str | None = None) -> None:
        """Open ``ref``: move the tree's cursor to it and show it in the detail pane."""
        self.query_one("#sidebar", ContentSwitcher).current = "assets"
        self.detail.tab("overview").focus_feature = feature  # type: ignore[attr-defined]
        self.open_asset(ref, tab=tab)
        self.asset_tree.move_to(ref)  # its highlight finds the asset open already

    @on(OpenAsset)
    def _open_asset(self, event: OpenAsset) -> None:
        self.jump_to(event.ref, tab=event.tab)

    @on(CommitChosen)
    def _commit_chosen(self, event: CommitChosen) -> None:
        """Time travel: the data (and statistics) as of the commit; None is the latest."""
        self.commit = event.commit_id
        self.detail.activate("data", focus=True)

    # -- searching --------------------------------------------------------------------------
    @on(Input.Changed, "#search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
            self._search_timer = None
        text = event.value.strip()
        if not text:
            self.results.hits = []
            self.query_one("#sidebar", ContentSwitcher).current = "assets"
            return
        self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self._fire_search(text))

    def _fire_search(self, text: str) -> None:
        if not self._detail_ready:  # a hit opens its asset in the detail pane: wait for it
            self._search_timer = self.set_timer(SEARCH_DELAY_S, lambda: self._fire_search(text))
            return
        self._search_timer = None
        self._search_generation += 1
        self.run_search(text, self._search_generation)

    @property
    def searching(self) -> bool:
        """A search is typed but its results are not shown yet (debounced, or in a worker)."""
        return self._search_timer is not None or any(w.group == "search" and w.is_running for w in self.workers)

    @work(thread=True, exclusive=True, group="search", exit_on_error=False)
    def run_search(self, text: str, generation: int) -> None:
        try:
            value, error = self.source.search(text), None
        except Exception as e:
            value, error = [], e
        if not get_current_worker().is_cancelled:
            try:
                self.call_from_thread(self._show_hits, generation, text, value, error)
            except RuntimeError:
                pass

    def _show_hits(self, generation: int, text: str, hits: list[Hit], error: BaseException | None) -> None:
        if generation != self._search_generation or text != self.query_one("#search", Input).value.strip():
            return  # typed on meanwhile
        if error is not None:
            self.report(error)
            return
        self.results.show_hits(text, hits)
        self.query_one("#sidebar", ContentSwitcher).current = "results"
        if self._focus_results:
            self._focus_results = False
            self._enter_results()

    @on(Input.Submitted, "#search")
    def _search_submitted(self) -> None:
        # enter right after typing: search now, then go to the results
        if self._search_timer is not None and self._detail_ready:
            self._search_timer.stop()
            self._search_timer = None
            text = self.query_one("#search", Input).value.strip()
            if text:
                self._focus_results = True
                self._search_generation += 1
                self.run_search(text, self._search_generation)
            return
        self._enter_results()

    def _enter_results(self) -> None:
        if self.query_one("#sidebar", ContentSwitcher).current == "results":
            self.results.focus()
            if self.results.option_count and self.results.highlighted is None:
                self.results.highlighted = 0

    def on_key(self, event: Key) -> None:
        if event.key == "down" and self.focused is self.query_one("#search", Input):
            if self.query_one("#sidebar", ContentSwitcher).current == "results":
                event.stop()
                self._search_submitted()

    @on(OptionList.OptionHighlighted, "#results")
    def _hit_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Moving through the results previews each asset in the detail pane."""
        hit = self.results.hit(event.option)
        if hit is not None and hit.ref is not None and hit.ref != self.current:
            self.detail.tab("overview").focus_feature = hit.feature  # type: ignore[attr-defined]
            self.open_asset(hit.ref, tab="overview")

    @on(OptionList.OptionSelected, "#results")
    def _hit_chosen(self, event: OptionList.OptionSelected) -> None:
        hit = self.results.hit(event.option)
        if hit is None:
            return
        if hit.ref is None:
            self.notify(f"{hit.label} is not shown in the browser yet.", severity="warning")
            return
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = ""
        self.jump_to(hit.ref, tab="overview", feature=hit.feature)
        self.asset_tree.focus()

    # -- actions -------------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Read-only mode hides the editing keys (the footer and the help leave them out)."""
        if action in EDIT_ACTIONS:
            return not self.read_only
        if action == "read_only_notice":
            return self.read_only
        return True

    def action_focus_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(read_only=self.read_only))

    def action_refresh(self) -> None:
        self.refresh_box()

    def action_back(self) -> None:  # type: ignore[override]  # Textual runs sync and async actions alike
        search = self.query_one("#search", Input)
        if self.focused is search or self.query_one("#sidebar", ContentSwitcher).current == "results":
            search.value = ""
            self.query_one("#sidebar", ContentSwitcher).current = "assets"
        self.asset_tree.focus()

    def action_tab(self, number: int) -> None:
        if self.current is not None:
            self.detail.activate_number(number)

    def action_lineage(self) -> None:
        if self.current is None:
            self.notify("Choose an asset first.", severity="information", timeout=2)
            return
        self.detail.activate("lineage", focus=True)


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

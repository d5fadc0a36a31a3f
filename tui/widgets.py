"""The browser's building blocks: the base of every detail tab (``TabView``), the messages tabs
send to the app, and the table, tree, list and scroll widgets with j/k keys.

A ``TabView`` is a compound widget (its own ``compose``, worker and CSS) driven by two
reactives the app binds into it: ``current`` (the asset shown) and ``commit`` (the time-travel
commit, None = latest). When either changes, the tab is stale; a stale tab reloads when it is
the visible one, in a thread worker; a newer request drops the result of an older one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import DataTable, OptionList, TabPane, Tree
from textual.worker import get_current_worker

from lakebox.tui.model import Ref, Table

# j/k move like the arrow keys in every list, table and tree (and scroll a scrolling pane).
MOVE_KEYS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
]
SCROLL_KEYS: list[BindingType] = [
    Binding("j", "scroll_down", "Down", show=False),
    Binding("k", "scroll_up", "Up", show=False),
]


class KeyTable(DataTable[Any]):
    """A DataTable with j/k."""

    BINDINGS: ClassVar[list[BindingType]] = MOVE_KEYS


class KeyTree(Tree[Any]):
    """A Tree with j/k."""

    BINDINGS: ClassVar[list[BindingType]] = MOVE_KEYS


class KeyOptions(OptionList):
    """An OptionList with j/k."""

    BINDINGS: ClassVar[list[BindingType]] = MOVE_KEYS


class KeyScroll(VerticalScroll):
    """A VerticalScroll with j/k."""

    BINDINGS: ClassVar[list[BindingType]] = SCROLL_KEYS


# -- messages from the tabs to the app ----------------------------------------------------------
class OpenAsset(Message):
    """Open ``ref`` (on ``tab``; None keeps the current tab when the kind has it)."""

    def __init__(self, ref: Ref, tab: str | None = None) -> None:
        super().__init__()
        self.ref = ref
        self.tab = tab


class LoadFailed(Message):
    """A tab's read failed: the app shows the error."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class TabView(Widget):
    """Base of the detail tabs. Subclasses set ``TAB_ID``, ``TITLE``, ``BODY`` (the selector of
    the widget that takes the focus), ``KEY_HELP`` (keys that act through events, for the help
    and docs; not ``HELP``, which is Textual's Markdown help of a widget), implement ``request()`` (on the UI thread: a function to run in the worker) and
    ``show(value)`` (on the UI thread: draw it)."""

    DEFAULT_CSS = """
    TabView {
        height: 1fr;
    }
    TabView .tab-body {
        height: 1fr;
    }
    TabView .info-line {
        height: 1;
        width: 1fr;
        padding: 0 1;
        color: $text-muted;
    }
    TabView DataTable {
        height: 1fr;
        background: $surface;
    }
    """
    TAB_ID: ClassVar[str] = ""
    TITLE: ClassVar[str] = ""
    BODY: ClassVar[str] = ""
    KEY_HELP: ClassVar[list[tuple[str, str]]] = []
    USES_COMMIT: ClassVar[bool] = False  # reload when the time-travel commit changes

    current: reactive[Ref | None] = reactive(None, init=False)
    commit: reactive[int | None] = reactive(None, init=False)

    # Each tab defines ``request() -> fetch`` (a callable the worker thread runs: it reads the
    # box) and ``show(value)`` (draws what ``fetch`` returned, on the UI thread).
    if TYPE_CHECKING:

        def request(self) -> Callable[[], Any]: ...

        def show(self, value: Any) -> None: ...

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        missing = [name for name in ("request", "show") if not callable(getattr(cls, name, None))]
        if cls.TAB_ID and missing:
            raise TypeError(f"Tab {cls.__name__} must define {', '.join(missing)}.")

    def __init__(self) -> None:
        super().__init__(id=f"{self.TAB_ID}-view")
        self.stale = True
        self._generation = 0
        self._refocus: Widget | None = None
        self._shown: Any = None  # the value on screen (a silent refresh that reads the same skips drawing)

    # -- staleness and loading ---------------------------------------------------------------
    def watch_current(self) -> None:
        self.reset()
        self.invalidate()

    def watch_commit(self) -> None:
        if self.USES_COMMIT:
            self.invalidate()

    def reset(self) -> None:
        """Forget per-asset state (page, sort order) when another asset is shown."""

    def invalidate(self) -> None:
        """Mark the tab stale; it reloads now if it is the visible tab, else when shown."""
        self.stale = True
        self.call_later(self.load_if_visible)

    @property
    def is_visible_tab(self) -> bool:
        return isinstance(self.parent, TabPane) and self.parent.display and self.is_mounted

    def load_if_visible(self, silent: bool = False) -> None:
        if self.stale and self.current is not None and self.is_visible_tab:
            self.load(silent=silent)

    def load(self, silent: bool = False) -> None:
        """Read this tab's data in a worker; ``silent`` keeps the old content on screen (no
        loading indicator) until the new one arrives (for background refreshes)."""
        self.stale = False
        self._generation += 1
        if not silent:
            # The loading indicator covers the tab, which takes the focus from a widget in it:
            # remember it, to give it back with the new content.
            focused = self.app.focused
            self._refocus = focused if focused is not None and self in focused.ancestors else None
            self.loading = True
        self._read(self.request(), self._generation, silent)

    @work(thread=True, exclusive=True, group="read", exit_on_error=False)
    def _read(self, fetch: Callable[[], Any], generation: int, silent: bool) -> None:
        worker = get_current_worker()
        try:
            value, error = fetch(), None
        except Exception as e:  # shown as a notification, never a traceback
            value, error = None, e
        if worker.is_cancelled:
            return
        try:
            self.app.call_from_thread(self._deliver, generation, value, error, silent)
        except RuntimeError:  # the app is closing
            pass

    def _deliver(self, generation: int, value: Any, error: BaseException | None, silent: bool = False) -> None:
        if generation != self._generation:
            return  # a newer request is on its way
        self.loading = False
        if self._refocus is not None:
            if self.app.focused is None and self._refocus.is_attached:
                self._refocus.focus()
            self._refocus = None
        if error is not None:
            self.stale = True
            self.post_message(LoadFailed(error))
            return
        if silent and value == self._shown:
            return  # a background refresh read what is on screen: keep the cursor and expansion as they are
        try:
            self._shown = value
            self.show(value)
        except Exception as e:  # a value the browser cannot draw: say so, keep running
            self.post_message(LoadFailed(e))

    # -- helpers for subclasses --------------------------------------------------------------
    @property
    def source(self) -> Any:
        """The app's data layer (``lakebox.tui.source.Source``)."""
        return self.app.source  # type: ignore[attr-defined]

    def focus_body(self) -> None:
        if self.BODY:
            self.query_one(self.BODY).focus()


def fill(widget: DataTable[Any], table: Table) -> None:
    """Replace a DataTable's columns and rows (cells as plain Text: data is never markup).

    The column widths are given (the widest cell), not left to DataTable, which measures them
    when its message queue next runs dry: a frame drawn before that shows header-wide columns."""
    widget.clear(columns=True)
    if not table.columns:
        return
    for i, label in enumerate(table.columns):
        width = max([cell_len(label), *(cell_len(row[i]) for row in table.rows)])
        widget.add_column(label, width=width)
    right = table.numeric
    widget.add_rows(
        [Text(cell, justify="right" if i in right else "left") for i, cell in enumerate(row)] for row in table.rows
    )


def refill(widget: DataTable[Any], table: Table) -> None:
    """``fill``, keeping the cursor where it was (a refresh must not move the user)."""
    row, column = widget.cursor_coordinate
    fill(widget, table)
    if widget.row_count:
        widget.move_cursor(row=min(row, widget.row_count - 1), column=column, animate=False)


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

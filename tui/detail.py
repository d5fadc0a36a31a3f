"""The detail pane: the current asset's title and its tabs (which ones depends on its kind).

``current`` and ``commit`` are bound from the app and passed on to every tab; the pane picks
the tab to show, loads it when it becomes visible, and moves the focus with it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, TabbedContent, TabPane

from lakebox.tui.model import KIND_TITLES, Ref
from lakebox.tui.tabs import ALL_TABS, EXTERNAL_TABS, TABS_BY_KIND
from lakebox.tui.widgets import TabView


class AssetDetail(Widget):
    DEFAULT_CSS = """
    AssetDetail {
        height: 1fr;
    }
    AssetDetail #asset-title {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
    }
    AssetDetail #tabs {
        height: 1fr;
    }
    AssetDetail #tabs > ContentSwitcher {
        height: 1fr;
    }
    AssetDetail TabPane {
        padding: 0;
        height: 1fr;
    }
    """
    ALL_TAB_IDS: ClassVar[tuple[str, ...]] = tuple(tab.TAB_ID for tab in ALL_TABS)

    current: reactive[Ref | None] = reactive(None, init=False)
    commit: reactive[int | None] = reactive(None, init=False)

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.wanted_tab: str | None = None  # the tab to show for the next asset

    def compose(self) -> ComposeResult:
        yield Label("", id="asset-title")
        with TabbedContent(id="tabs"):
            for tab in ALL_TABS:
                with TabPane(tab.TITLE, id=tab.TAB_ID):
                    yield tab().data_bind(AssetDetail.current, AssetDetail.commit)

    # -- which tabs ---------------------------------------------------------------------------
    @property
    def tab_ids(self) -> tuple[str, ...]:
        """The tabs of the current asset's kind, in order (the digit keys pick them)."""
        if self.current is None:
            return ()
        if self.current.external:
            return EXTERNAL_TABS
        return TABS_BY_KIND.get(self.current.kind, ("overview",))

    @property
    def active(self) -> str:
        return self.query_one("#tabs", TabbedContent).active

    def tab(self, tab_id: str) -> TabView:
        return self.query_one(f"#{tab_id}-view", TabView)

    def tab_view(self) -> TabView:
        """The visible tab."""
        return self.tab(self.active)

    def watch_current(self, ref: Ref | None) -> None:
        if ref is None:
            return
        tabs = self.query_one("#tabs", TabbedContent)
        wanted = self.tab_ids
        kind = ("external " if ref.external else "") + KIND_TITLES.get(ref.kind, ref.kind)
        title = Content.assemble((kind + " ", "dim"), (ref.short, "bold"))
        self.query_one("#asset-title", Label).update(title)
        previous = tabs.active
        target = self.wanted_tab if self.wanted_tab in wanted else previous if previous in wanted else "overview"
        self.wanted_tab = None
        # Show the new tabs and switch before hiding the old ones: hiding the active tab makes
        # the tab bar pick a neighbour, by a message that would arrive after our choice.
        for tab_id in wanted:
            tabs.show_tab(tab_id)
        self.activate(target)
        for tab_id in self.ALL_TAB_IDS:
            if tab_id not in wanted:
                tabs.hide_tab(tab_id)

    # -- switching --------------------------------------------------------------------------
    def activate(self, tab_id: str, focus: bool | None = None) -> None:
        """Show ``tab_id``; the focus moves into it when it was in the detail pane (or when
        ``focus``)."""
        tabs = self.query_one("#tabs", TabbedContent)
        focused = self.app.focused
        inside = focused is not None and self in focused.ancestors
        follow = inside if focus is None else focus
        if inside and tabs.active != tab_id:
            # The focused widget is about to be hidden: Textual would move the focus to a widget
            # of the old pane, and TabbedContent would switch back to it. Let go of it first.
            self.screen.set_focus(None)
        if tabs.active != tab_id:
            tabs.active = tab_id
        self.tab(tab_id).load_if_visible()
        if follow:
            self.tab(tab_id).focus_body()

    def activate_number(self, number: int) -> bool:
        """The ``number``-th tab of the current kind (the digit keys); False if there is none."""
        ids = self.tab_ids
        if not 1 <= number <= len(ids):
            return False
        self.activate(ids[number - 1])
        return True

    @on(TabbedContent.TabActivated, "#tabs")
    def _activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id:
            self.tab(event.pane.id).load_if_visible()

    def reload(self, silent: bool = False) -> None:
        """Everything is stale (``r``, or the box changed): reload the visible tab now, the
        others when shown. ``silent`` keeps the old content until the new one arrives."""
        for tab_id in self.ALL_TAB_IDS:
            self.tab(tab_id).stale = True
        if self.current is not None:
            self.tab_view().load_if_visible(silent=silent)

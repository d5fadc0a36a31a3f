"""The browser's keys: digits and j/k wherever the focus is, ``r`` and following the box as
other processes commit, read-only hiding the editing keys, and docs/tui.md generated from the
bindings. Also: a renamed api method is a failing test, not a "not available" screen."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lakebox

pytest.importorskip("textual")

from test_tui import PLAYERS, make_box, press, run, settle, tree_labels, type_text, until  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import DataTable, Input, OptionList, Tree  # noqa: E402
from textual.widgets._footer import FooterKey  # noqa: E402

from lakebox.tui import BrowserApp, keys  # noqa: E402
from lakebox.tui.screens import HelpScreen  # noqa: E402
from lakebox.tui.tabs import ALL_TABS  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs" / "tui.md"


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A box the read-only tests share (nothing edits it)."""
    project = make_box(tmp_path_factory.mktemp("tui_keys") / "demo.lakebox")
    yield project
    project.close()


@pytest.fixture
def fresh_box(tmp_path: Path) -> Iterator[Any]:
    """A small box of its own, for tests that write."""
    project = make_box(tmp_path / "edit.lakebox", full=False, n_teams=4, n_players=20, n_games=20)
    yield project
    project.close()


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_digits_and_j_k_work_wherever_the_focus_is(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        tree = app.query_one("#assets", Tree)
        await press(pilot, "j", "j")  # Feature groups > games > players
        assert app.current == PLAYERS and app.focused is tree
        await press(pilot, "k")
        assert app.current is not None and app.current.name == "games"
        await press(pilot, "j", "3")  # a digit on the tree switches the tab, the focus stays
        assert app.detail.active == "history" and app.focused is tree
        await press(pilot, "enter")  # into the detail: the History table
        assert app.focused is app.query_one("#commits")
        # each digit switches the tab and takes the focus along; j/k move in what has it
        for digit, tab, body in (("2", "data", "#preview"), ("4", "stats", "#stats-table"),
                                 ("5", "checks", "#reports"), ("1", "overview", "#schema"),
                                 ("6", "lineage", "#lineage-tree"), ("3", "history", "#commits"),
                                 ("2", "data", "#preview")):
            await press(pilot, digit)
            assert (app.detail.active, app.focused) == (tab, app.query_one(body)), digit
        table = app.query_one("#preview", DataTable)
        await press(pilot, "j", "j")
        assert table.cursor_row == 2
        await press(pilot, "k")
        assert table.cursor_row == 1
        await press(pilot, "1")
        schema = app.query_one("#schema", DataTable)
        await press(pilot, "j")
        assert app.focused is schema and schema.cursor_row == 1
        await press(pilot, "9")  # no ninth tab for a group: nothing happens
        assert app.detail.active == "overview" and app.focused is schema
        # the search results take j/k and the digits too
        await press(pilot, "slash")
        await type_text(pilot, "a")
        await until(pilot, lambda: app.query_one("#sidebar").current == "results")
        await press(pilot, "2")  # typing: the digit goes into the search
        assert app.query_one("#search", Input).value == "a2"
        await press(pilot, "backspace")
        await until(pilot, lambda: app.query_one("#sidebar").current == "results")
        await press(pilot, "down")
        results = app.query_one("#results", OptionList)
        assert app.focused is results and results.highlighted == 0
        await press(pilot, "j")
        assert results.highlighted == 1
        await press(pilot, "k")
        assert results.highlighted == 0

    run(app, scenario)


def _footer(app: BrowserApp) -> dict[str, str]:
    return {key.key: key.description for key in app.screen.query(FooterKey)}


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_read_only_hides_the_editing_keys_from_the_footer_and_the_help(box: Any) -> None:
    for read_only in (False, True):
        app = BrowserApp(project=box, read_only=read_only)

        async def scenario(pilot: Pilot[Any], read_only: bool = read_only, app: BrowserApp = app) -> None:
            await press(pilot, "j", "j")
            footer = _footer(app)
            assert footer["r"] == "Refresh" and footer["l"] == "Lineage"
            edit = {k: footer.get(k) for k in ("e", "t", "d")}
            assert edit == ({"e": None, "t": None, "d": None} if read_only else {"e": "Edit", "t": "Tag", "d": "Untag"})
            await press(pilot, "question_mark")
            assert isinstance(app.screen, HelpScreen)
            titles = [str(label.render()) for label in app.screen.query(".help-section")]
            assert ("Editing" in titles) is not read_only
            assert "Data tab (feature groups)" in titles
            await press(pilot, "escape")
            if read_only:  # a hidden editing key says why it does nothing
                await press(pilot, "t")
                assert app.screen is app.screen_stack[0]
                assert any("read-only" in n.message for n in app._notifications)

        run(app, scenario)


def test_docs_list_every_key_from_the_bindings() -> None:
    """docs/tui.md's keys section is generated from the bindings (regenerate it with
    ``python -m lakebox.tui.keys --write docs/tui.md``)."""
    text = DOCS.read_text()
    assert keys.splice(text) == text, "docs/tui.md is out of date: run python -m lakebox.tui.keys --write docs/tui.md"
    generated = keys.markdown()
    for binding in keys._bindings(keys.APP_BINDINGS):
        if binding.action in ("read_only_notice",) or binding.action.startswith("tab("):
            continue
        assert f"`{keys.key_display(binding.key)}`" in generated and binding.tooltip in generated, binding
    assert "`1 … 9`" in generated and "`j k`" in generated
    for tab in ALL_TABS:
        for binding in keys._bindings(list(tab.BINDINGS)):
            assert f"| `{binding.key}` | {binding.tooltip} |" in generated, (tab.TITLE, binding)
        for key, what in tab.KEY_HELP:
            assert f"| `{key}` | {what} |" in generated


def test_r_reads_the_box_again(fresh_box: Any) -> None:
    app = BrowserApp(project=fresh_box, watch_interval=None)  # only r

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "j", "j")
        assert app.current == PLAYERS
        group = fresh_box.get_feature_store().get_feature_group("players", 1)
        group.add_tag("owner", "scouting")
        fresh_box.get_feature_store().create_feature_group("late", version=1, primary_key=["id"])
        await press(pilot, "r")
        assert "late v1" in tree_labels(app.query_one("#assets", Tree))
        assert "owner=scouting" in str(app.query_one("#overview-info").render())
        assert app.current == PLAYERS and app.focused is app.query_one("#assets")

    run(app, scenario)


WRITER = textwrap.dedent("""
    import sys
    import pandas as pd
    import lakebox
    with lakebox.connect(sys.argv[1]) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("arrivals", version=1, primary_key=["id"], description="From another process.")
        fg.insert(pd.DataFrame({"id": [1, 2, 3]}))
        fs.get_feature_group("players", 1).add_tag("owner", "scouting")
""")


def test_the_tree_follows_writes_without_r(fresh_box: Any) -> None:
    """The watcher sees any commit to the box (here from this process, through another
    Project); the next test does it from another process."""
    app = BrowserApp(project=fresh_box, watch_interval=0.05)

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "j", "j", "2")
        assert app.current == PLAYERS and app.detail.active == "data"
        with lakebox.connect(fresh_box.path) as other:
            other.get_feature_store().create_feature_group("late", version=1, primary_key=["id"])
        await until(pilot, lambda: "late v1" in tree_labels(app.query_one("#assets", Tree)))
        assert app.current == PLAYERS and app.detail.active == "data"  # the place is kept

    run(app, scenario)


@pytest.mark.slow
def test_the_tree_follows_another_process_writing(fresh_box: Any) -> None:
    app = BrowserApp(project=fresh_box, watch_interval=0.1)

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "j", "j")
        assert app.current == PLAYERS
        subprocess.run([sys.executable, "-c", WRITER, str(fresh_box.path)], check=True, timeout=300)
        await until(pilot, lambda: "arrivals v1" in tree_labels(app.query_one("#assets", Tree)))
        await until(pilot, lambda: "owner=scouting" in str(app.query_one("#overview-info").render()))
        assert app.current == PLAYERS  # the cursor stayed on the asset shown
        assert app.query_one("#assets", Tree).cursor_node.data == PLAYERS

    run(app, scenario)


class _Renamed:
    """A project whose feature store lost ``get_feature_views`` (as if renamed)."""

    def __init__(self, project: Any) -> None:
        self._project = project

    def get_feature_store(self) -> Any:
        store = self._project.get_feature_store()

        class Store:
            def __getattr__(self, name: str) -> Any:
                if name == "get_feature_views":
                    raise AttributeError(name)
                return getattr(store, name)

        return Store()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._project, name)


def test_a_renamed_api_method_is_an_error_not_a_missing_feature(fresh_box: Any) -> None:
    app = BrowserApp(project=_Renamed(fresh_box), watch_interval=None)

    async def main() -> None:
        async with app.run_test() as pilot:
            await settle(pilot)
            assert app.is_running
            assert [type(e) for e in app.unexpected_errors] == [AttributeError]
            assert any(n.severity == "error" and "get_feature_views" in n.message for n in app._notifications)

    import asyncio

    asyncio.run(main())

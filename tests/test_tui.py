"""The terminal browser (``lakebox.tui``): Textual pilots against a real demo box, plus a few
SVG snapshots of the main screens at 80x24 and 160x48 (``pytest --snapshot-update`` rewrites
them; look at them before committing)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("textual")

import pandas as pd  # noqa: E402
from textual.pilot import Pilot  # noqa: E402
from textual.widgets import DataTable, Input, OptionList, Static, TabbedContent, Tree  # noqa: E402

import lakebox  # noqa: E402
from lakebox import expect  # noqa: E402
from lakebox.demo import build_demo_box, create_demo_view  # noqa: E402
from lakebox.errors import StorageError  # noqa: E402
from lakebox.tui import BrowserApp  # noqa: E402
from lakebox.tui.model import Ref  # noqa: E402
from lakebox.tui.screens import ConfirmScreen, TagScreen  # noqa: E402
from lakebox.tui.tabs import DataTab, StatsTab  # noqa: E402

PLAYERS = Ref("feature_group", "players", 1)
GAMES = Ref("feature_group", "games", 1)
VIEW = Ref("feature_view", "attendance", 1)
DATASET = Ref("training_dataset", "attendance", 1, "attendance:1")


def make_box(path: Path, full: bool = True, **sizes: int) -> Any:
    """The demo box (two days); when ``full``, also its feature view with one training dataset,
    two model versions and a group with validation reports."""
    project = lakebox.connect(path)
    demo = build_demo_box(project, **sizes)
    if not full:
        return project
    view = create_demo_view(demo)
    view.create_training_dataset(data_format="parquet", test_size=0.2, seed=42)
    checked = project.get_feature_store().create_feature_group(
        "scores", version=1, primary_key=["id"], description="Scores checked on every insert.",
        expectations=[expect.not_null("score"), expect.between("score", 0, 100)], validation="warn")
    checked.insert(pd.DataFrame({"id": [1, 2, 3], "score": [10.0, 55.5, 99.0]}))
    checked.insert(pd.DataFrame({"id": [4, 5], "score": [120.0, None]}))  # kept, with a failed report
    registry = project.get_model_registry()
    registry.create_model("attendance_model", metrics={"rmse": 1234.5}, description="Predicts attendance.",
                          training_dataset=(view, 1))
    registry.create_model("attendance_model", metrics={"rmse": 1100.0}, training_dataset=(view, 1))
    return project


@pytest.fixture(scope="module")
def box(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A box the read-only tests share (nothing edits it)."""
    project = make_box(tmp_path_factory.mktemp("tui") / "demo.lakebox")
    yield project
    project.close()


@pytest.fixture
def fresh_box(tmp_path: Path) -> Iterator[Any]:
    """A box of its own, for tests that edit."""
    project = make_box(tmp_path / "edit.lakebox", full=False, n_teams=4, n_players=20, n_games=20)
    yield project
    project.close()


def run(app: BrowserApp, scenario: Callable[[Pilot[Any]], Awaitable[None]], size: tuple[int, int] = (100, 32)) -> None:
    """Run ``scenario`` against ``app`` once the box is listed; a bug (an error that is not a
    LakeboxError, e.g. an api method the browser calls by a name that no longer exists) fails
    the test even though the browser only showed it as a notification."""

    async def main() -> None:
        async with app.run_test(size=size) as pilot:
            await until(pilot, lambda: app.catalog is not None or bool(app._notifications))
            await scenario(pilot)
            assert app.unexpected_errors == []

    asyncio.run(main())


def idle(app: BrowserApp) -> bool:
    """No read in flight, no search waiting for its debounce, no loading indicator."""
    return (not any(w.is_running for w in app.workers) and not app.searching
            and not any(w.loading for w in app.screen.query("*")))


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the app is idle (workers done, their results on screen, animations over):
    conditions, never a fixed time, so a loaded machine only makes it slower."""
    await until(pilot, lambda: idle(pilot.app))


async def until(pilot: Pilot[Any], condition: Callable[[], bool], limit_s: float = 120.0) -> None:
    """Let the app run until ``condition()`` holds and the app is idle (``limit_s`` only stops
    a hang; it is not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    app = pilot.app
    while True:
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        if condition() and idle(app):
            return
        if loop.time() > deadline:
            raise AssertionError(f"the app did not reach {condition} within {limit_s} s")
        await asyncio.sleep(0.01)


async def press(pilot: Pilot[Any], *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


async def type_text(pilot: Pilot[Any], text: str) -> None:
    await pilot.press(*[("space" if ch == " " else ch) for ch in text])


def cells(app: BrowserApp, selector: str) -> list[list[str]]:
    table = app.query_one(selector, DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def text_of(app: BrowserApp, selector: str) -> str:
    widget = app.query_one(selector)
    return str(widget.render())


def tree_labels(tree: Tree[Any]) -> list[str]:
    out = []

    def walk(node: Any) -> None:
        for child in node.children:
            out.append(str(child.label))
            walk(child)

    walk(tree.root)
    return out


# -- behaviour -------------------------------------------------------------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_tree_lists_assets_by_kind_and_opens_a_group(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        tree = app.query_one("#assets", Tree)
        branches = {str(n.label): [str(c.label) for c in n.children] for n in tree.root.children}
        assert branches["Feature groups (4)"] == ["games v1", "players v1", "scores v1", "teams v1"]
        assert branches["Feature views (1)"] == ["attendance v1"]
        assert branches["Training datasets (1)"] == ["attendance v1 · td 1"]
        assert branches["Models (2)"] == ["attendance_model v1", "attendance_model v2"]
        assert app.current is None
        await press(pilot, "down", "down")  # Feature groups > games > players
        assert app.current == PLAYERS
        assert app.query_one("#tabs", TabbedContent).active == "overview"
        info = text_of(app, "#overview-info")
        assert "Daily player rating snapshots" in info
        assert "primary key  player_id" in info and "event time   ts" in info
        schema = cells(app, "#schema")
        assert ["key", "player_id", "bigint", "Player identifier."] == schema[0]
        assert schema[1][:3] == ["time", "ts", "timestamp"]
        await press(pilot, "enter")  # into the detail
        assert app.focused is app.query_one("#schema")

    run(app, scenario)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_search_as_you_type_jumps_to_the_feature(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "slash")
        assert app.focused is app.query_one("#search", Input)
        await type_text(pilot, "rating")
        await until(pilot, lambda: app.query_one("#sidebar").current == "results")  # the search is debounced
        results = app.query_one("#results", OptionList)
        assert app.query_one("#sidebar").current == "results"
        assert [(h.label, h.context) for h in app.results.hits][:1] == [("rating", "feature of players v1")]
        await press(pilot, "down")
        assert app.focused is results
        await press(pilot, "enter")
        assert app.current == PLAYERS
        assert app.query_one("#search", Input).value == ""
        assert app.query_one("#sidebar").current == "assets"
        schema = app.query_one("#schema", DataTable)
        assert str(schema.get_row_at(schema.cursor_row)[1]) == "rating"
        # nothing found, then escape: back to the tree
        await press(pilot, "slash")
        await type_text(pilot, "zzzqqq")
        await until(pilot, lambda: app.results.hits == [] and app.results.option_count == 1)
        assert app.results.hits == []
        assert app.query_one("#results", OptionList).option_count == 1  # "nothing matches"
        await press(pilot, "escape")
        assert app.query_one("#sidebar").current == "assets"
        assert app.focused is app.query_one("#assets", Tree)

    run(app, scenario)


def test_preview_pages_through_the_group(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(PLAYERS, tab="data")
        await settle(pilot)
        rows = cells(app, "#preview")
        assert len(rows) == 50
        assert rows[0][:2] == ["1", "2024-08-01 00:00:00Z"]
        assert "rows 1–50" in text_of(app, "#data-info")
        app.query_one("#preview").focus()
        data = app.query_one(DataTab)
        await press(pilot, "n")
        assert data.page is not None and data.page.start == 50
        assert cells(app, "#preview")[0][0] == "26"  # two snapshots per player: row 51 is player 26
        assert "rows 51–100" in text_of(app, "#data-info")
        await press(pilot, "p")
        assert data.page is not None and data.page.start == 0
        total = box.get_feature_store().get_feature_group("players", 1).read(dataframe_type="arrow").num_rows
        last = (total - 1) // 50 * 50
        data.page_start = last - 50  # jump near the end, then page onto the last page
        await press(pilot, "n")
        assert data.page is not None and data.page.start == last and not data.page.has_more
        assert len(cells(app, "#preview")) == total - last
        await press(pilot, "n")  # stays on the last page
        assert data.page.start == last

    run(app, scenario)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_choosing_an_old_commit_previews_the_data_as_of_it(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(PLAYERS, tab="data")
        await settle(pilot)
        assert cells(app, "#preview")[1][:2] == ["1", "2024-08-02 00:00:00Z"]  # latest: day 2's snapshot
        await press(pilot, "3")  # History
        assert app.query_one("#tabs", TabbedContent).active == "history"
        history = cells(app, "#commits")
        assert [r[0] for r in history] == ["2", "1"]
        app.query_one("#commits").focus()
        await press(pilot, "down", "enter")  # commit 1
        assert app.query_one("#tabs", TabbedContent).active == "data"
        assert app.commit == 1
        old = cells(app, "#preview")
        assert old[1][:2] == ["2", "2024-08-01 00:00:00Z"]  # day 1 only: one row per player
        assert "as of commit 1" in text_of(app, "#data-info")
        await press(pilot, "3")
        app.query_one("#commits").focus()
        await press(pilot, "up", "enter")  # the newest commit: back to the latest data
        assert app.commit is None
        assert "latest (commit 2)" in text_of(app, "#data-info")

    run(app, scenario)


def test_lineage_tree_and_enter_jumps_to_the_asset(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(VIEW)
        await settle(pilot)
        await press(pilot, "l")
        tree = app.query_one("#lineage-tree", Tree)
        assert app.focused is tree
        labels = tree_labels(tree)
        assert "↑ reads feature group games v1" in labels
        assert "↓ materializes training dataset attendance v1 · td 1" in labels
        games = next(n for n in tree.root.children if n.data == GAMES)
        tree.move_cursor(games)
        await press(pilot, "enter")
        assert app.current == GAMES
        assert app.query_one("#tabs", TabbedContent).active == "lineage"  # keeps following lineage
        assert app.query_one("#assets", Tree).cursor_node.data == GAMES
        assert "↓ reads feature view attendance v1" in tree_labels(app.query_one("#lineage-tree", Tree))

    run(app, scenario)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_view_lists_training_datasets_which_show_split_and_snapshots(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(VIEW, tab="datasets")
        await settle(pilot)
        counts = box.get_feature_store().get_feature_view("attendance", 1).get_training_dataset(1)["row_counts"]
        split = f"test {counts['test']}, train {counts['train']}"
        rows = cells(app, "#datasets-table")
        assert rows[0][:3] == ["1", "random: test 0.2, seed 42", split]
        app.query_one("#datasets-table").focus()
        await press(pilot, "enter")
        assert app.current == DATASET
        await press(pilot, "1")
        info = text_of(app, "#overview-info")
        assert "random: test 0.2, seed 42" in info
        assert f"test {counts['test']}" in info and f"train {counts['train']}" in info
        snapshots = cells(app, "#schema")
        assert {r[0] for r in snapshots} == {"games", "teams"}
        await press(pilot, "2")  # Stats: the training split's statistics
        assert "split train" in text_of(app, "#stats-info")
        app.query_one("#schema").focus()
        await press(pilot, "1", "enter")
        assert app.current is not None and app.current.kind == "feature_group"

    run(app, scenario)


def test_models_show_versions_and_metrics(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(Ref("model", "attendance_model", 2), tab="versions")
        await settle(pilot)
        rows = cells(app, "#versions-table")
        assert [r[:2] for r in rows] == [["1", "1234.5"], ["2", "1100"]]
        app.query_one("#versions-table").focus()
        await press(pilot, "up", "enter")
        assert app.current == Ref("model", "attendance_model", 1)
        await press(pilot, "1")
        assert "Predicts attendance." in text_of(app, "#overview-info")

    run(app, scenario)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_experiment_trials_sort_by_any_column(tmp_path: Path) -> None:
    """A real grid search (lagom, one worker): its trials, best first, sorted by any column."""
    import lagom_fns

    from lakebox import experiment

    project = make_box(tmp_path / "exp.lakebox", full=False, n_teams=2, n_players=4, n_games=4)
    space = experiment.Searchspace(x=("DISCRETE", [0.0, 0.3, 0.5]))
    experiment.lagom(lagom_fns.quadratic, experiment.HyperparameterOptConfig(
        name="tune", searchspace=space, optimizer="gridsearch", metric="metric", direction="max", workers=1),
        project=project, echo=False)  # metric: -0.59, -0.5, -0.54
    app = BrowserApp(project=project)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert "Experiments (1)" in tree_labels(app.query_one("#assets", Tree))
        app.jump_to(Ref("experiment", "tune", 1), tab="trials")
        await settle(pilot)
        assert [r[0] for r in cells(app, "#trials-table")] == ["1", "2", "0"]  # best first
        assert "sorted by value ↓" in text_of(app, "#trials-info")
        table = app.query_one("#trials-table", DataTable)
        table.focus()
        table.move_cursor(column=table.get_column_index(next(k for k, c in table.columns.items() if str(c.label) == "x")))
        await press(pilot, "s")
        assert [r[0] for r in cells(app, "#trials-table")] == ["0", "1", "2"]  # x 0.0, 0.3, 0.5
        await press(pilot, "s")
        assert [r[0] for r in cells(app, "#trials-table")] == ["2", "1", "0"]
        await press(pilot, "1")
        assert "hyperparameter_search" in text_of(app, "#overview-info")
        assert cells(app, "#schema")[0] == ["hparam", "x", "0.3"]

    try:
        run(app, scenario)
    finally:
        project.close()


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_editing_a_tag_and_the_description_asks_first(fresh_box: Any) -> None:
    app = BrowserApp(project=fresh_box)
    group = fresh_box.get_feature_store().get_feature_group("players", 1)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(PLAYERS)
        await settle(pilot)
        await press(pilot, "t")
        assert isinstance(app.screen, TagScreen)
        await type_text(pilot, "owner")
        await press(pilot, "enter")
        await type_text(pilot, "scouting")
        await press(pilot, "enter")
        assert isinstance(app.screen, ConfirmScreen)
        await press(pilot, "n")  # changed my mind: nothing written
        assert group.get_tags() == {}
        await press(pilot, "t")
        app.screen.query_one("#tag-key", Input).value = "owner"
        await press(pilot, "enter")
        app.screen.query_one("#tag-value", Input).value = "scouting"
        await press(pilot, "enter", "y")
        assert group.get_tags() == {"owner": "scouting"}
        assert "owner=scouting" in text_of(app, "#overview-info")
        # delete it
        await press(pilot, "d", "enter", "y")
        assert group.get_tags() == {}
        assert "owner=scouting" not in text_of(app, "#overview-info")
        # the description
        await press(pilot, "e")
        description = app.screen.query_one("#description", Input)
        description.value = "Player ratings, one snapshot a day."
        await press(pilot, "enter", "y")
        assert fresh_box.get_feature_store().get_feature_group("players", 1).description == \
            "Player ratings, one snapshot a day."
        assert "Player ratings, one snapshot a day." in text_of(app, "#overview-info")

    run(app, scenario)


def test_read_only_refuses_edits(box: Any) -> None:
    app = BrowserApp(project=box, read_only=True)
    group = box.get_feature_store().get_feature_group("players", 1)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert "read-only" in app.sub_title
        app.jump_to(PLAYERS)
        await settle(pilot)
        for key in ("t", "e", "d"):
            await press(pilot, key)
            assert not isinstance(app.screen, (TagScreen, ConfirmScreen))
            assert app.screen is app.screen_stack[0]
        messages = [n.message for n in app._notifications]
        assert any("read-only" in m for m in messages)
        with pytest.raises(Exception, match="read-only"):
            app.source.set_tag(PLAYERS, "owner", "x")
        assert group.get_tags() == {}

    run(app, scenario)


def test_errors_become_notifications_not_tracebacks(tmp_path: Path) -> None:
    def opener() -> Any:
        raise StorageError(f"No box at {tmp_path}: run `lakebox init` first.")

    app = BrowserApp(opener=opener)

    async def scenario(pilot: Pilot[Any]) -> None:
        assert app.is_running
        assert any("No box at" in n.message for n in app._notifications)
        assert "Could not open the box" in str(app.query_one("#welcome-text", Static).render())

    run(app, scenario)


def test_a_deleted_group_is_reported(fresh_box: Any) -> None:
    app = BrowserApp(project=fresh_box)

    async def scenario(pilot: Pilot[Any]) -> None:
        fresh_box.get_feature_store().get_feature_group("players", 1).delete()  # behind the browser's back
        app.jump_to(PLAYERS)
        await settle(pilot)
        assert app.is_running
        assert any(n.severity == "error" and "players" in n.message for n in app._notifications)

    run(app, scenario)


def test_validation_reports_show_each_rule(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(Ref("feature_group", "scores", 1), tab="checks")
        await settle(pilot)
        rows = cells(app, "#reports")
        assert [(r[0], r[2], r[3], r[4]) for r in rows] == [("1", "warn", "✓ passed", "2/2"),
                                                            ("2", "warn", "× failed", "0/2")]
        detail = text_of(app, "#report-detail")  # the newest report is shown first
        assert "× not_null(col='score')" in detail and "1 row(s) failed" in detail
        assert "between(col='score', lo=0, hi=100)" in detail
        app.query_one("#reports").focus()
        await press(pilot, "up")
        assert "✓ not_null" in text_of(app, "#report-detail")

    run(app, scenario)


def test_statistics_per_feature_with_a_histogram(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        app.jump_to(PLAYERS, tab="stats")
        await settle(pilot)
        info = text_of(app, "#stats-info")
        if app.query_one(StatsTab).data is None:  # a lakebox without statistics: the tab says so
            assert "no statistics" in info
            return
        total = box.get_feature_store().get_feature_group("players", 1).read(dataframe_type="arrow").num_rows
        assert f"latest commit · {total} rows" in info
        rows = cells(app, "#stats-table")
        assert [r[0] for r in rows] == ["player_id", "ts", "team_id", "age", "position", "rating"]
        assert rows[3][2] == "0" and rows[3][4:6] == ["17", "37"] and rows[3][7] == str(total)  # age: nulls, min, max, count
        assert set(rows[3][1]) <= set(" ▁▂▃▄▅▆▇█") and rows[3][1].strip()  # a sparkline
        app.query_one("#stats-table").focus()
        await press(pilot, "down", "down", "down")  # age
        histogram = text_of(app, "#histogram")
        assert histogram.startswith("age") and "█" in histogram and "quantiles" in histogram
        await press(pilot, "down")  # position: a string, its most frequent values
        assert "midfielder" in text_of(app, "#histogram")
        # time travel applies to the statistics too
        app.commit = 1
        await settle(pilot)
        day_one = box.get_feature_store().get_feature_group("players", 1).read(wallclock_time=1, dataframe_type="arrow")
        assert f"as of commit 1 · {day_one.num_rows} rows" in text_of(app, "#stats-info")
        assert not any(n.severity == "error" for n in app._notifications)

    run(app, scenario)


def test_help_and_quit(box: Any) -> None:
    app = BrowserApp(project=box)

    async def scenario(pilot: Pilot[Any]) -> None:
        await press(pilot, "question_mark")
        assert type(app.screen).__name__ == "HelpScreen"
        await press(pilot, "escape")
        assert app.screen is app.screen_stack[0]
        await press(pilot, "q")
        assert not app.is_running

    run(app, scenario)


# -- snapshots (look at tests/__snapshots__/test_tui/*.svg after --snapshot-update) ----------
def _snapshot(box: Any, steps: Callable[[BrowserApp, Pilot[Any]], Awaitable[None]] | None = None) -> tuple[BrowserApp, Any]:
    """The app and what to run before the screenshot: every step waits until the app is idle
    (conditions, not time), and the search cursor does not blink (a blink's phase depends on
    the machine's speed)."""
    app = BrowserApp(project=box)

    async def before(pilot: Pilot[Any]) -> None:
        app.query_one("#search", Input).cursor_blink = False
        await until(pilot, lambda: app.catalog is not None)
        if steps is not None:
            await steps(app, pilot)
        await settle(pilot)
        assert app.unexpected_errors == []

    return app, before


def test_snapshot_group_overview_80x24(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        await press(pilot, "down", "down")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_snapshot_data_preview_160x48(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        await press(pilot, "down", "down", "2")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(160, 48), run_before=before)


def test_snapshot_time_travel_80x24(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        await press(pilot, "down", "down", "3")
        app.query_one("#commits").focus()
        await press(pilot, "down", "enter")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_snapshot_search_80x24(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        await press(pilot, "slash")
        await type_text(pilot, "attendance")
        await until(pilot, lambda: app.query_one("#sidebar").current == "results")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)


def test_snapshot_lineage_160x48(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        app.jump_to(DATASET)
        await settle(pilot)
        await press(pilot, "l")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(160, 48), run_before=before)


def test_snapshot_help_80x24_light(box: Any, snap_compare: Any) -> None:
    async def steps(app: BrowserApp, pilot: Pilot[Any]) -> None:
        app.theme = "textual-light"
        await press(pilot, "question_mark")

    app, before = _snapshot(box, steps)
    assert snap_compare(app, terminal_size=(80, 24), run_before=before)

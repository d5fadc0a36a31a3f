"""The shipped pytest plugin (``lakebox.testing``), run as a user's test suite would run it:
pytest's ``pytester`` writes a test file into a fresh directory and runs pytest on it, with the
plugin loaded from its ``pytest11`` entry point (no conftest) and warnings as errors."""

from __future__ import annotations

import pytest

pytest_plugins = ("pytester",)

INI = """
[pytest]
filterwarnings =
    error
"""

HEADER = """
from datetime import datetime, timezone

import pandas as pd
import pytest

from lakebox.testing import assert_group_equals, assert_pit_correct, assert_reproducible


def t(day):
    return datetime(2024, 1, day, tzinfo=timezone.utc)


def ratings():
    return pd.DataFrame({
        "pid": [1, 1, 2],
        "ts": pd.to_datetime([t(1), t(3), t(2)], utc=True),
        "rating": [60.0, 80.0, 70.0],
    })


def spine():
    return pd.DataFrame({"pid": [1, 1, 2, 3], "at": pd.to_datetime([t(2), t(3), t(1), t(5)], utc=True)})
"""


def _run(pytester: pytest.Pytester, body: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_lab=HEADER + body)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


def test_plugin_is_registered_by_entry_point() -> None:
    from importlib.metadata import entry_points

    found = [e for e in entry_points(group="pytest11") if e.value == "lakebox.testing.plugin"]
    assert found, "reinstall lakebox (pip install -e .) so its pytest11 entry point is registered"


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_box_fixture_factory_and_group_assertion(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_box(lakebox_box, lakebox_feature_group):
    fg = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    assert fg.name == "players" and fg.version == 1
    assert lakebox_box.get_feature_store().get_feature_group("players").primary_key == ["pid"]
    assert_group_equals(fg, ratings().iloc[::-1])  # order does not matter; dtypes neither


def test_group_differs(lakebox_feature_group):
    fg = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    changed = ratings()
    changed.loc[2, "rating"] = 71.0
    with pytest.raises(AssertionError, match=r"rating = 70.0, expected 71.0"):
        assert_group_equals(fg, changed)
    with pytest.raises(AssertionError, match="has 3 row"):
        assert_group_equals(fg, changed.iloc[:2])
    with pytest.raises(AssertionError, match="no column"):
        assert_group_equals(fg, [{"pid": 1, "nope": 1}])


def test_time_travel_in_assertion(lakebox_feature_group):
    fg = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    first = fg.commits()[-1].commit_id
    fg.insert(pd.DataFrame({"pid": [9], "ts": pd.to_datetime([t(9)], utc=True), "rating": [1.0]}))
    assert_group_equals(fg, ratings(), wallclock_time=first)
""")
    result.assert_outcomes(passed=3)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_pit_assertion_accepts_the_planner_and_catches_leakage(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_pit(lakebox_box, lakebox_feature_group):
    players = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    fs = lakebox_box.get_feature_store()
    joined = fs.get_features(["players.rating"], entity_df=spine(), event_time="at")
    assert_pit_correct(spine(), {players: ["rating"]}, joined)
    assert_pit_correct(spine(), [(players, "rating")], joined.iloc[::-1], check_order=False)


def test_leak(lakebox_feature_group):
    players = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    latest = ratings().sort_values("ts").groupby("pid").tail(1)[["pid", "rating"]]
    leaky = spine().merge(latest, on="pid", how="left")  # the latest value, whatever the time
    with pytest.raises(AssertionError, match=r"(?s)row 0 .*rating = 80.0, expected 60.0 \\(label leakage"):
        assert_pit_correct(spine(), {players: ["rating"]}, leaky)


def test_row_count(lakebox_feature_group):
    players = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    dup = pd.concat([spine(), spine().iloc[:1]], ignore_index=True)
    dup["rating"] = None
    with pytest.raises(AssertionError, match="exactly one row per spine row"):
        assert_pit_correct(spine(), {players: ["rating"]}, dup)
""")
    result.assert_outcomes(passed=3)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_reproducible_after_new_commits(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
def test_repro(lakebox_box, lakebox_feature_group):
    games = lakebox_feature_group("games", pd.DataFrame({
        "pid": [1, 2, 1], "ts": pd.to_datetime([t(2), t(3), t(4)], utc=True), "won": [1, 0, 1]}),
        primary_key=["pid"], event_time="ts")
    players = lakebox_feature_group("players", ratings(), primary_key=["pid"], event_time="ts")
    fs = lakebox_box.get_feature_store()
    fv = fs.create_feature_view("wins", query=games.select_all().join(players.select(["rating"])), labels=["won"])
    version = fv.create_training_dataset()
    players.insert(pd.DataFrame({"pid": [3, 2], "ts": pd.to_datetime([t(1), t(5)], utc=True), "rating": [5.0, 6.0]}))
    assert_reproducible(fv, version, fs=fs)
""")
    result.assert_outcomes(passed=1)


@pytest.mark.slow
def test_demo_box_is_built_once_and_copied_per_test(pytester: pytest.Pytester) -> None:
    result = _run(pytester, """
import lakebox.demo

@pytest.mark.parametrize("n", [1, 2])
def test_demo(lakebox_demo_box, lakebox_demo_template, n):
    fs = lakebox_demo_box.get_feature_store()
    assert sorted(g.name for g in fs.get_feature_groups()) == ["games", "players", "teams"]
    assert fs.get_feature_view("attendance").name == "attendance"
    teams = fs.get_feature_group("teams")
    assert len(teams.read()) == 20   # the other test's delete happened in its own copy
    teams.delete_records(pd.DataFrame({"team_id": [1, 2]}))
    assert len(teams.read()) == 18
    assert lakebox_demo_box.path != lakebox_demo_template
""")
    result.assert_outcomes(passed=2)

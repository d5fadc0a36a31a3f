"""Tests of lab 1 (run: pytest -q). They use lakebox's pytest plugin: ``lakebox_box`` is a
fresh box per test; ``assert_group_equals`` compares a group's rows with what you expect."""

from __future__ import annotations

import pandas as pd
import pytest
from time_travel import create_prices, read_at, rows_written, undo

from lakebox.testing import assert_group_equals

DAY1 = pd.DataFrame({"item_id": [1, 2], "ts": pd.to_datetime(["2024-05-01", "2024-05-01"], utc=True),
                     "price": [9.5, 20.0]})
DAY2 = pd.DataFrame({"item_id": [1, 2, 3], "ts": pd.to_datetime(["2024-05-02", "2024-05-01", "2024-05-02"], utc=True),
                     "price": [9.9, 21.0, 4.0]})  # item 2 on May 1 is a correction (an update)
BAD = pd.DataFrame({"item_id": [1, 3], "ts": pd.to_datetime(["2024-05-03", "2024-05-03"], utc=True),
                    "price": [990.0, 400.0]})


@pytest.fixture
def prices(lakebox_box):
    fg = create_prices(lakebox_box.get_feature_store())
    commits = [fg.insert(DAY1).commit_id, fg.insert(DAY2).commit_id, fg.insert(BAD).commit_id]
    return fg, commits


def test_create_prices(lakebox_box):
    fg = create_prices(lakebox_box.get_feature_store())
    assert (fg.name, fg.version, fg.primary_key, fg.event_time) == ("prices", 1, ["item_id"], "ts")


def test_read_at_each_commit(prices):
    fg, (c1, c2, _) = prices
    day1 = read_at(fg, c1)
    assert sorted(day1["price"]) == [9.5, 20.0]
    day2 = read_at(fg, c2)
    assert len(day2) == 4  # 2 + 3 rows, one of them replaced an older value
    assert 20.0 not in set(day2["price"]) and 21.0 in set(day2["price"])


def test_rows_written(prices):
    fg, (c1, c2, c3) = prices
    assert [rows_written(fg, c) for c in (c1, c2, c3)] == [2, 3, 2]


def test_undo_restores_the_good_data_and_keeps_history(prices):
    fg, (c1, c2, bad) = prices
    commit = undo(fg, bad)
    assert commit.commit_id > bad
    assert_group_equals(fg, read_at(fg, c2))
    assert_group_equals(fg, read_at(fg, bad).query("price < 100"))
    assert 990.0 in set(read_at(fg, bad)["price"])  # history is never lost

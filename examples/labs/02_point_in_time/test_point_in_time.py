"""Tests of lab 2 (run: pytest -q). ``assert_pit_correct`` checks a join against lakebox's
plain-Python reference join, cell by cell."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from point_in_time import count_leaks, leaky_join, pit_join, recent_features, training_features

from lakebox.testing import assert_pit_correct

BALANCES = pd.DataFrame({
    "account_id": [1, 1, 1, 2, 2, 3],
    "ts": pd.to_datetime(["2024-03-01", "2024-03-10", "2024-03-20", "2024-03-05", "2024-03-25", "2024-03-02"], utc=True),
    "balance": [100.0, 50.0, 5.0, 900.0, 850.0, 10.0],
})
SPINE = pd.DataFrame({
    "account_id": [1, 2, 1, 3, 2, 4, 1],
    "ts": pd.to_datetime(["2024-03-12", "2024-03-06", "2024-03-01", "2024-03-30", "2024-03-04",
                          "2024-03-15", "2024-03-21"], utc=True),
    "is_fraud": [0, 0, 0, 1, 0, 0, 1],
})


@pytest.fixture
def balances(lakebox_feature_group):
    return lakebox_feature_group("balances", BALANCES, primary_key=["account_id"], event_time="ts")


def test_the_leaky_join_leaks(balances):
    with pytest.raises(AssertionError, match="label leakage"):
        assert_pit_correct(SPINE, {balances: ["balance"]}, leaky_join(SPINE, BALANCES))


def test_count_leaks():
    assert count_leaks(SPINE, BALANCES) == 4


def test_pit_join_in_pandas(balances):
    result = pit_join(SPINE, BALANCES)
    assert list(result.columns[:3]) == ["account_id", "ts", "is_fraud"]
    assert_pit_correct(SPINE, {balances: ["balance"]}, result)


def test_training_features_from_the_planner(lakebox_box, balances):
    result = training_features(lakebox_box.get_feature_store(), SPINE)
    assert_pit_correct(SPINE, {balances: ["balance"]}, result)


def test_recent_features_forget_old_balances(lakebox_box, balances):
    result = recent_features(lakebox_box.get_feature_store(), SPINE)
    assert_pit_correct(SPINE, {balances: ["balance"]}, result, max_age=timedelta(days=7))
    assert result["balance"].isna().sum() == 3  # account 3 (28 days old), account 4 (none), account 2 on 03-04

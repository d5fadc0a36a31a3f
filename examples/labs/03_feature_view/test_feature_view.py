"""Tests of lab 3 (run: pytest -q)."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from feature_view import create_view, make_training_dataset, serve, training_rows

from lakebox.testing import assert_reproducible

N = 40
CUSTOMERS = pd.DataFrame({
    "customer_id": range(1, N + 1),
    "spend": [float(10 + (i * 37) % 90) for i in range(N)],
    "age": [18 + (i * 7) % 50 for i in range(N)],
    "plan": [("basic", "pro", "team")[i % 3] for i in range(N)],
})
CHURN = pd.DataFrame({
    "customer_id": range(1, N + 1),
    "ts": pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(range(N), unit="h"),
    "churned": [i % 4 == 0 for i in range(N)],
})


@pytest.fixture
def view(lakebox_box, lakebox_feature_group):
    customers = lakebox_feature_group("customers", CUSTOMERS, primary_key=["customer_id"], online_enabled=True)
    churn = lakebox_feature_group("churn", CHURN, primary_key=["customer_id"], event_time="ts")
    return create_view(lakebox_box.get_feature_store(), churn, customers)


def test_view_definition(view):
    assert (view.name, view.version) == ("churn_model", 1)
    assert view.labels == ["churned"]
    assert view.transformation_functions == {"spend": "standard_scaler", "plan": "label_encoder"}


def test_training_dataset_has_a_test_split_and_is_reproducible(lakebox_box, view):
    version = make_training_dataset(view)
    x_train, x_test, y_train, y_test = view.get_training_data(version)
    assert len(x_train) + len(x_test) == N and len(x_test) == N // 4
    assert abs(x_train["spend"].mean()) < 1e-9  # the scaler was fitted on the train split only
    assert_reproducible(view, version, fs=lakebox_box.get_feature_store())


def test_training_rows_are_transformed(view):
    version = make_training_dataset(view)
    rows = training_rows(view, version)
    assert sorted(rows) == list(range(1, N + 1))
    assert all("churned" not in row for row in rows.values())
    assert {row["plan"] for row in rows.values()} == {0, 1, 2}  # label_encoder codes


def test_serving_equals_training(view):
    version = make_training_dataset(view)
    rows = training_rows(view, version)
    for customer_id in (1, 2, 17, N):
        served = serve(view, version, customer_id)
        for feature in ("spend", "age", "plan"):
            assert math.isclose(served[feature], rows[customer_id][feature], rel_tol=1e-9, abs_tol=1e-12), (
                customer_id, feature, served[feature], rows[customer_id][feature])

"""hsfs feature group calls as the Hopsworks documentation writes them (issue 18, items 5-8):
``statistics_config``, ``expectation_suite`` (Great Expectations JSON), ``insert`` options,
``show``, ``save``, ``select_features``, ``select_all(include_...)``, ``@udf`` and built-in
transformation functions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import lakebox
from lakebox.builtin_transformations import label_encoder, min_max_scaler, standard_scaler
from lakebox.errors import ValidationError
from lakebox.hsfs_compat import UnsupportedError
from lakebox.udf import TransformationStatistics, udf

N = 30


def _df() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    return pd.DataFrame(
        {
            "id": np.arange(N, dtype=np.int64),
            "ts": pd.date_range("2023-01-01", periods=N, freq="h", tz="UTC"),
            "amount": rng.uniform(0, 100, N).round(3),
            "category": rng.choice(["a", "b", "c"], N),
            "label": (np.arange(N) % 2).astype(np.int64),
        }
    )


# a Great Expectations suite as GE's suite.to_json_dict() writes it
SUITE = {
    "expectation_suite_name": "transactions_suite",
    "expectations": [
        {"expectation_type": "expect_column_values_to_be_between",
         "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000}, "meta": {}},
        {"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "category"}, "meta": {}},
        {"expectation_type": "expect_column_values_to_be_in_set",
         "kwargs": {"column": "category", "value_set": ["a", "b", "c"]}, "meta": {}},
        {"expectation_type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}, "meta": {}},
    ],
    "meta": {"great_expectations_version": "0.18.12"},
}


class _GeSuite:
    """Duck-typed like great_expectations' ExpectationSuite (0.18): to_json_dict()."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def to_json_dict(self) -> dict[str, Any]:
        return dict(self._data)


# -- 6. statistics_config -------------------------------------------------------------------------


@pytest.mark.parametrize("config, enabled", [(True, True), (False, False),
                                              ({"enabled": False, "histograms": True}, False),
                                              ({"enabled": True, "correlations": False}, True)])
def test_statistics_config_on_create(fs: Any, config: Any, enabled: bool) -> None:
    # hsfs: statistics_config=StatisticsConfig(...) | dict | bool
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts", statistics_config=config)
    assert fg.statistics_config["enabled"] is enabled
    fg.insert(_df())
    fg.statistics_config = {"enabled": not enabled}
    fg.update_statistics_config()
    assert fs.get_feature_group("tx", 1).statistics_config["enabled"] is (not enabled)


# -- 7. expectation suites ------------------------------------------------------------------------


@pytest.mark.parametrize("suite", [SUITE, _GeSuite(SUITE)], ids=["json", "object"])
def test_expectation_suite_on_create_translates_to_rules(fs: Any, suite: Any) -> None:
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts", expectation_suite=suite)
    assert [r.name for r in fg.expectations] == ["between", "not_null", "in_set", "row_count_between"]
    assert fg.validation_ingestion_policy == "ALWAYS", "hsfs' default policy: write and keep the report"
    bad = _df()
    bad.loc[3, "amount"] = 5000.0
    fg.insert(bad)  # ALWAYS: written
    report = fg.get_validation_reports()[-1]
    assert report["success"] is False and len(fg.read()) == N
    got = fg.get_expectation_suite()
    assert [e["expectation_type"] for e in got["expectations"]] == [e["expectation_type"] for e in SUITE["expectations"]]


def test_save_expectation_suite_strict_refuses(fs: Any) -> None:
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts")
    fg.save_expectation_suite(SUITE, validation_ingestion_policy="STRICT")
    bad = _df()
    bad.loc[0, "category"] = "zzz"
    with pytest.raises(lakebox.ValidationError, match="refused"):
        fg.insert(bad)
    fg.insert(bad, validation_options={"run_validation": False})  # hsfs: skip validation
    assert len(fg.read()) == N
    fg.delete_expectation_suite()
    assert fg.get_expectation_suite() is None


def test_an_unknown_expectation_type_names_it(fs: Any) -> None:
    suite = {"expectations": [{"expectation_type": "expect_column_kl_divergence_to_be_less_than",
                               "kwargs": {"column": "amount"}}]}
    with pytest.raises(ValidationError, match="expect_column_kl_divergence_to_be_less_than"):
        fs.create_feature_group("tx", version=1, primary_key=["id"], expectation_suite=suite)
    assert fs.get_feature_groups() == []


# -- 8. insert options, show, save, select_features, select_all ------------------------------------


def test_insert_takes_hsfs_options(fs: Any) -> None:
    # hsfs: fg.insert(df, write_options={"wait_for_job": True}) and wait=True
    fg = fs.get_or_create_feature_group("tx", version=1, primary_key=["id"], event_time="ts",
                                        online_enabled=True, partition_key=[], time_travel_format="HUDI")
    fg.insert(_df(), write_options={"wait_for_job": True, "start_offline_materialization": True}, wait=True)
    assert len(fg.read()) == N
    with pytest.raises(UnsupportedError, match="overwrite"):
        fg.insert(_df(), overwrite=True)
    with pytest.raises(UnsupportedError, match="storage"):
        fg.insert(_df(), storage="online")


def test_show_save_and_selections(fs: Any) -> None:
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts")
    fg.save(_df())  # hsfs 4: save(features=df) writes the first data
    assert len(fg.show(5)) == 5
    assert fg.select_features().features == ["amount", "category", "label"]
    assert fg.select_all(include_primary_key=False).features == ["ts", "amount", "category", "label"]
    assert fg.select_all(include_event_time=False).features == ["id", "amount", "category", "label"]
    assert fg.select_all().features == ["id", "ts", "amount", "category", "label"]


# -- 5. transformation functions ------------------------------------------------------------------


amount_statistics = TransformationStatistics("amount")  # as hsfs' own built-ins declare it


@udf(float)
def scaled_amount(amount: pd.Series, statistics: Any = amount_statistics) -> pd.Series:
    return (amount - statistics.amount.mean) / statistics.amount.std_dev


@udf(int, mode="python")
def doubled(label: int) -> int:
    return label * 2


def test_udf_and_builtin_lists(fs: Any) -> None:
    # hsfs 4: transformation_functions=[label_encoder("category"), my_udf("amount")]
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts", online_enabled=True)
    fg.insert(_df())
    fv = fs.create_feature_view("tx_fv", version=1, query=fg.select(["amount", "category", "label"]), labels=["label"],
                                transformation_functions=[label_encoder("category"), scaled_amount("amount")])
    assert fv.transformation_functions == {"category": "label_encoder", "amount": "scaled_amount"}
    x_train, x_test, _, _ = fv.train_test_split(test_size=0.2, seed=1)
    assert abs(x_train["amount"].mean()) < 1e-9 and abs(x_train["amount"].std(ddof=0) - 1) < 1e-9
    assert set(x_train["category"]) <= {0, 1, 2}
    vector = fv.get_feature_vector({"id": 4})
    raw = fv.get_feature_vector({"id": 4}, transform=False)
    assert fv.transform(raw) == vector
    stats = fv.get_training_dataset_statistics(fv.get_last_accessed_training_dataset())
    assert stats is not None


def test_python_mode_udf_and_builtin_dict_form(fs: Any) -> None:
    fg = fs.create_feature_group("tx", version=1, primary_key=["id"], event_time="ts")
    fg.insert(_df())
    # hsfs 3 style: {feature: fs.get_transformation_function(name=...)}
    scaler = fs.get_transformation_function(name="min_max_scaler")
    fv = fs.create_feature_view("v", version=1, query=fg.select(["amount", "label"]),
                                transformation_functions={"amount": scaler, "label": doubled})
    x, _ = fv.training_data()
    assert x["amount"].min() == 0 and x["amount"].max() == 1
    assert sorted(set(x["label"])) == [0, 2]


def test_get_transformation_functions_lists_builtins_and_udfs(fs: Any) -> None:
    names = [f.name for f in fs.get_transformation_functions()]
    assert names[:5] == ["standard_scaler", "min_max_scaler", "robust_scaler", "label_encoder", "one_hot_encoder"]
    assert "scaled_amount" in names and "doubled" in names
    assert fs.get_transformation_function("standard_scaler") is standard_scaler
    assert min_max_scaler("x").transformation_features == ["x"]
    with pytest.raises(lakebox.NotFoundError, match="min_max_scaler"):
        fs.get_transformation_function("min_max_scaller")
    assert fs.create_transformation_function(scaled_amount, version=1).save() is None


# -- 9. timestamps as hsfs reads them -------------------------------------------------------------


def test_epoch_millisecond_and_date_event_times(fs: Any) -> None:
    # hsfs: "event_time ... can be of type timestamp, date, or bigint (epoch milliseconds)"
    ms = fs.create_feature_group("ms", version=1, primary_key=["id"], event_time="ts")
    ms.insert(pd.DataFrame({"id": [1, 2], "ts": [1672531200000, 1672534800000], "v": [1.0, 2.0]}))
    assert list(ms.read()["ts"]) == [pd.Timestamp("2023-01-01T00:00Z"), pd.Timestamp("2023-01-01T01:00Z")]
    days = fs.create_feature_group("days", version=1, primary_key=["id"], event_time="day")
    days.insert(pd.DataFrame({"id": [1], "day": [pd.Timestamp("2023-03-04").date()], "v": [1.0]}))
    assert list(days.read()["day"]) == [pd.Timestamp("2023-03-04T00:00Z")]


def test_naive_timestamps_with_a_timezone(fs: Any) -> None:
    fg = fs.create_feature_group("local", version=1, primary_key=["id"], event_time="ts")
    frame = pd.DataFrame({"id": [1], "ts": [pd.Timestamp("2023-06-01 12:00")], "v": [1.0]})
    fg.insert(frame, timezone="Europe/Oslo")  # summer time: UTC+2, no warning
    assert list(fg.read()["ts"]) == [pd.Timestamp("2023-06-01T10:00Z")]
    from lakebox.timeutil import NaiveTimestampWarning

    with pytest.warns(NaiveTimestampWarning):
        fg.insert(frame.assign(id=[2]))
    assert list(fg.read()["ts"])[1] == pd.Timestamp("2023-06-01T12:00Z")
    fg.insert(frame.assign(id=[3]))  # warned once per group and column


@udf(float)
def price_per_unit(amount: pd.Series, quantity: pd.Series) -> pd.Series:
    return amount / quantity


def test_on_demand_functions_of_a_group_are_computed_at_insert(fs: Any) -> None:
    # hsfs: create_feature_group(transformation_functions=[fn("a", "b")]) adds the column `fn`
    fg = fs.create_feature_group("orders", version=1, primary_key=["id"], online_enabled=True,
                                 transformation_functions=[price_per_unit("amount", "quantity")])
    assert fg.transformation_functions == [
        {"function": "price_per_unit", "features": ["amount", "quantity"], "output": "price_per_unit"}]
    fg.insert(pd.DataFrame({"id": [1, 2], "amount": [10.0, 9.0], "quantity": [4, 3]}))
    assert list(fg.read()["price_per_unit"]) == [2.5, 3.0]
    fv = fs.create_feature_view("orders_fv", version=1, query=fg.select(["price_per_unit"]))
    assert fv.get_feature_vector({"id": 2}) == [3.0]

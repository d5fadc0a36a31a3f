"""Feature views and training datasets (DESIGN §3-4): the view's catalog life cycle, in-memory
training data and splits, transformations fitted on the training split only, materialised
training datasets in every format, and their reproducibility after inserts, deletes, rollbacks
and commit expiry (pinned snapshots)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day, rows
from pit_oracle import Group, match

import lakebox
from lakebox.errors import AlreadyExistsError, NotFoundError, QueryError, ValidationError

N = 20
CITIES = ["a,b", 'c"d', "e\tf"]  # separators and quotes of the text formats


def _labels(n: int = N) -> pa.Table:
    return pa.table(
        {
            "pid": pa.array(range(n), pa.int64()),
            "ts": pa.array([day(1 + i % 5) for i in range(n)], TS),
            "label": pa.array([i % 2 for i in range(n)], pa.int64()),
        }
    )


def _players() -> pa.Table:
    """Every player at day 1; players 0-9 again at day 3 (so the as-of time matters)."""
    pids = [*range(N), *range(10)]
    return pa.table(
        {
            "pid": pa.array(pids, pa.int64()),
            "ts": pa.array([day(1)] * N + [day(3)] * 10, TS),
            "age": pa.array([float(20 + i) for i in range(N)] + [float(40 + i) for i in range(10)], pa.float64()),
            "team_id": pa.array([i % 3 for i in range(N)] + [(i + 1) % 3 for i in range(10)], pa.int64()),
        }
    )


def _teams() -> pa.Table:
    return pa.table(
        {"team_id": pa.array([0, 1, 2], pa.int64()), "city": CITIES, "rank": pa.array([1, 2, 3], pa.int64())}
    )


@pytest.fixture
def groups(fs: Any) -> dict[str, Any]:
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    teams = fs.create_feature_group("teams", version=1, primary_key=["team_id"])
    labels.insert(_labels())
    players.insert(_players())
    teams.insert(_teams())
    return {"labels": labels, "players": players, "teams": teams}


def _query(groups: dict[str, Any]) -> Any:
    labels, players, teams = groups["labels"], groups["players"], groups["teams"]
    return (
        labels.select_all()
        .join(players.select(["age", "team_id"]))
        .join(teams.select(["city", "rank"]), on=["team_id"])
    )


def _numeric_query(groups: dict[str, Any]) -> Any:
    return groups["labels"].select_all().join(groups["players"].select(["age", "team_id"]))


def _expected_rows() -> list[dict[str, Any]]:
    """The view's rows by the oracle: labels ordered by (pid, ts), players as of each label, teams by key."""
    label_rows = sorted(_labels().to_pylist(), key=lambda r: (r["pid"], r["ts"]))
    players = Group("players", ["pid"], "ts", _players().to_pylist())
    teams = Group("teams", ["team_id"], None, _teams().to_pylist())
    out = []
    for row in label_rows:
        player = match(row, players, "ts")
        team = match({"team_id": player["team_id"]}, teams, None) if player else None
        out.append(
            {
                **row,
                "age": player["age"] if player else None,
                "team_id": player["team_id"] if player else None,
                "city": team["city"] if team else None,
                "rank": team["rank"] if team else None,
            }
        )
    return out


def _arrow(frame: Any) -> pa.Table:
    return frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)


# -- the catalog life cycle ------------------------------------------------------------------


def test_create_get_list_delete_versions(fs: Any, groups: dict[str, Any], box_path: Path) -> None:
    query = _query(groups).filter(groups["players"].age > 21)
    v1 = fs.create_feature_view("attendance", version=1, query=query, labels=["label"], description="first")
    v2 = fs.create_feature_view("attendance", query=_query(groups), labels=["label"])
    assert (v1.version, v2.version) == (1, 2), "version=None takes the next free version"
    assert v1.labels == ["label"]
    assert v1.features == ["pid", "ts", "age", "team_id", "city", "rank"]
    assert v1.primary_key == ["pid"]
    assert fs.get_feature_view("attendance").version == 2, "no version: the latest"
    assert fs.get_feature_view("attendance", 1).description == "first"
    assert [v.version for v in fs.get_feature_views("attendance")] == [1, 2]
    assert {(v.name, v.version) for v in fs.get_feature_views()} == {("attendance", 1), ("attendance", 2)}
    with pytest.raises(AlreadyExistsError):
        fs.create_feature_view("attendance", version=2, query=_query(groups), labels=["label"])
    assert fs.get_or_create_feature_view("attendance", 1).description == "first"

    # The stored query (joins, keys, filter) comes back in a new process and reads the same rows.
    before = v1.training_data(primary_key=True, event_time=True, dataframe_type="arrow")
    with lakebox.connect(box_path) as reopened:
        again = reopened.get_feature_store().get_feature_view("attendance", 1)
        after = again.training_data(primary_key=True, event_time=True, dataframe_type="arrow")
        assert rows(after[0]) == rows(before[0]) and rows(after[1]) == rows(before[1])
    assert all(age > 21 for age in before[0].column("age").to_pylist()), "the filter was stored"

    v1.delete()
    with pytest.raises(NotFoundError, match=r"\[2\]"):
        fs.get_feature_view("attendance", 1)
    with pytest.raises(NotFoundError, match="attendance"):
        fs.get_feature_view("attendence")
    assert [v.version for v in fs.get_feature_views()] == [2]


def test_bad_view_definitions(fs: Any, groups: dict[str, Any]) -> None:
    query = _query(groups)
    with pytest.raises(ValidationError, match="attended"):
        fs.create_feature_view("v", query=query, labels=["attended"])
    with pytest.raises(ValidationError, match="no_such_scaler"):
        fs.create_feature_view("v", query=query, labels=["label"], transformation_functions={"age": "no_such_scaler"})
    with pytest.raises(ValidationError, match="height"):
        fs.create_feature_view(
            "v", query=query, labels=["label"], transformation_functions={"height": "standard_scaler"}
        )
    with pytest.raises(ValidationError):
        fs.create_feature_view("v", query="SELECT 1", labels=["label"])
    with pytest.raises(QueryError):
        fs.create_feature_view("v", query=query.as_of(day(9)), labels=["label"])
    with pytest.raises(lakebox.LakeboxError):
        fs.create_feature_view("Bad-Name", query=query, labels=["label"])
    assert fs.get_feature_views() == [], "nothing is written when a call fails"


# -- in-memory training data ------------------------------------------------------------------


def test_training_data_is_the_point_in_time_query(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("plain", query=_query(groups), labels=["label"])
    x, y = fv.training_data()
    assert isinstance(x, pd.DataFrame) and isinstance(y, pd.DataFrame)
    # hsfs: the key and event time are features of this view (select_all selected them), so they stay
    assert list(x.columns) == ["pid", "ts", "age", "team_id", "city", "rank"]
    assert list(y.columns) == ["label"]
    expected = _expected_rows()
    xk, yk = fv.training_data(primary_key=True, event_time=True, dataframe_type="arrow")
    assert xk.column_names == ["pid", "ts", "age", "team_id", "city", "rank"]
    assert xk.to_pylist() == [{k: v for k, v in r.items() if k != "label"} for r in expected]
    assert yk.column("label").to_pylist() == [r["label"] for r in expected]

    # [start_time, end_time) on the root group's event time.
    xs, ys = fv.training_data(start_time=day(2), end_time=day(4), event_time=True, dataframe_type="polars")
    assert sorted(set(xs["ts"].to_list())) == [day(2), day(3)]
    assert len(xs) == len(ys) == sum(1 for r in expected if day(2) <= r["ts"] < day(4))


def _by_pid(x: pa.Table, y: pa.Table) -> dict[int, tuple[Any, ...]]:
    both = x.append_column("label", y.column("label"))
    return {r["pid"]: tuple(r.values()) for r in both.to_pylist()}


def test_train_test_split_is_seeded_and_partitions_the_rows(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("split", query=_query(groups), labels=["label"])
    kwargs = {"test_size": 0.25, "primary_key": True, "dataframe_type": "arrow"}
    first = fv.train_test_split(seed=42, **kwargs)
    again = fv.train_test_split(seed=42, **kwargs)
    other = fv.train_test_split(seed=7, **kwargs)
    assert [rows(t) for t in first] == [rows(t) for t in again], "same seed, same split"
    assert rows(first[1]) != rows(other[1]), "another seed, another split"
    x_train, x_test, y_train, y_test = first
    assert (x_train.num_rows, x_test.num_rows) == (15, 5)
    assert (y_train.num_rows, y_test.num_rows) == (15, 5)
    train, test = _by_pid(x_train, y_train), _by_pid(x_test, y_test)
    assert not train.keys() & test.keys()
    everything = _by_pid(*fv.training_data(primary_key=True, dataframe_type="arrow"))
    assert {**train, **test} == everything
    assert x_train.column("pid").to_pylist() == sorted(train), "each split keeps the query's order"


def test_train_validation_test_split(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("three", query=_query(groups), labels=["label"])
    out = fv.train_validation_test_split(
        validation_size=0.2, test_size=0.3, seed=1, primary_key=True, dataframe_type="arrow"
    )
    x_train, x_val, x_test, y_train, y_val, y_test = out
    assert (x_train.num_rows, x_val.num_rows, x_test.num_rows) == (10, 4, 6)
    parts = [_by_pid(x_train, y_train), _by_pid(x_val, y_val), _by_pid(x_test, y_test)]
    assert sum(len(p) for p in parts) == N and len(set().union(*parts)) == N
    again = fv.train_validation_test_split(
        validation_size=0.2, test_size=0.3, seed=1, primary_key=True, dataframe_type="arrow"
    )
    assert [rows(t) for t in out] == [rows(t) for t in again]
    with pytest.raises(ValidationError):
        fv.train_validation_test_split(validation_size=0.5, test_size=0.5)
    with pytest.raises(ValidationError):
        fv.train_test_split(test_size=1.5)


def test_time_based_split(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("by_time", query=_query(groups), labels=["label"])
    x_train, x_test, y_train, y_test = fv.train_test_split(
        train_start=day(1),
        train_end=day(4),
        test_start=day(4),
        test_end=day(6),
        event_time=True,
        dataframe_type="arrow",
    )
    assert set(x_train.column("ts").to_pylist()) == {day(1), day(2), day(3)}
    assert set(x_test.column("ts").to_pylist()) == {day(4), day(5)}
    assert (x_train.num_rows, x_test.num_rows, y_train.num_rows, y_test.num_rows) == (12, 8, 12, 8)
    with pytest.raises(ValidationError):
        fv.train_test_split(test_size=0.2, train_start=day(1), train_end=day(2), test_start=day(2), test_end=day(3))


# -- transformations --------------------------------------------------------------------------


def test_transformations_are_fitted_on_the_train_split_only(fs: Any, groups: dict[str, Any]) -> None:
    query = _query(groups)
    scaled = fs.create_feature_view(
        "scaled", query=query, labels=["label"], transformation_functions={"age": "standard_scaler"}
    )
    raw = fs.create_feature_view("raw", query=query, labels=["label"])
    kwargs = {"test_size": 0.25, "seed": 3, "primary_key": True, "dataframe_type": "arrow"}
    sx_train, sx_test, _, _ = scaled.train_test_split(**kwargs)
    rx_train, rx_test, _, _ = raw.train_test_split(**kwargs)
    assert rx_train.column("pid").to_pylist() == sx_train.column("pid").to_pylist(), "same seed, same rows"
    train_ages = np.array(rx_train.column("age").to_pylist(), dtype=float)
    all_ages = np.array(raw.training_data(dataframe_type="arrow")[0].column("age").to_pylist(), dtype=float)
    mean, std = train_ages.mean(), train_ages.std()
    assert not math.isclose(mean, all_ages.mean()), "the fixture must make train and full means differ"
    got_train = np.array(sx_train.column("age").to_pylist())
    got_test = np.array(sx_test.column("age").to_pylist())
    np.testing.assert_allclose(got_train, (train_ages - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_allclose(got_test, (np.array(rx_test.column("age").to_pylist()) - mean) / std, rtol=0, atol=1e-12)

    version = scaled.create_training_dataset(test_size=0.25, seed=3)
    params = scaled.transformations_for(version).params["age"]
    assert params["mean"] == pytest.approx(mean, abs=1e-12) and params["std"] == pytest.approx(std, abs=1e-12)
    assert scaled.get_training_dataset(version)["transformations"]["features"][0]["params"] == params


# -- materialised training datasets -----------------------------------------------------------

FORMATS = ["parquet", "csv", "tsv", "json", "arrow", "npy"]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("data_format", FORMATS)
def test_training_dataset_round_trips_in_every_format(fs: Any, groups: dict[str, Any], data_format: str) -> None:
    query = _numeric_query(groups) if data_format == "npy" else _query(groups)
    fv = fs.create_feature_view("td", query=query, labels=["label"], transformation_functions={"age": "min_max_scaler"})
    kwargs: dict[str, Any] = {"primary_key": True, "event_time": True, "dataframe_type": "arrow"}
    version = fv.create_training_dataset(data_format=data_format, test_size=0.25, seed=5)
    stored = fv.get_training_data(version, **kwargs)
    in_memory = fv.train_test_split(test_size=0.25, seed=5, **kwargs)
    assert len(stored) == 4
    for got, want in zip(stored, in_memory, strict=True):
        assert got.schema == want.schema, data_format
        assert rows(got) == rows(want), data_format
    files = fv.get_training_dataset_files(version)
    assert sorted(files) == ["test", "train"] and all(p.is_file() for p in files.values())
    info = fv.get_training_dataset(version)
    assert info["data_format"] == data_format and info["row_counts"] == {"train": 15, "test": 5}
    # Without a split: one (X, y) pair.
    whole = fv.create_training_dataset(data_format=data_format)
    x, y = fv.get_training_data(whole, **kwargs)
    assert rows(x) == rows(fv.training_data(**kwargs)[0]) and y.num_rows == N


def test_npy_refuses_strings(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("strings", query=_query(groups), labels=["label"])
    with pytest.raises(ValidationError, match="city"):
        fv.create_training_dataset(data_format="npy")
    assert fv.get_training_datasets() == []
    with pytest.raises(ValidationError):
        fv.create_training_dataset(data_format="xlsx")


def _nullable_groups(fs: Any) -> tuple[Any, Any]:
    """A spine group and a group whose features hold nulls: a string, an integer and a double."""
    spine = fs.create_feature_group("spine", version=1, primary_key=["pid"], event_time="ts")
    feats = fs.create_feature_group("feats", version=1, primary_key=["pid"], event_time="ts")
    spine.insert(_labels(6))
    feats.insert(
        pa.table(
            {
                "pid": pa.array([0, 1, 2, 3], pa.int64()),
                "ts": pa.array([day(1)] * 4, TS),
                "nick": pa.array(["x", None, "", "y"], pa.string()),
                "level": pa.array([1, None, 3, 4], pa.int64()),
                "score": pa.array([0.5, 1.5, None, 2.5], pa.float64()),
            }
        )
    )
    return spine, feats


NULL_FORMATS = ["parquet", "arrow", "json", "csv", "tsv"]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("data_format", NULL_FORMATS)
def test_nulls_round_trip(fs: Any, data_format: str) -> None:
    """Null and "" stay apart in every text format (csv once read nulls back as "")."""
    spine, feats = _nullable_groups(fs)
    query = spine.select_all().join(feats.select(["nick", "level", "score"]))
    fv = fs.create_feature_view("nulls", query=query, labels=["label"])
    version = fv.create_training_dataset(data_format=data_format)
    x, _ = fv.get_training_data(version, dataframe_type="arrow")
    assert x.to_pylist() == fv.training_data(dataframe_type="arrow")[0].to_pylist()
    assert x.column("nick").to_pylist() == ["x", None, "", "y", None, None]


def test_npy_null_integers_are_not_corrupted(fs: Any) -> None:
    """npy holds NaN for null; it must read back as null, not as int64's minimum (a past bug)."""
    spine, feats = _nullable_groups(fs)
    numeric = spine.select_all().join(feats.select(["level", "score"]))
    fv = fs.create_feature_view("npy_nulls", query=numeric, labels=["label"])
    version = fv.create_training_dataset(data_format="npy")
    x, _ = fv.get_training_data(version, dataframe_type="arrow")
    assert x.column("level").to_pylist() == [1, None, 3, 4, None, None]
    assert x.column("score").to_pylist() == [0.5, 1.5, None, 2.5, None, None]


def test_csv_one_column_with_nulls_keeps_every_row(fs: Any) -> None:
    """A one-column csv writes a null as an empty line, which the reader must not skip (a past bug)."""
    _, feats = _nullable_groups(fs)
    fv = fs.create_feature_view("one_column", query=feats.select(["score"]))
    version = fv.create_training_dataset(data_format="csv")
    (x,) = fv.get_training_data(version, dataframe_type="arrow")[:1]
    assert x.column("score").to_pylist() == [0.5, 1.5, None, 2.5]


def test_training_dataset_survives_inserts_deletes_rollback_and_expiry(fs: Any, groups: dict[str, Any]) -> None:
    labels, players, teams = groups["labels"], groups["players"], groups["teams"]
    fv = fs.create_feature_view(
        "repro", query=_query(groups), labels=["label"], transformation_functions={"age": "standard_scaler"}
    )
    version = fv.create_training_dataset(data_format="parquet", test_size=0.2, seed=11)
    kwargs: dict[str, Any] = {"primary_key": True, "event_time": True, "dataframe_type": "arrow"}
    before = [rows(t) for t in fv.get_training_data(version, **kwargs)]
    pins = {name: g.pins() for name, g in groups.items()}
    (pin,) = set(pins["labels"])  # the dataset's pin (the groups had none before)
    assert all(set(p) == {pin} for p in pins.values()), pins
    pinned_reads = {
        name: rows(g.read(wallclock_time=pins[name][pin], dataframe_type="arrow")) for name, g in groups.items()
    }

    players.insert(
        pa.table(
            {
                "pid": pa.array([1], pa.int64()),
                "ts": pa.array([day(1)], TS),
                "age": [99.0],
                "team_id": pa.array([2], pa.int64()),
            }
        )
    )
    labels.insert(_labels(30))
    teams.delete_records(pa.table({"team_id": pa.array([0], pa.int64())}))
    labels.delete_records(pa.table({"pid": pa.array([0, 1, 2], pa.int64())}))
    players.rollback(1)
    assert [rows(t) for t in fv.get_training_data(version, **kwargs)] == before
    assert rows(fv.train_test_split(test_size=0.2, seed=11, **kwargs)[0]) != before[0], "the live data did change"

    for name, group in groups.items():
        expired = group.expire_commits(keep_last=1)
        assert pins[name][pin] not in expired, f"{name}: the pinned commit survives expiry"
        assert group.pins() == pins[name]
        assert rows(group.read(wallclock_time=pins[name][pin], dataframe_type="arrow")) == pinned_reads[name]
    assert [rows(t) for t in fv.get_training_data(version, **kwargs)] == before


def test_batch_data_with_and_without_a_training_dataset(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view(
        "batch", query=_query(groups), labels=["label"], transformation_functions={"age": "standard_scaler"}
    )
    raw = fv.get_batch_data(primary_key=True, dataframe_type="arrow")
    assert raw.column_names == ["pid", "ts", "age", "team_id", "city", "rank"], "features only, no labels"
    expected = _expected_rows()
    assert raw.column("age").to_pylist() == [r["age"] for r in expected], "untransformed without a version"

    version = fv.create_training_dataset(test_size=0.5, seed=2)
    params = fv.transformations_for(version).params["age"]
    scaled = fv.get_batch_data(training_dataset_version=version, dataframe_type="arrow")
    want = [(r["age"] - params["mean"]) / params["std"] for r in expected]
    np.testing.assert_allclose(scaled.column("age").to_pylist(), want, rtol=0, atol=1e-12)
    window = fv.get_batch_data(start_time=day(5), end_time=day(6), event_time=True, dataframe_type="arrow")
    assert set(window.column("ts").to_pylist()) == {day(5)} and window.num_rows == 4
    with pytest.raises(NotFoundError):
        fv.get_batch_data(training_dataset_version=99)


def test_deleting_a_training_dataset_removes_files_and_pins(fs: Any, groups: dict[str, Any]) -> None:
    fv = fs.create_feature_view("gone", query=_query(groups), labels=["label"])
    keep = fv.create_training_dataset(data_format="csv")
    kept_pins = {name: set(g.pins()) for name, g in groups.items()}
    drop = fv.create_training_dataset(data_format="arrow", test_size=0.5, seed=1)
    dropped_pins = {name: set(g.pins()) - kept_pins[name] for name, g in groups.items()}
    assert all(len(p) == 1 for p in dropped_pins.values()), "each group pins the dataset's snapshot"
    files = fv.get_training_dataset_files(drop)
    folder = next(iter(files.values())).parent
    assert all(p.is_file() for p in files.values())
    fv.delete_training_dataset(drop)
    assert not folder.exists() and not any(p.exists() for p in files.values())
    for name, group in groups.items():
        assert set(group.pins()) == kept_pins[name], "the deleted dataset's pin is gone, the other stays"
    assert [d["version"] for d in fv.get_training_datasets()] == [keep]
    with pytest.raises(NotFoundError):
        fv.get_training_data(drop)
    with pytest.raises(NotFoundError):
        fv.delete_training_dataset(drop)

    kept_files = fv.get_training_dataset_files(keep)
    fv.delete()
    assert not any(p.exists() for p in kept_files.values())
    for group in groups.values():
        assert group.pins() == {}, "deleting the view unpins all its datasets"
    with pytest.raises(NotFoundError):
        fs.get_feature_view("gone")


def test_max_age_in_a_view_query(fs: Any, groups: dict[str, Any]) -> None:
    labels, players = groups["labels"], groups["players"]
    fv = fs.create_feature_view(
        "fresh", query=labels.select_all().join(players.select(["age"]), max_age=timedelta(days=1)), labels=["label"]
    )
    x, _ = fv.training_data(primary_key=True, event_time=True, dataframe_type="arrow")
    players_group = Group("players", ["pid"], "ts", _players().to_pylist())
    want = [
        (m["age"] if (m := match(r, players_group, "ts", timedelta(days=1))) else None)
        for r in sorted(_labels().to_pylist(), key=lambda r: (r["pid"], r["ts"]))
    ]
    assert x.column("age").to_pylist() == want
    assert None in want and any(w is not None for w in want)

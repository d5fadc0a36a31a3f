"""Feature vectors in-process (DESIGN §3-4): training/serving consistency of transformed
features, joins through an earlier group's feature, batch lookups with one result per key in
order and a status each (present, missing, too_old), return types, passed features, and the
errors for groups that are not online and for bad entries."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day

from lakebox.errors import NotFoundError, ValidationError

TRANSFORMS = {"age": "standard_scaler", "pos": "one_hot_encoder", "city": "label_encoder"}

# players: (pid, day, age, team_id, pos); several events per player, the last one counts online
PLAYERS = [
    (1, 1, 20.0, 1, "gk"),
    (1, 3, 21.0, 1, "gk"),
    (2, 1, 30.0, 2, "fw"),
    (3, 1, 25.0, 1, "df"),
    (3, 4, 26.0, 3, "fw"),  # 3 moves from team 1 to team 3
    (4, 2, None, 2, "df"),  # null age
    (5, 2, 40.0, 9, "gk"),  # team 9 does not exist
    (6, 1, 33.0, 3, None),  # null position
]
TEAMS = [(1, "Oslo", 1), (2, "Bergen", 2), (3, "Tromsø", 3)]


def _players(rows: list[tuple[Any, ...]]) -> pa.Table:
    return pa.table(
        {
            "pid": pa.array([r[0] for r in rows], pa.int64()),
            "ts": pa.array([day(r[1]) for r in rows], TS),
            "age": pa.array([r[2] for r in rows], pa.float64()),
            "team_id": pa.array([r[3] for r in rows], pa.int64()),
            "pos": pa.array([r[4] for r in rows], pa.string()),
        }
    )


def _latest_days() -> dict[int, int]:
    latest: dict[int, int] = {}
    for pid, d, *_ in PLAYERS:
        latest[pid] = max(latest.get(pid, 0), d)
    return latest


@pytest.fixture
def box(fs: Any) -> dict[str, Any]:
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    teams = fs.create_feature_group("teams", version=1, primary_key=["team_id"], online_enabled=True)
    players.insert(_players(PLAYERS))
    teams.insert(
        pa.table(
            {
                "team_id": pa.array([t[0] for t in TEAMS], pa.int64()),
                "city": [t[1] for t in TEAMS],
                "rank": pa.array([t[2] for t in TEAMS], pa.int64()),
            }
        )
    )
    # One label row per player at its latest event time (what serving sees), plus older ones
    # so that the fitted parameters come from more than the latest rows.
    latest = [(pid, day(d)) for pid, d in _latest_days().items()]
    label_rows = latest + [(1, day(1, 12)), (3, day(2, 12)), (4, day(1, 12))]
    labels.insert(
        pa.table(
            {
                "pid": pa.array([r[0] for r in label_rows], pa.int64()),
                "ts": pa.array([r[1] for r in label_rows], TS),
                "label": pa.array([i % 2 for i in range(len(label_rows))], pa.int64()),
            }
        )
    )
    query = labels.select_all().join(players.select(["age", "team_id", "pos"])).join(
        teams.select(["city", "rank"]), on=["team_id"]
    )
    view = fs.create_feature_view("attendance", version=1, query=query, labels=["label"], transformation_functions=TRANSFORMS)
    return {"fs": fs, "labels": labels, "players": players, "teams": teams, "view": view}


def test_serving_equals_training_for_the_latest_events(box: dict[str, Any]) -> None:
    fv = box["view"]
    version = fv.create_training_dataset()
    x, _ = fv.get_training_data(version, dataframe_type="arrow", primary_key=True, event_time=True)
    columns = x.column_names  # hsfs: the selected key and event time are features of the view
    assert fv.serving_columns() == columns
    assert columns[:4] == ["pid", "ts", "age", "team_id"] and "pos_gk" in columns and columns[-2:] == ["city", "rank"]
    latest = _latest_days()
    checked = 0
    for row in x.to_pylist():
        if row["ts"] != day(latest[row["pid"]]):
            continue
        # the label group is offline: its event time comes from the entry (None when not passed)
        want = [row[c] if c != "ts" else None for c in columns]
        got = fv.get_feature_vector({"pid": row["pid"]}, allow_missing=True)
        assert got == want, row["pid"]  # exact, nulls included: the same code both ways
        checked += 1
    assert checked == len(latest)
    # the unseen team of player 5 is label-encoded the same way both ways
    assert fv.get_feature_vector({"pid": 5}, return_type="dict", allow_missing=True)["city"] == -1


def test_serving_follows_the_dataset_version_it_was_fitted_with(box: dict[str, Any]) -> None:
    fv = box["view"]
    first = fv.create_training_dataset()
    box["labels"].insert(
        pa.table({"pid": pa.array([2], pa.int64()), "ts": pa.array([day(9)], TS), "label": pa.array([1], pa.int64())})
    )
    box["players"].insert(_players([(2, 8, 90.0, 2, "fw")]))
    second = fv.create_training_dataset()
    for version in (first, second):
        x, _ = fv.get_training_data(version, dataframe_type="arrow", primary_key=True, event_time=True)
        row = next(r for r in x.to_pylist() if r["pid"] == 1 and r["ts"] == day(3))
        got = fv.get_feature_vector({"pid": 1}, return_type="dict", training_dataset_version=version)
        assert got["age"] == row["age"]
    assert fv.get_feature_vector({"pid": 1}, training_dataset_version=first) != fv.get_feature_vector(
        {"pid": 1}, training_dataset_version=second
    )


def test_a_view_with_transformations_needs_a_training_dataset(box: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="create_training_dataset"):
        box["view"].get_feature_vector({"pid": 1})


def _plain_view(box: dict[str, Any], name: str = "plain") -> Any:
    players, teams, labels = box["players"], box["teams"], box["labels"]
    # only the label: the key and event time are then not features of the view (hsfs)
    query = labels.select(["label"]).join(players.select(["age", "team_id", "pos"])).join(
        teams.select(["city", "rank"]), on=["team_id"]
    )
    return box["fs"].create_feature_view(name, version=1, query=query, labels=["label"])


def test_joins_through_an_earlier_groups_feature(box: dict[str, Any]) -> None:
    fv = _plain_view(box)
    assert fv.serving_columns() == ["age", "team_id", "pos", "city", "rank"]
    assert fv.get_feature_vector({"pid": 3}) == [26.0, 3, "fw", "Tromsø", 3]  # the latest team, not team 1
    assert fv.get_feature_vector({"pid": 1}) == [21.0, 1, "gk", "Oslo", 1]
    assert fv.get_feature_vector({"pid": 4}) == [None, 2, "df", "Bergen", 2]
    # A new commit is served by the next lookup, without re-initialising the view.
    box["players"].insert(_players([(3, 6, 27.0, 2, "df")]))
    assert fv.get_feature_vector({"pid": 3}) == [27.0, 2, "df", "Bergen", 2]
    box["teams"].insert(pa.table({"team_id": pa.array([2], pa.int64()), "city": ["Bodø"], "rank": pa.array([7], pa.int64())}))
    assert fv.get_feature_vector({"pid": 3}) == [27.0, 2, "df", "Bodø", 7]


def test_batch_lookups_one_result_per_key_in_order(box: dict[str, Any]) -> None:
    fv = _plain_view(box)
    entries = [{"pid": 5}, {"pid": 1}, {"pid": 99}, {"pid": 1}, {"pid": 3}]
    vectors, statuses = fv.get_feature_vectors(entries, allow_missing=True, return_status=True)
    assert len(vectors) == len(statuses) == len(entries)
    assert statuses == ["missing", "present", "missing", "present", "present"]
    assert vectors[0] == [40.0, 9, "gk", None, None]  # the player is there, its team is not
    assert vectors[1] == vectors[3] == [21.0, 1, "gk", "Oslo", 1]
    assert vectors[2] == [None] * 5
    assert vectors[4][0] == 26.0
    assert fv.get_feature_vectors([], return_status=True) == ([], [])
    with pytest.raises(NotFoundError, match="allow_missing") as info:
        fv.get_feature_vectors([{"pid": 1}, {"pid": 99}])
    assert info.value.details["status"] == "missing"
    with pytest.raises(NotFoundError):
        fv.get_feature_vector({"pid": 99})
    assert fv.get_feature_vector({"pid": 99}, allow_missing=True) == [None] * 5


def test_max_age_statuses_online(box: dict[str, Any]) -> None:
    fs, labels, players = box["fs"], box["labels"], box["players"]
    activity = fs.create_feature_group("activity", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    now = datetime.now(UTC)
    activity.insert(
        pa.table(
            {
                "pid": pa.array([1, 2, 3], pa.int64()),
                "ts": pa.array([now - timedelta(minutes=5), now - timedelta(days=3), day(1)], TS),
                "level": pa.array([10, 20, 30], pa.int64()),
            }
        )
    )
    query = labels.select(["label"]).join(players.select(["age"])).join(
        activity.select(["level"]), max_age=timedelta(hours=1)
    )
    fv = fs.create_feature_view("fresh", version=1, query=query, labels=["label"])
    entries = [{"pid": 2}, {"pid": 1}, {"pid": 4}, {"pid": 3}, {"pid": 42}]
    vectors, statuses = fv.get_feature_vectors(entries, allow_missing=True, return_status=True)
    assert statuses == ["too_old", "present", "missing", "too_old", "missing"]
    assert vectors == [[30.0, None], [21.0, 10], [None, None], [26.0, None], [None, None]]
    with pytest.raises(NotFoundError) as info:
        fv.get_feature_vectors([{"pid": 1}, {"pid": 2}])
    assert info.value.details["status"] == "too_old"
    # A fresh value makes it present again, at the next lookup.
    activity.insert(
        pa.table({"pid": pa.array([2], pa.int64()), "ts": pa.array([now], TS), "level": pa.array([21], pa.int64())})
    )
    assert fv.get_feature_vector({"pid": 2}) == [30.0, 21]


def test_return_types(box: dict[str, Any]) -> None:
    fv = _plain_view(box)
    columns = fv.serving_columns()
    entries = [{"pid": 1}, {"pid": 4}]
    as_list = fv.get_feature_vectors(entries)
    assert as_list == [[21.0, 1, "gk", "Oslo", 1], [None, 2, "df", "Bergen", 2]]
    as_dicts = fv.get_feature_vectors(entries, return_type="dict")
    assert as_dicts == [dict(zip(columns, v, strict=True)) for v in as_list]
    frame = fv.get_feature_vectors(entries, return_type="pandas")
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == columns and len(frame) == 2
    assert frame["city"].tolist() == ["Oslo", "Bergen"] and math.isnan(frame["age"].iloc[1])
    polars_frame = fv.get_feature_vectors(entries, return_type="polars")
    assert isinstance(polars_frame, pl.DataFrame) and polars_frame.columns == columns
    assert polars_frame["age"].to_list() == [21.0, None]
    array = fv.get_feature_vectors(entries, return_type="numpy")
    assert isinstance(array, np.ndarray) and array.shape == (2, 5) and array.tolist() == as_list

    one = {"pid": 1}
    assert fv.get_feature_vector(one) == as_list[0]
    assert fv.get_feature_vector(one, return_type="dict") == as_dicts[0]
    single = fv.get_feature_vector(one, return_type="pandas")
    assert isinstance(single, pd.DataFrame) and list(single.columns) == columns and len(single) == 1
    assert fv.get_feature_vector(one, return_type="polars").row(0) == tuple(as_list[0])
    vector = fv.get_feature_vector(one, return_type="numpy")
    assert isinstance(vector, np.ndarray) and vector.shape == (5,) and vector.tolist() == as_list[0]
    with pytest.raises(ValidationError, match="return_type"):
        fv.get_feature_vectors(entries, return_type="xml")


def test_passed_features_override_served_values(box: dict[str, Any]) -> None:
    plain = _plain_view(box)
    assert plain.get_feature_vector({"pid": 1}, passed_features={"age": 99.0, "city": "Rome"}) == [99.0, 1, "gk", "Rome", 1]
    vectors = plain.get_feature_vectors([{"pid": 1}, {"pid": 2}], passed_features=[{}, {"pos": "gk"}])
    assert vectors == [[21.0, 1, "gk", "Oslo", 1], [30.0, 2, "gk", "Bergen", 2]]
    with pytest.raises(ValidationError, match="nickname"):
        plain.get_feature_vector({"pid": 1}, passed_features={"nickname": "x"})
    with pytest.raises(ValidationError, match="one dict per entry"):
        plain.get_feature_vectors([{"pid": 1}, {"pid": 2}], passed_features=[{}])

    # With transformations, a passed value is transformed like a served one.
    fv = box["view"]
    fv.create_training_dataset()
    two = fv.get_feature_vector({"pid": 2}, return_type="dict")
    one_as_two = fv.get_feature_vector({"pid": 1}, passed_features={"age": 30.0, "pos": "fw"}, return_type="dict")
    assert one_as_two["age"] == two["age"]
    assert [one_as_two[c] for c in fv.serving_columns() if c.startswith("pos_")] == [
        two[c] for c in fv.serving_columns() if c.startswith("pos_")
    ]
    assert one_as_two["city"] == fv.get_feature_vector({"pid": 1}, return_type="dict")["city"]


@pytest.mark.parametrize("passed", [5, "age", ["age"]])
def test_passed_features_of_the_wrong_type_are_a_validation_error(box: dict[str, Any], passed: Any) -> None:
    plain = _plain_view(box)
    with pytest.raises(ValidationError):
        plain.get_feature_vector({"pid": 1}, passed_features=passed)


def test_a_group_that_is_not_online_gives_a_clear_error(box: dict[str, Any]) -> None:
    fs, labels = box["fs"], box["labels"]
    stats = fs.create_feature_group("stats", version=1, primary_key=["pid"], event_time="ts")
    stats.insert(
        pa.table({"pid": pa.array([1], pa.int64()), "ts": pa.array([day(1)], TS), "goals": pa.array([3], pa.int64())})
    )
    fv = fs.create_feature_view(
        "offline_only", version=1, query=labels.select_all().join(stats.select(["goals"])), labels=["label"]
    )
    with pytest.raises(ValidationError, match=r"stats v1.*not online-enabled.*enable_online\(\)"):
        fv.get_feature_vector({"pid": 1})
    stats.enable_online()
    # pid and ts are features of this view: the key from the entry, the offline label time None
    assert fs.get_feature_view("offline_only", 1).get_feature_vector({"pid": 1}) == [1, None, 3]
    # The root (label) group need not be online: it contributes only keys and labels.
    assert not labels.online_enabled


def test_the_advice_of_the_not_online_error_works_on_the_same_view(box: dict[str, Any]) -> None:
    fs, labels = box["fs"], box["labels"]
    stats = fs.create_feature_group("stats", version=1, primary_key=["pid"], event_time="ts")
    stats.insert(
        pa.table({"pid": pa.array([1], pa.int64()), "ts": pa.array([day(1)], TS), "goals": pa.array([3], pa.int64())})
    )
    fv = fs.create_feature_view(
        "offline_only", version=1, query=labels.select_all().join(stats.select(["goals"])), labels=["label"]
    )
    with pytest.raises(ValidationError, match="enable_online"):
        fv.get_feature_vector({"pid": 1})
    stats.enable_online()
    assert fv.get_feature_vector({"pid": 1}) == [1, None, 3]  # pid, ts (offline label group), goals


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({}, r"lacks the primary key value\(s\) \['pid'\]"),
        ({"player": 1}, "pid"),
        ({"pid": "1"}, "'pid' needs a int value"),
        ({"pid": 1.0}, "'pid'"),
        ({"pid": True}, "'pid'"),
        ({"pid": [1]}, "'pid'"),
        (7, "dict of primary key values"),
        ([("pid", 1)], "dict of primary key values"),
    ],
)
def test_bad_entries_are_validation_errors(box: dict[str, Any], entry: Any, message: str) -> None:
    fv = _plain_view(box)
    with pytest.raises(ValidationError, match=message):
        fv.get_feature_vector(entry)
    with pytest.raises(ValidationError, match=message):
        fv.get_feature_vectors([{"pid": 1}, entry], allow_missing=True)


def test_a_batch_must_be_a_list_of_entries(box: dict[str, Any]) -> None:
    fv = _plain_view(box)
    with pytest.raises(ValidationError, match="get_feature_vector for one"):
        fv.get_feature_vectors({"pid": 1})


def test_an_integer_key_out_of_range_does_not_alias_another_key(box: dict[str, Any]) -> None:
    fv = _plain_view(box)
    try:
        got = fv.get_feature_vector({"pid": 2**64 + 1}, allow_missing=True)
    except ValidationError:
        return
    assert got == [None] * 5

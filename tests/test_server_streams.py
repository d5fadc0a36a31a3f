"""The record-batch streams the server sends (``fg.read_batches``, ``fs.get_features_batches``,
``fv.get_batch_data_batches``, ``fv.get_training_data_batches``) hold the same rows, columns,
types and order as the local calls, in several batches; their errors are the local ones."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day

from lakebox.errors import NotFoundError


def _table(reader: pa.RecordBatchReader) -> tuple[pa.Table, int]:
    batches = list(reader)
    return pa.Table.from_batches(batches, schema=reader.schema), len(batches)


@pytest.fixture
def world(fs: Any) -> Any:
    n = 500
    rng = np.random.default_rng(3)
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
    players.insert(pa.table({"pid": pa.array(rng.permutation(n), pa.int64()), "ts": pa.array([day(1)] * n, TS),
                             "age": pa.array(rng.normal(30, 5, n)), "city": pa.array([f"c{i % 7}" for i in range(n)])}))  # fmt: skip
    players.insert(pa.table({"pid": pa.array(range(50), pa.int64()), "ts": pa.array([day(3)] * 50, TS),
                             "age": pa.array([1.0] * 50), "city": pa.array(["late"] * 50)}))  # fmt: skip
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    labels.insert(pa.table({"pid": pa.array(range(n), pa.int64()), "ts": pa.array([day(2)] * n, TS),
                            "label": pa.array(rng.integers(0, 2, n), pa.int64())}))  # fmt: skip
    view = fs.create_feature_view("churn", version=1, query=labels.select(["label"]).join(players.select(["age", "city"])),
                                  labels=["label"], transformation_functions={"age": "standard_scaler"})  # fmt: skip
    version = view.create_training_dataset(test_size=0.3, seed=1)
    return {"players": players, "view": view, "version": version, "n": n}


def test_group_read_batches_equal_read(world: Any) -> None:
    players = world["players"]
    first = min(players.commit_details())
    for options in ({}, {"wallclock_time": first}, {"limit": 70, "offset": 40}, {"offset": 540}):
        got, count = _table(players.read_batches(batch_rows=64, **options))
        assert got.equals(players.read(dataframe_type="arrow", **options)), options
        assert count > 1 or got.num_rows <= 64
        assert (
            players.read_row_count(options.get("wallclock_time"), options.get("limit"), options.get("offset", 0))
            == got.num_rows
        )
    with pytest.raises(NotFoundError):
        players.read_batches(wallclock_time=10_000)


def test_get_features_batches_equal_get_features(fs: Any, world: Any) -> None:
    spine = pd.DataFrame({"pid": list(range(0, 600, 3)), "ts": pd.to_datetime([day(2)] * 200, utc=True)})
    got, count = _table(
        fs.get_features_batches(["age", "city", "label"], entity_df=spine, event_time="ts", batch_rows=50)
    )
    assert count >= 4 and got.equals(fs.get_features(["age", "city", "label"], entity_df=spine, event_time="ts",
                                                     dataframe_type="arrow"))  # fmt: skip


def test_view_batches_equal_batch_and_training_data(world: Any) -> None:
    view, version = world["view"], world["version"]
    got, count = _table(view.get_batch_data_batches(batch_rows=64))
    assert count > 1 and got.equals(view.get_batch_data(dataframe_type="arrow"))
    untransformed, _ = _table(view.get_batch_data_batches(transformed=False, batch_rows=64))
    assert untransformed.equals(view.get_batch_data(transformed=False, dataframe_type="arrow"))
    frames = view.get_training_data(version, dataframe_type="arrow")
    assert view.get_training_data_frames(version) == [f is not None for f in frames]
    for part, frame in enumerate(frames):
        got, _ = _table(view.get_training_data_batches(version, part, batch_rows=32))
        assert got.equals(frame), part
    with pytest.raises(NotFoundError, match="no frame"):
        view.get_training_data_batches(version, len(frames))


@pytest.mark.parametrize("mode", ["merge-on-read", "copy-on-write"])
def test_read_batches_and_row_count_after_updates(fs: Any, monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    monkeypatch.setenv("LAKEBOX_UPDATE_MODE", mode)
    group = fs.create_feature_group("scores", version=1, primary_key=["pid"])
    group.insert(pa.table({"pid": pa.array(range(300), pa.int64()), "x": pa.array([1.0] * 300)}))
    group.insert(pa.table({"pid": pa.array(range(0, 300, 7), pa.int64()), "x": pa.array([2.0] * 43)}))  # updates
    group.delete_records(pa.table({"pid": pa.array([1, 2, 3], pa.int64())}))
    got, count = _table(group.read_batches(batch_rows=50))
    assert count > 1 and got.equals(group.read(dataframe_type="arrow")) and got.num_rows == 297
    assert group.read_row_count() == 297 and group.read_row_count(limit=10, offset=290) == 7

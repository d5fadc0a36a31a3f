"""Inserting: input frame types, commits, one row per (key, event time), type widening, UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day, players, read_rows, teams


def _pandas(table: pa.Table) -> pd.DataFrame:
    return table.to_pandas()


def _polars(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _record_batch(table: pa.Table) -> pa.RecordBatch:
    return table.to_batches()[0]


@pytest.mark.parametrize("convert", [_pandas, _polars, lambda t: t, _record_batch], ids=["pandas", "polars", "arrow", "batch"])
def test_insert_each_frame_type(players_fg: Any, convert: Any) -> None:
    commit = players_fg.insert(convert(players([1, 2, 3])))
    assert (commit.commit_id, commit.rows_inserted, commit.rows_updated, commit.rows_deleted) == (1, 3, 0, 0)
    assert commit.kind == "insert"
    assert commit.committed_on.tzinfo is not None
    assert read_rows(players_fg) == [
        (1, day(1), 21.0, "p1"),
        (2, day(1), 22.0, "p2"),
        (3, day(1), 23.0, "p3"),
    ]


def test_same_key_and_event_time_replaces(players_fg: Any) -> None:
    players_fg.insert(players([1, 2]))
    commit = players_fg.insert(players([2, 3], ages=[99.0, 30.0]))
    assert (commit.commit_id, commit.rows_inserted, commit.rows_updated) == (2, 1, 1)
    assert read_rows(players_fg) == [
        (1, day(1), 21.0, "p1"),
        (2, day(1), 99.0, "p2"),
        (3, day(1), 30.0, "p3"),
    ]


def test_new_event_times_append(players_fg: Any) -> None:
    players_fg.insert(players([1, 2]))
    commit = players_fg.insert(players([1, 2], days=2, ages=[31.0, 32.0]))
    assert (commit.rows_inserted, commit.rows_updated) == (2, 0)
    assert read_rows(players_fg) == [
        (1, day(1), 21.0, "p1"),
        (1, day(2), 31.0, "p1"),
        (2, day(1), 22.0, "p2"),
        (2, day(2), 32.0, "p2"),
    ]


def test_reinserting_the_same_batch_is_idempotent(players_fg: Any) -> None:
    batch = players([1, 2, 3], days=[1, 2, 3])
    players_fg.insert(batch)
    commit = players_fg.insert(batch)
    assert (commit.rows_inserted, commit.rows_updated) == (0, 3)
    assert read_rows(players_fg) == read_rows(players_fg, 1)


def test_mixed_replace_and_append_over_many_commits(players_fg: Any) -> None:
    for n in range(1, 5):
        players_fg.insert(players(list(range(n)), days=n))
    commit = players_fg.insert(players([0, 1, 2, 3, 7], days=[1, 2, 3, 4, 4], ages=[0.5] * 5))
    assert (commit.rows_inserted, commit.rows_updated) == (1, 4)
    got = read_rows(players_fg)
    assert len(got) == 1 + 2 + 3 + 4 + 1
    assert len({(r[0], r[1]) for r in got}) == len(got), "one row per (key, event time)"
    assert {(r[0], r[1].day) for r in got if r[2] == 0.5} == {(0, 1), (1, 2), (2, 3), (3, 4), (7, 4)}


def test_group_without_event_time_upserts_by_key(teams_fg: Any) -> None:
    teams_fg.insert(teams([1, 2, 3]))
    commit = teams_fg.insert(teams([2, 4], cities=["new", "c4"]))
    assert (commit.rows_inserted, commit.rows_updated) == (1, 1)
    assert read_rows(teams_fg) == [(1, "c1"), (2, "new"), (3, "c3"), (4, "c4")]


def test_int32_input_widens_into_bigint(players_fg: Any) -> None:
    players_fg.insert(players([1]))
    narrow = players([2]).set_column(0, "pid", pa.array([2], pa.int32()))
    players_fg.insert(narrow)
    small = pd.DataFrame(
        {
            "pid": pd.Series([3], dtype="int16"),
            "ts": [pd.Timestamp("2024-01-01", tz="UTC")],
            "age": pd.Series([5], dtype="int8"),  # integers widen into a double feature
            "name": ["p3"],
        }
    )
    players_fg.insert(small)
    table = players_fg.read(dataframe_type="arrow")
    assert table.schema.field("pid").type == pa.int64()
    assert table.schema.field("age").type == pa.float64()
    assert [r[:3] for r in read_rows(players_fg)] == [(1, day(1), 21.0), (2, day(1), 22.0), (3, day(1), 5.0)]


def test_first_insert_fixes_narrow_types(fs: Any) -> None:
    fg = fs.create_feature_group("small", primary_key=["k"])
    fg.insert(pa.table({"k": pa.array([1], pa.int16()), "f": pa.array([1.5], pa.float32())}))
    assert [(f.name, f.type) for f in fg.features] == [("k", "int"), ("f", "float")]
    fg.insert(pa.table({"k": pa.array([2], pa.int64()), "f": pa.array([2.5], pa.float32())}))  # fits in int
    assert read_rows(fg) == [(1, 1.5), (2, 2.5)]


def test_offset_timestamps_are_stored_as_the_same_utc_instant(players_fg: Any) -> None:
    local = pd.DataFrame(
        {
            "pid": [1, 2],
            "ts": pd.to_datetime(["2024-01-01T12:00:00+02:00", "2024-06-30T23:30:00+02:00"]),
            "age": [1.0, 2.0],
            "name": ["a", "b"],
        }
    )
    players_fg.insert(local)
    table = players_fg.read(dataframe_type="arrow")
    assert table.schema.field("ts").type == pa.timestamp("us", tz="UTC")
    got = table.column("ts").to_pylist()
    assert got == [datetime(2024, 1, 1, 10, tzinfo=UTC), datetime(2024, 6, 30, 21, 30, tzinfo=UTC)]
    assert all(t.utcoffset() == timedelta(0) for t in got)
    frame = players_fg.read()
    assert str(frame["ts"].dt.tz) == "UTC"
    assert frame["ts"].iloc[0] == pd.Timestamp("2024-01-01T12:00:00+02:00")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_units_and_zones_become_utc_microseconds(players_fg: Any, unit: str) -> None:
    instant = datetime(2024, 3, 10, 8, 30, 15, tzinfo=UTC)
    zone = "America/New_York"
    values = pa.array([instant], pa.timestamp("us", tz="UTC")).cast(pa.timestamp(unit, tz=zone))
    batch = players([1]).set_column(1, "ts", values)
    players_fg.insert(batch)
    table = players_fg.read(dataframe_type="arrow")
    assert table.schema.field("ts").type == TS
    assert table.column("ts").to_pylist() == [instant]


def test_nanoseconds_are_truncated_to_microseconds(players_fg: Any) -> None:
    ns = pa.array([1_704_067_200_123_456_789], pa.timestamp("ns", tz="UTC"))
    players_fg.insert(players([1]).set_column(1, "ts", ns))
    stored = players_fg.read(dataframe_type="arrow").column("ts").cast(pa.int64()).to_pylist()
    assert stored == [1_704_067_200_123_456]


def test_polars_input_with_zone(players_fg: Any) -> None:
    frame = pl.DataFrame(
        {
            "pid": [1],
            "ts": [datetime(2024, 1, 1, 9, 0)],
            "age": [1.0],
            "name": ["x"],
        }
    ).with_columns(pl.col("ts").dt.replace_time_zone("Europe/Berlin").dt.cast_time_unit("ms"))
    players_fg.insert(frame)
    assert read_rows(players_fg)[0][1] == datetime(2024, 1, 1, 8, 0, tzinfo=UTC)


def test_nullable_features_and_other_types(fs: Any) -> None:
    fg = fs.create_feature_group("things", primary_key=["k"], event_time="ts")
    batch = pa.table(
        {
            "k": pa.array(["a", "b"]),
            "ts": pa.array([day(1), day(2)], TS),
            "flag": pa.array([True, None]),
            "score": pa.array([1.5, None]),
            "born": pa.array([datetime(2000, 1, 1).date(), None], pa.date32()),
            "tags": pa.array([["x", "y"], []], pa.list_(pa.string())),
            "price": pa.array([Decimal("1.25"), Decimal("2.50")], pa.decimal128(10, 2)),
        }
    )
    fg.insert(batch)
    assert [f.type for f in fg.features] == [
        "string",
        "timestamp",
        "boolean",
        "double",
        "date",
        "array<string>",
        "decimal(10,2)",
    ]
    assert fg.read(dataframe_type="arrow").to_pylist() == batch.to_pylist()
    fg.insert(batch.slice(1, 1))  # replacing a row whose payload has lists and decimals
    assert fg.read(dataframe_type="arrow").to_pylist() == batch.to_pylist()


def test_commit_ids_are_consecutive(players_fg: Any) -> None:
    ids = [players_fg.insert(players([i])).commit_id for i in range(5)]
    assert ids == [1, 2, 3, 4, 5]
    assert sorted(players_fg.commit_details()) == ids


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize(
    "keys",
    [
        pa.array(["x" * 20 + str(i) for i in range(4)]),  # longer than Iceberg's 16-char bounds
        pa.array(["é" * 17 + chr(0x10FFFF) + str(i) for i in range(4)]),
        pa.array([chr(0x10FFFF) * 20, chr(0x10FFFF) * 19 + "a", "a" * 30, ""]),
        pa.array([b"\xff" * 20, b"\xff" * 19 + b"\x00", b"a", b""], pa.binary()),
        pa.array([datetime(2024, 1, d).date() for d in (1, 2, 3, 31)], pa.date32()),
        pa.array([day(d) for d in (1, 2, 3, 4)], TS),
        pa.array([-(2**63), -1, 0, 2**63 - 1], pa.int64()),
        pa.array([True, False]),
    ],
    ids=["long-string", "unicode", "max-codepoint", "binary", "date", "timestamp", "int64-extremes", "boolean"],
)
def test_every_key_type_replaces_in_place(fs: Any, keys: pa.Array) -> None:
    """The file pruning used to find rows to replace must never miss one (no duplicate keys)."""
    fg = fs.create_feature_group("keyed", primary_key=["k"])
    n = len(keys)
    fg.insert(pa.table({"k": keys, "v": pa.array(range(n), pa.int64())}))
    fg.insert(pa.table({"k": keys.slice(n - 1, 1), "v": pa.array([-1], pa.int64())}))
    for i in range(n):
        commit = fg.insert(pa.table({"k": keys.slice(i, 1), "v": pa.array([100 + i], pa.int64())}))
        assert (commit.rows_inserted, commit.rows_updated) == (0, 1)
    got = fg.read(dataframe_type="arrow")
    assert got.num_rows == n
    assert sorted(got.column("v").to_pylist()) == [100 + i for i in range(n)]


def test_column_order_and_categoricals(players_fg: Any) -> None:
    players_fg.insert(players([1]))
    frame = players([2]).to_pandas()[["name", "age", "ts", "pid"]]
    frame["name"] = frame["name"].astype("category")
    players_fg.insert(frame)
    players_fg.insert(pl.from_arrow(players([3])).with_columns(pl.col("name").cast(pl.Categorical)))
    table = players_fg.read(dataframe_type="arrow")
    assert table.column_names == ["pid", "ts", "age", "name"]
    assert table.schema.field("name").type == pa.string()
    assert read_rows(players_fg) == [(k, day(1), 20.0 + k, f"p{k}") for k in (1, 2, 3)]

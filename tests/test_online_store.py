"""The online store (DESIGN §1, §4): LMDB key/value codecs, the latest row per key by event
time under every kind of commit (insert, late data, re-ingestion, deletes, rollback, compact),
enabling/disabling/deleting online groups, and growth of the LMDB map without errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day, players
from hypothesis import given, settings
from hypothesis import strategies as st

import lakebox
import lakebox.online.store
from lakebox.errors import ValidationError
from lakebox.online.codec import KeyCodec, ValueCodec
from lakebox.online.table import latest_per_key

# -- codecs ---------------------------------------------------------------------------------
KEY_CASES: list[tuple[str, pa.DataType, list[Any]]] = [
    ("int64", pa.int64(), [0, 1, -1, 7, -(2**63), 2**63 - 1, 123456789012, -987654321]),
    ("int32", pa.int32(), [0, -5, 5, -(2**31), 2**31 - 1]),
    ("string", pa.string(), ["", "a", "ab", "b", "é", "日本", "x" * 300, "a\x00b"]),
    (
        "timestamp",
        TS,
        [datetime(1970, 1, 1, tzinfo=UTC), datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), day(1, 5), day(300)],
    ),
    ("date", pa.date32(), [date(1970, 1, 1), date(1969, 12, 31), date(2024, 2, 29), date(1, 1, 1)]),
    ("bool", pa.bool_(), [True, False]),
    ("binary", pa.binary(), [b"", b"\x00", b"\xff\x00", b"abc"]),
]




@pytest.mark.parametrize(
    ("kind", "dtype", "values"),
    [pytest.param(*c, id=c[0]) for c in KEY_CASES],
)
def test_key_codec_vectorised_and_per_value_agree(kind: str, dtype: pa.DataType, values: list[Any]) -> None:
    codec = KeyCodec(["k"], [dtype])
    table = pa.table({"k": pa.array(values, dtype)})
    vectorised = codec.encode_columns(table)
    per_value = [codec.encode([v]) for v in values]
    specialised = codec.encoder()
    assert vectorised == per_value
    assert [specialised([v]) for v in values] == per_value
    assert [codec.decode(k)["k"] for k in per_value] == values
    assert len(set(per_value)) == len(set(values))


@pytest.mark.parametrize(("kind", "dtype", "values"), [c for c in KEY_CASES if c[0] in ("int64", "int32", "timestamp", "date")])
def test_fixed_width_keys_sort_like_their_values(kind: str, dtype: pa.DataType, values: list[Any]) -> None:
    """Big-endian with the sign bit flipped: byte order is value order (negatives first)."""
    codec = KeyCodec(["k"], [dtype])
    by_bytes = sorted(values, key=lambda v: codec.encode([v]))
    assert by_bytes == sorted(values)


def test_composite_keys_agree_and_decode() -> None:
    types = [pa.string(), pa.int64(), TS, pa.bool_(), pa.binary()]
    names = ["s", "i", "t", "b", "x"]
    rows = [
        ("a", -1, day(1), True, b""),
        ("a", 1, day(1), True, b"\x00"),
        ("ab", -(2**63), day(2, 3), False, b"\xff"),
        ("", 2**63 - 1, datetime(1900, 1, 1, tzinfo=UTC), False, b"z"),
    ]
    codec = KeyCodec(names, types)
    table = pa.table({n: pa.array([r[i] for r in rows], t) for i, (n, t) in enumerate(zip(names, types, strict=True))})
    vectorised = codec.encode_columns(table)
    assert vectorised == [codec.encode(list(r)) for r in rows]
    assert [codec.encoder()(list(r)) for r in rows] == vectorised
    assert [tuple(codec.decode(k).values()) for k in vectorised] == rows
    assert len(set(vectorised)) == len(rows)
    # A length prefix keeps ("a", ...) and ("ab", ...) apart whatever follows.
    assert not vectorised[2].startswith(vectorised[0][:5])


def test_composite_key_with_a_date_column() -> None:
    codec = KeyCodec(["s", "d"], [pa.string(), pa.date32()])
    rows = [("a", date(2020, 1, 1)), ("a", date(1960, 5, 5))]
    table = pa.table({"s": [r[0] for r in rows], "d": pa.array([r[1] for r in rows], pa.date32())})
    assert codec.encode_columns(table) == [codec.encode(list(r)) for r in rows]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-(2**63), 2**63 - 1), st.text(max_size=8), st.booleans()), min_size=1, max_size=20
    )
)
def test_key_codec_agrees_on_random_composite_keys(rows: list[tuple[int, str, bool]]) -> None:
    codec = KeyCodec(["i", "s", "b"], [pa.int64(), pa.string(), pa.bool_()])
    table = pa.table(
        {
            "i": pa.array([r[0] for r in rows], pa.int64()),
            "s": pa.array([r[1] for r in rows], pa.string()),
            "b": pa.array([r[2] for r in rows], pa.bool_()),
        }
    )
    encoded = codec.encode_columns(table)
    assert encoded == [codec.encode(list(r)) for r in rows]
    assert [tuple(codec.decode(k).values()) for k in encoded] == rows
    assert len(set(encoded)) == len(set(rows))


def test_key_codec_accepts_numpy_and_pandas_values() -> None:
    import numpy as np

    codec = KeyCodec(["i", "t"], [pa.int64(), TS])
    assert codec.encode([np.int64(-3), pd.Timestamp("2024-01-01", tz="UTC")]) == codec.encode([-3, day(1)])
    single = KeyCodec(["i"], [pa.int64()])
    assert single.encoder()([np.int32(5)]) == single.encoder()([5]) == single.encode([np.uint8(5)])


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        (pa.int64(), "7"),
        (pa.int64(), 7.0),
        (pa.int64(), True),
        (pa.int64(), None),
        (pa.string(), 7),
        (TS, "2024-01-01"),
        (pa.date32(), datetime(2024, 1, 1, tzinfo=UTC)),
        (pa.binary(), "abc"),
    ],
)
def test_key_of_the_wrong_type_is_a_validation_error(dtype: pa.DataType, value: Any) -> None:
    codec = KeyCodec(["k"], [dtype])
    with pytest.raises(ValidationError, match="'k'"):
        codec.encode([value])
    with pytest.raises(ValidationError):
        codec.encoder()([value])


def test_naive_timestamp_key_is_refused() -> None:
    with pytest.raises(lakebox.TimezoneError):
        KeyCodec(["t"], [TS]).encode([datetime(2024, 1, 1)])


def test_integer_key_outside_int64_is_refused_not_wrapped() -> None:
    codec = KeyCodec(["k"], [pa.int64()])
    with pytest.raises(ValidationError):
        codec.encode([2**64 + 1])


VALUE_CASES: list[tuple[str, pa.DataType, list[Any]]] = [
    ("bool", pa.bool_(), [True, False, None]),
    ("int32", pa.int32(), [-(2**31), 0, None, 2**31 - 1]),
    ("int64", pa.int64(), [-(2**63), 0, None, 2**63 - 1]),
    ("float32", pa.float32(), [0.1, -1.5, None, float("inf")]),
    ("float64", pa.float64(), [0.1, -1e300, None, float("-inf")]),
    ("string", pa.string(), ["", "é日本", None, "x" * 1000]),
    ("binary", pa.binary(), [b"", b"\x00\xff", None, b"abc"]),
    ("date", pa.date32(), [date(1970, 1, 1), date(1900, 3, 1), None, date(2999, 12, 31)]),
    (
        "timestamp",
        TS,
        [day(1, 3), datetime(1950, 6, 1, 0, 0, 0, 1, tzinfo=UTC), None, datetime(1970, 1, 1, tzinfo=UTC)],
    ),
    ("decimal", pa.decimal128(12, 3), [Decimal("1.250"), Decimal("-99999.999"), None, Decimal("0.000")]),
    ("list_double", pa.list_(pa.float64()), [[1.5, None, -2.0], [], None, [0.0]]),
    ("list_string", pa.list_(pa.string()), [["a", None], [], None, ["é"]]),
    ("list_bigint", pa.list_(pa.int64()), [[1, 2**62], [], None, [None]]),
]


@pytest.mark.parametrize(("kind", "dtype", "values"), VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
@pytest.mark.parametrize("with_event_time", [True, False], ids=["event_time", "no_event_time"])
def test_value_codec_round_trips(kind: str, dtype: pa.DataType, values: list[Any], with_event_time: bool) -> None:
    n = len(values)
    times = [day(1 + i) for i in range(n)]
    columns: dict[str, pa.Array] = {"v": pa.array(values, dtype), "other": pa.array(range(n), pa.int64())}
    if with_event_time:
        columns["ts"] = pa.array(times, TS)
    table = pa.table(columns)
    codec = ValueCodec(table.schema, ["v", "other"], "ts" if with_event_time else None)
    encoded = codec.encode_table(table)
    stored = table.column("v").to_pylist()  # float32 values as stored, not as written
    assert [codec.decode(e) for e in encoded] == [[v, i] for i, v in enumerate(stored)]
    micros = [ValueCodec.event_micros(e) for e in encoded]
    if with_event_time:
        assert micros == [(t - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1) for t in times]
    else:
        assert micros == [0] * n


def test_value_codec_without_features() -> None:
    table = pa.table({"ts": pa.array([day(1), day(2)], TS)})
    codec = ValueCodec(table.schema, [], "ts")
    assert [codec.decode(e) for e in codec.encode_table(table)] == [[], []]


def test_value_codec_keeps_nan_and_pre_epoch_event_times() -> None:
    table = pa.table({"ts": pa.array([datetime(1960, 1, 1, tzinfo=UTC)], TS), "v": pa.array([float("nan")])})
    codec = ValueCodec(table.schema, ["v"], "ts")
    [encoded] = codec.encode_table(table)
    [value] = codec.decode(encoded)
    assert value != value  # NaN stays NaN (it is not null)
    assert ValueCodec.event_micros(encoded) < 0


@pytest.mark.parametrize(
    "dtype, values",
    [
        (pa.list_(TS), [[day(1), None], None]),
        (pa.list_(pa.date32()), [[date(2020, 1, 1)], None]),
        (pa.list_(pa.decimal128(10, 2)), [[Decimal("1.25")], None]),
    ],
    ids=["array<timestamp>", "array<date>", "array<decimal>"],
)
def test_value_codec_round_trips_arrays_of_temporal_and_decimal(dtype: pa.DataType, values: list[Any]) -> None:
    table = pa.table({"v": pa.array(values, dtype)})
    codec = ValueCodec(table.schema, ["v"], None)
    assert [codec.decode(e)[0] for e in codec.encode_table(table)] == values


def test_latest_per_key_picks_the_newest_event() -> None:
    table = pa.table(
        {
            "a": pa.array([1, 1, 2, 1, 2], pa.int64()),
            "b": ["x", "x", "x", "y", "x"],
            "ts": pa.array([day(1), day(3), day(2), day(9), day(1)], TS),
            "v": [1, 3, 22, 9, 21],
        }
    )
    latest = latest_per_key(table, ["a", "b"], "ts")
    got = sorted((r["a"], r["b"], r["v"]) for r in latest.to_pylist())
    assert got == [(1, "x", 3), (1, "y", 9), (2, "x", 22)]


# -- online tables through the feature group API ----------------------------------------------
def _online(fg: Any) -> list[dict[str, Any]]:
    return fg.read(online=True, dataframe_type="arrow").to_pylist()


def _expected_latest(fg: Any) -> list[dict[str, Any]]:
    """Latest row per key of the offline store (computed in pandas)."""
    frame = fg.read(dataframe_type="pandas")
    if fg.event_time is not None and len(frame):
        frame = frame.sort_values([*fg.primary_key, fg.event_time]).groupby(fg.primary_key, sort=True).tail(1)
    frame = frame.sort_values(fg.primary_key)
    return pa.Table.from_pandas(frame, preserve_index=False).cast(fg.read(dataframe_type="arrow").schema).to_pylist()


@pytest.fixture
def online_players(fs: Any) -> Any:
    return fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)


def test_online_table_is_the_latest_row_per_key(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2, 3], days=[1, 1, 1], ages=[10.0, 20.0, 30.0]))
    fg.insert(players([1, 2, 1], days=[2, 5, 3], ages=[11.0, 25.0, 13.0]))
    assert [(r["pid"], r["age"], r["ts"]) for r in _online(fg)] == [(1, 13.0, day(3)), (2, 25.0, day(5)), (3, 30.0, day(1))]
    assert _online(fg) == _expected_latest(fg)
    assert fg.online_lag() == 0


def test_a_late_older_event_never_overwrites_a_newer_one(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2], days=[5, 5], ages=[50.0, 52.0]))
    fg.insert(players([1, 2, 3], days=[2, 7, 1], ages=[20.0, 72.0, 31.0]))  # 1 is late, 2 is newer
    assert [(r["pid"], r["age"]) for r in _online(fg)] == [(1, 50.0), (2, 72.0), (3, 31.0)]
    assert len(fg.read()) == 5  # the late event is kept offline (history)
    assert _online(fg) == _expected_latest(fg)


def test_reinserting_the_same_key_and_event_time_replaces(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2], days=[4, 4], ages=[40.0, 41.0], names=["a", "b"]))
    fg.insert(players([1], days=[4], ages=[None], names=["a2"]))  # same (key, event time)
    rows = _online(fg)
    assert [(r["pid"], r["age"], r["name"]) for r in rows] == [(1, None, "a2"), (2, 41.0, "b")]
    assert len(fg.read()) == 2
    assert rows == _expected_latest(fg)


def test_a_group_without_event_time_upserts(fs: Any) -> None:
    fg = fs.create_feature_group("teams", version=1, primary_key=["team_id", "league"], online_enabled=True)
    fg.insert(pa.table({"team_id": pa.array([1, 1, 2], pa.int64()), "league": ["a", "b", "a"], "city": ["x", "y", "z"]}))
    fg.insert(pa.table({"team_id": pa.array([1], pa.int64()), "league": ["b"], "city": pa.array([None], pa.string())}))
    assert _online(fg) == [
        {"team_id": 1, "league": "a", "city": "x"},
        {"team_id": 1, "league": "b", "city": None},
        {"team_id": 2, "league": "a", "city": "z"},
    ]
    assert _online(fg) == _expected_latest(fg)


def test_delete_records_by_key_removes_the_key_online(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2, 3], days=[1, 1, 1]))
    fg.insert(players([1], days=[2]))
    fg.delete_records(pa.table({"pid": pa.array([1, 3, 99], pa.int64())}))
    assert [r["pid"] for r in _online(fg)] == [2]
    assert _online(fg) == _expected_latest(fg)
    assert fg.online_lag() == 0


def test_delete_of_the_latest_event_falls_back_to_the_previous_one(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2], days=[1, 1], ages=[10.0, 20.0]))
    fg.insert(players([1, 2], days=[3, 3], ages=[13.0, 23.0]))
    fg.insert(players([1], days=[5], ages=[15.0]))
    fg.delete_records(pa.table({"pid": pa.array([1, 2], pa.int64()), "ts": pa.array([day(5), day(1)], TS)}))
    # 1 loses its newest event (back to day 3); 2 loses an older one (unchanged)
    assert [(r["pid"], r["age"], r["ts"]) for r in _online(fg)] == [(1, 13.0, day(3)), (2, 23.0, day(3))]
    fg.delete_records(pa.table({"pid": pa.array([1, 1], pa.int64()), "ts": pa.array([day(3), day(1)], TS)}))
    assert [r["pid"] for r in _online(fg)] == [2]  # every event of 1 deleted
    assert _online(fg) == _expected_latest(fg)


def test_rollback_rebuilds_the_online_table(online_players: Any) -> None:
    fg = online_players
    first = fg.insert(players([1, 2], days=[1, 1], ages=[10.0, 20.0]))
    fg.insert(players([1, 3], days=[2, 2], ages=[12.0, 32.0]))
    fg.delete_records(pa.table({"pid": pa.array([2], pa.int64())}))
    fg.rollback(first.commit_id)
    assert [(r["pid"], r["age"]) for r in _online(fg)] == [(1, 10.0), (2, 20.0)]
    assert _online(fg) == _expected_latest(fg)
    assert fg.online_lag() == 0


def test_compact_leaves_the_online_table_unchanged(online_players: Any) -> None:
    fg = online_players
    for d in range(1, 5):
        fg.insert(players([1, 2, d + 10], days=d, ages=[float(d), float(-d), None]))
    before = _online(fg)
    commit = fg.compact()
    assert commit is not None
    assert _online(fg) == before == _expected_latest(fg)
    assert fg.online_lag() == 0


def test_enable_online_backfills_an_existing_group(players_fg: Any) -> None:
    fg = players_fg
    fg.insert(players([1, 2], days=[1, 1], ages=[1.0, 2.0]))
    fg.insert(players([1, 3], days=[4, 1], ages=[4.0, 3.0]))
    with pytest.raises(ValidationError, match="enable_online"):
        fg.read(online=True)
    assert fg.online_lag() == 0  # not online: nothing to lag behind
    fg.enable_online()
    assert fg.online_enabled
    assert fg.online_lag() == 0
    assert [(r["pid"], r["age"]) for r in _online(fg)] == [(1, 4.0), (2, 2.0), (3, 3.0)]
    fg.insert(players([2], days=[9], ages=[9.0]))  # and stays in step afterwards
    assert _online(fg) == _expected_latest(fg)


def test_enable_online_before_any_data(players_fg: Any) -> None:
    fg = players_fg.enable_online()
    assert fg.read(online=True).empty
    fg.insert(players([5], days=1))
    assert [r["pid"] for r in _online(fg)] == [5]


def _has_online_data(project: Any, uid: str) -> bool:
    """Whether the LMDB environment still holds the group's database or watermark."""
    store = project.engines.online
    name = lakebox.online.store.db_name(uid)
    with store.read() as txn:
        return txn.get(name) is not None or txn.get(name, db=store.db(b"meta")) is not None


def test_disable_online_drops_the_online_data(project: Any, online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2], days=1))
    assert _has_online_data(project, fg._row.table_name)
    fg.disable_online()
    assert not fg.online_enabled
    assert not _has_online_data(project, fg._row.table_name)
    with pytest.raises(ValidationError, match="not online-enabled"):
        fg.read(online=True)
    fg.insert(players([3], days=1))  # offline only now
    assert not _has_online_data(project, fg._row.table_name)
    fg.enable_online()
    assert [r["pid"] for r in _online(fg)] == [1, 2, 3]


def test_deleting_a_group_drops_its_online_data(fs: Any, project: Any, online_players: Any) -> None:
    fg = online_players
    fg.insert(players([1, 2], days=1))
    uid = fg._row.table_name
    fg.delete()
    assert not _has_online_data(project, uid)
    again = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    assert again.read(online=True).empty  # a re-created group never sees the old rows
    again.insert(players([7], days=1))
    assert [r["pid"] for r in _online(again)] == [7]


def test_read_online_return_types(online_players: Any) -> None:
    fg = online_players
    fg.insert(players([2, 1], days=[1, 2], ages=[2.0, None]))
    frame = fg.read(online=True)
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["pid", "ts", "age", "name"]
    assert frame["pid"].tolist() == [1, 2]
    assert isinstance(fg.read(online=True, dataframe_type="polars"), pl.DataFrame)
    arrow = fg.read(online=True, dataframe_type="arrow")
    assert arrow.schema == fg.read(dataframe_type="arrow").schema
    with pytest.raises(ValidationError, match="wallclock_time"):
        fg.read(online=True, wallclock_time=day(1))


def test_online_lag_counts_commits_not_applied(project: Any, online_players: Any) -> None:
    fg = online_players
    assert fg.online_lag() == 0
    fg.insert(players([1], days=1))
    fg.insert(players([1], days=2, ages=[99.0]))
    assert fg.online_lag() == 0
    # Simulate a writer that died after its commits and before the online write: the
    # watermark (written with the values) is two commits behind.
    store = project.engines.online
    last = max(fg.commit_details())
    store.write(lambda txn: store.set_watermark(txn, fg._row.table_name, last - 2))
    assert fg.online_lag() == 2
    assert fg.catch_up_online() is True
    assert fg.online_lag() == 0
    assert fg.catch_up_online() is False
    assert [(r["pid"], r["age"]) for r in _online(fg)] == [(1, 99.0)]


def test_the_map_grows_without_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    initial = 1024 * 1024
    monkeypatch.setattr(lakebox.online.store, "INITIAL_MAP_SIZE", initial)
    n = 4000
    with lakebox.connect(tmp_path / "small.lakebox") as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("big", version=1, primary_key=["k"], event_time="ts", online_enabled=True)

        def batch(start: int, d: int) -> pa.Table:
            keys = list(range(start, start + n))
            return pa.table(
                {
                    "k": pa.array(keys, pa.int64()),
                    "ts": pa.array([day(d)] * n, TS),
                    "payload": [f"{d}:{k}:" + "x" * 300 for k in keys],
                }
            )

        first = fg.insert(batch(0, 1))  # into an empty table (bulk put)
        fg.insert(batch(n, 2))  # new keys, one by one
        fg.insert(batch(n // 2, 3))  # overlapping keys, newer
        fg.rollback(first.commit_id)  # a whole rebuild
        fg.insert(batch(2 * n, 4))
        fg.delete_records(pa.table({"k": pa.array(range(0, n, 2), pa.int64())}))
        late = fs.create_feature_group("late", version=1, primary_key=["k"], event_time="ts")
        late.insert(batch(0, 5))
        late.enable_online()  # a backfill
        assert project.engines.online.env.info()["map_size"] >= 4 * initial  # it grew, more than once
        for group in (fg, late):
            assert fg.online_lag() == 0
            online = group.read(online=True, dataframe_type="arrow")
            assert online.to_pylist() == _expected_latest(group)
        assert fg.read(online=True, dataframe_type="arrow").num_rows == n // 2 + n
        view = fs.create_feature_view("big_view", version=1, query=fg.select(["payload"]))
        keys = [{"k": k} for k in range(3 * n - 1, 2 * n - 1, -397)]
        vectors = view.get_feature_vectors(keys)
        assert vectors == [[f"4:{k['k']}:" + "x" * 300] for k in keys]


def test_an_online_group_keyed_by_a_date(fs: Any) -> None:
    fg = fs.create_feature_group("daily", version=1, primary_key=["d"], online_enabled=True)
    fg.insert(pa.table({"d": pa.array([date(2024, 1, 1), date(1969, 7, 20)], pa.date32()), "v": [1.0, 2.0]}))
    assert _online(fg) == _expected_latest(fg)
    fv = fs.create_feature_view("daily_view", version=1, query=fg.select(["v"]))
    assert fv.get_feature_vector({"d": date(1969, 7, 20)}) == [2.0]


@pytest.mark.parametrize(
    ("dtype", "value"),
    [(pa.list_(TS), [day(1)]), (pa.list_(pa.date32()), [date(2020, 1, 1)]), (pa.list_(pa.decimal128(9, 2)), [Decimal("1.50")])],
    ids=["array<timestamp>", "array<date>", "array<decimal>"],
)
def test_an_online_group_with_arrays_of_temporal_or_decimal_values(fs: Any, dtype: pa.DataType, value: Any) -> None:
    fg = fs.create_feature_group("arrays", version=1, primary_key=["k"], event_time="ts", online_enabled=True)
    fg.insert(pa.table({"k": pa.array([1], pa.int64()), "ts": pa.array([day(1)], TS), "v": pa.array([value], dtype)}))
    assert _online(fg) == _expected_latest(fg)


def test_legacy_databases_named_by_catalog_id_can_be_forgotten(tmp_path: Path) -> None:
    store = lakebox.online.store.OnlineStore(tmp_path / "online", box_id="b")
    legacy = lakebox.online.store.db_name(3)
    store.write(lambda txn: store.set_watermark(txn, 3, 5), legacy)
    store.write(lambda txn: store.set_watermark(txn, "players_v1_0a0b0c0d", 2))
    assert store.legacy_names() == [legacy]
    assert store.forget_legacy() == 1
    assert store.legacy_names() == []
    assert store.watermark(3) == 0 and store.watermark("players_v1_0a0b0c0d") == 2
    store.close()


def test_a_damaged_online_value_is_a_storage_error() -> None:
    table = pa.table({"v": pa.array([1.0])})
    codec = ValueCodec(table.schema, ["v"], None)
    [encoded] = codec.encode_table(table)
    with pytest.raises(lakebox.StorageError, match="lakebox online rebuild"):
        codec.decode(encoded[:8] + b"\xc1garbage")

"""Bad input raises the right ``LakeboxError`` subclass, says why, and writes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from helpers import TS, day, group_state, players, read_rows, table_files

import lakebox


@pytest.fixture
def filled(players_fg: Any) -> Any:
    """``players`` with two commits of data, so a failed call has history to damage."""
    players_fg.insert(players([1, 2, 3]))
    players_fg.insert(players([1, 4], days=2))
    return players_fg


def _null_key() -> pa.Table:
    return players([1, 2, 3]).set_column(0, "pid", pa.array([5, None, None], pa.int64()))


def _null_event_time() -> pa.Table:
    return players([5, 6]).set_column(1, "ts", pa.array([day(1), None], TS))


def _nullable_pandas_key() -> pd.DataFrame:
    frame = players([5, 6, 7]).to_pandas()
    frame["pid"] = pd.array([5, None, 7], dtype="Int64")
    return frame


def _naive(table: pa.Table) -> pa.Table:
    return table.set_column(1, "ts", table.column("ts").cast(pa.timestamp("us")))


BAD_INPUTS: dict[str, tuple[Callable[[], Any], type[lakebox.LakeboxError], str]] = {
    "null primary key": (_null_key, lakebox.NullKeyError, r"'pid' is null in 2 row\(s\) \(row positions \[1, 2\]"),
    "null primary key (pandas Int64)": (_nullable_pandas_key, lakebox.NullKeyError, r"row positions \[1\]"),
    "null event time": (_null_event_time, lakebox.NullKeyError, r"'ts' is null in 1 row\(s\) \(row positions \[1\]"),
    "missing key column": (lambda: players([5]).drop_columns(["pid"]), lakebox.SchemaMismatchError, "pid"),
    "missing event time column": (lambda: players([5]).drop_columns(["ts"]), lakebox.SchemaMismatchError, "ts"),
    "extra column": (
        lambda: players([5]).append_column("height", pa.array([1.8])),
        lakebox.SchemaMismatchError,
        r"unknown \['height'\]",
    ),
    "missing feature column": (lambda: players([5]).drop_columns(["name"]), lakebox.SchemaMismatchError, r"missing \['name'\]"),
    "string into double": (
        lambda: players([5]).set_column(2, "age", pa.array(["old"])),
        lakebox.SchemaMismatchError,
        "'age' has type string but the feature group stores double",
    ),
    "double into bigint key": (
        lambda: players([5]).set_column(0, "pid", pa.array([5.0])),
        lakebox.SchemaMismatchError,
        "'pid'",
    ),
    "int into string": (
        lambda: players([5]).set_column(3, "name", pa.array([7])),
        lakebox.SchemaMismatchError,
        "'name'",
    ),
    "event time as string": (
        lambda: players([5]).set_column(1, "ts", pa.array(["2024-01-01T00:00:00Z"])),
        lakebox.SchemaMismatchError,
        "'ts'",
    ),
    "naive event time": (lambda: _naive(players([5])), lakebox.TimezoneError, "'ts' holds naive timestamps"),
    "naive pandas event time": (
        lambda: _naive(players([5])).to_pandas(),
        lakebox.TimezoneError,
        "tz_localize",
    ),
    "naive polars event time": (
        lambda: pl.from_arrow(_naive(players([5]))),
        lakebox.TimezoneError,
        "replace_time_zone",
    ),
    "duplicate key and event time": (
        lambda: players([5, 6, 5], ages=[1.0, 2.0, 3.0]),
        lakebox.DuplicateKeyError,
        "occur more than once",
    ),
    "empty pandas frame": (lambda: players([5]).slice(0, 0).to_pandas(), lakebox.ValidationError, "no rows"),
    "empty arrow table": (lambda: players([5]).slice(0, 0), lakebox.ValidationError, "no rows"),
    "a list": (lambda: [{"pid": 5}], lakebox.ValidationError, "pandas, polars or pyarrow"),
    "a dict": (lambda: {"pid": [5]}, lakebox.ValidationError, "pandas, polars or pyarrow"),
    "a polars LazyFrame": (lambda: pl.from_arrow(players([5])).lazy(), lakebox.ValidationError, "collect"),
    "duplicate column names": (
        lambda: pd.DataFrame([[5, 1, 2]], columns=["pid", "age", "age"]),
        lakebox.SchemaMismatchError,
        "duplicate column",
    ),
    "mixed object column": (
        lambda: players([5, 6]).to_pandas().assign(name=[1, "x"]),
        lakebox.SchemaMismatchError,
        "one type",
    ),
    "integer out of range": (
        lambda: players([5]).set_column(0, "pid", pa.array([2**64 - 1], pa.uint64())),
        lakebox.SchemaMismatchError,
        "pid",
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_insert_raises_and_writes_nothing(filled: Any, project: lakebox.Project, case: str) -> None:
    make, error, message = BAD_INPUTS[case]
    before = group_state(filled, project.path)
    with pytest.raises(error, match=message) as info:
        filled.insert(make())
    assert isinstance(info.value, lakebox.LakeboxError)
    assert info.value.http_status == 422 or not isinstance(info.value, lakebox.ValidationError)
    shape = json.loads(json.dumps(info.value.to_dict()))  # the one JSON error shape, always serialisable
    assert shape["error"] == info.value.code and shape["message"] == str(info.value)
    assert group_state(filled, project.path) == before


@pytest.mark.parametrize(
    "case",
    ["null primary key", "null event time", "missing key column", "naive event time", "duplicate key and event time", "empty arrow table"],
)
def test_bad_first_insert_creates_no_table(players_fg: Any, project: lakebox.Project, case: str) -> None:
    make, error, _ = BAD_INPUTS[case]
    with pytest.raises(error):
        players_fg.insert(make())
    assert players_fg.features == []
    assert players_fg.commit_details() == {}
    assert table_files(project.path) == set()
    players_fg.insert(players([1]))  # and the group is still usable
    assert players_fg.commit_details().keys() == {1}


def test_null_key_error_names_the_rows(filled: Any) -> None:
    with pytest.raises(lakebox.NullKeyError) as info:
        filled.insert(_null_key())
    assert info.value.details["column"] == "pid"
    assert info.value.details["rows"] == [1, 2]
    assert info.value.to_dict()["error"] == "null_key"


def test_schema_mismatch_names_the_column(filled: Any) -> None:
    with pytest.raises(lakebox.SchemaMismatchError) as info:
        filled.insert(players([5]).set_column(2, "age", pa.array(["old"])))
    assert info.value.details == {"column": "age", "expected": "double", "got": "string"}


def test_plain_pandas_none_in_key_is_a_null_key_error(filled: Any) -> None:
    frame = players([5, 6, 7]).to_pandas()
    frame["pid"] = [5, None, None]  # what pandas users write: float64 with NaN
    with pytest.raises(lakebox.NullKeyError, match=r"row positions \[1, 2\]"):
        filled.insert(frame)


def test_float_primary_key_is_refused(fs: Any, project: lakebox.Project) -> None:
    fg = fs.create_feature_group("measurements", primary_key=["x"])
    with pytest.raises(lakebox.SchemaMismatchError, match="floats do not compare exactly"):
        fg.insert(pa.table({"x": [0.1, 0.2], "v": [1, 2]}))
    assert fg.features == []
    assert table_files(project.path) == set()


def test_entirely_null_column_in_first_insert(players_fg: Any) -> None:
    batch = players([1]).set_column(3, "name", pa.array([None], pa.null()))
    with pytest.raises(lakebox.SchemaMismatchError, match="entirely null"):
        players_fg.insert(batch)
    assert players_fg.features == []


def test_unknown_group_or_version(fs: Any, players_fg: Any) -> None:
    with pytest.raises(lakebox.NotFoundError):
        fs.get_feature_group("playerz").insert(players([1]))
    with pytest.raises(lakebox.NotFoundError):
        fs.get_feature_group("players", 2)


def test_insert_into_deleted_group(filled: Any, fs: Any) -> None:
    filled.delete()
    with pytest.raises(lakebox.NotFoundError):
        filled.insert(players([9]))
    assert fs.get_feature_groups() == []


@pytest.mark.parametrize(
    "keys, error",
    [
        (pd.DataFrame({"name": ["p1"]}), lakebox.SchemaMismatchError),
        (pd.DataFrame({"pid": ["one"]}), lakebox.SchemaMismatchError),
        (pd.DataFrame({"pid": pd.array([1, None], dtype="Int64")}), lakebox.NullKeyError),
        (pd.DataFrame({"pid": [1], "ts": [pd.Timestamp("2024-01-01")]}), lakebox.TimezoneError),
        ([1, 2], lakebox.ValidationError),
    ],
    ids=["no key column", "wrong key type", "null key", "naive event time", "a list"],
)
def test_bad_delete_records_writes_nothing(filled: Any, project: lakebox.Project, keys: Any, error: type) -> None:
    before = group_state(filled, project.path)
    with pytest.raises(error):
        filled.delete_records(keys)
    assert group_state(filled, project.path) == before


def test_bad_read_arguments(filled: Any) -> None:
    with pytest.raises(lakebox.ValidationError, match="dataframe_type"):
        filled.read(dataframe_type="numpy")
    with pytest.raises(lakebox.ValidationError, match="ISO-8601"):
        filled.read(wallclock_time="yesterday")
    with pytest.raises(lakebox.NotFoundError, match="no commit 99"):
        filled.read(wallclock_time=99)
    with pytest.raises(lakebox.NotFoundError):
        filled.rollback(99)
    assert [r[0] for r in read_rows(filled)] == [1, 1, 2, 3, 4]


def test_failed_calls_leave_no_files_behind(filled: Any, project: lakebox.Project, box_path: Path) -> None:
    files = table_files(project.path)
    for make, error, _ in BAD_INPUTS.values():
        with pytest.raises(error):
            filled.insert(make())
    assert table_files(box_path) == files

"""Rows a merge-on-read commit replaced, read later by position (lakebox/offline/removed.py).

The statistics step reads them after the commit, from the row groups that hold them; these
tests check that reading by position gives exactly the rows at those positions whatever the
row-group layout, and that a real update's removed rows are the stored rows it replaced.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakebox.errors import StorageError
from lakebox.offline.removed import RemovedRows, _rows_of_file, concat


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 300), group=st.integers(1, 64), data=st.data())
def test_positions_read_the_rows_there_whatever_the_row_groups(tmp_path_factory, rows: int, group: int, data) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("rows") / "data.parquet"
    table = pa.table({"k": np.arange(rows, dtype=np.int64) * 3, "s": [f"v{i}" for i in range(rows)]})
    pq.write_table(table, path, row_group_size=group)
    wanted = sorted(data.draw(st.sets(st.integers(0, rows - 1), max_size=rows)))
    got = _rows_of_file(str(path), np.array(wanted, np.int64), table.schema)
    assert got.equals(table.take(pa.array(wanted, pa.int64())))


def test_a_position_past_the_end_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"k": [1, 2, 3]}), path, row_group_size=2)
    with pytest.raises(StorageError, match="past the end"):
        _rows_of_file(str(path), np.array([1, 3], np.int64), pa.schema([pa.field("k", pa.int64())]))


def test_concatenated_parts_keep_their_order_and_count() -> None:
    first = RemovedRows(pa.table({"k": [1, 2]}))
    second = RemovedRows(pa.table({"k": [7]}))
    empty = RemovedRows(pa.table({"k": pa.array([], pa.int64())}))
    assert concat([empty]) is None
    joined = concat([first, empty, second])
    assert joined is not None and joined.num_rows == 3
    assert joined.table().column("k").to_pylist() == [1, 2, 7]


def test_removed_rows_need_rows_or_positions_with_their_table() -> None:
    with pytest.raises(StorageError):
        RemovedRows()
    with pytest.raises(StorageError):
        RemovedRows(positions=pa.table({"file_path": ["x"], "pos": [0]}))


def test_the_read_cost_counts_the_rows_of_the_row_groups_holding_the_positions(tmp_path: Path) -> None:
    from lakebox.offline.removed import _touched_rows

    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"k": np.arange(95)}), path, row_group_size=10)  # 9 groups of 10, one of 5
    assert _touched_rows(str(path), np.array([0, 3, 9], np.int64)) == 10
    assert _touched_rows(str(path), np.array([9, 10, 94], np.int64)) == 25
    assert _touched_rows(str(path), np.zeros(0, np.int64)) == 0
    assert RemovedRows(pa.table({"k": [1]})).read_cost() == 0  # rows at hand cost nothing to read

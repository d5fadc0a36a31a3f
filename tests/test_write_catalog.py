"""The warehouse's Iceberg catalog commit (offline/warehouse.BoxCatalog): a writer's commit is
applied to the table object it holds and swapped in with a compare-and-swap on the metadata
location; when another writer committed in between, pyiceberg's own path decides (conflict
for a stale snapshot, success for changes that do not conflict) and nothing stray is left."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from lakebox.offline.warehouse import Warehouse


def _rows(start: int, count: int) -> pa.Table:
    return pa.table({"k": pa.array(range(start, start + count), pa.int64()), "v": pa.array([1.0] * count)})


def _metadata_files(root: Path) -> set[str]:
    return {p.name for p in root.rglob("*.metadata.json")}


def test_a_commit_on_the_current_table_swaps_in_and_keeps_history(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    warehouse = Warehouse(tmp_path / "warehouse")
    table = warehouse.create("t", _rows(0, 1).schema)
    table.append(_rows(0, 3))
    table.append(_rows(3, 2))
    assert warehouse.metadata_location("t") == table.metadata_location
    fresh = warehouse.load("t")
    assert fresh.metadata == table.metadata  # what the catalog points at is what the writer holds
    assert len(fresh.metadata.snapshots) == 2 and fresh.scan().to_arrow().num_rows == 5
    assert len(fresh.metadata.metadata_log) == 2  # each commit logs the metadata it replaced


def test_a_stale_table_falls_back_to_pyiceberg_and_leaves_no_stray_file(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    warehouse = Warehouse(tmp_path / "warehouse")
    warehouse.create("t", _rows(0, 1).schema).append(_rows(0, 1))
    first, second = warehouse.load("t"), warehouse.load("t")
    first.append(_rows(1, 1))
    before = _metadata_files(tmp_path)
    # the snapshot it builds on is no longer current: pyiceberg's path refuses it, and its
    # transaction retry applies the append again on the refreshed table
    second.append(_rows(2, 1))
    assert warehouse.load("t").scan().to_arrow().num_rows == 3
    added = _metadata_files(tmp_path) - before
    assert added == {Path(str(warehouse.metadata_location("t"))).name}  # the refused attempt's file is gone

    stale = warehouse.load("t")
    first.append(_rows(3, 1))
    with stale.transaction() as tx:  # a property change does not conflict: pyiceberg applies it to the fresh table
        tx.set_properties({"lakebox.test": "yes"})
    current = warehouse.load("t")
    assert current.properties["lakebox.test"] == "yes" and current.scan().to_arrow().num_rows == 4

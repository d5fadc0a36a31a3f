"""A box is a directory: copying or moving it copies the whole system (DESIGN §1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import lakebox


def _frame(values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"k": [1, 2], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": values})


def test_copied_box_reads_and_writes_its_own_files(tmp_path: Path) -> None:
    original = lakebox.connect(tmp_path / "a")
    fg = original.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]))
    original.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")

    with pytest.warns(lakebox.BoxMovedWarning, match="box relocate"):  # once per box per process
        copy = lakebox.connect(tmp_path / "b")
    copy_fg = copy.get_feature_store().get_feature_group("m")
    copy_fg.insert(_frame([10, 20]))

    # the original is untouched by writes to the copy
    assert lakebox.connect(tmp_path / "a").get_feature_store().get_feature_group("m").read()["v"].tolist() == [1, 2]
    # the copy works after the original is gone, and can move again
    shutil.rmtree(tmp_path / "a")
    assert copy_fg.read()["v"].tolist() == [10, 20]
    assert copy_fg.read(wallclock_time=1)["v"].tolist() == [1, 2]
    copy.close()
    shutil.move(tmp_path / "b", tmp_path / "c")
    with pytest.warns(lakebox.BoxMovedWarning):
        moved = lakebox.connect(tmp_path / "c").get_feature_store()
    assert moved.get_feature_group("m").read()["v"].tolist() == [10, 20]
    assert moved.sql("SELECT sum(v) AS s FROM m_1")["s"].tolist() == [30]
    assert not any(p.is_file() for p in (tmp_path / "c").rglob("*.tmp"))  # no half-written files


def test_relocate_lets_plain_pyiceberg_read_the_moved_box(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from pyiceberg.catalog.sql import SqlCatalog

    from lakebox.cli import cli
    from lakebox.ops import relocate

    project = lakebox.connect(tmp_path / "a")
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]))
    fg.insert(_frame([10, 20]))  # rewrites the first file: two snapshots with different files
    project.close()
    shutil.move(tmp_path / "a", tmp_path / "b")  # the original directory is gone
    box = tmp_path / "b"
    assert relocate.moved(box)
    table_name = next((box / "warehouse").glob("m_v1_*")).name
    assert "relocate" in relocate.describe_table(box, table_name)["warning"]

    result = CliRunner().invoke(cli, ["box", "relocate", str(box), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert not relocate.moved(box)
    info = relocate.describe_table(box, table_name)
    assert info["metadata_location"].startswith(box.as_uri()) and "warning" not in info

    catalog = SqlCatalog(info["catalog_name"], uri=info["catalog_uri"], warehouse=info["warehouse"])
    table = catalog.load_table(info["identifier"])
    assert sorted(table.scan().to_arrow().column("v").to_pylist()) == [10, 20]
    first = min(table.metadata.snapshots, key=lambda s: s.sequence_number)
    assert sorted(table.scan(snapshot_id=first.snapshot_id).to_arrow().column("v").to_pylist()) == [1, 2]
    catalog.engine.dispose()

    # lakebox keeps working after relocation, and writes land in the moved box
    moved = lakebox.connect(box)
    group = moved.get_feature_store().get_feature_group("m")
    group.insert(pd.DataFrame({"k": [3], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": [30]}))
    assert group.read()["v"].tolist() == [10, 20, 30]
    assert group.read(wallclock_time=1)["v"].tolist() == [1, 2]
    moved.close()
    assert relocate.relocate(box).tables == []  # idempotent

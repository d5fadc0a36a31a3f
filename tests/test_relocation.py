"""A box is a directory: copying or moving it copies the whole system (DESIGN §1)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

import lakebox


def _frame(values: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"k": [1, 2], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": values})


def test_copied_box_reads_and_writes_its_own_files(tmp_path: Path) -> None:
    original = lakebox.connect(tmp_path / "a")
    fg = original.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    fg.insert(_frame([1, 2]))
    original.close()
    shutil.copytree(tmp_path / "a", tmp_path / "b")

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
    moved = lakebox.connect(tmp_path / "c").get_feature_store()
    assert moved.get_feature_group("m").read()["v"].tolist() == [10, 20]
    assert moved.sql("SELECT sum(v) AS s FROM m_1")["s"].tolist() == [30]
    assert not any((tmp_path / "c").rglob("*.tmp"))

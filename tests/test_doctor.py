"""`lakebox doctor`: names what is wrong with a box, and `--repair` fixes what it claims to."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import lakebox
from lakebox.cli import cli
from lakebox.ops import backup, doctor, repair


def _frame(keys: list[int], day: int, value: int) -> pd.DataFrame:
    return pd.DataFrame({"k": keys, "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day), "v": [value] * len(keys)})


@pytest.fixture
def box(tmp_path: Path) -> Path:
    root = tmp_path / "box"
    project = lakebox.connect(root)
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts", online_enabled=True)
    for day in range(3):
        fg.insert(_frame([1, 2, 3], day, day))
    project.close()
    return root


def _read(root: Path) -> pd.DataFrame:
    project = lakebox.connect(root)
    try:
        return project.get_feature_store().get_feature_group("m", 1).read()
    finally:
        project.close()


def _table_dir(root: Path) -> Path:
    return next((root / "warehouse").glob("m_v1_*"))


def test_a_healthy_box_has_no_findings(box: Path) -> None:
    report = doctor.check(box, sample=None)
    assert report.ok and report.findings == []
    assert report.checked["groups"] == 1 and report.checked["files"] > 3


def test_orphans_are_named_and_deleted(box: Path) -> None:
    orphan = _table_dir(box) / "data" / "00000-0-orphan.parquet"
    orphan.write_bytes(b"left by a killed writer")
    old = orphan.stat().st_mtime - 7200
    os.utime(orphan, (old, old))
    assert doctor.check(box).codes() == ["orphan_files"]
    fixed = repair.repair(box)
    assert fixed.ok and fixed.findings == [] and not orphan.exists()
    assert any("orphan" in action for action in fixed.repaired)


def test_a_lost_online_store_is_rebuilt(box: Path) -> None:
    shutil.rmtree(box / "online")
    assert doctor.check(box).codes() == ["online_behind"]
    fixed = repair.repair(box)
    assert fixed.findings == [], fixed.to_dict()
    assert doctor.check(box, sample=None).findings == []


def test_a_lost_catalog_needs_a_backup_and_comes_back_from_one(box: Path, tmp_path: Path) -> None:
    expected = _read(box)
    backup.backup(box, tmp_path / "backup")
    project = lakebox.connect(box)  # a commit after the backup: re-read from Iceberg on repair
    project.get_feature_store().get_feature_group("m", 1).insert(_frame([9], 5, 9))
    project.close()
    expected = _read(box)
    (box / "catalog.db").unlink()
    for suffix in ("-wal", "-shm"):
        (box / f"catalog.db{suffix}").unlink(missing_ok=True)

    found = doctor.check(box)
    assert "catalog_damaged" in found.codes() and not found.ok
    without = repair.repair(box)
    assert not without.ok and any("no backup" in item for item in without.not_repaired)

    fixed = repair.repair(box, backup=tmp_path / "backup")
    assert fixed.ok, fixed.to_dict()
    assert any("restored catalog.db" in action for action in fixed.repaired)
    pd.testing.assert_frame_equal(_read(box), expected)


def test_a_lost_iceberg_catalog_is_rebuilt_from_metadata_files(box: Path) -> None:
    expected = _read(box)
    (box / "warehouse" / "iceberg_catalog.db").unlink()
    assert "iceberg_catalog_damaged" in doctor.check(box).codes()
    fixed = repair.repair(box)
    assert fixed.ok, fixed.to_dict()
    pd.testing.assert_frame_equal(_read(box), expected)


def test_a_lost_current_metadata_file_falls_back_to_the_previous_one(box: Path) -> None:
    from lakebox.ops.relocate import metadata_location

    table = _table_dir(box).name
    current = metadata_location(box, table)
    assert current is not None
    Path(current.removeprefix("file://")).unlink()
    assert "metadata_missing" in doctor.check(box).codes()
    fixed = repair.repair(box)
    assert fixed.ok, fixed.to_dict()
    assert any("fell back" in action for action in fixed.repaired)
    rows = _read(box)
    assert len(rows) == 6  # the last commit is lost, and the report said so


def test_a_missing_data_file_is_copied_back_from_a_backup(box: Path, tmp_path: Path) -> None:
    expected = _read(box)
    backup.backup(box, tmp_path / "backup")
    victim = next((_table_dir(box) / "data").glob("*.parquet"))
    victim.unlink()
    found = doctor.check(box)
    assert "files_missing" in found.codes()
    assert not repair.repair(box).ok  # no backup: said, not done
    fixed = repair.repair(box, backup=tmp_path / "backup")
    assert fixed.ok, fixed.to_dict()
    pd.testing.assert_frame_equal(_read(box), expected)


def test_cli_doctor_reports_json_and_exits_1_on_errors(box: Path) -> None:
    runner = CliRunner()
    healthy = runner.invoke(cli, ["doctor", str(box), "-o", "json"])
    assert healthy.exit_code == 0, healthy.output
    assert json.loads(healthy.output)["ok"] is True
    (box / "catalog.db").unlink()
    damaged = runner.invoke(cli, ["doctor", str(box), "-o", "json"])
    assert damaged.exit_code == 1
    assert [f["code"] for f in json.loads(damaged.output)["findings"]] == ["catalog_damaged"]
    text = runner.invoke(cli, ["doctor", str(box)])
    assert "catalog" in text.output and "--from-backup" in text.output

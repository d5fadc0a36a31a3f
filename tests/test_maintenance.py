"""Retention, pins, compaction and file cleanup of a group's history."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

import lakebox


def _batch(day: int, keys: list[int], value: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": keys,
            "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day),
            "v": [value] * len(keys),
        }
    )


def _files(root: Path) -> set[str]:
    return {
        str(p)
        for p in (root / "warehouse").rglob("*")
        if p.is_file() and p.suffix != ".db" and not p.name.endswith(".metadata.json")
    }


@pytest.fixture
def group(tmp_path: Path) -> tuple[lakebox.Project, object]:
    project = lakebox.connect(tmp_path / "box")
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    for day in range(6):
        fg.insert(_batch(day, [1, 2], day))
    return project, fg


def test_expire_keeps_newest_and_pinned_commits_and_deletes_their_files(group, tmp_path: Path) -> None:
    project, fg = group
    fg.insert(_batch(0, [1], 100))  # rewrites the day-0 file: its old version becomes garbage
    pinned_rows = fg.read(wallclock_time=2)
    fg.pin_commit(2, "td_demo")
    before = _files(tmp_path / "box")
    current = fg.read()

    expired = fg.expire_commits(keep_last=2)

    assert expired == [1, 3, 4, 5]
    assert fg.pins() == {"td_demo": 2}
    pd.testing.assert_frame_equal(fg.read(), current)
    pd.testing.assert_frame_equal(fg.read(wallclock_time=2), pinned_rows)
    with pytest.raises(lakebox.NotFoundError, match="expired"):
        fg.read(wallclock_time=3)
    details = fg.commit_details()
    assert [c for c, d in details.items() if d["expired"]] == [5, 4, 3, 1]
    after = _files(tmp_path / "box")
    assert after < before  # manifest lists and rewritten data files are gone


def test_retention_policy_applies_after_each_commit(group) -> None:
    _, fg = group
    fg.set_retention(keep_last=2)
    fg.insert(_batch(10, [3], 1))
    live = [c for c, d in fg.commit_details().items() if not d["expired"]]
    assert live == [7, 6]
    assert fg.retention == {"max_age_s": None, "keep_last": 2}
    fg.set_retention(max_age=timedelta(days=30))
    fg.insert(_batch(11, [3], 2))
    # everything is younger than 30 days: nothing more expires
    assert [c for c, d in fg.commit_details().items() if not d["expired"]] == [8, 7, 6]
    fg.set_retention()
    assert fg.retention is None


def test_compact_keeps_rows_and_time_travel(group) -> None:
    _, fg = group
    current = fg.read()
    old = fg.read(wallclock_time=3)
    commit = fg.compact()
    assert commit is not None and commit.kind == "compact"
    assert commit.rows_inserted == commit.rows_updated == commit.rows_deleted == 0
    pd.testing.assert_frame_equal(fg.read(), current)
    pd.testing.assert_frame_equal(fg.read(wallclock_time=3), old)
    assert fg.compact() is None  # already one file


def test_maintain_removes_orphans_of_killed_writers_after_grace(group, tmp_path: Path) -> None:
    _, fg = group
    data_dir = next((tmp_path / "box" / "warehouse").glob("m_v1_*")) / "data"
    orphan = data_dir / "00000-0-orphan.parquet"
    orphan.write_bytes(b"left by a writer killed mid-commit")
    assert fg.maintain(orphan_grace_s=3600)["deleted_files"] == 0  # too young to judge
    assert orphan.exists()
    old = os.path.getmtime(orphan) - 7200
    os.utime(orphan, (old, old))
    report = fg.maintain(orphan_grace_s=3600, compact=False)
    assert report["deleted_files"] == 1
    assert not orphan.exists()
    assert len(fg.read()) == 12


def test_invalid_retention_arguments(group) -> None:
    _, fg = group
    with pytest.raises(lakebox.ValidationError):
        fg.set_retention(keep_last=0)
    with pytest.raises(lakebox.ValidationError):
        fg.set_retention(max_age=30)  # type: ignore[arg-type]
    with pytest.raises(lakebox.InvalidNameError):
        fg.pin_commit(1, "Bad Name")

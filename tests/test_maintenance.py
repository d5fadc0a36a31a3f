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


# -- maintenance never blocks writers for long ---------------------------------------------
# The maintainer runs the engine functions in a subprocess and pauses inside its long phase
# (a progress hook) until a writer in another process has committed: if maintenance held the
# write lock there, the writer could not commit and the maintainer would give up waiting.

_MAINTAINER = r"""
import json, sys, time
from pathlib import Path
from lakebox.box import Box
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.offline import maintenance
from lakebox.offline.table import GroupTable
from lakebox.offline.warehouse import Warehouse

root, signals = Path(sys.argv[1]), Path(sys.argv[2])
box = Box.open(root, create=False)
row = GroupStore(CatalogDB(box.catalog_db)).get("m", 1)
group = GroupTable(Warehouse(box.warehouse, box.warehouse_origin), row.table_name, row.primary_key, row.event_time, box.locks)
events = []

def pause_in(stage, marker, done):
    def hook(current):
        events.append(current)
        if current != stage or (signals / marker).exists():
            return
        (signals / marker).write_text(current)
        for _ in range(1200):  # wait for the writer's commit (a condition, bounded against hangs)
            if (signals / done).exists():
                return
            time.sleep(0.05)
        (signals / "gave_up").write_text(stage)
    return hook

commit = maintenance.compact(group, progress=pause_in("compact: writing files", "compacting", "wrote_1"))
deleted = maintenance.vacuum(group, grace_s=0.0, progress=pause_in("vacuum: reading references", "vacuuming", "wrote_2"))
(signals / "maintainer_done").write_text(json.dumps({"compact": commit.commit_id if commit else None, "deleted": len(deleted), "events": events}))
"""

_WRITER = r"""
import sys, time
from pathlib import Path
import pandas as pd
import lakebox

root, signals = Path(sys.argv[1]), Path(sys.argv[2])
fg = lakebox.connect(root).get_feature_store().get_feature_group("m", 1)
for n, marker in ((1, "compacting"), (2, "vacuuming")):
    for _ in range(1200):
        if (signals / marker).exists() or (signals / "gave_up").exists():
            break
        time.sleep(0.05)
    fg.insert(pd.DataFrame({"k": [100 + n], "ts": pd.Timestamp("2026-02-01", tz="UTC"), "v": [n]}))
    running = not (signals / "maintainer_done").exists()
    (signals / f"wrote_{n}").write_text("while maintenance ran" if running else "after maintenance")
"""


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_a_writer_commits_while_compaction_and_cleanup_run_in_another_process(group, tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    _, fg = group
    fg.insert(_batch(0, [1], 100))  # an update: leaves a garbage file for the cleanup
    fg.expire_commits(keep_last=3)
    before = fg.read()
    signals = tmp_path / "signals"
    signals.mkdir()
    box = str(tmp_path / "box")
    maintainer = subprocess.Popen([sys.executable, "-c", _MAINTAINER, box, str(signals)])
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, box, str(signals)])
    assert writer.wait() == 0
    assert maintainer.wait() == 0
    assert not (signals / "gave_up").exists(), "the writer could not commit while maintenance ran"
    assert (signals / "wrote_1").read_text() == "while maintenance ran"
    assert (signals / "wrote_2").read_text() == "while maintenance ran"
    report = json.loads((signals / "maintainer_done").read_text())
    assert report["compact"] is not None
    assert "compact: committing" in report["events"]
    after = fg.read()
    assert sorted(after["k"].tolist()) == sorted(before["k"].tolist() + [101, 102])
    kinds = [d for d in fg.commit_details().values()]
    assert len(kinds) >= 3


def test_compaction_plans_again_when_a_writer_replaced_its_files(group) -> None:
    from lakebox.offline import maintenance

    project, fg = group
    table = fg._table  # the engine object of this group (white-box: drive the engine directly)
    stages: list[str] = []

    def update_during_write(stage: str) -> None:
        stages.append(stage)
        if stage == "compact: writing files" and stages.count(stage) == 1:
            fg.insert(_batch(2, [1], 999))  # rewrites the day-2 file the compaction read

    commit = maintenance.compact(table, progress=update_during_write)
    assert commit is not None and commit.kind == "compact"
    assert stages.count("compact: writing files") == 2  # the first plan was stale
    rows = fg.read()
    assert rows.loc[(rows["k"] == 1) & (rows["ts"] == pd.Timestamp("2026-01-03", tz="UTC")), "v"].tolist() == [999]
    assert len(rows) == 12


def test_lock_timeout_is_a_conflict_naming_the_holder(group, tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    from lakebox.offline.lock import WriteLock

    _, fg = group
    lock_file = fg._table.lock.lock_file
    ready = tmp_path / "holding"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from lakebox.offline.lock import WriteLock\n"
            "with WriteLock(sys.argv[1])('compact: writing files'):\n"
            "    pathlib.Path(sys.argv[2]).write_text('x')\n"
            "    sys.stdin.read()\n",
            lock_file,
            str(ready),
        ],
        stdin=subprocess.PIPE,
    )
    try:
        while not ready.exists():
            assert holder.poll() is None
            time.sleep(0.01)  # polling interval, not a timed assertion
        with pytest.raises(lakebox.ConflictError, match=rf"pid {holder.pid} \(compact: writing files, held for"):
            WriteLock(lock_file, timeout=0.1).acquire("insert")
    finally:
        holder.communicate(b"")
    with WriteLock(lock_file, timeout=5)("insert") as lock:  # free again; records us while held
        assert lock.holder()["activity"] == "insert"  # type: ignore[index]
    assert lock.holder() is None

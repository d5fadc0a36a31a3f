"""`lakebox backup`: a consistent copy of a live box, taken while another process writes."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import lakebox
from lakebox.cli import cli
from lakebox.ops import backup, doctor

_WRITER = r"""
import sys
from pathlib import Path
import pandas as pd
import lakebox

root, signals = Path(sys.argv[1]), Path(sys.argv[2])
fg = lakebox.connect(root).get_feature_store().get_feature_group("m", 1)
n = 0
while not (signals / "stop").exists() and n < 500:
    n += 1
    fg.insert(pd.DataFrame({"k": [n], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": [n * 10]}))
    (signals / "commits").write_text(str(n))
"""


def _group(root: Path) -> tuple[lakebox.Project, object]:
    with warnings.catch_warnings():  # a backup is a copy elsewhere: lakebox says so, once
        warnings.simplefilter("ignore", lakebox.BoxMovedWarning)
        project = lakebox.connect(root)
    return project, project.get_feature_store().get_feature_group("m", 1)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_backup_while_another_process_writes_is_a_consistent_prefix(tmp_path: Path) -> None:
    root = tmp_path / "box"
    project = lakebox.connect(root)
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts", online_enabled=True)
    fg.insert(pd.DataFrame({"k": [0], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": [0]}))
    project.close()
    signals = tmp_path / "signals"
    signals.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(signals)])
    try:
        while not (signals / "commits").exists() or int((signals / "commits").read_text() or 0) < 3:
            assert writer.poll() is None, "the writer died"
            time.sleep(0.02)  # polling interval, not a timed assertion
        report = backup.backup(root, tmp_path / "live-backup")
        assert (signals / "commits").read_text() != "500", "the writer stopped before the backup ended"
    finally:
        (signals / "stop").write_text("")
        assert writer.wait() == 0

    assert report.tables and report.online
    copy, copy_fg = _group(tmp_path / "live-backup")
    try:
        rows = copy_fg.read()
        keys = sorted(rows["k"].tolist())
        assert keys == list(range(len(keys))) and len(keys) >= 4  # every commit up to some point, no gaps
        assert rows.set_index("k")["v"].to_dict() == {k: k * 10 for k in keys}
        commits = copy_fg.commit_details()
        assert len(commits) == len(keys)
        vector = copy_fg.read(online=True)
        assert sorted(vector["k"].tolist()) == keys  # the online store caught up with the copied commits
    finally:
        copy.close()
    assert doctor.check(tmp_path / "live-backup").ok


def test_a_quiet_backup_reads_identical_data_and_refuses_a_used_destination(tmp_path: Path) -> None:
    root = tmp_path / "box"
    project = lakebox.connect(root)
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts")
    for day in range(3):
        fg.insert(pd.DataFrame({"k": [1, 2], "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day), "v": [day, day]}))
    expected, old = fg.read(), fg.read(wallclock_time=1)
    project.close()
    result = CliRunner().invoke(cli, ["backup", str(root), str(tmp_path / "copy"), "-o", "json"])
    assert result.exit_code == 0, result.output
    copy, copy_fg = _group(tmp_path / "copy")
    try:
        pd.testing.assert_frame_equal(copy_fg.read(), expected)
        pd.testing.assert_frame_equal(copy_fg.read(wallclock_time=1), old)
    finally:
        copy.close()
    with pytest.raises(lakebox.ValidationError, match="not empty"):
        backup.backup(root, tmp_path / "copy")
    with pytest.raises(lakebox.ValidationError, match="outside"):
        backup.backup(root, root / "inside")

"""SIGKILL during maintenance (compaction and cleanup now work outside the write lock): no row
is lost, the box stays readable, and `lakebox doctor` finds at most what `--repair` fixes.

A bounded number of kills by default; LAKEBOX_KILLS=N runs more.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import lakebox
from lakebox.ops import doctor, repair

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")]
KILLS = int(os.environ.get("LAKEBOX_KILLS", "12"))

_MAINTAINER = r"""
import sys
from pathlib import Path
from lakebox.box import Box
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.offline import maintenance
from lakebox.offline.table import GroupTable
from lakebox.offline.warehouse import Warehouse

box = Box.open(Path(sys.argv[1]), create=False)
row = GroupStore(CatalogDB(box.catalog_db)).get("m", 1)
group = GroupTable(Warehouse(box.warehouse, box.warehouse_origin), row.table_name, row.primary_key, row.event_time, box.locks)
Path(sys.argv[2]).write_text("started")
while True:
    maintenance.compact(group, target_rows=7)
    maintenance.expire(group, None, 3)
    maintenance.vacuum(group, grace_s=0.0)
"""


def _rows(n: int) -> pd.DataFrame:
    return pd.DataFrame({"k": [n], "ts": pd.Timestamp("2026-01-01", tz="UTC"), "v": [n]})


def test_sigkill_during_maintenance_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "box"
    project = lakebox.connect(root)
    fg = project.get_feature_store().create_feature_group("m", 1, primary_key=["k"], event_time="ts", online_enabled=True)
    fg.insert(_rows(1))
    written = 1
    rng = random.Random(os.environ.get("LAKEBOX_SEED", "7"))
    for kill in range(KILLS):
        started = tmp_path / f"started-{kill}"
        child = subprocess.Popen([sys.executable, "-c", _MAINTAINER, str(root), str(started)])
        while not started.exists():
            assert child.poll() is None, "the maintainer died on its own"
            time.sleep(0.01)  # polling interval
        for _ in range(rng.randint(1, 4)):  # writers commit while maintenance runs
            written += 1
            fg.insert(_rows(written))
        time.sleep(rng.uniform(0.0, 0.5))  # a random moment to kill at (not an assertion)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        assert sorted(fg.read()["k"].tolist()) == list(range(1, written + 1)), f"kill {kill}"
    project.close()
    report = doctor.check(root, sample=None)
    assert report.ok, report.to_dict()
    fixed = repair.repair(root)
    assert fixed.ok and not [f for f in fixed.findings if f.severity != "info"], fixed.to_dict()
    again = lakebox.connect(root)
    assert sorted(again.get_feature_store().get_feature_group("m", 1).read()["k"].tolist()) == list(range(1, written + 1))
    again.close()

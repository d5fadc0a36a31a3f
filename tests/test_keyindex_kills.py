"""SIGKILL a writer at random moments while it upserts and deletes (between an Iceberg commit
and its key index, while a batch's entries or a merged run are being written): the key index
every later writer uses stays exact. A wrong index shows as a (key, event time) pair stored
twice (a missed hit) or as rows it names that DuckDB does not find.

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

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import lakebox
from lakebox.box import Box
from lakebox.catalog.db import CatalogDB
from lakebox.catalog.groups import GroupStore
from lakebox.offline import deletes, reader
from lakebox.offline.table import GroupTable
from lakebox.offline.warehouse import Warehouse

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")]
KILLS = int(os.environ.get("LAKEBOX_KILLS", "6"))
KEYS = 3000
DAYS = 3

_WRITER = f"""
import sys
from pathlib import Path
import numpy as np, pandas as pd, lakebox
rng = np.random.default_rng(int(sys.argv[3]))
fg = lakebox.connect(sys.argv[1]).get_feature_store().get_feature_group("k", 1)
step = 0
while True:
    pairs = rng.choice({KEYS} * {DAYS}, size=int(rng.integers(1, 8_000)), replace=False)
    frame = pd.DataFrame({{"k": pairs // {DAYS}, "v": rng.random(len(pairs)),
                          "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(pairs % {DAYS}, "D")}})
    if step % 4 == 3:
        fg.delete_records(frame[["k", "ts"]].head(200))
    else:
        fg.insert(frame)
    step += 1
    Path(sys.argv[2]).write_text(str(step))
"""


def _frame(rng: np.random.Generator, size: int) -> pd.DataFrame:
    pairs = rng.choice(KEYS * DAYS, size=size, replace=False)
    return pd.DataFrame(
        {
            "k": pairs // DAYS,
            "ts": pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(pairs % DAYS, "D"),
            "v": rng.random(size),
        }
    )


def test_sigkilled_writers_never_leave_a_wrong_key_index(tmp_path: Path) -> None:
    root = tmp_path / "box"
    project = lakebox.connect(root)
    fg = project.get_feature_store().create_feature_group(
        "k", 1, primary_key=["k"], event_time="ts", statistics=False
    )
    rng = np.random.default_rng(int(os.environ.get("LAKEBOX_SEED", "3")))
    fg.insert(_frame(rng, 5000))
    fg.insert(_frame(rng, 100))  # the index exists on disk before the first kill
    timing = random.Random(int(os.environ.get("LAKEBOX_SEED", "3")))
    for kill in range(KILLS):
        progress = tmp_path / f"progress-{kill}"
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(progress), str(kill)])
        while not progress.exists():
            assert child.poll() is None, "the writer died on its own"
            time.sleep(0.01)  # polling interval
        time.sleep(timing.uniform(0.0, 1.5))  # a random moment to kill at (not an assertion)
        child.send_signal(signal.SIGKILL)
        assert child.wait() == -signal.SIGKILL
        fg.insert(_frame(rng, int(rng.integers(1, 3000))))  # this process catches up with the child's commits
        stored = fg.read()
        assert not stored.duplicated(["k", "ts"]).any(), f"a pair stored twice after kill {kill}"
    project.close()
    _index_matches_duckdb(root)


def _index_matches_duckdb(root: Path) -> None:
    """Every stored pair, looked up in the index a new process mirrors from disk, names the
    same rows DuckDB finds reading the key columns (deletes.locate)."""
    box = Box.open(root, create=False)
    row = GroupStore(CatalogDB(box.catalog_db)).get("k", 1)
    assert row is not None
    group = GroupTable(Warehouse(box.warehouse, box.warehouse_origin), row.table_name, ["k"], "ts", box.locks)
    table = group.load()
    snapshot = table.current_snapshot().snapshot_id
    storage = table.schema().as_arrow()
    key_schema = pa.schema([storage.field("k"), storage.field("ts")])
    every = pa.table(
        {
            "k": pa.array(np.repeat(np.arange(KEYS), DAYS)),
            "ts": pa.array(
                pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.tile(np.arange(DAYS), KEYS), "D")
            ),
        }
    ).cast(key_schema)
    with group.lock:
        found = group.key_index.lookup(table, snapshot, every)
    assert found is not None
    expected, _ = deletes.locate(table, reader.plan(table, snapshot), every)
    assert found.positions.to_pylist() == expected.cast(found.positions.schema).to_pylist()

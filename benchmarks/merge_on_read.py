"""A 1%-update batch: copy-on-write vs merge-on-read on the same grown group, in one run.

    python benchmarks/merge_on_read.py [--batches 3] [--rows 1000000]

Grows one group to ``--batches`` x ``--rows`` random-key rows (12 columns, statistics on),
copies the box, times an insert of as many new keys (what any insert costs), then inserts the same batch (1% of its rows replace stored (key, event
time) pairs, spread over the whole group) into each copy: one with copy-on-write updates,
one with merge-on-read (``lakebox.update-mode``, offline/deletes.py). Prints each update's
wall and CPU time next to pyarrow's ``write_table`` of the batch (the floor), then what the
deletes cost readers: ``fg.read()`` and a ``--rows``-row point-in-time join on both copies,
and the compaction that folds the deletes away. CPU seconds (all threads of this process)
are the figures to compare on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from scale import EPOCH, FEATURES, KEY_SPACE, YEAR_S, clocked, floor_write, make_batch, say  # noqa: E402

import lakebox  # noqa: E402
from lakebox.offline import deletes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(prefix="lakebox-mor-") as tmp:
        root = Path(tmp)
        os.environ[deletes.MODE_ENV] = deletes.COPY_ON_WRITE
        project = lakebox.connect(root / "base")
        fg = project.get_feature_store().create_feature_group("big", 1, primary_key=["entity_id"], event_time="ts")
        stored = []
        for i in range(args.batches):
            batch = make_batch(rng, args.rows)
            fg.insert(batch)
            stored.append(batch.select(["entity_id", "ts"]))
            say(f"grown: {(i + 1) * args.rows:,} rows")
        project.close()
        pairs = pa.concat_tables(stored)
        take = rng.choice(pairs.num_rows, size=args.rows // 100, replace=False)
        old = pairs.take(take)
        update = pa.concat_tables(
            [
                make_batch(
                    rng,
                    old.num_rows,
                    keys=old.column("entity_id").to_numpy(),
                    ts=old.column("ts").cast(pa.timestamp("us")).to_numpy(),
                ),
                make_batch(rng, args.rows - old.num_rows),
            ]
        )
        spine_keys = np.where(
            rng.random(args.rows) < 0.9,
            rng.choice(pairs.column("entity_id").to_numpy(), args.rows),
            rng.integers(0, KEY_SPACE, args.rows, dtype=np.int64),
        )
        spine = pa.table(
            {
                "entity_id": pa.array(spine_keys),
                "ts": pa.array(
                    (EPOCH + rng.integers(0, YEAR_S, args.rows).astype("timedelta64[s]")).astype("datetime64[us]"),
                    pa.timestamp("us", tz="UTC"),
                ),
            }
        )
        wall, cpu = floor_write(update, root / "floor.parquet")
        say(f"floor: pyarrow write_table of the {update.num_rows:,}-row batch: {wall:6.3f} s wall, {cpu:6.3f} s CPU")
        fresh = make_batch(rng, update.num_rows)  # the same size, new keys only: what any insert costs
        shutil.copytree(root / "base", root / "plain")
        project = lakebox.connect(root / "plain")
        fg = project.get_feature_store().get_feature_group("big", 1)
        i_wall, i_cpu, _ = clocked(lambda fg=fg: fg.insert(fresh))
        say(
            f"insert of {fresh.num_rows:,} new keys (no update): {i_wall:6.3f} s wall, {i_cpu:6.3f} s CPU ({i_cpu / cpu:5.2f}x floor)"
        )
        project.close()
        results = {}
        for mode in (deletes.COPY_ON_WRITE, deletes.MERGE_ON_READ):
            box = root / mode
            shutil.copytree(root / "base", box)
            os.environ[deletes.MODE_ENV] = mode
            project = lakebox.connect(box)
            fs = project.get_feature_store()
            fg = fs.get_feature_group("big", 1)
            u_wall, u_cpu, commit = clocked(lambda fg=fg: fg.insert(update))
            say(
                f"1% updates, {mode:>13}: {u_wall:6.3f} s wall ({u_wall / wall:5.2f}x floor), {u_cpu:6.3f} s CPU "
                f"({u_cpu / cpu:5.2f}x floor)  updated {commit.rows_updated:,}, inserted {commit.rows_inserted:,}"
            )
            r_wall, r_cpu, rows = clocked(lambda fg=fg: fg.read(dataframe_type="arrow"))
            say(f"  fg.read() of {rows.num_rows:,} rows: {r_wall:6.3f} s wall, {r_cpu:6.3f} s CPU")
            p_wall, p_cpu, joined = clocked(
                lambda fs=fs: fs.get_features(FEATURES, entity_df=spine, dataframe_type="arrow")
            )
            say(f"  PIT join of {args.rows:,} spine rows: {p_wall:6.3f} s wall, {p_cpu:6.3f} s CPU")
            results[mode] = (rows.sort_by([("entity_id", "ascending"), ("ts", "ascending")]), joined)
            if mode == deletes.MERGE_ON_READ:
                c_wall, c_cpu, _ = clocked(fg.compact)
                say(f"  compaction folding the deletes away: {c_wall:6.3f} s wall, {c_cpu:6.3f} s CPU")
                a_wall, a_cpu, _ = clocked(
                    lambda fs=fs: fs.get_features(FEATURES, entity_df=spine, dataframe_type="arrow")
                )
                say(f"  PIT join after compaction: {a_wall:6.3f} s wall, {a_cpu:6.3f} s CPU")
            project.close()
        cow, mor = results[deletes.COPY_ON_WRITE], results[deletes.MERGE_ON_READ]
        say(f"same rows in both modes: read {cow[0].equals(mor[0])}, PIT join {cow[1].equals(mor[1])}")


if __name__ == "__main__":
    main()

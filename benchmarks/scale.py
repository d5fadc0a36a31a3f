"""Writes and reads as a group grows: lakebox vs pyarrow / hand-written DuckDB, in one run.

    python benchmarks/scale.py [--batches 10] [--rows 1000000] [--big] [--commits 30]
    python benchmarks/scale.py --history 1000            # commit cost vs history only

With default settings (statistics on) it inserts ``--batches`` batches of ``--rows`` rows x
12 columns with random keys and random event times into one group and prints, for each
insert, its time next to the time pyarrow's ``write_table`` takes for the same batch (the
floor) and the ratio (target: within 2x, so the 10th insert costs what the 1st does), in wall
time and in CPU time of the whole process (all threads: the CPU ratio is what survives a
loaded machine; a big insert's statistics finish in the background, beside the next insert). Then,
into the grown group: a batch with 1% updated (key, event time) pairs (target within 3x of
its floor); ``--commits`` 1,000-row commits (p50, target under 50 ms), then as many of which
100 rows replace stored pairs (change data: no target, it shows what a small update costs);
a point-in-time join of a ``--rows``-row spine against the group vs the best hand-written
DuckDB query over the same files (target within 1.2x); the first insert a new process makes
into the grown group (no target: it maps the group's key index from the box, reading no key column). Peak memory is printed at the end.
``--big`` grows the group to 50M rows (50 batches; not for CI).

``--history N`` makes N small (100-row) commits into a fresh group, with no retention, and
prints the p50 of the first and the last 100 and their ratio (target: within 1.5x).
Numbers are noisy on a shared machine: read the ratios, run on an idle one for figures.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import lakebox

KEY_SPACE = 1 << 40
YEAR_S = 365 * 24 * 3600
EPOCH = np.datetime64("2026-01-01T00:00:00", "us")
FEATURES = [*(f"f{i}" for i in range(6)), "n0", "n1", "s0", "s1"]


def say(text: str) -> None:
    print(text, flush=True)


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_batch(rng: np.random.Generator, rows: int, keys: np.ndarray | None = None, ts: np.ndarray | None = None) -> pa.Table:
    """rows x 12 columns: random key, random event time within a year, 6 floats, 2 ints, 2 strings."""
    if keys is None:
        keys = rng.integers(0, KEY_SPACE, rows, dtype=np.int64)
    if ts is None:
        ts = EPOCH + rng.integers(0, YEAR_S, rows).astype("timedelta64[s]")
    columns: dict[str, pa.Array] = {
        "entity_id": pa.array(keys),
        "ts": pa.array(ts.astype("datetime64[us]"), pa.timestamp("us", tz="UTC")),
    }
    for i in range(6):
        columns[f"f{i}"] = pa.array(rng.standard_normal(rows))
    for i in range(2):
        columns[f"n{i}"] = pa.array(rng.integers(0, 1000, rows))
    for i in range(2):
        columns[f"s{i}"] = pa.array(np.char.add("cat_", rng.integers(0, 50, rows).astype(str)))
    table = pa.table(columns)
    # random keys may repeat within a batch (rarely): keep one row per (key, event time)
    pairs = table.select(["entity_id", "ts"]).append_column("i", pa.array(np.arange(rows)))
    first = pairs.group_by(["entity_id", "ts"], use_threads=False).aggregate([("i", "min")]).column("i_min")
    return table.take(first) if len(first) < rows else table


def timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def clocked(fn):  # type: ignore[no-untyped-def]
    """(wall seconds, CPU seconds of this process in all its threads, result): on a loaded
    machine the CPU figures are the ones to compare."""
    cpu = time.process_time()
    seconds, result = timed(fn)
    return seconds, time.process_time() - cpu, result


def floor_write(table: pa.Table, path: Path) -> tuple[float, float]:
    seconds, cpu, _ = clocked(lambda: pq.write_table(table, path, compression="zstd"))
    path.unlink()
    return seconds, cpu


def group_source(fg, con: duckdb.DuckDBPyConnection) -> str:  # type: ignore[no-untyped-def]
    """The group's current rows for the hand-written floor: its Parquet files (what the planner
    pins), minus the rows merge-on-read updates deleted (registered as ``deleted``)."""
    pin = fg._planner_pin(None)
    paths = [str(f) for f in pin.files]
    if pin.deletes is None or not pin.deletes.num_rows:
        return f"read_parquet({paths!r})"
    con.register("deleted", pin.deletes)  # (__lakebox_file, pos)
    return (
        f"(SELECT d.* EXCLUDE (__lakebox_file, file_row_number) FROM read_parquet({paths!r}, "
        "filename = '__lakebox_file', file_row_number = true) d ANTI JOIN deleted x "
        "ON d.__lakebox_file = x.__lakebox_file AND d.file_row_number = x.pos)"
    )


def floor_sql(source: str) -> str:
    """The best exact hand-written PIT join we know for this shape (as benchmarks/pit_join.py)."""
    cols = ", ".join(f"g.{name}" for name in FEATURES)
    return (
        "WITH spine_n AS (SELECT *, row_number() OVER () AS rid FROM spine), "
        f"m AS (SELECT s.rid, {cols}, row_number() OVER (PARTITION BY s.rid ORDER BY g.ts DESC) AS rn "
        f"FROM spine_n s JOIN {source} g ON s.entity_id = g.entity_id AND g.ts <= s.ts) "
        f"SELECT s.entity_id, s.ts, {', '.join('m.' + n for n in FEATURES)} FROM spine_n s "
        "LEFT JOIN m ON s.rid = m.rid AND m.rn = 1 ORDER BY s.rid"
    )


def grow(args: argparse.Namespace, root: Path) -> None:
    rng = np.random.default_rng(7)
    project = lakebox.connect(root / "box")
    fs = project.get_feature_store()
    fg = fs.create_feature_group("big", 1, primary_key=["entity_id"], event_time="ts")
    stored: list[pa.Table] = []  # a sample of stored (key, event time) pairs per batch
    ratios, cpu_ratios = [], []
    say(f"inserting {args.batches} batches of {args.rows:,} rows x 12 columns (random keys, statistics on)")
    for i in range(args.batches):
        batch = make_batch(rng, args.rows)
        t_floor, c_floor = floor_write(batch, root / "floor.parquet")
        t_insert, c_insert, commit = clocked(lambda batch=batch: fg.insert(batch))
        stored.append(batch.select(["entity_id", "ts"]).slice(0, max(1, args.rows // 100)))
        ratios.append(t_insert / t_floor)
        cpu_ratios.append(c_insert / c_floor)
        say(f"  insert {i + 1:3d}: group {(i + 1) * args.rows:>11,} rows  lakebox {t_insert:7.3f} s  "
            f"pyarrow {t_floor:6.3f} s  ratio {t_insert / t_floor:5.2f}x  cpu {c_insert:6.3f}/{c_floor:6.3f} s "
            f"= {c_insert / c_floor:5.2f}x  "
            f"(inserted {commit.rows_inserted:,}, updated {commit.rows_updated:,})  peak {peak_mib():6.0f} MiB")
    say(f"insert ratio: first {ratios[0]:.2f}x, last {ratios[-1]:.2f}x, max {max(ratios):.2f}x (target <= 2x); "
        f"cpu ratio: first {cpu_ratios[0]:.2f}x, last {cpu_ratios[-1]:.2f}x, max {max(cpu_ratios):.2f}x")
    t_drain, c_drain, _ = clocked(project.engines.writer.wait_statistics)  # big inserts store them in the background
    say(f"statistics of the last insert stored {t_drain:.3f} s after it returned (cpu {c_drain:.3f} s; "
        "each insert's figures include the previous insert's statistics running beside it)")

    # 1% of the batch replaces stored (key, event time) pairs, spread over the whole group
    pairs = pa.concat_tables(stored)
    take = rng.choice(pairs.num_rows, size=min(pairs.num_rows, args.rows // 100), replace=False)
    old = pairs.take(take)
    fresh = make_batch(rng, args.rows - old.num_rows)
    update = pa.concat_tables([
        make_batch(rng, old.num_rows, keys=old.column("entity_id").to_numpy(),
                   ts=old.column("ts").cast(pa.timestamp("us")).to_numpy()),
        fresh,
    ])
    t_floor, c_floor = floor_write(update, root / "floor.parquet")
    t_update, c_update, commit = clocked(lambda: fg.insert(update))
    say(f"1% updates: lakebox {t_update:7.3f} s  pyarrow {t_floor:6.3f} s  ratio {t_update / t_floor:5.2f}x "
        f"cpu {c_update / c_floor:5.2f}x "
        f"(target <= 3x; updated {commit.rows_updated:,}, inserted {commit.rows_inserted:,})")

    latencies, cpus = [], []
    for _ in range(args.commits):
        small = make_batch(rng, 1000)
        seconds, cpu, _ = clocked(lambda small=small: fg.insert(small))
        latencies.append(seconds)
        cpus.append(cpu)
    say(f"1,000-row commits (random keys and times) into the grown group: p50 {statistics.median(latencies) * 1000:6.1f} ms, "
        f"max {max(latencies) * 1000:6.1f} ms over {len(latencies)} (target p50 < 50 ms); "
        f"cpu p50 {statistics.median(cpus) * 1000:6.1f} ms")

    latencies = []  # the time-series case: event times newer than any stored replace nothing
    for i in range(args.commits):
        later = EPOCH + np.timedelta64(YEAR_S + 60 * i, "s") + np.zeros(1000, "timedelta64[s]")
        small = make_batch(rng, 1000, ts=later)
        seconds, _ = timed(lambda small=small: fg.insert(small))
        latencies.append(seconds)
    say(f"1,000-row commits of new event times: p50 {statistics.median(latencies) * 1000:6.1f} ms")

    latencies = []  # change data: 100 of the 1,000 rows replace stored pairs spread over the group
    for _ in range(args.commits):
        old = pairs.take(rng.choice(pairs.num_rows, size=100, replace=False))
        small = pa.concat_tables([
            make_batch(rng, 100, keys=old.column("entity_id").to_numpy(),
                       ts=old.column("ts").cast(pa.timestamp("us")).to_numpy()),
            make_batch(rng, 900),
        ])
        seconds, _ = timed(lambda small=small: fg.insert(small))
        latencies.append(seconds)
    say(f"1,000-row commits with 100 updated pairs: p50 {statistics.median(latencies) * 1000:6.1f} ms "
        "(the key index gives their rows: no key column is read)")

    # point-in-time join: a spine of --rows rows, 90% of them keys that exist
    spine_rows = args.rows
    known = pairs.column("entity_id").to_numpy()
    keys = np.where(rng.random(spine_rows) < 0.9, rng.choice(known, spine_rows),
                    rng.integers(0, KEY_SPACE, spine_rows, dtype=np.int64))
    spine = pa.table({
        "entity_id": pa.array(keys),
        "ts": pa.array((EPOCH + rng.integers(0, YEAR_S, spine_rows).astype("timedelta64[s]")).astype("datetime64[us]"),
                       pa.timestamp("us", tz="UTC")),
    })
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("spine", spine)
    sql = floor_sql(group_source(fg, con))
    t_floor, c_floor, floor = clocked(lambda: con.sql(sql).to_arrow_table())
    t_pit, c_pit, result = clocked(lambda: fs.get_features(FEATURES, entity_df=spine, dataframe_type="arrow"))
    same = floor.select(FEATURES).to_pandas().equals(result.select(FEATURES).to_pandas())
    say(f"PIT join {spine_rows:,} spine rows x {fg.read(dataframe_type='arrow').num_rows:,} rows: "
        f"lakebox {t_pit:7.3f} s  hand-written DuckDB {t_floor:6.3f} s  ratio {t_pit / t_floor:5.2f}x "
        f"cpu {c_pit:6.3f}/{c_floor:6.3f} s = {c_pit / c_floor:5.2f}x "
        f"(target <= 1.2x; same rows: {same})")
    fresh_process_insert(root / "box", args.rows)
    project.close()


def fresh_process_insert(box: Path, rows: int) -> None:
    """The first upsert a new process makes into the grown group: the key index is on disk
    (``<box>/.keyindex``), so it maps the index instead of reading the group's key columns."""
    code = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import numpy as np, pyarrow.parquet as pq, lakebox, tempfile, os\n"
        "from scale import make_batch\n"
        f"batch = make_batch(np.random.default_rng(5), {rows})\n"
        "floor = os.path.join(tempfile.mkdtemp(), 'floor.parquet')\n"
        "t = time.perf_counter(); pq.write_table(batch, floor, compression='zstd'); f = time.perf_counter() - t\n"
        f"fg = lakebox.connect({str(box)!r}).get_feature_store().get_feature_group('big', 1)\n"
        "t = time.perf_counter(); fg.insert(batch); s = time.perf_counter() - t\n"
        "print(f'{s:.3f} {f:.3f}')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, floor = (float(x) for x in done.stdout.split()[-2:])
    say(f"first insert of {rows:,} new keys by a new process: lakebox {seconds:7.3f} s  pyarrow {floor:6.3f} s  "
        f"ratio {seconds / floor:5.2f}x (no target: an insert plus opening the group and its key index)")


def history(commits: int, root: Path) -> None:
    rng = np.random.default_rng(11)
    project = lakebox.connect(root / "history")
    fs = project.get_feature_store()
    fg = fs.create_feature_group("hist", 1, primary_key=["entity_id"], event_time="ts")
    say(f"{commits} commits of 100 rows (random keys and event times, statistics on, no retention)")
    latencies = []
    for i in range(commits):
        batch = make_batch(rng, 100)
        seconds, _ = timed(lambda batch=batch: fg.insert(batch))
        latencies.append(seconds)
        if (i + 1) % 100 == 0:
            say(f"  commits {i - 98:4d}-{i + 1:4d}: p50 {statistics.median(latencies[-100:]) * 1000:6.1f} ms")
    window = min(100, max(1, commits // 2))
    first, last = statistics.median(latencies[:window]), statistics.median(latencies[-window:])
    say(f"commit p50: first {window} {first * 1000:6.1f} ms, last {window} {last * 1000:6.1f} ms, "
        f"ratio {last / first:5.2f}x (target <= 1.5x)")
    project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows per batch (and spine rows)")
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--big", action="store_true", help="grow the group to 50M rows (50 batches of 1M)")
    parser.add_argument("--commits", type=int, default=30, help="1,000-row commits into the grown group")
    parser.add_argument("--history", type=int, default=0, help="only: N small commits, cost vs history")
    args = parser.parse_args()
    if args.big:
        args.rows, args.batches = 1_000_000, 50
    with tempfile.TemporaryDirectory() as tmp:
        if args.history:
            history(args.history, Path(tmp))
        else:
            grow(args, Path(tmp))
    say(f"peak RSS: {peak_mib():.0f} MiB")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Remote reads over `lakebox serve`: time and peak memory of server and client, against a local read.

    python benchmarks/remote_read.py [--rows 1000000] [--columns 8] [--memory-limit 256MB]

One group of ROWS rows (an int64 key, COLUMNS float64 columns and a short string) is written
into a fresh box by a setup process. Each measurement then runs in its own process, so each
peak RSS (the kernel's high-water mark: ru_maxrss, /proc/PID/status VmHWM) is that step's own:

- floor: pyarrow reads the group's Parquet files (no lakebox);
- local: ``fg.read(dataframe_type="arrow")`` in-process: the whole frame is built, so its peak
  is what a server that builds the frame before sending it needs at least;
- remote whole: the client's ``fg.read`` over HTTP from a `lakebox serve` process (the client
  holds the frame, the server streams DuckDB's record batches);
- remote batches: the client's ``fg.read_batches`` consuming one batch at a time (both sides
  bounded);
- get_features, local and remote: every feature for a spine of every key (shuffled), so the
  frame has ROWS rows; remotely the spine goes up as Arrow IPC and the frame streams back
  (run after the reads: the server's high-water mark then covers both).

The server's peak is read from /proc after each remote step (it only served reads). With
``--memory-limit`` the box's ``duckdb_memory_limit`` is set (DuckDB spills the ORDER BY of
``fg.read`` to the box's .tmp beyond it), which is what bounds the server.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SETUP = """
import sys, numpy as np, pyarrow as pa, lakebox
box, rows, columns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
data = {"id": pa.array(np.arange(rows), pa.int64())}
for c in range(columns):
    data[f"x{c}"] = pa.array(rng.random(rows))
data["s"] = pa.array(np.arange(rows) % 1000).cast(pa.string())
with lakebox.connect(box) as project:
    group = project.get_feature_store().create_feature_group("wide", version=1, primary_key=["id"], statistics=False)
    group.insert(pa.table(data))
"""

STEP = """
import json, resource, sys, time
kind, box, url = sys.argv[1], sys.argv[2], sys.argv[3]
import lakebox
start = time.perf_counter()
if kind == "floor":
    import pyarrow.parquet as pq
    with lakebox.connect(box) as project:
        group = project.get_feature_store().get_feature_group("wide", 1)
        files = group._planner_pin().files
    start = time.perf_counter()
    rows = pq.read_table(list(files)).num_rows
elif kind.endswith("features"):  # get_features over a spine of every key, shuffled
    import numpy as np, pandas as pd
    with lakebox.connect(box if kind.startswith("local") else url) as project:
        fs = project.get_feature_store()
        group = fs.get_feature_group("wide", 1)
        rows = int(sys.argv[4])
        spine = pd.DataFrame({"id": np.random.default_rng(2).permutation(rows)})
        names = [n for n in (f["name"] if isinstance(f, dict) else f.name for f in group.features) if n != "id"]
        start = time.perf_counter()
        rows = fs.get_features(names, entity_df=spine, dataframe_type="arrow").num_rows
else:  # the timer starts once the project and the group are open
    with lakebox.connect(box if kind == "local" else url) as project:
        group = project.get_feature_store().get_feature_group("wide", 1)
        start = time.perf_counter()
        if kind == "warm":
            rows = group.read(limit=1, dataframe_type="arrow").num_rows
        elif kind == "batches":
            rows = sum(batch.num_rows for batch in group.read_batches())
        else:
            rows = group.read(dataframe_type="arrow").num_rows
seconds = time.perf_counter() - start
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]), no_auth=True)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def step(kind: str, box: Path, url: str = "", rows: int = 0) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", STEP, kind, str(box), url, str(rows)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"step {kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def hwm_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024


def serve(box: Path, code: str | None = None) -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    port = free_port()
    env = {**os.environ, **({"PYTHONPATH": code} if code else {})}
    proc = subprocess.Popen([sys.executable, "-c", SERVE, str(box), str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--columns", type=int, default=8)
    parser.add_argument("--memory-limit", default=None, help="the box's duckdb_memory_limit, e.g. 256MB")
    parser.add_argument(
        "--server-code",
        default=None,
        metavar="DIR",
        help="run the server from another checkout (PYTHONPATH=DIR), e.g. one from before streaming",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "remote.lakebox"
        subprocess.run([sys.executable, "-c", SETUP, str(box), str(args.rows), str(args.columns)], check=True)
        if args.memory_limit:
            with (box / "lakebox.toml").open("a") as f:
                f.write(f'duckdb_memory_limit = "{args.memory_limit}"\n')
        frame_mib = (
            args.rows * (8 + 8 * args.columns) + args.rows * 7
        ) / 2**20  # key, floats, ~3-char strings + offsets
        print(f"{args.rows:,} rows x {args.columns + 2} columns (~{frame_mib:.0f} MiB in Arrow); "
              f"duckdb_memory_limit {args.memory_limit or 'default (50% of RAM)'}; {os.cpu_count()} CPUs")  # fmt: skip
        results = {"floor (pyarrow reads the Parquet files)": step("floor", box),
                   "local fg.read": step("local", box),
                   "local fs.get_features (1 row per key)": step("local_features", box, rows=args.rows)}  # fmt: skip
        proc, url = serve(box, args.server_code)
        try:
            step("warm", box, url)  # one row: the server's imports and caches, before the high-water marks count
            idle = hwm_mib(proc.pid)
            results["remote fg.read (client holds the frame)"] = step("remote", box, url)
            server_whole = hwm_mib(proc.pid)
            results["remote fg.read_batches (one batch at a time)"] = step("batches", box, url)
            server_batches = hwm_mib(proc.pid)
            results["remote fs.get_features (1 row per key)"] = step("remote_features", box, url, rows=args.rows)
            server_features = hwm_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        floor = results["floor (pyarrow reads the Parquet files)"]["seconds"]
        print(f"{'step':48} {'rows':>10} {'seconds':>8} {'x floor':>8} {'client peak RSS':>16}")
        for name, r in results.items():
            print(f"{name:48} {int(r['rows']):>10,} {r['seconds']:>8.2f} {r['seconds'] / floor:>8.1f} "
                  f"{r['peak_mib']:>12.0f} MiB")  # fmt: skip
        print(f"server ({args.server_code or 'this checkout'}) peak RSS: {idle:.0f} MiB after a 1-row read, {server_whole:.0f} MiB after the whole-frame read, "
              f"{server_batches:.0f} MiB after the batch read, {server_features:.0f} MiB after get_features "
              "(high-water marks)")  # fmt: skip


if __name__ == "__main__":
    main()

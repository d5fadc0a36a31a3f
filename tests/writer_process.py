"""A child process for the crash and concurrency tests (run as a script, not collected).

    python writer_process.py loop BOX GROUP ROWS
        insert forever; the batch of commit c holds keys [(c-1)*ROWS, c*ROWS) so the parent
        can check every commit whole. Prints "commit <id>" after each commit.
    python writer_process.py disjoint BOX GROUP WORKER BATCHES ROWS GO_FILE
        print "ready", wait for GO_FILE, then insert BATCHES batches of keys owned by WORKER
        (WORKER*1_000_000 + i). Prints "commit <id>" after each commit.
    python writer_process.py get_or_create BOX GROUP GO_FILE
        print "ready", wait for GO_FILE, then get_or_create_feature_group the same group.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

import lakebox

TS = pa.timestamp("us", tz="UTC")
EVENT = datetime(2024, 1, 1, tzinfo=UTC)


def batch(keys: list[int]) -> pa.Table:
    return pa.table(
        {
            "k": pa.array(keys, pa.int64()),
            "ts": pa.array([EVENT] * len(keys), TS),
            "v": pa.array([float(k) * 0.5 for k in keys], pa.float64()),
            "s": pa.array([f"row-{k}" for k in keys], pa.string()),
        }
    )


def say(text: str) -> None:
    print(text, flush=True)


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the go file")
        time.sleep(0.005)


def main(argv: list[str]) -> None:
    mode, box, group = argv[0], argv[1], argv[2]
    project = lakebox.connect(box)
    fs = project.get_feature_store()
    if mode == "loop":
        rows = int(argv[3])
        fg = fs.get_feature_group(group, 1)
        next_commit = max((c.commit_id for c in fg.commits()), default=0) + 1
        while True:
            commit = fg.insert(batch(list(range((next_commit - 1) * rows, next_commit * rows))))
            assert commit.commit_id == next_commit, (commit, next_commit)
            say(f"commit {commit.commit_id}")
            next_commit += 1
    elif mode == "disjoint":
        worker, batches, rows, go = int(argv[3]), int(argv[4]), int(argv[5]), Path(argv[6])
        fg = fs.get_feature_group(group, 1)
        say("ready")
        wait_for(go)
        for i in range(batches):
            base = worker * 1_000_000 + i * rows
            commit = fg.insert(batch(list(range(base, base + rows))))
            say(f"commit {commit.commit_id}")
    elif mode == "get_or_create":
        go = Path(argv[3])
        say("ready")
        wait_for(go)
        fg = fs.get_or_create_feature_group(group, 1, primary_key=["k"], event_time="ts")
        say(f"group {fg.id}")
    else:
        raise SystemExit(f"unknown mode {mode}")
    project.close()


if __name__ == "__main__":
    main(sys.argv[1:])

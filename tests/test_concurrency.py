"""Concurrency with real processes: writers to one group serialise, and every commit lands."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lakebox
from lakebox import Feature

WRITER = Path(__file__).with_name("writer_process.py")
WORKERS = 4
BATCHES = 4
ROWS = 25


def _start(args: list[list[str]]) -> list[subprocess.Popen[str]]:
    children = [
        subprocess.Popen(
            [sys.executable, str(WRITER), *a],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        for a in args
    ]
    for child in children:  # every child has imported and connected before any starts writing
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != "ready":
            errors = _reap(children)
            pytest.fail(f"a child failed to start: {line!r} {errors}")
    return children


def _reap(children: list[subprocess.Popen[str]]) -> list[str]:
    """Kill what still runs and collect every child (no zombie, no open pipe left behind)."""
    errors = []
    for child in children:
        if child.poll() is None:
            child.kill()
        errors.append(child.communicate()[1])
    return errors


def _finish(children: list[subprocess.Popen[str]]) -> list[str]:
    """Wait for every child; fail with the stderr of those that did not exit cleanly."""
    results = []
    try:
        for child in children:
            results.append(child.communicate(timeout=120))
    finally:
        _reap(children)
    failures = [err for child, (_, err) in zip(children, results, strict=True) if child.returncode != 0]
    assert not failures, "\n".join(failures)
    return [out for out, _ in results]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("declared", [True, False], ids=["declared-schema", "schema-from-first-insert"])
def test_parallel_writers_all_land(tmp_path: Path, declared: bool) -> None:
    box = tmp_path / "busy.lakebox"
    features = [Feature("k", "bigint"), Feature("ts", "timestamp"), Feature("v", "double"), Feature("s", "string")]
    with lakebox.connect(box) as project:
        project.get_feature_store().create_feature_group(
            "events", 1, primary_key=["k"], event_time="ts", features=features if declared else None
        )
    go = tmp_path / "go"
    children = _start(
        [["disjoint", str(box), "events", str(w), str(BATCHES), str(ROWS), str(go)] for w in range(WORKERS)]
    )
    go.touch()
    outputs = _finish(children)

    reported = [int(line.split()[1]) for out in outputs for line in out.splitlines() if line.startswith("commit")]
    total = WORKERS * BATCHES
    assert sorted(reported) == list(range(1, total + 1)), "commit ids are unique and consecutive"
    with lakebox.connect(box) as project:
        fg = project.get_feature_store().get_feature_group("events", 1)
        commits = fg.commits()
        assert [c.commit_id for c in commits] == list(range(1, total + 1))
        assert all((c.rows_inserted, c.rows_updated) == (ROWS, 0) for c in commits)
        keys = fg.read(dataframe_type="arrow").column("k").to_pylist()
        expected = sorted(w * 1_000_000 + i for w in range(WORKERS) for i in range(BATCHES * ROWS))
        assert keys == expected
        for commit in commits:  # each commit adds exactly its own batch on top of the previous
            assert fg.read(wallclock_time=commit.commit_id, dataframe_type="arrow").num_rows == commit.commit_id * ROWS
        assert [f.name for f in fg.features] == ["k", "ts", "v", "s"]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_parallel_get_or_create_returns_one_group(tmp_path: Path) -> None:
    box = tmp_path / "race.lakebox"
    lakebox.connect(box).close()
    go = tmp_path / "go"
    children = _start([["get_or_create", str(box), "events", str(go)] for _ in range(3)])
    # Hold the catalog's write lock while every child checks "does it exist?" (it does not) and
    # queues on its INSERT; releasing it lets them insert one after another.
    blocker = sqlite3.connect(box / "catalog.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        go.touch()
        time.sleep(1.5)
        blocker.execute("ROLLBACK")
    except BaseException:
        _reap(children)
        raise
    finally:
        blocker.close()
    outputs = _finish(children)
    ids = {line for out in outputs for line in out.splitlines() if line.startswith("group")}
    assert len(ids) == 1
    with lakebox.connect(box) as project:
        assert len(project.get_feature_store().get_feature_groups("events")) == 1

"""Fixtures: a fresh, real box in ``tmp_path`` (SQLite catalog, Iceberg warehouse, DuckDB reads)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import budget
import pytest
from hypothesis import settings

import lakebox

# Bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set (this project's
# machines set it): otherwise every Python process of a run (the xdist workers and the ~150
# CLI, server and crash-test subprocesses) compiles lakebox and the test modules again, ~8% of
# the inner loop. The caches go to __pycache__ folders, which git ignores.
sys.dont_write_bytecode = False
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

# Long tests (crash rounds, Spark, damage suites) run in CI (CI=true, as `.ci/run` is run) or
# with LAKEBOX_SLOW=1; the inner loop `pytest -q` skips them to stay within a few minutes.
RUN_SLOW = os.environ.get("CI", "").lower() == "true" or os.environ.get("LAKEBOX_SLOW") == "1"

# Hypothesis: the `dev` profile (few, fresh examples) by default, `ci` (more, the same every run)
# when CI=true or HYPOTHESIS_PROFILE=ci; the example counts per property are in budget.py.
settings.load_profile(budget.PROFILE)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto`` (the default addopts): two workers per core, at most 8. Most tests wait on
    something (a subprocess starting, a server answering, a file lock), so one worker per core
    left the cores idle a third of the time: on 2 idle cores the inner loop went from 209 s to
    150-165 s with 4 workers."""
    return max(1, min(8, 2 * (os.cpu_count() or 1)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if RUN_SLOW:
        return
    skip = pytest.mark.skip(reason="slow: runs in CI (CI=true) or with LAKEBOX_SLOW=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def box_path(tmp_path: Path) -> Path:
    return tmp_path / "test.lakebox"


@pytest.fixture
def project(box_path: Path) -> Iterator[lakebox.Project]:
    with lakebox.connect(box_path) as project:
        yield project


@pytest.fixture
def fs(project: lakebox.Project) -> Any:
    return project.get_feature_store()


@pytest.fixture
def players_fg(fs: Any) -> Any:
    """An empty ``players`` v1 group: primary key ``pid``, event time ``ts`` (schema from first insert)."""
    return fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")


@pytest.fixture
def teams_fg(fs: Any) -> Any:
    """An empty ``teams`` v1 group keyed by ``team_id``, without event time (upserts by key)."""
    return fs.create_feature_group("teams", version=1, primary_key=["team_id"])


# -- the command line: an initialised box, and the demo box built once per run ---------------
@pytest.fixture
def box(tmp_path: Path) -> Path:
    """An empty box made by ``lakebox init`` (a path: the CLI tests pass it to ``--box``)."""
    from cli_run import run

    path = tmp_path / "box"
    run("init", path)
    return path


@pytest.fixture(scope="session")
def cli_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``lakebox demo --no-training``, built once per test run and never changed (modules get
    copies: ``demo_box``). Under xdist the workers share it: the first builds it, under a file
    lock, in the run's common temporary directory. (The demo's training section is exercised by
    the slow tour in ``test_cli.py``.)"""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run_id is None:
        return _build_cli_demo(tmp_path_factory.mktemp("cli-demo") / "demo.lakebox")
    root = tmp_path_factory.getbasetemp().parent / f"cli-demo-{run_id}"
    root.mkdir(exist_ok=True)
    path = root / "demo.lakebox"
    with open(root / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / "built").exists():
            _build_cli_demo(path)
            (root / "built").touch()
    return path


def _build_cli_demo(path: Path) -> Path:
    from cli_run import run

    run("demo", "--box", path, "--no-training")
    return path


@pytest.fixture(scope="module")
def demo_box(cli_demo_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the CLI demo box for one test module (its tests may add to it, in order)."""
    from lakebox.ops.relocate import relocate

    path = tmp_path_factory.mktemp("demo") / "demo.lakebox"
    shutil.copytree(cli_demo_template, path)
    relocate(path)  # a copied box's Iceberg metadata must name its new place (no BoxMovedWarning)
    return path

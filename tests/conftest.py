"""Fixtures: a fresh, real box in ``tmp_path`` (SQLite catalog, Iceberg warehouse, DuckDB reads)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import lakebox

# Long tests (crash rounds, Spark, damage suites) run in CI (CI=true, as `.ci/run` is run) or
# with LAKEBOX_SLOW=1; the inner loop `pytest -q` skips them to stay within a few minutes.
RUN_SLOW = os.environ.get("CI", "").lower() == "true" or os.environ.get("LAKEBOX_SLOW") == "1"


# CI explores the same examples every run (a red CI is then a real regression, reproducible
# here with CI=true); the inner loop keeps drawing new ones, which is how edge cases are found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")


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

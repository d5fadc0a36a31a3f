"""The pytest plugin (entry point ``pytest11: lakebox``): fixtures for tests and teaching labs.

Installed with lakebox, so any project's tests can ask for:

- ``lakebox_box``: a fresh, empty box in the test's temporary directory (a ``Project``),
  closed after the test.
- ``lakebox_demo_box``: a copy of the demo box (``teams``, ``players``, ``games`` and the view
  ``attendance``, as ``lakebox demo`` builds it), built once per session and copied per test,
  so a test may change it freely.
- ``lakebox_feature_group``: a factory that creates a feature group in ``lakebox_box`` from a
  small frame: ``lakebox_feature_group("players", df, primary_key=["pid"], event_time="ts")``.

The assertions live in ``lakebox.testing`` (``assert_group_equals``, ``assert_pit_correct``,
``assert_reproducible``). Importing this module is cheap: lakebox loads inside the fixtures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.project import Project

DEMO_DAYS = 2


@pytest.fixture
def lakebox_box(tmp_path: Path) -> Iterator[Project]:
    """A fresh, empty box at ``tmp_path / "test.lakebox"``; closed after the test."""
    import lakebox

    project = lakebox.connect(tmp_path / "test.lakebox")
    try:
        yield project
    finally:
        project.close()


@pytest.fixture(scope="session")
def lakebox_demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo box, built once per session (read-only: tests get copies via ``lakebox_demo_box``)."""
    import lakebox
    from lakebox.demo import build_demo_box, create_demo_view

    path = tmp_path_factory.mktemp("lakebox-demo") / "demo.lakebox"
    with lakebox.connect(path) as project:
        create_demo_view(build_demo_box(project, days=DEMO_DAYS))
    return path


@pytest.fixture
def lakebox_demo_box(lakebox_demo_template: Path, tmp_path: Path) -> Iterator[Project]:
    """A private copy of the demo box (built once per session); closed after the test."""
    import lakebox
    from lakebox.ops.relocate import relocate

    path = tmp_path / "demo.lakebox"
    shutil.copytree(lakebox_demo_template, path)
    relocate(path)  # a copied box's Iceberg metadata must name its new place (no BoxMovedWarning)
    project = lakebox.connect(path)
    try:
        yield project
    finally:
        project.close()


@pytest.fixture
def lakebox_feature_group(lakebox_box: Project) -> Callable[..., FeatureGroup]:
    """A factory: ``lakebox_feature_group(name, df, primary_key=[...], event_time=None, **options)``
    creates the group in ``lakebox_box``, inserts ``df`` (if given) as one commit, and returns it.
    Extra options (``version``, ``online_enabled``, ``description``, ...) go to
    ``create_feature_group``."""
    fs = lakebox_box.get_feature_store()

    def make(
        name: str,
        df: Any = None,
        *,
        primary_key: list[str],
        event_time: str | None = None,
        **options: Any,
    ) -> FeatureGroup:
        fg = fs.create_feature_group(name, primary_key=primary_key, event_time=event_time, **options)
        if df is not None:
            fg.insert(df)
        return fg

    return make

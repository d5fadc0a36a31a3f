"""lakebox type-checks: mypy, with the project's configuration (``[tool.mypy]`` in
pyproject.toml: ``lakebox/`` and ``tests/typing_conformance.py``), reports no error.

The package ships ``py.typed``, so its annotations are part of the API users check their
code against; ``typing_conformance.py`` holds the local and the remote feature view to the
``lakebox.protocols.FeatureViewLike`` protocol and pins the public API's return types. One mypy run serves both tests: a cold run
takes about a minute (slow: CI runs them); mypy's cache (``.mypy_cache``) makes a rerun
after a small change take seconds.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# a feature view whose get_feature_vector lost parameters: the protocol check must refuse it
DRIFTED = """\
from typing import Any

from lakebox.client import RemoteFeatureView
from lakebox.protocols import FeatureViewLike


class Drifted(RemoteFeatureView):
    def get_feature_vector(self, entry: Any, passed_features: Any = None) -> Any:  # type: ignore[override]
        return None


def view(v: Drifted) -> FeatureViewLike:
    return v
"""


@pytest.fixture(scope="module")
def mypy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """mypy over the configured files plus a drifted view, in one run (same options, one cache)."""
    drifted = tmp_path_factory.mktemp("typing") / "drifted_view.py"
    drifted.write_text(DRIFTED)
    files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", *files, str(drifted)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return result, drifted


def _errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": error:" in line]


@pytest.mark.slow
def test_mypy_reports_no_errors_in_lakebox(mypy_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    result, drifted = mypy_run
    # mypy ran to the end (the drifted view always fails: exit 1 and a summary), not "No module named mypy"
    assert result.returncode == 1 and "Found " in result.stdout, result.stdout[-4000:] + result.stderr[-4000:]
    errors = [e for e in _errors(result) if drifted.name not in e]
    assert not errors, f"mypy found {len(errors)} error(s); run `python -m mypy` for the details:\n" + "\n".join(errors)


@pytest.mark.slow
def test_a_view_that_drifts_from_the_protocol_is_refused(mypy_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """The conformance check has teeth: the drifted view is refused, naming the member."""
    result, drifted = mypy_run
    errors = [e for e in _errors(result) if drifted.name in e]
    assert any('expected "FeatureViewLike"' in e for e in errors), result.stdout[-4000:]
    assert "get_feature_vector" in result.stdout

"""The examples in examples/ run as documented (they are part of the docs)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


NEEDS_TORCH = {"experiments"}  # examples that train with torch (the `train` extra)


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_runs(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if path.stem in NEEDS_TORCH:
        pytest.importorskip("torch")
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()

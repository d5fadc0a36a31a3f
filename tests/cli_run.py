"""Running the ``lakebox`` command in-process (click's CliRunner), shared by the CLI tests."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from lakebox.cli import cli

# The demo trains models only with the `train` extra (torch and scikit-learn) installed.
TRAINING = all(importlib.util.find_spec(m) is not None for m in ("torch", "sklearn"))
ENV = {"COLUMNS": "200", "LAKEBOX_HOME": None, "NO_COLOR": "1"}


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner(env=ENV).invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def run_json(*args: str | Path, code: int = 0) -> Any:
    return json.loads(run("--output", "json", *args, code=code).stdout)


def assert_one_line_error(result: Result, code: str) -> str:
    """The one stderr line of a failed command (``Error [code] ...``), no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Error [{code}] "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]

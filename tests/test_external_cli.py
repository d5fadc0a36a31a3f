"""``lakebox fg external`` and ``lakebox fg import`` against real boxes and real source files."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
from click.testing import CliRunner, Result

import lakebox
from lakebox.cli import cli

ENV = {"COLUMNS": "200", "LAKEBOX_HOME": None, "NO_COLOR": "1"}


def run(*args: str | Path, code: int = 0) -> Result:
    result = CliRunner(env=ENV).invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    return result


def run_json(*args: str | Path, code: int = 0) -> Any:
    return json.loads(run("--output", "json", *args, code=code).stdout)


def test_register_read_and_import(tmp_path: Path) -> None:
    box = tmp_path / "cli.lakebox"
    run("init", box)
    db = tmp_path / "shop.db"
    con = sqlite3.connect(db)
    pd.DataFrame({"order_id": [1, 2, 3], "ts": ["2026-01-01 10:00:00"] * 3, "amount": [1.5, 2.5, 3.5]}).to_sql(
        "orders", con, index=False)
    con.close()
    out = run("--box", box, "fg", "external", "orders", "--sqlite", db, "--table", "orders", "-k", "order_id",
              "--event-time", "ts")
    assert "Registered external group orders v1" in out.stdout
    data = run_json("--box", box, "fg", "external", "orders2", "--files", tmp_path / "none*.csv", "-k", "order_id",
                    code=1)
    assert data["error"] == "not_found" and "No files match" in data["message"]
    copied = run_json("--box", box, "fg", "import", "orders")
    assert copied == {"name": "orders", "version": 2, "rows": 3, "from": {"name": "orders", "version": 1}}
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        assert fs.get_feature_group("orders", 2).read()["amount"].tolist() == [1.5, 2.5, 3.5]
    refused = run_json("--box", box, "fg", "import", "orders", "--version", "2", code=1)
    assert "not external" in refused["message"]
    both = run_json("--box", box, "fg", "external", "x", "--sqlite", db, "--files", "a.csv", "-k", "order_id", code=1)
    assert "exactly one source" in both["message"]

"""Fast start (issue 16): metadata commands read the catalog only.

``lakebox fg list`` must not import pyiceberg's catalog, pandas, pyarrow, sqlglot or DuckDB
(about 2 s of imports), nor the feature store's objects or the modules of other commands. Which modules a fresh process imported is deterministic, so that is
what these tests check; the time itself is measured by ``benchmarks/cli_startup.py``.
The catalog-only description of a group must equal ``FeatureGroup.describe()``, including
when the commit log is behind Iceberg (then it falls back to the full description).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import lakebox

HEAVY = ("pyiceberg.catalog.sql", "pyiceberg", "pandas", "pyarrow", "sqlglot", "duckdb", "lmdb", "sqlalchemy", "numpy",
         "polars", "fastapi", "textual", "torch", "optuna", "httpx",
         # the feature store's objects, and commands other than the one run (lakebox.cli.lazy)
         "lakebox.feature_store", "lakebox.cli.demo", "lakebox.cli.serve", "lakebox.cli.jobs", "lakebox.tui",
         "rich")  # `-o json` (every run here) prints without rich  # fmt: skip


def _run_cli(args: list[str], cwd: Path) -> tuple[dict[str, Any], list[str]]:
    """Run ``lakebox ARGS`` in a fresh interpreter: (its JSON output, the heavy modules it imported)."""
    code = (
        "import json, sys\nfrom lakebox.cli import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit as e:\n    code = e.code\nelse:\n    code = 0\n"
        f"print(json.dumps({{'exit': code, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, timeout=120)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["exit"] == 0, done.stderr
    return json.loads(done.stdout), report["heavy"]


@pytest.fixture
def box(tmp_path: Path) -> Path:
    path = tmp_path / "b.lakebox"
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        players = fs.create_feature_group("players", primary_key=["pid"], event_time="ts", online_enabled=True,
                                          description="ratings")  # fmt: skip
        ts = pd.Timestamp("2026-01-01", tz="UTC")
        players.insert(pd.DataFrame({"pid": [1, 2], "ts": [ts, ts], "rating": [0.5, 0.7]}))
        players.insert(pd.DataFrame({"pid": [1], "ts": [ts + pd.Timedelta(days=1)], "rating": [0.6]}))
        fs.create_feature_group("teams", primary_key=["team_id"])  # no insert yet: no schema, no table data
    return path


def _describe_all(path: Path) -> list[dict[str, Any]]:
    with lakebox.connect(path) as project:
        return [g.describe() for g in project.get_feature_store().get_feature_groups()]


def test_fg_list_reads_the_catalog_only(box: Path) -> None:
    listed, heavy = _run_cli(["--box", str(box), "-o", "json", "fg", "list"], box.parent)
    assert heavy == [], f"`lakebox fg list` imported {heavy}"
    assert [(g["name"], g["commit_count"]) for g in listed["feature_groups"]] == [("players", 2), ("teams", 0)]


def test_fg_show_reads_the_catalog_only(box: Path) -> None:
    shown, heavy = _run_cli(["--box", str(box), "-o", "json", "fg", "show", "players"], box.parent)
    assert heavy == [], f"`lakebox fg show` imported {heavy}"
    assert shown == json.loads(json.dumps(_describe_all(box)[0]))


def test_fg_commits_reads_the_catalog_only(box: Path) -> None:
    listed, heavy = _run_cli(["--box", str(box), "-o", "json", "fg", "commits", "players"], box.parent)
    assert heavy == [], f"`lakebox fg commits` imported {heavy}"
    assert [c["rowsInserted"] for c in listed["commits"]] == [1, 2]  # newest first


def _commit_details(path: Path, name: str) -> dict[str, Any]:
    with lakebox.connect(path) as project:
        group = project.get_feature_store().get_feature_group(name)
        details = group.commit_details()
    return {"name": name, "version": 1, "commits": [{"commit_id": i, **info} for i, info in details.items()]}


def test_catalog_commits_equal_commit_details(box: Path) -> None:
    with lakebox.connect(box) as project:
        players = project.get_feature_store().get_feature_group("players")
        players.set_retention(keep_last=1)  # the next commit expires the two before it
        ts = pd.Timestamp("2026-01-03", tz="UTC")
        players.insert(pd.DataFrame({"pid": [3], "ts": [ts], "rating": [0.1]}))
    expected = _commit_details(box, "players")
    assert [c["expired"] for c in expected["commits"]] == [False, True, True]
    with lakebox.connect(box) as project:
        assert project.describe_commits("players") == expected
        assert project.describe_commits("teams") == _commit_details(box, "teams")
    db = sqlite3.connect(box / "catalog.db")  # the log loses its newest commit: the table completes it
    with db:
        db.execute("DELETE FROM commits WHERE commit_id = (SELECT max(commit_id) FROM commits)")
    db.close()
    with lakebox.connect(box) as project:
        assert project.describe_commits("players") == expected
        with pytest.raises(lakebox.NotFoundError):
            project.describe_commits("players", 3)


def test_import_lakebox_and_the_cli_import_no_heavy_library(tmp_path: Path) -> None:
    code = f"import sys, lakebox, lakebox.cli\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


# what Project's mixins (jobs, experiments, security, files) load on first use, not on import
MIXIN_STORES = ("lakebox.jobs.store", "lakebox.catalog.experiments", "lakebox.catalog.keys", "lakebox.catalog.audit",
                "lakebox.experiment.context", "lakebox.experiment.record")  # fmt: skip


def test_the_project_loads_its_mixins_stores_on_first_use(tmp_path: Path) -> None:
    lakebox.connect(tmp_path / "b.lakebox").close()
    code = (
        "import sys, lakebox\nfrom lakebox.cli import main\n"
        f"try:\n    main(['--box', {str(tmp_path / 'b.lakebox')!r}, '-o', 'json', 'fg', 'list'])\nexcept SystemExit:\n    pass\n"
        f"print([m for m in {MIXIN_STORES!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    with lakebox.connect(tmp_path / "b.lakebox") as project:  # and they work when used
        assert project.get_experiments() == [] and project.get_job_api().get_jobs() == []
        assert project.get_users() == [] and project.get_audit_log(limit=1) == []
        project.create_api_key("k")
        assert [k.name for k in project.get_api_keys()] == ["k"] and project.get_api_key("k") is not None


def test_catalog_description_equals_describe(box: Path) -> None:
    with lakebox.connect(box) as project:
        assert project.describe_feature_groups() == _describe_all(box)
        assert [g["version"] for g in project.describe_feature_groups("players")] == [1]


def test_a_log_behind_iceberg_is_completed_from_the_table(box: Path) -> None:
    """A crash between the Iceberg commit and the catalog's log: the listing still counts the
    commit (it asks Iceberg, as ``describe()`` does), and the catalog's log is left as it was."""
    db = sqlite3.connect(box / "catalog.db")
    with db:
        db.execute("DELETE FROM commits WHERE commit_id = (SELECT max(commit_id) FROM commits)")
    db.close()
    with lakebox.connect(box) as project:
        listed = project.describe_feature_groups("players")
    assert listed == [g for g in _describe_all(box) if g["name"] == "players"]
    assert listed[0]["commit_count"] == 2


def test_an_unknown_or_bad_name_lists_nothing_or_is_refused(box: Path) -> None:
    with lakebox.connect(box) as project:
        assert project.describe_feature_groups("nope") == []
        with pytest.raises(lakebox.InvalidNameError):
            project.describe_feature_groups("Bad Name")
        assert project.describe_feature_group("players", 1) == project.describe_feature_groups("players")[0]
        fs = project.get_feature_store()
        for name, version in (("player", None), ("players", 2)):  # the feature store's errors, hints included
            with pytest.raises(lakebox.NotFoundError) as ours:
                project.describe_feature_group(name, version)
            with pytest.raises(lakebox.NotFoundError) as theirs:
                fs.get_feature_group(name, version)
            assert ours.value.message == theirs.value.message

"""``lakebox env``: show, check (a conflict planted in a throwaway venv is found, as pip
check would), diff against the environment recorded with a run, export."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import lakebox
from lakebox.ops import pyenv

CLI = [sys.executable, "-m", "lakebox.cli"]


def lakebox_cli(*args: str, box: Path | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["--box", str(box)] if box else []
    return subprocess.run([*CLI, *prefix, *args], capture_output=True, text=True, timeout=120, check=False)


def plant(site: Path, name: str, version: str, requires: list[str] = ()) -> None:
    """A distribution's metadata, as an installer leaves it."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", *[f"Requires-Dist: {r}" for r in requires]]
    (info / "METADATA").write_text("\n".join(lines) + "\n")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The site-packages of a throwaway venv, with a planted conflict, a missing requirement,
    a requirement behind a marker that does not apply, and an unrequested extra."""
    venv.create(tmp_path / "venv", with_pip=False)
    found = list((tmp_path / "venv").glob("lib/python*/site-packages"))
    assert found
    site = found[0]
    plant(site, "alpha", "1.0", ["beta>=2", "gamma", "delta; python_version < '3'", "epsilon; extra == 'fast'"])
    plant(site, "beta", "1.5")
    plant(site, "zeta", "3.0", ["beta<2"])
    return site


def test_check_finds_the_planted_conflict_and_the_missing_requirement(site: Path) -> None:
    problems = pyenv.check([str(site)])
    assert [(p.distribution, p.kind, p.requirement) for p in problems] == [
        ("alpha", "conflict", "beta>=2"), ("alpha", "missing", "gamma"),
    ]
    result = lakebox_cli("env", "check", "--path", str(site))
    assert result.returncode == 1
    assert "alpha 1.0 has requirement beta>=2, but beta 1.5 is installed." in result.stdout
    assert "alpha 1.0 requires gamma, which is not installed." in result.stdout
    as_json = json.loads(lakebox_cli("env", "check", "--path", str(site), "-o", "json").stdout)
    assert as_json["ok"] is False and len(as_json["problems"]) == 2


def test_an_extra_requested_by_another_distribution_is_checked(site: Path) -> None:
    plant(site, "eta", "1.0", ["alpha[fast]"])
    assert ("alpha", "missing", 'epsilon; extra == "fast"') in [(p.distribution, p.kind, p.requirement) for p in pyenv.check([str(site)])]


def test_a_consistent_environment_passes(tmp_path: Path) -> None:
    plant(tmp_path, "alpha", "1.0", ["beta>=1"])
    plant(tmp_path, "beta", "1.5")
    assert pyenv.check([str(tmp_path)]) == []
    result = lakebox_cli("env", "check", "--path", str(tmp_path))
    assert result.returncode == 0 and "No broken requirements" in result.stderr


def test_show_and_export(site: Path) -> None:
    shown = json.loads(lakebox_cli("env", "show", "--path", str(site), "-o", "json").stdout)
    assert shown["packages"] == {"alpha": "1.0", "beta": "1.5", "zeta": "3.0"}
    assert shown["python"] == sys.version.split()[0]
    exported = lakebox_cli("env", "export", "--path", str(site), "--exclude", "zeta").stdout
    assert exported.splitlines()[1:] == ["alpha==1.0", "beta==1.5"]


def test_diff_against_a_recorded_run(tmp_path: Path) -> None:
    recorded = {"python": "3.0.0", "packages": {"alpha": "1.0", "Beta": "1.4", "gone": "2.0"}}
    current = {"python": "3.0.0", "packages": {"alpha": "1.0", "beta": "1.5", "new": "0.1"}}
    result = pyenv.diff(recorded, current)
    assert result["changed"] == {"Beta": {"recorded": "1.4", "installed": "1.5"}}
    assert result["missing"] == {"gone": "2.0"} and result["added"] == {"new": "0.1"} and not result["same"]
    assert pyenv.diff(current, current)["same"]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_env_diff_of_an_experiment_run(tmp_path: Path) -> None:
    from lakebox import experiment

    box = tmp_path / "runs.lakebox"
    with lakebox.connect(box) as project:
        experiment.lagom(_train, experiment.Config(name="tiny", hparams={}), project=project)
    same = lakebox_cli("env", "diff", "experiment", "tiny", box=box)
    assert same.returncode == 0, same.stdout + same.stderr
    missing = lakebox_cli("env", "diff", "model", "nope", box=box)
    assert missing.returncode != 0 and "nope" in (missing.stdout + missing.stderr)


def _train() -> dict[str, float]:
    return {"accuracy": 1.0}

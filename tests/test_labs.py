"""The teaching labs: each lab's tests fail on the student file and pass on the solution, run
as a student runs them (``lakebox labs start`` into a fresh directory, then ``pytest`` there,
in a subprocess, with lakebox's plugin loaded by its entry point)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lakebox.cli import cli
from lakebox.cli.labs import available, find, start
from lakebox.errors import AlreadyExistsError, NotFoundError

LABS = [lab.name for lab in available()]


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=600,
    )


def test_five_labs_each_complete() -> None:
    assert LABS == ["time_travel", "point_in_time", "feature_view", "online_serving", "hyperparameter_search"]
    for lab in available():
        names = {p.name for p in lab.path.iterdir()}
        assert {"README.md", f"{lab.name}.py", f"test_{lab.name}.py", "solution.py"} <= names, lab.name
        assert "TODO" in (lab.path / f"{lab.name}.py").read_text()


@pytest.mark.slow  # two pytest processes per lab: 30-70 s each on a loaded machine
@pytest.mark.parametrize("name", LABS)
def test_lab_fails_for_the_student_and_passes_with_the_solution(name: str, tmp_path: Path) -> None:
    lab = find(name)
    folder = tmp_path / name
    start(lab, folder)
    assert not (folder / "solution.py").exists()
    student = _pytest(folder)
    assert student.returncode == 1, student.stdout[-3000:] + student.stderr[-2000:]
    assert "NotImplementedError" in student.stdout
    shutil.copyfile(lab.path / "solution.py", folder / f"{name}.py")
    solved = _pytest(folder)
    assert solved.returncode == 0, solved.stdout[-3000:] + solved.stderr[-2000:]


def test_cli_lists_and_starts_labs(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["labs", "list"], env={"COLUMNS": "100"})
    assert listed.exit_code == 0, listed.output
    assert "time_travel" in listed.output and "Time travel and rollback" in listed.output
    as_json = runner.invoke(cli, ["--output", "json", "labs", "list"])
    assert [r["name"] for r in json.loads(as_json.output)["rows"]] == LABS

    started = runner.invoke(cli, ["labs", "start", "1", str(tmp_path / "lab1")])
    assert started.exit_code == 0, started.output
    assert sorted(p.name for p in (tmp_path / "lab1").iterdir()) == [
        "README.md", "pytest.ini", "test_time_travel.py", "time_travel.py"]
    again = runner.invoke(cli, ["labs", "start", "time-travel", str(tmp_path / "lab1")])
    assert again.exit_code == 1 and "--force" in again.output
    teacher = runner.invoke(cli, ["labs", "start", "time_travel", str(tmp_path / "lab1"), "--solution", "--force"])
    assert teacher.exit_code == 0 and (tmp_path / "lab1" / "solution.py").is_file()
    missing = runner.invoke(cli, ["labs", "start", "nope", str(tmp_path / "x")])
    assert missing.exit_code == 1 and "time_travel" in missing.output


def test_start_refuses_a_non_empty_directory_and_unknown_labs(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(AlreadyExistsError):
        start(find("point_in_time"), tmp_path)
    with pytest.raises(NotFoundError, match="online_serving"):
        find("label_leakage")

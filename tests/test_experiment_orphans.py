"""A run whose calling process is killed does not stay "running" forever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lakebox

CHILD = """
import sys
sys.path.insert(0, sys.argv[2])
import lakebox
from lakebox import experiment
import lagom_fns
project = lakebox.connect(sys.argv[1])
experiment.lagom(lagom_fns.sleeper, experiment.Config("orphan", {"seconds": 60.0}), project=project, echo=False)
"""


def test_a_run_whose_caller_was_killed_becomes_interrupted(tmp_path: Path) -> None:
    box = tmp_path / "box"
    lakebox.connect(box).close()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(box), str(Path(__file__).parent)], start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        runs: list[object] = []
        while time.monotonic() < deadline:
            runs = lakebox.connect(box).get_experiments("orphan")
            if runs:
                break
            time.sleep(0.2)
        assert runs and runs[0].status == "running"  # type: ignore[attr-defined]
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the caller and its workers, like kill -9 on a job
        child.wait(timeout=10)
    run = lakebox.connect(box).get_experiments("orphan")[0]
    assert run.status == "interrupted"  # type: ignore[attr-defined]

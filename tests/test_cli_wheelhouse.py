"""The air-gapped install: scripts/wheelhouse.sh builds every wheel lakebox needs, and a fresh
venv installs from that folder alone (--no-index), then runs lakebox, including the labs the
wheel carries (lakebox/_labs). Slow: it builds or downloads every dependency's wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_offline_install_from_the_wheelhouse(tmp_path: Path) -> None:
    wheels = tmp_path / "wheelhouse"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "scripts" / "wheelhouse.sh"), str(wheels)], check=True, env=env, timeout=3600)
    assert any(p.name.startswith("lakebox-") for p in wheels.glob("*.whl"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", "--find-links", str(wheels), "lakebox"],
        check=True, env=clean, timeout=1800,
    )  # fmt: skip
    version = subprocess.run([str(venv / "bin" / "lakebox"), "--version"], capture_output=True, text=True, env=clean)
    assert version.returncode == 0 and version.stdout.startswith("lakebox "), version.stderr
    labs = subprocess.run([str(venv / "bin" / "lakebox"), "labs", "list", "-o", "json"], capture_output=True,
                          text=True, env=clean, cwd=tmp_path)  # fmt: skip
    assert labs.returncode == 0 and "time_travel" in labs.stdout, labs.stderr
    smoke = (
        "import pandas as pd, lakebox\n"
        f"p = lakebox.connect({str(tmp_path / 'b.lakebox')!r})\n"
        "fg = p.get_feature_store().create_feature_group('g', primary_key=['k'], online_enabled=True)\n"
        "fg.insert(pd.DataFrame({'k': [1, 2], 'x': [0.5, 1.5]}))\n"
        "assert len(fg.read()) == 2\n"
        "print('ok')\n"
    )
    done = subprocess.run([str(venv / "bin" / "python"), "-c", smoke], capture_output=True, text=True, env=clean,
                          cwd=tmp_path)  # fmt: skip
    assert done.stdout.strip() == "ok", done.stderr

"""The light, air-gapped install (issue 16): scripts/wheelhouse.sh builds every wheel that
``pip install lakebox`` (no extras) needs, and a fresh venv installs from that folder alone
(``--no-index``). There lakebox is the feature store and in-process online serving: a group
is created, written, read, and served by a feature view from the online store; the labs the
wheel carries are listed; and the TUI, the server, the remote client, experiments and polars
frames fail with ``MissingDependencyError`` naming their extra.

Slow: it builds lakebox's wheel and collects every dependency's (from the local package
index or pip's cache), then installs them into a new venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_MODULES = ("fastapi", "uvicorn", "httpx", "textual", "torch", "sklearn", "optuna", "polars", "cryptography")

LIGHT_SCRIPT = """
import json, sys
import pandas as pd
import lakebox
from lakebox.errors import MissingDependencyError

found = {"heavy_extras": []}
import importlib.util
found["heavy_extras"] = [m for m in sys.argv[2].split(",") if importlib.util.find_spec(m) is not None]
with lakebox.connect(sys.argv[1]) as project:
    fs = project.get_feature_store()
    fg = fs.create_feature_group("g", primary_key=["k"], event_time="ts", online_enabled=True)
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    fg.insert(pd.DataFrame({"k": [1, 2], "ts": [ts, ts], "x": [0.5, 1.5]}))
    fg.insert(pd.DataFrame({"k": [1], "ts": [ts + pd.Timedelta(days=1)], "x": [2.5]}))
    found["offline_rows"] = len(fg.read())
    found["online_rows"] = len(fg.read(online=True))
    view = fs.create_feature_view("v", query=fg.select(["k", "x"]))
    found["vector"] = view.get_feature_vector({"k": 1})
    found["listed"] = [g["name"] for g in project.describe_feature_groups()]
    checks = {
        "polars": lambda: fg.read(dataframe_type="polars"),
        "lagom": lambda: __import__("lakebox.experiment", fromlist=["lagom"]).lagom(
            lambda x: {"m": x}, __import__("lakebox.experiment", fromlist=["Config"]).Config("c", {"x": 1.0})),
        "client": lambda: lakebox.connect("http://127.0.0.1:9"),
    }
    for name, call in checks.items():
        try:
            call()
            found[name] = "no error"
        except MissingDependencyError as e:
            found[name] = {"extra": e.details.get("extra"), "message": e.message}
print(json.dumps(found, default=str))
"""


@pytest.fixture(scope="module")
def light_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv holding lakebox without extras, installed from a wheelhouse with --no-index."""
    tmp = tmp_path_factory.mktemp("light")
    wheels = tmp / "wheelhouse"
    env = {**os.environ, "PYTHON": sys.executable}
    subprocess.run(["bash", str(ROOT / "scripts" / "wheelhouse.sh"), str(wheels)], check=True, env=env, timeout=1800)
    assert any(p.name.startswith("lakebox-") for p in wheels.glob("*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=600)
    # nothing from this checkout or the test venv may leak in: only the wheelhouse
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PIP_")}
    clean["PIP_CONFIG_FILE"] = os.devnull
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", "--find-links", str(wheels), "lakebox"],
        check=True, env=clean, timeout=1800,
    )  # fmt: skip
    return venv, clean


@pytest.mark.slow
def test_the_light_install_is_a_feature_store_with_online_serving(light_venv: tuple[Path, dict[str, str]],
                                                                  tmp_path: Path) -> None:  # fmt: skip
    venv, env = light_venv
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", LIGHT_SCRIPT, str(tmp_path / "b.lakebox"), ",".join(EXTRAS_MODULES)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["heavy_extras"] == [], f"the light install brought {found['heavy_extras']}"
    assert (found["offline_rows"], found["online_rows"], found["listed"]) == (3, 2, ["g"])
    assert found["vector"] == [1, 2.5]
    for check, extra in (("polars", "polars"), ("lagom", "train"), ("client", "serve")):
        assert isinstance(found[check], dict), f"{check}: {found[check]}"
        assert found[check]["extra"] == extra and f"pip install 'lakebox[{extra}]'" in found[check]["message"]


@pytest.mark.slow
def test_the_light_cli_names_the_extra_of_a_missing_command(light_venv: tuple[Path, dict[str, str]],
                                                            tmp_path: Path) -> None:  # fmt: skip
    venv, env = light_venv
    lakebox = str(venv / "bin" / "lakebox")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([lakebox, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)

    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("lakebox "), version.stderr
    assert run("init", "b.lakebox").returncode == 0
    labs = run("labs", "list", "-o", "json")  # the labs ship in the wheel (lakebox/_labs)
    assert labs.returncode == 0 and "time_travel" in labs.stdout, labs.stderr
    (tmp_path / "t.csv").write_text("team_id,budget\n1,10.5\n2,20.0\n")
    core = [["fg", "ingest", "teams", "t.csv", "-k", "team_id"], ["fg", "list"], ["fg", "show", "teams"],
            ["fg", "head", "teams"], ["sql", "SELECT sum(budget) AS b FROM teams"], ["search", "teams"]]  # fmt: skip
    for command in core:  # the core commands run on the light install, in text and JSON
        for output in ("text", "json"):
            done = run("--box", "b.lakebox", "-o", output, *command)
            assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    assert json.loads(run("--box", "b.lakebox", "-o", "json", "sql", "SELECT sum(budget) AS b FROM teams").stdout)[
        "rows"] == [{"b": 30.5}]  # fmt: skip
    for command, extra in ((["tui", "b.lakebox"], "tui"), (["serve", "b.lakebox", "--port", "65000"], "serve")):
        failed = run("-o", "json", *command)
        assert failed.returncode == 1, failed.stdout + failed.stderr
        error = json.loads(failed.stdout)
        assert error["error"] == "missing_dependency" and error["details"]["extra"] == extra, error
        assert f"pip install 'lakebox[{extra}]'" in error["message"], error

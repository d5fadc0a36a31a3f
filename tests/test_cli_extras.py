"""Light installs: a missing optional dependency is a MissingDependencyError with its install line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lakebox.errors import MissingDependencyError
from lakebox.extras import EXTRA_OF, install_line, require


def test_require_imports_what_is_there() -> None:
    assert require("json", "reading JSON") is sys.modules["json"]


def test_a_missing_extra_names_its_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "textual", None)  # importing it now raises ImportError
    with pytest.raises(MissingDependencyError) as caught:
        require("textual", "The terminal browser (lakebox tui)")
    err = caught.value
    assert "pip install 'lakebox[tui]'" in err.message and "lakebox tui" in err.message
    assert err.details == {"module": "textual", "extra": "tui"} and err.http_status == 501


def test_every_extra_is_declared_in_pyproject() -> None:
    import tomllib
    from pathlib import Path

    declared = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())
    extras = set(declared["project"]["optional-dependencies"])
    assert {"train", "spark"} <= extras
    for extra in set(EXTRA_OF.values()) & extras:
        assert f"lakebox[{extra}]" in install_line(extra)


def _pyproject() -> dict[str, Any]:
    import tomllib
    from pathlib import Path

    return tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text())


def test_the_core_install_carries_no_extra() -> None:
    """`pip install lakebox` is the feature store and online serving: no server, TUI, torch or polars."""
    project = _pyproject()["project"]
    core = {re.split(r"[\[<>=!~;\s]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    optional = {"fastapi", "fastapi-offline", "uvicorn", "httpx", "cryptography", "textual", "torch", "scikit-learn",
                "optuna", "polars", "pyspark", "tensorboard"}  # fmt: skip
    assert not core & optional, f"core dependencies that belong in an extra: {core & optional}"
    extras = project["optional-dependencies"]
    assert set(EXTRA_OF.values()) <= set(extras), "every extra require() names is declared"
    assert extras["all"] == ["lakebox[tui,serve,train,polars]"]
    assert "torch==2.13.0" in extras["train"]


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        ("textual", ["tui", "{box}"], "tui"),
        ("fastapi", ["serve", "{box}", "--port", "65000"], "serve"),
        ("fastapi", ["demo", "--box", "{box}"], "serve"),  # refused before it builds anything
    ],
)
def test_a_command_without_its_extra_says_what_to_install(tmp_path: Path, blocked: str, args: list[str],
                                                          extra: str) -> None:  # fmt: skip
    """In a fresh process where the extra's module cannot be imported, the command fails with
    the JSON error naming the extra (tests/test_wheelhouse.py does the same in a real light venv)."""
    import lakebox

    box = tmp_path / "b.lakebox"
    lakebox.connect(box).close()
    argv = ["-o", "json", *(a.format(box=box) for a in args)]
    code = f"import sys\nsys.modules[{blocked!r}] = None\nfrom lakebox.cli import main\nmain({argv!r})"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    error = json.loads(done.stdout)
    assert error["error"] == "missing_dependency" and error["details"] == {"module": blocked, "extra": extra}
    assert f"pip install 'lakebox[{extra}]'" in error["message"]

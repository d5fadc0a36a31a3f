"""Light installs: a missing optional dependency is a MissingDependencyError with its install line."""

from __future__ import annotations

import sys

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

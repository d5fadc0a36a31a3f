"""The README's quickstart runs as written (docs stay true)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = re.search(r"## Quickstart\n\n```python\n(.*?)```", README.read_text(), re.S)
    assert code is not None, "the README lost its quickstart"
    monkeypatch.chdir(tmp_path)  # it creates my.lakebox in the working directory
    exec(compile(code.group(1), "README.md", "exec"), {})
    assert (tmp_path / "my.lakebox" / "lakebox.toml").is_file()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    block = re.search(r"Install and run the tests.*?```bash\n(.*?)\n```", README.read_text(), re.S)
    assert block is not None, "the README lost its test command"
    ci = (README.parent / ".ci" / "run").read_text().splitlines()
    assert block.group(1).strip() in [line.strip() for line in ci]

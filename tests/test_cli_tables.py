"""CLI polish: tables that never cut a word, whole keys, piped output at full width, one number
format, plurals, flags (not Python arguments) in errors, --as-of, and the box hint."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from rich.table import Table

from lakebox.cli import cli
from lakebox.cli.formats import number, plural
from lakebox.cli.tables import emit, tidy

LONG_NAME = "attendance_gbr_search"  # issue 16: once shown as attend/ance_g/br_sea/rch
DESCRIPTION = "Weekly attendance figures of every stadium, normalised by capacity and weather-adjusted"


def run(*args: str | Path, code: int = 0, columns: str | None = "80") -> Result:
    env = {"LAKEBOX_HOME": None, "NO_COLOR": "1", "COLUMNS": columns}
    result = CliRunner(env=env).invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def box(tmp_path: Path) -> Path:
    path = tmp_path / "b.lakebox"
    csv = tmp_path / "rows.csv"
    csv.write_text("stadium_id,ts,attendance\n1,2024-01-01T00:00:00Z,1000\n")
    run("init", path)
    run("--box", path, "fg", "ingest", LONG_NAME, csv, "--primary-key", "stadium_id", "--event-time", "ts",
        "--description", DESCRIPTION)  # fmt: skip
    return path


def test_narrow_tables_keep_keys_whole_and_never_cut_words(box: Path) -> None:
    text = run("--box", box, "fg", "list").stdout
    lines = text.splitlines()
    assert all(len(line) <= 80 for line in lines), text
    assert any(f"{LONG_NAME} v1" in line for line in lines), text  # the key column is whole
    assert "description hidden at this width" in text  # rather than a column narrower than its header
    wide = run("--box", box, "fg", "list", columns="120").stdout
    assert "Weekly attendance" in wide and all(len(line) <= 120 for line in wide.splitlines())
    cells = [w for line in wide.splitlines() for w in line.replace("│", " ").split()]
    words = DESCRIPTION.split()
    cut = [w for w in cells if w not in words and any(d.startswith(w) for d in words) and w not in ("a",)]
    assert not cut, f"words cut across lines: {cut}\n{wide}"


def test_piped_output_is_not_squeezed(box: Path) -> None:
    text = run("--box", box, "fg", "list", columns=None).stdout  # CliRunner's stdout is not a terminal
    assert any(LONG_NAME in line and DESCRIPTION in line for line in text.splitlines()), text


def test_no_column_is_narrower_than_its_header() -> None:
    table = Table()
    for header in ("feature", "description", "histogram / top value"):
        table.add_column(header, overflow="fold")
    table.add_row("a" * 20, "word " * 40, "x" * 50)
    console = Console(width=70, record=True, force_terminal=False, color_system=None, file=io.StringIO())
    console.print(tidy(table))
    rendered = console.export_text()
    assert "feature" in rendered and "description" in rendered and "histogram / top value" in rendered
    assert "a" * 20 in rendered  # the first (key) column is whole
    assert "x" * 21 not in rendered and "…" in rendered  # a long word ends in an ellipsis, never folds
    assert all(len(line) <= 70 for line in rendered.splitlines())


def test_emit_prints_piped_tables_at_their_natural_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    table = Table("name", "text")
    table.add_row("x", "y " * 100)
    console = Console(width=60, record=True, force_terminal=False, color_system=None, file=io.StringIO())
    emit(console, tidy(table))
    assert max(len(line) for line in console.export_text().splitlines()) > 200
    assert console.width == 60


def test_one_number_format_and_plurals(box: Path, tmp_path: Path) -> None:
    assert number(1000) == "1,000" and number(7) == "7" and number(2.5) == "2.5"
    assert plural(1, "row") == "1 row" and plural(1000, "row") == "1,000 rows" and plural(0, "key") == "0 keys"
    csv = tmp_path / "one.csv"
    csv.write_text("stadium_id,ts,attendance\n2,2024-01-02T00:00:00Z,5\n")
    text = " ".join(run("--box", box, "fg", "ingest", LONG_NAME, csv).stdout.split())
    assert "1 row inserted, 0 updated" in text and "Read 1 row from" in text
    many = tmp_path / "many.csv"
    many.write_text("stadium_id,ts,attendance\n" + "".join(f"{i},2024-01-03T00:00:00Z,{i}\n" for i in range(1000)))
    text = " ".join(run("--box", box, "fg", "ingest", LONG_NAME, many).stdout.split())
    assert "1,000 rows inserted" in text and "Read 1,000 rows from" in text, text


def test_errors_name_cli_flags_not_python_arguments(box: Path) -> None:
    refused = run("--box", box, "sql", "--as-of", "1", f"SELECT * FROM {LONG_NAME}_1", code=1)
    assert "--as-of" in refused.stderr and "as_of" not in refused.stderr, refused.stderr
    as_json = json.loads(run("--box", box, "-o", "json", "sql", "--as-of", "1", "SELECT 1", code=1).stdout)
    assert "--as-of" in as_json["message"]


def test_as_of_takes_a_commit_id_or_a_time(box: Path, tmp_path: Path) -> None:
    spine = tmp_path / "spine.csv"
    spine.write_text("stadium_id,at\n1,2024-06-01T00:00:00Z\n")
    by_id = json.loads(run("--box", box, "-o", "json", "features", "attendance", "-f", spine, "--as-of", "1").stdout)
    assert by_id["rows"][0]["attendance"] == 1000
    head = json.loads(run("--box", box, "-o", "json", "fg", "head", LONG_NAME, "--as-of", "1").stdout)
    assert head["row_count"] == 1
    early = json.loads(
        run("--box", box, "-o", "json", "fg", "head", LONG_NAME, "--as-of", "2000-01-01T00:00:00Z").stdout
    )
    assert early["row_count"] == 0


def test_no_box_here_but_one_in_the_directory(box: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(box.parent)
    refused = run("fg", "list", code=1)
    assert "--box b.lakebox" in refused.stderr and "LAKEBOX_HOME" in refused.stderr, refused.stderr
    assert len([line for line in refused.stderr.splitlines() if line.strip()]) == 1


def test_every_cli_module_is_under_600_lines() -> None:
    root = Path(__file__).resolve().parent.parent / "lakebox" / "cli"
    long = {p.name: n for p in root.glob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long

"""The fast ``lakebox fg list`` (``lakebox.entry``): the click CLI's bytes without click or rich,
or the click CLI itself.

Each subprocess test runs the console script's code (``lakebox.entry.main``) and the click CLI
(``lakebox.cli.main``) on the same box and compares stdout, stderr and the exit status byte
for byte; a marker file says which modules the entry imported, so a test also knows whether
the fast path answered or fell back. Property tests compare the hand-drawn table and the JSON
with rich's and jsonpolicy's in-process, and the plain-toml reader with tomllib.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import budget
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

import lakebox
from lakebox import entry, glance, textgrid
from lakebox.box import DEFAULT_DIRNAME, FORMAT_VERSION, TOML_NAME
from lakebox.catalog.db import migrations
from lakebox.cli import tables
from lakebox.cli.text_output import TextOutput
from lakebox.jsonpolicy import dumps
from lakebox.ops import relocate

ENTRY = "from lakebox.entry import main\nmain()"
CLICK = "from lakebox.cli import main\nmain()"
WATCHED = ("click", "rich", "rich.console", "lakebox.cli", "lakebox.box", "lakebox.catalog", "pyiceberg", "pandas",
           "dataclasses", "pathlib", "tomllib")  # fmt: skip
# environment variables that would change what either path prints
UNSET = ("COLUMNS", "LINES", "LAKEBOX_HOME", "FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


@dataclass
class Run:
    code: int
    out: bytes
    err: bytes
    imported: list[str]


def _run(code: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    marker = cwd / f".imported-{os.getpid()}"
    program = (
        "import atexit, sys\n"  # registered first, so it runs last: after click's and rich's exits
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write(' '.join(m for m in {WATCHED!r} "
        "if m in sys.modules)))\n" + code
    )
    environ = {k: v for k, v in os.environ.items() if k not in UNSET} | (env or {})
    done = subprocess.run(
        [sys.executable, "-c", program, *args], capture_output=True, cwd=cwd, env=environ, timeout=120
    )
    imported = marker.read_text().split()
    marker.unlink()
    return Run(done.returncode, done.stdout, done.stderr, imported)


def same(args: list[str], cwd: Path, env: dict[str, str] | None = None, fast: bool = True) -> Run:
    """Run ``lakebox ARGS`` both ways; assert the same bytes and status, and which path answered."""
    mine, theirs = _run(ENTRY, args, cwd, env), _run(CLICK, args, cwd, env)
    assert (mine.code, mine.out.decode(), mine.err.decode()) == (theirs.code, theirs.out.decode(), theirs.err.decode())
    assert mine.out == theirs.out and mine.err == theirs.err
    served = "click" not in mine.imported
    assert served == fast, f"{'fell back' if fast else 'answered fast'}: imported {mine.imported}"
    return mine


def _group(fs: Any, name: str, description: str, rows: int, event_time: bool = True) -> None:
    group = fs.create_feature_group(name, primary_key=["pid"], event_time="ts" if event_time else None,
                                    description=description)  # fmt: skip
    ts = pd.Timestamp("2026-01-01", tz="UTC")
    for day in range(rows):
        frame = {"pid": [1, 2], "rating": [0.5 + day, 0.7]}
        group.insert(pd.DataFrame({**frame, "ts": [ts + pd.Timedelta(days=day)] * 2} if event_time else frame))


@pytest.fixture(scope="module")
def odd_box(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Groups with long, unicode, markup-like and multi-line descriptions, one without data."""
    path = tmp_path_factory.mktemp("odd") / "odd.lakebox"
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        _group(fs, "plain", "Ratings of every player.", 2)
        _group(fs, "wide", "Ünïcödé résumé: 選手の評価 (名前, 数据) — café ✓ naïve e\u0301", 1, event_time=False)
        _group(fs, "markup", "[bold]not bold[/bold], [red]x[/] \\[escaped] [link=x]y[/link] back\\slash\\", 1)
        _group(fs, "lines", "first line\n  second, longer line  \n", 1)
        _group(fs, "long", " ".join(["a long description of a feature group"] * 8), 1)
        fs.create_feature_group("empty", primary_key=["k"], description="no data yet")
    return path


@pytest.fixture
def small_box(tmp_path: Path) -> Path:
    path = tmp_path / "small.lakebox"
    with lakebox.connect(path) as project:
        _group(project.get_feature_store(), "players", "ratings", 2)
    return path


# -- the same bytes, served fast ------------------------------------------------------------
def test_empty_box(tmp_path: Path) -> None:
    lakebox.connect(tmp_path / "e.lakebox").close()
    assert b"No feature groups yet" in same(["--box", "e.lakebox", "fg", "list"], tmp_path).out
    assert json.loads(same(["--box", "e.lakebox", "-o", "json", "fg", "list"], tmp_path).out) == {"feature_groups": []}


def test_demo_box_imports_neither_click_nor_rich(demo_box: Path) -> None:
    outputs = []
    for args in (["fg", "list"], ["-o", "json", "fg", "list"], ["fg", "list", "--output", "json"]):
        run = same(["--box", str(demo_box), *args], demo_box.parent)
        assert run.imported == [], f"lakebox {' '.join(args)} imported {run.imported}"
        outputs.append(run.out)
    assert b"players v1" in outputs[0] and json.loads(outputs[1])["feature_groups"][0]["name"] == "games"


def test_odd_descriptions(odd_box: Path) -> None:
    text = same(["--box", str(odd_box), "fg", "list"], odd_box.parent)
    assert "選手の評価" in text.out.decode() and "[bold]not bold[/bold]" in text.out.decode()
    assert "rich.console" not in text.imported  # the markup-like cell needs rich.markup, nothing more
    listed = json.loads(same(["--box", str(odd_box), "-o", "json", "fg", "list"], odd_box.parent).out)
    assert [g["name"] for g in listed["feature_groups"]] == ["empty", "lines", "long", "markup", "plain", "wide"]


def test_option_spellings_and_where_the_box_is_found(demo_box: Path) -> None:
    where = demo_box.parent
    for args in (
        ["--box=demo.lakebox", "-ojson", "fg", "list"],
        ["-o", "json", "--box", "nowhere", "--box", "demo.lakebox", "fg", "list", "-o", "text"],  # the last wins
        ["--output=text", "--box", "demo.lakebox", "fg", "list"],
    ):
        same(args, where)
    same(["fg", "list"], where, {"LAKEBOX_HOME": str(demo_box)})
    shutil.copytree(demo_box, where / DEFAULT_DIRNAME)  # ./.lakebox, the default box: a copy is a moved box,
    relocate.relocate(where / DEFAULT_DIRNAME)  # until relocated
    same(["-o", "json", "fg", "list"], where)


def test_columns_wide_enough_is_served_narrower_falls_back(demo_box: Path) -> None:
    same(["--box", str(demo_box), "fg", "list"], demo_box.parent, {"COLUMNS": "400", "NO_COLOR": "1"})
    same(["--box", str(demo_box), "fg", "list"], demo_box.parent, {"COLUMNS": "100"}, fast=False)  # rich fits it
    same(["--box", str(demo_box), "fg", "list"], demo_box.parent, {"COLUMNS": "abc"}, fast=False)
    same(["--box", str(demo_box), "-o", "json", "fg", "list"], demo_box.parent, {"COLUMNS": "40"})


# -- everything else is the click CLI ----------------------------------------------------------
def test_other_command_lines_fall_back(demo_box: Path) -> None:
    where = demo_box.parent
    for args in (["fg", "list", "--wide"], ["-v", "fg", "list"], ["fg", "list", "--help"], ["fg", "list", "x"],
                 ["-o", "yaml", "fg", "list"], ["fg", "show", "players"], ["--box"], []):  # fmt: skip
        same(["--box", str(demo_box), *args] if args[:1] != ["--box"] else args, where, fast=False)


@pytest.mark.parametrize("output", ["text", "json"])
def test_a_missing_box_gives_the_same_error(tmp_path: Path, output: str) -> None:
    run = same(["--box", "missing.lakebox", "-o", output, "fg", "list"], tmp_path, fast=False)
    assert run.code == 1
    lakebox.connect(tmp_path / "here.lakebox").close()  # the hint: "this directory has here.lakebox"
    hinted = same(["-o", output, "fg", "list"], tmp_path, fast=False)
    assert hinted.code == 1 and b"here.lakebox" in hinted.out + hinted.err


def test_terminal_and_rich_settings_fall_back(monkeypatch: pytest.MonkeyPatch, demo_box: Path) -> None:
    class Stream(io.StringIO):
        encoding = "utf-8"

        def __init__(self, tty: bool) -> None:
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    args = ["--box", str(demo_box), "fg", "list"]
    monkeypatch.setattr(sys, "stdout", Stream(tty=True))
    assert not entry.serve_listing(args)  # rich draws for a terminal
    assert entry.serve_listing(["-o", "json", *args]) and json.loads(sys.stdout.getvalue())  # JSON is JSON anywhere
    for name, value in (
        ("FORCE_COLOR", "1"),
        ("TTY_COMPATIBLE", "1"),
        ("TTY_INTERACTIVE", "0"),
        ("_LAKEBOX_COMPLETE", "x"),
    ):
        monkeypatch.setattr(sys, "stdout", Stream(tty=False))
        monkeypatch.setenv(name, value)
        assert not entry.serve_listing(args) and sys.stdout.getvalue() == "", name
        monkeypatch.delenv(name)
    assert entry.serve_listing(args) and sys.stdout.getvalue().startswith("Feature groups")
    ascii_stream = Stream(tty=False)
    ascii_stream.encoding = "ascii"
    monkeypatch.setattr(sys, "stdout", ascii_stream)
    assert not entry.serve_listing(args)  # click rewraps such a stream, rich draws an ASCII box


def test_a_box_only_the_full_path_can_open_falls_back(small_box: Path) -> None:
    """Each change is one the full path repairs, warns about or reports; the glance gives up."""
    assert glance.describe_groups(str(small_box)) is not None
    changes = {
        "log behind Iceberg": "DELETE FROM commits WHERE commit_id = (SELECT max(commit_id) FROM commits)",
        "catalog to migrate": f"PRAGMA user_version = {migrations()[-1][0] - 1}",
        "catalog of another box": "UPDATE box_meta SET value = 'other' WHERE key = 'box_id'",
        "external group": """UPDATE feature_groups SET settings = '{"external": {}}'""",
        "a row lakebox did not write": "UPDATE feature_groups SET primary_key = '\"pid\"'",
    }
    for why, sql in changes.items():
        copy = small_box.parent / why.replace(" ", "_") / small_box.name
        shutil.copytree(small_box, copy)
        relocate.relocate(copy)
        db = sqlite3.connect(copy / "catalog.db")
        with db:
            db.execute(sql)
        db.close()
        assert glance.describe_groups(str(copy)) is None, why
    toml = small_box / TOML_NAME
    text = toml.read_text()
    tomls = {
        "no box id": "\n".join(line for line in text.splitlines() if not line.startswith("box_id")),
        "newer format": text.replace("format_version = 1", "format_version = 2"),
        "not plain toml": text + "[table]\n",
        "moved": text.replace('warehouse_origin = "file:///', 'warehouse_origin = "file:///x'),
    }
    for why, changed in tomls.items():
        assert changed != text
        toml.write_text(changed)
        assert glance.describe_groups(str(small_box)) is None, why
    toml.write_text(text)
    shutil.rmtree(small_box / "logs")  # Box.open makes its folders
    assert glance.describe_groups(str(small_box)) is None
    (small_box / "logs").mkdir()
    assert glance.describe_groups(str(small_box)) is not None


def test_a_log_behind_iceberg_is_answered_by_the_feature_group(small_box: Path) -> None:
    db = sqlite3.connect(small_box / "catalog.db")
    with db:
        db.execute("DELETE FROM commits WHERE commit_id = (SELECT max(commit_id) FROM commits)")
    db.close()
    mine = _run(ENTRY, ["--box", str(small_box), "-o", "json", "fg", "list"], small_box.parent)
    assert "click" in mine.imported and "pyiceberg" in mine.imported and mine.code == 0
    assert mine.out == _run(CLICK, ["--box", str(small_box), "-o", "json", "fg", "list"], small_box.parent).out
    assert json.loads(mine.out)["feature_groups"][0]["commit_count"] == 2


# -- the pieces: what they mirror, and property tests ---------------------------------------------
def test_mirrored_constants_and_paths(tmp_path: Path) -> None:
    assert (glance.TOML_NAME, glance.DEFAULT_DIRNAME, glance.FORMAT_VERSION) == (
        TOML_NAME,
        DEFAULT_DIRNAME,
        FORMAT_VERSION,
    )
    assert glance.newest_migration() == migrations()[-1][0]
    assert (glance.CATALOG_NAME, glance.NAMESPACE) == (relocate.CATALOG_NAME, relocate.NAMESPACE)
    assert entry.WIDEST == tables.WIDEST
    for name in ("plain", "with space", "ünï", "percent%20", "q?h#", "semi;colon", "~tilde", "a+b=c"):
        path = tmp_path / name
        assert glance.file_uri(str(path)) == path.as_uri()
    path = tmp_path / "b.lakebox"
    with lakebox.connect(path) as project:
        _group(project.get_feature_store(), "g", "", 1)
        assert glance.describe_groups(str(path)) == project.describe_feature_groups()


def test_parse_listing() -> None:
    assert entry.parse_listing(["fg", "list"]) == (None, "text")
    assert entry.parse_listing(["-ojson", "--box=b", "fg", "list", "--output", "text"]) == ("b", "text")
    for args in (["fg"], ["fg", "list", "-o"], ["--box", "fg", "list"], ["fg", "-o", "json", "list"], ["-V"],
                 ["-o=json", "fg", "list"], ["--", "fg", "list"], ["--bo", "x", "fg", "list"],
                 ["fg", "list", "-o", "JSON"]):  # fmt: skip
        assert entry.parse_listing(args) is None, args


PIECE = st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Zs")) | st.sampled_from(
    ["[", "]", "[/]", "[bold]", "[/bold]", "\\", "\n", " ", "  ", "\t", "\x1b", "\x85", "\u200b", "\u00ad", "\u2028",
     "\u200d", "\ufe0f", "名前", "e\u0301", "😀", "lakebox"])  # fmt: skip
TEXT = st.lists(PIECE, max_size=14).map("".join)
GROUP = st.fixed_dictionaries({
    "name": TEXT, "version": st.integers(1, 10**4), "primary_key": st.lists(TEXT, min_size=1, max_size=3),
    "event_time": st.none() | TEXT, "features": st.lists(st.just({}), max_size=3),
    "commit_count": st.integers(0, 10**7), "description": TEXT,
})  # fmt: skip


@settings(max_examples=budget.examples(dev=150, ci=1000), deadline=None)
@given(groups=st.lists(GROUP, max_size=4))
def test_the_hand_drawn_table_is_rich_s(groups: list[dict[str, Any]]) -> None:
    with pytest.MonkeyPatch.context() as env:
        for name in UNSET:
            env.delenv(name, raising=False)
        out = io.StringIO()
        TextOutput(Console(file=out, emoji=False), Console(file=io.StringIO(), emoji=False)).groups(groups)
        drawn = entry._text(groups)
    ordinary = all(textgrid._SPECIAL.isdisjoint(cell) for g in groups for cell in textgrid.group_cells(g, str))
    assert drawn is not None or not ordinary, "ordinary text must be drawn without rich"
    if drawn is not None:
        assert drawn == out.getvalue()


@settings(max_examples=budget.examples(dev=50, ci=300), deadline=None)
@given(groups=st.lists(GROUP, max_size=3))
def test_the_json_is_jsonpolicy_s(groups: list[dict[str, Any]]) -> None:
    assert entry._json(groups) == dumps({"feature_groups": groups}, indent=2) + "\n"


KEY = st.text("abz_-09A", min_size=1, max_size=5)
LINE = st.one_of(
    st.builds(lambda k, v: f"{k} = {json.dumps(v, ensure_ascii=False)}", KEY, st.text(max_size=8)),
    st.builds(lambda k, v, sp: f"{k}{sp}={sp}{v}", KEY, st.integers(0, 10**6), st.sampled_from(["", " ", "\t", "  "])),
    st.builds(lambda t: f"# {t}", st.text(max_size=10)),
    st.sampled_from(["", "   ", "[table]", "a.b = 1", "x = 1 # c", "x = 01", "x = -1", "x = 'lit'", 'x = "\\n"', "x = true",
                     "x = 1.5", '"q" = 1', "x =", "= 1", "x = 1_000", "\ufeffx = 1"]),
)  # fmt: skip


@settings(max_examples=budget.examples(dev=200, ci=2000), deadline=None)
@given(lines=st.lists(LINE, max_size=6))
def test_plain_toml_reads_as_tomllib_reads_it(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    found = glance.read_settings(text)
    if found is not None:
        assert found == tomllib.loads(text)


def test_plain_toml_reads_what_lakebox_writes(small_box: Path) -> None:
    text = (small_box / TOML_NAME).read_text()
    assert glance.read_settings(text) == tomllib.loads(text)


@pytest.fixture(autouse=True)
def _no_stray_columns(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    yield

"""The box: layout on disk, format version, catalog migrations, reopening (DESIGN §1)."""

from __future__ import annotations

import sqlite3
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
from helpers import players, read_rows

import lakebox
from lakebox.box import FORMAT_VERSION
from lakebox.catalog.db import migrations


def _pragma(db: Path, name: str) -> object:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]


def test_connect_creates_the_layout(tmp_path: Path) -> None:
    root = tmp_path / "nested" / "my.lakebox"
    with lakebox.connect(root) as project:
        assert project.path == root.resolve()
        assert project.name == "my.lakebox"
    for directory in ("warehouse", "online", "artifacts", "logs"):
        assert (root / directory).is_dir(), directory
    settings = tomllib.loads((root / "lakebox.toml").read_text())
    assert settings["format_version"] == FORMAT_VERSION
    assert (root / "catalog.db").is_file()
    assert not list(root.glob("*.tmp")), "the toml is written atomically, no temp file left"


def test_catalog_is_sqlite_in_wal_mode(project: lakebox.Project) -> None:
    assert _pragma(project.path / "catalog.db", "journal_mode") == "wal"


def test_migrations_are_applied_once(box_path: Path) -> None:
    newest = max(number for number, _ in migrations())
    lakebox.connect(box_path).close()
    assert _pragma(box_path / "catalog.db", "user_version") == newest >= 1
    with closing(sqlite3.connect(box_path / "catalog.db")) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"feature_groups", "features", "commits"} <= tables
    lakebox.connect(box_path).close()  # reopening re-applies nothing (a re-run would fail on CREATE TABLE)
    assert _pragma(box_path / "catalog.db", "user_version") == newest


def test_reopen_keeps_groups_and_data(box_path: Path) -> None:
    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().create_feature_group("players", primary_key=["pid"], event_time="ts")
        fg.insert(players([1, 2]))
    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().get_feature_group("players")
        assert [r[0] for r in read_rows(fg)] == [1, 2]
        assert list(fg.commit_details()) == [1]


def test_connect_uses_lakebox_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAKEBOX_HOME", str(tmp_path / "home.lakebox"))
    with lakebox.connect() as project:
        assert project.path == (tmp_path / "home.lakebox").resolve()
    assert (tmp_path / "home.lakebox" / "lakebox.toml").is_file()


def test_newer_format_version_is_refused(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    (box_path / "lakebox.toml").write_text(f"format_version = {FORMAT_VERSION + 1}\n")
    with pytest.raises(lakebox.StorageError, match="newer"):
        lakebox.connect(box_path)


def test_toml_without_format_version_is_refused(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    (box_path / "lakebox.toml").write_text("something = 1\n")
    with pytest.raises(lakebox.StorageError, match="format_version"):
        lakebox.connect(box_path)


def test_unreadable_toml_is_refused(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    (box_path / "lakebox.toml").write_text("format_version = = 1\n")
    with pytest.raises(lakebox.StorageError):
        lakebox.connect(box_path)


def test_catalog_schema_newer_than_code_is_refused(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    with closing(sqlite3.connect(box_path / "catalog.db")) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(lakebox.StorageError, match="newer"):
        lakebox.connect(box_path)


def test_non_empty_directory_that_is_not_a_box_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "stuff"
    root.mkdir()
    (root / "thesis.tex").write_text("important")
    with pytest.raises(lakebox.StorageError, match="not a lakebox box"):
        lakebox.connect(root)
    assert sorted(p.name for p in root.iterdir()) == ["thesis.tex"], "nothing was created in it"


def test_empty_existing_directory_becomes_a_box(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    root.mkdir()
    lakebox.connect(root).close()
    assert (root / "lakebox.toml").is_file()


def test_a_file_is_not_a_box(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(lakebox.StorageError):
        lakebox.connect(path)


def test_errors_share_one_root_with_code_and_status() -> None:
    for cls in (
        lakebox.NotFoundError,
        lakebox.AlreadyExistsError,
        lakebox.ValidationError,
        lakebox.InvalidNameError,
        lakebox.SchemaMismatchError,
        lakebox.NullKeyError,
        lakebox.DuplicateKeyError,
        lakebox.TimezoneError,
        lakebox.ConflictError,
        lakebox.StorageError,
        lakebox.QueryError,
        lakebox.AuthError,
    ):
        assert issubclass(cls, lakebox.LakeboxError)
        assert isinstance(cls.code, str) and cls.code
        assert 400 <= cls.http_status < 600
    for cls in (lakebox.SchemaMismatchError, lakebox.NullKeyError, lakebox.DuplicateKeyError, lakebox.TimezoneError):
        assert issubclass(cls, lakebox.ValidationError)
    error = lakebox.NullKeyError("bad", rows=[1, 2])
    assert error.to_dict() == {"error": "null_key", "message": "bad", "details": {"rows": [1, 2]}}


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts file descriptors via /proc")
def test_open_and_close_many_times_leaks_no_file_descriptors(box_path: Path) -> None:
    import gc

    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().create_feature_group("players", primary_key=["pid"], event_time="ts")
        fg.insert(players([1]))
    gc.collect()
    before = _open_fds()
    gc.disable()  # deterministic: closing must release resources, not the garbage collector
    try:
        for i in range(10):
            with lakebox.connect(box_path) as project:
                fs = project.get_feature_store()
                fg = fs.get_feature_group("players")
                fg.insert(players([i + 2]))
                fg.read()
                fs.sql("SELECT count(*) FROM players")
        leaked = _open_fds() - before
    finally:
        gc.enable()
        gc.collect()
    assert leaked <= 2, f"{leaked} file descriptors left open after 10 open/close cycles"

"""A box that never lies (issue 17): lost, emptied or foreign parts are refused with a
``StorageError`` that says what is missing and how to recover, damaged files never kill the
process, and a new group never reads another group's online rows."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import tomllib
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from helpers import TS, day, players, read_rows

import lakebox
from lakebox.catalog.db import CatalogDB
from lakebox.offline.warehouse import Warehouse
from lakebox.online.store import OnlineStore, check_data_file
from lakebox.online.table import OnlineTable

ROOT = Path(__file__).resolve().parents[1]


def _box_with_group(path: Path, online: bool = False, keys: int = 3) -> None:
    with lakebox.connect(path) as project:
        fs = project.get_feature_store()
        fg = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=online)
        fg.insert(players(list(range(1, keys + 1))))


def _files(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): p.stat().st_size for p in root.rglob("*") if p.is_file() and ".locks" not in p.parts
    }


def _remove_catalog(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        (path / f"catalog.db{suffix}").unlink(missing_ok=True)


# -- the catalog: lost, emptied, damaged ----------------------------------------------------
def test_a_lost_catalog_is_refused_not_replaced(box_path: Path) -> None:
    _box_with_group(box_path)
    _remove_catalog(box_path)
    before = _files(box_path)
    with pytest.raises(lakebox.StorageError, match="catalog.db is missing") as info:
        lakebox.connect(box_path)
    assert "lakebox backup" in str(info.value) and "lakebox doctor" in str(info.value)
    assert _files(box_path) == before, "nothing was created in place of the lost catalog"


@pytest.mark.parametrize("how", ["truncated", "tables dropped"])
def test_an_emptied_catalog_is_refused(box_path: Path, how: str) -> None:
    _box_with_group(box_path)
    catalog = box_path / "catalog.db"
    if how == "truncated":
        for suffix in ("-wal", "-shm"):
            (box_path / f"catalog.db{suffix}").unlink(missing_ok=True)
        catalog.write_bytes(b"")
    else:
        _remove_catalog(box_path)
        with closing(sqlite3.connect(catalog)) as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # a valid, table-less SQLite file
    with pytest.raises(lakebox.StorageError, match="is empty") as info:
        lakebox.connect(box_path)
    assert "lakebox backup" in str(info.value)
    with closing(sqlite3.connect(catalog)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0, "no tables were created"


def test_a_corrupted_catalog_is_a_storage_error_naming_the_file(box_path: Path) -> None:
    _box_with_group(box_path)
    catalog = box_path / "catalog.db"
    for suffix in ("-wal", "-shm"):
        (box_path / f"catalog.db{suffix}").unlink(missing_ok=True)
    data = bytearray(catalog.read_bytes())
    data[:100] = b"\xa5" * 100  # the SQLite header
    catalog.write_bytes(bytes(data))
    with pytest.raises(lakebox.StorageError, match="damaged") as info:
        lakebox.connect(box_path)
    assert str(catalog) in str(info.value) and "lakebox backup" in str(info.value)
    assert isinstance(info.value, lakebox.LakeboxError)


def test_catalog_errors_inside_a_write_block_are_lakebox_errors(tmp_path: Path) -> None:
    db = CatalogDB(tmp_path / "c.db")
    with db.write() as conn:
        conn.execute("INSERT INTO box_meta (key, value) VALUES ('k', 'v')")
    with pytest.raises(lakebox.AlreadyExistsError), db.write() as conn:
        conn.execute("INSERT INTO box_meta (key, value) VALUES ('k', 'other')")
    with pytest.raises(lakebox.StorageError), db.write() as conn:
        conn.execute("INSERT INTO no_such_table VALUES (1)")
    with pytest.raises(lakebox.StorageError):
        db.query("SELECT * FROM no_such_table")
    assert db.query("SELECT value FROM box_meta WHERE key = 'k'")[0][0] == "v"  # rolled back, still usable
    # code that catches sqlite3's own classes to word its message keeps working
    with pytest.raises(sqlite3.IntegrityError), db.write() as conn:
        conn.execute("INSERT INTO box_meta (key, value) VALUES ('k', 'again')")
    db.close()


def test_a_busy_catalog_is_a_conflict_with_a_retry_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lakebox.catalog.db as catalog_db

    monkeypatch.setattr(catalog_db, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / "c.db"
    holder = CatalogDB(path)
    other = CatalogDB(path)
    with holder.write():
        with pytest.raises(lakebox.ConflictError, match="busy") as info, other.write():
            pass
    assert "Retry" in str(info.value)
    holder.close()
    other.close()


# -- box identity ---------------------------------------------------------------------------
def _box_id(path: Path) -> str:
    return str(tomllib.loads((path / "lakebox.toml").read_text())["box_id"])


def test_a_new_box_records_one_box_id_in_every_part(box_path: Path) -> None:
    with lakebox.connect(box_path) as project:
        box_id = _box_id(box_path)
        assert len(box_id) == 36  # a uuid
        assert CatalogDB(box_path / "catalog.db", create=False).stored_box_id() == box_id
        store = OnlineStore(box_path / "online", box_id=box_id)
        assert store.stored_box_id() == box_id
        store.close()
        del project


def test_an_old_box_without_box_id_gets_the_catalogs(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    box_id = _box_id(box_path)
    toml = box_path / "lakebox.toml"
    toml.write_text("\n".join(line for line in toml.read_text().splitlines() if not line.startswith("box_id")) + "\n")
    assert "box_id" not in tomllib.loads(toml.read_text())
    lakebox.connect(box_path).close()
    assert _box_id(box_path) == box_id
    assert tomllib.loads(toml.read_text())["format_version"] == lakebox.box.FORMAT_VERSION
    assert not list(box_path.glob("*.tmp"))


def test_a_catalog_of_another_box_is_refused(tmp_path: Path) -> None:
    mine, other = tmp_path / "mine.lakebox", tmp_path / "other.lakebox"
    _box_with_group(mine)
    lakebox.connect(other).close()
    _remove_catalog(mine)
    shutil.copy(other / "catalog.db", mine / "catalog.db")
    with pytest.raises(lakebox.StorageError, match="belongs to another box") as info:
        lakebox.connect(mine)
    assert _box_id(mine) in str(info.value) and _box_id(other) in str(info.value)


def test_an_online_store_of_another_box_is_refused(tmp_path: Path) -> None:
    store = OnlineStore(tmp_path / "online", box_id="box-a")
    store.write(lambda txn: store.set_watermark(txn, "t1", 1))
    store.close()
    with pytest.raises(lakebox.StorageError, match="belongs to another box") as info:
        _ = OnlineStore(tmp_path / "online", box_id="box-b").env
    assert "lakebox online rebuild" in str(info.value)
    again = OnlineStore(tmp_path / "online", box_id="box-a")  # its own box still opens it
    assert again.watermark("t1") == 1
    again.close()


def test_an_iceberg_catalog_of_another_box_is_refused(tmp_path: Path) -> None:
    (tmp_path / "warehouse").mkdir()
    Warehouse(tmp_path / "warehouse", box_id="box-a").close()
    _ = Warehouse(tmp_path / "warehouse", box_id="box-a").catalog  # its own box: fine
    with pytest.raises(lakebox.StorageError, match="belongs to another box"):
        _ = Warehouse(tmp_path / "warehouse", box_id="box-b").catalog


def test_a_lost_iceberg_catalog_is_refused_when_groups_exist(box_path: Path) -> None:
    _box_with_group(box_path)
    (box_path / "warehouse" / "iceberg_catalog.db").unlink()
    with pytest.raises(lakebox.StorageError, match="Iceberg catalog .* is missing") as info:
        lakebox.connect(box_path)
    assert "1 feature group" in str(info.value) and "lakebox backup" in str(info.value)
    assert not (box_path / "warehouse" / "iceberg_catalog.db").exists()


def test_a_box_without_groups_recreates_its_iceberg_catalog(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    (box_path / "warehouse" / "iceberg_catalog.db").unlink(missing_ok=True)
    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().create_feature_group("players", primary_key=["pid"], event_time="ts")
        fg.insert(players([1]))
        assert [r[0] for r in read_rows(fg)] == [1]


# -- Iceberg metadata ----------------------------------------------------------------------
def _current_metadata(project: Any, fg: Any) -> Path:
    location = project.engines.warehouse.metadata_location(fg._row.table_name)
    assert location is not None
    return Path(location.removeprefix("file://"))


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_damaged_iceberg_metadata_is_a_storage_error_naming_the_file(box_path: Path, damage: str) -> None:
    _box_with_group(box_path)
    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().get_feature_group("players", 1)
        metadata = _current_metadata(project, fg)
        if damage == "deleted":
            metadata.unlink()
        else:
            metadata.write_text(metadata.read_text()[:200])
        with pytest.raises(lakebox.StorageError, match="metadata") as info:
            fg.read()
        assert metadata.name in str(info.value)
        assert "lakebox doctor" in str(info.value)
        assert isinstance(info.value.__cause__, Exception)  # the foreign error is kept as the cause


# -- the online store ----------------------------------------------------------------------
TRUNCATED_READER = """
import sys
import lakebox
try:
    fg = lakebox.connect(sys.argv[1]).get_feature_store().get_feature_group("players", 1)
    fg.read(online=True)
except lakebox.StorageError as e:
    print("StorageError:", e)
    sys.exit(3)
print("read", flush=True)
"""


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_a_truncated_online_file_is_a_storage_error_not_sigbus(box_path: Path) -> None:
    _box_with_group(box_path, online=True, keys=20_000)
    data = box_path / "online" / "data.mdb"
    size = data.stat().st_size
    assert size > 64 * 4096, "enough pages that a truncation cuts some off"
    with open(data, "r+b") as f:
        f.truncate(size // 3)
    result = subprocess.run(
        [sys.executable, "-c", TRUNCATED_READER, str(box_path)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 3, f"exit {result.returncode}: {result.stdout}{result.stderr}"
    assert "truncated" in result.stdout and "lakebox online rebuild" in result.stdout
    # deleting the online store is the recovery: a read rebuilds the group from the offline store
    shutil.rmtree(box_path / "online")
    with lakebox.connect(box_path) as project:
        fg = project.get_feature_store().get_feature_group("players", 1)
        assert len(fg.read(online=True)) == 20_000


def test_header_check_of_the_online_file(tmp_path: Path) -> None:
    check_data_file(tmp_path)  # no file: a fresh environment, fine
    store = OnlineStore(tmp_path, box_id="b")
    store.write(lambda txn: store.set_watermark(txn, "t", 1))
    store.close()
    data = tmp_path / "data.mdb"
    check_data_file(tmp_path)
    good = data.read_bytes()
    data.write_bytes(good[:100])
    with pytest.raises(lakebox.StorageError, match="only 100 bytes"):
        check_data_file(tmp_path)
    data.write_bytes(b"\x00" * len(good))
    with pytest.raises(lakebox.StorageError, match="page size|meta page"):
        check_data_file(tmp_path)
    broken = bytearray(good)
    broken[16:20] = b"\x00\x00\x00\x00"  # the magic of the first meta page
    data.write_bytes(bytes(broken))
    with pytest.raises(lakebox.StorageError, match="not an LMDB meta page") as info:
        _ = OnlineStore(tmp_path, box_id="b").env
    assert "lakebox online rebuild" in str(info.value)


def test_online_tables_of_different_groups_never_share_rows(tmp_path: Path) -> None:
    schema = pa.schema([("pid", pa.int64()), ("ts", TS), ("v", pa.float64())])
    store = OnlineStore(tmp_path / "online", box_id="b")
    first = OnlineTable(store, "players_v1_aaaa0001", schema, ["pid"], "ts")
    first.upsert(pa.table({"pid": [1], "ts": pa.array([day(1)], TS), "v": [1.0]}, schema=schema), 1)
    second = OnlineTable(store, "players_v1_bbbb0002", schema, ["pid"], "ts")
    with store.read(first.name, second.name) as txn:
        assert first.get(txn, [1]) is not None
        assert second.get(txn, [1]) is None
    assert store.watermark("players_v1_bbbb0002") == 0
    store.close()


def test_a_group_created_after_a_catalog_restore_never_reads_old_online_rows(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    backup = box_path.parent / "catalog-backup.db"
    shutil.copy(box_path / "catalog.db", backup)  # closed: checkpointed, no WAL
    _box_with_group(box_path, online=True)  # players v1, keys 1..3, served online
    _remove_catalog(box_path)
    shutil.copy(backup, box_path / "catalog.db")  # restore the older catalog (same box id)
    with lakebox.connect(box_path) as project:
        fs = project.get_feature_store()
        again = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
        again.insert(players([7]))
        assert again.read(online=True)["pid"].tolist() == [7]


CONNECTOR = """
import sys, tomllib
from pathlib import Path
import lakebox
lakebox.connect(sys.argv[1]).close()
print(tomllib.loads((Path(sys.argv[1]) / "lakebox.toml").read_text())["box_id"])
"""


@pytest.mark.slow  # four interpreters importing lakebox at once
def test_processes_creating_one_box_at_once_agree_on_it(tmp_path: Path) -> None:
    box = tmp_path / "shared.lakebox"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CONNECTOR, str(box)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [(child.communicate(timeout=300), child.returncode) for child in children]
    assert all(code == 0 for _, code in results), results
    ids = {out.strip() for (out, _), _ in results}
    assert ids == {_box_id(box)}
    assert CatalogDB(box / "catalog.db", create=False).stored_box_id() == _box_id(box)


def test_a_lost_toml_is_refused_when_the_box_holds_data(box_path: Path) -> None:
    _box_with_group(box_path)
    (box_path / "lakebox.toml").unlink()
    with pytest.raises(lakebox.StorageError, match="lakebox.toml was lost"):
        lakebox.connect(box_path)


def test_a_creation_that_died_before_its_toml_is_finished_on_the_next_connect(box_path: Path) -> None:
    lakebox.connect(box_path).close()
    box_id = _box_id(box_path)
    (box_path / "lakebox.toml").unlink()  # what a creator killed before its last step leaves
    for leftover in (box_path / "warehouse").iterdir():
        leftover.unlink()
    lakebox.connect(box_path).close()
    assert _box_id(box_path) == box_id  # the catalog's id was kept

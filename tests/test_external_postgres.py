"""External feature groups over a real PostgreSQL server, started from the Debian packages on
this machine (skipped, with the reason, where there are none): the password comes from an
environment variable or a secrets file and is never written anywhere in the box."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import lakebox
import lakebox.sources as sources

# initdb and a server start take 10-20 s on a loaded machine: CI runs these (LAKEBOX_SLOW=1 here)
pytestmark = pytest.mark.slow

PASSWORD = "pw-9f3c1e7a-never-stored"
BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _bin() -> Path | None:
    for folder in BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with user ``lakebox`` (password auth); yields its URL."""
    pytest.importorskip("adbc_driver_postgresql", reason="the 'sources' extra (adbc-driver-postgresql) is not installed")
    folder = _bin()
    if folder is None:
        pytest.skip("no PostgreSQL server binaries (Debian's postgresql package) on this machine")
    prefix: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="lakebox-pg-"))  # not under tmp_path: its parents are private
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as the postgres user
        if shutil.which("setpriv") is None or not _user_exists("postgres"):
            pytest.skip("running as root without a 'postgres' user or setpriv to start PostgreSQL as")
        prefix = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups"]
        shutil.chown(root, "postgres")
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if prefix:
        shutil.chown(pwfile, "postgres")
    data, port = root / "data", _free_port()
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, timeout=120)  # noqa: E731
    try:
        run(str(folder / "initdb"), "-D", str(data), "-U", "lakebox", f"--pwfile={pwfile}", "--auth=scram-sha-256")
        pwfile.unlink()
        run(str(folder / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start")
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"could not start PostgreSQL from {folder}: {e.stderr.decode(errors='replace')[-300:]}")
    try:
        yield f"postgresql://lakebox@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(folder / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def load(url: str, table: pa.Table, name: str = "orders") -> None:
    import adbc_driver_postgresql.dbapi as dbapi

    host = url.replace("postgresql://lakebox@", f"postgresql://lakebox:{PASSWORD}@")
    with dbapi.connect(host) as con:
        with con.cursor() as cursor:
            cursor.adbc_ingest(name, table, mode="replace")
        con.commit()


T0 = datetime(2026, 1, 1, tzinfo=UTC)


def orders() -> pa.Table:
    return pa.table({
        "order_id": pa.array([1, 2, 1, 3], pa.int64()),
        "ts": pa.array([T0 + timedelta(days=i) for i in range(4)], pa.timestamp("us", tz="UTC")),
        "amount": [1.0, 2.0, 3.0, 4.0],
    })


def test_postgres_table_with_the_password_from_the_environment(
    server: str, fs: Any, box_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load(server, orders())
    monkeypatch.setenv("SHOP_PG_PASSWORD", PASSWORD)
    ext = fs.create_external_feature_group(
        "orders", source=sources.postgres(server, table="orders", password_env="SHOP_PG_PASSWORD"),
        primary_key=["order_id"], event_time="ts",
    )
    got = ext.read(dataframe_type="arrow")
    assert got.to_pylist() == orders().sort_by([("order_id", "ascending"), ("ts", "ascending")]).to_pylist()
    q = ext.select(["order_id", "amount"]).filter(ext.amount > 1.5)
    assert sorted(q.read()["amount"]) == [2.0, 3.0, 4.0]
    # the password is nowhere in the box: not in the catalog, its WAL, or any other file
    for path in box_path.rglob("*"):
        if path.is_file():
            assert PASSWORD.encode() not in path.read_bytes(), path
    # without it, reading is a clear error naming the variable
    monkeypatch.delenv("SHOP_PG_PASSWORD")
    with pytest.raises(lakebox.ValidationError, match="SHOP_PG_PASSWORD"):
        ext.read()


def test_postgres_query_with_a_secrets_file(server: str, fs: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    load(server, orders(), "orders_q")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "shop_pg").write_text(PASSWORD + "\n")
    monkeypatch.setenv("LAKEBOX_SECRETS_DIR", str(secrets))
    source = sources.postgres(server, query="SELECT order_id, ts, amount FROM orders_q WHERE order_id <> 3",
                              password_secret="shop_pg")
    (secrets / "shop_pg").chmod(0o644)
    with pytest.raises(lakebox.ValidationError, match="chmod 600"):
        fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    (secrets / "shop_pg").chmod(0o600)
    ext = fs.create_external_feature_group("orders", source=source, primary_key=["order_id"], event_time="ts")
    assert ext.read().shape[0] == 3
    assert "shop_pg" in str(ext.describe()["source"]) and PASSWORD not in str(ext.describe())


def test_a_wrong_password_is_a_query_error_that_does_not_echo_it(server: str, fs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_PG_PASSWORD", "wrong-" + PASSWORD)
    with pytest.raises(lakebox.QueryError) as raised:
        fs.create_external_feature_group(
            "orders", source=sources.postgres(server, table="orders", password_env="SHOP_PG_PASSWORD"),
            primary_key=["order_id"],
        )
    assert PASSWORD not in str(raised.value)

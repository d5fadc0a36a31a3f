"""Reading a source as Arrow: DuckDB for files and DuckDB databases, ADBC for SQLite and
PostgreSQL. Every read opens its own connection, read-only, and closes it.

Errors are wrapped at this boundary: a missing file is ``NotFoundError``, a failing query or
table is ``QueryError`` naming the source, a missing driver is ``MissingDependencyError``.
A PostgreSQL password is read here from its environment variable or secrets file, placed in
the connection string in memory only, and never logged or returned.
"""

from __future__ import annotations

import glob as globbing
import os
import stat
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import MissingDependencyError, NotFoundError, QueryError, StorageError, ValidationError
from lakebox.sources.spec import Source

SECRETS_ENV = "LAKEBOX_SECRETS_DIR"


def read(source: Source, secrets_dir: Path | None = None) -> pa.Table:
    """Every row of ``source`` as Arrow, in the source's own types."""
    if source.kind == "files":
        return _read_files(source)
    if source.kind == "duckdb":
        return _read_duckdb(source)
    if source.kind == "sqlite":
        return _read_sqlite(source)
    if source.kind == "postgres":
        return _read_postgres(source, secrets_dir)
    raise ValidationError(f"Unknown source kind {source.kind!r}.")


def _select(source: Source, dialect: str) -> str:
    """The source's own query, or ``SELECT * FROM "table"`` built as a tree (names quoted)."""
    if source.query is not None:
        return source.query
    assert source.table is not None
    return exp.select("*").from_(exp.to_table(source.table)).sql(dialect=dialect, identify=True)


# -- DuckDB: files and database files -----------------------------------------------------------
def _read_files(source: Source) -> pa.Table:
    import duckdb

    if not globbing.glob(source.location, recursive=True):
        raise NotFoundError(
            f"No files match {source.location!r} (the external source's glob); check the path, or that the "
            "shared filesystem is mounted.",
            path=source.location,
        )
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
        options: dict[str, Any] = {}
        if source.options.get("hive_partitioning"):
            options["hive_partitioning"] = True
        if source.format == "parquet":
            relation = con.read_parquet(source.location, **options)
        elif source.format == "csv":
            relation = con.read_csv(source.location, **options)
        else:
            relation = con.read_json(source.location, **options)
        return relation.to_arrow_table()
    except duckdb.Error as e:
        raise QueryError(f"Reading the external source {source.describe()} failed in DuckDB: {e}") from e
    finally:
        con.close()


def _read_duckdb(source: Source) -> pa.Table:
    import duckdb

    _require_file(source)
    try:
        con = duckdb.connect(source.location, read_only=True)
    except duckdb.Error as e:
        raise StorageError(f"Cannot open the DuckDB database {source.location} read-only: {e}") from e
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute("SET enable_external_access = false")  # the query reads this database only
        return con.sql(_select(source, "duckdb")).to_arrow_table()
    except duckdb.Error as e:
        raise QueryError(f"Reading the external source {source.describe()} failed in DuckDB: {e}") from e
    finally:
        con.close()


# -- ADBC: SQLite and PostgreSQL ---------------------------------------------------------------
def _read_sqlite(source: Source) -> pa.Table:
    dbapi = _driver("adbc_driver_sqlite.dbapi", "adbc-driver-sqlite")
    _require_file(source)
    uri = Path(source.location).as_uri() + "?mode=ro"  # read-only; the path percent-encoded
    return _adbc_read(dbapi, uri, source, "sqlite")


def _read_postgres(source: Source, secrets_dir: Path | None) -> pa.Table:
    dbapi = _driver("adbc_driver_postgresql.dbapi", "adbc-driver-postgresql")
    uri = _with_password(source.location, password(source, secrets_dir))
    return _adbc_read(dbapi, uri, source, "postgres")


def _adbc_read(dbapi: Any, uri: str, source: Source, dialect: str) -> pa.Table:
    import adbc_driver_manager

    try:
        with dbapi.connect(uri) as con, con.cursor() as cursor:
            cursor.execute(_select(source, dialect))
            return cursor.fetch_arrow_table()
    except adbc_driver_manager.Error as e:
        text = str(e).replace(uri, source.location)  # never echo a connection string with a password
        raise QueryError(f"Reading the external source {source.describe()} failed: {text}") from None


def _driver(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(
            f"Reading this source needs the {package} driver: pip install 'lakebox[sources]' (or {package})."
        ) from e


def _require_file(source: Source) -> None:
    if not Path(source.location).is_file():
        raise NotFoundError(f"The {source.kind} database {source.location} does not exist.", path=source.location)


# -- secrets ------------------------------------------------------------------------------------
def password(source: Source, secrets_dir: Path | None) -> str | None:
    """The PostgreSQL password: from ``password_env`` or the secrets file ``password_secret``."""
    if source.password_env is not None:
        value = os.environ.get(source.password_env)
        if value is None:
            raise ValidationError(
                f"The external source {source.describe()} takes its password from the environment variable "
                f"{source.password_env}, which is not set. Set it before reading."
            )
        return value
    if source.password_secret is not None:
        folder = Path(os.environ[SECRETS_ENV]) if os.environ.get(SECRETS_ENV) else secrets_dir
        if folder is None:
            raise ValidationError(f"No secrets folder: set {SECRETS_ENV} to the folder holding {source.password_secret!r}.")
        path = folder / source.password_secret
        if not path.is_file():
            raise NotFoundError(
                f"The secrets file {path} (password_secret={source.password_secret!r}) does not exist. Write the "
                f"password into it (chmod 600), or set {SECRETS_ENV} to the folder that has it."
            )
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ValidationError(
                f"The secrets file {path} can be read by other users; run `chmod 600 {path}` first."
            )
        return path.read_text().strip("\r\n")
    return None


def _with_password(url: str, secret: str | None) -> str:
    """``url`` with the password inserted (in memory only); unchanged when there is none.
    Sessions are read-only: ``default_transaction_read_only`` is switched on."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if secret is not None:
        user, _, host = netloc.rpartition("@")
        if not user:
            raise ValidationError("The PostgreSQL URL needs a user name (postgresql://user@host/db) to use a password.")
        netloc = f"{user}:{quote(secret, safe='')}@{host}"
    options = quote("-c default_transaction_read_only=on", safe="")
    query = f"{parts.query}&options={options}" if parts.query else f"options={options}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))

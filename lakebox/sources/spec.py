"""What a source is: a frozen value the catalog can store (``to_dict``) and rebuild.

Constructors check what can be checked without reading (one of ``query=``/``table=``, a known
file format, no password inside a PostgreSQL URL); ``lakebox.sources.readers`` reads.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lakebox.errors import ValidationError

KINDS = ("files", "duckdb", "sqlite", "postgres")
FORMATS = ("parquet", "csv", "json")
_SUFFIXES = {
    ".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
    ".json": "json", ".jsonl": "json", ".ndjson": "json",
}
_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")
_SECRET = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Source:
    """Where an external feature group's rows live; build one with ``files``, ``duckdb``,
    ``sqlite`` or ``postgres``. Holds no secret: a PostgreSQL password is looked up at read
    time in the environment variable ``password_env`` or the secrets file ``password_secret``."""

    kind: str
    location: str  # an absolute glob or path, or a PostgreSQL URL without password
    query: str | None = None
    table: str | None = None
    format: str | None = None  # files only: parquet, csv or json
    timezone: str = "UTC"  # the zone of naive timestamps in the source
    password_env: str | None = None
    password_secret: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The catalog form (JSON-safe, never a password)."""
        return {k: v for k, v in asdict(self).items() if v not in (None, {})}

    def describe(self) -> str:
        """One line for messages: ``sqlite /data/shop.db (table orders)``."""
        what = f"table {self.table}" if self.table else ("a query" if self.query else f"{self.format} files")
        return f"{self.kind} {self.location} ({what})"

    def __repr__(self) -> str:
        return f"Source({self.describe()})"


def source_from_dict(data: dict[str, Any]) -> Source:
    """The ``Source`` that ``to_dict`` stored."""
    known = {k: v for k, v in data.items() if k in Source.__dataclass_fields__}
    if known.get("kind") not in KINDS:
        raise ValidationError(f"Unknown source kind {data.get('kind')!r}; lakebox knows {list(KINDS)}.")
    return Source(**known)


def files(glob: str | Path, format: str | None = None, timezone: str = "UTC", hive_partitioning: bool = False) -> Source:
    """Parquet, CSV or JSON (one object per line, or an array) files matching ``glob``, read by
    DuckDB at every read. ``format`` defaults to the glob's suffix. Relative globs are taken
    from the current directory when the source is made."""
    text = str(glob)
    if not text.strip():
        raise ValidationError("sources.files needs a path or glob, e.g. 'data/*.parquet'.")
    if format is None:
        format = _SUFFIXES.get(Path(text).suffix.lower())
        if format is None:
            raise ValidationError(
                f"Cannot tell the format of {text!r} from its suffix; pass format= one of {list(FORMATS)}."
            )
    if format not in FORMATS:
        raise ValidationError(f"sources.files format must be one of {list(FORMATS)}, got {format!r}.")
    options = {"hive_partitioning": True} if hive_partitioning else {}
    return Source("files", _absolute(text), format=format, timezone=_zone(timezone), options=options)


def duckdb(path: str | Path, query: str | None = None, table: str | None = None, timezone: str = "UTC") -> Source:
    """A table or query of a DuckDB database file, opened read-only at every read."""
    query, table = _query_or_table("duckdb", query, table)
    return Source("duckdb", _absolute(str(path)), query=query, table=table, timezone=_zone(timezone))


def sqlite(path: str | Path, query: str | None = None, table: str | None = None, timezone: str = "UTC") -> Source:
    """A table or query of a SQLite database file, read-only through the ADBC SQLite driver.
    SQLite stores times as text: the event time column is parsed from ISO-8601 text."""
    query, table = _query_or_table("sqlite", query, table)
    return Source("sqlite", _absolute(str(path)), query=query, table=table, timezone=_zone(timezone))


def postgres(
    url: str,
    query: str | None = None,
    table: str | None = None,
    password_env: str | None = None,
    password_secret: str | None = None,
    timezone: str = "UTC",
) -> Source:
    """A table or query of a PostgreSQL database, read through the ADBC PostgreSQL driver.

    ``url`` is ``postgresql://user@host:port/database`` without a password: the password comes
    from the environment variable named by ``password_env`` or from the secrets file named by
    ``password_secret`` (``<box>/secrets/<name>``, or ``$LAKEBOX_SECRETS_DIR/<name>``), read
    at every read and never stored in the catalog.
    """
    query, table = _query_or_table("postgres", query, table)
    if not isinstance(url, str):
        raise ValidationError("sources.postgres needs a URL such as 'postgresql://user@host:5432/db'.")
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValidationError(f"sources.postgres needs a postgresql:// URL, got scheme {parts.scheme!r}.")
    if parts.password is not None or "password=" in parts.query.lower():
        raise ValidationError(
            "The PostgreSQL URL holds a password; lakebox never stores one. Remove it from the URL and pass "
            "password_env='NAME_OF_AN_ENVIRONMENT_VARIABLE' or password_secret='name of a secrets file'."
        )
    if password_env is not None and password_secret is not None:
        raise ValidationError("Pass password_env= or password_secret=, not both.")
    if password_env is not None and not _ENV.match(str(password_env)):
        raise ValidationError(f"password_env must name an environment variable, got {password_env!r}.")
    if password_secret is not None and not _SECRET.match(str(password_secret)):
        raise ValidationError(
            f"password_secret must be a secrets file name (letters, digits, '_', '.', '-'), got {password_secret!r}."
        )
    return Source(
        "postgres", url, query=query, table=table, timezone=_zone(timezone),
        password_env=password_env, password_secret=password_secret,
    )


def _query_or_table(kind: str, query: str | None, table: str | None) -> tuple[str | None, str | None]:
    if (query is None) == (table is None):
        raise ValidationError(f"sources.{kind} needs exactly one of query='SELECT ...' or table='name'.")
    if table is not None and (not isinstance(table, str) or not _TABLE.match(table)):
        raise ValidationError(
            f"table={table!r} is not a table name; write 'orders' or 'schema.orders' (use query= for anything else)."
        )
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise ValidationError(f"sources.{kind} query= must be a non-empty SQL string.")
    return query, table


def _absolute(text: str) -> str:
    path = Path(text).expanduser()
    return str(path if path.is_absolute() else Path.cwd() / path)


def _zone(timezone: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as e:
        raise ValidationError(f"timezone={timezone!r} is not an IANA time zone such as 'UTC' or 'Europe/Berlin'.") from e
    return timezone

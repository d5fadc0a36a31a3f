"""A read-only glance at a box: its feature groups as ``lakebox fg list`` describes them, with
the standard library only (os, sqlite3, json).

``lakebox.entry`` serves ``fg list`` from here without click, rich or lakebox's catalog
modules, whose imports cost several times what reading the catalog does. ``describe_groups``
answers only where the full path (``Box.open``, ``CatalogDB``, ``engines.acquire`` and
``Project.describe_feature_groups``) would give the same answer and write nothing: a box whose
toml is not plain (``read_settings``), that needs a catalog migration, a box id or its layout
folders, a moved box, an external group, a group whose commit log is behind Iceberg, anything
unexpected in the catalog... gives ``None``, and the caller runs the full path, which repairs,
warns or reports the error. The checks mirror ``lakebox.box`` and ``lakebox.catalog.db``
(their constants are pinned by ``tests/test_fast_listing.py``, which also compares answers).

The group dict (``group_description``) and the commit-log check (``log_in_step``) live here
and ``lakebox.metadata`` uses them: one shape, one rule for both paths.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime

from lakebox.boxformat import (
    BUSY_TIMEOUT_S,
    CATALOG_NAME,
    DEFAULT_DIRNAME,
    FORMAT_VERSION,
    HOME_VARIABLE,
    NAMESPACE,
    TOML_NAME,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~3 ms)
if TYPE_CHECKING:
    from typing import Any

LAYOUT = ("warehouse", "online", "artifacts", "logs", ".locks")  # folders Box.open makes when missing

# the snapshot summary key under which lakebox records its commit id (lakebox.offline.table)
COMMIT_ID_KEY = "lakebox.commit-id"

# characters that urllib's quote() leaves as they are (with "/"): a path made of them is its
# own file URI, so urllib.parse is imported only for other paths
_URI_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~/")
_BARE_KEY = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_MIGRATION_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def box_location(box: str | None) -> str:
    """``--box``, else ``$LAKEBOX_HOME``, else ``./.lakebox`` (``lakebox.box.default_path``)."""
    return box if box is not None else (os.environ.get(HOME_VARIABLE) or DEFAULT_DIRNAME)


def file_uri(path: str) -> str:
    """``Path(path).as_uri()`` of an absolute, normalised path, without importing pathlib.

    >>> file_uri("/data/my box")
    'file:///data/my%20box'
    """
    if _URI_SAFE.issuperset(path):
        return "file://" + path
    from urllib.parse import quote_from_bytes

    return "file://" + quote_from_bytes(os.fsencode(path))


def iso_ms(ms: int) -> str:
    """Epoch milliseconds as ISO-8601 UTC with ``Z`` (``lakebox.timeutil.iso``)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_settings(text: str) -> dict[str, str | int] | None:
    """The settings of a ``lakebox.toml`` in the plain form lakebox writes: comments, blank
    lines and ``key = "text"`` or ``key = 123`` lines; None for anything else (a table, an
    escape, a float, a trailing comment...), which ``tomllib`` then reads on the full path.
    Every form accepted here means the same to ``tomllib``; importing it costs ~4 ms.

    >>> read_settings('# a box\\nformat_version = 1\\nbox_id = "x"\\n')
    {'format_version': 1, 'box_id': 'x'}
    """
    settings: dict[str, str | int] = {}
    for line in text.split("\n"):
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith("#"):
            if any((c < " " and c != "\t") or c == "\x7f" for c in stripped):
                return None  # control characters are not allowed in TOML comments
            continue
        key, equals, value = stripped.partition("=")
        key, value = key.strip(" \t"), value.strip(" \t")
        if not equals or not key or not _BARE_KEY.issuperset(key) or key in settings:
            return None
        if len(value) >= 2 and value[0] == value[-1] == '"' and _plain_string(value[1:-1]):
            settings[key] = value[1:-1]
        elif value.isascii() and value.isdigit() and (value == "0" or value[0] != "0"):
            settings[key] = int(value)
        else:
            return None
    return settings


def _plain_string(text: str) -> bool:
    """A TOML basic string's content that needs no escape (no quote, backslash or control)."""
    return not any(c in '"\\' or (c < " " and c != "\t") or c == "\x7f" for c in text)


def newest_migration() -> int | None:
    """The number of the newest catalog migration shipped (``lakebox.catalog.db.migrations``)."""
    here = os.path.dirname(os.path.realpath(__file__))
    folder = os.path.join(here, "_sql")  # a wheel; a checkout has sql/ next to the package
    if not os.path.isdir(folder):
        folder = os.path.join(os.path.dirname(here), "sql")
    try:
        names = os.listdir(folder)
    except OSError:
        return None
    numbers = [int(name[:3]) for name in names if _is_migration(name)]
    return max(numbers) if numbers else None


def _is_migration(name: str) -> bool:
    return (name[:3].isdecimal() and name[3:4] == "_" and name.endswith(".sql") and len(name) > 8
            and _MIGRATION_CHARS.issuperset(name[4:-4]))  # fmt: skip


def group_description(
    *,
    name: str,
    version: int,
    description: str,
    primary_key: Iterable[str],
    event_time: str | None,
    online_enabled: bool,
    commit_count: int,
    last_commit_ms: int | None,
    features: Iterable[tuple[str, str, str]],
    iceberg: dict[str, Any],
) -> dict[str, Any]:
    """A feature group as plain data, in the shape of ``FeatureGroup.describe()``; ``features``
    are (name, type, description) in schema order."""
    key = list(primary_key)
    return {
        "name": name,
        "version": version,
        "table": f"{name}_{version}",
        "description": description,
        "primary_key": key,
        "event_time": event_time,
        "online_enabled": online_enabled,
        "commit_count": commit_count,
        "last_commit": iso_ms(last_commit_ms) if last_commit_ms is not None else None,
        "features": [
            {"name": f, "type": t, "description": d, "primary": f in key, "event_time": f == event_time}
            for f, t, d in features
        ],
        "iceberg": iceberg,
    }


def log_in_step(iceberg: dict[str, Any], newest_commit: int) -> set[int] | None:
    """The snapshot ids present in the Iceberg table when its newest lakebox commit id is the
    log's ``newest_commit`` (``iceberg`` is ``describe_table``'s answer); None when it is not,
    or when the table's metadata cannot be read here. Commit ids only grow and a write repairs
    a lost log entry before it commits, so comparing the newest ids is enough."""
    location = iceberg.get("metadata_location")
    if iceberg.get("moved") or not location:
        return None
    if location.startswith("file:///") and _URI_SAFE.issuperset(location[7:]):
        path = location[7:]  # what urlparse and unquote make of it
    else:
        from urllib.parse import unquote, urlparse

        parsed = urlparse(location)
        if parsed.scheme not in ("", "file"):
            return None
        path = unquote(parsed.path)
    try:
        if os.path.basename(path).endswith(".gz.metadata.json"):
            import gzip

            opener: Any = gzip.open
        else:
            opener = open
        with opener(path, "rt", encoding="utf-8") as f:
            snapshots = json.load(f).get("snapshots", [])
        ids = [int(s["summary"][COMMIT_ID_KEY]) for s in snapshots if COMMIT_ID_KEY in s.get("summary", {})]
        present = {int(s["snapshot-id"]) for s in snapshots}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # unreadable here: let pyiceberg read it (and report what is wrong)
    return present if max(ids, default=0) == newest_commit else None


def iceberg_table(root: str, table_name: str, metadata_location: str | None) -> dict[str, Any]:
    """``lakebox.ops.relocate.describe_table`` of a box that was not moved."""
    catalog = os.path.join(root, "warehouse", "iceberg_catalog.db")
    return {
        "catalog_name": CATALOG_NAME,
        "catalog_type": "sql",
        "catalog_uri": f"sqlite:///{catalog}",
        "catalog_jdbc_uri": f"jdbc:sqlite:{catalog}",
        "warehouse": file_uri(os.path.join(root, "warehouse")),
        "namespace": NAMESPACE,
        "table": table_name,
        "identifier": f"{NAMESPACE}.{table_name}",
        "metadata_location": metadata_location,
        "moved": False,
    }


def describe_groups(location: str) -> list[dict[str, Any]] | None:
    """Every feature group of the box at ``location`` as ``Project.describe_feature_groups()``
    gives it, or None where only the full path can answer (see the module docstring)."""
    if not location or location.startswith("~") or not os.path.isfile(os.path.join(location, TOML_NAME)):
        return None  # no box (the full path words the error), or a home folder to expand
    root = os.path.realpath(location)
    if root.startswith("//"):
        return None  # pathlib keeps a leading // that realpath may not
    try:
        with open(os.path.join(root, TOML_NAME)) as f:  # the locale's encoding, as Path.read_text
            settings = read_settings(f.read())
    except (OSError, ValueError):
        return None
    if settings is None or not _plain_box(root, settings):
        return None
    try:  # read-write as CatalogDB opens it, to read only: closing the last connection removes the -wal file
        db = sqlite3.connect(f"{file_uri(os.path.join(root, 'catalog.db'))}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error:
        return None
    try:
        return _read_groups(db, root, str(settings["box_id"]))
    except (sqlite3.Error, ValueError, TypeError, KeyError):
        return None
    finally:
        db.close()


def _plain_box(root: str, settings: dict[str, str | int]) -> bool:
    """The box opens without a write or a warning: a known format, a box id, its folders, and
    the warehouse where its Iceberg metadata says it is (a moved box warns)."""
    version, box_id, origin = settings.get("format_version"), settings.get("box_id"), settings.get("warehouse_origin")
    return (
        isinstance(version, int)
        and version <= FORMAT_VERSION
        and isinstance(box_id, str)
        and bool(box_id)
        and all(os.path.isdir(os.path.join(root, folder)) for folder in LAYOUT)
        and (not isinstance(origin, str) or origin == file_uri(os.path.join(root, "warehouse")))
    )


def _read_groups(db: sqlite3.Connection, root: str, box_id: str) -> list[dict[str, Any]] | None:
    """The groups from the catalog (one read transaction), or None where the full path would
    write, warn or describe a group through pyiceberg."""
    if db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 0:
        return None
    if (
        db.execute("PRAGMA journal_mode").fetchone()[0] != "wal"
        or db.execute("PRAGMA user_version").fetchone()[0] != newest_migration()
    ):
        return None  # CatalogDB would switch to WAL or migrate
    recorded = db.execute("SELECT value FROM box_meta WHERE key = 'box_id'").fetchall()
    if not recorded or str(recorded[0][0]) != box_id:
        return None  # the catalog adopts the id, or belongs to another box
    db.execute("BEGIN")
    rows = db.execute(
        "SELECT id, name, version, description, primary_key, event_time, online_enabled, table_name, settings"
        " FROM feature_groups ORDER BY name, version"
    ).fetchall()
    locations = _metadata_locations(root, [row[7] for row in rows]) if rows else {}
    if locations is None:
        return None
    groups = []
    for group_id, name, version, description, key_json, event_time, online, table_name, settings_json in rows:
        key, settings = json.loads(key_json), json.loads(settings_json)
        features = db.execute(
            "SELECT name, type, description FROM features WHERE group_id = ? ORDER BY position", (group_id,)
        ).fetchall()
        count, newest = db.execute(
            "SELECT count(*), max(commit_id) FROM commits WHERE group_id = ?", (group_id,)
        ).fetchone()
        last = db.execute(
            "SELECT committed_ms FROM commits WHERE group_id = ? AND commit_id = ?", (group_id, newest)
        ).fetchone()
        row = (name, version, description, key, event_time, online, table_name, settings)
        if not _plain_row(row, features, newest, last):
            return None  # an external group (its source describes it), or a row lakebox did not write
        iceberg = iceberg_table(root, table_name, locations.get(table_name))
        if features and log_in_step(iceberg, newest or 0) is None:
            return None  # the log is behind Iceberg: the feature group completes it
        groups.append(group_description(
            name=name, version=version, description=description, primary_key=key, event_time=event_time,
            online_enabled=bool(online), commit_count=count, last_commit_ms=last[0] if last else None,
            features=features, iceberg=iceberg,
        ))  # fmt: skip
    db.execute("COMMIT")
    return groups


def _plain_row(row: tuple[Any, ...], features: list[Any], newest: Any, last: Any) -> bool:
    """A catalog row of the types lakebox writes, of a group that is not external."""
    name, version, description, key, event_time, online, table_name, settings = row
    return (
        isinstance(name, str)
        and _is_int(version)
        and isinstance(description, str)
        and isinstance(key, list)
        and all(isinstance(k, str) for k in key)
        and (event_time is None or isinstance(event_time, str))
        and _is_int(online)
        and isinstance(table_name, str)
        and isinstance(settings, dict)
        and "external" not in settings
        and all(isinstance(value, str) for feature in features for value in feature)
        and (newest is None or (_is_int(newest) and last is not None and _is_int(last[0])))
    )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _metadata_locations(root: str, tables: list[str]) -> dict[str, str | None] | None:
    """Each table's current metadata.json in the box's Iceberg SQL catalog (opened as
    ``lakebox.ops.relocate`` opens it); None when it is missing or unreadable."""
    path = os.path.join(root, "warehouse", "iceberg_catalog.db")
    if not os.path.exists(path):
        return None
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        found: dict[str, str | None] = {}
        for table in tables:
            rows = con.execute(
                "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = ? AND table_namespace = ?"
                " AND table_name = ?",
                (CATALOG_NAME, NAMESPACE, table),
            ).fetchall()
            found[table] = rows[0][0] if rows else None
        return found
    finally:
        con.close()


__all__ = ["box_location", "describe_groups", "file_uri", "group_description", "log_in_step", "read_settings"]

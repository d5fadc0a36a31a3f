"""The values the planner works on, resolved by the api layer before planning.

``GroupRef`` says what a feature group is (its identity, Iceberg table and schema); ``Pin``
says which of its data a query reads (a snapshot and that snapshot's data files). Neither
holds an api object or an open table, so every pass of the planner is a function over plain
values and the planner can be tested without a box (hand-built refs over Parquet files).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True, eq=False)
class GroupRef:
    """A feature group as the planner sees it."""

    id: int
    name: str
    version: int
    table_name: str  # the Iceberg table's name (also the group's uid in the online store)
    identifier: str  # the Iceberg identifier, ``namespace.table_name``
    schema: pa.Schema
    primary_key: tuple[str, ...]
    event_time: str | None = None
    online_enabled: bool = False
    # the project that owns the group when it is another project's, shared read-only with
    # this one (``shop::orders``); ``id`` is then the owner's, so ``key`` tells groups apart
    project: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        """The group's identity in a plan: (owning project or "", id)."""
        return (self.project or "", self.id)

    @property
    def relation(self) -> str:
        """The SQL name of the group's relation: ``name_version`` (as ``fs.sql`` exposes it),
        ``project__name_version`` for another project's group."""
        return f"{self.project}__{self.name}_{self.version}" if self.project else f"{self.name}_{self.version}"

    @property
    def label(self) -> str:
        return f"{self.project}::{self.name} v{self.version}" if self.project else f"{self.name} v{self.version}"

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def has(self, column: str) -> bool:
        return column in self.schema.names

    @property
    def value_columns(self) -> list[str]:
        """Columns that are neither key nor event time (what ``select_all`` adds on a join)."""
        return [c for c in self.schema.names if c not in self.primary_key and c != self.event_time]


@dataclass(frozen=True, eq=False)
class Pin:
    """The data of one group a query reads: a snapshot and its data files.

    Without delete files the data files of a snapshot ARE the snapshot. A merge-on-read
    update leaves position deletes: ``deletes`` then lists the deleted rows as
    (``DELETED_FILE`` = local path, ``DELETED_POS`` = row number in that file), and engines
    anti-join them. ``exact`` holds the rows read by Iceberg's own scan when the files are
    not exact otherwise (other engines' delete kinds, or an evolved schema DuckDB would map
    by name); engines that read files must use it, or refuse when ``has_deletes``.
    """

    snapshot_id: int | None  # None: the group was empty at that time
    commit_id: int | None = None
    files: tuple[str, ...] = ()  # local paths of the snapshot's Parquet data files
    has_deletes: bool = False
    exact: pa.Table | None = None
    deletes: pa.Table | None = None  # (DELETED_FILE, DELETED_POS) rows the files hold but the snapshot deleted

    @property
    def empty(self) -> bool:
        # ``exact`` rows without a snapshot: an external group's rows, read from its source
        return self.exact is None and (self.snapshot_id is None or not self.files)


EMPTY = Pin(snapshot_id=None)
DELETED_FILE = "__lakebox_file"  # the columns of ``Pin.deletes`` (offline/reader.deleted_rows writes them)
DELETED_POS = "pos"

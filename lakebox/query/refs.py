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

    @property
    def relation(self) -> str:
        """The SQL name of the group's relation: ``name_version`` (as ``fs.sql`` exposes it)."""
        return f"{self.name}_{self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

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

    lakebox writes copy-on-write tables, so the data files of a snapshot ARE the snapshot.
    ``exact`` holds the rows read by Iceberg's own scan when the files alone are not exact
    (delete files written by another engine, or an evolved schema DuckDB would map by name);
    engines that read files must use it, or refuse when ``has_deletes``.
    """

    snapshot_id: int | None  # None: the group was empty at that time
    commit_id: int | None = None
    files: tuple[str, ...] = ()  # local paths of the snapshot's Parquet data files
    has_deletes: bool = False
    exact: pa.Table | None = None

    @property
    def empty(self) -> bool:
        # ``exact`` rows without a snapshot: an external group's rows, read from its source
        return self.exact is None and (self.snapshot_id is None or not self.files)


EMPTY = Pin(snapshot_id=None)

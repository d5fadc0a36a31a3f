"""``FeatureGroup``: a versioned, bitemporal table of features (DESIGN §3-4).

A thin object over the engines: the write coordinator (``lakebox.write``) for every change,
the catalog for metadata, the offline store (Iceberg) and online store (LMDB) for reads.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.groups import CommitRow, GroupRow
from lakebox.errors import NotFoundError, SchemaMismatchError, ValidationError
from lakebox.feature import Feature
from lakebox.frames import check_dataframe_type, from_arrow, to_arrow
from lakebox.group_compat import GroupAliases
from lakebox.group_history import HistoryMixin
from lakebox.group_quality import QualityMixin
from lakebox.names import did_you_mean
from lakebox.offline import reader
from lakebox.offline.batch import check_nulls, check_online_keys, prepare_batch
from lakebox.offline.table import GroupTable
from lakebox.query.filter import Col
from lakebox.sharing import ShareMixin
from lakebox.streams import GroupStreamMixin
from lakebox.tags import Taggable
from lakebox.timeutil import iso, localize_times, to_millis
from lakebox.types import conform_column
from lakebox.write.coordinator import Writer
from lakebox.write.online import online_uid

if TYPE_CHECKING:
    from lakebox.feature_store import FeatureStore
    from lakebox.queries import Query
    from lakebox.query.refs import GroupRef, Pin

log = logging.getLogger(__name__)

Commit = CommitRow


def new_table_name(name: str, version: int) -> str:
    """A fresh Iceberg table name: a re-created group never meets the files of a deleted one."""
    return f"{name}_v{version}_{secrets.token_hex(4)}"


class FeatureGroup(QualityMixin, HistoryMixin, GroupAliases, ShareMixin, GroupStreamMixin, Taggable):
    """A feature group. Get one from ``fs.create_feature_group`` or ``fs.get_feature_group``.

    A thin object: writes go through the box's write coordinator (``lakebox.write``), reads
    through the offline and online engines.
    """

    _asset_kind = "feature_group"
    _row: GroupRow

    def __new__(cls, store: Any = None, row: Any = None, *args: Any, **kwargs: Any) -> FeatureGroup:
        # external groups (issue 14, H14b): a row whose settings carry a source reads from it
        if cls is FeatureGroup and row is not None and "external" in getattr(row, "settings", {}):
            from lakebox.external_group import ExternalFeatureGroup

            return super().__new__(ExternalFeatureGroup)
        return super().__new__(cls)

    def _assets(self) -> AssetStore:
        return self._engines.assets

    def __init__(self, store: FeatureStore, row: GroupRow) -> None:
        self._store = store
        self._engines = store.engines
        self._row = row

    @property
    def _writer(self) -> Writer:
        return self._engines.writer

    @property
    def _table(self) -> GroupTable:
        """The group's offline table (one per group per process: its lock is shared)."""
        return self._writer.table(self._row)

    # -- metadata -----------------------------------------------------------------------
    @property
    def primary_key(self) -> list[str]:
        return list(self._row.primary_key)

    @property
    def event_time(self) -> str | None:
        return self._row.event_time

    @property
    def online_enabled(self) -> bool:
        return self._row.online_enabled

    @property
    def table_name(self) -> str:
        """The name under which ``fs.sql`` exposes this group: ``name_version``."""
        return f"{self.name}_{self.version}"

    @property
    def features(self) -> list[Feature]:
        """The schema (empty until the first insert when no features were declared)."""
        return [
            Feature(
                f.name,
                f.type,
                f.description,
                primary=f.name in self._row.primary_key,
                event_time=f.name == self._row.event_time,
            )
            for f in self._row.features
        ]

    @property
    def schema(self) -> list[Feature]:
        return self.features

    def get_feature(self, name: str) -> Feature:
        for feature in self.features:
            if feature.name == name:
                return feature
        names = [f.name for f in self.features]
        hint = did_you_mean(name, names)
        raise NotFoundError(
            f"Feature group {self.name} v{self.version} has no feature {name!r}" + (hint or f"; it has {names}."),
            feature=name,
        )

    def update_description(self, description: str) -> FeatureGroup:
        self._engines.groups.update(self.id, description=str(description))
        return self._reload()

    def update_feature_description(self, feature: str, description: str) -> FeatureGroup:
        self.get_feature(feature)
        self._engines.groups.update_feature_description(self.id, feature, str(description))
        return self._reload()

    def describe(self) -> dict[str, Any]:
        """The group as plain data: keys, schema, commits, and under ``"iceberg"`` how other
        engines find its table (catalog name and type, SQL catalog URI, identifier, metadata
        location; see docs/interop.md)."""
        from lakebox.ops.relocate import describe_table

        commits = self.commits()
        return {
            "name": self.name,
            "version": self.version,
            "table": self.table_name,
            "description": self.description,
            "primary_key": self.primary_key,
            "event_time": self.event_time,
            "online_enabled": self.online_enabled,
            "commit_count": len(commits),
            "last_commit": iso(commits[-1].committed_ms) if commits else None,
            "features": [f.to_dict() for f in self.features],
            "iceberg": describe_table(self._engines.box, self._row.table_name),
        }

    def __repr__(self) -> str:
        return f"FeatureGroup({self.name!r}, version={self.version}, primary_key={self.primary_key}, event_time={self.event_time!r})"

    # -- writing ------------------------------------------------------------------------
    def insert(
        self,
        df: Any,
        overwrite: bool = False,
        operation: str = "upsert",
        storage: str | None = None,
        write_options: dict[str, Any] | None = None,
        validation_options: dict[str, Any] | None = None,
        wait: bool = False,
        transformation_context: Any = None,
        transform: bool = True,
        timezone: str | None = None,
    ) -> Commit:
        """Write ``df`` as one commit: same (key, event time) replaces, new ones append.

        Returns the commit (id, time, rows inserted and updated). Bad input raises a
        ``ValidationError`` subclass and writes nothing. If the commit is written but the
        online store cannot mirror it, ``OnlineBehindError`` carries the commit.

        hsfs' options: ``operation`` ("upsert" or "insert": both upsert by key and event time),
        ``write_options`` is accepted and ignored; the commit is durable and online when insert
        returns, and the statistics of a big insert (100k rows or more) are stored by a
        background job in this process (``get_statistics`` and commit listings wait for them;
        ``wait=True`` waits before returning), ``validation_options={"run_validation": False}`` skips the expectations;
        ``overwrite=True`` and ``storage=`` are refused (see docs/hopsworks.md). Mixed-case
        column names are lower-cased with a warning, as hsfs does.

        Naive timestamps are in ``timezone`` (an IANA name such as ``"Europe/Oslo"``; default
        UTC, with a ``NaiveTimestampWarning`` once per group and column, as hsfs reads them);
        ``timestamps = "strict"`` in lakebox.toml refuses them unless ``timezone`` is given. An
        event time may be int epoch milliseconds or a date (midnight UTC).
        """
        from lakebox.group_compat import check_insert_options, lowered_columns

        run_validation = check_insert_options(overwrite, operation, storage, validation_options, transformation_context)
        strict = self._engines.box.settings().get("timestamps") == "strict"
        data = localize_times(lowered_columns(to_arrow(df)), event_time=self.event_time, timezone=timezone,
                              strict=strict, warn_key=(str(self._engines.box.root), self.id))
        if self._row.settings.get("on_demand"):  # hsfs' on-demand transformations, computed at insert
            from lakebox.udf import apply_on_demand

            data = apply_on_demand(data, self._row.settings["on_demand"])
        stored = self._stored_schema()
        batch = prepare_batch(data, schema=stored, primary_key=self.primary_key, event_time=self.event_time,
                              online=self.online_enabled)
        report = self._validate(batch) if run_validation else None  # strict: raises before anything is written
        if stored is None:
            self._row = self._writer.ensure_table(self._row, batch.schema)
        commit = self._writer.insert(self._row, batch, report=report)
        if wait:
            self._writer.wait_statistics(self._row)
        return commit

    def delete_records(self, keys: Any) -> Commit | None:
        """Delete rows by primary key (every event time), or by (key, event time) when ``keys``
        has the event time column. One commit; returns None when no row matched.
        """
        stored = self._stored_schema()
        data = to_arrow(keys)
        key_columns = [*self.primary_key]
        if self.event_time and self.event_time in data.column_names:
            key_columns.append(self.event_time)
        missing = [k for k in self.primary_key if k not in data.column_names]
        if missing:
            raise SchemaMismatchError(
                f"delete_records needs the primary key column(s) {missing}; got {data.column_names}.",
                columns=missing,
            )
        if data.num_rows == 0 or stored is None:
            return None
        check_nulls(data, key_columns)  # a null key names the rows, not a type
        arrays = [conform_column(data.column(k), stored.field(k).type, k) for k in key_columns]
        key_table = pa.Table.from_arrays(arrays, names=key_columns)
        key_table = key_table.group_by(key_columns).aggregate([])  # duplicates are harmless here
        return self._writer.delete(self._row, key_table)

    def rollback(self, commit: int | Commit) -> Commit:
        """Make the data of an earlier commit current again, as a new commit."""
        return self._writer.rollback(self._row, self._resolve_commit(commit))

    def compact(self) -> Commit | None:
        """Rewrite the current data into few large files (same rows; a 'compact' commit)."""
        if self._stored_schema() is None:
            return None
        return self._writer.compact(self._row)

    # -- online store -------------------------------------------------------------------
    def enable_online(self) -> FeatureGroup:
        """Serve this group online: backfills the latest row per key from the offline store.
        Refused (nothing changes) when its primary key cannot be served online."""
        schema = self._stored_schema()
        if schema is not None:
            check_online_keys(schema, self.primary_key)
        self._writer.enable_online(self._reload()._row)
        return self._reload()

    def disable_online(self) -> FeatureGroup:
        self._writer.disable_online(self._row)
        return self._reload()

    def rebuild_online(self) -> int:
        """Recreate the online table from the offline store; returns the number of keys."""
        self._require_online()
        return self._writer.rebuild_online(self._row)

    def online_lag(self) -> int:
        """Commits the online store has not applied yet (0 when in step)."""
        return self._writer.online_lag(self._reload()._row)

    def catch_up_online(self) -> bool:
        """Replay what the online store missed (a writer died between the offline commit and
        the online write, or the online write failed); True if it had to."""
        return self._writer.catch_up_online(self._reload()._row)

    def online_key_count(self) -> int:
        """How many keys the online store serves for this group."""
        self._require_online()
        return self._engines.online.count(online_uid(self._row))

    def _require_online(self) -> None:
        if not self.online_enabled:
            raise ValidationError(
                f"Feature group {self.name} v{self.version} is not online-enabled; call fg.enable_online()."
            )

    def _online_table(self) -> Any:
        schema = self._stored_schema()
        if schema is None:
            return None
        return self._writer.mirror.table(self._row, schema)

    def _online_rows(self) -> pa.Table:
        self._require_online()
        table = self._online_table()
        if table is None:
            return self._output_schema().empty_table()
        self.catch_up_online()
        rows = table.scan()
        order = pa.compute.sort_indices(rows, sort_keys=[(k, "ascending") for k in self.primary_key])
        return rows.take(order)

    def delete(self) -> None:
        """Drop the group: its metadata, its commit log and its Iceberg table with all files.
        Refused while feature views read it (delete those first)."""
        readers = [
            f"{a.name} v{a.version}"
            for a in self._engines.assets.downstream_of(self._asset().id, "reads")
            if a.kind == "feature_view"
        ]
        if readers:
            raise ValidationError(
                f"Feature group {self.name} v{self.version} is read by feature view(s) {readers}; delete them first."
            )
        self._writer.drop(self._row)

    # -- reading ------------------------------------------------------------------------
    def read(
        self,
        wallclock_time: Any = None,
        dataframe_type: str = "pandas",
        online: bool = False,
        limit: int | None = None,
        offset: int = 0,
    ) -> Any:
        """The group's rows, now or as of a commit time / commit id, ordered by key and event
        time (``limit`` rows from ``offset`` when given, for paging); ``online=True`` reads the
        online table (the latest row per key)."""
        check_dataframe_type(dataframe_type)
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValidationError(f"limit must be a non-negative integer, got {limit!r}.")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValidationError(f"offset must be a non-negative integer, got {offset!r}.")
        if online:
            if wallclock_time is not None:
                raise ValidationError("The online store holds only the latest values: drop wallclock_time.")
            rows = self._online_rows().slice(offset)
            return from_arrow(rows.slice(0, limit) if limit is not None else rows, dataframe_type)
        table, snapshot_id = self._snapshot_at(wallclock_time)
        return from_arrow(self._read_arrow(table, snapshot_id, limit=limit, offset=offset), dataframe_type)

    def as_of(self, wallclock_time: Any = None, exclude_until: Any = None) -> Query:
        """A query of the group pinned at ``wallclock_time``; with ``exclude_until``, only the rows
        that the commits in (exclude_until, wallclock_time] inserted or changed.
        """
        from lakebox.queries import Query

        return Query(self, wallclock_time=wallclock_time, exclude_until=exclude_until)

    def select_all(self, include_primary_key: bool = True, include_event_time: bool = True) -> Query:
        """A query of every feature of this group (hsfs: without the primary key and/or event
        time when ``include_primary_key``/``include_event_time`` is False)."""
        from lakebox.queries import Query

        if include_primary_key and include_event_time:
            return Query(self)
        skip = {*([] if include_primary_key else self.primary_key),
                *([] if include_event_time or not self.event_time else [self.event_time])}
        return Query(self, features=[f.name for f in self.features if f.name not in skip])

    def select(self, features: Sequence[str]) -> Query:
        """A query of the named features (mixed-case names are lower-cased, as in hsfs)."""
        from lakebox.names import lower_name
        from lakebox.queries import Query

        names = [features] if isinstance(features, str) else list(features)
        return Query(self, features=[lower_name(n, "feature name") for n in names])

    def select_except(self, features: Sequence[str]) -> Query:
        """A query of every feature but the named ones."""
        from lakebox.queries import Query

        excluded = [features] if isinstance(features, str) else list(features)
        for name in excluded:
            self.get_feature(name)
        return Query(self, features=[f.name for f in self.features if f.name not in excluded])

    def filter(self, condition: Any) -> Query:
        return self.select_all().filter(condition)

    def __getitem__(self, name: str) -> Col:
        """The feature ``name`` for filters: ``fg["age"] > 30`` (also ``fg.age``)."""
        self.get_feature(name)
        return Col(self.id, self.name, self.version, name)

    def __getattr__(self, name: str) -> Col:
        if name.startswith("_"):
            raise AttributeError(name)
        row = self.__dict__.get("_row")
        if row is not None and any(f.name == name for f in row.features):
            return Col(self.id, self.name, self.version, name)
        raise AttributeError(f"{type(self).__name__} has no attribute or feature {name!r}")

    def commit_details(self, wallclock_time: Any = None, limit: int | None = None) -> dict[int, dict[str, Any]]:
        """``{commit_id: {"committedOn", "rowsInserted", "rowsUpdated", "rowsDeleted", ...}}``,
        newest first (the Hopsworks shape); commits at or before ``wallclock_time`` when given."""
        commits = self.commits()
        if wallclock_time is not None:
            cutoff = to_millis(wallclock_time, "wallclock_time")
            commits = [c for c in commits if c.committed_ms <= cutoff]
        commits = list(reversed(commits))[:limit]
        return {
            c.commit_id: {
                "committedOn": iso(c.committed_ms),
                "rowsInserted": c.rows_inserted,
                "rowsUpdated": c.rows_updated,
                "rowsDeleted": c.rows_deleted,
                "kind": c.kind,
                "expired": c.expired,
            }
            for c in commits
        }

    def commits(self) -> list[Commit]:
        """Every commit, oldest first (the catalog's log, completed from Iceberg; a read
        never writes)."""
        return self._commits()

    def _commits(self, table: Any = None) -> list[Commit]:
        return self._writer.commits(self._reload()._row if not self._row.features else self._row, table)

    def read_changes(
        self, start_commit: Any = None, end_commit: Any = None, dataframe_type: str = "pandas"
    ) -> Any:
        """The change feed between two commits (ids or times): every row that the commits in
        (``start_commit``, ``end_commit``] inserted, updated or deleted, with ``_change_type``
        (``insert``, ``update_preimage``, ``update_postimage``, ``delete``), ``_commit_id`` and
        ``_commit_time`` columns, like Delta Lake's change data feed. ``start_commit=None``
        starts before the first commit; ``end_commit=None`` is the latest commit."""
        from lakebox.offline.changes import read_changes

        check_dataframe_type(dataframe_type)
        commits = self.commits()
        schema = self._output_schema()
        if not commits:
            return from_arrow(read_changes(None, [], None, 0, self.primary_key, schema), dataframe_type)
        upto = self._resolve_commit(end_commit).commit_id if end_commit is not None else commits[-1].commit_id
        after = None
        if start_commit is not None:
            try:
                after = self._resolve_commit(start_commit, allow_expired=True).commit_id
            except _BeforeFirstCommit:
                after = None
        table = self._table.load()
        keys = [*self.primary_key, *([self.event_time] if self.event_time else [])]
        return from_arrow(read_changes(table, commits, after, upto, keys, schema), dataframe_type)

    # -- internals ----------------------------------------------------------------------
    def _reload(self) -> FeatureGroup:
        row = self._engines.groups.get_by_id(self.id)
        if row is None:
            raise NotFoundError(f"Feature group {self.name} v{self.version} was deleted.")
        self._row = row
        return self

    def _stored_schema(self) -> pa.Schema | None:
        if not self._row.features:
            self._reload()
        if not self._row.features:
            return None
        return pa.schema([pa.field(f.name, f.arrow_type) for f in self.features])

    def _create_table(self, schema: pa.Schema) -> None:
        """Create the Iceberg table and record the schema (declared features)."""
        self._row = self._writer.ensure_table(self._row, schema)

    def _resolve_commit(self, when: Any, table: Any = None, allow_expired: bool = False) -> Commit:
        """The commit a time or commit id names; errors for unknown and expired commits."""
        commits = self._commits(table)
        if isinstance(when, CommitRow):
            when = when.commit_id
        if isinstance(when, int) and not isinstance(when, bool):
            found = [c for c in commits if c.commit_id == when]
            if not found:
                raise NotFoundError(
                    f"Feature group {self.name} v{self.version} has no commit {when}; "
                    f"its commits are {[c.commit_id for c in commits]}.",
                    commit=when,
                )
            commit = found[0]
        else:
            cutoff = to_millis(when, "wallclock_time")
            before = [c for c in commits if c.committed_ms <= cutoff]
            if not before:
                raise _BeforeFirstCommit()
            commit = before[-1]
        if commit.expired and not allow_expired:
            live = [c.commit_id for c in commits if not c.expired]
            raise NotFoundError(
                f"Commit {commit.commit_id} of {self.name} v{self.version} was expired by the retention "
                f"policy; the commits still readable are {live}.",
                commit=commit.commit_id,
            )
        return commit

    def _snapshot_at(self, wallclock_time: Any) -> tuple[Any, int | None]:
        """(Iceberg table, snapshot id) for now or a past time; snapshot None means empty."""
        if self._stored_schema() is None:
            if wallclock_time is not None and not isinstance(wallclock_time, (int, CommitRow)):
                to_millis(wallclock_time, "wallclock_time")  # a bad time is an error even on an empty group
            return None, None
        table = self._table.load()
        if wallclock_time is None:
            snapshot = table.current_snapshot()
            return table, snapshot.snapshot_id if snapshot else None
        try:
            return table, self._resolve_commit(wallclock_time, table).snapshot_id
        except _BeforeFirstCommit:
            return table, None

    def _output_schema(self) -> pa.Schema:
        return pa.schema([pa.field(f.name, f.arrow_type) for f in self.features])

    def _read_arrow(
        self,
        table: Any,
        snapshot_id: int | None,
        columns: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pa.Table:
        schema = self._output_schema()
        if columns is not None:
            schema = pa.schema([schema.field(c) for c in columns])
        if table is None or snapshot_id is None:
            return schema.empty_table()
        order = [k for k in (*self.primary_key, *([self.event_time] if self.event_time else [])) if k in schema.names]
        return reader.read(table, snapshot_id, schema, order_by=order, limit=limit, offset=offset)

    # -- planner references -----------------------------------------------------------
    # The planner works on values: the api layer resolves a group to a GroupRef and a time to
    # a Pin (snapshot and data files) before planning (lakebox/query/refs.py).
    def _planner_ref(self) -> GroupRef:
        """This group as the planner's ``GroupRef`` (identity, Iceberg table, schema, keys)."""
        from lakebox.query.refs import GroupRef

        return GroupRef(
            id=self.id,
            name=self.name,
            version=self.version,
            table_name=self._row.table_name,
            identifier=self._engines.warehouse.identifier(self._row.table_name),
            schema=self._output_schema(),
            primary_key=tuple(self.primary_key),
            event_time=self.event_time,
            online_enabled=self.online_enabled,
        )

    def _planner_pin(self, when: Any = None, files: bool = True) -> Pin:
        """The ``Pin`` a query reads at ``when`` (a time, a commit id, None for now): snapshot,
        commit and data files. A bad time, an unknown or expired commit raise, as ``read`` does;
        a time before the first commit pins the empty group. ``files=False`` skips scan planning."""
        from lakebox.query.refs import Pin

        table, snapshot_id = self._snapshot_at(when)
        if table is None or snapshot_id is None:
            return Pin(None)
        commit_id = next((c.commit_id for c in self._commits(table) if c.snapshot_id == snapshot_id), None)
        if not files:
            return Pin(snapshot_id, commit_id)
        tasks = reader.plan(table, snapshot_id)
        exact = deleted = None
        if tasks and not reader.duckdb_can_read(table, tasks):  # delete files or an evolved schema
            if reader.duckdb_can_read_deleting(table, tasks):  # lakebox's position deletes: engines anti-join them
                deleted = reader.deleted_rows(table, tasks)
            else:
                exact = reader.read(table, snapshot_id, self._output_schema(), tasks=tasks)
        return Pin(
            snapshot_id,
            commit_id,
            tuple(reader.local_path(t.file.file_path, table) for t in tasks),
            has_deletes=any(t.delete_files for t in tasks),
            exact=exact,
            deletes=deleted,
        )


class _BeforeFirstCommit(Exception):
    """Internal: a time before the group's first commit (reads as empty, never as commit 1)."""


def check_group_compatible(row: GroupRow, primary_key: Sequence[str] | None, event_time: str | None) -> None:
    """get_or_create_feature_group must not silently return a group with other keys."""
    if primary_key is not None and list(primary_key) != list(row.primary_key):
        raise ValidationError(
            f"Feature group {row.name} v{row.version} exists with primary key {list(row.primary_key)}, "
            f"not {list(primary_key)}. Use another version for a different key."
        )
    if event_time is not None and event_time != row.event_time:
        raise ValidationError(
            f"Feature group {row.name} v{row.version} exists with event time {row.event_time!r}, not {event_time!r}."
        )

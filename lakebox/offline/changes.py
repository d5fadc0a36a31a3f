"""The change feed of a group's table: what each commit changed, row by row, with deletes.

Like Delta Lake's change data feed, every changed row comes out with ``_change_type``
(``insert``, ``update_preimage``, ``update_postimage``, ``delete``), ``_commit_id`` and
``_commit_time`` (UTC), so a downstream job can apply the feed to its own copy.

A commit is one snapshot that removes some data files and adds others (copy-on-write: the
rewritten survivors of the removed files, plus new rows), or adds position-delete files.
A commit's change is therefore the diff between the rows of the files its snapshot removed
and the rows of the files it added: rows identical on both sides cancel (a rewritten file's
untouched rows, a re-inserted identical row); a key on both sides with different values is an
update (pre-image from the removed side, post-image from the added side); a key only added is
an insert, only removed a delete. The files come from the manifest entries the snapshot itself
wrote (status ADDED or DELETED with its snapshot id), so a commit costs O(files it touched),
never O(table). A merge-on-read update (``deletes.py``) adds a position-delete file instead of
rewriting: the rows at its positions are removed rows too; removed data files are read as
their parent snapshot saw them (its deletes applied), added ones as the commit's snapshot does. ``compact`` commits change no row and are skipped without reading; a
``rollback`` shows its net diff.

Replaying the feed of (a, b] over the rows at commit a gives the rows at commit b: per commit,
remove the keys of ``delete`` and ``update_preimage`` rows, then add the ``insert`` and
``update_postimage`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import sqlglot.expressions as exp
from pyiceberg.manifest import DataFile, DataFileContent, ManifestEntryStatus
from pyiceberg.table import FileScanTask, Table

from lakebox.catalog.groups import CommitRow
from lakebox.errors import NotFoundError, StorageError, ValidationError
from lakebox.offline import reader

CHANGE_TYPE, COMMIT_ID, COMMIT_TIME = "_change_type", "_commit_id", "_commit_time"
INSERT, UPDATE_PRE, UPDATE_POST, DELETE = "insert", "update_preimage", "update_postimage", "delete"
_RANK = "__lakebox_change_rank"  # orders a key's pre-image before its post-image
UNCHANGING_KINDS = frozenset({"compact"})


def change_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a change feed over rows of ``schema``."""
    return pa.schema(
        [
            *schema,
            pa.field(CHANGE_TYPE, pa.string()),
            pa.field(COMMIT_ID, pa.int64()),
            pa.field(COMMIT_TIME, pa.timestamp("us", tz="UTC")),
        ]
    )


def read_changes(
    table: Table | None,
    commits: Sequence[CommitRow],
    after_commit_id: int | None,
    upto_commit_id: int,
    key_columns: Sequence[str],
    schema: pa.Schema,
) -> pa.Table:
    """The rows changed by each commit in ``(after_commit_id, upto_commit_id]`` (None: from the
    first commit), ordered by commit, then key, pre-image before post-image.

    ``commits`` are the group's commits (the catalog's log, any order); ``key_columns`` the
    columns that identify a row (primary key and event time); ``schema`` the output columns
    (the group's features) — the feed adds ``_change_type``, ``_commit_id``, ``_commit_time``.
    ``table`` may be None for a group without data (then the range must be empty).
    A commit in the range whose snapshot (or, for a commit that rewrote files, whose previous
    snapshot) was expired raises ``NotFoundError``.
    """
    after = 0 if after_commit_id is None else int(after_commit_id)
    upto = int(upto_commit_id)
    if after < 0 or upto < after:
        raise ValidationError(
            f"A change range needs 0 <= start commit <= end commit; got start {after_commit_id}, end {upto_commit_id}."
        )
    by_id = {c.commit_id: c for c in commits}
    known = sorted(by_id)
    parts = [change_schema(schema).empty_table()]
    for commit_id in range(after + 1, upto + 1):
        commit = by_id.get(commit_id)
        if commit is None:
            span = f"commits {known[0]}..{known[-1]}" if known else "no commits yet"
            raise NotFoundError(f"Commit {commit_id} does not exist; the group has {span}.", commit_id=commit_id)
        if commit.kind in UNCHANGING_KINDS:
            continue
        if table is None:
            raise NotFoundError(f"The group has no table yet, so it has no commit {commit_id}.", commit_id=commit_id)
        parts.append(commit_changes(table, commit, key_columns, schema))
    return pa.concat_tables(parts)


def commit_changes(table: Table, commit: CommitRow, key_columns: Sequence[str], schema: pa.Schema) -> pa.Table:
    """The rows one commit changed (see the module docstring), in the change-feed schema."""
    snapshot = table.snapshot_by_id(commit.snapshot_id)
    if snapshot is None or commit.expired:
        raise NotFoundError(
            f"Commit {commit.commit_id} was expired (history retention); its changes can no longer be read. "
            "Read changes after a commit that is still kept (see commit_details()).",
            commit_id=commit.commit_id,
        )
    added, removed, deleting = _touched_files(table, snapshot)
    parent_id = snapshot.parent_snapshot_id
    if (removed or deleting) and (parent_id is None or table.snapshot_by_id(parent_id) is None):
        raise NotFoundError(
            f"The state before commit {commit.commit_id} was expired (history retention), so the rows it "
            "replaced or deleted can no longer be read. Read changes from a later commit.",
            commit_id=commit.commit_id,
        )
    before = _read_files(table, removed, parent_id, schema)
    if deleting:
        before = pa.concat_tables([before, _deleted_by(table, deleting, snapshot.snapshot_id, schema)])
    after = _read_files(table, added, snapshot.snapshot_id, schema)
    diff = _diff(before, after, list(key_columns), schema)
    n = diff.num_rows
    diff = diff.append_column(COMMIT_ID, pa.array([commit.commit_id] * n, pa.int64()))
    committed = pa.array([commit.committed_ms * 1000] * n, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return diff.append_column(COMMIT_TIME, committed)


def _touched_files(table: Table, snapshot: object) -> tuple[list[DataFile], list[DataFile], list[DataFile]]:
    """The data files a snapshot added and removed, and the position-delete files it added,
    from the manifest entries it wrote."""
    snapshot_id = snapshot.snapshot_id  # type: ignore[attr-defined]
    added: dict[str, DataFile] = {}
    removed: dict[str, DataFile] = {}
    deleting: list[DataFile] = []
    try:
        manifests = snapshot.manifests(table.io)  # type: ignore[attr-defined]
        for manifest in manifests:
            if manifest.added_snapshot_id != snapshot_id:
                continue  # inherited unchanged from an earlier snapshot
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=False):
                if entry.snapshot_id != snapshot_id or entry.status == ManifestEntryStatus.EXISTING:
                    continue
                content = entry.data_file.content
                if content == DataFileContent.POSITION_DELETES and entry.status == ManifestEntryStatus.ADDED:
                    deleting.append(entry.data_file)
                    continue
                if content != DataFileContent.DATA:  # lakebox removes delete files only when compacting
                    raise StorageError(
                        f"{table.name()} has delete files written by another engine; lakebox cannot read its changes."
                    )
                target = added if entry.status == ManifestEntryStatus.ADDED else removed
                target[entry.data_file.file_path] = entry.data_file
    except OSError as e:
        raise StorageError(f"Cannot read the manifests of snapshot {snapshot_id} of {table.name()}: {e}") from e
    # a file removed and re-added (a rollback) may differ by the deletes that apply: both
    # sides are read and identical rows cancel in the diff
    return list(added.values()), list(removed.values()), deleting


def _read_files(table: Table, files: Sequence[DataFile], snapshot_id: int | None, schema: pa.Schema) -> pa.Table:
    """The rows of ``files`` as snapshot ``snapshot_id`` saw them (its delete files applied)."""
    if not files or snapshot_id is None:
        return schema.empty_table()
    tasks = [FileScanTask(f) for f in files]
    if _has_deletes(table, snapshot_id):
        wanted = {f.file_path for f in files}
        tasks = [t for t in reader.plan(table, snapshot_id) if t.file.file_path in wanted]
    try:
        rows = reader.arrow_scan(table, tasks, snapshot_id)
    except OSError as e:
        raise StorageError(f"A data file of {table.name()} is missing or unreadable: {e}") from e
    return _project(rows, schema)


def _has_deletes(table: Table, snapshot_id: int) -> bool:
    snapshot = table.snapshot_by_id(snapshot_id)
    summary = snapshot.summary if snapshot is not None else None
    return summary is not None and int(summary["total-delete-files"] or 0) > 0


def _deleted_by(table: Table, delete_files: Sequence[DataFile], snapshot_id: int, schema: pa.Schema) -> pa.Table:
    """The stored rows at the positions ``delete_files`` list (each read from its data file)."""
    positions = pa.concat_tables(
        [pq.read_table(reader.local_path(d.file_path, table), columns=["file_path", "pos"]) for d in delete_files]
    )
    by_file: dict[str, list[int]] = {}
    for path, pos in zip(positions.column("file_path").to_pylist(), positions.column("pos").to_pylist(), strict=True):
        by_file.setdefault(path, []).append(pos)
    live = {t.file.file_path: t.file for t in reader.plan(table, snapshot_id) if t.file.file_path in by_file}
    parts = [schema.empty_table()]
    for path, rows_at in by_file.items():
        data_file = live.get(path)
        if data_file is None:
            raise StorageError(
                f"{table.name()}: a delete file of snapshot {snapshot_id} names {path}, which is not live."
            )
        try:
            rows = reader.arrow_scan(table, [FileScanTask(data_file)], snapshot_id)
        except OSError as e:
            raise StorageError(f"A data file of {table.name()} is missing or unreadable: {e}") from e
        parts.append(_project(rows.take(pa.array(sorted(rows_at), pa.int64())), schema))
    return pa.concat_tables(parts)


def _project(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    columns = [rows.column(f.name) if f.name in rows.column_names else pa.nulls(rows.num_rows, f.type) for f in schema]
    return reader.conform(pa.Table.from_arrays(columns, names=schema.names), schema)


def _diff(before: pa.Table, after: pa.Table, keys: list[str], schema: pa.Schema) -> pa.Table:
    """Rows of ``before``/``after`` labelled delete / update pre / update post / insert."""
    empty = pa.schema([*schema, pa.field(CHANGE_TYPE, pa.string())]).empty_table()
    if before.num_rows == 0 and after.num_rows == 0:
        return empty
    columns = [exp.column(name, quoted=True) for name in schema.names]

    def only(side: str, other: str) -> exp.Expression:
        """Rows of ``side`` with no identical row in ``other`` (NULLs compare equal)."""
        return exp.except_(exp.select(*columns).from_(side), exp.select(*columns).from_(other), distinct=True)

    def labelled(source: str, other: str, join_type: str, label: str, rank: int) -> exp.Expression:
        on = exp.and_(
            *[exp.EQ(this=exp.column(k, "s", quoted=True), expression=exp.column(k, "o", quoted=True)) for k in keys]
        )
        return (
            exp.select(
                *[exp.column(name, "s", quoted=True) for name in schema.names],
                exp.alias_(exp.Literal.string(label), CHANGE_TYPE, quoted=True),
                exp.alias_(exp.Literal.number(rank), _RANK, quoted=True),
            )
            .from_(exp.alias_(exp.to_table(source, quoted=True), "s", table=True))
            .join(exp.alias_(exp.to_table(other, quoted=True), "o", table=True), on=on, join_type=join_type)
        )

    query = (
        exp.select("*")
        .from_(
            exp.union(
                exp.union(
                    labelled("removed_only", "added_only", "ANTI", DELETE, 0),
                    labelled("removed_only", "added_only", "SEMI", UPDATE_PRE, 1),
                    distinct=False,
                ),
                exp.union(
                    labelled("added_only", "removed_only", "SEMI", UPDATE_POST, 2),
                    labelled("added_only", "removed_only", "ANTI", INSERT, 3),
                    distinct=False,
                ),
                distinct=False,
            ).subquery("changes")
        )
        .with_("removed_only", as_=only("removed_rows", "added_rows"))
        .with_("added_only", as_=only("added_rows", "removed_rows"))
    )
    con = reader.cursor()
    try:
        con.register("removed_rows", before)
        con.register("added_rows", after)
        result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
    except duckdb.Error as e:
        raise StorageError(f"Computing the changes of a commit failed in DuckDB: {e}") from e
    finally:
        con.close()
    if result.num_rows == 0:
        return empty
    order = pc.sort_indices(result, sort_keys=[*((k, "ascending") for k in keys), (_RANK, "ascending")])
    result = result.take(order).drop_columns([_RANK])
    return reader.conform(result, empty.schema)

"""``Query``: a read of one feature group, optionally pinned in time or limited to changes.

``fg.as_of(t)`` pins the group to the commit current at ``t``; ``fg.as_of(t, exclude_until=u)``
returns only the rows that commits in ``(u, t]`` inserted or changed (incremental reads):
rows of the files that differ between the two snapshots, minus rows already present at ``u``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import QueryError, ValidationError
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.offline import reader

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup


class Query:
    """A query over one feature group; build it with ``fg.select``, ``fg.select_all`` or ``fg.as_of``."""

    def __init__(
        self,
        group: FeatureGroup,
        features: list[str] | None = None,
        wallclock_time: Any = None,
        exclude_until: Any = None,
    ) -> None:
        if exclude_until is not None and wallclock_time is None:
            raise ValidationError("exclude_until needs a wallclock_time to read the changes up to.")
        if features is not None:
            for name in features:
                group.get_feature(name)
        self._group = group
        self._features = features
        self._wallclock_time = wallclock_time
        self._exclude_until = exclude_until

    @property
    def columns(self) -> list[str]:
        return self._features if self._features is not None else [f.name for f in self._group.features]

    def as_of(self, wallclock_time: Any, exclude_until: Any = None) -> Query:
        return Query(self._group, self._features, wallclock_time, exclude_until)

    def read(self, dataframe_type: str = "pandas") -> Any:
        check_dataframe_type(dataframe_type)
        return from_arrow(self._read_arrow(), dataframe_type)

    def show(self, n: int = 10) -> Any:
        return self.read().head(n)

    def to_sql(self, dialect: str = "duckdb") -> str:
        """The SQL of this query over lakebox's relation names (``name_version``, and
        ``name_version__commit_N`` for a pinned commit)."""
        group = self._group
        current = self._relation_name(self._wallclock_time)
        query = self._select(exp.to_table(current, quoted=True))
        if self._exclude_until is not None:
            before = self._relation_name(self._exclude_until)
            query = exp.except_(query, self._select(exp.to_table(before, quoted=True)), distinct=True)
        del group
        try:
            return query.sql(dialect=dialect, pretty=True)
        except Exception as e:  # sqlglot raises several types for unsupported dialects
            raise QueryError(f"Cannot render SQL for dialect {dialect!r}: {e}") from e

    def __repr__(self) -> str:
        return f"Query({self._group.name} v{self._group.version}, columns={self.columns})"

    # -- internals ----------------------------------------------------------------------
    def _relation_name(self, when: Any) -> str:
        base = self._group.table_name
        if when is None:
            return base
        try:
            commit = self._group._resolve_commit(when)
        except Exception:  # noqa: BLE001 - a time before the first commit still has a name
            return f"{base}__empty"
        return f"{base}__commit_{commit.commit_id}"

    def _select(self, source: exp.Expression) -> exp.Select:
        return exp.select(*[exp.column(c, quoted=True) for c in self.columns]).from_(source)

    def _read_arrow(self) -> pa.Table:
        group = self._group
        table, snapshot = group._snapshot_at(self._wallclock_time)
        if self._exclude_until is None:
            return group._read_arrow(table, snapshot, self.columns)
        _, base = group._snapshot_at(self._exclude_until)
        schema = group._output_schema()
        schema = pa.schema([schema.field(c) for c in self.columns])
        if table is None or snapshot is None:
            return schema.empty_table()
        now_tasks = reader.plan(table, snapshot)
        base_tasks = reader.plan(table, base)
        base_paths = {t.file.file_path for t in base_tasks}
        now_paths = {t.file.file_path for t in now_tasks}
        added = [t for t in now_tasks if t.file.file_path not in base_paths]
        removed = [t for t in base_tasks if t.file.file_path not in now_paths]
        full = group._output_schema()
        new_rows = reader.read(table, snapshot, full, tasks=added) if added else full.empty_table()
        old_rows = reader.read(table, base, full, tasks=removed) if removed and base else full.empty_table()
        con = reader.connect()
        try:
            con.register("lakebox_new", new_rows)
            con.register("lakebox_old", old_rows)
            # Compare whole rows (a re-inserted identical row is no change), then project.
            changed = exp.except_(
                exp.select("*").from_("lakebox_new"), exp.select("*").from_("lakebox_old"), distinct=True
            ).subquery("changed")
            order = [k for k in (*group.primary_key, *([group.event_time] if group.event_time else []))]
            query = (
                exp.select(*[exp.column(c, quoted=True) for c in self.columns])
                .from_(changed)
                .order_by(*[exp.column(k, quoted=True) for k in order])
            )
            result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
        except duckdb.Error as e:
            raise QueryError(f"Incremental read of {group.name} failed: {e}") from e
        finally:
            con.close()
        return reader.conform(result, schema)

"""``Query``: features selected from groups, joined (point-in-time where both have event
time), filtered and pinned in time. ``fg.select([...]).join(other.select_all()).filter(...)``.

A query builds a logical plan (``plan.py``), compiles it to a sqlglot tree (``compile.py``)
and runs it in DuckDB (``execute.py``). ``fg.as_of(t, exclude_until=u)`` on a single group
reads only the rows that commits in ``(u, t]`` inserted or changed (incremental reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa
import sqlglot.expressions as exp

from lakebox.errors import InvalidNameError, QueryError, ValidationError
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.names import NAME_PATTERN
from lakebox.offline import reader
from lakebox.query.compile import Formulation, compile_plan
from lakebox.query.execute import execute
from lakebox.query.filter import Condition
from lakebox.query.plan import Join, Output, Plan, Relation

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup

DEFAULT_FORMULATION: Formulation = "window"
PORTABLE_DIALECTS = {"spark", "spark2", "databricks", "trino", "presto", "hive", "bigquery", "snowflake", "postgres"}


@dataclass(frozen=True)
class _JoinSpec:
    query: Query
    on: tuple[str, ...] | None
    left_on: tuple[str, ...] | None
    right_on: tuple[str, ...] | None
    join_type: str
    prefix: str | None
    max_age: timedelta | None


class Query:
    """A query over one or more feature groups; build it with ``fg.select``/``select_all``."""

    def __init__(
        self,
        group: FeatureGroup,
        features: Sequence[str] | None = None,
        wallclock_time: Any = None,
        exclude_until: Any = None,
        *,
        joins: Sequence[_JoinSpec] = (),
        where: Condition | None = None,
    ) -> None:
        if exclude_until is not None and wallclock_time is None:
            raise ValidationError("exclude_until needs a wallclock_time to read the changes up to.")
        if features is not None:
            if isinstance(features, str):
                features = [features]
            for name in features:
                group.get_feature(name)
            if len(set(features)) != len(features):
                raise QueryError(f"The selection {list(features)} names a feature twice.")
        self._group = group
        self._features = list(features) if features is not None else None
        self._wallclock_time = wallclock_time
        self._exclude_until = exclude_until
        self._joins = tuple(joins)
        self._where = where

    # -- building -----------------------------------------------------------------------
    def _copy(self, **changes: Any) -> Query:
        values = {
            "features": self._features,
            "wallclock_time": self._wallclock_time,
            "exclude_until": self._exclude_until,
            "joins": self._joins,
            "where": self._where,
        }
        values.update(changes)
        return Query(self._group, **values)

    def join(
        self,
        other: Query | FeatureGroup,
        on: Sequence[str] | str | None = None,
        left_on: Sequence[str] | str | None = None,
        right_on: Sequence[str] | str | None = None,
        join_type: str = "left",
        prefix: str | None = None,
        max_age: timedelta | None = None,
    ) -> Query:
        """Join another query. Point-in-time (``ASOF``) when both groups have an event time:
        each row gets the other group's latest row at or before its own event time."""
        if not isinstance(other, Query):
            other = other.select_all()
        if join_type not in ("left", "inner"):
            raise QueryError(f"join_type must be 'left' or 'inner', got {join_type!r}.")
        if on is not None and (left_on is not None or right_on is not None):
            raise QueryError("Pass either on=[...] or left_on=/right_on=, not both.")
        if (left_on is None) != (right_on is None):
            raise QueryError("left_on and right_on go together.")
        if prefix is not None and (not isinstance(prefix, str) or not NAME_PATTERN.match(prefix)):
            raise InvalidNameError(
                f"The prefix {prefix!r} must be lower-case letters, digits and underscores (e.g. 'team_'), "
                "so that prefixed names stay plain identifiers."
            )
        if max_age is not None and (not isinstance(max_age, timedelta) or max_age < timedelta(0)):
            raise QueryError("max_age must be a non-negative datetime.timedelta.")
        spec = _JoinSpec(other, _names(on), _names(left_on), _names(right_on), join_type, prefix, max_age)
        if spec.left_on is not None and spec.right_on is not None and len(spec.left_on) != len(spec.right_on):
            raise QueryError("left_on and right_on must name the same number of columns.")
        return self._copy(joins=(*self._joins, spec))

    def filter(self, condition: Condition) -> Query:
        if not isinstance(condition, Condition):
            raise QueryError(f"filter() takes a condition such as fg.age > 30, got {condition!r}.")
        return self._copy(where=condition if self._where is None else self._where & condition)

    def as_of(self, wallclock_time: Any = None, exclude_until: Any = None) -> Query:
        """Pin every group of the query to its commit at ``wallclock_time`` (bitemporal)."""
        return self._copy(wallclock_time=wallclock_time, exclude_until=exclude_until)

    # -- serialisation (feature views store their query) ---------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "group": [self._group.name, self._group.version],
            "features": self._features,
            "joins": [
                {
                    "query": j.query.to_dict(),
                    "on": list(j.on) if j.on is not None else None,
                    "left_on": list(j.left_on) if j.left_on is not None else None,
                    "right_on": list(j.right_on) if j.right_on is not None else None,
                    "join_type": j.join_type,
                    "prefix": j.prefix,
                    "max_age_s": j.max_age.total_seconds() if j.max_age is not None else None,
                }
                for j in self._joins
            ],
            "where": self._where.to_dict() if self._where is not None else None,
        }

    @classmethod
    def from_dict(cls, store: Any, data: dict[str, Any]) -> Query:
        def col(group: str, version: int, name: str) -> Any:
            return store.get_feature_group(group, version)[name]

        group = store.get_feature_group(*data["group"])
        joins = [
            _JoinSpec(
                cls.from_dict(store, j["query"]),
                _names(j["on"]),
                _names(j["left_on"]),
                _names(j["right_on"]),
                j["join_type"],
                j["prefix"],
                timedelta(seconds=j["max_age_s"]) if j["max_age_s"] is not None else None,
            )
            for j in data["joins"]
        ]
        where = Condition.from_dict(data["where"], col) if data["where"] is not None else None
        return cls(group, data["features"], joins=joins, where=where)

    @property
    def root_group(self) -> FeatureGroup:
        return self._group

    def groups(self) -> list[FeatureGroup]:
        """Every feature group the query reads, root first."""
        found = [self._group]
        for spec in self._joins:
            found.extend(g for g in spec.query.groups() if all(g.id != f.id for f in found))
        return found

    @property
    def features(self) -> list[str]:
        """The output column names."""
        return [o.name for o in self._build_plan(resolve=False).outputs]

    @property
    def columns(self) -> list[str]:
        return self.features

    def __repr__(self) -> str:
        return f"Query({self._group.name} v{self._group.version}, joins={len(self._joins)}, features={self.features})"

    # -- running ------------------------------------------------------------------------
    def read(self, dataframe_type: str = "pandas", formulation: Formulation | None = None) -> Any:
        check_dataframe_type(dataframe_type)
        return from_arrow(self._read_arrow(formulation), dataframe_type)

    def show(self, n: int = 10) -> Any:
        """The first ``n`` rows (as pandas); reads only those."""
        if self._exclude_until is not None:
            return self.read().head(n)
        return from_arrow(execute(self._build_plan(resolve=True), DEFAULT_FORMULATION, limit=n), "pandas")

    def to_sql(self, dialect: str = "duckdb", formulation: Formulation | None = None) -> str:
        """The SQL of this query over relations named ``name_version`` (each group at the
        query's pinned commit). Dialects without ASOF joins get the portable window plan."""
        if self._exclude_until is not None:
            return self._incremental_sql(dialect)
        if formulation is None:
            formulation = "window" if dialect in PORTABLE_DIALECTS else DEFAULT_FORMULATION
        if formulation == "asof" and dialect != "duckdb":
            raise QueryError(f"The ASOF formulation is DuckDB-only; use formulation='window' for {dialect}.")
        tree = compile_plan(self._build_plan(resolve=False), formulation)
        try:
            return tree.sql(dialect=dialect, pretty=True)
        except Exception as e:  # sqlglot raises several types for unsupported dialects
            raise QueryError(f"Cannot render SQL for dialect {dialect!r}: {e}") from e

    def _read_arrow(self, formulation: Formulation | None = None) -> pa.Table:
        if self._exclude_until is not None:
            return self._read_incremental()
        return execute(self._build_plan(resolve=True), formulation or DEFAULT_FORMULATION)

    # -- planning -----------------------------------------------------------------------
    def _selected(self, joined: bool) -> list[str]:
        group = self._group
        if self._features is not None:
            return list(self._features)
        names = [f.name for f in group.features]
        return names

    def _build_plan(self, resolve: bool) -> Plan:
        if self._exclude_until is not None and self._joins:
            raise QueryError("exclude_until (incremental reads) works on a single feature group, not on joins.")
        root_time = self._wallclock_time
        spine = _relation(self._group, root_time, resolve)
        plan = Plan(spine=spine, columns_of={self._group.id: "s"})
        for name in self._selected(joined=False):
            plan.outputs.append(Output("s", name, name))
        conditions: list[Condition] = [self._where] if self._where is not None else []
        counter = [0]
        _add_joins(plan, self, "s", root_time, resolve, counter, conditions)
        for condition in conditions:
            plan.where = condition if plan.where is None else plan.where & condition
        if plan.where is not None:
            for c in plan.where.columns():
                plan.alias_of(c)  # every filtered group must be in the query
        return plan

    # -- incremental reads --------------------------------------------------------------
    def _relation_name(self, when: Any) -> str:
        base = self._group.table_name
        try:
            commit = self._group._resolve_commit(when)
        except Exception:  # noqa: BLE001 - a time before the first commit still has a name
            return f"{base}__empty"
        return f"{base}__commit_{commit.commit_id}"

    def _incremental_sql(self, dialect: str) -> str:
        columns = self._selected(joined=False)

        def select(name: str) -> exp.Select:
            return exp.select(*[exp.column(c, quoted=True) for c in columns]).from_(exp.to_table(name, quoted=True))

        query = exp.except_(
            select(self._relation_name(self._wallclock_time)), select(self._relation_name(self._exclude_until))
        )
        return query.sql(dialect=dialect, pretty=True)

    def _read_incremental(self) -> pa.Table:
        group = self._group
        columns = self._selected(joined=False)
        table, snapshot = group._snapshot_at(self._wallclock_time)
        _, base = group._snapshot_at(self._exclude_until)
        full = group._output_schema()
        schema = pa.schema([full.field(c) for c in columns])
        if table is None or snapshot is None:
            return schema.empty_table()
        now_tasks = reader.plan(table, snapshot)
        base_tasks = reader.plan(table, base)
        base_paths = {t.file.file_path for t in base_tasks}
        now_paths = {t.file.file_path for t in now_tasks}
        added = [t for t in now_tasks if t.file.file_path not in base_paths]
        removed = [t for t in base_tasks if t.file.file_path not in now_paths]
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
            order = [*group.primary_key, *([group.event_time] if group.event_time else [])]
            query = (
                exp.select(*[exp.column(c, quoted=True) for c in columns])
                .from_(changed)
                .order_by(*[exp.column(k, quoted=True) for k in order])
            )
            result = con.sql(query.sql(dialect="duckdb")).to_arrow_table()
        except duckdb.Error as e:
            raise QueryError(f"Incremental read of {group.name} failed: {e}") from e
        finally:
            con.close()
        return reader.conform(result, schema)


def _names(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _relation(group: FeatureGroup, when: Any, resolve: bool) -> Relation:
    """The group as a plan relation, pinned at ``when`` (snapshots resolved only to execute)."""
    table, snapshot = group._snapshot_at(when) if resolve else (None, None)
    return Relation(
        name=group.table_name,
        schema=group._output_schema(),
        primary_key=group.primary_key,
        event_time=group.event_time,
        group=group,
        snapshot_id=snapshot,
        table=table,
    )


def _add_joins(
    plan: Plan,
    query: Query,
    alias: str,
    root_time: Any,
    resolve: bool,
    counter: list[int],
    conditions: list[Condition],
) -> None:
    left = query._group
    taken = {o.name for o in plan.outputs}
    for spec in query._joins:
        right_query = spec.query
        right = right_query._group
        counter[0] += 1
        right_alias = f"j{counter[0]}"
        when = root_time if root_time is not None else right_query._wallclock_time
        relation = _relation(right, when, resolve)
        left_names = {f.name for f in left.features}
        right_names = {f.name for f in right.features}
        if spec.on is not None:
            left_keys, right_keys = list(spec.on), list(spec.on)
        elif spec.left_on is not None and spec.right_on is not None:
            left_keys, right_keys = list(spec.left_on), list(spec.right_on)
        else:
            right_keys = list(right.primary_key)
            left_keys = right_keys
        for key in right_keys:
            if key not in right_names:
                raise QueryError(f"Join key {key!r} is not a feature of {right.name} v{right.version}.")
        left_alias, time_alias, left_time = alias, alias, left.event_time
        if any(k not in left_names for k in left_keys):
            # The keys may come from a group joined earlier (labels -> players -> teams on
            # players.team_id): join through it, as of the root row's time.
            earlier = [
                j for j in plan.joins if all(k in j.relation.schema.names for k in left_keys)
            ]
            if not earlier:
                missing = [k for k in left_keys if k not in left_names]
                raise QueryError(
                    f"Cannot join {right.name} v{right.version}: {left.name} v{left.version} (and the groups "
                    f"joined before) lack the key column(s) {missing}. Pass on=[...] or left_on=/right_on=.",
                )
            left_alias = earlier[-1].alias
            time_alias, left_time = plan.spine_alias, plan.spine.event_time
        join = Join(
            relation=relation,
            alias=right_alias,
            left_alias=left_alias,
            left_keys=left_keys,
            right_keys=right_keys,
            join_type=spec.join_type,  # type: ignore[arg-type]
            max_age=spec.max_age,
            left_time=left_time,
            time_alias=time_alias,
        )
        plan.joins.append(join)
        plan.columns_of.setdefault(right.id, right_alias)
        if right_query._features is not None:
            selected = list(right_query._features)
        else:  # select_all on the right: its keys and event time are the left's already
            selected = [f.name for f in right.features if f.name not in right_keys and f.name != right.event_time]
        clashes = []
        for name in selected:
            if spec.prefix is None and name in right_keys and name in left_keys and name in taken:
                continue  # the join key equals the left's column: do not repeat it
            out = (spec.prefix or "") + name
            if out in taken:
                clashes.append(name)
                continue
            plan.outputs.append(Output(right_alias, name, out, join))
            taken.add(out)
        if clashes:
            raise QueryError(
                f"Feature(s) {clashes} of {right.name} v{right.version} clash with columns already in the query. "
                f"Pass prefix='{right.name}_' to join(), or select other features.",
                clashes=clashes,
            )
        if right_query._where is not None:
            conditions.append(right_query._where)
        _add_joins(plan, right_query, right_alias, root_time, resolve, counter, conditions)

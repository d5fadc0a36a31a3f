"""``Query`` (api): features selected from groups, joined (point-in-time where both have
event time), filtered and pinned in time. ``fg.select([...]).join(other.select_all()).filter(...)``.

A thin object over the planner (``lakebox/query/``): it turns itself into a ``QuerySpec`` of
``GroupRef`` values, the planner builds the plan (``build``), this layer pins each group
(``bind``, with ``FeatureGroup._planner_pin``), and the plan is compiled and executed on
DuckDB (or Spark). ``fg.as_of(t, exclude_until=u)`` on a single group reads only the rows that
commits in ``(u, t]`` inserted or changed (incremental reads). This module also holds the
helpers the other api objects use to hand the planner its values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.errors import InvalidNameError, QueryError, ValidationError
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.names import NAME_PATTERN
from lakebox.query import duck, incremental
from lakebox.query.bind import PinResolver, bind
from lakebox.query.build import JoinSpec, QuerySpec, query_plan
from lakebox.query.compile import Formulation, compile_plan
from lakebox.query.filter import Condition
from lakebox.query.plan import Plan
from lakebox.query.refs import GroupRef, Pin

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.sharing import SharedFeatureGroup

DEFAULT_FORMULATION: Formulation = "window"
PORTABLE_DIALECTS = {"spark", "spark2", "databricks", "trino", "presto", "hive", "bigquery", "snowflake", "postgres"}
ENGINES = ("duckdb", "spark")


# -- helpers the api objects share ------------------------------------------------------
def group_key(group: Any) -> tuple[str, int]:
    """A group's ``GroupRef.key`` without building the ref: (owning project or "", id); a
    group another project shares (``fs.get_shared_feature_group``) has ``owner_project``."""
    return (getattr(group, "owner_project", None) or "", group.id)


def pin_resolver(
    groups: Sequence[FeatureGroup | SharedFeatureGroup] = (), store: Any = None, files: bool = True
) -> PinResolver:
    """``pin_of(ref, when)`` over the given groups (or, for others, the store's; another
    project's through ``store.get_shared_feature_group``, which checks the share)."""
    by_key = {group_key(g): g for g in groups}

    def pin_of(ref: GroupRef, when: Any) -> Pin:
        group = by_key.get(ref.key)
        if group is None and ref.project is not None:
            group = by_key[ref.key] = store.get_shared_feature_group(ref.project, ref.name, ref.version)
        elif group is None:
            group = by_key[ref.key] = store.get_feature_group(ref.name, ref.version)
        return group._planner_pin(when, files=files)

    return pin_of


def duck_settings(store: Any) -> duck.DuckSettings:
    """The planner's DuckDB settings for the store's box: ``duckdb_memory_limit`` from
    ``lakebox.toml`` (default half the RAM) and spilling into ``<box>/.tmp``."""
    box = store.engines.box
    return duck.settings_from(box.settings(), spill_directory(box.root))


def spill_directory(root: Path) -> Path:
    return root / ".tmp"


def check_engine(engine: str, spark: Any) -> None:
    if engine not in ENGINES:
        raise ValidationError(f"engine must be 'duckdb' or 'spark', got {engine!r}.")
    if engine == "spark" and spark is None:
        raise ValidationError("engine='spark' needs the Spark session: pass spark=SparkSession.builder.getOrCreate().")
    if engine == "duckdb" and spark is not None:
        raise ValidationError("spark= is only used with engine='spark'.")


@dataclass(frozen=True)
class _Join:
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
        group: FeatureGroup | SharedFeatureGroup,  # a group of this box, or one another project shares
        features: Sequence[str] | None = None,
        wallclock_time: Any = None,
        exclude_until: Any = None,
        *,
        joins: Sequence[_Join] = (),
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
        spec = _Join(other, _names(on), _names(left_on), _names(right_on), join_type, prefix, max_age)
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
        owner = getattr(self._group, "owner_project", None)  # another project's group, shared with this one
        return {
            **({"project": owner} if owner else {}),
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
        def col(group: str, version: int, name: str, project: str | None = None) -> Any:
            if project:
                return store.get_shared_feature_group(project, group, version)[name]
            return store.get_feature_group(group, version)[name]

        if data.get("project"):  # checks the share: a revoked one fails here, naming the owner
            group = store.get_shared_feature_group(data["project"], *data["group"])
        else:
            group = store.get_feature_group(*data["group"])
        joins = [
            _Join(
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
    def root_group(self) -> FeatureGroup | SharedFeatureGroup:
        return self._group

    def groups(self) -> list[FeatureGroup | SharedFeatureGroup]:
        """Every feature group the query reads, root first."""
        found = [self._group]
        for spec in self._joins:
            found.extend(g for g in spec.query.groups() if all(group_key(g) != group_key(f) for f in found))
        return found

    @property
    def features(self) -> list[str]:
        """The output column names."""
        return [o.name for o in self._plan().outputs]

    @property
    def columns(self) -> list[str]:
        return self.features

    def __repr__(self) -> str:
        return f"Query({self._group.name} v{self._group.version}, joins={len(self._joins)}, features={self.features})"

    # -- running ------------------------------------------------------------------------
    def read(
        self,
        dataframe_type: str = "pandas",
        formulation: Formulation | None = None,
        engine: str = "duckdb",
        spark: Any = None,
    ) -> Any:
        """The query's rows; ``engine="spark", spark=session`` returns a Spark DataFrame."""
        check_engine(engine, spark)
        if engine == "spark":
            return self._read_spark(spark)
        check_dataframe_type(dataframe_type)
        return from_arrow(self._read_arrow(formulation), dataframe_type)

    def show(self, n: int = 10) -> Any:
        """The first ``n`` rows (as pandas); reads only those."""
        if self._exclude_until is not None:
            return self.read().head(n)
        return from_arrow(duck.execute(self._bound_plan(), DEFAULT_FORMULATION, limit=n, settings=self._settings()), "pandas")

    def to_sql(self, dialect: str = "duckdb", formulation: Formulation | None = None) -> str:
        """The SQL of this query over relations named ``name_version`` (each group at the
        query's pinned commit). Dialects without ASOF joins get the portable window plan.
        A bad ``as_of`` raises here exactly as in ``read()``."""
        if self._exclude_until is not None:
            return self._incremental_sql(dialect)
        if formulation is None:
            formulation = "window" if dialect in PORTABLE_DIALECTS else DEFAULT_FORMULATION
        if formulation == "asof" and dialect != "duckdb":
            raise QueryError(f"The ASOF formulation is DuckDB-only; use formulation='window' for {dialect}.")
        plan = bind(self._plan(), pin_resolver(self.groups(), files=False))  # validates every as_of
        tree = compile_plan(plan, formulation)
        try:
            return tree.sql(dialect=dialect, pretty=True)
        except Exception as e:  # sqlglot raises several types for unsupported dialects
            raise QueryError(f"Cannot render SQL for dialect {dialect!r}: {e}") from e

    def _read_arrow(self, formulation: Formulation | None = None) -> pa.Table:
        if self._exclude_until is not None:
            return self._read_incremental()
        return duck.execute(self._bound_plan(), formulation or DEFAULT_FORMULATION, settings=self._settings())

    def _read_spark(self, spark: Any) -> Any:
        from lakebox.query import spark as spark_engine

        if self._exclude_until is not None:
            raise QueryError("Incremental reads (exclude_until) run on DuckDB only; drop engine='spark'.")
        return spark_engine.execute(self._bound_plan(), spark)

    # -- planning -----------------------------------------------------------------------
    def _spec(self) -> QuerySpec:
        return QuerySpec(
            ref=self._group._planner_ref(),
            features=tuple(self._features) if self._features is not None else None,
            as_of=self._wallclock_time,
            joins=tuple(
                JoinSpec(j.query._spec(), j.on, j.left_on, j.right_on, j.join_type, j.prefix, j.max_age)
                for j in self._joins
            ),
            where=self._where,
        )

    def _plan(self) -> Plan:
        """The unpinned plan (names, joins, outputs)."""
        if self._exclude_until is not None and self._joins:
            raise QueryError("exclude_until (incremental reads) works on a single feature group, not on joins.")
        return query_plan(self._spec())

    def _bound_plan(self) -> Plan:
        """The plan with every group pinned to its snapshot (data files planned)."""
        return bind(self._plan(), pin_resolver(self.groups()))

    def _settings(self) -> duck.DuckSettings:
        return duck_settings(self._group._store)

    # -- incremental reads --------------------------------------------------------------
    def _selected(self) -> list[str]:
        return list(self._features) if self._features is not None else [f.name for f in self._group.features]

    def _incremental_pins(self, files: bool) -> tuple[GroupRef, Pin, Pin]:
        self._plan()  # refuses joins
        group = self._group
        return group._planner_ref(), group._planner_pin(self._wallclock_time, files), group._planner_pin(self._exclude_until, files)

    def _incremental_sql(self, dialect: str) -> str:
        ref, now, base = self._incremental_pins(files=False)
        return incremental.incremental_sql(ref, self._selected(), now, base, dialect)

    def _read_incremental(self) -> pa.Table:
        ref, now, base = self._incremental_pins(files=True)
        return incremental.read_incremental(ref, self._selected(), now, base, self._settings())


def _names(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    return tuple(value)



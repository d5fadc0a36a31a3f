"""``FeatureStore``: create, find and query feature groups of a project."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.catalog.groups import FeatureRow
from lakebox.errors import AlreadyExistsError, NotFoundError, SchemaMismatchError, ValidationError
from lakebox.external_group import ExternalGroupsMixin
from lakebox.feature import Feature, as_feature
from lakebox.feature_group import FeatureGroup, check_group_compatible, new_table_name
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.hsfs_store import StoreAliases
from lakebox.monitors import MonitorMixin
from lakebox.names import check_name, check_version, did_you_mean
from lakebox.offline.batch import check_online_keys
from lakebox.sharing import SharedStoreMixin
from lakebox.streams import StoreStreamMixin

if TYPE_CHECKING:
    from lakebox.engines import Engines
    from lakebox.feature_view import FeatureView
    from lakebox.project import Project
    from lakebox.queries import Query


class FeatureStore(MonitorMixin, ExternalGroupsMixin, StoreAliases, SharedStoreMixin, StoreStreamMixin):
    """The feature store of a project: ``project.get_feature_store()``."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._engines = project.engines
        self._groups = self._engines.groups
        self._views = self._engines.views
        self._assets = self._engines.assets

    @property
    def engines(self) -> Engines:
        """The box's engines (shared by every project of the box in this process)."""
        return self._engines

    @property
    def project(self) -> Project:
        return self._project

    def create_feature_group(
        self,
        name: str,
        version: int | None = None,
        primary_key: Sequence[str] | None = None,
        event_time: str | None = None,
        online_enabled: bool = False,
        description: str = "",
        features: Sequence[Feature | dict[str, Any] | tuple[Any, ...]] | None = None,
        statistics: bool = True,
        expectations: Sequence[Any] | None = None,
        validation: str = "strict",
    ) -> FeatureGroup:
        """Create a feature group; ``version=None`` takes the next free version.

        The schema comes from ``features`` or, when omitted, from the first insert.
        ``statistics`` computes descriptive statistics of the group after every commit (turn it
        off for huge groups; ``fg.get_statistics()`` still computes them on demand).
        ``expectations`` (``lakebox.expect`` rules) check every batch before it is written:
        ``validation="strict"`` refuses a failing batch, ``"warn"`` writes it and keeps the report.
        """
        from lakebox.expect import Expectation

        if validation not in ("strict", "warn"):
            raise ValidationError(f"validation must be 'strict' or 'warn', got {validation!r}.")
        rules = []
        for rule in expectations or []:
            if not isinstance(rule, Expectation):
                raise ValidationError(f"expectations take lakebox.expect rules (e.g. expect.not_null('age')), got {rule!r}.")
            rules.append(rule.to_dict())
        check_name(name, "feature group name")
        if not primary_key:
            raise ValidationError(
                f"Feature group {name!r} needs a primary key: primary_key=['id', ...] names the "
                "columns that identify an entity."
            )
        if isinstance(primary_key, str):
            primary_key = [primary_key]
        keys = [check_name(k, "primary key column") for k in primary_key]
        if len(set(keys)) != len(keys):
            raise ValidationError(f"The primary key {keys} names a column twice.")
        if event_time is not None:
            check_name(event_time, "event time column")
            if event_time in keys:
                raise ValidationError(f"The event time {event_time!r} cannot also be part of the primary key.")
        latest = self._groups.latest_version(name)
        if version is None:
            version = (latest or 0) + 1
        version = check_version(version)
        if self._groups.get(name, version) is not None:
            raise AlreadyExistsError(
                f"Feature group {name} v{version} already exists. Use get_feature_group({name!r}, "
                f"{version}), get_or_create_feature_group, or version={(latest or version) + 1}.",
                name=name,
                version=version,
            )
        declared = [as_feature(f) for f in features] if features else []
        if declared:
            names = [f.name for f in declared]
            missing = [k for k in [*keys, *([event_time] if event_time else [])] if k not in names]
            if missing:
                raise ValidationError(f"The declared features lack the key column(s) {missing}.")
            if event_time is not None and next(f for f in declared if f.name == event_time).type != "timestamp":
                raise ValidationError(f"The event time feature {event_time!r} must have type 'timestamp'.")
            if online_enabled:  # refused before anything is created
                check_online_keys(pa.schema([pa.field(f.name, f.arrow_type) for f in declared]), keys)
            for f in declared:
                if f.name in keys and (f.type in ("float", "double") or f.type.startswith("array")):
                    raise SchemaMismatchError(
                        f"Primary key column {f.name!r} is declared {f.type}; keys must be integers, strings, dates, "
                        "timestamps, booleans or binary (floats do not compare exactly)."
                    )
        self._engines.warehouse.catalog  # noqa: B018 - the Iceberg catalog exists before any group does
        row = self._groups.create(
            name=name,
            version=version,
            description=description,
            primary_key=keys,
            event_time=event_time,
            online_enabled=online_enabled,
            table_name=new_table_name(name, version),
            features=[FeatureRow(f.name, f.type, f.description) for f in declared],
            settings={"statistics": bool(statistics), "expectations": rules, "validation": validation},
        )
        group = FeatureGroup(self, row)
        if declared:
            group._create_table(group._output_schema())
        return group

    def get_or_create_feature_group(
        self,
        name: str,
        version: int = 1,
        primary_key: Sequence[str] | None = None,
        event_time: str | None = None,
        **kwargs: Any,
    ) -> FeatureGroup:
        """The group ``name`` v``version``; created with the given arguments if it does not exist."""
        check_name(name, "feature group name")
        version = check_version(version)
        row = self._groups.get(name, version)
        if row is not None:
            check_group_compatible(row, primary_key, event_time)
            return FeatureGroup(self, row)
        try:
            return self.create_feature_group(name, version, primary_key, event_time, **kwargs)
        except AlreadyExistsError:  # another process created it in between
            return self.get_feature_group(name, version)

    def get_feature_group(self, name: str, version: int | None = None) -> FeatureGroup:
        """The group ``name`` at ``version``, or its latest version."""
        check_name(name, "feature group name")
        if version is not None:
            version = check_version(version)
        if version is None:
            version = self._groups.latest_version(name)
        row = self._groups.get(name, version) if version is not None else None
        if row is None:
            versions = [g.version for g in self._groups.list(name)]
            if versions:
                raise NotFoundError(f"Feature group {name} has no version {version}; it has {versions}.")
            raise NotFoundError(f"No feature group named {name!r}{did_you_mean(name, self._groups.names()) or '.'}", name=name)
        return FeatureGroup(self, row)

    def get_feature_groups(self, name: str | None = None) -> list[FeatureGroup]:
        """Every group, or every version of ``name``."""
        if name is not None:
            check_name(name, "feature group name")
        return [FeatureGroup(self, row) for row in self._groups.list(name)]

    # -- feature views --------------------------------------------------------------------
    def create_feature_view(
        self,
        name: str,
        version: int | None = None,
        query: Query | None = None,
        labels: Sequence[str] | None = None,
        transformation_functions: dict[str, str] | None = None,
        description: str = "",
    ) -> FeatureView:
        """A named, versioned query plus labels and transformation functions."""
        from lakebox.feature_view import FeatureView, check_view_inputs
        from lakebox.transformations import list_transformation_functions

        check_name(name, "feature view name")
        labels = [labels] if isinstance(labels, str) else list(labels or [])
        transformations = dict(transformation_functions or {})
        check_view_inputs(query, labels, transformations)
        assert query is not None  # check_view_inputs refuses anything but a Query
        known = list_transformation_functions()
        for feature, function in transformations.items():
            if function not in known:
                raise ValidationError(
                    f"Unknown transformation function {function!r} for {feature!r}; known: {known}. "
                    "Register your own with lakebox.register_transformation_function."
                )
        latest = self._views.latest_version(name)
        if version is None:
            version = (latest or 0) + 1
        version = check_version(version)
        if self._views.get(name, version) is not None:
            raise AlreadyExistsError(f"Feature view {name} v{version} already exists.", name=name, version=version)
        row = self._views.create(
            name=name,
            version=version,
            description=description,
            query=query.to_dict(),
            labels=labels,
            transformations=transformations,
        )
        view = FeatureView(self, row)
        view_asset = view._asset()
        self._assets.set_keywords(view_asset.id, " ".join([*query.features, *labels]))
        for group in query.groups():
            self._assets.link(group._asset().id, view_asset.id, "reads")
        return view

    def get_or_create_feature_view(self, name: str, version: int = 1, **kwargs: Any) -> FeatureView:
        from lakebox.feature_view import FeatureView

        row = self._views.get(name, version)
        if row is not None:
            return FeatureView(self, row)
        return self.create_feature_view(name, version, **kwargs)

    def get_feature_view(self, name: str, version: int | None = None) -> FeatureView:
        from lakebox.feature_view import FeatureView

        check_name(name, "feature view name")
        if version is not None:
            version = check_version(version)
        if version is None:
            version = self._views.latest_version(name)
        row = self._views.get(name, version) if version is not None else None
        if row is None:
            versions = [v.version for v in self._views.list(name)]
            if versions:
                raise NotFoundError(f"Feature view {name} has no version {version}; it has {versions}.")
            raise NotFoundError(f"No feature view named {name!r}{did_you_mean(name, self._views.names()) or '.'}")
        return FeatureView(self, row)

    def get_feature_views(self, name: str | None = None) -> list[FeatureView]:
        from lakebox.feature_view import FeatureView

        return [FeatureView(self, row) for row in self._views.list(name)]

    def get_features(
        self,
        features: Sequence[str],
        entity_df: Any = None,
        event_time: str | None = None,
        as_of: Any = None,
        max_age: Any = None,
        dataframe_type: str = "pandas",
        engine: str = "duckdb",
        spark: Any = None,
    ) -> Any:
        """Point-in-time correct features for an entity dataframe (the planner).

        Each name (``"age"``, ``"players.age"``, ``"players:2.age"``) is resolved to a feature
        group; every group is joined onto ``entity_df`` on its primary key and, when both have
        times, as of the spine row's ``event_time`` (its only timestamp column by default).
        Exactly one output row per spine row, in the spine's order. ``as_of`` pins every group
        to its commit at that time; ``max_age`` (a timedelta, or ``{group: timedelta}``) nulls
        values older than that relative to each spine row. Without ``entity_df`` the groups are
        joined onto the first name's group by their keys. ``engine="spark", spark=session`` runs
        the same plan on Apache Spark over the same snapshot files and returns a Spark DataFrame
        (the ``entity_df`` may then also be a Spark DataFrame).
        """
        from lakebox.queries import DEFAULT_FORMULATION, check_engine, duck_settings, pin_resolver
        from lakebox.query import duck
        from lakebox.query.bind import bind

        check_engine(engine, spark)
        if engine == "spark":
            from lakebox.query import spark as spark_engine

            spark_engine.require()
            return spark_engine.execute(bind(self._feature_plan(features, entity_df, event_time, as_of, max_age, engine), pin_resolver(store=self)), spark)
        check_dataframe_type(dataframe_type)
        plan = bind(self._feature_plan(features, entity_df, event_time, as_of, max_age), pin_resolver(store=self))
        return from_arrow(duck.execute(plan, DEFAULT_FORMULATION, settings=duck_settings(self)), dataframe_type)

    def get_features_sql(
        self,
        features: Sequence[str],
        entity_df: Any = None,
        event_time: str | None = None,
        max_age: Any = None,
        dialect: str = "duckdb",
    ) -> str:
        """The SQL ``get_features`` runs (relations: ``entity_df`` and ``name_version``); it
        numbers the caller's ``entity_df`` rows itself (on Spark dialects with
        ``monotonically_increasing_id()``, as ``ROW_NUMBER() OVER ()`` has no order there)."""
        from lakebox.query.compile import compile_plan

        plan = self._feature_plan(features, entity_df, event_time, None, max_age)
        plan.number_spine_in_sql = True  # runs on the caller's own entity_df, which has no row column
        if dialect in ("spark", "spark2", "databricks"):
            plan.spine_numbering = "monotonic"
        return compile_plan(plan, "window").sql(dialect=dialect, pretty=True)

    def sql(
        self, query: str, dataframe_type: str = "pandas", as_of: Any = None, engine: str = "duckdb", spark: Any = None
    ) -> Any:
        """Run a read-only query over the feature groups, each exposed as ``name_version`` (and
        the latest version also as ``name``). ``as_of`` pins every group to a past time.
        DuckDB SQL by default; ``engine="spark", spark=session`` runs Spark SQL over the same
        snapshot files and returns a Spark DataFrame.
        """
        from lakebox.queries import check_engine, duck_settings, pin_resolver
        from lakebox.query.sql import check_query, run_sql, sql_relations

        check_engine(engine, spark)
        check_query(query, as_of)
        refs = self._planner_refs()
        if engine == "spark":
            from lakebox.query import spark as spark_engine

            spark_engine.require()
            relations, available, _ = sql_relations(query, refs, as_of, pin_resolver(store=self), dialect="spark")
            return spark_engine.run_sql(spark, query, relations, available)
        check_dataframe_type(dataframe_type)
        relations, available, _ = sql_relations(query, refs, as_of, pin_resolver(store=self))
        allowed = [str(self._engines.box.warehouse)]  # exactly the box's own (spill goes to <box>/.tmp)
        return from_arrow(run_sql(query, relations, available, allowed, duck_settings(self)), dataframe_type)

    # -- planning: the api layer hands the planner values (lakebox/query/refs.py) -----------
    def _planner_refs(self) -> list[Any]:
        """Every feature group as a ``GroupRef``."""
        return [group._planner_ref() for group in self.get_feature_groups()]

    def _feature_plan(
        self, features: Sequence[str], entity_df: Any, event_time: str | None, as_of: Any, max_age: Any, engine: str = "duckdb"
    ) -> Any:
        """The unpinned plan of ``get_features``: names resolved, spine prepared, joins built."""
        from lakebox.query import spark as spark_engine
        from lakebox.query.build import features_plan
        from lakebox.query.resolve import resolve_names
        from lakebox.query.spine import spine_relation

        wanted = resolve_names([*self._planner_refs(), *self._shared_refs(features)], features)  # shop::orders.amount
        spine = None
        if entity_df is not None:
            groups = list({ref.key: ref for _, ref, _ in wanted}.values())
            if spark_engine.is_spark_frame(entity_df):
                if engine != "spark":
                    raise ValidationError("A Spark DataFrame entity_df needs engine='spark', spark=session.")
                spine = spark_engine.spine_relation(entity_df, event_time, groups)
            else:
                spine = spine_relation(entity_df, event_time, groups)
        return features_plan(wanted, spine, as_of, max_age)

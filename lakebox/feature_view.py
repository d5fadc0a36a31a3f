"""``FeatureView``: a named, versioned query plus labels and transformation functions, and
the training datasets materialised from it (DESIGN §3-4).

Training data is the view's query (point-in-time joins onto its root group, the label
group) read at the current commits, optionally limited to an event-time range, split
(randomly with a seed, or by time), with transformation functions fitted on the training
split only. A materialised training dataset records the commit of every group it read and
pins those snapshots against retention, and stores its split files under the box's
artifacts, so ``get_training_data(version)`` returns the same rows later whatever was
inserted, deleted or rolled back since.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.catalog.views import DatasetRow, ViewRow
from lakebox.errors import LakeboxError, NotFoundError, QueryError, ValidationError
from lakebox.experiment import hooks
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.hsfs_compat import VectorAliases, ViewAliases, dataframe_type_of, time_arg
from lakebox.listings import dataset_info
from lakebox.ondemand import OnDemandMixin, add_on_demand  # on-demand
from lakebox.queries import DEFAULT_FORMULATION, Query, check_engine, duck_settings, pin_resolver
from lakebox.query import duck
from lakebox.query.bind import bind, pins
from lakebox.query.filter import Condition
from lakebox.sharing import ViewShareMixin
from lakebox.stats import compute_statistics
from lakebox.streams import ViewStreamMixin
from lakebox.tags import Taggable
from lakebox.timeutil import to_datetime
from lakebox.training import materialize
from lakebox.transformations import FittedTransformations, fit_transformations
from lakebox.view_logging import LoggingMixin
from lakebox.view_serving import ServingMixin, fitted_of
from lakebox.view_training import IN_MEMORY, TrainingMixin, _random_split, _split_spec
from lakebox.write import datasets as dataset_writer

if TYPE_CHECKING:
    from lakebox.feature_store import FeatureStore
    from lakebox.stats import Statistics
    from lakebox.training.torch_data import TrainingIterable

SPLITS = ("train", "validation", "test")


class FeatureView(VectorAliases, OnDemandMixin, TrainingMixin, ServingMixin, LoggingMixin, ViewAliases, ViewShareMixin, ViewStreamMixin, Taggable):  # on-demand: first, it wraps serving
    """A feature view; create with ``fs.create_feature_view``."""

    _asset_kind = "feature_view"
    _row: ViewRow

    def _assets(self) -> AssetStore:
        return self._store._assets

    def training_dataset_asset(self, version: int) -> Asset:
        """The catalog asset of a training dataset version (for tags and lineage)."""
        return self._store._assets.get("training_dataset", self._dataset(version).id)

    def add_training_dataset_tag(self, version: int, key: str, value: Any) -> None:
        from lakebox.tags import check_key

        self._store._assets.set_tag(self.training_dataset_asset(version).id, check_key(key), value)

    def delete_training_dataset_tag(self, version: int, key: str) -> None:
        from lakebox.tags import check_key

        self._store._assets.delete_tag(self.training_dataset_asset(version).id, check_key(key))

    def update_description(self, description: str) -> FeatureView:
        self._store._views.update_description(self.id, str(description))
        row = self._store._views.get_by_id(self.id)
        assert row is not None
        self._row = row
        return self

    def get_training_dataset_tags(self, version: int) -> dict[str, Any]:
        return self._store._assets.tags(self.training_dataset_asset(version).id)

    def __init__(self, store: FeatureStore, row: ViewRow) -> None:
        self._store = store
        self._row = row
        self._query: Query | None = None
        self._serving: Any = None
        self._fresh_at = time.monotonic()
        self._read_query: Query | None = None
        self._last_td_version: int | None = None  # hsfs' "last accessed training dataset"
        self._batch_version: int | None = None  # set by init_batch_scoring / init_serving

    # -- metadata -----------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return list(self._row.labels)

    @property
    def transformation_functions(self) -> dict[str, str]:
        return dict(self._row.transformations)

    @property
    def query(self) -> Query:
        if self._query is None:
            self._query = Query.from_dict(self._store, self._row.query)
        return self._query

    @property
    def features(self) -> list[str]:
        """Output columns of the query that are not labels."""
        return [c for c in self.query.features if c not in self._row.labels and c not in self.request_parameters] + [
            f.name for f in self.on_demand_features]  # on-demand

    @property
    def primary_key(self) -> list[str]:
        return self.query.root_group.primary_key

    @property
    def description(self) -> str:
        return self._row.description

    def get_last_accessed_training_dataset(self) -> int | None:
        """The training dataset version used last in this process (hsfs' name)."""
        return self._last_td_version

    def update_last_accessed_training_dataset(self, version: int) -> None:
        self._dataset(version)
        self._last_td_version = version

    def __repr__(self) -> str:
        return f"FeatureView({self.name!r}, version={self.version}, labels={self.labels})"

    def delete(self) -> None:
        """Delete the view and its training datasets (files and pins)."""
        self._cleanup_datasets()  # a killed creator's pending dataset: its files and pins too
        for dataset in self._store._views.datasets(self.id):
            self._drop_dataset(dataset)
        self._store._views.delete(self.id)

    # -- materialised training datasets ---------------------------------------------------
    def create_training_dataset(
        self,
        data_format: str = "parquet",
        test_size: float | None = None,
        validation_size: float | None = None,
        seed: int | None = None,
        start_time: Any = None,
        end_time: Any = None,
        train_start: Any = None,
        train_end: Any = None,
        validation_start: Any = None,
        validation_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        description: str = "",
        engine: str = "duckdb",
        spark: Any = None,
        extra_filter: Any = None,
    ) -> int:
        """Materialise a training dataset version; returns its version number.

        ``engine="spark", spark=session`` computes the splits on Apache Spark (each group read
        at its pinned snapshot); the files, statistics, pins and lineage are the same.
        ``extra_filter`` (a condition such as ``fg.age > 20``) keeps only the matching rows.
        """
        materialize.check_format(data_format)
        check_engine(engine, spark)
        spec = _split_spec(
            test_size=test_size,
            validation_size=validation_size,
            seed=seed,
            times={
                "train": (time_arg(train_start), time_arg(train_end)),
                "validation": (time_arg(validation_start), time_arg(validation_end)),
                "test": (time_arg(test_start), time_arg(test_end)),
            },
            start_time=time_arg(start_time),
            end_time=time_arg(end_time),
        )
        if extra_filter is not None:
            spec["extra_filter"] = extra_filter.to_dict()
        splits, snapshots, fitted = self._splits(spec, engine=engine, spark=spark, extra_filter=extra_filter)
        upstream = [(self._asset().id, "materializes", {"spec": spec})]
        for item in snapshots:
            group = self._store._snapshot_group(item)  # another project's group when shared: shop::orders
            upstream.append((group._asset().id, "read_snapshot", {"commit_id": item["commit_id"]}))
        # reserve the version, write to a temporary folder, rename, pin, mark ready: all or
        # nothing, and never another version's files (lakebox/write/datasets.py)
        dataset = dataset_writer.create(
            self._store._views,
            self._store._project._box.artifacts,
            self._group_table,
            self._view_ref(),
            data_format=data_format,
            description=description,
            spec=spec,
            snapshots=snapshots,
            transformations=fitted.to_dict() if fitted is not None else {},
            splits=((split, _canonical(self._transform(fitted, table))) for split, table in splits.items()),
            statistics=lambda table: compute_statistics(table).to_dict(),
            upstream=upstream,
        )
        self._last_td_version = dataset.version
        return dataset.version

    def get_training_data(
        self,
        training_dataset_version: int,
        dataframe_type: str = "pandas",
        primary_key: bool = False,
        event_time: bool = False,
    ) -> tuple[Any, ...]:
        """The materialised rows: ``(X, y)``, or ``(X_train, X_test, y_train, y_test)``, or the
        six-tuple with validation — exactly as written, whatever happened to the groups since."""
        dataframe_type = dataframe_type_of(dataframe_type)
        check_dataframe_type(dataframe_type)
        splits = self._read_dataset(self._dataset(training_dataset_version))
        self._last_td_version = training_dataset_version
        hooks.publish(hooks.TRAINING_DATASET_READ, view=self, version=training_dataset_version)  # lagom lineage
        names = [s for s in ("all", *SPLITS) if s in splits]
        pairs = [self._xy(splits[n], dataframe_type, primary_key, event_time) for n in names]
        return tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)

    def get_training_dataset_files(self, training_dataset_version: int) -> dict[str, Path]:
        """``{split: path}`` of the materialised files (e.g. for the PyTorch view)."""
        dataset = self._dataset(training_dataset_version)
        if dataset.data_format == IN_MEMORY:
            return {}  # an in-memory split has no files
        folder = self._store._project._box.artifacts / dataset.location
        return {s: folder / materialize.file_name(s, dataset.data_format) for s in dataset.columns["splits"]}

    def get_training_datasets(self) -> list[dict[str, Any]]:
        """Metadata of every training dataset version of this view."""
        return [dataset_info(d) for d in self._store._views.datasets(self.id)]

    def get_training_dataset_statistics(self, version: int, split: str | None = None) -> Statistics:
        """Statistics of a materialised split (default: train, or the only split) — compare
        them with ``lakebox.stats.compare(td_stats, fg.get_statistics())`` to see drift."""
        from lakebox.stats import Statistics

        dataset = self._dataset(version)
        splits = dataset.statistics
        name = split or ("train" if "train" in splits else next(iter(splits)))
        if name not in splits:
            raise NotFoundError(f"Training dataset v{version} has no split {name!r}; it has {list(splits)}.")
        return Statistics.from_dict(splits[name])

    def get_training_dataset(self, version: int) -> dict[str, Any]:
        return dataset_info(self._dataset(version))

    def delete_training_dataset(self, version: int) -> None:
        self._drop_dataset(self._dataset(version))  # removes the row last, after files and pins

    def transformations_for(self, training_dataset_version: int) -> FittedTransformations | None:
        """The fitted transformation functions of a training dataset (used for serving)."""
        return fitted_of(self._dataset(training_dataset_version))

    def torch_dataset(self, training_dataset_version: int, split: str = "train", **kwargs: Any) -> TrainingIterable:
        """A ``torch.utils.data.IterableDataset`` streaming a materialised split (torch needed).

        It yields whole ``(features, labels)`` batches: use ``DataLoader(ds, batch_size=None)``.
        Sharded by torch.distributed rank and DataLoader worker, every row once."""
        from lakebox.training.torch_data import TrainingIterable

        dataset = self._dataset(training_dataset_version)
        files = self.get_training_dataset_files(training_dataset_version)
        if split not in files:
            raise NotFoundError(f"Training dataset v{training_dataset_version} has no split {split!r}; it has {list(files)}.")
        schema = materialize.schema_from_json(dataset.columns["schema"])
        hooks.publish(hooks.TRAINING_DATASET_READ, view=self, version=training_dataset_version)  # lagom lineage
        features = [c for c in schema.names if c not in self._row.labels and c not in self._hidden_columns(False, False)]
        return TrainingIterable(
            [str(files[split])], dataset.data_format, features, list(self._row.labels), schema=schema, **kwargs
        )

    # -- internals ------------------------------------------------------------------------
    def _dataset(self, version: int) -> DatasetRow:
        dataset = self._store._views.get_dataset(self.id, version)
        if dataset is None:
            versions = [d.version for d in self._store._views.datasets(self.id)]
            raise NotFoundError(
                f"Feature view {self.name} v{self.version} has no training dataset v{version}; it has {versions}."
            )
        return dataset

    def _drop_dataset(self, dataset: DatasetRow) -> None:
        """Hide the dataset, then remove its pins, files and row (crash-safe; a killed
        deleter's leftovers are undone by the next create or delete)."""
        self._cleanup_datasets()
        dataset_writer.drop(
            self._store._views, self._store._project._box.artifacts, self._group_table, self._view_ref(), dataset
        )

    def _cleanup_datasets(self) -> int:
        """Undo the unfinished training datasets of this view whose creator was killed."""
        return dataset_writer.cleanup_orphans(
            self._store._views, self._store._project._box.artifacts, self._group_table, self._view_ref()
        )

    def _view_ref(self) -> dataset_writer.ViewRef:
        return dataset_writer.ViewRef(self.id, self.name, self.version)

    def _group_table(self, name: str, version: int) -> Any:
        """The offline table of a group a dataset read (None once the group is deleted)."""
        try:
            return self._store.get_feature_group(name, version)._table
        except NotFoundError:
            return None

    def _read_dataset(self, dataset: DatasetRow) -> dict[str, pa.Table]:
        if dataset.data_format == IN_MEMORY:  # recomputed from the current data, as hsfs does
            extra = dataset.spec.get("extra_filter")
            if extra is not None:
                extra = Condition.from_dict(extra, lambda g, v, n: self._store.get_feature_group(g, v)[n])
            splits, _, _ = self._splits(dataset.spec, fit=False, extra_filter=extra)
            fitted = fitted_of(dataset)
            return {name: self._transform(fitted, table) for name, table in splits.items()}
        folder = self._store._project._box.artifacts / dataset.location
        schema = materialize.schema_from_json(dataset.columns["schema"])
        return {
            split: materialize.read(folder / materialize.file_name(split, dataset.data_format), dataset.data_format, schema)
            for split in dataset.columns["splits"]
        }

    def _time_filter(self, start: Any, end: Any) -> Condition | None:
        root = self.query.root_group
        if start is None and end is None:
            return None
        if root.event_time is None:
            raise ValidationError(
                f"Time ranges need an event time, but the view's root group {root.name} has none."
            )
        column = root[root.event_time]
        condition: Condition | None = None
        if start is not None:
            condition = column >= to_datetime(start, "start_time")
        if end is not None:
            upper = column < to_datetime(end, "end_time")
            condition = upper if condition is None else condition & upper
        return condition

    def _helper_query(self) -> Query:
        """The view's query plus the root group's primary key and event time when the view does
        not select them (hsfs' helper columns: returned with ``primary_key=True`` /
        ``event_time=True``, stored with materialised datasets)."""
        if self._read_query is None:
            root = self.query.root_group
            outputs = self.query.features
            missing = [c for c in [*root.primary_key, *([root.event_time] if root.event_time else [])] if c not in outputs]
            data = self.query.to_dict()
            self._read_query = self.query
            if missing and data["features"] is not None:
                data["features"] = [*missing, *data["features"]]
                try:
                    query = Query.from_dict(self._store, data)
                    query.features  # noqa: B018 - plans it: a name clash with a joined column keeps the view's query
                    self._read_query = query
                except LakeboxError:
                    pass
        return self._read_query

    def _bound_plan(self, start: Any, end: Any, pinned: Any = None, extra_filter: Any = None) -> Any:
        """The view's plan (with helper columns) for rows in ``[start, end)`` matching
        ``extra_filter``, every group pinned at the current commit (or at ``pinned``)."""
        query = self._helper_query()
        query = query if pinned is None else query.as_of(pinned)
        condition = self._time_filter(start, end)
        if extra_filter is not None:
            if not isinstance(extra_filter, Condition):
                raise ValidationError(f"extra_filter takes a condition such as fg.age > 30, got {extra_filter!r}.")
            condition = extra_filter if condition is None else condition & extra_filter
        if condition is not None:
            query = query.filter(condition)
        return bind(query._plan(), pin_resolver(query.groups()))

    def _spark_frame(self, start: Any, end: Any, spark: Any, pinned: Any = None) -> Any:
        from lakebox.query import spark as spark_engine

        spark_engine.require()
        return spark_engine.execute(self._bound_plan(start, end, pinned), spark)

    def _read(
        self, start: Any, end: Any, pinned: Any = None, engine: str = "duckdb", spark: Any = None,
        extra_filter: Any = None,
    ) -> tuple[pa.Table, list[dict[str, Any]]]:
        """The view's rows in ``[start, end)`` at the current commits (or those at ``pinned``),
        and those commits; computed on DuckDB, or on Spark and collected."""
        plan = self._bound_plan(start, end, pinned, extra_filter)
        snapshots = [
            {"group": ref.name, "version": ref.version, "snapshot_id": pin.snapshot_id, "commit_id": pin.commit_id,
             **({"project": ref.project} if ref.project else {})}  # fmt: skip
            for ref, pin in pins(plan)
        ]
        if engine == "spark":
            from lakebox.query import spark as spark_engine

            spark_engine.require()
            return add_on_demand(self, spark_engine.collect(spark_engine.execute(plan, spark), plan)), snapshots  # on-demand
        return add_on_demand(self, duck.execute(plan, DEFAULT_FORMULATION, settings=duck_settings(self._store))), snapshots  # on-demand

    def _splits(
        self, spec: dict[str, Any], engine: str = "duckdb", spark: Any = None, fit: bool = True,
        extra_filter: Any = None,
    ) -> tuple[dict[str, pa.Table], list[dict[str, Any]], FittedTransformations | None]:
        """The split tables of a training dataset spec (computed on ``engine``), the snapshots
        read and the transformations fitted on the training split (when ``fit``)."""
        check_engine(engine, spark)
        if spec["kind"] == "time":
            # every split reads the groups at the same commits: a commit landing between two
            # reads must not make the splits disagree (or the recorded snapshots lie)
            now = datetime.now(UTC)
            splits = {}
            snapshots: list[dict[str, Any]] = []
            for name, (start, end) in spec["times"].items():
                splits[name], snapshots = self._read(start, end, pinned=now, engine=engine, spark=spark,
                                                     extra_filter=extra_filter)
        else:
            table, snapshots = self._read(spec.get("start_time"), spec.get("end_time"), engine=engine, spark=spark,
                                          extra_filter=extra_filter)
            splits = _random_split(table, spec)
        fitted = self._fit(splits.get("train", splits.get("all"))) if fit else None
        return splits, snapshots, fitted

    def _fit(self, table: pa.Table | None) -> FittedTransformations | None:
        if not self._row.transformations or table is None:
            return None
        return fit_transformations(self._row.transformations, table)

    @staticmethod
    def _transform(fitted: FittedTransformations | None, table: pa.Table) -> pa.Table:
        return fitted.transform_table(table) if fitted is not None else table

    def _hidden_columns(self, primary_key: bool, event_time: bool) -> set[str]:
        """The root group's key and event time columns to leave out: as in hsfs, only those
        that are not features of the view, and only unless asked for."""
        root = self.query.root_group
        hidden: set[str] = set()
        if not primary_key:
            hidden.update(root.primary_key)
        if not event_time and root.event_time:
            hidden.add(root.event_time)
        return hidden - set(self.query.features)

    def _latest_dataset_version(self) -> int | None:
        datasets = self._store._views.datasets(self.id)
        return datasets[-1].version if datasets else None

    def _record_in_memory(
        self, spec: dict[str, Any], snapshots: list[dict[str, Any]], fitted: FittedTransformations | None,
        splits: dict[str, pa.Table], description: str, statistics: bool,
    ) -> int:
        """Record an in-memory split as a training dataset version: metadata only, no files and
        no pins (hsfs' in-memory training dataset). Returns its version."""
        first = next(iter(splits.values()))
        upstream = [(self._asset().id, "materializes", {"spec": spec})]
        for item in snapshots:
            group = self._store._snapshot_group(item)  # another project's group when shared: shop::orders
            upstream.append((group._asset().id, "read_snapshot", {"commit_id": item["commit_id"]}))
        dataset = dataset_writer.record(
            self._store._views, self._store._project._box.artifacts, self._group_table, self._view_ref(),
            data_format=IN_MEMORY, description=description, spec=spec, snapshots=snapshots,
            transformations=fitted.to_dict() if fitted is not None else {},
            columns={"schema": materialize.schema_to_json(_canonical(first).schema), "splits": list(splits)},
            statistics={n: compute_statistics(t).to_dict() for n, t in splits.items()} if statistics else {},
            row_counts={n: t.num_rows for n, t in splits.items()},
            upstream=upstream,
        )
        return dataset.version

    def _xy(self, table: pa.Table, dataframe_type: str, primary_key: bool, event_time: bool) -> tuple[Any, Any]:
        labels = [c for c in self._row.labels]
        hidden = self._hidden_columns(primary_key, event_time)
        feature_columns = [c for c in table.column_names if c not in labels and c not in hidden]
        x = from_arrow(table.select(feature_columns), dataframe_type)
        y = from_arrow(table.select(labels), dataframe_type) if labels else None
        return x, y


def _canonical(table: pa.Table) -> pa.Table:
    from lakebox.types import canonical_type

    schema = pa.schema([pa.field(f.name, canonical_type(f.type, f.name)) for f in table.schema])
    return table.cast(schema) if not schema.equals(table.schema) else table


def check_view_inputs(query: Any, labels: Sequence[str], transformations: Mapping[str, str]) -> None:
    if not isinstance(query, Query):
        raise ValidationError("A feature view needs a Query, e.g. fg.select_all() or fg.select([...]).join(...).")
    if query._exclude_until is not None or query._wallclock_time is not None:
        raise QueryError("A feature view's query may not be pinned in time; pin training datasets instead.")
    outputs = query.features
    for label in labels:
        if label not in outputs:
            raise ValidationError(f"Label {label!r} is not an output column of the query; it has {outputs}.")
    for feature in transformations:
        if feature not in outputs:
            raise ValidationError(
                f"Transformation for {feature!r}: not an output column of the query; it has {outputs}."
            )

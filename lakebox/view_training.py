"""Training data of a feature view, in memory: ``training_data``, ``train_test_split``,
``train_validation_test_split`` and ``get_batch_data`` (DESIGN §3-4).

A mixin of ``FeatureView`` (split out to keep that module small). As in hsfs, every in-memory
split is a training dataset version too: its metadata (split spec, the commits read,
statistics of each split and the transformation parameters fitted on the training split) is
recorded, without files, so ``create_model(feature_view=fv)``, ``init_serving`` and
``get_batch_data`` find the fitted transformations. ``get_training_data(version)`` of such a
version recomputes the splits from the current data (hsfs does the same); materialise with
``create_training_dataset`` for rows that never change.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakebox.errors import ValidationError
from lakebox.frames import check_dataframe_type, from_arrow
from lakebox.hsfs_compat import dataframe_type_of, time_arg, unsupported
from lakebox.queries import check_engine
from lakebox.timeutil import to_datetime

if TYPE_CHECKING:
    from lakebox.catalog.views import DatasetRow, ViewRow
    from lakebox.feature_store import FeatureStore
    from lakebox.queries import Query
    from lakebox.transformations import FittedTransformations

IN_MEMORY = "in_memory"
"""The ``data_format`` of a training dataset version recorded by an in-memory split (no files)."""


class TrainingMixin:
    """In-memory training data and batch data (``FeatureView`` provides the rest)."""

    _row: ViewRow
    _store: FeatureStore
    _last_td_version: int | None
    _batch_version: int | None

    if TYPE_CHECKING:  # provided by FeatureView
        @property
        def id(self) -> int: ...
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...

        @property
        def query(self) -> Query: ...
        def _dataset(self, version: int) -> DatasetRow: ...
        def _read(self, start: Any, end: Any, pinned: Any = None, engine: str = "duckdb", spark: Any = None,
                  extra_filter: Any = None) -> tuple[pa.Table, list[dict[str, Any]]]: ...
        def _splits(self, spec: dict[str, Any], engine: str = "duckdb", spark: Any = None, fit: bool = True,
                    extra_filter: Any = None) -> tuple[dict[str, pa.Table], list[dict[str, Any]], Any]: ...
        def _fit(self, table: pa.Table | None) -> FittedTransformations | None: ...
        @staticmethod
        def _transform(fitted: FittedTransformations | None, table: pa.Table) -> pa.Table: ...
        def _xy(self, table: pa.Table, dataframe_type: str, primary_key: bool, event_time: bool) -> tuple[Any, Any]: ...
        def _hidden_columns(self, primary_key: bool, event_time: bool) -> set[str]: ...
        def _spark_frame(self, start: Any, end: Any, spark: Any, pinned: Any = None) -> Any: ...
        def _record_in_memory(self, spec: dict[str, Any], snapshots: list[dict[str, Any]], fitted: Any,
                              splits: dict[str, pa.Table], description: str, statistics: bool) -> int: ...
        def _latest_dataset_version(self) -> int | None: ...

    # -- in-memory training data ----------------------------------------------------------
    def training_data(
        self,
        start_time: Any = None,
        end_time: Any = None,
        description: str = "",
        extra_filter: Any = None,
        statistics_config: Any = None,
        read_options: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        transformation_context: Any = None,
        **kwargs: Any,
    ) -> tuple[Any, Any]:
        """``(X, y)`` of all rows in ``[start_time, end_time)``, transformations fitted on them.
        Records a training dataset version (metadata only), as hsfs does."""
        _hsfs_extras("training_data", spine, training_helper_columns, transformation_context, kwargs)
        spec = _split_spec(start_time=time_arg(start_time), end_time=time_arg(end_time))
        return self._in_memory(spec, ("all",), description, extra_filter, statistics_config,
                               dataframe_type, primary_key, event_time)

    def train_test_split(
        self,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        description: str = "",
        extra_filter: Any = None,
        statistics_config: Any = None,
        read_options: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        transformation_context: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> tuple[Any, Any, Any, Any]:
        """``X_train, X_test, y_train, y_test``: a random split of ``test_size`` (``seed`` fixes
        it; lakebox's own argument), or a split by event time ranges. Records a training
        dataset version (metadata only), as hsfs does."""
        _hsfs_extras("train_test_split", spine, training_helper_columns, transformation_context, kwargs)
        spec = _split_spec(test_size=test_size, seed=seed, times={
            "train": (time_arg(train_start), time_arg(train_end)), "test": (time_arg(test_start), time_arg(test_end))})
        return self._in_memory(spec, ("train", "test"), description, extra_filter, statistics_config,
                               dataframe_type, primary_key, event_time)

    def train_validation_test_split(
        self,
        validation_size: float | None = None,
        test_size: float | None = None,
        train_start: Any = None,
        train_end: Any = None,
        validation_start: Any = None,
        validation_end: Any = None,
        test_start: Any = None,
        test_end: Any = None,
        description: str = "",
        extra_filter: Any = None,
        statistics_config: Any = None,
        read_options: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        training_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        transformation_context: Any = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> tuple[Any, Any, Any, Any, Any, Any]:
        """``X_train, X_val, X_test, y_train, y_val, y_test`` (random with a seed, or by time).
        Records a training dataset version (metadata only), as hsfs does."""
        _hsfs_extras("train_validation_test_split", spine, training_helper_columns, transformation_context, kwargs)
        spec = _split_spec(
            test_size=test_size,
            validation_size=validation_size,
            seed=seed,
            times={
                "train": (time_arg(train_start), time_arg(train_end)),
                "validation": (time_arg(validation_start), time_arg(validation_end)),
                "test": (time_arg(test_start), time_arg(test_end)),
            },
        )
        return self._in_memory(spec, ("train", "validation", "test"), description, extra_filter, statistics_config,
                               dataframe_type, primary_key, event_time)

    def _in_memory(
        self,
        spec: dict[str, Any],
        names: tuple[str, ...],
        description: str,
        extra_filter: Any,
        statistics_config: Any,
        dataframe_type: str,
        primary_key: bool,
        event_time: bool,
    ) -> Any:
        dataframe_type = dataframe_type_of(dataframe_type)
        check_dataframe_type(dataframe_type)
        if not isinstance(description, str):
            raise ValidationError(f"description must be a string, got {type(description).__name__}.")
        if extra_filter is not None:
            spec["extra_filter"] = extra_filter.to_dict()
        splits, snapshots, fitted = self._splits(spec, extra_filter=extra_filter)
        transformed = {name: self._transform(fitted, table) for name, table in splits.items()}
        self._last_td_version = self._record_in_memory(
            spec, snapshots, fitted, transformed, description, statistics=_statistics_enabled(statistics_config)
        )
        pairs = [self._xy(transformed[name], dataframe_type, primary_key, event_time) for name in names]
        return tuple(p[0] for p in pairs) + tuple(p[1] for p in pairs)

    # -- batch scoring --------------------------------------------------------------------
    def init_batch_scoring(self, training_dataset_version: int | None = None, **kwargs: Any) -> None:
        """Use the transformation parameters of ``training_dataset_version`` (default: the
        last one used in this process, else the latest) for ``get_batch_data``."""
        if training_dataset_version is not None:
            self._dataset(training_dataset_version)  # NotFoundError lists the versions
        self._batch_version = training_dataset_version

    def get_batch_data(
        self,
        start_time: Any = None,
        end_time: Any = None,
        read_options: Any = None,
        spine: Any = None,
        primary_key: bool = False,
        event_time: bool = False,
        inference_helper_columns: bool = False,
        dataframe_type: str = "pandas",
        transformed: bool = True,
        transformation_context: Any = None,
        logging_data: bool = False,
        extra_filter: Any = None,
        training_dataset_version: int | None = None,
        engine: str = "duckdb",
        spark: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Features (no labels) for batch scoring. ``transformed=True`` (hsfs' default) applies
        the transformation functions with the parameters fitted for ``training_dataset_version``
        (default: the one given to ``init_batch_scoring``/``init_serving``, else the last used,
        else the latest); a view without a training dataset returns its features untransformed.
        ``engine="spark", spark=session`` computes them on Spark and returns a Spark DataFrame."""
        _hsfs_extras("get_batch_data", spine, inference_helper_columns, transformation_context, kwargs)
        if logging_data:
            raise unsupported("fv.get_batch_data(logging_data=True)", "log served vectors with fv.log(untransformed_features, predictions=...)")
        primary_key = primary_key or bool(kwargs.pop("primary_keys", False))
        check_engine(engine, spark)
        version = None
        if transformed and self._row.transformations:
            version = training_dataset_version or self._batch_version or self._last_td_version
            version = version or self._latest_dataset_version()
        elif training_dataset_version is not None:
            self._dataset(training_dataset_version)
        if engine == "spark" and version is None and extra_filter is None:
            frame = self._spark_frame(time_arg(start_time), time_arg(end_time), spark)
            hidden = self._hidden_columns(primary_key, event_time)
            return frame.select(*[c for c in frame.columns if c not in self._row.labels and c not in hidden])
        dataframe_type = dataframe_type_of(dataframe_type)
        if engine == "duckdb":
            check_dataframe_type(dataframe_type)
        table, _ = self._read(time_arg(start_time), time_arg(end_time), engine=engine, spark=spark,
                              extra_filter=extra_filter)
        if version is not None:
            from lakebox.view_serving import fitted_of

            table = self._transform(fitted_of(self._dataset(version)), table)
        features, _ = self._xy(table, "arrow", primary_key, event_time)
        if engine == "spark":
            from lakebox.query import spark as spark_engine

            return spark_engine.from_arrow(spark, features)
        return from_arrow(features, dataframe_type)


def _hsfs_extras(call: str, spine: Any, helper_columns: bool, context: Any, kwargs: Mapping[str, Any]) -> None:
    """Refuse, naming lakebox's alternative, the hsfs options lakebox has no capability for."""
    if spine is not None:
        raise unsupported(f"fv.{call}(spine=...)", "use fs.get_features(names, entity_df=spine) for a spine")
    if helper_columns:
        raise unsupported(f"fv.{call}(..._helper_columns=True)", "lakebox views have no helper columns; select them as features")
    if context is not None:
        raise unsupported(f"fv.{call}(transformation_context=...)", "lakebox transformation functions take no context")
    unknown = sorted(k for k in kwargs if k not in ("primary_keys", "read_options", "n_processes", "lookback"))
    if unknown:
        raise ValidationError(f"fv.{call}() got unexpected argument(s) {unknown}.")


def _statistics_enabled(config: Any) -> bool:
    if config is None:
        return True
    if isinstance(config, bool):
        return config
    if isinstance(config, Mapping):
        return bool(config.get("enabled", True))
    return bool(getattr(config, "enabled", True))


def _split_spec(
    *,
    test_size: float | None = None,
    validation_size: float | None = None,
    seed: int | None = None,
    times: Mapping[str, tuple[Any, Any]] | None = None,
    start_time: Any = None,
    end_time: Any = None,
) -> dict[str, Any]:
    """Validate split arguments into a JSON-able spec (random sizes, or event-time ranges)."""
    timed = {k: v for k, v in (times or {}).items() if v[0] is not None or v[1] is not None}
    if timed:
        if test_size is not None or validation_size is not None:
            raise ValidationError("Give either split sizes or split time ranges, not both.")
        if "train" not in timed or "test" not in timed:
            raise ValidationError("A time-based split needs train_start/train_end and test_start/test_end.")
        if start_time is not None or end_time is not None:
            raise ValidationError("start_time/end_time do not combine with split time ranges: the ranges bound each split.")
        return {
            "kind": "time",
            "times": {
                k: [to_datetime(v[0]).isoformat() if v[0] is not None else None,
                    to_datetime(v[1]).isoformat() if v[1] is not None else None]
                for k, v in timed.items()
            },
        }
    for name, size in (("test_size", test_size), ("validation_size", validation_size)):
        if size is not None and not (isinstance(size, (int, float)) and 0 < size < 1):
            raise ValidationError(f"{name} must be a fraction between 0 and 1, got {size!r}.")
    if (test_size or 0) + (validation_size or 0) >= 1:
        raise ValidationError("test_size + validation_size must leave rows for training (sum below 1).")
    if validation_size is not None and test_size is None:
        raise ValidationError("validation_size needs a test_size too.")
    spec: dict[str, Any] = {
        "kind": "random" if test_size is not None else "none",
        "test_size": test_size,
        "validation_size": validation_size,
        "seed": seed if seed is not None else 0,
    }
    if start_time is not None:
        spec["start_time"] = to_datetime(start_time, "start_time").isoformat()
    if end_time is not None:
        spec["end_time"] = to_datetime(end_time, "end_time").isoformat()
    return spec


def _random_split(table: pa.Table, spec: dict[str, Any]) -> dict[str, pa.Table]:
    if spec["kind"] == "none":
        return {"all": table}
    rng = np.random.default_rng(spec["seed"])
    order = rng.permutation(table.num_rows)
    n_test = int(round(table.num_rows * spec["test_size"]))
    n_val = int(round(table.num_rows * (spec["validation_size"] or 0)))
    parts = {"test": order[:n_test], "validation": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}
    if spec["validation_size"] is None:
        parts.pop("validation")
    # Keep each split in the query's (deterministic) row order.
    return {name: table.take(pa.array(np.sort(rows), pa.int64())) for name, rows in parts.items()}


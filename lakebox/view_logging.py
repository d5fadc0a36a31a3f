"""Feature logging on a feature view (hsfs' ``enable_logging``/``log``/``read_log``): the
feature vectors a model was served, with its predictions, appended to a log feature group
``{view}_{version}_log`` through the same batching logger as the deployments' prediction logs
(``lakebox.deployments.rowlog.RowLogger``: off the request path, one commit per batch).

A mixin of ``FeatureView``. Each logged row holds ``log_id`` (its key, strictly increasing),
``log_time`` (its event time), ``training_dataset_version``, ``model_name``,
``model_version``, the view's features as served before transformation, and the predictions
as ``predicted_<label>``. The log group's schema comes from the first batch logged.
``read_log`` flushes this process's logger first, so a process reads its own logs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.errors import NotFoundError, ValidationError
from lakebox.frames import from_arrow, to_arrow
from lakebox.hsfs_compat import dataframe_type_of, time_arg, unsupported

if TYPE_CHECKING:
    from lakebox.catalog.views import ViewRow
    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_store import FeatureStore

META = ("log_id", "log_time", "training_dataset_version", "model_name", "model_version")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LoggingMixin:
    """Feature logging (``FeatureView`` provides the rest)."""

    _row: ViewRow
    _store: FeatureStore

    if TYPE_CHECKING:  # provided by FeatureView
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...
        @property
        def labels(self) -> list[str]: ...
        _serving: Any
        _last_td_version: int | None

        def init_serving(self, training_dataset_version: int | None = None) -> None: ...
        def transform(self, feature_vector: Any, **kwargs: Any) -> Any: ...

    @property
    def _log_group_name(self) -> str:
        return f"{self.name}_{self.version}_log"

    def _log_group(self) -> FeatureGroup | None:
        try:
            return self._store.get_feature_group(self._log_group_name, 1)
        except NotFoundError:
            return None

    @property
    def logging_enabled(self) -> bool:
        return self._log_group() is not None

    def enable_logging(self) -> FeatureGroup:
        """Create the view's log feature group (idempotent); returns it."""
        group = self._log_group()
        if group is None:
            group = self._store.get_or_create_feature_group(
                self._log_group_name, version=1, primary_key=["log_id"], event_time="log_time",
                description=f"Feature log of feature view {self.name} v{self.version}", statistics=False,
            )
        return group

    def pause_logging(self) -> None:
        """Stop accepting logs (``log`` then does nothing) until ``resume_logging``."""
        self._set_paused(True)

    def resume_logging(self) -> None:
        self._set_paused(False)

    def _set_paused(self, paused: bool) -> None:
        group = self._require_log()
        settings = dict(group._row.settings)
        settings["feature_logging_paused"] = paused
        self._store.engines.groups.update(group.id, settings=settings)

    def _require_log(self) -> Any:
        group = self._log_group()
        if group is None:
            raise ValidationError(
                f"Feature view {self.name} v{self.version} has no feature log: call fv.enable_logging() first "
                "(or create the view with logging_enabled=True)."
            )
        return group

    def log(
        self, untransformed_features: Any = None, predictions: Any = None, transformed_features: Any = None,
        write_options: Any = None, training_dataset_version: int | None = None, model: Any = None,
        model_name: str | None = None, model_version: int | None = None, logging_data: Any = None, **kwargs: Any,
    ) -> None:
        """Log served feature vectors (as ``get_feature_vector(s)(transform=False)`` or
        ``get_batch_data(transformed=False)`` return them: vectors or a dataframe) and the
        model's ``predictions`` (one per row). Queued and written in batches."""
        if logging_data is not None or transformed_features is not None and untransformed_features is None:
            raise unsupported("fv.log(logging_data=/transformed_features=)",
                              "log the untransformed features (read_log(transformed=True) transforms them)")
        group = self._require_log()
        if group._row.settings.get("feature_logging_paused"):
            return
        table = self._log_table(untransformed_features, predictions, training_dataset_version, model, model_name,
                                model_version)
        logger = self._feature_logger(table.schema, group)
        logger.log_many(table.to_pylist())

    def _feature_logger(self, schema: pa.Schema, group: Any) -> Any:
        from lakebox.deployments.rowlog import RowLogger

        logger = self.__dict__.get("_feature_log")
        if logger is None or logger.schema != schema:
            if logger is not None:
                logger.close()
            logger = RowLogger(group.insert, schema, name=f"feature-log-{self.name}-{self.version}")
            self.__dict__["_feature_log"] = logger
        return logger

    def _log_table(self, features: Any, predictions: Any, td_version: int | None, model: Any,
                   model_name: str | None, model_version: int | None) -> pa.Table:
        if features is None:
            raise ValidationError("fv.log needs untransformed_features (vectors or a dataframe).")
        if getattr(self, "_serving", None) is None:
            self.init_serving(td_version)
        columns = list(self._serving[0].outputs)
        if isinstance(features, (list, tuple)):
            rows = [features] if features and not isinstance(features[0], (list, tuple)) else list(features)
            table = pa.Table.from_pylist([dict(zip(columns, r, strict=True)) for r in rows])
        else:
            table = to_arrow(features)
            table = table.select([c for c in columns if c in table.column_names])
        n = table.num_rows
        if predictions is not None:
            predicted = _prediction_columns(predictions, self.labels or ["label"], n)
            for name, values in predicted.items():
                table = table.append_column(name, values)
        if model is not None:
            model_name, model_version = model.name, model.version
        version = td_version or self._serving[2] or self._last_td_version
        now_us = (datetime.now(UTC) - EPOCH) // timedelta(microseconds=1)
        meta = {
            "log_id": pa.array(range(now_us * 1000, now_us * 1000 + n), pa.int64()),
            "log_time": pa.array([now_us] * n, pa.timestamp("us", tz="UTC")),
            "training_dataset_version": pa.array([version] * n, pa.int64()),
            "model_name": pa.array([model_name] * n, pa.string()),
            "model_version": pa.array([model_version] * n, pa.int64()),
        }
        return pa.Table.from_arrays([*meta.values(), *table.columns], names=[*meta, *table.column_names])

    def materialize_log(self, wait: bool = False, transformed: bool | None = None) -> None:
        """hsfs moves logs to the offline store; lakebox writes the queued rows now."""
        logger = self.__dict__.get("_feature_log")
        if logger is not None:
            logger.flush()

    def read_log(self, start_time: Any = None, end_time: Any = None, filter: Any = None, transformed: bool = False,
                 training_dataset_version: int | None = None, model: Any = None, dataframe_type: str = "pandas") -> Any:
        """The logged rows in ``[start_time, end_time)`` (of ``training_dataset_version`` / ``model``
        when given); ``transformed=True`` applies the view's transformations to the features."""
        group = self._require_log()
        self.materialize_log()
        query = group.select_all()
        conditions = []
        if time_arg(start_time) is not None:
            conditions.append(group["log_time"] >= time_arg(start_time))
        if time_arg(end_time) is not None:
            conditions.append(group["log_time"] < time_arg(end_time))
        if training_dataset_version is not None:
            conditions.append(group["training_dataset_version"] == training_dataset_version)
        if model is not None:
            conditions.extend([group["model_name"] == model.name, group["model_version"] == model.version])
        if filter is not None:
            conditions.append(filter)
        for condition in conditions:
            query = query.filter(condition)
        table = query.read(dataframe_type="arrow") if group.commits() else pa.table({})
        if transformed and table.num_rows:
            table = to_arrow(self.transform(table))
        return from_arrow(table, dataframe_type_of(dataframe_type))

    def delete_log(self, transformed: bool | None = None) -> None:
        """Delete the log feature group and its rows (logging stays off until enable_logging)."""
        logger = self.__dict__.pop("_feature_log", None)
        if logger is not None:
            logger.close()
        group = self._log_group()
        if group is not None:
            group.delete()


def _prediction_columns(predictions: Any, labels: list[str], n: int) -> dict[str, pa.Array]:
    """``predicted_<label>`` columns from a list, array, Series or dataframe of predictions."""
    if hasattr(predictions, "columns"):
        table = to_arrow(predictions)
        if table.num_columns != len(labels):
            raise ValidationError(f"predictions has {table.num_columns} column(s); the view has labels {labels}.")
        arrays = list(table.columns)
    else:
        values = predictions.tolist() if hasattr(predictions, "tolist") else list(predictions)
        if values and isinstance(values[0], (list, tuple)):
            arrays = [pa.array([v[i] for v in values]) for i in range(len(labels))]
        else:
            arrays = [pa.array(values)]
    if any(len(a) != n for a in arrays) or len(arrays) != len(labels):
        raise ValidationError(f"fv.log needs one prediction per logged row ({n}) for each label {labels}.")
    return {f"predicted_{label}": array for label, array in zip(labels, arrays, strict=True)}

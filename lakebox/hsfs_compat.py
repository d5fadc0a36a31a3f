"""Code written for the Hopsworks SDK (hsfs/hsml 4.x) runs on lakebox: the small translations
between hsfs' spelling and lakebox's, in one place.

Only argument translation and aliases live here; behaviour lives in the api objects (a split
is ``FeatureView``'s, a transformation is ``lakebox.transformations``'). Where lakebox has no
such capability (Spark-only options, Kafka, OpenSearch ...), the call fails with
``UnsupportedError`` naming the hsfs call and what lakebox offers instead. docs/hopsworks.md
lists every hsfs/hsml call with its status; it is generated from ``HSFS_CALLS`` below.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakebox.errors import ValidationError
from lakebox.timeutil import parse_time

if TYPE_CHECKING:
    from lakebox.model_registry import ModelRegistry


class UnsupportedError(ValidationError):
    """An hsfs/hsml call or option that lakebox has no capability for."""

    code = "not_supported"
    http_status = 501


def unsupported(call: str, alternative: str) -> UnsupportedError:
    """The error for an hsfs call lakebox cannot run: names the call and the alternative."""
    return UnsupportedError(f"{call} is not supported by lakebox: {alternative}.", call=call)


def dataframe_type_of(value: str) -> str:
    """hsfs' ``dataframe_type="default"`` is pandas in a Python client."""
    return "pandas" if value == "default" else value


def time_arg(value: Any, what: str = "time") -> datetime | None:
    """A time argument as hsfs takes it (strings in the usual formats, dates, epoch ms; a
    time without a zone is UTC), or None for None/``""``."""
    return parse_time(value, what)


def _check_storage(call: str, storage_connector: Any, location: str, data_format: str, coalesce: bool) -> None:
    if storage_connector is not None or location:
        raise unsupported(f"fv.{call}(storage_connector=/location=)",
                          "training datasets live in the box (artifacts/); read their files with get_training_dataset_files")
    if data_format in ("avro", "orc", "tfrecord", "tfrecords"):
        raise unsupported(f"fv.{call}(data_format={data_format!r})", "use parquet, csv, tsv, json, npy or arrow")


class ViewAliases:
    """hsfs' names for materialised training datasets, over ``create_training_dataset`` and
    ``get_training_data`` (``FeatureView`` provides those). ``write_options``, ``read_options``
    and ``coalesce`` are accepted and ignored (they tune Spark/Hopsworks jobs); the job hsfs
    returns beside the version is ``None`` (lakebox writes in-process)."""

    if TYPE_CHECKING:  # provided by FeatureView
        def create_training_dataset(self, *args: Any, **kwargs: Any) -> int: ...
        def get_training_data(self, *args: Any, **kwargs: Any) -> tuple[Any, ...]: ...
        def get_training_datasets(self) -> list[dict[str, Any]]: ...
        def delete_training_dataset(self, version: int) -> None: ...

    def create_training_data(
        self, start_time: Any = None, end_time: Any = None, description: str = "", data_format: str = "parquet",
        coalesce: bool = False, storage_connector: Any = None, location: str = "", seed: int | None = None,
        statistics_config: Any = None, write_options: Any = None, extra_filter: Any = None, **kwargs: Any,
    ) -> tuple[int, None]:
        """hsfs: materialise all rows as one split; returns ``(version, None)``."""
        _check_storage("create_training_data", storage_connector, location, data_format, coalesce)
        version = self.create_training_dataset(
            data_format=data_format, seed=seed, start_time=start_time, end_time=end_time,
            description=description, extra_filter=extra_filter, **_engine_kwargs(kwargs))
        return version, None

    def create_train_test_split(
        self, test_size: float | None = None, train_start: Any = "", train_end: Any = "", test_start: Any = "",
        test_end: Any = "", description: str = "", data_format: str = "parquet", coalesce: bool = False,
        storage_connector: Any = None, location: str = "", seed: int | None = None, statistics_config: Any = None,
        write_options: Any = None, extra_filter: Any = None, **kwargs: Any,
    ) -> tuple[int, None]:
        """hsfs: materialise a train/test split; returns ``(version, None)``."""
        _check_storage("create_train_test_split", storage_connector, location, data_format, coalesce)
        version = self.create_training_dataset(
            data_format=data_format, test_size=test_size, seed=seed, train_start=train_start or None,
            train_end=train_end or None, test_start=test_start or None, test_end=test_end or None,
            description=description, extra_filter=extra_filter, **_engine_kwargs(kwargs))
        return version, None

    def create_train_validation_test_split(
        self, validation_size: float | None = None, test_size: float | None = None, train_start: Any = "",
        train_end: Any = "", validation_start: Any = "", validation_end: Any = "", test_start: Any = "",
        test_end: Any = "", description: str = "", data_format: str = "parquet", coalesce: bool = False,
        storage_connector: Any = None, location: str = "", seed: int | None = None, statistics_config: Any = None,
        write_options: Any = None, extra_filter: Any = None, **kwargs: Any,
    ) -> tuple[int, None]:
        """hsfs: materialise a train/validation/test split; returns ``(version, None)``."""
        _check_storage("create_train_validation_test_split", storage_connector, location, data_format, coalesce)
        version = self.create_training_dataset(
            data_format=data_format, test_size=test_size, validation_size=validation_size, seed=seed,
            train_start=train_start or None, train_end=train_end or None, validation_start=validation_start or None,
            validation_end=validation_end or None, test_start=test_start or None, test_end=test_end or None,
            description=description, extra_filter=extra_filter, **_engine_kwargs(kwargs))
        return version, None

    def get_train_test_split(self, training_dataset_version: int, read_options: Any = None, primary_key: bool = False,
                             event_time: bool = False, training_helper_columns: bool = False,
                             dataframe_type: str = "default", **kwargs: Any) -> tuple[Any, ...]:
        """hsfs: ``X_train, X_test, y_train, y_test`` of a train/test training dataset version."""
        return self._get_split("get_train_test_split", 4, training_dataset_version, primary_key, event_time,
                               dataframe_type)

    def get_train_validation_test_split(self, training_dataset_version: int, read_options: Any = None,
                                        primary_key: bool = False, event_time: bool = False,
                                        training_helper_columns: bool = False, dataframe_type: str = "default",
                                        **kwargs: Any) -> tuple[Any, ...]:
        """hsfs: ``X_train, X_val, X_test, y_train, y_val, y_test`` of a three-way version."""
        return self._get_split("get_train_validation_test_split", 6, training_dataset_version, primary_key,
                               event_time, dataframe_type)

    def _get_split(self, call: str, size: int, version: int, primary_key: bool, event_time: bool,
                   dataframe_type: str) -> tuple[Any, ...]:
        parts = self.get_training_data(version, dataframe_type=dataframe_type, primary_key=primary_key,
                                       event_time=event_time)
        if len(parts) != size:
            raise ValidationError(
                f"Training dataset v{version} has {len(parts) // 2} split(s), not the {size // 2} that fv.{call} "
                "returns; use fv.get_training_data(version) for it."
            )
        return parts

    def delete_all_training_datasets(self) -> None:
        """hsfs: delete every training dataset version of the view (files and metadata)."""
        for dataset in self.get_training_datasets():
            self.delete_training_dataset(dataset["version"])


def _engine_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """lakebox's own ``engine=``/``spark=`` pass through; hsfs' job options are ignored."""
    allowed = {k: v for k, v in kwargs.items() if k in ("engine", "spark")}
    unknown = sorted(k for k in kwargs if k not in allowed and k not in ("spine", "primary_key", "event_time",
                                                                        "training_helper_columns", "transformation_context"))
    if unknown:
        raise ValidationError(f"Unexpected argument(s) {unknown}.")
    return allowed


# -- hsml: model registry ----------------------------------------------------------------------
FRAMEWORKS = ("python", "sklearn", "torch", "tensorflow", "llm")


class FrameworkRegistry:
    """``mr.python`` / ``mr.sklearn`` / ``mr.torch`` / ``mr.tensorflow`` / ``mr.llm``: hsml's
    per-framework entry points; each creates a model through ``mr.create_model``."""

    def __init__(self, registry: Any, framework: str) -> None:
        self._registry = registry
        self.framework = framework

    def create_model(
        self, name: str, version: int | None = None, metrics: Any = None, description: str | None = None,
        input_example: Any = None, model_schema: Any = None, feature_view: Any = None,
        training_dataset_version: int | None = None, tags: Any = None, **kwargs: Any,
    ) -> Any:
        """hsml's ``create_model``; ``model.save(path)`` then stores the files."""
        if kwargs:
            raise ValidationError(f"mr.{self.framework}.create_model() got unexpected argument(s) {sorted(kwargs)}.")
        return self._registry.create_model(
            name, metrics=metrics, description=description, input_example=input_example, feature_view=feature_view,
            training_dataset_version=training_dataset_version, version=version, model_schema=model_schema, tags=tags,
        )

    def __repr__(self) -> str:
        return f"FrameworkRegistry({self.framework!r})"


class RegistryAliases:
    """hsml's per-framework registries on ``ModelRegistry``."""

    @property
    def python(self) -> FrameworkRegistry:
        return FrameworkRegistry(self, "python")

    @property
    def sklearn(self) -> FrameworkRegistry:
        return FrameworkRegistry(self, "sklearn")

    @property
    def torch(self) -> FrameworkRegistry:
        return FrameworkRegistry(self, "torch")

    @property
    def tensorflow(self) -> FrameworkRegistry:
        return FrameworkRegistry(self, "tensorflow")

    @property
    def llm(self) -> FrameworkRegistry:
        return FrameworkRegistry(self, "llm")


class ModelAliases:
    """hsml's ``model.get_feature_view()`` and friends on ``Model``."""

    if TYPE_CHECKING:  # provided by Model
        name: str
        version: int
        _registry: ModelRegistry

        @property
        def training_dataset(self) -> dict[str, Any] | None: ...

    def get_feature_view(self, init: bool = True, online: bool = False) -> Any:
        """The feature view the model was trained from (its training dataset's view); with
        ``init`` it is initialised for batch scoring (``online=False``, hsml's default) or for
        online serving (``online=True``) with that training dataset's transformation parameters.
        None when the model records no training dataset."""
        link = self.training_dataset
        if not link:
            return None
        fs = self._registry._project.get_feature_store()
        view = fs.get_feature_view(link["feature_view"], link["feature_view_version"])
        if init:
            if online:
                view.init_serving(training_dataset_version=link["version"])
            else:
                view.init_batch_scoring(training_dataset_version=link["version"])
        return view

    def get_training_dataset_version(self) -> int | None:
        link = self.training_dataset
        return link["version"] if link else None


# -- hsfs: feature vectors ---------------------------------------------------------------------
_VECTOR_IGNORED = ("external", "force_rest_client", "force_sql_client", "n_processes")


class VectorAliases:
    """hsfs' spelling of ``get_feature_vector(s)`` (the first base of ``FeatureView``): ``entry=``
    for the list of entries, ``transform=False``, and the client options that have no meaning
    in-process (``external``, ``force_rest_client``, ``force_sql_client``: accepted, ignored)."""

    # positional order is lakebox's (entry, passed_features, return_type, allow_missing,
    # training_dataset_version[, return_status]), which inner mixins call; hsfs code passes the rest by name
    def get_feature_vector(
        self, entry: Any = None, passed_features: Any = None, return_type: str = "list", allow_missing: bool = False,
        training_dataset_version: int | None = None, *, external: Any = None, force_rest_client: bool = False,
        force_sql_client: bool = False, transform: bool = True, on_demand_features: bool = True,
        request_parameters: Any = None, transformation_context: Any = None, logging_data: bool = False,
        **kwargs: Any,
    ) -> Any:
        """One feature vector (hsfs' ``get_feature_vector``): exactly the view's features, in
        its order, transformed unless ``transform=False``."""
        _vector_options("get_feature_vector", on_demand_features, transformation_context, logging_data, kwargs)
        if entry is None:
            raise ValidationError("get_feature_vector needs entry={primary key: value}.")
        extra: dict[str, Any] = {"request_parameters": request_parameters} if request_parameters is not None else {}
        if not transform:
            extra["transform"] = False
        return super().get_feature_vector(  # type: ignore[misc]
            entry, passed_features, return_type, allow_missing, training_dataset_version, **extra)

    def get_feature_vectors(
        self, entries: Any = None, passed_features: Any = None, return_type: str = "list", allow_missing: bool = False,
        training_dataset_version: int | None = None, return_status: bool = False, *, external: Any = None,
        force_rest_client: bool = False, force_sql_client: bool = False, transform: bool = True,
        on_demand_features: bool = True, request_parameters: Any = None, transformation_context: Any = None,
        logging_data: bool = False, entry: Any = None, **kwargs: Any,
    ) -> Any:
        """One vector per entry (hsfs' ``get_feature_vectors(entry=[...])``; ``entries`` is
        lakebox's spelling, as in the serving layers below), transformed unless ``transform=False``."""
        _vector_options("get_feature_vectors", on_demand_features, transformation_context, logging_data, kwargs)
        if entry is not None and entries is not None:
            raise ValidationError("Give the entries once: entry=[...] (hsfs) or entries=[...].")
        entry = entries if entry is None else entry
        if entry is None:
            raise ValidationError("get_feature_vectors needs entry=[{primary key: value}, ...].")
        extra: dict[str, Any] = {"request_parameters": request_parameters} if request_parameters is not None else {}
        if not transform:
            extra["transform"] = False
        return super().get_feature_vectors(  # type: ignore[misc]
            entry, passed_features, return_type, allow_missing, training_dataset_version, return_status, **extra)


def _vector_options(call: str, on_demand: bool, context: Any, logging_data: bool, kwargs: dict[str, Any]) -> None:
    if not on_demand:
        raise unsupported(f"fv.{call}(on_demand_features=False)", "leave on-demand features on")
    if context is not None:
        raise unsupported(f"fv.{call}(transformation_context=...)", "lakebox transformation functions take no context")
    if logging_data:
        raise unsupported(f"fv.{call}(logging_data=True)", "log served vectors with fv.log(untransformed_features, predictions=...)")
    unknown = sorted(k for k in kwargs if k not in _VECTOR_IGNORED)
    if unknown:
        raise ValidationError(f"fv.{call}() got unexpected argument(s) {unknown}.")


def hsfs_feature(name: str, type: str | None = None, description: str | None = None, primary: bool = False,
                 partition: bool = False, hudi_precombine_key: bool = False, online_type: str | None = None,
                 default_value: Any = None, **kwargs: Any) -> Any:
    """hsfs' ``Feature(name, type, description, primary, ...)`` as a lakebox ``Feature`` (the name
    lower-cased as hsfs does; partition/online options ignored; the key is the group's
    ``primary_key``, so ``primary`` only marks it)."""
    from lakebox.feature import Feature
    from lakebox.names import lower_name

    if default_value is not None:
        raise unsupported("Feature(default_value=...)", "fill the column before inserting")
    return Feature(str(lower_name(name, "feature name")), type or "string", description or "", primary=primary)

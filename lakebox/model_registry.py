"""The model registry: versioned models with metrics, files in the box, search, tags and lineage.

>>> mr = project.get_model_registry()                                        # doctest: +SKIP
>>> model = mr.create_model("churn", metrics={"accuracy": 0.93}, training_dataset=(fv, 1))  # doctest: +SKIP
>>> model.save("model_dir/")                                                 # doctest: +SKIP
>>> mr.get_best_model("churn", "accuracy", direction="max").version         # doctest: +SKIP
1

A model created inside a ``lagom`` run is linked to the run, and to the training datasets
the function read, without the user logging anything; ``project.lineage(model)`` walks on
to the feature view and the feature groups.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.models import ModelRow, ModelStore
from lakebox.deployments.mixins import DeployMixin
from lakebox.errors import AlreadyExistsError, NotFoundError, StorageError, ValidationError
from lakebox.hsfs_compat import ModelAliases, RegistryAliases
from lakebox.names import check_version
from lakebox.tags import Taggable

if TYPE_CHECKING:
    from lakebox.experiments import Experiment
    from lakebox.project import Project

_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


class Model(DeployMixin, ModelAliases, Taggable):
    """One registered model version; its files live under ``artifacts/models/<name>/<version>/``."""

    _asset_kind = "model"
    _row: ModelRow

    def __init__(self, registry: ModelRegistry, row: ModelRow) -> None:
        self._registry = registry
        self._row = row

    def _assets(self) -> AssetStore:
        return self._registry._assets

    # -- metadata -------------------------------------------------------------------------
    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self._row.metrics)

    training_metrics = metrics  # the Hopsworks name

    @property
    def input_example(self) -> Any:
        return self._row.input_example

    @property
    def training_dataset(self) -> dict[str, Any] | None:
        """``{"feature_view", "feature_view_version", "version"}`` of the training dataset, if known."""
        return dict(self._row.training_dataset) if self._row.training_dataset else None

    @property
    def experiment_id(self) -> int | None:
        return self._row.experiment_id

    @property
    def experiment(self) -> Experiment | None:
        """The ``lagom`` run this model was created in, if any."""
        if self._row.experiment_id is None:
            return None
        from lakebox.catalog.experiments import ExperimentStore
        from lakebox.experiments import Experiment

        row = ExperimentStore(self._registry._project.catalog).by_id(self._row.experiment_id)
        return Experiment(self._registry._project, row) if row is not None else None

    @property
    def created_at(self) -> str:
        return self._row.created_at

    @property
    def path(self) -> Path:
        """The model's folder in the box."""
        return self._registry._project.artifacts / self._row.location

    @property
    def files(self) -> list[str]:
        """The saved files, relative to the model's folder."""
        if not self.path.is_dir():
            return []
        return sorted(str(p.relative_to(self.path)) for p in self.path.rglob("*") if p.is_file())

    def update_description(self, description: str) -> Model:
        """Change the description (it is searchable)."""
        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        self._registry._store.update_description(self._row.id, description)
        row = self._registry._store.by_id(self._row.id)
        if row is None:
            raise NotFoundError(f"Model {self.name} v{self.version} was deleted.")
        self._row = row
        return self

    # -- files ----------------------------------------------------------------------------
    def save(self, model_path: str | os.PathLike[str]) -> Model:
        """Copy a file, or the contents of a folder, into the box as this version's files.

        Files already saved under the same names are replaced; the copy happens in a staging
        folder first, so a failed save leaves the previous files as they were.
        """
        source = Path(model_path)
        if not source.exists():
            raise NotFoundError(f"Cannot save model {self.name} v{self.version}: {source} does not exist.")
        self.path.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".saving-", dir=self.path.parent))
        try:
            if source.is_dir():
                shutil.copytree(source, staging, dirs_exist_ok=True)
            else:
                shutil.copy2(source, staging / source.name)
            for entry in staging.iterdir():
                target = self.path / entry.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(entry, target)
        except OSError as e:
            raise StorageError(f"Saving model {self.name} v{self.version} from {source} failed: {e}") from e
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self

    def download(self, local_path: str | os.PathLike[str] | None = None) -> str:
        """Copy the model's files to ``local_path`` (default: a new temporary folder); returns it."""
        if not self.files:
            raise NotFoundError(f"Model {self.name} v{self.version} has no files; call model.save(path) first.")
        target = Path(local_path) if local_path is not None else Path(tempfile.mkdtemp(prefix=f"{self.name}_{self.version}_"))
        shutil.copytree(self.path, target, dirs_exist_ok=True)
        return str(target)

    def delete(self) -> None:
        """Delete this version: its catalog row, tags, lineage edges and files."""
        self._registry._store.delete(self._row.id)
        shutil.rmtree(self.path, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        row = self._row
        return {
            "name": row.name,
            "version": row.version,
            "description": row.description,
            "metrics": row.metrics,
            "input_example": row.input_example,
            "training_dataset": row.training_dataset,
            "experiment_id": row.experiment_id,
            "location": row.location,
            "created_at": row.created_at,
            "files": self.files,
        }

    def __repr__(self) -> str:
        return f"Model({self.name!r}, version={self.version}, metrics={self.metrics})"


class ModelRegistry(RegistryAliases):
    """The box's models; get it with ``project.get_model_registry()``."""

    def __init__(self, project: Project) -> None:
        self._project = project
        self._store = ModelStore(project.catalog)
        self._assets = AssetStore(project.catalog)

    def create_model(
        self,
        name: str,
        metrics: Mapping[str, Any] | None = None,
        description: str | None = "",
        input_example: Any = None,
        training_dataset: Any = None,
        feature_view: Any = None,
        training_dataset_version: int | None = None,
        version: int | None = None,
        model_schema: Any = None,
        tags: Any = None,
    ) -> Model:
        """Register a new model version (the next number unless ``version`` is given).

        ``training_dataset`` is ``(feature_view, version)`` (or give ``feature_view=`` and
        ``training_dataset_version=``): the model is linked to it in the lineage. Inside a
        ``lagom`` run the model is also linked to the run and, when no training dataset is
        given, to the training datasets the function read. Save files with ``model.save(path)``.
        ``feature_view=`` without a version takes the view's training dataset used last in this
        process, else its latest (as hsml does). ``model_schema`` is accepted and not stored;
        ``tags`` (a dict, or a list of ``{"name", "value"}`` dicts) are added to the model.
        """
        from lakebox.experiment import context

        if not isinstance(name, str) or not _NAME.match(name):
            raise ValidationError(
                f"Model name {name!r} must be 1-100 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'."
            )
        checked = _metrics(metrics)
        description = "" if description is None else description
        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        if version is not None:
            version = check_version(version)
            if self._store.exists(name, version):
                raise AlreadyExistsError(f"Model {name} v{version} exists; leave version out to get the next one.")
        datasets = self._training_datasets(training_dataset, feature_view, training_dataset_version)
        trial = context.current()
        if not datasets and trial is not None:
            datasets = [dict(d) for d in trial.datasets]
        experiment_asset = None
        if trial is not None:
            try:
                experiment_asset = self._assets.get("experiment", trial.experiment_id).id
            except NotFoundError:
                experiment_asset = None
        row = self._store.create(
            name=name, description=description, metrics=checked, input_example=_example(input_example),
            training_dataset={k: v for k, v in datasets[0].items() if k != "asset_id"} if len(datasets) == 1 else None,
            experiment_id=trial.experiment_id if trial is not None and experiment_asset is not None else None, version=version,
        )
        model = Model(self, row)
        asset_id = model._asset().id
        for dataset in datasets:
            self._assets.link(dataset["asset_id"], asset_id, "trained_on",
                              {"feature_view": dataset["feature_view"], "version": dataset["version"]})
        if experiment_asset is not None and trial is not None:
            self._assets.link(experiment_asset, asset_id, "produced", {"trial": trial.trial})
            context.note_model(name, row.version, asset_id)
        for key, value in _tags(tags):
            model.add_tag(key, value)
        return model

    def _training_datasets(self, training_dataset: Any, feature_view: Any, version: int | None) -> list[dict[str, Any]]:
        if training_dataset is not None and feature_view is not None:
            raise ValidationError("Give training_dataset=(view, version) or feature_view= with training_dataset_version=, not both.")
        if training_dataset is None and feature_view is None:
            if version is not None:
                raise ValidationError("training_dataset_version needs feature_view= too.")
            return []
        if feature_view is not None and version is None:  # hsml: the last accessed, else the latest
            view = self._view(feature_view)
            datasets = view.get_training_datasets()
            version = view.get_last_accessed_training_dataset() or (datasets[-1]["version"] if datasets else None)
            if version is None:
                raise ValidationError(
                    f"Feature view {view.name} v{view.version} has no training dataset to link the model to: call "
                    "fv.train_test_split(...) or fv.create_training_dataset(...) first, or leave feature_view= out."
                )
        if training_dataset is not None:
            if isinstance(training_dataset, Mapping):
                feature_view = (training_dataset.get("feature_view"), training_dataset.get("feature_view_version"))
                version = training_dataset.get("version")
            elif isinstance(training_dataset, (tuple, list)) and len(training_dataset) == 2:
                feature_view, version = training_dataset
            else:
                raise ValidationError(
                    f"training_dataset must be (feature_view, version) or a dict, got {training_dataset!r}."
                )
        version = check_version(version, "training dataset version")
        view = self._view(feature_view)
        asset = view.training_dataset_asset(version)  # NotFoundError lists the versions
        return [{"feature_view": view.name, "feature_view_version": view.version, "version": version, "asset_id": asset.id}]

    def _view(self, spec: Any) -> Any:
        if hasattr(spec, "training_dataset_asset"):
            return spec
        fs = self._project.get_feature_store()
        if isinstance(spec, str):
            return fs.get_feature_view(spec)
        if isinstance(spec, (tuple, list)) and len(spec) == 2:
            return fs.get_feature_view(spec[0], spec[1])
        raise ValidationError(f"feature_view must be a FeatureView, a name or (name, version); got {spec!r}.")

    def get_model(self, name: str, version: int | None = None) -> Model:
        """A model version (the latest unless ``version`` is given)."""
        row = self._store.get(name, check_version(version) if version is not None else None)
        if row is None:
            raise self._not_found(name, version)
        return Model(self, row)

    def get_models(self, name: str | None = None) -> list[Model]:
        """Every version of ``name`` (oldest first), or every model of the box."""
        return [Model(self, r) for r in self._store.list(name)]

    def get_best_model(self, name: str, metric: str, direction: str = "max") -> Model:
        """The version of ``name`` with the highest (``max``) or lowest (``min``) ``metric``."""
        if direction not in ("max", "min"):
            raise ValidationError(f"direction must be 'max' or 'min', got {direction!r}.")
        if not self._store.versions(name):
            raise self._not_found(name, None)
        row = self._store.best(name, metric, direction)
        if row is None:
            raise NotFoundError(
                f"No version of model {name} has a metric {metric!r}; its metrics are {self._store.metric_names(name)}."
            )
        return Model(self, row)

    def _not_found(self, name: str, version: int | None) -> NotFoundError:
        versions = self._store.versions(name)
        if versions:
            return NotFoundError(f"Model {name} has no version {version}; it has {versions}.")
        from lakebox.names import closest

        hint = closest(name, self._store.names())
        return NotFoundError(f"No model named {name!r}" + (f"; did you mean {hint}?" if hint else "."))

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self._project.path)!r})"


def _tags(tags: Any) -> list[tuple[str, Any]]:
    """hsml's ``tags=``: a dict, or a list of ``{"name": ..., "value": ...}`` dicts / Tag objects."""
    if tags is None:
        return []
    if isinstance(tags, Mapping) and not {"name", "value"} <= set(tags):
        return list(tags.items())
    items = tags if isinstance(tags, (list, tuple)) else [tags]
    out = []
    for item in items:
        name = item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)
        value = item.get("value") if isinstance(item, Mapping) else getattr(item, "value", None)
        if not isinstance(name, str):
            raise ValidationError(f"tags take a dict or a list of {{'name', 'value'}} dicts, got {item!r}.")
        out.append((name, value))
    return out


def _metrics(metrics: Mapping[str, Any] | None) -> dict[str, float | int]:
    if metrics is None:
        return {}
    if not isinstance(metrics, Mapping):
        raise ValidationError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}.")
    out: dict[str, float | int] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or not key:
            raise ValidationError(f"Metric names must be non-empty strings, got {key!r}.")
        number = value.item() if hasattr(value, "item") and callable(value.item) else value
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number):
            raise ValidationError(f"Metric {key!r} must be a finite number, got {value!r}.")
        out[key] = number
    return out


def _example(value: Any) -> Any:
    """A JSON-able input example: the first row of a frame, arrays as lists."""
    if value is None:
        return None
    if hasattr(value, "to_pylist"):  # pyarrow
        rows = value.slice(0, 1).to_pylist() if hasattr(value, "slice") else value.to_pylist()[:1]
        return _example(rows[0] if rows else {})
    if hasattr(value, "iloc") and hasattr(value, "to_dict"):  # pandas
        records = value.head(1).to_dict(orient="records") if hasattr(value, "columns") else [value.to_dict()]
        return _example(records[0] if records else {})
    if hasattr(value, "to_dicts"):  # polars
        rows = value.head(1).to_dicts()
        return _example(rows[0] if rows else {})
    if hasattr(value, "tolist"):
        return _example(value.tolist())
    if isinstance(value, Mapping):
        return {str(k): _example(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_example(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)

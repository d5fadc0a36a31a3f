"""``ModelServing``: create, find and delete a box's deployments (``project.get_model_serving()``).

Deploying checks everything a request would need before anything is written: the model has
a training dataset (hence a feature view and fitted transformations), the view serves
exactly the training dataset's features from online-enabled groups, and the predictor of
the model version loads. Then it creates the prediction-log group and the catalog row.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.deployments import DeploymentRow, DeploymentStore
from lakebox.deployments.deployment import LOG_COLUMNS, Deployment
from lakebox.deployments.predictors import PREDICTOR_FILE, Predictor, load_predictor
from lakebox.deployments.rowlog import DEFAULT_MAX_QUEUE, DEFAULT_MAX_ROWS, DEFAULT_MAX_SECONDS, RowLogger
from lakebox.errors import AlreadyExistsError, LakeboxError, NotFoundError, ValidationError
from lakebox.names import check_name, did_you_mean
from lakebox.types import TIMESTAMP, parse_type, type_name

if TYPE_CHECKING:
    from lakebox.feature_store import FeatureStore
    from lakebox.model_registry import ModelRegistry

PREDICTION_TYPES = ("double", "string")
# per-process overrides of the prediction logger's batching (see docs/deployments.md)
ENV_ROWS, ENV_SECONDS, ENV_QUEUE = "LAKEBOX_PREDICTION_LOG_ROWS", "LAKEBOX_PREDICTION_LOG_SECONDS", "LAKEBOX_PREDICTION_LOG_QUEUE"

_loggers: dict[tuple[Path, str, int], RowLogger] = {}
_owners: dict[tuple[Path, str, int], Any] = {}  # each logger's own project of its box
_loggers_lock = threading.Lock()


class ModelServing:
    """The deployments of a project: ``project.get_model_serving()``."""

    def __init__(self, project: Any) -> None:
        self._project = project
        self.store = DeploymentStore(project.catalog)
        self.assets: AssetStore = project.engines.assets
        self._cache: dict[str, Deployment] = {}
        self._lock = threading.Lock()

    @property
    def feature_store(self) -> FeatureStore:
        return self._project.get_feature_store()

    @property
    def model_registry(self) -> ModelRegistry:
        return self._project.get_model_registry()

    def folder(self, name: str) -> Path:
        return Path(self._project.artifacts) / "deployments" / name

    # -- finding ------------------------------------------------------------------------------
    def get_deployment(self, name: str) -> Deployment:
        """The deployment called ``name`` (one object per name per ``ModelServing``, so its
        loaded predictors and view are reused)."""
        row = self.store.get(name) if isinstance(name, str) else None
        if row is None:
            raise NotFoundError(f"No deployment named {name!r}" + (did_you_mean(str(name), self.store.names()) or "."))
        with self._lock:
            found = self._cache.get(name)
            if found is None or found.id != row.id:
                found = Deployment(self, row)
                self._cache[name] = found
        return found

    def get_deployments(self) -> list[Deployment]:
        return [self.get_deployment(row.name) for row in self.store.list()]

    # -- deploying ----------------------------------------------------------------------------
    def deploy(
        self,
        model: Any,
        name: str | None = None,
        predictor: str | os.PathLike[str] | None = None,
        serving_keys: Sequence[str] | None = None,
        description: str = "",
        log: bool = True,
        prediction_type: str = "double",
    ) -> Deployment:
        """Deploy a registered model version (see ``Model.deploy``)."""
        name = _deployment_name(model.name) if name is None else check_name(name, "deployment name")
        if self.store.get(name) is not None:
            raise AlreadyExistsError(
                f"A deployment named {name!r} exists; get it with get_deployment({name!r}), delete it, or pick another name."
            )
        if prediction_type not in PREDICTION_TYPES:
            raise ValidationError(f"prediction_type must be one of {list(PREDICTION_TYPES)}, got {prediction_type!r}.")
        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        dataset = model.training_dataset
        if not dataset:
            raise ValidationError(
                f"Model {model.name} v{model.version} has no training dataset, so lakebox cannot know its features: "
                "register it with mr.create_model(..., training_dataset=(feature_view, version))."
            )
        view = self.feature_store.get_feature_view(dataset["feature_view"], dataset["feature_view_version"])
        td_version = int(dataset["version"])
        x = view.get_training_data(td_version, dataframe_type="arrow")[0]
        features = [(f.name, type_name(f.type)) for f in x.schema]
        keys = self._serving_keys(view, serving_keys)
        clash = sorted({n for n, _ in features} & set(LOG_COLUMNS))  # a key that is a feature is logged once
        if clash and log:
            raise ValidationError(
                f"The model's features {clash} clash with the prediction log's columns {[*keys, *LOG_COLUMNS]}; "
                "rename them in the feature view, or deploy with log=False."
            )
        view.init_serving(td_version)  # refuses views over groups that are not online-enabled
        served = view.serving_columns()
        if sorted(served) != sorted(n for n, _ in features):
            raise ValidationError(
                f"The feature view {view.name} v{view.version} serves {served}, but training dataset v{td_version} "
                f"has {[n for n, _ in features]}; recreate the training dataset and register the model again."
            )
        folder = self.folder(name)
        own_predictor = self._stage_predictor(predictor, folder)
        try:
            load_predictor(name, model.version, model.path, own_predictor)  # it must load before we record it
            group = self._log_group(name, view, keys, features, prediction_type) if log else None
            row = self.store.create(
                name=name, description=description, model_name=model.name, model_version=model.version,
                predictor=PREDICTOR_FILE if own_predictor is not None else None, serving_keys=keys,
                feature_view=view.name, feature_view_version=view.version, training_dataset_version=td_version,
                features=features, log_group=group.name if group is not None else None,
            )  # fmt: skip
        except LakeboxError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        deployment = self.get_deployment(row.name)
        self.link_versions(deployment, {model.version: 100})
        if group is not None:
            self.assets.link(deployment._asset().id, group._asset().id, "logs_to", {})
        return deployment

    def _serving_keys(self, view: Any, serving_keys: Sequence[str] | None) -> list[str]:
        primary = list(view.primary_key)
        if serving_keys is None:
            return primary
        if isinstance(serving_keys, str):
            serving_keys = [serving_keys]
        keys = [check_name(k, "serving key") for k in serving_keys]
        lacking = [k for k in primary if k not in keys]
        if lacking:
            raise ValidationError(f"serving_keys {keys} must include the feature view's primary key {primary}; add {lacking}.")
        known = {f.name for g in view.query.groups() for f in g.features}
        unknown = [k for k in keys if k not in known]
        if unknown:
            raise ValidationError(f"serving_keys {unknown} are not columns of the feature view's groups.")
        return keys

    def _stage_predictor(self, predictor: Any, folder: Path) -> Path | None:
        if predictor is None or predictor == "auto":
            return None
        source = Path(predictor)
        if source.suffix != ".py" or not source.is_file():
            raise ValidationError(
                f"predictor must be the path of a Python file with class Predict (predictor.py), got {str(predictor)!r}."
            )
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / PREDICTOR_FILE
        shutil.copy2(source, target)
        return target

    def _log_group(
        self, name: str, view: Any, keys: list[str], features: list[tuple[str, str]], prediction_type: str
    ) -> Any:
        from lakebox.feature import Feature

        types: dict[str, str] = {}
        for group in reversed(view.query.groups()):  # the root group's types win
            types.update({f.name: f.type for f in group.features})
        columns = [
            *[Feature(k, types.get(k, "bigint")) for k in keys],
            Feature("request_time", "timestamp", "when the request arrived (UTC)"),
            Feature("model_version", "bigint", "the model version that answered"),
            Feature("status", "string", "the feature vector's status: present, missing or too_old"),
            *[Feature(n, t, "the value the model received (transformed)") for n, t in features if n not in keys],
            Feature("prediction", prediction_type, "what the model predicted"),
            Feature("latency_ms", "double", "time to answer the request, in milliseconds"),
        ]
        fs = self.feature_store
        group_name = f"{name}_predictions"
        existing = [g for g in fs.get_feature_groups() if g.name == group_name and g.version == 1]
        if existing:
            found = [(f.name, f.type) for f in existing[0].features]
            if found != [(c.name, c.type) for c in columns]:
                raise AlreadyExistsError(
                    f"The feature group {group_name} v1 exists with other columns (a log of an earlier deployment); "
                    "delete it or deploy under another name."
                )
            return existing[0]
        return fs.create_feature_group(
            group_name, version=1, primary_key=keys, event_time="request_time", features=columns,
            description=f"Prediction log of deployment {name}", statistics=False,
        )  # fmt: skip

    # -- helpers for Deployment ---------------------------------------------------------------
    def model_versions(self, model_name: str) -> list[int]:
        return [m.version for m in self.model_registry.get_models(model_name)]

    def load_predictor_for(self, deployment: Deployment, version: int) -> Predictor:
        model = self.model_registry.get_model(deployment.model_name, version)
        own = self.folder(deployment.name) / PREDICTOR_FILE if deployment.predictor != "auto" else None
        return load_predictor(deployment.name, version, model.path, own)

    def link_versions(self, deployment: Deployment, shares: Mapping[int, float]) -> None:
        target = deployment._asset().id
        for version, share in shares.items():
            model = self.model_registry.get_model(deployment.model_name, version)
            self.assets.link(model._asset().id, target, "deployed_as", {"share": share})

    def feature_view_of(self, row: DeploymentRow) -> Any:
        return self.feature_store.get_feature_view(row.feature_view, row.feature_view_version)

    def logger_for(self, row: DeploymentRow) -> RowLogger:
        """The prediction logger of a deployment: one per box, deployment and process."""
        assert row.log_group is not None
        key = (Path(self._project.path), row.log_group, row.id)
        with _loggers_lock:
            found = _loggers.get(key)
            if found is None:
                # the logger holds its own project of the box, so the engines it writes through
                # stay open until it is done, even after the caller's project is closed
                from lakebox.box import Box
                from lakebox.project import Project

                own = Project(Box.open(self._project.path))
                _owners[key] = own
                group = own.get_feature_store().get_feature_group(row.log_group, 1)
                schema = pa.schema([pa.field(f.name, parse_type(f.type)) for f in group.features])
                found = RowLogger(
                    group.insert, schema, name=f"{row.name}_predictions",
                    max_rows=int(os.environ.get(ENV_ROWS, DEFAULT_MAX_ROWS)),
                    max_seconds=float(os.environ.get(ENV_SECONDS, DEFAULT_MAX_SECONDS)),
                    max_queue=int(os.environ.get(ENV_QUEUE, DEFAULT_MAX_QUEUE)),
                )  # fmt: skip
                _loggers[key] = found
        return found

    def flush_logs(self, timeout: float | None = 60.0) -> bool:
        """Write every queued prediction of this box's deployments in this process."""
        root = Path(self._project.path)
        with _loggers_lock:
            mine = [logger for (box, _, _), logger in _loggers.items() if box == root]
        return all([logger.flush(timeout) for logger in mine])

    def forget(self, row: DeploymentRow) -> None:
        with self._lock:
            self._cache.pop(row.name, None)
        if row.log_group is not None:
            with _loggers_lock:
                logger = _loggers.pop((Path(self._project.path), row.log_group, row.id), None)
                own = _owners.pop((Path(self._project.path), row.log_group, row.id), None)
            if logger is not None:
                logger.close()
            if own is not None:
                own.close()

    def insert_outcomes(self, deployment: Deployment, outcomes: Any, event_time: str) -> Any:
        from lakebox.frames import to_arrow

        table = to_arrow(outcomes)
        keys = deployment.serving_keys
        missing = [k for k in keys if k not in table.column_names]
        if missing:
            raise ValidationError(f"Outcomes of deployment {deployment.name!r} need the serving key column(s) {missing}.")
        if len(table.column_names) <= len(keys) + (event_time in table.column_names):
            raise ValidationError(f"Outcomes of deployment {deployment.name!r} need at least one outcome column besides the keys.")
        if event_time not in table.column_names:
            now = datetime.now(UTC)
            table = table.append_column(pa.field(event_time, TIMESTAMP), pa.array([now] * table.num_rows, TIMESTAMP))
        group = self.feature_store.get_or_create_feature_group(
            deployment.outcome_group, version=1, primary_key=keys, event_time=event_time,
            description=f"Outcomes (labels that arrived later) of deployment {deployment.name}", statistics=False,
        )  # fmt: skip
        commit = group.insert(table)
        if deployment.log_group is not None:
            self.assets.link(deployment._asset().id, group._asset().id, "outcomes_in", {})
        return commit


def _deployment_name(model_name: str) -> str:
    name = re.sub(r"[^a-z0-9_]", "_", model_name.lower())
    if not name or name[0].isdigit():
        name = f"m_{name}"
    return check_name(name, "deployment name")

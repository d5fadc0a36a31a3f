"""``Deployment``: a registered model served behind the online store.

``deployment.predict({"player_id": 3})`` looks the entry's features up in the online store
through the model's feature view, applies the transformations fitted for the model's
training dataset, puts them in the training dataset's column order, asks the predictor of
the model version that the traffic split picks for this key, and logs the request to the
prediction-log feature group ``{deployment}_predictions`` (batched, off the request path).

A deployment object notices changes made elsewhere (``set_traffic`` in another process, a
new default version) on its next request: it reads the deployment's change counter, one
indexed SQLite read, per call.
"""

from __future__ import annotations

import logging
import math
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.deployments import DeploymentRow
from lakebox.deployments.predictors import Predictor
from lakebox.deployments.rowlog import RowLogger
from lakebox.deployments.traffic import Router, check_traffic
from lakebox.errors import NotFoundError, ValidationError
from lakebox.tags import Taggable

if TYPE_CHECKING:
    from lakebox.deployments.serving import ModelServing
    from lakebox.feature_group import FeatureGroup

log = logging.getLogger(__name__)

PRESENT = "present"
_NUMPY_TYPES = {"double": "float64", "float": "float32", "bigint": "int64", "int": "int32"}  # booleans: pandas (None stays None)
LOG_COLUMNS = ("request_time", "model_version", "status", "prediction", "latency_ms")
OUTCOME_TIME = "outcome_time"


class Deployment(Taggable):
    """A model deployment; get one with ``model.deploy()`` or
    ``project.get_model_serving().get_deployment(name)``."""

    _asset_kind = "deployment"

    def __init__(self, serving: ModelServing, row: DeploymentRow) -> None:
        self._serving = serving
        self._row = row
        self._lock = threading.RLock()
        self._router: Router | None = None
        self._view: Any = None
        self._order: list[int] | None = None
        self._predictors: dict[int, Predictor] = {}
        self._logger: RowLogger | None = None
        self._numeric = True  # the log's prediction column is double (else string)
        self._dtypes: list[Any] | None = None

    def _assets(self) -> AssetStore:
        return self._serving.assets

    # -- metadata ---------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The default model version (the one every key gets without a traffic split)."""
        return int(self._row.model_version)

    model_version = version

    @property
    def model_name(self) -> str:
        return self._row.model_name

    @property
    def traffic(self) -> dict[int, float]:
        """``{model version: percent}``; ``{default version: 100}`` without a split."""
        return dict(self._row.traffic) if self._row.traffic else {self.version: 100}

    @property
    def serving_keys(self) -> list[str]:
        return list(self._row.serving_keys)

    @property
    def feature_view(self) -> tuple[str, int]:
        return self._row.feature_view, self._row.feature_view_version

    @property
    def training_dataset_version(self) -> int:
        return self._row.training_dataset_version

    @property
    def features(self) -> list[str]:
        """The model's input columns, in the order it was trained on."""
        return [name for name, _ in self._row.features]

    @property
    def log_group(self) -> str | None:
        """Name of the prediction-log feature group (version 1), or None when logging is off."""
        return self._row.log_group

    @property
    def predictor(self) -> str:
        """``auto`` (found in the model's files) or the deployment's own ``predictor.py``."""
        return self._row.predictor or "auto"

    @property
    def outcome_group(self) -> str:
        return f"{self.name}_outcomes"

    def to_dict(self) -> dict[str, Any]:
        row = self._row
        return {
            "name": row.name,
            "description": row.description,
            "model_name": row.model_name,
            "model_version": row.model_version,
            "traffic": {str(k): v for k, v in self.traffic.items()},
            "serving_keys": row.serving_keys,
            "feature_view": row.feature_view,
            "feature_view_version": row.feature_view_version,
            "training_dataset_version": row.training_dataset_version,
            "features": self.features,
            "log_group": row.log_group,
            "predictor": row.predictor or "auto",
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }

    def __repr__(self) -> str:
        return f"Deployment({self.name!r}, model={self.model_name!r}, version={self.version}, traffic={self.traffic})"

    # -- routing ----------------------------------------------------------------------------
    def set_traffic(self, traffic: Mapping[int, float] | None) -> Deployment:
        """Split requests between model versions, e.g. ``{1: 90, 2: 10}`` (a canary). Each
        entity key always gets the same version while the split stands; every prediction
        records the version that answered. ``None`` sends everything to the default version.
        Takes effect on the next request of every process serving the deployment."""
        shares = check_traffic(traffic) if traffic is not None else {}
        known = self._serving.model_versions(self.model_name)
        unknown = [v for v in shares if v not in known]
        if unknown:
            raise NotFoundError(f"Model {self.model_name} has no version(s) {unknown}; it has {known}.")
        default = self.version if (not shares or self.version in shares) else max(shares, key=lambda v: (shares[v], v))
        for version in shares:
            self._serving.load_predictor_for(self, version)  # refuse a version that cannot predict, before routing to it
        self._serving.store.set_routing(self.id, default, shares)
        self._serving.link_versions(self, shares or {default: 100})
        self._reload()
        return self

    def set_model_version(self, version: int) -> Deployment:
        """Serve ``version`` of the model to every key (clears a traffic split)."""
        known = self._serving.model_versions(self.model_name)
        if version not in known:
            raise NotFoundError(f"Model {self.model_name} has no version {version}; it has {known}.")
        self._serving.load_predictor_for(self, version)
        self._serving.store.set_routing(self.id, int(version), {})
        self._serving.link_versions(self, {int(version): 100})
        self._reload()
        return self

    def _reload(self) -> None:
        row = self._serving.store.by_id(self.id)
        if row is None:
            raise NotFoundError(f"Deployment {self.name!r} was deleted.")
        with self._lock:
            self._row = row
            self._router = Router(row.model_version, row.traffic)

    def _refresh(self) -> None:
        generation = self._serving.store.generation(self.id)
        if generation is None:
            raise NotFoundError(f"Deployment {self.name!r} was deleted; list them with get_deployments().")
        if generation != self._row.generation or self._router is None:
            self._reload()

    # -- predicting -------------------------------------------------------------------------
    def predict(
        self,
        entries: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        passed_features: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        allow_missing: bool = False,
    ) -> dict[str, Any]:
        """Predict for one entry (a dict of serving-key values) or a list of them.

        One entry returns ``{"deployment", "prediction", "model_version", "status"}``; a list
        returns ``{"deployment", "predictions", "model_versions", "statuses"}`` in order. The
        status is the feature vector's: present, missing or too_old. A missing or too old
        vector is an error unless ``allow_missing`` (then the model gets nulls, and must
        accept them). ``passed_features`` override looked-up values (untransformed, by the
        view's feature names), as in ``get_feature_vector``.
        """
        started = time.perf_counter()
        single = isinstance(entries, Mapping)
        batch: list[Mapping[str, Any]] = [entries] if isinstance(entries, Mapping) else list(entries)
        passed = self._passed(passed_features, single, len(batch))
        if not batch:
            raise ValidationError(f"Deployment {self.name!r}: predict needs at least one entry.")
        keys = self._row.serving_keys
        for entry in batch:
            if not isinstance(entry, Mapping):
                raise ValidationError(
                    f"Deployment {self.name!r}: an entry is a dict of serving-key values such as {{{keys[0]!r}: 7}}, got {entry!r}."
                )
            missing = [k for k in keys if k not in entry]
            if missing:
                raise ValidationError(
                    f"Deployment {self.name!r}: the entry {dict(entry)!r} lacks the serving key(s) {missing}.",
                    missing=missing,
                )
        self._refresh()
        view, order = self._prepare()
        vectors, statuses = view.get_feature_vectors(
            batch, passed_features=passed, allow_missing=True, return_status=True,
            training_dataset_version=self._row.training_dataset_version,
        )
        if not allow_missing:
            bad = [i for i, s in enumerate(statuses) if s != PRESENT]
            if bad:
                raise NotFoundError(
                    f"Deployment {self.name!r}: {len(bad)} of {len(batch)} entries have no complete feature vector "
                    f"in the online store, e.g. {dict(batch[bad[0]])} ({statuses[bad[0]]}). Pass allow_missing=True "
                    "to predict on nulls (if the model accepts them), or check the keys.",
                    statuses=statuses,
                )
        rows = vectors if order is None else [[v[i] for i in order] for v in vectors]
        router = self._router
        assert router is not None
        key_values = [[entry.get(k) for k in keys] for entry in batch]
        versions = [router.route(kv) for kv in key_values] if router.split else [router.default] * len(batch)
        predictions: list[Any] = [None] * len(batch)
        for version in dict.fromkeys(versions):
            positions = [i for i, v in enumerate(versions) if v == version]
            frame = self._frame([rows[i] for i in positions])
            for i, value in zip(positions, self._predictor(version).predict(frame), strict=True):
                predictions[i] = value
        latency_ms = (time.perf_counter() - started) * 1000
        logger = self._log()
        if logger is not None:
            numeric = self._numeric
            logged = self._logged_features()
            logger.log_many([
                [*key_values[i], logger.now_us(), versions[i], statuses[i],
                 *(rows[i] if logged is None else [rows[i][j] for j in logged]),
                 _number(predictions[i]) if numeric else _text(predictions[i]), latency_ms]
                for i in range(len(batch))
            ])  # fmt: skip
        if single:
            return {"deployment": self.name, "prediction": predictions[0], "model_version": versions[0], "status": statuses[0]}
        return {"deployment": self.name, "predictions": predictions, "model_versions": versions, "statuses": statuses}

    def _logged_features(self) -> list[int] | None:
        """Positions of the features the log keeps (a serving key that is also a feature is
        logged once, as the key); None when it keeps them all."""
        keys = set(self._row.serving_keys)
        names = self.features
        if not keys & set(names):
            return None
        return [i for i, n in enumerate(names) if n not in keys]

    def warm(self) -> Deployment:
        """Load now what the first request would: the view's serving plan and the predictor of
        every version the traffic routes to (a server does this at startup)."""
        self._refresh()
        self._prepare()
        assert self._router is not None
        for version in self._router.versions:
            self._predictor(version)
        return self

    def _passed(self, passed: Any, single: bool, count: int) -> list[Any] | None:
        if passed is None:
            return None
        if single:
            if not isinstance(passed, Mapping):
                raise ValidationError(f"Deployment {self.name!r}: passed_features for one entry is a dict of feature values.")
            return [passed] if passed else None
        if isinstance(passed, Mapping) or len(passed) != count:
            raise ValidationError(f"Deployment {self.name!r}: passed_features must be a list with one dict per entry.")
        return list(passed)

    def _prepare(self) -> tuple[Any, list[int] | None]:
        view, order = self._view, self._order
        if view is not None:
            return view, order
        with self._lock:
            if self._view is None:
                view = self._serving.feature_view_of(self._row)
                view.init_serving(self._row.training_dataset_version)
                columns = view.serving_columns()
                names = self.features
                if sorted(columns) != sorted(names):
                    raise ValidationError(
                        f"Deployment {self.name!r}: the feature view serves {columns}, but the model was trained on "
                        f"{names}; redeploy after recreating the view's training dataset."
                    )
                self._order = None if columns == names else [columns.index(n) for n in names]
                self._view = view
            return self._view, self._order

    def _frame(self, rows: list[list[Any]]) -> Any:
        """The model's input frame, column types as in training. Built from numpy arrays: a
        frame from Python lists costs pandas milliseconds (type inference per cell)."""
        import numpy as np
        import pandas as pd

        names = self.features
        dtypes = self._dtypes
        if dtypes is None:
            dtypes = self._dtypes = [_NUMPY_TYPES.get(t) for _, t in self._row.features]
        if len(set(dtypes)) == 1 and dtypes[0] is not None:  # one numeric type: one block
            try:
                return pd.DataFrame(np.array(rows, dtype=dtypes[0]), columns=names)
            except (TypeError, ValueError):
                pass  # a null among integers: per column below
        columns: dict[str, Any] = {}
        for i, (name, dtype) in enumerate(zip(names, dtypes, strict=True)):
            values = [row[i] for row in rows]
            if dtype is None:
                columns[name] = values  # strings, times, lists: pandas infers them, as it did in training
                continue
            try:
                columns[name] = np.array(values, dtype=dtype)
            except (TypeError, ValueError):
                columns[name] = np.array(values, dtype=np.float64)  # nulls among integers: NaN, as pandas would
        return pd.DataFrame(columns, columns=names)

    def _predictor(self, version: int) -> Predictor:
        found = self._predictors.get(version)
        if found is None:
            with self._lock:
                found = self._predictors.get(version)
                if found is None:
                    found = self._serving.load_predictor_for(self, version)
                    self._predictors[version] = found
        return found

    # -- logs and outcomes -----------------------------------------------------------------
    def _log(self) -> RowLogger | None:
        if self._row.log_group is None:
            return None
        if self._logger is None:
            with self._lock:
                if self._logger is None:
                    logger = self._serving.logger_for(self._row)
                    self._numeric = str(logger.schema.field("prediction").type) != "string"
                    self._logger = logger
        return self._logger

    def flush_logs(self, timeout: float | None = 60.0) -> bool:
        """Write every logged prediction now; True when all were written within ``timeout``."""
        logger = self._log()
        return True if logger is None else logger.flush(timeout)

    def log_stats(self) -> dict[str, Any]:
        """The prediction logger of this process: rows written, pending, dropped, failed."""
        logger = self._log()
        return {} if logger is None else logger.stats()

    def get_prediction_log(self, dataframe_type: str = "pandas") -> Any:
        """The prediction log (flushed first): keys, request_time, model_version, status, the
        features the model received, prediction and latency_ms."""
        group = self.get_log_group()
        self.flush_logs()
        return group.read(dataframe_type=dataframe_type)

    def get_log_group(self) -> FeatureGroup:
        if self._row.log_group is None:
            raise NotFoundError(f"Deployment {self.name!r} was created with log=False: it keeps no prediction log.")
        return self._serving.feature_store.get_feature_group(self._row.log_group, 1)

    def log_outcomes(self, outcomes: Any, event_time: str | None = None) -> Any:
        """Insert outcomes (labels that arrived later) by serving key into ``{name}_outcomes``.

        ``outcomes`` is a frame with the serving keys and outcome columns, and optionally an
        event time column (``event_time``, default ``outcome_time``; filled with now when
        absent). ``fs.get_features`` then joins predictions with outcomes, e.g.
        ``fs.get_features(["{name}_predictions.prediction", "{name}_outcomes.label"], entity_df=...)``.
        """
        return self._serving.insert_outcomes(self, outcomes, event_time or OUTCOME_TIME)

    # -- lifecycle --------------------------------------------------------------------------
    def delete(self, delete_logs: bool = False) -> None:
        """Delete the deployment (its prediction log stays unless ``delete_logs``)."""
        logger = self._log()
        if logger is not None:
            logger.flush()
        self._serving.store.delete(self.id)
        self._serving.forget(self._row)
        folder = self._serving.folder(self.name)
        shutil.rmtree(folder, ignore_errors=True)
        if delete_logs:
            for group in self._serving.feature_store.get_feature_groups():
                if group.name in (self._row.log_group, self.outcome_group):
                    group.delete()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, default=str)

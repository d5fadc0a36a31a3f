"""``DriftMonitor``: compare a window of served (or ingested) data with a training dataset.

``fs.create_drift_monitor("att_drift", source=deployment, reference=(fv, 1), window="1d")``
watches a deployment's prediction log (the transformed features its model received) or a
feature group's rows (transformed with the training dataset's fitted parameters, so both
sides are on the same scale). ``monitor.run(at=None)`` reads the window ``[at - window, at)``
by event time, scores each feature against the training split with ``psi``, ``ks`` and
``mean_shift`` (``lakebox.monitors.metrics``), stores one result per feature and metric,
and, when a score exceeds its threshold, records a ``drift_alert`` catalog event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.monitors import MonitorRow, MonitorStore, RunRow
from lakebox.errors import AlreadyExistsError, NotFoundError, ValidationError
from lakebox.monitors import metrics as drift
from lakebox.names import check_name, did_you_mean
from lakebox.tags import Taggable

MIN_ROWS = 20  # fewer values in a window score, but never alert: too few to tell drift from noise
_WINDOW = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class MonitorRun:
    """One run: the window, its row count, and a result per feature and metric."""

    monitor: str
    run_id: int
    run_at: str
    window_start: str
    window_end: str
    rows: int
    alert: bool
    results: list[dict[str, Any]] = field(default_factory=list)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r["alert"]]

    def score(self, feature: str, metric: str) -> float | None:
        for r in self.results:
            if r["feature"] == feature and r["metric"] == metric:
                return r["score"]
        raise NotFoundError(f"Run {self.run_id} of {self.monitor} has no {metric} result for {feature!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor, "run_id": self.run_id, "run_at": self.run_at, "window_start": self.window_start,
            "window_end": self.window_end, "rows": self.rows, "alert": self.alert, "results": self.results,
        }

    @classmethod
    def of(cls, name: str, run: RunRow) -> MonitorRun:
        return cls(name, run.id, run.run_at, run.window_start, run.window_end, run.rows, run.alert, run.results)


def parse_window(window: Any) -> float:
    """Seconds of ``"1d"``, ``"12h"``, ``"30m"``, ``"2w"``, a timedelta or a number of seconds."""
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, (int, float)) and not isinstance(window, bool):
        seconds = float(window)
    elif isinstance(window, str) and (match := _WINDOW.match(window.lower())):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise ValidationError(f"window must be like '1d', '12h', '30m', '2w', a timedelta or seconds; got {window!r}.")
    if seconds <= 0:
        raise ValidationError(f"window must be positive, got {window!r}.")
    return seconds


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DriftMonitor(Taggable):
    """A drift monitor; create with ``fs.create_drift_monitor``."""

    _asset_kind = "monitor"

    def __init__(self, fs: Any, row: MonitorRow) -> None:
        self._fs = fs
        self._row = row
        self._store = MonitorStore(fs.project.catalog)

    def _assets(self) -> AssetStore:
        return AssetStore(self._fs.project.catalog)

    @property
    def version(self) -> int:
        return 1

    @property
    def source(self) -> dict[str, Any]:
        return {"kind": self._row.source_kind, "name": self._row.source_name, "version": self._row.source_version}

    @property
    def reference(self) -> tuple[str, int, int]:
        """(feature view, its version, training dataset version)."""
        return self._row.feature_view, self._row.feature_view_version, self._row.training_dataset_version

    @property
    def features(self) -> list[str]:
        return list(self._row.features)

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self._row.window_s)

    @property
    def metrics(self) -> list[str]:
        return list(self._row.metrics)

    @property
    def thresholds(self) -> dict[str, float]:
        return dict(self._row.thresholds)

    def to_dict(self) -> dict[str, Any]:
        row = self._row
        return {
            "name": row.name, "description": row.description, "source": self.source,
            "reference": {"feature_view": row.feature_view, "feature_view_version": row.feature_view_version,
                          "training_dataset_version": row.training_dataset_version},
            "features": row.features, "window_s": row.window_s, "metrics": row.metrics, "thresholds": row.thresholds,
            "created_at": row.created_at,
        }  # fmt: skip

    def __repr__(self) -> str:
        return f"DriftMonitor({self.name!r}, source={self._row.source_kind} {self._row.source_name}, window={self.window})"

    # -- running ------------------------------------------------------------------------------
    def run(self, at: Any = None) -> MonitorRun:
        """Score the window ``[at - window, at)`` (default: ending now) against the reference,
        store the results (and an alert event if any score passes its threshold), return them."""
        from lakebox.timeutil import to_datetime

        end = datetime.now(UTC) if at is None else to_datetime(at, "monitor time")
        start = end - self.window
        window = self._window(start, end)
        reference = self._reference()
        results = []
        for feature in self._row.features:
            ref_values = reference.column(feature).to_pylist() if feature in reference.column_names else []
            win_values = window.column(feature).to_pylist() if feature in window.column_names else []
            present = sum(v is not None for v in win_values)
            for metric in self._row.metrics:
                score = drift.score(metric, ref_values, win_values)
                threshold = self._row.thresholds[metric]
                results.append({
                    "feature": feature, "metric": metric, "score": score, "threshold": threshold,
                    "alert": bool(score is not None and present >= MIN_ROWS and score > threshold),
                })  # fmt: skip
        alerting = [r for r in results if r["alert"]]
        event = None
        if alerting:
            shown = ", ".join(f"{r['feature']} {r['metric']} {r['score']:.3g} > {r['threshold']:g}" for r in alerting[:6])
            event = (
                f"Drift in {self._row.source_kind} {self._row.source_name} over {_iso(start)} .. {_iso(end)}: {shown}"
                + (f" (+{len(alerting) - 6} more)" if len(alerting) > 6 else ""),
                {"features": sorted({r["feature"] for r in alerting}), "rows": window.num_rows},
            )
        run = self._store.record_run(self._row, _iso(start), _iso(end), window.num_rows, results, event)
        return MonitorRun.of(self.name, run)

    def history(self, limit: int | None = None) -> list[MonitorRun]:
        """Past runs, newest first."""
        return [MonitorRun.of(self.name, r) for r in self._store.runs(self._row.id, limit)]

    def alerts(self, limit: int = 50) -> list[dict[str, Any]]:
        """This monitor's alert events, newest first."""
        return [e.to_dict() for e in self._store.events("drift_alert", self.name, limit)]

    def delete(self) -> None:
        """Delete the monitor and its history (its alert events stay in the catalog)."""
        self._store.delete(self._row.id)

    # -- data ---------------------------------------------------------------------------------
    def _reference(self) -> pa.Table:
        view = self._fs.get_feature_view(self._row.feature_view, self._row.feature_view_version)
        return view.get_training_data(self._row.training_dataset_version, dataframe_type="arrow")[0]

    def _window(self, start: datetime, end: datetime) -> pa.Table:
        if self._row.source_kind == "deployment":
            serving = self._fs.project.get_model_serving()
            deployment = serving.get_deployment(self._row.source_name)
            deployment.flush_logs()  # this process's pending predictions belong to the window
            group = deployment.get_log_group()
            return _between(group.read(dataframe_type="arrow"), group.event_time, start, end)
        group = self._fs.get_feature_group(self._row.source_name, self._row.source_version)
        table = group.read(dataframe_type="arrow")
        if group.event_time is not None:
            table = _between(table, group.event_time, start, end)
        view = self._fs.get_feature_view(self._row.feature_view, self._row.feature_view_version)
        fitted = view.transformations_for(self._row.training_dataset_version)
        if fitted is None:
            return table
        from lakebox.transformations import FittedTransformations

        present = [f for f in fitted.spec if f in table.column_names]
        if not present:
            return table
        subset = FittedTransformations(
            {f: fitted.spec[f] for f in present}, {f: fitted.params[f] for f in present},
            {f: fitted.value_types[f] for f in present},
        )  # fmt: skip
        return subset.transform_table(table)


def _between(table: pa.Table, column: str, start: datetime, end: datetime) -> pa.Table:
    times = table.column(column)
    low = pa.scalar(start, times.type)
    high = pa.scalar(end, times.type)
    return table.filter(pc.and_(pc.greater_equal(times, low), pc.less(times, high)))


# -- the feature store's side ----------------------------------------------------------------------
def create(
    fs: Any,
    name: str,
    source: Any,
    reference: Any = None,
    features: Sequence[str] | None = None,
    window: Any = "1d",
    metrics: Sequence[str] = drift.METRICS,
    threshold: float | Mapping[str, float] | None = None,
    description: str = "",
) -> DriftMonitor:
    check_name(name, "monitor name")
    store = MonitorStore(fs.project.catalog)
    if store.get(name) is not None:
        raise AlreadyExistsError(f"A drift monitor named {name!r} exists; get it with fs.get_drift_monitor({name!r}).")
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in metrics if m not in drift.METRICS]
    if unknown or not metrics:
        raise ValidationError(f"Unknown or no metrics {unknown}; choose from {list(drift.METRICS)}.")
    thresholds = _thresholds(threshold, metrics)
    window_s = parse_window(window)
    kind, source_name, source_version, candidates, default_reference, keys = _source(fs, source)
    view, td_version = _reference(fs, reference if reference is not None else default_reference)
    reference_schema = view.get_training_data(td_version, dataframe_type="arrow")[0].schema
    reference_columns = reference_schema.names
    if features is None:  # by default not the keys nor times: they identify rows, they do not drift
        temporal = {f.name for f in reference_schema if pa.types.is_temporal(f.type)}
        chosen = [c for c in reference_columns if c in candidates and c not in temporal and c not in keys]
    else:
        chosen = [features] if isinstance(features, str) else list(features)
        lacking = [f for f in chosen if f not in reference_columns or f not in candidates]
        if lacking:
            raise ValidationError(
                f"Features {lacking} are not both in training dataset v{td_version} of {view.name} and in the "
                f"{kind} {source_name}; common features: {[c for c in reference_columns if c in candidates]}."
            )
    if not chosen:
        raise ValidationError(
            f"The {kind} {source_name} and training dataset v{td_version} of {view.name} share no feature to monitor."
        )
    row = store.create(
        name=name, description=str(description), source_kind=kind, source_name=source_name,
        source_version=source_version, feature_view=view.name, feature_view_version=view.version,
        training_dataset_version=td_version, features=chosen, window_s=window_s, metrics=metrics,
        thresholds=thresholds,
    )  # fmt: skip
    monitor = DriftMonitor(fs, row)
    assets = AssetStore(fs.project.catalog)
    assets.link(view.training_dataset_asset(td_version).id, monitor._asset().id, "reference_of", {})
    return monitor


def get(fs: Any, name: str) -> DriftMonitor:
    store = MonitorStore(fs.project.catalog)
    row = store.get(name) if isinstance(name, str) else None
    if row is None:
        raise NotFoundError(f"No drift monitor named {name!r}" + (did_you_mean(str(name), store.names()) or "."))
    return DriftMonitor(fs, row)


def get_all(fs: Any) -> list[DriftMonitor]:
    return [DriftMonitor(fs, row) for row in MonitorStore(fs.project.catalog).list()]


def _thresholds(threshold: Any, metrics: list[str]) -> dict[str, float]:
    if threshold is None:
        return {m: drift.DEFAULT_THRESHOLDS[m] for m in metrics}
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return {m: float(threshold) for m in metrics}
    if isinstance(threshold, Mapping):
        extra = [k for k in threshold if k not in metrics]
        if extra:
            raise ValidationError(f"threshold names metrics {extra} that the monitor does not compute ({metrics}).")
        return {m: float(threshold.get(m, drift.DEFAULT_THRESHOLDS[m])) for m in metrics}
    raise ValidationError(f"threshold must be a number or a dict of metric -> number, got {threshold!r}.")


def _source(fs: Any, source: Any) -> tuple[str, str, int | None, set[str], Any, set[str]]:
    """(kind, name, version, the source's feature columns, the default reference, its keys)."""
    from lakebox.deployments.deployment import Deployment

    if isinstance(source, str):
        serving = fs.project.get_model_serving()
        if source in serving.store.names():
            source = serving.get_deployment(source)
        else:
            source = fs.get_feature_group(source)
    if isinstance(source, Deployment):
        if source.log_group is None:
            raise ValidationError(f"Deployment {source.name!r} keeps no prediction log (log=False): nothing to monitor.")
        view_name, view_version = source.feature_view
        reference = ((view_name, view_version), source.training_dataset_version)
        return "deployment", source.name, None, set(source.features), reference, set(source.serving_keys)
    if hasattr(source, "primary_key") and hasattr(source, "features") and hasattr(source, "event_time"):
        keys = {*source.primary_key, *([source.event_time] if source.event_time else [])}
        return "feature_group", source.name, source.version, {f.name for f in source.features} - keys, None, keys
    raise ValidationError(f"source must be a deployment, a feature group, or the name of one; got {source!r}.")


def _reference(fs: Any, reference: Any) -> tuple[Any, int]:
    if reference is None:
        raise ValidationError("A feature-group monitor needs reference=(feature_view, training_dataset_version).")
    if not isinstance(reference, (tuple, list)) or len(reference) != 2:
        raise ValidationError(f"reference must be (feature_view, training_dataset_version), got {reference!r}.")
    view, version = reference
    if isinstance(view, str):
        view = fs.get_feature_view(view)
    elif isinstance(view, (tuple, list)):
        view = fs.get_feature_view(view[0], view[1])
    if not hasattr(view, "get_training_data"):
        raise ValidationError(f"reference's first item must be a feature view (or its name), got {view!r}.")
    view.training_dataset_asset(int(version))  # NotFoundError lists the versions
    return view, int(version)

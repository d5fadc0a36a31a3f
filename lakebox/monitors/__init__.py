"""Drift monitors: a window of served or ingested data against a training dataset (issue 13).

``fs.create_drift_monitor(...)`` (a ``FeatureStore`` mixin below), ``monitor.run()``,
``monitor.history()``; alerts are catalog events. See ``lakebox.monitors.monitor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.monitors.monitor import DriftMonitor

METRICS = ("psi", "ks", "mean_shift")


class MonitorMixin:
    """Drift monitors on ``FeatureStore``."""

    def create_drift_monitor(
        self,
        name: str,
        source: Any,
        reference: Any = None,
        features: Sequence[str] | None = None,
        window: Any = "1d",
        metrics: Sequence[str] = METRICS,
        threshold: float | Mapping[str, float] | None = None,
        description: str = "",
    ) -> DriftMonitor:
        """A drift monitor of ``source`` (a deployment, a feature group, or its name) against
        ``reference=(feature_view, training_dataset_version)`` (a deployment's own by default).

        ``window`` (``"1d"``, ``"12h"``, a timedelta) is how far back ``monitor.run(at)``
        looks; ``metrics`` any of psi, ks, mean_shift; ``threshold`` one number for all, or
        ``{metric: number}`` (defaults: psi 0.2, ks 0.2, mean_shift 0.5 standard deviations).
        """
        from lakebox.monitors.monitor import create

        return create(self, name, source, reference=reference, features=features, window=window,
                      metrics=metrics, threshold=threshold, description=description)

    def get_drift_monitor(self, name: str) -> DriftMonitor:
        from lakebox.monitors.monitor import get

        return get(self, name)

    def get_drift_monitors(self) -> list[DriftMonitor]:
        from lakebox.monitors.monitor import get_all

        return get_all(self)

    def get_alerts(self, monitor: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Drift alert events (catalog events of kind ``drift_alert``), newest first."""
        from lakebox.catalog.monitors import MonitorStore

        project: Any = getattr(self, "project")  # noqa: B009 - FeatureStore's project
        return [e.to_dict() for e in MonitorStore(project.catalog).events("drift_alert", monitor, limit)]

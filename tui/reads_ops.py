"""Reads of the operational assets (mixed into ``Source``): external feature groups (rows in a
source, no history), model deployments, jobs and their executions, drift monitors and their
runs and alerts.

Each calls lakebox's public api directly and returns values from ``model.py``.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakebox.tui.model import NULL, Overview, Ref, Table, fmt, fmt_time

if TYPE_CHECKING:
    from lakebox.deployments.deployment import Deployment
    from lakebox.external_group import ExternalFeatureGroup
    from lakebox.feature_store import FeatureStore
    from lakebox.jobs.api import Job
    from lakebox.monitors.monitor import DriftMonitor
    from lakebox.project import Project


class OpsReads:
    """External groups, jobs and drift monitors; ``Source`` provides the project and the lock."""

    _lock: threading.RLock

    if TYPE_CHECKING:
        @property
        def project(self) -> Project: ...
        @property
        def fs(self) -> FeatureStore: ...
        def tags(self, ref: Ref) -> dict[str, Any]: ...

    # -- api objects ------------------------------------------------------------------------
    def external_group(self, ref: Ref) -> ExternalFeatureGroup:
        return self.fs.get_external_feature_group(ref.name, ref.version)

    def deployment(self, ref: Ref) -> Deployment:
        return self.project.get_model_serving().get_deployment(ref.name)

    def job(self, ref: Ref) -> Job:
        return self.project.get_job_api().get_job(ref.name)

    def monitor(self, ref: Ref) -> DriftMonitor:
        return self.fs.get_drift_monitor(ref.name)

    # -- overviews --------------------------------------------------------------------------
    def _external_overview(self, ref: Ref) -> Overview:
        fg = self.external_group(ref)
        facts = [
            ("source", fg.source.describe()),
            ("primary key", ", ".join(fg.primary_key)),
            ("event time", fg.event_time or "none (one row per key)"),
            ("offline", "external: read from the source on every use (no commits, no time travel)"),
            ("online", "no"),
            ("sql name", fg.table_name),
        ]
        schema = Table(["", "feature", "type", "description"])
        for f in fg.features:
            role = "key" if f.primary else "time" if f.event_time else ""
            schema.rows.append([role, f.name, f.type, f.description])
            schema.keys.append(f.name)
        return Overview(ref, fg.description, self.tags(ref), facts, schema, f"Schema · {len(schema.rows)} features")

    def _deployment_overview(self, ref: Ref) -> Overview:
        dep = self.deployment(ref)
        view, view_version = dep.feature_view
        facts = [
            ("model", f"{dep.model_name} v{dep.version}"),
            ("traffic", ", ".join(f"v{v} {share:g}%" for v, share in dep.traffic.items())),
            ("serving keys", ", ".join(dep.serving_keys)),
            ("features", f"{view} v{view_version} · td {dep.training_dataset_version}"),
            ("predictor", dep.predictor),
            ("prediction log", f"feature group {dep.log_group}" if dep.log_group else "off"),
        ]
        features = Table(["", "feature"])
        for name in dep.features:
            features.rows.append(["", name])
        return Overview(ref, dep.description, self.tags(ref), facts, features, f"Features · {len(dep.features)}",
                        editable_description=False)

    def _job_overview(self, ref: Ref) -> Overview:
        job = self.job(ref)
        schedule = job.get_schedule()
        executions = job.get_executions()
        facts = [
            ("entrypoint", job.entrypoint),
            ("schedule", _schedule(schedule)),
            ("retries", str(job.retries)),
            ("timeout", f"{job.timeout:g} s" if job.timeout is not None else "none"),
            ("created", _moment(job.created)),
            ("executions", str(len(executions))),
        ]
        if schedule and schedule.get("next_run") is not None:
            facts.insert(2, ("next run", _moment(schedule["next_run"])))
        params = Table(["", "parameter", "default"])
        for key, value in job.params.items():
            params.rows.append(["", str(key), fmt(value)])
        return Overview(ref, job.description, self.tags(ref), facts, params, "Parameters",
                        editable_description=False)

    def _monitor_overview(self, ref: Ref) -> Overview:
        monitor = self.monitor(ref)
        source = monitor.source
        view, view_version, td = monitor.reference
        alerts = monitor.alerts()
        facts = [
            ("watches", f"{str(source['kind']).replace('_', ' ')} {source['name']}"
                        + (f" v{source['version']}" if source.get("version") is not None else "")),
            ("reference", f"{view} v{view_version} · td {td}"),
            ("features", ", ".join(monitor.features)),
            ("window", str(monitor.window)),
            ("thresholds", ", ".join(f"{k} {v:g}" for k, v in monitor.thresholds.items())),
            ("alerts", f"{len(alerts)}" + (f", latest {fmt_time(alerts[0].get('created_at'))}" if alerts else "")),
        ]
        runs = Table(["run at (UTC)", "window", "rows", "result", "alerts"], numeric={2, 4})
        for run in monitor.history(limit=50):
            runs.rows.append([
                fmt_time(run.run_at),
                f"{fmt_time(run.window_start)} – {fmt_time(run.window_end)}",
                str(run.rows),
                "× drift" if run.alert else "✓ calm",
                ", ".join(sorted({f"{a['feature']} {a['metric']}" for a in run.alerts})) or NULL,
            ])
        return Overview(ref, monitor.description, self.tags(ref), facts, runs, "Runs (newest first)",
                        editable_description=False)

    # -- jobs: executions -------------------------------------------------------------------
    def executions(self, ref: Ref) -> Table:
        with self._lock:
            executions = self.job(ref).get_executions()
        table = Table(["#", "state", "trigger", "started (UTC)", "took", "window", "error"], numeric={0})
        for e in sorted(executions, key=lambda e: e.number, reverse=True):  # newest first
            window = e.window
            table.rows.append([
                str(e.number),
                e.state,
                e.trigger,
                _moment(e.start),
                f"{e.duration:.1f} s" if e.duration is not None else NULL,
                f"{_moment(window[0])} – {_moment(window[1])}" if window else "",
                (e.error or "").splitlines()[-1][:60] if e.error else "",
            ])
            table.keys.append(e.number)
        return table


def _schedule(schedule: dict[str, Any] | None) -> str:
    if not schedule:
        return "none (on demand)"
    parts = []
    if schedule.get("cron"):
        parts.append(f"{schedule['cron']} ({schedule.get('timezone') or 'UTC'})")
    if schedule.get("trigger_on"):
        parts.append("on new commits of " + ", ".join(schedule["trigger_on"]))
    return "; ".join(parts) or "none (on demand)"


def _moment(value: Any) -> str:
    """A time to the second (``2026-12-02 03:00:00Z``)."""
    if isinstance(value, datetime):
        return fmt(value.replace(microsecond=0))
    return fmt(value)

"""The per-tab reads of the browser's data layer (mixed into ``Source``): overviews, commit
history, data pages, statistics, validation reports, training datasets, trials, model versions.

Each calls lakebox's public api directly and returns values from ``model.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lakebox.tui.model import (
    NULL,
    Commit,
    FeatureStats,
    Overview,
    Page,
    Ref,
    Stats,
    Table,
    Trials,
    as_int,
    fmt,
    fmt_time,
    split_summary,
    version_of,
)

if TYPE_CHECKING:
    import threading

    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_view import FeatureView
    from lakebox.model_registry import Model, ModelRegistry


class Reads:
    """What each detail tab shows; ``Source`` provides the api objects and the lock."""

    _lock: threading.RLock

    if TYPE_CHECKING:
        @property
        def registry(self) -> ModelRegistry: ...
        def group(self, ref: Ref) -> FeatureGroup: ...
        def view(self, ref: Ref) -> FeatureView: ...
        def experiment(self, ref: Ref) -> Any: ...
        def model(self, ref: Ref) -> Model: ...
        def tags(self, ref: Ref) -> dict[str, Any]: ...
        def _external_overview(self, ref: Ref) -> Overview: ...
        def _deployment_overview(self, ref: Ref) -> Overview: ...
        def _job_overview(self, ref: Ref) -> Overview: ...
        def _monitor_overview(self, ref: Ref) -> Overview: ...

    # -- overview ---------------------------------------------------------------------------
    def overview(self, ref: Ref) -> Overview:
        with self._lock:
            if ref.kind == "feature_group":
                return self._external_overview(ref) if ref.external else self._group_overview(ref)
            if ref.kind == "feature_view":
                return self._view_overview(ref)
            if ref.kind == "training_dataset":
                return self._dataset_overview(ref)
            if ref.kind == "experiment":
                return self._experiment_overview(ref)
            if ref.kind == "model":
                return self._model_overview(ref)
            if ref.kind == "deployment":
                return self._deployment_overview(ref)
            if ref.kind == "job":
                return self._job_overview(ref)
            if ref.kind == "monitor":
                return self._monitor_overview(ref)
            raise ValueError(f"unknown asset kind {ref.kind!r}")

    def _group_overview(self, ref: Ref) -> Overview:
        fg = self.group(ref)
        latest = next(iter(fg.commit_details(limit=1)), None)
        online = "no"
        if fg.online_enabled:
            lag = fg.online_lag()
            online = "yes" + (f" ({lag} commit(s) behind)" if lag else "")
        facts = [
            ("primary key", ", ".join(fg.primary_key)),
            ("event time", fg.event_time or "none (one row per key)"),
            ("offline", f"Iceberg, {'commit ' + str(latest) if latest is not None else 'no commits yet'}"),
            ("online", online),
            ("sql name", fg.table_name),
        ]
        schema = Table(["", "feature", "type", "description"])
        for f in fg.features:
            role = "key" if f.primary else "time" if f.event_time else ""
            schema.rows.append([role, f.name, f.type, f.description])
            schema.keys.append(f.name)
        return Overview(ref, fg.description, self.tags(ref), facts, schema, f"Schema · {len(schema.rows)} features")

    def _view_overview(self, ref: Ref) -> Overview:
        fv = self.view(ref)
        query = fv.query
        root = query.root_group
        roles = {k: "key" for k in fv.primary_key}
        if root.event_time:
            roles[root.event_time] = "time"
        roles.update({label: "label" for label in fv.labels})
        transformations = fv.transformation_functions
        facts = [
            ("reads", ", ".join(f"{g.name} v{g.version}" for g in query.groups())),
            ("labels", ", ".join(fv.labels) or "none"),
            ("primary key", ", ".join(fv.primary_key)),
            ("event time", root.event_time or "none"),
            ("transformations", ", ".join(f"{k}: {v}" for k, v in transformations.items()) or "none"),
            ("training datasets", str(len(fv.get_training_datasets()))),
        ]
        schema = Table(["", "column", "transformation"])
        for column in query.features:
            schema.rows.append([roles.get(column, ""), column, transformations.get(column, "")])
            schema.keys.append(column)
        return Overview(ref, fv.description, self.tags(ref), facts, schema, f"Columns · {len(schema.rows)}")

    def _dataset_overview(self, ref: Ref) -> Overview:
        fv = self.view(ref)
        info = fv.get_training_dataset(version_of(ref))
        counts = info.get("row_counts") or {}
        facts = [
            ("feature view", f"{fv.name} v{fv.version}"),
            ("split", split_summary(info.get("spec") or {})),
            ("rows", ", ".join(f"{k} {v}" for k, v in counts.items()) or NULL),
            ("format", str(info.get("data_format"))),
            ("created", fmt_time(info.get("created_at"))),
            ("location", str(info.get("location"))),
        ]
        snapshots = Table(["group", "version", "commit", "snapshot"])
        for snap in info.get("snapshots") or []:
            snapshots.rows.append([str(snap.get("group")), fmt(snap.get("version")), fmt(snap.get("commit_id")),
                                   fmt(snap.get("snapshot_id"))])
            snapshots.keys.append(Ref("feature_group", str(snap.get("group")), as_int(snap.get("version"))))
        return Overview(ref, info.get("description") or "", self.tags(ref), facts, snapshots,
                        "Snapshots read (pinned)", editable_description=False)

    def _experiment_overview(self, ref: Ref) -> Overview:
        exp = self.experiment(ref)
        facts = [
            ("kind", exp.kind),
            ("status", exp.status),
            ("function", exp.function),
            ("metric", exp.metric),
            ("direction", exp.direction),
            ("best value", exp.best_val),
            ("started", exp.started_at),
            ("duration", exp.duration_s),
            ("error", exp.error),
        ]
        shown = []
        for label, value in facts:
            if value is None or value == "":
                continue
            text = (fmt_time(value) if label == "started"
                    else f"{value:.1f} s" if label == "duration" else fmt(value))
            shown.append((label, text))
        schema = Table(["", "name", "value"])
        for key, value in exp.hparams.items():
            schema.rows.append(["hparam", str(key), fmt(value)])
        for key, value in exp.metrics.items():
            schema.rows.append(["metric", str(key), fmt(value)])
        return Overview(ref, exp.description or "", dict(exp.get_tags()), shown, schema, "Best trial")

    def _model_overview(self, ref: Ref) -> Overview:
        model = self.model(ref)
        facts = []
        td = model.training_dataset
        if td:
            facts.append(("trained on", f"{td.get('feature_view')} v{td.get('feature_view_version')} · td {td.get('version')}"))
        experiment = model.experiment
        if experiment is not None:
            facts.append(("experiment", f"{experiment.name} run {experiment.run}"))
        facts.append(("created", fmt_time(model.created_at)))
        facts.append(("files", f"{len(model.files)} in {model.path}"))
        schema = Table(["", "metric", "value"])
        for key, value in model.metrics.items():
            schema.rows.append(["", str(key), fmt(value)])
        return Overview(ref, model.description, self.tags(ref), facts, schema, "Metrics")

    # -- feature groups: history, data, statistics, validation --------------------------
    def commits(self, ref: Ref) -> list[Commit]:
        with self._lock:
            details = self.group(ref).commit_details()
        return [
            Commit(
                commit_id=int(cid),
                committed_on=str(d.get("committedOn", "")),
                kind=str(d.get("kind", "")),
                inserted=int(d.get("rowsInserted") or 0),
                updated=int(d.get("rowsUpdated") or 0),
                deleted=int(d.get("rowsDeleted") or 0),
                expired=bool(d.get("expired", False)),
            )
            for cid, d in details.items()
        ]

    def preview(self, ref: Ref, commit_id: int | None, start: int, size: int) -> Page:
        """Rows ``start .. start+size`` of the group (as of ``commit_id``), in key order: one
        page read with ``offset``/``limit`` (one extra row tells whether there is a next page)."""
        with self._lock:
            fg = self.group(ref)
            latest = next(iter(fg.commit_details(limit=1)), None)
            data = fg.read(wallclock_time=commit_id, dataframe_type="arrow", limit=size + 1, offset=start)
        import pyarrow as pa  # loaded with lakebox's engines, not at startup

        columns = list(data.column_names)
        window = data.slice(0, size)
        values = [window.column(c).to_pylist() for c in columns]
        numeric = {i for i, f in enumerate(data.schema) if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)
                   or pa.types.is_decimal(f.type)}
        table = Table(columns, rows=[[fmt(col[i]) for col in values] for i in range(window.num_rows)], numeric=numeric)
        return Page(commit_id=commit_id, latest_commit=latest, start=start, size=size, table=table,
                    has_more=data.num_rows > size)

    def statistics(self, ref: Ref, commit_id: int | None = None) -> Stats | None:
        """A group's statistics (of ``commit_id``, or the latest), a training dataset's per split;
        None when there are none (a group without commits, a dataset without statistics)."""
        with self._lock:
            if ref.kind == "training_dataset":
                return _dataset_stats(self.view(ref).get_training_dataset(version_of(ref)))
            fg = self.group(ref)
            if not fg.commit_details(limit=1):
                return None
            stats = fg.get_statistics(commit_id=commit_id)
        features = [FeatureStats(name, dict(values)) for name, values in stats.features.items()]
        if not features:
            return None
        return Stats(row_count=stats.row_count, features=features)

    def validation_reports(self, ref: Ref) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.group(ref).get_validation_reports())

    # -- views, experiments, models ------------------------------------------------------
    def datasets(self, ref: Ref) -> Table:
        with self._lock:
            fv = self.view(ref)
            infos = fv.get_training_datasets()
        table = Table(["td", "split", "rows", "format", "created"])
        for info in sorted(infos, key=lambda d: d["version"]):
            table.rows.append([
                str(info["version"]),
                split_summary(info.get("spec") or {}),
                ", ".join(f"{k} {v}" for k, v in (info.get("row_counts") or {}).items()),
                str(info.get("data_format")),
                fmt_time(info.get("created_at")),
            ])
            table.keys.append(Ref("training_dataset", fv.name, info["version"], f"{fv.name}:{fv.version}"))
        return table

    def trials(self, ref: Ref) -> Trials:
        """The trials of an experiment: a table, the optimised metric and its direction."""
        with self._lock:
            exp = self.experiment(ref)
            rows = [dict(t) for t in exp.trials]
            metric, direction = exp.metric, exp.direction
        hparam_names = _keys(r.get("hparams") for r in rows)
        metric_names = _keys(r.get("metrics") for r in rows)
        columns = ["trial", "status", "value", *hparam_names, *[m for m in metric_names if m != metric]]
        table = Table(columns)
        for r in rows:
            hp, ms = r.get("hparams") or {}, r.get("metrics") or {}
            raw = [r.get("trial"), r.get("status"), r.get("value", ms.get(metric) if metric else None),
                   *[hp.get(h) for h in hparam_names], *[ms.get(m) for m in metric_names if m != metric]]
            table.rows.append([fmt(v) for v in raw])
            table.sort_values.append(raw)
            table.keys.append(r.get("trial"))
        return Trials(table, str(metric) if metric else None, str(direction) if direction else None)

    def model_versions(self, ref: Ref) -> Table:
        with self._lock:
            versions = [(m.version, m.metrics, m.created_at) for m in self.registry.get_models(ref.name)]
        metric_names = _keys(metrics for _, metrics, _ in versions)
        table = Table(["version", *metric_names, "created"], numeric=set(range(len(metric_names) + 1)))
        for version, metrics, created in sorted(versions, key=lambda v: v[0]):
            raw = [version, *[metrics.get(n) for n in metric_names], created]
            table.rows.append([fmt(version), *[fmt(v) for v in raw[1:-1]], fmt_time(created)])
            table.sort_values.append(raw)
            table.keys.append(Ref("model", ref.name, version))
        return table


# -- helpers ------------------------------------------------------------------------------
def _keys(dicts: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        if isinstance(d, Mapping):
            for k in d:
                seen.setdefault(str(k), None)
    return list(seen)


def _dataset_stats(info: Mapping[str, Any]) -> Stats | None:
    per_split = info.get("statistics") or {}
    if not per_split:
        return None
    split = "train" if "train" in per_split else next(iter(per_split))
    features = [FeatureStats(k, dict(v)) for k, v in (per_split[split] or {}).items() if isinstance(v, Mapping)]
    counts = info.get("row_counts") or {}
    return Stats(row_count=as_int(counts.get(split)), features=features, title=f"split {split}")


"""What the browser shows, read through lakebox's public api only (DESIGN §2).

Every method here blocks (SQLite, Iceberg, DuckDB), so the app calls them from thread workers;
one lock serialises them, so two workers never use the project at the same time. Results are
plain dataclasses of strings and numbers that the widgets render without touching lakebox.

Experiments and models are optional: ``project.get_experiments`` and
``project.get_model_registry`` are used when the project has them; otherwise their tree
branches are hidden. Statistics and validation reports degrade the same way.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

KINDS = ("feature_group", "feature_view", "training_dataset", "experiment", "model")
KIND_TITLES = {
    "feature_group": "feature group",
    "feature_view": "feature view",
    "training_dataset": "training dataset",
    "experiment": "experiment",
    "model": "model",
    "feature": "feature",
}
NULL = "∅"


@dataclass(frozen=True)
class Ref:
    """Names one asset: ``kind``, ``name``, ``version`` (a training dataset's own version; an
    experiment's run) and, for training datasets, ``parent`` = ``"view:version"``."""

    kind: str
    name: str
    version: int | None = None
    parent: str | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.parent or ''}/{self.name}/{self.version}"

    @property
    def short(self) -> str:
        """The label in the asset tree."""
        if self.kind == "training_dataset":
            return f"{self.view_name} v{self.view_version} · td {self.version}"
        if self.kind == "experiment":
            return f"{self.name} run {self.version}" if self.version is not None else self.name
        return f"{self.name} v{self.version}" if self.version is not None else self.name

    @property
    def title(self) -> str:
        return f"{KIND_TITLES.get(self.kind, self.kind)} {self.short}"

    @property
    def view_name(self) -> str:
        return (self.parent or self.name).split(":")[0]

    @property
    def view_version(self) -> int | None:
        if self.parent and ":" in self.parent:
            return int(self.parent.split(":")[1])
        return None


@dataclass
class Catalog:
    """Every asset of the box by kind; ``experiments``/``models`` are None when the api lacks them."""

    name: str
    groups: list[Ref] = field(default_factory=list)
    views: list[Ref] = field(default_factory=list)
    datasets: list[Ref] = field(default_factory=list)
    experiments: list[Ref] | None = None
    models: list[Ref] | None = None


@dataclass
class Hit:
    ref: Ref | None
    kind: str
    label: str
    snippet: str
    feature: str | None = None
    context: str = ""  # shown instead of the kind, e.g. "feature of games v1"


@dataclass
class Table:
    """A table of display strings: ``columns`` and ``rows`` (each as long as ``columns``)."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)  # one per row (e.g. a commit id), optional
    sort_values: list[list[Any]] = field(default_factory=list)  # raw values, for sorting
    numeric: set[int] = field(default_factory=set)  # columns shown right-aligned


@dataclass
class Overview:
    ref: Ref
    description: str
    tags: dict[str, Any]
    facts: list[tuple[str, str]]
    schema: Table | None = None
    schema_title: str = "Schema"
    editable_description: bool = False


@dataclass
class Commit:
    commit_id: int
    committed_on: str
    kind: str
    inserted: int
    updated: int
    deleted: int
    expired: bool


@dataclass
class Page:
    commit_id: int | None  # the commit read; None = the latest
    latest_commit: int | None
    start: int
    size: int
    table: Table
    has_more: bool


@dataclass
class FeatureStats:
    name: str
    values: dict[str, Any]

    @property
    def histogram(self) -> tuple[list[float], list[int]] | None:
        hist = self.values.get("histogram")
        if not isinstance(hist, Mapping) or not hist.get("counts"):
            return None
        return [float(e) for e in hist.get("edges") or []], [int(c) for c in hist["counts"]]


@dataclass
class Stats:
    row_count: int | None
    features: list[FeatureStats]
    title: str = ""


@dataclass
class LineageNode:
    ref: Ref | None
    label: str
    relation: str
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False


@dataclass
class Lineage:
    root: Ref
    upstream: list[LineageNode]
    downstream: list[LineageNode]


# -- formatting ---------------------------------------------------------------------------
def fmt(value: Any) -> str:
    """One value as short display text (None as ∅, floats to 6 significant digits)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.6g}"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        return text.replace("+00:00", "Z") if value.utcoffset() is not None and not value.utcoffset() else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def fmt_time(text: Any) -> str:
    """An ISO-8601 time as ``2026-01-01 12:00:00`` (UTC), or the text unchanged."""
    if not isinstance(text, str) or "T" not in text:
        return fmt(text)
    return text.replace("T", " ").split(".")[0].rstrip("Z")


def parse_tag_value(text: str) -> Any:
    """Tag values are JSON when they parse (``3``, ``true``, ``["a"]``), else plain strings."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def _attr(obj: Any, *names: str, default: Any = None) -> Any:
    """The first of ``names`` that ``obj`` has, as an attribute or a mapping key."""
    for name in names:
        if isinstance(obj, Mapping):
            if name in obj:
                return obj[name]
            continue
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        except Exception:  # a property that failed: treat as missing
            continue
        return value
    return default


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, Mapping):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict):
        try:
            value = to_dict()
        except Exception:
            value = None
        if isinstance(value, Mapping):
            return dict(value)
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")} if hasattr(obj, "__dict__") else {}


def _call(obj: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """``obj.name(*args)`` when the api has it; raises ``Unsupported`` otherwise."""
    method = getattr(obj, name, None)
    if not callable(method):
        raise Unsupported(name)
    return method(*args, **kwargs)


class Unsupported(Exception):
    """The public api does not offer this yet (the browser shows it as unavailable)."""


class ReadOnlyError(Exception):
    """An edit was attempted in read-only mode."""


# -- the data source ------------------------------------------------------------------------
class Source:
    """The browser's view of one box. ``opener`` returns the project (called in a worker)."""

    def __init__(self, opener: Callable[[], Any], read_only: bool = False) -> None:
        self._opener = opener
        self._project: Any = None
        self._lock = threading.RLock()
        self.read_only = read_only

    # -- opening ------------------------------------------------------------------------
    @property
    def project(self) -> Any:
        with self._lock:
            if self._project is None:
                self._project = self._opener()
            return self._project

    @property
    def fs(self) -> Any:
        return self.project.get_feature_store()

    def catalog(self) -> Catalog:
        with self._lock:
            project = self.project
            fs = self.fs
            catalog = Catalog(name=str(getattr(project, "name", "box")))
            catalog.groups = [Ref("feature_group", g.name, g.version) for g in _sorted(fs.get_feature_groups())]
            views = _sorted(fs.get_feature_views())
            catalog.views = [Ref("feature_view", v.name, v.version) for v in views]
            for view in views:
                for info in sorted(view.get_training_datasets(), key=lambda d: d["version"]):
                    catalog.datasets.append(
                        Ref("training_dataset", view.name, info["version"], f"{view.name}:{view.version}")
                    )
            catalog.experiments = self._experiment_refs()
            catalog.models = self._model_refs()
            return catalog

    def _experiment_refs(self) -> list[Ref] | None:
        if not callable(getattr(self.project, "get_experiments", None)):
            return None
        refs = []
        for exp in self.project.get_experiments():
            refs.append(Ref("experiment", str(_attr(exp, "name")), _int(_attr(exp, "run", "version"))))
        return sorted(refs, key=lambda r: (r.name, r.version or 0))

    def _registry(self) -> Any:
        if not callable(getattr(self.project, "get_model_registry", None)):
            raise Unsupported("get_model_registry")
        return self.project.get_model_registry()

    def _all_models(self) -> list[Any]:
        registry = self._registry()
        for name in ("get_models", "list_models"):
            method = getattr(registry, name, None)
            if callable(method):
                try:
                    return list(method())
                except TypeError:  # this one needs a model name: try the next
                    continue
        raise Unsupported("listing every model (mr.get_models() without a name)")

    def _model_refs(self) -> list[Ref] | None:
        try:
            models = self._all_models()
        except Unsupported:
            return None
        refs = {Ref("model", str(_attr(m, "name")), _int(_attr(m, "version"))) for m in models}
        return sorted(refs, key=lambda r: (r.name, r.version or 0))

    # -- api objects ------------------------------------------------------------------------
    def group(self, ref: Ref) -> Any:
        return self.fs.get_feature_group(ref.name, ref.version)

    def view(self, ref: Ref) -> Any:
        if ref.kind == "training_dataset":
            return self.fs.get_feature_view(ref.view_name, ref.view_version)
        return self.fs.get_feature_view(ref.name, ref.version)

    def experiment(self, ref: Ref) -> Any:
        if not callable(getattr(self.project, "get_experiments", None)):
            raise Unsupported("experiments")
        for exp in self.project.get_experiments(ref.name):
            if str(_attr(exp, "name")) == ref.name and _int(_attr(exp, "run", "version")) == ref.version:
                return exp
        raise Unsupported(f"experiment {ref.name} run {ref.version}")

    def model(self, ref: Ref) -> Any:
        return self._registry().get_model(ref.name, ref.version)

    def obj(self, ref: Ref) -> Any:
        """The api object that carries tags and descriptions for ``ref``."""
        if ref.kind == "feature_group":
            return self.group(ref)
        if ref.kind in ("feature_view", "training_dataset"):
            return self.view(ref)
        if ref.kind == "experiment":
            return self.experiment(ref)
        if ref.kind == "model":
            return self.model(ref)
        raise Unsupported(ref.kind)

    def tags(self, ref: Ref) -> dict[str, Any]:
        obj = self.obj(ref)
        if ref.kind == "training_dataset":
            return dict(obj.get_training_dataset_tags(ref.version))
        get = getattr(obj, "get_tags", None)
        return dict(get()) if callable(get) else {}

    # -- search -----------------------------------------------------------------------------
    def search(self, text: str, limit: int = 30) -> list[Hit]:
        if not any(ch.isalnum() for ch in text):
            return []
        with self._lock:
            hits = self.project.search(text, limit=limit)
        out = []
        for hit in hits:
            kind, name, version, parent = hit.kind, hit.name, hit.version, getattr(hit, "parent", None)
            feature, context = None, ""
            if kind == "feature":
                group, _, group_version = (parent or "").partition(":")
                ref = Ref("feature_group", group, _int(group_version)) if group else None
                feature = name
                label = name
                context = f"feature of {group} v{group_version}" if group else "feature"
            elif kind in KINDS:
                ref = Ref(kind, name, version, parent if kind == "training_dataset" else None)
                label = ref.short
            else:
                ref, label = None, f"{name}"
            out.append(Hit(ref=ref, kind=kind, label=label, snippet=hit.snippet or "", feature=feature, context=context))
        return out

    # -- overview ---------------------------------------------------------------------------
    def overview(self, ref: Ref) -> Overview:
        with self._lock:
            if ref.kind == "feature_group":
                return self._group_overview(ref)
            if ref.kind == "feature_view":
                return self._view_overview(ref)
            if ref.kind == "training_dataset":
                return self._dataset_overview(ref)
            if ref.kind == "experiment":
                return self._experiment_overview(ref)
            if ref.kind == "model":
                return self._model_overview(ref)
            raise Unsupported(ref.kind)

    def _group_overview(self, ref: Ref) -> Overview:
        fg = self.group(ref)
        commits = fg.commit_details(limit=1)
        latest = next(iter(commits), None)
        online = "yes" if fg.online_enabled else "no"
        if fg.online_enabled:
            lag = _safe(fg.online_lag)
            if lag:
                online += f" ({lag} commit(s) behind)"
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
        return Overview(ref, fg.description, self.tags(ref), facts, schema, f"Schema · {len(schema.rows)} features",
                        editable_description=callable(getattr(fg, "update_description", None)))

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
        return Overview(ref, fv.description, self.tags(ref), facts, schema, f"Columns · {len(schema.rows)}",
                        editable_description=callable(getattr(fv, "update_description", None)))

    def _dataset_overview(self, ref: Ref) -> Overview:
        fv = self.view(ref)
        info = fv.get_training_dataset(ref.version)
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
            snapshots.keys.append(Ref("feature_group", str(snap.get("group")), _int(snap.get("version"))))
        return Overview(ref, info.get("description") or "", self.tags(ref), facts, snapshots,
                        "Snapshots read (pinned)")

    def _experiment_overview(self, ref: Ref) -> Overview:
        exp = self.experiment(ref)
        data = _as_dict(exp)
        facts = []
        for label, names in (
            ("kind", ("kind", "type")),
            ("status", ("status", "state")),
            ("function", ("function",)),
            ("metric", ("metric", "optimization_key")),
            ("direction", ("direction",)),
            ("best value", ("best_value", "best_val")),
            ("started", ("started_at", "start_time")),
            ("duration", ("duration_s",)),
            ("error", ("error",)),
        ):
            value = _attr(exp, *names, default=data.get(names[0]))
            if value is not None and value != "":
                facts.append((label, fmt_time(value) if label == "started" else
                              f"{value:.1f} s" if label == "duration" and isinstance(value, (int, float)) else fmt(value)))
        schema = Table(["", "name", "value"])
        for key, value in (_attr(exp, "best_hp", "hparams", default=data.get("hparams")) or {}).items():
            schema.rows.append(["hparam", str(key), fmt(value)])
        for key, value in (_attr(exp, "metrics", default=data.get("metrics")) or {}).items():
            schema.rows.append(["metric", str(key), fmt(value)])
        get_tags = getattr(exp, "get_tags", None)
        return Overview(ref, str(_attr(exp, "description", default="") or ""),
                        dict(get_tags()) if callable(get_tags) else {}, facts, schema, "Best trial")

    def _model_overview(self, ref: Ref) -> Overview:
        model = self.model(ref)
        facts = []
        td = _attr(model, "training_dataset")
        if isinstance(td, Mapping) and td:
            facts.append(("trained on", f"{td.get('feature_view')} v{td.get('feature_view_version')} · td {td.get('version')}"))
        elif td:
            facts.append(("trained on", fmt(td)))
        experiment = _attr(model, "experiment")
        if experiment is not None:
            facts.append(("experiment", f"{_attr(experiment, 'name')} run {_attr(experiment, 'run', 'version')}"))
        data = _as_dict(model)
        if data.get("created_at") or _attr(model, "created_at"):
            facts.append(("created", fmt_time(data.get("created_at") or _attr(model, "created_at"))))
        if data.get("location"):
            facts.append(("location", str(data["location"])))
        schema = Table(["", "metric", "value"])
        for key, value in (_attr(model, "metrics", "training_metrics") or {}).items():
            schema.rows.append(["", str(key), fmt(value)])
        get_tags = getattr(model, "get_tags", None)
        return Overview(ref, str(_attr(model, "description", default="") or ""),
                        dict(get_tags()) if callable(get_tags) else {}, facts, schema, "Metrics",
                        editable_description=callable(getattr(model, "update_description", None)))

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
        None when there are none or the api has no statistics yet."""
        with self._lock:
            if ref.kind == "training_dataset":
                info = self.view(ref).get_training_dataset(ref.version)
                return _dataset_stats(info)
            fg = self.group(ref)
            try:
                stats = _call(fg, "get_statistics", commit_id=commit_id)
            except (Unsupported, AttributeError, NotImplementedError):
                return None
            except Exception as e:  # no statistics for this commit is not an error to report
                if type(e).__name__ == "NotFoundError":
                    return None
                raise
        if stats is None:
            return None
        data = _as_dict(stats)
        features = [FeatureStats(k, dict(v)) for k, v in data.items()
                    if not str(k).startswith("$") and isinstance(v, Mapping)]
        if not features:
            return None
        row_count = data.get("$row_count", _attr(stats, "row_count"))
        return Stats(row_count=_int(row_count), features=features)

    def validation_reports(self, ref: Ref) -> list[dict[str, Any]] | None:
        with self._lock:
            try:
                reports = _call(self.group(ref), "get_validation_reports")
            except (Unsupported, AttributeError, NotImplementedError):
                return None
        if reports is None:
            return None
        if isinstance(reports, Mapping):
            reports = list(reports.values())
        return [_as_dict(r) for r in reports]

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

    def trials(self, ref: Ref) -> tuple[Table, str | None, str | None]:
        """The trials of an experiment: a table, the optimised metric and its direction."""
        with self._lock:
            exp = self.experiment(ref)
            trials = _attr(exp, "trials")
            if callable(trials):
                trials = trials()
            if trials is None:
                trials = _call(exp, "get_trials")
            metric = _attr(exp, "metric", "optimization_key")
            direction = _attr(exp, "direction")
        rows = [_as_dict(t) for t in trials or []]
        hparam_names = _keys(r.get("hparams") for r in rows)
        metric_names = _keys(r.get("metrics") for r in rows)
        columns = ["trial", "status", "value", *hparam_names, *[m for m in metric_names if m != metric]]
        table = Table(columns)
        for r in rows:
            hp, ms = r.get("hparams") or {}, r.get("metrics") or {}
            raw = [r.get("trial", r.get("id")), r.get("status"), r.get("value", ms.get(metric) if metric else None),
                   *[hp.get(h) for h in hparam_names], *[ms.get(m) for m in metric_names if m != metric]]
            table.rows.append([fmt(v) for v in raw])
            table.sort_values.append(raw)
            table.keys.append(r.get("trial"))
        return table, (str(metric) if metric else None), (str(direction) if direction else None)

    def model_versions(self, ref: Ref) -> Table:
        with self._lock:
            registry = self._registry()
            versions = list(registry.get_models(ref.name))
        infos = [(m, dict(_attr(m, "metrics", "training_metrics") or {})) for m in versions]
        metric_names = _keys(ms for _, ms in infos)
        table = Table(["version", *metric_names, "created"], numeric=set(range(len(metric_names) + 1)))
        for model, metrics in sorted(infos, key=lambda mi: _int(_attr(mi[0], "version")) or 0):
            version = _int(_attr(model, "version"))
            raw = [version, *[metrics.get(n) for n in metric_names], _attr(model, "created_at", "created")]
            table.rows.append([fmt(raw[0]), *[fmt(v) for v in raw[1:-1]], fmt_time(raw[-1])])
            table.sort_values.append(raw)
            table.keys.append(Ref("model", ref.name, version))
        return table

    # -- lineage -----------------------------------------------------------------------------
    def lineage(self, ref: Ref) -> Lineage:
        with self._lock:
            project = self.project
            if ref.kind == "training_dataset":  # no api object of its own: by name, version and kind
                graph = project.lineage(ref.view_name, version=ref.version, kind=ref.kind)
            else:
                graph = project.lineage(self.obj(ref))
        nodes = {node_id: _asset_ref(asset) for node_id, asset in graph.nodes.items()}
        root_id = graph.root.id

        def walk(node_id: int, up: bool, seen: frozenset[int]) -> list[LineageNode]:
            out = []
            for src, dst, relation, details in graph.edges:
                if (dst if up else src) != node_id:
                    continue
                other = src if up else dst
                asset = graph.nodes[other]
                label = nodes[other].title if nodes[other] else f"{asset.kind} {asset.name}"
                if isinstance(details, Mapping) and details.get("commit_id") is not None:
                    label += f" @ commit {details['commit_id']}"
                node = LineageNode(nodes[other], label, relation, repeated=other in seen)
                if other not in seen:
                    node.children = walk(other, up, seen | {other})
                out.append(node)
            return out

        return Lineage(ref, walk(root_id, True, frozenset({root_id})), walk(root_id, False, frozenset({root_id})))

    # -- editing ---------------------------------------------------------------------------
    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyError("The browser was started with --read-only: editing is off.")

    def set_description(self, ref: Ref, text: str) -> None:
        self._check_writable()
        with self._lock:
            _call(self.obj(ref), "update_description", text)

    def set_tag(self, ref: Ref, key: str, value: Any) -> None:
        self._check_writable()
        with self._lock:
            obj = self.obj(ref)
            if ref.kind == "training_dataset":
                obj.add_training_dataset_tag(ref.version, key, value)
            else:
                _call(obj, "add_tag", key, value)

    def delete_tag(self, ref: Ref, key: str) -> None:
        self._check_writable()
        with self._lock:
            obj = self.obj(ref)
            if ref.kind == "training_dataset":
                _call(obj, "delete_training_dataset_tag", ref.version, key)
            else:
                _call(obj, "delete_tag", key)


# -- helpers ------------------------------------------------------------------------------
def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda x: (x.name, x.version))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except Exception:
        return None


def _keys(dicts: Iterable[Any]) -> list[str]:
    seen: dict[str, None] = {}
    for d in dicts:
        if isinstance(d, Mapping):
            for k in d:
                seen.setdefault(str(k), None)
    return list(seen)


def _asset_ref(asset: Any) -> Ref | None:
    kind = getattr(asset, "kind", None)
    if kind not in KINDS:
        return None
    parent = getattr(asset, "parent", None) if kind == "training_dataset" else None
    return Ref(kind, asset.name, asset.version, parent)


def _dataset_stats(info: Mapping[str, Any]) -> Stats | None:
    per_split = info.get("statistics") or {}
    if not per_split:
        return None
    split = "train" if "train" in per_split else next(iter(per_split))
    features = [FeatureStats(k, dict(v)) for k, v in (per_split[split] or {}).items() if isinstance(v, Mapping)]
    counts = info.get("row_counts") or {}
    return Stats(row_count=_int(counts.get(split)), features=features, title=f"split {split}")


def split_summary(spec: Mapping[str, Any]) -> str:
    """One line for a training dataset's split: ``random: test 0.2, seed 42``."""
    kind = spec.get("kind")
    if kind == "random":
        sizes = f"test {spec.get('test_size')}"
        if spec.get("validation_size") is not None:
            sizes += f", validation {spec['validation_size']}"
        return f"random: {sizes}, seed {spec.get('seed')}"
    if kind == "time":
        times = spec.get("times") or {}
        parts = [f"{name} [{fmt_time(se[0]) if se[0] else '…'}, {fmt_time(se[1]) if se[1] else '…'})"
                 for name, se in times.items()]
        return "by event time: " + "; ".join(parts)
    return "none (one split: all)"


def sparkline(counts: Sequence[int], width: int | None = None) -> str:
    """Counts as one line of block characters (▁ to █), resampled to ``width`` columns."""
    if not counts:
        return ""
    values = list(counts)
    if width is not None and 0 < width < len(values):
        step = len(values) / width
        values = [sum(values[int(i * step):int((i + 1) * step)] or [0]) for i in range(width)]
    top = max(values) or 1
    bars = " ▁▂▃▄▅▆▇█"
    return "".join(bars[0 if v == 0 else max(1, round(v / top * 8))] for v in values)


def bar_chart(counts: Sequence[int], height: int = 6, col_width: int = 2) -> list[str]:
    """Counts as a vertical bar chart ``height`` lines tall (eighth blocks for the tops)."""
    if not counts:
        return []
    top = max(counts) or 1
    eighths = [max(1, round(c / top * height * 8)) if c else 0 for c in counts]  # a non-zero bin shows
    blocks = " ▁▂▃▄▅▆▇█"
    lines = []
    for level in range(height - 1, -1, -1):
        line = []
        for e in eighths:
            filled = e - level * 8
            line.append(("█" if filled >= 8 else blocks[filled] if filled > 0 else " ") * col_width)
        lines.append("".join(line).rstrip() or " ")
    return lines

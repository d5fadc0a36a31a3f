"""The browser's data layer: lakebox's typed public api, called directly (DESIGN §2).

Every method blocks (SQLite, Iceberg, DuckDB), so the widgets call them from thread workers;
one lock serialises them, so two workers never use the project at the same time. Results are
plain values from ``model.py``. Nothing here probes the api with ``hasattr`` or swallows its
errors: a renamed method raises, the browser shows the error and the tests fail.

The per-tab reads (overviews, history, statistics, ...) are in ``reads.py``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from lakebox.errors import NotFoundError
from lakebox.tui.model import KINDS, Catalog, Hit, Lineage, LineageNode, ReadOnlyError, Ref, as_int, version_of
from lakebox.tui.reads import Reads
from lakebox.tui.reads_ops import OpsReads

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_store import FeatureStore
    from lakebox.feature_view import FeatureView
    from lakebox.model_registry import Model, ModelRegistry
    from lakebox.project import Project

# The box files whose change means "another process wrote": the catalog (commit log, assets)
# and its write-ahead log (DESIGN §1: catalog.db holds all metadata and the commit log).
WATCHED_FILES = ("catalog.db", "catalog.db-wal")


class Source(Reads, OpsReads):
    """The browser's view of one box. ``opener`` returns the project (called in a worker)."""

    def __init__(self, opener: Callable[[], Project], read_only: bool = False) -> None:
        self._opener = opener
        self._project: Project | None = None
        self._lock = threading.RLock()
        self.read_only = read_only

    # -- opening ------------------------------------------------------------------------
    @property
    def project(self) -> Project:
        with self._lock:
            if self._project is None:
                self._project = self._opener()
            return self._project

    @property
    def fs(self) -> FeatureStore:
        return self.project.get_feature_store()

    @property
    def registry(self) -> ModelRegistry:
        return self.project.get_model_registry()

    def change_token(self) -> tuple[tuple[int, int], ...]:
        """Size and modification time of the catalog files: changes when anything commits."""
        root = self.project.path
        token = []
        for name in WATCHED_FILES:
            try:
                st = os.stat(root / name)
                token.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                token.append((0, 0))
        return tuple(token)

    # -- the catalog --------------------------------------------------------------------
    def catalog(self) -> Catalog:
        with self._lock:
            project = self.project
            fs = self.fs
            catalog = Catalog(name=project.name)
            external = {(g.name, g.version) for g in fs.get_external_feature_groups()}
            catalog.groups = [Ref("feature_group", g.name, g.version, external=(g.name, g.version) in external)
                              for g in _sorted(fs.get_feature_groups())]
            views = _sorted(fs.get_feature_views())
            catalog.views = [Ref("feature_view", v.name, v.version) for v in views]
            for view in views:
                for info in sorted(view.get_training_datasets(), key=lambda d: d["version"]):
                    catalog.datasets.append(
                        Ref("training_dataset", view.name, info["version"], f"{view.name}:{view.version}")
                    )
            # A branch that fails to list is reported, and the rest of the box still shows.
            try:
                catalog.experiments = sorted(
                    (Ref("experiment", e.name, e.run) for e in project.get_experiments()),
                    key=lambda r: (r.name, r.version or 0),
                )
            except Exception as e:
                catalog.errors.append(e)
            try:
                catalog.models = [Ref("model", m.name, m.version) for m in _sorted(self.registry.get_models())]
            except Exception as e:
                catalog.errors.append(e)
            try:
                catalog.deployments = sorted(
                    (Ref("deployment", d.name) for d in self.project.get_model_serving().get_deployments()),
                    key=lambda r: r.name)
            except Exception as e:
                catalog.errors.append(e)
            try:
                catalog.jobs = sorted((Ref("job", j.name) for j in self.project.get_job_api().get_jobs()),
                                      key=lambda r: r.name)
            except Exception as e:
                catalog.errors.append(e)
            try:
                catalog.monitors = [Ref("monitor", m.name, m.version, note=_alerts(m.alerts()))
                                    for m in _sorted(fs.get_drift_monitors())]
            except Exception as e:
                catalog.errors.append(e)
            return catalog

    # -- api objects ------------------------------------------------------------------------
    def group(self, ref: Ref) -> FeatureGroup:
        return self.fs.get_feature_group(ref.name, ref.version)

    def view(self, ref: Ref) -> FeatureView:
        if ref.kind == "training_dataset":
            return self.fs.get_feature_view(ref.view_name, ref.view_version)
        return self.fs.get_feature_view(ref.name, ref.version)

    def experiment(self, ref: Ref) -> Any:
        for exp in self.project.get_experiments(ref.name):
            if exp.run == ref.version:
                return exp
        raise NotFoundError(f"Experiment {ref.name} has no run {ref.version}; press r to refresh the tree.")

    def model(self, ref: Ref) -> Model:
        return self.registry.get_model(ref.name, ref.version)

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
        if ref.kind == "deployment":
            return self.deployment(ref)
        if ref.kind == "job":
            return self.job(ref)
        if ref.kind == "monitor":
            return self.monitor(ref)
        raise ValueError(f"unknown asset kind {ref.kind!r}")

    def tags(self, ref: Ref) -> dict[str, Any]:
        if ref.kind == "training_dataset":
            return dict(self.view(ref).get_training_dataset_tags(version_of(ref)))
        return dict(self.obj(ref).get_tags())

    # -- search -----------------------------------------------------------------------------
    def search(self, text: str, limit: int = 30) -> list[Hit]:
        if not any(ch.isalnum() for ch in text):
            return []
        with self._lock:
            hits = self.project.search(text, limit=limit)
        out = []
        for hit in hits:
            kind, name, version, parent = hit.kind, hit.name, hit.version, hit.parent
            feature, context = None, ""
            ref: Ref | None
            if kind == "feature":
                group, _, group_version = (parent or "").partition(":")
                ref = Ref("feature_group", group, as_int(group_version)) if group else None
                feature = label = name
                context = f"feature of {group} v{group_version}" if group else "feature"
            elif kind in KINDS:
                ref = Ref(kind, name, version, parent if kind == "training_dataset" else None)
                label = ref.short
            else:
                ref, label = None, name
            out.append(Hit(ref=ref, kind=kind, label=label, snippet=hit.snippet or "", feature=feature, context=context))
        return out

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
                other_ref = nodes[other]
                label = other_ref.title if other_ref else asset.label
                if isinstance(details, Mapping) and details.get("commit_id") is not None:
                    label += f" @ commit {details['commit_id']}"
                node = LineageNode(other_ref, label, relation, repeated=other in seen)
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
        if ref.kind == "training_dataset":
            raise ReadOnlyError("A training dataset's description is set when it is created.")
        with self._lock:
            self.obj(ref).update_description(text)

    def set_tag(self, ref: Ref, key: str, value: Any) -> None:
        self._check_writable()
        with self._lock:
            if ref.kind == "training_dataset":
                self.view(ref).add_training_dataset_tag(version_of(ref), key, value)
            else:
                self.obj(ref).add_tag(key, value)

    def delete_tag(self, ref: Ref, key: str) -> None:
        self._check_writable()
        with self._lock:
            if ref.kind == "training_dataset":
                self.view(ref).delete_training_dataset_tag(version_of(ref), key)
            else:
                self.obj(ref).delete_tag(key)


# -- helpers ------------------------------------------------------------------------------
def _sorted(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda x: (x.name, x.version))


def _alerts(alerts: list[Any]) -> str:
    return f"⚠ {len(alerts)} alert{'' if len(alerts) == 1 else 's'}" if alerts else ""


def _asset_ref(asset: Any) -> Ref | None:
    """A lineage node as a Ref (None for kinds the browser does not open, and for assets of
    other projects of the home, named ``project::name``: they are not in this box)."""
    if asset.kind not in KINDS or "::" in asset.name:
        return None
    parent = asset.parent if asset.kind == "training_dataset" else None
    return Ref(asset.kind, asset.name, asset.version, parent)

"""Feature views, deployments, drift monitors and tags as plain data, read from the catalog
alone: what ``lakebox fv list``, ``deployments list``, ``monitors list`` and ``tag list`` print.

Their api objects (``FeatureView``, ``Deployment``, ``DriftMonitor``) load the query planner,
the serving stack or the drift metrics, which import pyarrow, pandas, sqlglot and DuckDB; the
listings only read catalog rows. Each answer has the shape the object's own description has
(``tests/test_startup_listings.py`` checks that both are equal). A view the catalog alone
cannot describe (a group shared by another project, on-demand features, an external or
missing group) is described through ``FeatureView`` itself, so the answer is always the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lakebox.names import check_name

if TYPE_CHECKING:
    from lakebox.catalog.groups import GroupRow
    from lakebox.catalog.views import DatasetRow, ViewRow
    from lakebox.engines import Engines

# the tag kinds the CLI names, as catalog asset kinds
_TAGGABLE = ("feature_group", "feature_view")


class ListingsMixin:
    """``Project`` methods that list assets from the catalog only (no Iceberg, DuckDB or LMDB)."""

    if TYPE_CHECKING:  # provided by Project

        @property
        def engines(self) -> Engines: ...

        def get_feature_store(self) -> Any: ...

        def get_model_serving(self) -> Any: ...

    # -- feature views ----------------------------------------------------------------------
    def describe_feature_views(self) -> list[dict[str, Any]]:
        """Every feature view as ``lakebox fv list`` shows it (``lakebox.cli.fv.describe_view``)."""
        found = []
        for row in self.engines.views.list(None):
            info = self._describe_view_row(row)
            if info is None:  # the feature view describes itself
                info = view_info(self.get_feature_store().get_feature_view(row.name, row.version))
            found.append(info)
        return found

    def describe_feature_view(self, name: str, version: int | None = None) -> dict[str, Any]:
        """One feature view (its latest version by default) as ``lakebox fv show`` prints it; an
        unknown name or version raises the feature store's ``NotFoundError``."""
        row = self._view_row(name, version)
        info = self._describe_view_row(row) if row is not None else None
        return info if info is not None else view_info(self.get_feature_store().get_feature_view(name, version))

    def describe_training_datasets(self, name: str, version: int | None = None) -> dict[str, Any]:
        """A feature view's training datasets (``fv.get_training_datasets()``), as ``lakebox td list``
        prints them."""
        row = self._view_row(name, version)
        if row is None:  # the feature store's own error, with its hints
            view = self.get_feature_store().get_feature_view(name, version)
            return {"name": view.name, "version": view.version, "training_datasets": view.get_training_datasets()}
        datasets = [dataset_info(d) for d in self.engines.views.datasets(row.id)]
        return {"name": row.name, "version": row.version, "training_datasets": datasets}

    def _view_row(self, name: str, version: int | None) -> ViewRow | None:
        check_name(name, "feature view name")
        rows = self.engines.views.list(name)
        return rows[-1] if rows and version is None else next((r for r in rows if r.version == version), None)

    def _describe_view_row(self, row: ViewRow) -> dict[str, Any] | None:
        groups: dict[tuple[str, int], GroupRow] = {}
        if not _collect_groups(self.engines, row.query, groups) or _has_on_demand(self.engines, row.id):
            return None
        columns = _outputs(row.query, groups)
        if columns is None:
            return None
        root = groups[(row.query["group"][0], int(row.query["group"][1]))]
        roles = {k: "primary key" for k in root.primary_key}
        if root.event_time:
            roles[root.event_time] = "event time"
        roles.update({label: "label" for label in row.labels})
        transformations = dict(row.transformations)
        return {
            "name": row.name,
            "version": row.version,
            "description": row.description,
            "groups": [{"name": name, "version": version} for name, version in groups],
            "primary_key": list(root.primary_key),
            "event_time": root.event_time,
            "labels": list(row.labels),
            "features": [c for c in columns if c not in row.labels],
            "transformation_functions": transformations,
            "columns": [
                {"name": c, "role": roles.get(c, "feature"), "transformation": transformations.get(c)} for c in columns
            ],
            "training_datasets": [dataset_info(d) for d in self.engines.views.datasets(row.id)],
        }

    # -- deployments and monitors -----------------------------------------------------------
    def describe_deployments(self) -> list[dict[str, Any]]:
        """Every deployment as ``Deployment.to_dict()`` gives it: what ``deployments list`` prints."""
        from lakebox.catalog.deployments import DeploymentStore

        found = []
        for row in DeploymentStore(self.engines.catalog).list():
            traffic = dict(row.traffic) if row.traffic else {int(row.model_version): 100}
            found.append({
                "name": row.name, "description": row.description, "model_name": row.model_name,
                "model_version": row.model_version, "traffic": {str(k): v for k, v in traffic.items()},
                "serving_keys": row.serving_keys, "feature_view": row.feature_view,
                "feature_view_version": row.feature_view_version,
                "training_dataset_version": row.training_dataset_version,
                "features": [name for name, _ in row.features], "log_group": row.log_group,
                "predictor": row.predictor or "auto", "created_at": row.created_at, "updated_at": row.updated_at,
            })  # fmt: skip
        return found

    def describe_monitors(self) -> list[dict[str, Any]]:
        """Every drift monitor as ``DriftMonitor.to_dict()`` gives it, with its last run
        (``MonitorRun.to_dict()``) as ``last_run``: what ``monitors list`` prints."""
        from lakebox.catalog.monitors import MonitorStore

        store = MonitorStore(self.engines.catalog)
        found = []
        for row in store.list():
            runs = store.runs(row.id, 1)
            last = None
            if runs:
                r = runs[0]
                last = {"monitor": row.name, "run_id": r.id, "run_at": r.run_at, "window_start": r.window_start,
                        "window_end": r.window_end, "rows": r.rows, "alert": r.alert, "results": r.results}  # fmt: skip
            found.append({
                "name": row.name, "description": row.description,
                "source": {"kind": row.source_kind, "name": row.source_name, "version": row.source_version},
                "reference": {"feature_view": row.feature_view, "feature_view_version": row.feature_view_version,
                              "training_dataset_version": row.training_dataset_version},
                "features": row.features, "window_s": row.window_s, "metrics": row.metrics,
                "thresholds": row.thresholds, "created_at": row.created_at, "last_run": last,
            })  # fmt: skip
        return found

    # -- tags -------------------------------------------------------------------------------
    def describe_tags(self, kind: str, name: str, version: int | None = None) -> dict[str, Any]:
        """The tags of a feature group or view (``kind`` ``feature_group`` or ``feature_view``;
        the latest version by default) as ``get_tags()`` gives them: what ``tag list`` prints.
        An unknown name or version raises the feature store's ``NotFoundError``."""
        if kind not in _TAGGABLE:
            from lakebox.errors import ValidationError

            raise ValidationError(f"Tags are listed here for {' and '.join(_TAGGABLE)}, not {kind!r}.")
        check_name(name, kind.replace("_", " ") + " name")
        engines = self.engines
        store = engines.groups if kind == "feature_group" else engines.views
        rows = store.list(name)
        row = rows[-1] if rows and version is None else next((r for r in rows if r.version == version), None)
        if row is None:  # the feature store's own error, with its hints
            fs = self.get_feature_store()
            found = (
                fs.get_feature_group(name, version) if kind == "feature_group" else fs.get_feature_view(name, version)
            )
            return {"kind": kind, "name": found.name, "version": found.version, "tags": found.get_tags()}
        asset = engines.assets.get(kind, row.id)  # NotFoundError as get_tags() raises it
        return {"kind": kind, "name": row.name, "version": row.version, "tags": engines.assets.tags(asset.id)}


def dataset_info(dataset: DatasetRow) -> dict[str, Any]:
    """A training dataset's metadata, as ``FeatureView.get_training_datasets()`` gives it."""
    return {
        "version": dataset.version,
        "description": dataset.description,
        "data_format": dataset.data_format,
        "location": dataset.location,
        "spec": dataset.spec,
        "snapshots": dataset.snapshots,
        "row_counts": dataset.row_counts,
        "statistics": dataset.statistics,
        "transformations": dataset.transformations,
        "created_at": dataset.created_at,
    }


def _collect_groups(engines: Engines, query: dict[str, Any], into: dict[tuple[str, int], GroupRow]) -> bool:
    """Every group the stored query reads, root first (as ``Query.groups()``); False when one
    is another project's, external, missing or has no schema here."""
    if query.get("project"):
        return False
    name, version = query["group"][0], int(query["group"][1])
    if (name, version) not in into:
        row = engines.groups.get(name, version)
        if row is None or "external" in row.settings or not row.features:
            return False
        into[(name, version)] = row
    return all(_collect_groups(engines, j["query"], into) for j in query["joins"])


def _has_on_demand(engines: Engines, view_id: int) -> bool:
    return bool(engines.catalog.query("SELECT 1 FROM on_demand_features WHERE view_id = ? LIMIT 1", (view_id,)))


def _outputs(query: dict[str, Any], groups: dict[tuple[str, int], GroupRow]) -> list[str] | None:
    """The query's output columns by the planner's naming rule (``lakebox.query.build.query_plan``),
    or None where the planner would refuse the query (a clash, a missing join key)."""
    taken: list[str] = []
    root_columns = _columns(query, groups)
    for name in query["features"] if query["features"] is not None else root_columns:
        if name in taken:
            return None
        taken.append(name)
    return taken if _join_outputs(query, taken, [], groups) else None


def _columns(node: dict[str, Any], groups: dict[tuple[str, int], GroupRow]) -> list[str]:
    return [f.name for f in _group(node, groups).features]


def _group(node: dict[str, Any], groups: dict[tuple[str, int], GroupRow]) -> GroupRow:
    return groups[(node["group"][0], int(node["group"][1]))]


def _join_outputs(
    query: dict[str, Any], taken: list[str], joined: list[list[str]], groups: dict[tuple[str, int], GroupRow]
) -> bool:
    """Add the outputs of ``query``'s joins (nested ones as written), as ``build._add_joins`` does;
    ``joined``: the columns of every group joined so far."""
    left_columns = _columns(query, groups)
    for spec in query["joins"]:
        node = spec["query"]
        right, right_columns = _group(node, groups), _columns(node, groups)
        if spec["on"] is not None:
            left_keys, right_keys = list(spec["on"]), list(spec["on"])
        elif spec["left_on"] is not None and spec["right_on"] is not None:
            left_keys, right_keys = list(spec["left_on"]), list(spec["right_on"])
        else:
            left_keys = right_keys = list(right.primary_key)
        if any(k not in right_columns for k in right_keys):
            return False
        if any(k not in left_columns for k in left_keys) and not any(all(k in c for k in left_keys) for c in joined):
            return False  # no group joined before has the keys either
        joined.append(right_columns)
        if node["features"] is not None:
            selected = list(node["features"])
        else:  # select_all on the right: its keys and event time are the left's already
            selected = [c for c in right_columns if c not in right_keys and c != right.event_time]
        prefix = spec["prefix"]
        for name in selected:
            if prefix is None and name in right_keys and name in left_keys and name in taken:
                continue  # the join key equals the left's column: not repeated
            out = (prefix or "") + name
            if out in taken:
                return False  # a clash: the planner refuses it
            taken.append(out)
        if not _join_outputs(node, taken, joined, groups):
            return False
    return True


def view_info(view: Any) -> dict[str, Any]:
    """A ``FeatureView`` as plain data (what ``fv list`` and ``fv show`` render)."""
    query = view.query
    root = query.root_group
    transformations = view.transformation_functions
    roles = {k: "primary key" for k in view.primary_key}
    if root.event_time:
        roles[root.event_time] = "event time"
    roles.update({label: "label" for label in view.labels})
    return {
        "name": view.name,
        "version": view.version,
        "description": view.description,
        "groups": [{"name": g.name, "version": g.version} for g in query.groups()],
        "primary_key": view.primary_key,
        "event_time": root.event_time,
        "labels": view.labels,
        "features": view.features,
        "transformation_functions": transformations,
        "columns": [
            {"name": c, "role": roles.get(c, "feature"), "transformation": transformations.get(c)}
            for c in query.features
        ],
        "training_datasets": view.get_training_datasets(),
    }


__all__ = ["ListingsMixin", "dataset_info", "view_info"]

"""Sharing feature groups read-only between the projects of one home (issue 15).

Projects of a home are the boxes in one folder (``lakebox serve --home DIR``): project
``shop`` is the box ``DIR/shop.lakebox`` (or ``DIR/shop``). The owner grants read access
(``fg.share_with("lab")``, recorded in its own catalog and audit log); the other project
opens the group with ``fs.get_shared_feature_group("shop", "orders", 1)``. Every read checks
the grant in the owner's catalog, so revoking (``fg.revoke_share("lab")``) takes effect on the
next read; a shared group has no write methods at all.
"""

from __future__ import annotations

import weakref
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.box import TOML_NAME
from lakebox.catalog.shares import ShareStore
from lakebox.errors import AuthError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from lakebox.project import Project

KIND = "feature_group"
VIEW_KIND = "feature_view"


def project_name(folder: Path) -> str:
    """A box directory's project name: its name without a ``.lakebox`` suffix."""
    return folder.name[: -len(".lakebox")] if folder.name.endswith(".lakebox") else folder.name


def sibling_box(own: Path, project: str) -> Path:
    """The box of project ``project`` in the same home as the box ``own``."""
    for candidate in (own.parent / f"{project}.lakebox", own.parent / project):
        if (candidate / TOML_NAME).is_file():
            return candidate
    raise NotFoundError(
        f"No project {project!r} next to {str(own)!r}: projects of a home are boxes in one folder "
        f"({str(own.parent / (project + '.lakebox'))!r})."
    )


class ShareMixin:
    """``share_with``, ``revoke_share`` and ``get_shares`` on a feature group (or view)."""

    _share_kind = KIND

    if TYPE_CHECKING:  # provided by the feature group or view
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...

    def _share_engines(self) -> Any:
        return self._engines  # type: ignore[attr-defined]

    def share_with(self, project: str, access: str = "read") -> None:
        """Let project ``project`` (a box in the same folder) read this asset; never write it."""
        engines = self._share_engines()
        if project == project_name(Path(engines.box.root)):
            raise ValidationError(f"{project!r} is this asset's own project: no need to share it.")
        ShareStore(engines.catalog).grant(self._share_kind, self.name, self.version, project, access)

    def revoke_share(self, project: str) -> None:
        """Stop sharing with ``project``: its next read is refused."""
        ShareStore(self._share_engines().catalog).revoke(self._share_kind, self.name, self.version, project)

    def get_shares(self) -> list[dict[str, Any]]:
        """The projects this asset is shared with, and how."""
        return ShareStore(self._share_engines().catalog).list(self._share_kind, self.name, self.version)


class ViewShareMixin(ShareMixin):
    """Sharing on a feature view: the other project reads its training data, batch data and
    feature vectors."""

    _share_kind = VIEW_KIND

    def _share_engines(self) -> Any:  # a view reaches its engines through its store
        return self._store.engines  # type: ignore[attr-defined]


class SharedStoreMixin:
    """``fs.get_shared_feature_group(project, name, version)``, and groups of other projects
    in the planner: ``"shop::orders.amount"`` in ``fs.get_features``, a shared group in
    ``fg.select(...).join(shared.select(...))`` and in feature views built on such queries.

    A shared group reaches the planner as a ``GroupRef`` with ``project`` set and is pinned
    (``_planner_pin``) like a group of this box — after the grant is checked in the owner's
    catalog, so a revoked share fails the next read. The owner's box is opened once per
    feature store and closed with it."""

    _project: Project

    def _owner_project(self, project: str) -> Any:
        """Project ``project`` of this home, opened once for this feature store (not through
        ``lakebox.connect``, which would make it the process's current project for lagom)."""
        from lakebox.box import Box
        from lakebox.project import Project

        owners: dict[str, Any] | None = self.__dict__.get("_shared_owners")
        if owners is None:
            owners = self.__dict__["_shared_owners"] = {}
            weakref.finalize(self, _close_all, owners)
        if project not in owners:
            own = Path(self._project.path)
            if project == project_name(own):
                raise ValidationError(f"{project!r} is this project: name its groups without '{project}::'.")
            owners[project] = Project(Box.open(sibling_box(own, project)))
        return owners[project]

    def get_shared_feature_group(self, project: str, name: str, version: int | None = None) -> SharedFeatureGroup:
        """A group another project of the same home shares with this one (read-only): read
        it, or use it in queries (``fg.select([...]).join(shared.select([...]))``)."""
        owner = self._owner_project(project)
        group = owner.get_feature_store().get_feature_group(name, version)
        shared = SharedFeatureGroup(owner, group, project, project_name(Path(self._project.path)), self)
        shared.check()
        return shared

    def get_shared_feature_view(self, project: str, name: str, version: int | None = None) -> SharedFeatureView:
        """A feature view another project of the same home shares with this one (read-only:
        training data, batch data, feature vectors)."""
        owner = self._owner_project(project)
        view = owner.get_feature_store().get_feature_view(name, version)
        shared = SharedFeatureView(owner, view, project, project_name(Path(self._project.path)))
        shared.check()
        return shared

    def _shared_refs(self, features: Any) -> list[Any]:
        """Planner refs of the shared groups that ``project::group[:version].feature`` names
        in ``features`` refer to (checked: a group not shared with this project is refused)."""
        if isinstance(features, str) or not isinstance(features, (list, tuple)):
            return []
        refs: dict[tuple[str, str, int | None], Any] = {}
        for feature in features:
            if not isinstance(feature, str) or "::" not in feature:
                continue
            project, _, rest = feature.partition("::")
            group_part, dot, _ = rest.rpartition(".")
            if not dot or not group_part:
                continue  # the planner's name check says what is wrong
            name, _, version_text = group_part.partition(":")
            version = int(version_text) if version_text.isascii() and version_text.isdigit() else None
            if (project, name, version) not in refs:
                refs[(project, name, version)] = self.get_shared_feature_group(project, name, version)._planner_ref()
        return list(refs.values())

    def _snapshot_group(self, item: dict[str, Any]) -> Any:
        """The group a training dataset read, from its recorded snapshot (``project`` set for
        another project's group)."""
        if item.get("project"):
            return self.get_shared_feature_group(item["project"], item["group"], item["version"])
        return self.get_feature_group(item["group"], item["version"])  # type: ignore[attr-defined]


def _close_all(owners: dict[str, Any]) -> None:
    for owner in owners.values():
        owner.close()
    owners.clear()


_WRITES = ("insert", "delete_records", "rollback", "delete", "save", "compact", "enable_online", "disable_online",
           "set_expectations", "add_tag", "delete_tag", "update_description", "share_with", "revoke_share",
           "multi_part_insert", "insert_stream", "materialize")  # fmt: skip


class SharedFeatureGroup:
    """A feature group of another project, readable while the owner shares it: ``read``,
    ``as_of``, ``commit_details``, and as a read-only source of queries (``select``,
    ``select_all``, ``select_except``, ``filter``, ``shared["amount"] > 3``)."""

    def __init__(self, owner: Any, group: Any, owner_name: str, reader: str, store: Any = None) -> None:
        self._owner = owner
        self._group = group
        self._shares = ShareStore(owner.catalog)
        self._store = store  # the reading project's feature store (queries run with its settings)
        self.project = owner_name
        self.owner_project = owner_name  # the planner's key: (owner_project, id)
        self._reader = reader
        self.id: int = group.id
        self.name: str = group.name
        self.version: int = group.version
        self.primary_key: list[str] = group.primary_key
        self.event_time: str | None = group.event_time
        self.features = group.features
        self.description: str = getattr(group, "description", "")

    @property
    def online_enabled(self) -> bool:
        """Always False here: feature vectors of another project's group are not served by this
        one (the owner can share a feature view, whose vectors are)."""
        return False

    def check(self) -> None:
        """Refuse unless the owner shares this group with the reading project now."""
        if self._shares.access(KIND, self.name, self.version, self._reader) is None:
            raise AuthError(
                f"Project {self.project!r} does not share feature group {self.name} v{self.version} with "
                f"{self._reader!r} (or revoked it); the owner runs fg.share_with({self._reader!r})."
            )

    def read(self, wallclock_time: Any = None, dataframe_type: str = "pandas", limit: int | None = None,
             offset: int = 0) -> Any:  # fmt: skip
        """The shared group's rows, as ``fg.read`` of the owner returns them."""
        self.check()
        return self._group.read(wallclock_time=wallclock_time, dataframe_type=dataframe_type, limit=limit, offset=offset)

    def as_of(self, wallclock_time: Any = None, exclude_until: Any = None) -> Any:
        """A query of the shared group pinned at ``wallclock_time`` (with ``exclude_until``:
        the changes in between), as ``fg.as_of`` of the owner."""
        from lakebox.queries import Query

        self.check()
        return Query(self, wallclock_time=wallclock_time, exclude_until=exclude_until)

    def commit_details(self, wallclock_time: Any = None, limit: int | None = None) -> dict[int, dict[str, Any]]:
        self.check()
        return self._group.commit_details(wallclock_time, limit)

    # -- queries: the group as a read-only source of the planner -------------------------
    def get_feature(self, name: str) -> Any:
        return self._group.get_feature(name)

    def select_all(self, include_primary_key: bool = True, include_event_time: bool = True) -> Any:
        from lakebox.queries import Query

        if include_primary_key and include_event_time:
            return Query(self)
        skip = {*([] if include_primary_key else self.primary_key),
                *([] if include_event_time or not self.event_time else [self.event_time])}  # fmt: skip
        return Query(self, features=[f.name for f in self.features if f.name not in skip])

    def select(self, features: Any) -> Any:
        from lakebox.names import lower_name
        from lakebox.queries import Query

        names = [features] if isinstance(features, str) else list(features)
        return Query(self, features=[lower_name(n, "feature name") for n in names])

    def select_except(self, features: Any) -> Any:
        from lakebox.queries import Query

        excluded = [features] if isinstance(features, str) else list(features)
        for name in excluded:
            self.get_feature(name)
        return Query(self, features=[f.name for f in self.features if f.name not in excluded])

    def filter(self, condition: Any) -> Any:
        return self.select_all().filter(condition)

    def __getitem__(self, name: str) -> Any:
        """The feature ``name`` for filters: ``shared["amount"] > 3`` (also ``shared.amount``)."""
        from lakebox.query.filter import Col

        self.get_feature(name)
        return Col(self.id, self.name, self.version, name, project=self.project)

    def _planner_ref(self) -> Any:
        """The owner's ``GroupRef``, marked as this project's view of another project's group."""
        return replace(self._group._planner_ref(), project=self.project, online_enabled=False)

    def _planner_pin(self, when: Any = None, files: bool = True) -> Any:
        """The snapshot a query reads, after checking the grant (revoking fails the next read)."""
        self.check()
        return self._group._planner_pin(when, files=files)

    def _asset(self) -> Any:
        """The asset standing for this group in the reading project's lineage (``shop::orders``)."""
        from lakebox.catalog.project_links import ProjectLinks

        if self._store is None:
            raise ValidationError("This shared group was not opened through a feature store; use fs.get_shared_feature_group.")
        links = ProjectLinks(self._store._project.catalog)
        return links.reference(self.project, self.name, self.version, self.id, self.description)

    def __getattr__(self, attribute: str) -> Any:
        if attribute in _WRITES:
            raise AuthError(
                f"Feature group {self.name} v{self.version} belongs to project {self.project!r} and is shared "
                f"read-only: {attribute}() is for its owner."
            )
        if not attribute.startswith("_") and any(f.name == attribute for f in self.__dict__.get("features", ())):
            return self[attribute]
        raise AttributeError(attribute)

    def close(self) -> None:
        """Nothing to release: the owner's box is closed with the feature store that opened it."""

    def __repr__(self) -> str:
        return f"SharedFeatureGroup({self.project!r}::{self.name!r}, version={self.version})"


class SharedFeatureView:
    """A feature view of another project, readable while the owner shares it."""

    READS = ("get_training_data", "get_batch_data", "get_feature_vector", "get_feature_vectors", "get_training_datasets")

    def __init__(self, owner: Any, view: Any, owner_name: str, reader: str) -> None:
        self._owner = owner
        self._view = view
        self._shares = ShareStore(owner.catalog)
        self.project = owner_name
        self._reader = reader
        self.name: str = view.name
        self.version: int = view.version
        self.labels: list[str] = view.labels
        self.features: list[str] = view.features

    def check(self) -> None:
        if self._shares.access(VIEW_KIND, self.name, self.version, self._reader) is None:
            raise AuthError(
                f"Project {self.project!r} does not share feature view {self.name} v{self.version} with "
                f"{self._reader!r} (or revoked it); the owner runs fv.share_with({self._reader!r})."
            )

    def __getattr__(self, attribute: str) -> Any:
        if attribute in SharedFeatureView.READS:
            self.check()
            return getattr(self._view, attribute)
        if attribute.startswith("_"):
            raise AttributeError(attribute)
        raise AuthError(
            f"Feature view {self.name} v{self.version} belongs to project {self.project!r} and is shared read-only: "
            f"{attribute} is for its owner (shared: {', '.join(SharedFeatureView.READS)})."
        )

    def close(self) -> None:
        """Nothing to release: the owner's box is closed with the feature store that opened it."""

    def __repr__(self) -> str:
        return f"SharedFeatureView({self.project!r}::{self.name!r}, version={self.version})"


def add_readers(graph: Any, store: Any, depth: int = 20) -> None:
    """Add to a lineage graph what other projects of the home made from this project's groups
    in it (the root and what lies downstream of it): for each project a group was ever shared
    with, the assets downstream of its ``shop::orders`` node, named ``lab::risk`` with negative
    ids. Their catalogs are opened read-only for this; nothing is written."""
    from dataclasses import replace as copy

    from lakebox.catalog.assets import AssetStore
    from lakebox.catalog.db import CatalogDB
    from lakebox.catalog.project_links import ProjectLinks
    from lakebox.lineage import build

    own_root = Path(store.db.path).parent
    own = project_name(own_root)
    down = {graph.root.id}
    changed = True
    while changed:
        before = len(down)
        down |= {dst for src, dst, _, _ in graph.edges if src in down and dst > 0}
        changed = len(down) != before
    groups = [graph.nodes[i] for i in sorted(down) if graph.nodes[i].kind == KIND]
    shares = ShareStore(store.db)
    for group in groups:
        for grantee in shares.grantees(KIND, group.name, group.version or 0):
            try:
                box = sibling_box(own_root, grantee)
            except NotFoundError:
                continue  # shared with a project that does not exist (yet)
            catalog = CatalogDB(box / "catalog.db", create=False)
            try:
                reference = ProjectLinks(catalog).find(own, group.name, group.version or 0)
                if reference is None:
                    continue  # shared, never used
                theirs = build(AssetStore(catalog), reference, "down", depth, other_projects=False)
            finally:
                catalog.close()
            ids = {reference.id: group.id}
            for node_id, node in theirs.nodes.items():
                if node_id not in ids:
                    ids[node_id] = -(len(graph.projects) + 1)
                    graph.nodes[ids[node_id]] = copy(node, id=ids[node_id], name=f"{grantee}::{node.name}")
                    graph.projects[ids[node_id]] = grantee
            for src, dst, relation, details in theirs.edges:
                graph.edges.append((ids[src], ids[dst], relation, {**details, "project": grantee}))

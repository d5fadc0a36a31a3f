"""Sharing feature groups read-only between the projects of one home (issue 15).

Projects of a home are the boxes in one folder (``lakebox serve --home DIR``): project
``shop`` is the box ``DIR/shop.lakebox`` (or ``DIR/shop``). The owner grants read access
(``fg.share_with("lab")``, recorded in its own catalog and audit log); the other project
opens the group with ``fs.get_shared_feature_group("shop", "orders", 1)``. Every read checks
the grant in the owner's catalog, so revoking (``fg.revoke_share("lab")``) takes effect on the
next read; a shared group has no write methods at all.
"""

from __future__ import annotations

import functools
import weakref
from pathlib import Path
from typing import Any

from lakebox.box import TOML_NAME
from lakebox.catalog.shares import ShareStore
from lakebox.errors import AuthError, NotFoundError, ValidationError

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
    name: str
    version: int

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
    """``fs.get_shared_feature_group(project, name, version)``, and features of shared groups
    in ``fs.get_features`` (``"shop::orders.amount"``): the owner's planner computes their
    point-in-time join on the same spine, in the owner's box, and their columns are added to
    the local result (``get_features`` keeps the spine's row order, one row per spine row)."""

    _project: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        native = cls.__dict__.get("get_features")
        if native is None or getattr(native, "__shared_aware__", False):
            return

        @functools.wraps(native)
        def get_features(self: Any, features: Any, *args: Any, **options: Any) -> Any:
            if isinstance(features, (list, tuple)) and any(isinstance(f, str) and "::" in f for f in features):
                return self._features_across_projects(native, list(features), *args, **options)
            return native(self, features, *args, **options)

        get_features.__shared_aware__ = True  # type: ignore[attr-defined]
        cls.get_features = get_features  # type: ignore[attr-defined]

    def get_shared_feature_view(self, project: str, name: str, version: int | None = None) -> SharedFeatureView:
        """A feature view another project of the same home shares with this one (read-only:
        training data, batch data, feature vectors)."""
        import lakebox

        own = Path(self._project.path)
        owner = lakebox.connect(sibling_box(own, project))
        try:
            view = owner.get_feature_store().get_feature_view(name, version)
            shared = SharedFeatureView(owner, view, project, project_name(own))
            shared.check()
        except BaseException:
            owner.close()
            raise
        return shared

    def _features_across_projects(
        self,
        native: Any,
        features: list[str],
        entity_df: Any = None,
        event_time: str | None = None,
        as_of: Any = None,
        max_age: Any = None,
        dataframe_type: str = "pandas",
        engine: str = "duckdb",
        **rest: Any,
    ) -> Any:
        import lakebox
        from lakebox.frames import from_arrow, to_arrow

        if entity_df is None:
            raise ValidationError(
                "Features of another project ('shop::orders.amount') need an entity_df: the spine both "
                "projects join on."
            )
        if engine != "duckdb" or rest:
            raise ValidationError(f"Features of another project are computed with engine='duckdb' only (got {engine!r}).")
        spine = to_arrow(entity_df)
        local = [f for f in features if "::" not in f]
        options = {"event_time": event_time, "as_of": as_of, "max_age": max_age, "dataframe_type": "arrow"}
        result = native(self, local, entity_df=spine, **options) if local else spine
        own = Path(self._project.path)
        by_project: dict[str, list[str]] = {}
        for feature in features:
            if "::" in feature:
                project, _, name = feature.partition("::")
                by_project.setdefault(project, []).append(name)
        for project, names in by_project.items():
            owner = lakebox.connect(sibling_box(own, project))
            try:
                pinned = [_check_shared(owner, project, project_name(own), name) for name in names]
                part = owner.get_feature_store().get_features(pinned, entity_df=spine, **options)
            finally:
                owner.close()
            result = _add_columns(result, part, spine.column_names, project)
        return from_arrow(result, dataframe_type)

    def get_shared_feature_group(self, project: str, name: str, version: int | None = None) -> SharedFeatureGroup:
        """A group another project of the same home shares with this one (read-only)."""
        import lakebox

        own = Path(self._project.path)
        owner = lakebox.connect(sibling_box(own, project))
        try:
            group = owner.get_feature_store().get_feature_group(name, version)
            shared = SharedFeatureGroup(owner, group, project, project_name(own))
            shared.check()
        except BaseException:
            owner.close()
            raise
        return shared


class SharedFeatureGroup:
    """A feature group of another project, readable while the owner shares it."""

    def __init__(self, owner: Any, group: Any, owner_name: str, reader: str) -> None:
        self._owner = owner
        self._group = group
        self._shares = ShareStore(owner.catalog)
        self.project = owner_name
        self._reader = reader
        self.name: str = group.name
        self.version: int = group.version
        self.primary_key: list[str] = group.primary_key
        self.event_time: str | None = group.event_time
        self.features = group.features
        self._closer = weakref.finalize(self, owner.close)

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
        """Rows as of a commit time; the changes in between with ``exclude_until``."""
        self.check()
        return self._group.as_of(wallclock_time, exclude_until=exclude_until).read()

    def commit_details(self) -> dict[int, dict[str, Any]]:
        self.check()
        return self._group.commit_details()

    def __getattr__(self, attribute: str) -> Any:
        if attribute in ("insert", "delete_records", "rollback", "delete", "save", "compact", "enable_online",
                         "set_expectations", "add_tag", "delete_tag", "update_description"):  # fmt: skip
            raise AuthError(
                f"Feature group {self.name} v{self.version} belongs to project {self.project!r} and is shared "
                f"read-only: {attribute}() is for its owner."
            )
        raise AttributeError(attribute)

    def close(self) -> None:
        self._closer()

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
        self._closer = weakref.finalize(self, owner.close)

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
        self._closer()

    def __repr__(self) -> str:
        return f"SharedFeatureView({self.project!r}::{self.name!r}, version={self.version})"


def _check_shared(owner: Any, owner_name: str, reader: str, name: str) -> str:
    """``group[:version].feature`` of project ``owner_name``, refused unless shared with
    ``reader``; returned pinned to the group's version that was checked."""
    group_part, dot, feature = name.rpartition(".")
    if not dot or not group_part or not feature:
        raise ValidationError(
            f"{owner_name}::{name}: name the group of another project's feature, as "
            f"'{owner_name}::GROUP.FEATURE' or '{owner_name}::GROUP:VERSION.FEATURE'."
        )
    group_name, _, version_text = group_part.partition(":")
    version = int(version_text) if version_text.isascii() and version_text.isdigit() else None
    if version_text and version is None:
        raise ValidationError(f"{owner_name}::{name}: the version after ':' must be an integer.")
    group = owner.get_feature_store().get_feature_group(group_name, version)
    if ShareStore(owner.catalog).access(KIND, group.name, group.version, reader) is None:
        raise AuthError(
            f"Project {owner_name!r} does not share feature group {group.name} v{group.version} with {reader!r} "
            f"(or revoked it); the owner runs fg.share_with({reader!r})."
        )
    return f"{group.name}:{group.version}.{feature}"


def _add_columns(result: Any, part: Any, spine_columns: list[str], project: str) -> Any:
    """Append ``part``'s feature columns to ``result``; both are one row per spine row, in
    the spine's order (checked on the spine's columns)."""
    from lakebox.errors import QueryError

    if part.num_rows != result.num_rows or any(
        c in part.column_names and c in result.column_names and not part.column(c).equals(result.column(c))
        for c in spine_columns
    ):
        raise QueryError(f"The features of project {project!r} did not come back one row per spine row, in order.")
    for name in part.column_names:
        if name in spine_columns:
            continue
        if name in result.column_names:
            raise ValidationError(
                f"Feature {name!r} of project {project!r} has the name of another requested feature; "
                "request one of them."
            )
        result = result.append_column(part.schema.field(name), part.column(name))
    return result

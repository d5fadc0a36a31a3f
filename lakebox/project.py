"""``Project`` and ``connect``: open or create a box and hand out its stores."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from lakebox.box import Box, default_path
from lakebox.catalog.db import CatalogDB
from lakebox.deployments.mixins import ServingProjectMixin
from lakebox.experiments import ExperimentsMixin
from lakebox.files_api import DatasetMixin
from lakebox.jobs.api import JobsMixin
from lakebox.listings import ListingsMixin
from lakebox.metadata import MetadataMixin
from lakebox.security import SecurityMixin

if TYPE_CHECKING:
    from lakebox.catalog.assets import SearchHit
    from lakebox.catalog.keys import ApiKey
    from lakebox.engines import Engines
    from lakebox.experiments import Experiment
    from lakebox.feature_store import FeatureStore
    from lakebox.lineage import LineageGraph
    from lakebox.model_registry import ModelRegistry

_current: Project | None = None


class Project(
    ServingProjectMixin, JobsMixin, ExperimentsMixin, SecurityMixin, DatasetMixin, MetadataMixin, ListingsMixin
):
    """One box, opened in this process. Use ``lakebox.connect(path)``."""

    def __init__(self, box: Box) -> None:
        # pyiceberg, SQLAlchemy and LMDB load here, not at `import lakebox` (keeps the CLI snappy)
        from lakebox import engines

        self._box = box
        self._engines = engines.acquire(box)  # shared by every Project of this box in this process
        # A project dropped without close() gives its reference back when it is collected.
        self._release = weakref.finalize(self, engines.release, self._engines)
        self._feature_store: FeatureStore | None = None
        self._model_registry: ModelRegistry | None = None

    @property
    def engines(self) -> Engines:
        """The box's engines (catalog, warehouse, online store, write coordinator), which api
        objects call through their public methods."""
        return self._engines

    @property
    def catalog(self) -> CatalogDB:
        return self._engines.catalog

    @property
    def artifacts(self) -> Path:
        """Where training datasets, runs and model versions keep their files."""
        return self._box.artifacts

    @property
    def path(self) -> Path:
        return self._box.root

    @property
    def name(self) -> str:
        return self._box.root.name

    def get_feature_store(self) -> FeatureStore:
        from lakebox.feature_store import FeatureStore

        if self._feature_store is None:
            self._feature_store = FeatureStore(self)
        return self._feature_store

    def get_model_registry(self) -> ModelRegistry:
        """The box's model registry (``lakebox.model_registry.ModelRegistry``)."""
        from lakebox.model_registry import ModelRegistry

        if self._model_registry is None:
            self._model_registry = ModelRegistry(self)
        return self._model_registry

    def get_experiments(self, name: str | None = None) -> list[Experiment]:
        """Recorded runs of ``experiment.lagom`` (every run of ``name``, or all), oldest first."""
        from lakebox.catalog.experiments import ExperimentStore
        from lakebox.experiments import Experiment

        return [Experiment(self, row) for row in ExperimentStore(self.catalog).list(name)]

    # -- the catalog: search and lineage ---------------------------------------------------
    def search(
        self, text: str, kind: str | list[str] | None = None, tags: Any = None, limit: int = 20
    ) -> list[SearchHit]:
        """Full-text search over every asset (names weigh most, then feature names, tags,
        descriptions); prefix matching and stemming. ``kind`` and ``tags`` filter."""
        from lakebox.catalog.assets import AssetStore

        return AssetStore(self.catalog).search(text, kind=kind, tags=tags, limit=limit)

    def lineage(
        self, asset: Any, direction: str = "both", version: int | None = None, kind: str | None = None
    ) -> LineageGraph:
        """The provenance graph of an asset (an api object, or a name): ``print()`` shows a tree."""
        from lakebox.catalog.assets import Asset, AssetStore
        from lakebox.lineage import build

        store = AssetStore(self.catalog)
        if isinstance(asset, Asset):  # a node of another graph, or an asset from a search
            root = store.by_id(asset.id)
        elif hasattr(asset, "_asset"):
            root = asset._asset()
        else:
            root = store.find(str(asset), version, kind)
        return build(store, root, direction)

    # -- API keys (for `lakebox serve`) ---------------------------------------------------
    def create_api_key(self, name: str, scopes: list[str] | None = None) -> str:
        """Create an API key and return its secret — shown this once, stored only as a hash.
        Scopes: read:online, read:offline, write, admin (default: both reads)."""
        from lakebox.catalog.keys import KeyStore

        return KeyStore(self.catalog).create(name, scopes)

    def get_api_keys(self) -> list[ApiKey]:
        from lakebox.catalog.keys import KeyStore

        return KeyStore(self.catalog).list()

    def revoke_api_key(self, name: str) -> None:
        from lakebox.catalog.keys import KeyStore

        KeyStore(self.catalog).revoke(name)

    def close(self) -> None:
        """Give back this project's hold on the box's engines; the last project of the box in
        this process closes them (the box stays on disk). Idempotent."""
        self._release()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Project({str(self.path)!r})"


@overload
def connect(path: os.PathLike[str] | None = None, api_key: str | None = None, **options: Any) -> Project: ...


@overload
def connect(path: str, api_key: str | None = None, **options: Any) -> Any: ...


def connect(path: str | os.PathLike[str] | None = None, api_key: str | None = None, **options: Any) -> Any:
    """Open the box at ``path`` (created if missing); default ``$LAKEBOX_HOME`` or ``./.lakebox``.

    An ``http://`` or ``https://`` URL connects to a ``lakebox serve`` process instead and
    returns a remote project (``lakebox.client.RemoteProject``) offering the online API over
    HTTP. Typed: a ``Path`` (or nothing) gives a ``Project``; a string may be either, so it is
    typed ``Any`` (annotate ``project: lakebox.Project = lakebox.connect("my.lakebox")``).
    """
    global _current
    if isinstance(path, str) and path.startswith(("http://", "https://")):
        from lakebox.client import RemoteProject

        return RemoteProject(path, api_key=api_key, **options)
    project = Project(Box.open(default_path() if path is None else path))
    _current = project
    return project


def current_project() -> Project | None:
    """The project ``connect`` opened last in this process (used by experiments)."""
    return _current

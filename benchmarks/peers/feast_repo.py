"""The Feast repo both peer benchmarks define in code: local provider, an SQLite registry
and online store, one entity (entity_id) and one FeatureView of float features per group.
Imported only inside the Feast virtualenv."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any


def feast_store(
    repo: Path, files: dict[str, str], offline: str, features: int, groups: Sequence[str], online: bool, project: str
) -> Any:
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource, ValueType
    from feast.repo_config import RepoConfig
    from feast.types import Float64

    repo.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project=project,
        provider="local",
        repo_path=repo,
        registry={"registry_type": "sql", "path": f"sqlite:///{repo / 'registry.db'}", "cache_ttl_seconds": 0},
        online_store={"type": "sqlite", "path": str(repo / "online.db")},
        offline_store={"type": offline},
        entity_key_serialization_version=3,
    )
    store = FeatureStore(config=config)
    entity = Entity(name="entity", join_keys=["entity_id"], value_type=ValueType.INT64)
    views = [
        FeatureView(
            name=prefix,
            entities=[entity],
            ttl=timedelta(days=3650),
            schema=[Field(name=f"{prefix}_f{j}", dtype=Float64) for j in range(features)],
            source=FileSource(name=f"{prefix}_source", path=files[prefix], timestamp_field="ts"),
            online=online,
        )
        for prefix in groups
    ]
    store.apply([entity, *views])
    return store

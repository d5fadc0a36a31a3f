"""Checked by mypy, never run: each implementation of a shared protocol satisfies it, and the
public API returns the types users annotate their code with.

``tests/test_typing.py`` runs mypy over ``lakebox/`` and this file (``[tool.mypy] files`` in
pyproject.toml). A function returning an implementation as its protocol fails type checking
when a method is missing or its signature drifted (a parameter renamed, dropped or retyped);
``assert_type`` fails when a public method's return type changes, or decays to ``Any``.
"""

from __future__ import annotations

from pathlib import Path
from typing import assert_type

import lakebox
from lakebox.catalog.assets import SearchHit
from lakebox.client import RemoteFeatureView
from lakebox.deployments.deployment import Deployment
from lakebox.deployments.remote import RemoteDeployment
from lakebox.experiment import Config, HyperparameterOptConfig, Result, Searchspace, lagom
from lakebox.experiments import Experiment
from lakebox.feature_group import FeatureGroup
from lakebox.feature_store import FeatureStore
from lakebox.feature_view import FeatureView
from lakebox.lineage import LineageGraph
from lakebox.model_registry import Model, ModelRegistry
from lakebox.monitors.monitor import DriftMonitor
from lakebox.project import Project
from lakebox.protocols import DeploymentLike, FeatureViewLike
from lakebox.queries import Query
from lakebox.stats import Statistics


def local_feature_view(view: FeatureView) -> FeatureViewLike:
    return view


def remote_feature_view(view: RemoteFeatureView) -> FeatureViewLike:
    return view


def local_deployment(deployment: Deployment) -> DeploymentLike:
    return deployment


def remote_deployment(deployment: RemoteDeployment) -> DeploymentLike:
    return deployment


def public_api(path: Path) -> None:
    project = lakebox.connect(path)
    assert_type(project, Project)
    fs = project.get_feature_store()
    assert_type(fs, FeatureStore)
    players = fs.get_or_create_feature_group("players", version=1, primary_key=["player_id"], event_time="ts")
    assert_type(players, FeatureGroup)
    assert_type(fs.get_feature_groups(), list[FeatureGroup])
    query = players.select(["player_id", "age"]).join(fs.get_feature_group("teams").select_all(), on=["team_id"])
    assert_type(query, Query)
    assert_type(query.filter(players.age > 20), Query)
    assert_type(players.as_of("2026-01-01T00:00:00Z"), Query)
    assert_type(players.get_statistics(), Statistics)
    view = fs.create_feature_view(name="attendance", version=1, query=query, labels=["attended"])
    assert_type(view, FeatureView)
    assert_type(fs.get_feature_view("attendance"), FeatureView)
    assert_type(view.get_training_dataset_statistics(1), Statistics)
    registry = project.get_model_registry()
    assert_type(registry, ModelRegistry)
    model = registry.get_best_model("mnist", "accuracy", direction="max")
    assert_type(model, Model)
    assert_type(model.deploy(name="attendance"), Deployment)
    assert_type(model.experiment, Experiment | None)
    assert_type(project.get_experiments(), list[Experiment])
    assert_type(project.search("attendance"), list[SearchHit])
    assert_type(project.lineage(model), LineageGraph)
    assert_type(fs.get_drift_monitors(), list[DriftMonitor])
    search = HyperparameterOptConfig(searchspace=Searchspace(lr=("DOUBLE", [1e-4, 1e-1])), num_trials=2, metric="accuracy")
    assert_type(lagom(lambda lr: {"accuracy": lr}, search), Result)
    assert_type(lagom(lambda: {"accuracy": 1.0}, Config(name="one")), Result)

"""Lineage in the catalog (issue 5): what a training dataset, a group and a view come from and
feed, the errors, and the search index after a view is deleted; real boxes in ``tmp_path``."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest
from test_catalog import _view_and_dataset, assert_index_in_step, declared, names

import lakebox
from lakebox.errors import NotFoundError, QueryError, ValidationError


# -- lineage ---------------------------------------------------------------------------------
@pytest.fixture
def pipeline(project: lakebox.Project) -> dict[str, Any]:
    """games and teams -> view attendance -> training dataset attendance v1."""
    fs = project.get_feature_store()
    games = fs.create_feature_group("games", 1, primary_key=["game_id"])
    teams = fs.create_feature_group("teams", 1, primary_key=["team_id"])
    games.insert(pa.table({"game_id": [1, 2, 3], "home_team_id": [1, 2, 1], "attendance": [10, 20, 30]}))
    teams.insert(pa.table({"team_id": [1, 2], "budget": [1.0, 2.0]}))
    teams.insert(pa.table({"team_id": [2], "budget": [3.0]}))
    query = games.select_all().join(teams.select(["budget"]), left_on=["home_team_id"], right_on=["team_id"])
    view = fs.create_feature_view("attendance", query=query, labels=["attendance"])
    version = view.create_training_dataset()
    return {"games": games, "teams": teams, "view": view, "version": version}


def _edges(graph: Any) -> set[tuple[str, str, str]]:
    label = {i: f"{a.kind}:{a.name}" for i, a in graph.nodes.items()}
    return {(label[s], r, label[d]) for s, d, r, _ in graph.edges}


def test_lineage_of_a_training_dataset(project: lakebox.Project, pipeline: dict[str, Any]) -> None:
    graph = project.lineage("attendance", kind="training_dataset", version=pipeline["version"], direction="up")
    assert (graph.root.kind, graph.root.name, graph.root.version) == ("training_dataset", "attendance", 1)
    assert _edges(graph) == {
        ("feature_view:attendance", "materializes", "training_dataset:attendance"),
        ("feature_group:games", "read_snapshot", "training_dataset:attendance"),
        ("feature_group:teams", "read_snapshot", "training_dataset:attendance"),
        ("feature_group:games", "reads", "feature_view:attendance"),
        ("feature_group:teams", "reads", "feature_view:attendance"),
    }
    commits = {graph.nodes[s].name: x["commit_id"] for s, _, r, x in graph.edges if r == "read_snapshot"}
    assert commits == {"games": 1, "teams": 2}  # the snapshots it read
    assert {a.name for a in graph.upstream()} == {"attendance", "games", "teams"}
    assert graph.downstream() == []
    assert project.lineage("attendance", kind="training_dataset", direction="down").edges == []

    text = str(graph)
    lines = text.splitlines()
    assert lines[0] == "training_dataset attendance v1"
    assert "  ↑ materializes: feature_view attendance v1" in lines
    assert "    ↑ reads: feature_group games v1" in lines and "  ↑ read_snapshot: feature_group teams v1" in lines
    assert graph.tree() == text and len(lines) == 6
    data = graph.to_dict()
    assert data["root"] == graph.root.id and len(data["edges"]) == 5


def test_lineage_of_a_group_and_a_view(project: lakebox.Project, pipeline: dict[str, Any]) -> None:
    games, view = pipeline["games"], pipeline["view"]
    down = project.lineage(games, direction="down")
    assert _edges(down) == {
        ("feature_group:games", "reads", "feature_view:attendance"),
        ("feature_view:attendance", "materializes", "training_dataset:attendance"),
        ("feature_group:games", "read_snapshot", "training_dataset:attendance"),
    }
    assert project.lineage(games, direction="up").edges == []
    assert _edges(project.lineage("games", direction="both")) == _edges(down)
    assert str(down).splitlines()[0] == "feature_group games v1" and "↓ reads: feature_view attendance v1" in str(down)

    up = project.lineage(view, direction="up")
    assert _edges(up) == {
        ("feature_group:games", "reads", "feature_view:attendance"),
        ("feature_group:teams", "reads", "feature_view:attendance"),
    }
    view_down = project.lineage("attendance", kind="feature_view", direction="down")
    assert _edges(view_down) == {("feature_view:attendance", "materializes", "training_dataset:attendance")}
    both = project.lineage(view)
    assert _edges(both) == _edges(up) | _edges(view_down)
    assert {a.name for a in both.downstream()} == {"attendance"}

    view.delete_training_dataset(pipeline["version"])
    assert project.lineage(view, direction="down").edges == []


def test_lineage_errors(project: lakebox.Project, pipeline: dict[str, Any]) -> None:
    with pytest.raises(QueryError, match="kind"):
        project.lineage("attendance")  # the view and its training dataset share the name
    with pytest.raises(NotFoundError):
        project.lineage("nope")
    with pytest.raises(NotFoundError):
        project.lineage("games", version=7)
    with pytest.raises(ValidationError, match="direction"):
        project.lineage("games", direction="sideways")


def test_deleting_a_view_removes_its_training_datasets_from_the_index(project: lakebox.Project) -> None:
    group, view, version = _view_and_dataset(project.get_feature_store())
    view.add_training_dataset_tag(version, "stage", "prod")
    assert names(project.search("ratings", kind="training_dataset")) == [("training_dataset", "ratings")]
    view.delete()
    assert project.search("ratings", kind=["feature_view", "training_dataset"]) == []
    assert project.search("prod") == []
    assert project.lineage(group, direction="down").edges == []
    assert_index_in_step(project)
    group.delete()
    again = declared(project.get_feature_store(), "players", "A new group under an old name.")
    assert [h.description for h in project.search("players")] == ["A new group under an old name."]
    assert again.get_tags() == {}
    assert_index_in_step(project)

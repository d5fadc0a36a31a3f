"""The browser's data layer (``lakebox.tui.source``) against a real box, without the app: every
read calls the public api directly, so a renamed api method fails here by name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_tui import DATASET, GAMES, PLAYERS, VIEW, make_box

from lakebox.cli import cli
from lakebox.errors import NotFoundError
from lakebox.tui.model import ReadOnlyError, Ref, bar_chart, parse_tag_value, sparkline
from lakebox.tui.source import Source

SCORES = Ref("feature_group", "scores", 1)
MODEL = Ref("model", "attendance_model", 2)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    project = make_box(tmp_path_factory.mktemp("tui_source") / "demo.lakebox")
    yield project
    project.close()


@pytest.fixture
def source(project: Any) -> Source:
    return Source(lambda: project)


def test_catalog_lists_every_kind(source: Source) -> None:
    catalog = source.catalog()
    assert catalog.errors == []
    assert [r.name for r in catalog.groups] == ["games", "players", "scores", "teams"]
    assert catalog.views == [VIEW] and catalog.datasets == [DATASET]
    assert catalog.experiments == []
    assert catalog.models == [Ref("model", "attendance_model", 1), MODEL]
    assert DATASET in catalog.refs()


def test_overviews_of_each_kind(source: Source, project: Any) -> None:
    group = source.overview(PLAYERS)
    assert dict(group.facts)["primary key"] == "player_id" and group.schema is not None
    assert group.schema.rows[0] == ["key", "player_id", "bigint", "Player identifier."]
    assert group.editable_description
    view = source.overview(VIEW)
    assert "games v1" in dict(view.facts)["reads"] and dict(view.facts)["training datasets"] == "1"
    dataset = source.overview(DATASET)
    assert dict(dataset.facts)["split"] == "random: test 0.2, seed 42" and not dataset.editable_description
    assert dataset.schema is not None and {r[0] for r in dataset.schema.rows} == {"games", "teams"}
    assert GAMES in dataset.schema.keys
    model = source.overview(MODEL)
    assert dict(model.facts)["trained on"] == "attendance v1 · td 1"
    assert model.schema is not None and model.schema.rows == [["", "rmse", "1100"]]


def test_history_pages_statistics_and_reports(source: Source, project: Any) -> None:
    commits = source.commits(PLAYERS)
    assert [c.commit_id for c in commits] == [2, 1]
    total = project.get_feature_store().get_feature_group("players", 1).read(dataframe_type="arrow").num_rows
    page = source.preview(PLAYERS, None, 0, 10)
    assert page.latest_commit == 2 and len(page.table.rows) == 10 and page.has_more
    last = source.preview(PLAYERS, None, total - 5, 10)
    assert len(last.table.rows) == 5 and not last.has_more
    old = source.preview(PLAYERS, 1, 0, 10)
    assert old.commit_id == 1 and old.table.rows[0][1] == "2024-08-01 00:00:00Z"
    stats = source.statistics(PLAYERS)
    assert stats is not None and stats.row_count == total
    assert [f.name for f in stats.features][:2] == ["player_id", "ts"]
    train = source.statistics(DATASET)
    assert train is not None and train.title == "split train"
    reports = source.validation_reports(SCORES)
    assert [r["success"] for r in reports] == [True, False]
    assert source.validation_reports(PLAYERS) == []


def test_view_datasets_model_versions_lineage_and_search(source: Source) -> None:
    datasets = source.datasets(VIEW)
    assert datasets.keys == [DATASET]
    versions = source.model_versions(MODEL)
    assert [r[:2] for r in versions.rows] == [["1", "1234.5"], ["2", "1100"]]
    lineage = source.lineage(DATASET)
    assert VIEW in [n.ref for n in lineage.upstream]
    assert {n.ref for n in lineage.downstream} >= {Ref("model", "attendance_model", 1), MODEL}
    hits = source.search("rating")
    assert (hits[0].label, hits[0].ref, hits[0].feature) == ("rating", PLAYERS, "rating")
    assert source.search("  ") == []


def test_a_missing_asset_is_a_lakebox_error(source: Source) -> None:
    with pytest.raises(NotFoundError):
        source.overview(Ref("feature_group", "nope", 1))
    with pytest.raises(NotFoundError):
        source.overview(Ref("experiment", "nope", 1))


def test_edits_and_read_only(tmp_path: Path) -> None:
    project = make_box(tmp_path / "edit.lakebox", full=False, n_teams=2, n_players=4, n_games=4)
    try:
        source = Source(lambda: project)
        token = source.change_token()
        source.set_tag(PLAYERS, "owner", {"team": "scouting"})
        source.set_description(PLAYERS, "Ratings.")
        assert source.tags(PLAYERS) == {"owner": {"team": "scouting"}}
        assert source.overview(PLAYERS).description == "Ratings."
        source.delete_tag(PLAYERS, "owner")
        assert source.tags(PLAYERS) == {}
        assert source.change_token() != token  # what the browser watches: it moves on every write
        token = source.change_token()
        teams = project.get_feature_store().get_feature_group("teams", 1)
        teams.insert(teams.read().head(1))  # another commit
        assert source.change_token() != token
        read_only = Source(lambda: project, read_only=True)
        with pytest.raises(ReadOnlyError, match="read-only"):
            read_only.set_tag(PLAYERS, "owner", "x")
        assert source.tags(PLAYERS) == {}
    finally:
        project.close()


def test_cli_has_a_tui_command(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["tui", "--help"])
    assert result.exit_code == 0 and "--read-only" in result.output
    result = runner.invoke(cli, ["tui", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "No box at" in result.output
    assert not (tmp_path / "missing").exists()  # never creates a box


def test_terminal_drawing_helpers() -> None:
    assert sparkline([0, 1, 2, 4, 8]) == " ▁▂▄█"
    assert len(sparkline(list(range(20)), 10)) == 10
    assert bar_chart([1, 0, 4], height=2, col_width=1) == ["  █", "▄ █"]  # 1/4 of two rows: half a row
    assert bar_chart([1, 0, 400], height=2, col_width=2)[-1] == "▁▁  ██"  # a non-zero bin never vanishes
    assert parse_tag_value("3") == 3 and parse_tag_value("x y") == "x y" and parse_tag_value('["a"]') == ["a"]

"""The demo dataset is deterministic, and the demo box shows both time axes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import lakebox
from lakebox.demo import (
    GROUP_NAMES,
    START,
    VIEW_NAME,
    DemoBox,
    DemoData,
    bad_players,
    build_demo_box,
    create_demo_view,
    delete_demo_groups,
    demo_groups,
    demo_views,
    frames_checksum,
    generate,
    late_game,
    player_expectations,
)


def _frames(data: DemoData) -> list[pd.DataFrame]:
    return [*data.teams, *data.players, *data.games, *data.corrections]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[DemoBox]:
    project = lakebox.connect(tmp_path / "demo.lakebox")
    yield build_demo_box(project)
    project.close()


def test_generate_is_deterministic() -> None:
    first, second = generate(), generate()
    for a, b in zip(_frames(first), _frames(second), strict=True):
        pd.testing.assert_frame_equal(a, b)
    other = generate(seed=7)
    assert not other.players[0].equals(first.players[0])


def test_generated_shapes_and_types() -> None:
    data = generate(days=3)
    assert [len(t) for t in data.teams] == [20, 2, 2]
    assert [len(p) for p in data.players] == [500, 525, 525]
    assert sum(len(g) for g in data.games) == 2000
    games = pd.concat(data.games, ignore_index=True)
    assert games["game_id"].is_unique and games["game_id"].is_monotonic_increasing
    assert (games["home_team_id"] != games["away_team_id"]).all()
    for frame in (*data.players, *data.games, *data.corrections):
        assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    for day in (1, 2, 3):
        assert data.batches(day)["games"]["ts"].dt.floor("D").eq(pd.Timestamp(data.day_start(day))).all()
    assert data.day_start(1) == START
    correction = data.corrections[0]
    assert (correction["ts"] == pd.Timestamp(START)).all()
    assert (correction["old_rating"] != correction["new_rating"]).all()


def test_two_builds_store_equal_data(tmp_path: Path) -> None:
    reads = []
    for name in ("a", "b"):
        with lakebox.connect(tmp_path / name) as project:
            built = build_demo_box(project)
            reads.append({g: built.groups[g].read() for g in GROUP_NAMES})
    for group in GROUP_NAMES:
        pd.testing.assert_frame_equal(reads[0][group], reads[1][group])


def test_commits_per_day(demo: DemoBox) -> None:
    assert demo.days == 2
    assert set(demo.commits) == set(GROUP_NAMES)
    players_day2 = demo.commit("players", 2)
    assert (players_day2.rows_inserted, players_day2.rows_updated) == (500, 25)
    assert demo.commit("teams", 2).rows_updated == 2 and demo.commit("teams", 2).rows_inserted == 0
    assert demo.commit("games", 2).rows_inserted == 1000
    assert demo.commit("players", 1).committed_ms < players_day2.committed_ms
    with pytest.raises(lakebox.ValidationError):
        demo.commit("players", 3)
    with pytest.raises(lakebox.ValidationError):
        demo.commit("coaches", 1)


def test_groups_are_described(demo: DemoBox) -> None:
    players = demo.groups["players"]
    assert players.primary_key == ["player_id"] and players.event_time == "ts" and players.description
    assert demo.groups["teams"].event_time is None
    for group in demo.groups.values():
        assert all(f.description for f in group.features), group.name


def test_time_travel_shows_the_day_one_ratings(demo: DemoBox) -> None:
    players = demo.groups["players"]
    day1 = demo.commit("players", 1)
    correction = demo.data.corrections[0]
    key = ["player_id", "ts"]

    then = players.read(wallclock_time=day1.committed_on)
    expected = demo.data.players[0].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(then, expected, check_dtype=False)
    by_commit_id = players.read(wallclock_time=day1.commit_id)
    pd.testing.assert_frame_equal(by_commit_id, then)

    now = players.read().set_index(key)
    old = then.set_index(key)
    for row in correction.itertuples(index=False):
        assert old.loc[(row.player_id, row.ts), "rating"] == row.old_rating
        assert now.loc[(row.player_id, row.ts), "rating"] == row.new_rating
    assert len(now) == 1000


def test_incremental_read_is_the_corrections_plus_the_new_snapshot(demo: DemoBox) -> None:
    players = demo.groups["players"]
    day1, day2 = demo.commit("players", 1), demo.commit("players", 2)
    changes = players.as_of(day2.committed_on, exclude_until=day1.committed_on).read()
    assert len(changes) == 525
    assert changes["ts"].value_counts().to_dict() == {
        pd.Timestamp(demo.data.day_start(2)): 500,
        pd.Timestamp(demo.data.day_start(1)): 25,
    }


def test_sql_over_the_demo(demo: DemoBox) -> None:
    fs = demo.project.get_feature_store()
    result = fs.sql(
        "SELECT t.team_name, avg(g.attendance) AS a FROM games_1 g JOIN teams_1 t ON g.home_team_id = t.team_id "
        "GROUP BY t.team_name"
    )
    assert len(result) == 20 and (result["a"] > 0).all()


def test_existing_demo_is_refused_until_deleted(demo: DemoBox) -> None:
    project = demo.project
    with pytest.raises(lakebox.AlreadyExistsError):
        build_demo_box(project)
    assert [c.commit_id for c in demo.groups["players"].commits()] == [1, 2]  # nothing was written
    assert sorted(delete_demo_groups(project)) == ["games v1", "players v1", "teams v1"]
    assert demo_groups(project) == []
    rebuilt = build_demo_box(project, n_players=50, n_games=20, n_teams=4)
    assert len(rebuilt.groups["players"].read()) == 100


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(lakebox.ValidationError):
        generate(n_teams=1)
    with pytest.raises(lakebox.ValidationError):
        generate(days=0)


# -- the feature view, reproducibility and serving -------------------------------------------
def test_demo_view_joins_each_game_with_its_home_team(demo: DemoBox) -> None:
    view = create_demo_view(demo)
    assert (view.name, view.version, view.labels) == (VIEW_NAME, 1, ["attendance"])
    assert view.transformation_functions == {"home_budget": "standard_scaler"}
    assert view.features == ["home_team_id", "away_team_id", "home_budget", "home_stadium_capacity"]
    x, y = view.training_data(primary_key=True)
    teams = demo.groups["teams"].read().set_index("team_id")
    games = pd.concat(demo.data.games, ignore_index=True).set_index("game_id")
    assert len(x) == len(y) == 2000
    first = x.iloc[0]
    assert first["home_stadium_capacity"] == teams.loc[first["home_team_id"], "stadium_capacity"]
    assert y["attendance"].iloc[0] == games.loc[first["game_id"], "attendance"]
    assert abs(x["home_budget"].mean()) < 1e-9  # standard-scaled on these rows


def test_late_game_is_a_new_game_of_day_one(demo: DemoBox) -> None:
    late = late_game(demo)
    assert late["game_id"].tolist() == [2001] and late.equals(late_game(demo))
    assert late["ts"].iloc[0].floor("D") == pd.Timestamp(START)
    assert str(late["ts"].dtype) == "datetime64[us, UTC]"
    assert list(late.columns) == [f.name for f in demo.groups["games"].features]


def test_frames_checksum() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, None]})
    assert frames_checksum([frame, None]) == frames_checksum([frame.copy()])
    assert frames_checksum([frame]) != frames_checksum([frame.iloc[::-1]])
    assert frames_checksum([frame]) != frames_checksum([frame.rename(columns={"a": "c"})])
    assert frames_checksum([frame]) != frames_checksum([frame.assign(b=[0.5, 1.0])])


def test_training_dataset_keeps_its_rows_after_a_late_game(demo: DemoBox) -> None:
    view = create_demo_view(demo)
    version = view.create_training_dataset(data_format="parquet", test_size=0.2, seed=42)
    assert view.get_training_dataset(version)["row_counts"] == {"test": 400, "train": 1600}
    before = view.get_training_data(version)
    demo.groups["games"].insert(late_game(demo))
    after = view.get_training_data(version)
    assert frames_checksum(list(before)) == frames_checksum(list(after))
    assert len(view.get_batch_data()) == 2001  # the view itself sees the late game
    vector = view.get_feature_vector({"game_id": 2001}, return_type="dict")  # and so does the online store
    assert (vector["home_team_id"], vector["away_team_id"]) == (1, 2)


def test_delete_removes_the_view_first(demo: DemoBox) -> None:
    view = create_demo_view(demo)
    view.create_training_dataset()
    assert [v.name for v in demo_views(demo.project)] == [VIEW_NAME]
    assert delete_demo_groups(demo.project) == ["feature view attendance v1", "teams v1", "players v1", "games v1"]
    assert demo_views(demo.project) == [] and demo_groups(demo.project) == []
    assert not any((demo.project.path / "artifacts" / "training_datasets").glob("attendance_1/*"))


# -- the catalog: validation, search and lineage over the demo ----------------------------------
def test_the_demo_players_pass_the_expectations_and_the_bad_batch_is_refused(demo: DemoBox) -> None:
    players = demo.groups["players"]
    players.set_expectations(player_expectations())
    assert players.validate(players.read()).success  # every generated day passes
    bad = bad_players(demo)
    assert bad.equals(bad_players(demo)) and bad["ts"].iloc[0] == pd.Timestamp(demo.data.day_start(demo.days + 1))
    report = players.validate(bad)
    assert [(r.rule, r.failed_rows) for r in report.results] == [
        ("not_null", 1), ("between", 1), ("between", 1), ("in_set", 1),
    ]  # fmt: skip
    before = (players.commit_details(), len(players.read()))
    with pytest.raises(lakebox.ValidationError) as caught:
        players.insert(bad)
    assert caught.value.report.to_dict() == report.to_dict()
    assert (players.commit_details(), len(players.read())) == before
    assert [r["commit_id"] for r in players.get_validation_reports()] == [None]
    players.insert(bad.iloc[[0]])  # the one good row goes in, and its report is kept
    assert [r["success"] for r in players.get_validation_reports()] == [False, True]


def test_search_and_lineage_over_the_demo(demo: DemoBox) -> None:
    view = create_demo_view(demo)
    version = view.create_training_dataset()
    kinds = {(h.kind, h.name) for h in demo.project.search("attend")}
    assert {("feature", "attendance"), ("feature_view", VIEW_NAME), ("training_dataset", VIEW_NAME)} <= kinds
    graph = demo.project.lineage(VIEW_NAME, kind="training_dataset", version=version)
    assert {a.name for a in graph.nodes.values()} == {VIEW_NAME, "games", "teams"}
    assert str(graph).startswith("training_dataset attendance v1\n")


# -- the training section: lagom, torch.distributed, the model registry -----------------------------
@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_demo_training_registers_the_best_model_with_lineage_to_the_groups(demo: DemoBox) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    import pickle

    from lakebox.demo_training import DISTRIBUTED_NAME, MODEL_NAME, SEARCH_NAME, delete_demo_models, train_demo_models

    project = demo.project
    view = create_demo_view(demo)
    version = view.create_training_dataset(data_format="parquet", test_size=0.2, seed=42)
    data = train_demo_models(project, view, version)

    search, ddp = data["search"], data["distributed"]
    assert search["status"] == "finished" and [t["status"] for t in search["trials"]] == ["finished"] * 4
    assert {t["worker"] for t in search["trials"]} == {0, 1}  # 2 worker processes
    assert ddp["status"] == "finished" and len(ddp["ranks"]) == 2
    assert ddp["ranks"][0]["r2"] == pytest.approx(ddp["ranks"][1]["r2"])  # computed over both shards
    assert sum(r["train_rows"] for r in ddp["ranks"]) == 1600
    assert [(m["version"], m["framework"]) for m in data["models"]] == [(1, "scikit-learn"), (2, "torch")]

    mr = project.get_model_registry()
    best = mr.get_model(MODEL_NAME, data["best_model"]["version"])
    assert best.metrics["r2"] == max(m["metrics"]["r2"] for m in data["models"]) > 0.5
    assert mr.get_model(MODEL_NAME, 1).files == ["features.json", "model.pkl"]
    assert mr.get_model(MODEL_NAME, 2).files == ["model.pt"]
    _, x_test, _, y_test = view.get_training_data(version)
    with open(mr.get_model(MODEL_NAME, 1).path / "model.pkl", "rb") as f:
        regressor = pickle.load(f)
    assert regressor.score(x_test, y_test.iloc[:, 0]) == pytest.approx(search["best_val"])

    assert data["feature_groups"] == ["games", "teams"]
    graph = project.lineage(best, direction="up")
    assert {(a.kind, a.name) for a in graph.nodes.values()} == {
        ("model", MODEL_NAME), ("training_dataset", VIEW_NAME), ("feature_view", VIEW_NAME),
        ("feature_group", "games"), ("feature_group", "teams"),
    }  # fmt: skip
    for name in (SEARCH_NAME, DISTRIBUTED_NAME):  # each run recorded the training dataset it read
        (run,) = project.get_experiments(name)
        assert [(d.kind, d.name, d.version) for d in run.training_datasets()] == [("training_dataset", VIEW_NAME, 1)]

    mr.create_model("mine", metrics={"r2": 0.1})  # not the demo's: a rebuild keeps it
    assert sorted(delete_demo_models(project)) == [
        f"experiment {SEARCH_NAME} run 1", f"experiment {DISTRIBUTED_NAME} run 1",
        f"model {MODEL_NAME} v1", f"model {MODEL_NAME} v2",
    ]  # fmt: skip
    assert [m.name for m in mr.get_models()] == ["mine"] and project.get_experiments() == []

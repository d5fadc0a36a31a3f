"""Training datasets are created atomically (issue 10): concurrent creators in two processes
each get their own version and rows; a failure or a killed creator at any step leaves no
files, no pin and no catalog row, and never touches another version."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import lakebox
from lakebox.errors import ConflictError, NotFoundError
from lakebox.transformations import register_transformation_function, unregister_transformation_function

TS = pa.timestamp("us", tz="UTC")
N = 60
SPAWN = multiprocessing.get_context("spawn")


def _games() -> pa.Table:
    return pa.table(
        {
            "gid": pa.array(range(N), pa.int64()),
            "ts": pa.array([datetime(2024, 1, 1 + i % 20, tzinfo=UTC) for i in range(N)], TS),
            "team_id": pa.array([i % 3 for i in range(N)], pa.int64()),
            "x": pa.array([float(i) * 1.5 for i in range(N)], pa.float64()),
            "won": pa.array([i % 2 for i in range(N)], pa.int64()),
        }
    )


def _teams() -> pa.Table:
    return pa.table({"team_id": pa.array([0, 1, 2], pa.int64()), "rating": pa.array([1.0, 2.0, 3.0], pa.float64())})


def _setup(box: Path, transformations: dict[str, str] | None = None) -> None:
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        games = fs.create_feature_group("games", version=1, primary_key=["gid"], event_time="ts")
        teams = fs.create_feature_group("teams", version=1, primary_key=["team_id"])
        games.insert(_games())
        teams.insert(_teams())
        query = games.select_all().join(teams.select(["rating"]), on=["team_id"])
        fs.create_feature_view("wins", version=1, query=query, labels=["won"], transformation_functions=transformations or {})


def _view(project: Any) -> Any:
    return project.get_feature_store().get_feature_view("wins", 1)


def _folder(box: Path) -> Path:
    return box / "artifacts" / "training_datasets" / "wins_1"


def _catalog_rows(box: Path) -> list[tuple[int, str]]:
    con = sqlite3.connect(box / "catalog.db")
    try:
        return sorted(con.execute("SELECT version, state FROM training_datasets").fetchall())
    finally:
        con.close()


def _pins(project: Any) -> dict[str, set[str]]:
    fs = project.get_feature_store()
    return {name: set(fs.get_feature_group(name, 1).pins()) for name in ("games", "teams")}


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _wait_for(condition: Callable[[], bool], what: str, limit_s: float = 120.0) -> None:
    deadline = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.01)


def _frames_equal(left: tuple[Any, ...], right: tuple[Any, ...]) -> None:
    assert len(left) == len(right)
    for a, b in zip(left, right, strict=True):
        pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


# -- child processes (spawned: each opens its own box connection) ------------------------------
def _create_many(box: str, worker: int, count: int, go: str, out: str) -> None:
    """Wait for ``go``, then create ``count`` datasets with seeds of this worker; save, for
    each, the version, the rows it expected (an in-memory split with the same seed) and the
    hashes of the files right after creating."""
    while not Path(go).exists():
        time.sleep(0.001)
    with lakebox.connect(box) as project:
        view = _view(project)
        results = []
        for i in range(count):
            seed = 1000 * worker + i
            # an in-memory split (a version of its own, without files, as in hsfs)
            expected = view.train_test_split(test_size=0.3, seed=seed)
            version = view.create_training_dataset(test_size=0.3, seed=seed, description=f"worker {worker}")
            files = view.get_training_dataset_files(version)
            results.append({
                "version": version,
                "seed": seed,
                "expected": [f.drop(columns=["ts"], errors="ignore").to_dict(orient="list") for f in expected],
                "hashes": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files.values()},
            })
    import json

    Path(out).write_text(json.dumps(results))


def _stall_transform(marker: str) -> Callable[[np.ndarray, dict[str, Any]], np.ndarray]:
    calls = {"n": 0}

    def transform(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 2:  # the second split: the first one is already written
            Path(marker).write_text("writing")
            while True:  # until the parent kills this process
                time.sleep(0.01)
        return values

    return transform


def _create_stalling(box: str, marker: str) -> None:
    register_transformation_function("stall", fit=lambda v: {}, transform=_stall_transform(marker), replace=True)
    with lakebox.connect(box) as project:
        _view(project).create_training_dataset(test_size=0.3, seed=7)


def _create_plain(box: str) -> None:
    with lakebox.connect(box) as project:
        _view(project).create_training_dataset(test_size=0.3, seed=7)


# -- tests --------------------------------------------------------------------------------------
@pytest.mark.slow
def test_concurrent_creators_get_their_own_versions_and_rows(tmp_path: Path) -> None:
    import json

    box = tmp_path / "box.lakebox"
    _setup(box)
    go = tmp_path / "go"
    count = 3
    procs = [
        SPAWN.Process(target=_create_many, args=(str(box), w, count, str(go), str(tmp_path / f"out{w}.json")))
        for w in (1, 2)
    ]
    for p in procs:
        p.start()
    go.write_text("go")
    for p in procs:
        p.join(300)
        assert p.exitcode == 0
    results = {w: json.loads((tmp_path / f"out{w}.json").read_text()) for w in (1, 2)}
    versions = sorted(r["version"] for w in (1, 2) for r in results[w])
    assert len(set(versions)) == 2 * count  # every creator its own version
    with lakebox.connect(box) as project:
        view = _view(project)
        datasets = view.get_training_datasets()
        assert [d["version"] for d in datasets] == list(range(1, 4 * count + 1))  # with the in-memory splits
        assert [d["version"] for d in datasets if d["data_format"] != "in_memory"] == versions
        for w in (1, 2):
            for result in results[w]:
                version = result["version"]
                got = tuple(f.drop(columns=["ts"], errors="ignore") for f in view.get_training_data(version))
                expected = tuple(pd.DataFrame(f) for f in result["expected"])
                _frames_equal(tuple(g.astype(e.dtypes.to_dict()) for g, e in zip(got, expected, strict=True)), expected)
                assert view.get_training_dataset(version)["spec"]["seed"] == result["seed"]
                assert _hashes(_folder(box) / f"v{version}") == result["hashes"]  # byte for byte
        assert _catalog_rows(box) == [(v, "ready") for v in range(1, 4 * count + 1)]
        names = {f"td_wins_1_{v}" for v in versions}  # in-memory splits pin nothing
        assert _pins(project) == {"games": names, "teams": names}
    assert sorted(p.name for p in _folder(box).iterdir()) == sorted(f"v{v}" for v in versions)


def test_failing_transformation_leaves_nothing_and_next_create_works(tmp_path: Path) -> None:
    box_path = tmp_path / "box.lakebox"
    calls = {"n": 0, "fail": False}

    def transform(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        calls["n"] += 1
        if calls["fail"] and calls["n"] == 2:
            raise RuntimeError("injected failure in the second split")
        return values

    register_transformation_function("flaky", fit=lambda v: {}, transform=transform, replace=True)
    try:
        _setup(box_path, {"x": "flaky"})
        with lakebox.connect(box_path) as again:
            view = _view(again)
            assert view.create_training_dataset(test_size=0.3, seed=1) == 1
            before = _hashes(_folder(box_path) / "v1")
            calls.update(n=0, fail=True)
            with pytest.raises(RuntimeError, match="injected"):
                view.create_training_dataset(test_size=0.3, seed=2)
            assert _catalog_rows(box_path) == [(1, "ready")]
            assert sorted(p.name for p in _folder(box_path).iterdir()) == ["v1"]
            assert _hashes(_folder(box_path) / "v1") == before  # the other version untouched
            assert _pins(again) == {"games": {"td_wins_1_1"}, "teams": {"td_wins_1_1"}}
            assert [d["version"] for d in view.get_training_datasets()] == [1]
            assert project_search_versions(again) == [1]
            calls.update(n=0, fail=False)
            assert view.create_training_dataset(test_size=0.3, seed=2) == 2
            assert _pins(again) == {"games": {"td_wins_1_1", "td_wins_1_2"}, "teams": {"td_wins_1_1", "td_wins_1_2"}}
            assert project_search_versions(again) == [1, 2]
    finally:
        unregister_transformation_function("flaky")


def project_search_versions(project: Any) -> list[int]:
    hits = project.search("wins", kind="training_dataset")
    return sorted(h.version for h in hits)


def test_commit_expired_before_pinning_undoes_the_first_pin(tmp_path: Path) -> None:
    """A real race: retention expires the commit of the second group after it was read and
    before it is pinned. The pin of the first group is removed again; nothing is left."""
    box_path = tmp_path / "box.lakebox"
    calls: dict[str, Any] = {"n": 0}

    def transform(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 1:  # while the dataset is being written, another caller commits and expires
            teams = calls["fs"].get_feature_group("teams", 1)
            teams.insert(pa.table({"team_id": pa.array([0], pa.int64()), "rating": pa.array([9.0])}))
            teams.expire_commits(keep_last=1)
        return values

    register_transformation_function("racing", fit=lambda v: {}, transform=transform, replace=True)
    try:
        _setup(box_path, {"x": "racing"})
        with lakebox.connect(box_path) as again:
            calls["fs"] = again.get_feature_store()
            with pytest.raises(ConflictError, match="expired"):
                _view(again).create_training_dataset(test_size=0.3, seed=1)
            assert _catalog_rows(box_path) == []
            assert _pins(again) == {"games": set(), "teams": set()}
            assert not _folder(box_path).exists() or list(_folder(box_path).iterdir()) == []
            assert _view(again).create_training_dataset(test_size=0.3, seed=1) == 1  # calls > 1: no race now
    finally:
        unregister_transformation_function("racing")


@pytest.mark.slow
def test_creator_killed_while_writing_is_undone_by_the_next_create(tmp_path: Path) -> None:
    box = tmp_path / "box.lakebox"
    register_transformation_function("stall", fit=lambda v: {}, transform=lambda v, p: v, replace=True)
    try:
        _setup(box, {"x": "stall"})
        with lakebox.connect(box) as project:
            assert _view(project).create_training_dataset(test_size=0.3, seed=1) == 1
        before = _hashes(_folder(box) / "v1")
        marker = tmp_path / "marker"
        child = SPAWN.Process(target=_create_stalling, args=(str(box), str(marker)))
        child.start()
        _wait_for(marker.exists, "the child to be half-way through writing")
        child.kill()
        child.join()
        assert _catalog_rows(box) == [(1, "ready"), (2, "pending")]
        assert (_folder(box) / ".v2.tmp").is_dir()  # the half-written split
        with lakebox.connect(box) as project:
            view = _view(project)
            assert [d["version"] for d in view.get_training_datasets()] == [1]  # readers ignore it
            with pytest.raises(NotFoundError):
                view.get_training_data(2)
            assert view.create_training_dataset(test_size=0.3, seed=3) == 2  # undoes the orphan first
            assert _catalog_rows(box) == [(1, "ready"), (2, "ready")]
            assert sorted(p.name for p in _folder(box).iterdir()) == ["v1", "v2"]
            assert _hashes(_folder(box) / "v1") == before
            assert view.get_training_dataset(2)["spec"]["seed"] == 3
    finally:
        unregister_transformation_function("stall")


@pytest.mark.slow
def test_creator_killed_after_pinning_one_group_is_undone(tmp_path: Path) -> None:
    """The parent holds the second group's write lock, so the child pins the first group and
    then waits: killed there, it leaves a renamed folder, one pin and a pending row."""
    box = tmp_path / "box.lakebox"
    _setup(box)
    with lakebox.connect(box) as project:
        fs = project.get_feature_store()
        games, teams = fs.get_feature_group("games", 1), fs.get_feature_group("teams", 1)
        with teams._table.lock:
            child = SPAWN.Process(target=_create_plain, args=(str(box),))
            child.start()
            _wait_for(lambda: "td_wins_1_1" in games.pins(), "the child to pin the first group")
            child.kill()
            child.join()
        assert _catalog_rows(box) == [(1, "pending")]
        assert (_folder(box) / "v1").is_dir()
        view = _view(project)
        assert view.get_training_datasets() == []
        assert view._cleanup_datasets() == 1
        assert _catalog_rows(box) == []
        assert _pins(project) == {"games": set(), "teams": set()}
        assert list(_folder(box).iterdir()) == []
        assert view.create_training_dataset() == 1


def test_delete_is_hidden_first_and_leaves_nothing(tmp_path: Path) -> None:
    box_path = tmp_path / "box.lakebox"
    _setup(box_path)
    with lakebox.connect(box_path) as again:
        view = _view(again)
        assert view.create_training_dataset() == 1
        assert view.create_training_dataset(test_size=0.5, seed=4) == 2
        kept = _hashes(_folder(box_path) / "v2")
        view.delete_training_dataset(1)
        assert _catalog_rows(box_path) == [(2, "ready")]
        assert _pins(again) == {"games": {"td_wins_1_2"}, "teams": {"td_wins_1_2"}}
        assert sorted(p.name for p in _folder(box_path).iterdir()) == ["v2"]
        assert _hashes(_folder(box_path) / "v2") == kept
        assert project_search_versions(again) == [2]


def test_catalog_errors_of_views_are_typed(fs: Any, players_fg: Any) -> None:
    from lakebox.errors import AlreadyExistsError

    players_fg.insert(
        pa.table({"pid": pa.array([1], pa.int64()), "ts": pa.array([datetime(2024, 1, 1, tzinfo=UTC)], TS)})
    )
    fs.create_feature_view("v", version=1, query=players_fg.select_all())
    views = fs._views
    with pytest.raises(AlreadyExistsError, match="already exists"):
        views.create(name="v", version=1, description="", query={}, labels=[], transformations={})
    row = views.get("v", 1)
    with pytest.raises(ConflictError):  # a view id that does not exist (deleted meanwhile)
        views.reserve_dataset(
            row.id + 100, location_of=lambda v: f"x/v{v}", data_format="parquet", description="", spec={},
            snapshots=[], transformations={},
        )


def test_time_split_datasets_still_pin_once(tmp_path: Path) -> None:
    box_path = tmp_path / "box.lakebox"
    _setup(box_path)
    with lakebox.connect(box_path) as again:
        view = _view(again)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        version = view.create_training_dataset(
            train_start=start, train_end=start + timedelta(days=10),
            test_start=start + timedelta(days=10), test_end=start + timedelta(days=30),
        )
        x_train, x_test, _, _ = view.get_training_data(version)
        assert len(x_train) + len(x_test) == N
        assert _pins(again) == {"games": {"td_wins_1_1"}, "teams": {"td_wins_1_1"}}

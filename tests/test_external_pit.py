"""External groups in the planner: point-in-time joins mixing internal and external groups
(checked against the oracle), feature views over them, and training datasets that keep the
rows they read after the source changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from pit_oracle import Group, expected_rows

import lakebox
import lakebox.sources as sources
from lakebox.external_group import ExternalFeatureGroup

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def at(hours: int) -> datetime:
    return T0 + timedelta(hours=hours)


def history(seed: int, keys: int, times: int, key: str, value: str) -> list[dict[str, Any]]:
    """Rows with distinct (key, time): several event times per key, some keys missing."""
    rng = random.Random(seed)
    rows = []
    for k in range(keys):
        for h in sorted(rng.sample(range(0, 48), times)):
            rows.append({key: k, "ts": at(h), value: rng.randint(0, 1000) / 10})
    return rows


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows)


@pytest.fixture
def mixed(fs: Any, tmp_path: Path) -> dict[str, Any]:
    """players (internal, history), prices (external parquet, history), teams (external
    sqlite-free DuckDB-less CSV, no event time) and a spine of labels."""
    players = history(1, 5, 4, "pid", "rating")
    prices = history(2, 4, 5, "pid", "price")
    fg = fs.create_feature_group("players", primary_key=["pid"], event_time="ts")
    fg.insert(frame(players))
    folder = tmp_path / "prices"
    folder.mkdir()
    table = pa.Table.from_pylist(prices)
    pq.write_table(table.slice(0, 9), folder / "a.parquet")
    pq.write_table(table.slice(9), folder / "b.parquet")
    ext = fs.create_external_feature_group("prices", source=sources.files(folder / "*.parquet"),
                                           primary_key=["pid"], event_time="ts")
    teams_csv = tmp_path / "teams.csv"
    pd.DataFrame({"pid": [0, 1, 2, 3, 4, 5], "team": ["a", "b", "a", "c", "b", "c"]}).to_csv(teams_csv, index=False)
    teams = fs.create_external_feature_group("teams", source=sources.files(teams_csv), primary_key=["pid"])
    rng = random.Random(3)
    spine = [{"pid": rng.randint(0, 6), "ts": at(rng.randint(0, 50)), "label": rng.randint(0, 1)} for _ in range(40)]
    labels = fs.create_feature_group("labels", primary_key=["pid"], event_time="ts")
    dedup = {(r["pid"], r["ts"]): r for r in spine}
    labels.insert(frame(list(dedup.values())))
    return {"players": players, "prices": prices, "spine": spine, "labels": labels, "ext": ext, "fg": fg,
            "teams": teams, "folder": folder, "dedup": list(dedup.values())}


def test_get_features_mixes_internal_and_external_groups_like_the_oracle(fs: Any, mixed: dict[str, Any]) -> None:
    spine = mixed["spine"]
    got = fs.get_features(["rating", "price", "team"], entity_df=frame(spine)[["pid", "ts"]], dataframe_type="arrow")
    groups = [Group("players", ["pid"], "ts", mixed["players"]), Group("prices", ["pid"], "ts", mixed["prices"]),
              Group("teams", ["pid"], None, [{"pid": i, "team": t} for i, t in enumerate("abacbc")])]
    want = expected_rows(spine, ["pid", "ts"], groups, [("players", "rating"), ("prices", "price"), ("teams", "team")], "ts")
    assert [tuple(r.values()) for r in got.to_pylist()] == want
    assert got.num_rows == len(spine)  # one row per spine row, never more


def test_query_join_onto_an_internal_label_group_like_the_oracle(fs: Any, mixed: dict[str, Any]) -> None:
    labels, ext = mixed["labels"], mixed["ext"]
    q = labels.select_all().join(ext.select(["price"])).join(mixed["fg"].select(["rating"]))
    got = q.read(dataframe_type="arrow")
    spine = sorted(mixed["dedup"], key=lambda r: (r["pid"], r["ts"]))
    groups = [Group("prices", ["pid"], "ts", mixed["prices"]), Group("players", ["pid"], "ts", mixed["players"])]
    want = expected_rows(spine, ["pid", "ts", "label"], groups, [("prices", "price"), ("players", "rating")], "ts")
    assert [tuple(r.values()) for r in got.to_pylist()] == want
    # and an external group can be the left side too
    left = ext.select_all().join(mixed["fg"].select(["rating"]))
    assert left.read().shape[0] == len(mixed["prices"])


def test_external_groups_are_found_by_name_and_in_fs_sql(fs: Any, mixed: dict[str, Any]) -> None:
    assert isinstance(fs.get_feature_group("prices"), ExternalFeatureGroup)
    assert {type(g).__name__ for g in fs.get_feature_groups()} == {"FeatureGroup", "ExternalFeatureGroup"}
    count = fs.sql("SELECT COUNT(*) AS n FROM prices_1")["n"][0]
    assert count == len(mixed["prices"])


def test_as_of_on_a_mixed_query_names_the_external_group(fs: Any, mixed: dict[str, Any]) -> None:
    with pytest.raises(lakebox.QueryError, match="prices v1 has no history"):
        fs.get_features(["rating", "price"], entity_df=frame(mixed["spine"])[["pid", "ts"]], as_of=T0)
    with pytest.raises(lakebox.QueryError, match="prices v1"):
        mixed["labels"].select_all().join(mixed["ext"].select(["price"])).as_of(T0).read()


def test_duplicate_source_rows_fail_the_join_clearly(fs: Any, mixed: dict[str, Any]) -> None:
    first = mixed["prices"][0]
    pq.write_table(pa.Table.from_pylist([first]), mixed["folder"] / "c.parquet")
    with pytest.raises(lakebox.DuplicateKeyError, match=r"prices v1.*primary key and event time"):
        fs.get_features(["rating", "price"], entity_df=frame(mixed["spine"])[["pid", "ts"]])


def test_a_training_dataset_keeps_its_rows_after_the_source_changes(fs: Any, mixed: dict[str, Any]) -> None:
    query = mixed["labels"].select_all().join(mixed["ext"].select(["price"])).join(mixed["teams"].select(["team"]))
    fv = fs.create_feature_view("pricing", query=query, labels=["label"])
    version = fv.create_training_dataset(test_size=0.25, seed=7)
    before = [t.copy() for t in fv.get_training_data(version)]
    time_split = fv.create_training_dataset(train_end=at(30), test_start=at(30))
    time_before = [t.copy() for t in fv.get_training_data(time_split)]
    # the source changes: every price doubles, a new file appears
    for path in mixed["folder"].glob("*.parquet"):
        table = pq.read_table(path)
        pq.write_table(table.set_column(2, "price", pa.compute.multiply(table.column("price"), 2)), path)
    after = fv.get_training_data(version)
    for old, new in zip(before, after, strict=True):
        pd.testing.assert_frame_equal(old, new)
    for old, new in zip(time_before, fv.get_training_data(time_split), strict=True):
        pd.testing.assert_frame_equal(old, new)
    # fresh training data sees the change
    X, _ = fv.training_data()
    assert X["price"].sum() == pytest.approx(2 * pd.concat([before[0], before[1]])["price"].sum())
    # lineage: the dataset and view read the external group
    lineage = fs.project.lineage(mixed["ext"])
    assert "pricing" in str(lineage)


def test_to_internal_then_time_travel(fs: Any, mixed: dict[str, Any]) -> None:
    copy = mixed["ext"].to_internal()
    assert copy.version == 2
    first = copy.commits()[0]
    assert copy.read(wallclock_time=first.committed_on).shape[0] == len(mixed["prices"])
    assert fs.get_features(["prices.price"], entity_df=frame(mixed["spine"])[["pid", "ts"]]).shape[0] == len(mixed["spine"])


def test_max_age_applies_to_external_groups_like_the_oracle(fs: Any, mixed: dict[str, Any]) -> None:
    spine = mixed["spine"]
    age = timedelta(hours=6)
    got = fs.get_features(["rating", "price"], entity_df=frame(spine)[["pid", "ts"]], max_age=age, dataframe_type="arrow")
    groups = [Group("players", ["pid"], "ts", mixed["players"]), Group("prices", ["pid"], "ts", mixed["prices"])]
    want = expected_rows(spine, ["pid", "ts"], groups, [("players", "rating"), ("prices", "price")], "ts", max_age=age)
    assert [tuple(r.values()) for r in got.to_pylist()] == want


def test_a_view_over_an_external_label_group_serves_from_the_online_store(fs: Any, tmp_path: Path) -> None:
    shops = fs.create_feature_group("shops", primary_key=["pid"], online_enabled=True)
    shops.insert(pd.DataFrame({"pid": [1, 2], "rating": [4.5, 3.0]}))
    labels_csv = tmp_path / "labels.csv"
    pd.DataFrame({"pid": [1, 2, 1], "ts": ["2026-03-01 00:00:00", "2026-03-01 00:00:00", "2026-03-02 00:00:00"],
                  "clicked": [1, 0, 0]}).to_csv(labels_csv, index=False)
    labels = fs.create_external_feature_group("clicks", source=sources.files(labels_csv), primary_key=["pid"],
                                              event_time="ts")
    fv = fs.create_feature_view("ranking", query=labels.select(["clicked"]).join(shops.select(["rating"])),
                                labels=["clicked"])
    X, y = fv.training_data()
    assert sorted(X["rating"]) == [3.0, 4.5, 4.5] and sorted(y["clicked"]) == [0, 0, 1]
    assert fv.get_feature_vector({"pid": 2}) == [3.0]

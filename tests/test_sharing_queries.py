"""A group another project shares, inside the planner: ``fg.select(...).join(shared.select(...))``,
``fs.get_features(["shop::orders.amount", ...])`` with point-in-time joins across projects (checked
against the PIT oracle), filters on its features, feature views and training datasets built on
such queries; revoking the share fails the next read with an error naming the owner and the fix.

``lab``'s own first group also has id 1 and is also called ``orders``, as ``shop``'s: the planner
must never mix them up."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day

import lakebox
from lakebox.errors import AuthError, ValidationError
from lakebox.testing.oracle import Group, expected_rows

N_KEYS = 6


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def _random_table(rng: np.random.Generator, n: int, column: str, keys: int = N_KEYS) -> pa.Table:
    """Rows with repeated keys and event times on whole days (ties with the spine on purpose)."""
    pids = rng.integers(0, keys, n)
    days = rng.integers(1, 10, n)
    frame = pd.DataFrame({"pid": pids, "ts": [day(int(d)) for d in days], column: rng.normal(0, 10, n).round(3)})
    frame = frame.drop_duplicates(["pid", "ts"], keep="last")
    return pa.table({"pid": pa.array(frame["pid"], pa.int64()), "ts": pa.array(frame["ts"], TS),
                     column: pa.array(frame[column], pa.float64())})  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> Any:
    rng = np.random.default_rng(15)
    home = tmp_path / "home"
    home.mkdir()
    shop = lakebox.connect(home / "shop.lakebox")
    lab = lakebox.connect(home / "lab.lakebox")
    try:
        orders = shop.get_feature_store().create_feature_group("orders", version=1, primary_key=["pid"], event_time="ts")
        orders.insert(_random_table(rng, 40, "amount"))
        fs = lab.get_feature_store()
        local = fs.create_feature_group("orders", version=1, primary_key=["pid"], event_time="ts")  # id 1 too
        local.insert(_random_table(rng, 30, "amount"))
        players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
        players.insert(_random_table(rng, 30, "age"))
        labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
        labels.insert(_random_table(rng, 20, "label", keys=N_KEYS + 2))  # keys 6, 7: no orders at all
        yield {"shop": shop, "lab": lab, "orders": orders, "fs": fs, "local": local, "players": players, "labels": labels}
    finally:
        lab.close()
        shop.close()


def _oracle(spine: list[dict[str, Any]], groups: dict[str, pa.Table], features: list[tuple[str, str]],
            spine_columns: list[str]) -> list[tuple[Any, ...]]:  # fmt: skip
    oracle_groups = [Group(name, ["pid"], "ts", _rows(table)) for name, table in groups.items()]
    return expected_rows(spine, spine_columns, oracle_groups, features, "ts")


def _tuples(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return [tuple(None if v != v else v for v in row.values()) for row in table.to_pylist()]  # NaN -> None


def test_a_query_joins_a_shared_group_point_in_time(world: Any) -> None:
    orders, labels, players, local, fs = world["orders"], world["labels"], world["players"], world["local"], world["fs"]
    with pytest.raises(AuthError, match="does not share"):
        fs.get_shared_feature_group("shop", "orders", 1)
    orders.share_with("lab")
    current = lakebox.project.current_project()
    shared = fs.get_shared_feature_group("shop", "orders", 1)
    assert lakebox.project.current_project() is current  # opening the owner's box does not change lagom's project
    query = (labels.select(["pid", "ts", "label"]).join(players.select(["age"]))
             .join(shared.select(["amount"]), prefix="shop_").join(local.select(["amount"])))  # fmt: skip
    got = query.read()
    assert list(got.columns) == ["pid", "ts", "label", "age", "shop_amount", "amount"]
    spine = labels.read(dataframe_type="arrow").sort_by([("pid", "ascending"), ("ts", "ascending")])
    expected = _oracle(_rows(spine), {"players": players.read(dataframe_type="arrow"),
                                      "shop": orders.read(dataframe_type="arrow"),
                                      "local": local.read(dataframe_type="arrow")},
                       [("players", "age"), ("shop", "amount"), ("local", "amount")], ["pid", "ts", "label"])  # fmt: skip
    assert _tuples(got) == expected
    assert any(row[4] is None for row in expected) and any(row[4] is not None for row in expected)
    assert "shop__orders_1" in query.to_sql() and '"orders_1"' in query.to_sql()

    # a filter on the shared group's feature, and the shared group as the query's root
    filtered = query.filter(shared.amount > 0).read()
    assert _tuples(filtered) == [row for row in expected if row[4] is not None and row[4] > 0]
    rooted = shared.select_all().join(players.select(["age"])).read()
    owner_rows = orders.read(dataframe_type="arrow").sort_by([("pid", "ascending"), ("ts", "ascending")])
    assert _tuples(rooted) == _oracle(_rows(owner_rows), {"players": players.read(dataframe_type="arrow")},
                                      [("players", "age")], ["pid", "ts", "amount"])  # fmt: skip

    orders.revoke_share("lab")
    with pytest.raises(AuthError, match=r"does not share feature group orders v1 with 'lab' \(or revoked it\)"):
        query.read()
    with pytest.raises(AuthError, match="revoked"):
        rooted = shared.select_all().read()


def test_get_features_names_another_projects_features(world: Any) -> None:
    orders, players, local, fs = world["orders"], world["players"], world["local"], world["fs"]
    rng = np.random.default_rng(7)
    spine = pd.DataFrame({"pid": rng.integers(0, N_KEYS + 2, 25),
                          "ts": pd.to_datetime([day(int(d), int(h)) for d, h in zip(rng.integers(1, 11, 25),
                                                                                    rng.integers(0, 2, 25))], utc=True)})  # fmt: skip
    names = ["age", "orders.amount", "shop::orders.amount"]
    with pytest.raises(AuthError, match="does not share"):
        fs.get_features(names, entity_df=spine, event_time="ts")
    orders.share_with("lab")
    got = fs.get_features(names, entity_df=spine, event_time="ts")
    assert list(got.columns) == ["pid", "ts", "age", "amount", "shop_orders_amount"]
    expected = _oracle(spine.to_dict("records"), {"players": players.read(dataframe_type="arrow"),
                                                  "local": local.read(dataframe_type="arrow"),
                                                  "shop": orders.read(dataframe_type="arrow")},
                       [("players", "age"), ("local", "amount"), ("shop", "amount")], ["pid", "ts"])  # fmt: skip
    assert [row[2:] for row in _tuples(got)] == [row[2:] for row in expected]

    # max_age applies across projects as at home; the version can be named
    aged = fs.get_features(["shop::orders:1.amount"], entity_df=spine, event_time="ts", max_age=timedelta(days=1))
    fresh = _oracle(spine.to_dict("records"), {"shop": orders.read(dataframe_type="arrow")}, [("shop", "amount")],
                    ["pid", "ts"])  # fmt: skip
    oracle_aged = expected_rows(spine.to_dict("records"), ["pid", "ts"],
                                [Group("shop", ["pid"], "ts", _rows(orders.read(dataframe_type="arrow")))],
                                [("shop", "amount")], "ts", max_age=timedelta(days=1))  # fmt: skip
    assert [r[2] for r in _tuples(aged)] == [r[2] for r in oracle_aged] != [r[2] for r in fresh]
    # without an entity_df the shared group is the spine, as a local one would be
    alone = fs.get_features(["shop::orders.amount"])
    assert len(alone) == len(orders.read())

    with pytest.raises(ValidationError, match="GROUP.FEATURE"):
        fs.get_features(["shop::amount"], entity_df=spine, event_time="ts")
    with pytest.raises(lakebox.errors.NotFoundError, match="No project 'nope'"):
        fs.get_features(["nope::orders.amount"], entity_df=spine, event_time="ts")
    orders.revoke_share("lab")
    with pytest.raises(AuthError, match="revoked"):
        fs.get_features(names, entity_df=spine, event_time="ts")


def test_a_feature_view_on_a_shared_group(world: Any) -> None:
    orders, labels, players, fs, lab = world["orders"], world["labels"], world["players"], world["fs"], world["lab"]
    orders.share_with("lab")
    shared = fs.get_shared_feature_group("shop", "orders", 1)
    query = labels.select(["label"]).join(players.select(["age"])).join(shared.select(["amount"]), prefix="shop_")
    view = fs.create_feature_view("risk", version=1, query=query, labels=["label"])
    version = view.create_training_dataset(test_size=0.25, seed=3)
    x_train, x_test, _, _ = view.get_training_data(version)
    assert list(x_train.columns) == ["age", "shop_amount"] and len(x_train) + len(x_test) == len(labels.read())
    again = fs.get_feature_view("risk", 1)  # the stored query names the shared group by project
    pd.testing.assert_frame_equal(again.get_batch_data(), view.get_batch_data())
    snapshots = again.get_training_datasets()[0]["snapshots"]
    assert {"group": "orders", "version": 1, "project": "shop"}.items() <= next(
        s for s in snapshots if s.get("project")).items()

    # lineage: the view and the dataset read shop::orders v1
    graph = lab.lineage(view)
    assert "feature_group shop::orders v1 (shared by project shop)" in graph.tree()
    dataset_graph = lab.lineage("risk", kind="training_dataset", version=version, direction="up")
    assert any(a.name == "shop::orders" for a in dataset_graph.nodes.values())
    # ... and the owner sees which projects read its group, and what they made of it
    owner_graph = world["shop"].lineage(orders, direction="down")
    theirs = {(n["kind"], n["name"], n.get("project")) for n in owner_graph.to_dict()["nodes"].values()}
    assert {("feature_view", "lab::risk", "lab"), ("training_dataset", "lab::risk", "lab")} <= theirs
    assert "reads: feature_view lab::risk v1" in owner_graph.tree()
    for box, args, wanted in ((world["shop"].path, ["orders"], "lab::risk"),
                              (world["lab"].path, ["risk", "--kind", "feature_view"], "shop::orders v1")):  # fmt: skip
        shown = subprocess.run([sys.executable, "-m", "lakebox.cli", "--box", str(box), "lineage", *args],
                               capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
        assert shown.returncode == 0 and wanted in shown.stdout, shown.stdout + shown.stderr

    orders.revoke_share("lab")
    with pytest.raises(AuthError, match="revoked"):
        view.get_batch_data()
    with pytest.raises(AuthError, match="revoked"):
        fs.get_feature_view("risk", 1).get_batch_data()
    with pytest.raises(AuthError, match="revoked"):
        view.create_training_dataset(test_size=0.25, seed=3)
    # what was materialised is this project's own copy: it stays readable
    assert len(view.get_training_data(version)[0]) == len(x_train)


def test_a_view_over_a_shared_group_refuses_online_vectors_naming_the_owner(world: Any) -> None:
    orders, labels, fs = world["orders"], world["labels"], world["fs"]
    labels.enable_online()
    orders.share_with("lab")
    shared = fs.get_shared_feature_group("shop", "orders", 1)
    view = fs.create_feature_view("risk", version=1, query=labels.select(["label"]).join(shared.select(["amount"])))
    with pytest.raises(ValidationError, match=r"shop::orders v1, a group shared by project 'shop'.*fv.share_with"):
        view.get_feature_vector({"pid": 1})

"""Sharing a feature group read-only between two projects of one home: the grantee reads the
same rows (now and as of a commit), cannot write, is refused at once after revocation; grants
and revocations are audited."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import lakebox
from lakebox.errors import AlreadyExistsError, AuthError, NotFoundError, ValidationError


def test_share_read_revoke(tmp_path: Path) -> None:
    shop = lakebox.connect(tmp_path / "shop.lakebox")
    lab = lakebox.connect(tmp_path / "lab.lakebox")
    try:
        orders = shop.get_feature_store().create_feature_group("orders", version=1, primary_key=["oid"])
        orders.insert(pa.table({"oid": pa.array([1, 2], pa.int64()), "amount": pa.array([9.5, 3.0])}))
        first = max(orders.commit_details())
        orders.insert(pa.table({"oid": pa.array([3], pa.int64()), "amount": pa.array([1.0])}))
        fs = lab.get_feature_store()
        with pytest.raises(AuthError, match="does not share"):
            fs.get_shared_feature_group("shop", "orders", 1)
        orders.share_with("lab")
        assert [s["grantee"] for s in orders.get_shares()] == ["lab"]
        with pytest.raises(AlreadyExistsError):
            orders.share_with("lab")
        with pytest.raises(ValidationError, match="read"):
            orders.share_with("other", access="write")
        with pytest.raises(ValidationError, match="own project"):
            orders.share_with("shop")

        shared = fs.get_shared_feature_group("shop", "orders", 1)
        pd.testing.assert_frame_equal(shared.read(), orders.read())
        pd.testing.assert_frame_equal(shared.read(wallclock_time=first), orders.read(wallclock_time=first))
        assert shared.primary_key == ["oid"] and shared.commit_details() == orders.commit_details()
        with pytest.raises(AuthError, match="read-only"):
            shared.insert(pd.DataFrame({"oid": [4], "amount": [1.0]}))
        with pytest.raises(AuthError, match="read-only"):
            shared.delete_records(pd.DataFrame({"oid": [1]}))
        assert len(orders.read()) == 3

        orders.revoke_share("lab")
        with pytest.raises(AuthError, match="revoked"):
            shared.read()
        with pytest.raises(NotFoundError):
            orders.revoke_share("lab")
        with pytest.raises(NotFoundError, match="No project 'nope'"):
            fs.get_shared_feature_group("nope", "orders", 1)
        shared.close()

        actions = [(e.action, e.details.get("grantee")) for e in shop.get_audit_log(action="share")]
        assert actions == [("share.revoke", "lab"), ("share.grant", "lab")]
    finally:
        shop.close()
        lab.close()


def test_point_in_time_join_across_projects(tmp_path: Path) -> None:
    from helpers import TS, day

    shop = lakebox.connect(tmp_path / "shop.lakebox")
    lab = lakebox.connect(tmp_path / "lab.lakebox")
    try:
        orders = shop.get_feature_store().create_feature_group("orders", version=1, primary_key=["pid"], event_time="ts")
        orders.insert(pa.table({"pid": pa.array([1, 1, 2], pa.int64()), "ts": pa.array([day(1), day(3), day(2)], TS),
                                "amount": pa.array([10.0, 30.0, 20.0])}))  # fmt: skip
        fs = lab.get_feature_store()
        players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
        players.insert(pa.table({"pid": pa.array([1, 2], pa.int64()), "ts": pa.array([day(1), day(1)], TS),
                                 "age": pa.array([20.0, 30.0])}))  # fmt: skip
        spine = pd.DataFrame({"pid": [1, 2, 1, 3], "ts": pd.to_datetime([day(2), day(1), day(4), day(4)], utc=True)})
        with pytest.raises(AuthError, match="does not share"):
            fs.get_features(["age", "shop::orders.amount"], entity_df=spine, event_time="ts")
        orders.share_with("lab")
        got = fs.get_features(["age", "shop::orders.amount"], entity_df=spine, event_time="ts")
        # the owner's own point-in-time join on the same spine, and ours, side by side
        theirs = shop.get_feature_store().get_features(["orders.amount"], entity_df=spine, event_time="ts")
        ours = fs.get_features(["age"], entity_df=spine, event_time="ts")
        assert list(got.columns) == ["pid", "ts", "age", "amount"]
        pd.testing.assert_series_equal(got["amount"], theirs["amount"])
        pd.testing.assert_series_equal(got["age"], ours["age"])
        assert got["amount"].isna().tolist() == [False, True, False, True]  # never a value from the future
        assert got["amount"][0] == 10.0 and got["amount"][2] == 30.0
        only_shared = fs.get_features(["shop::orders:1.amount"], entity_df=spine, event_time="ts")
        pd.testing.assert_series_equal(only_shared["amount"], theirs["amount"])
        alone = fs.get_features(["shop::orders.amount"])  # no entity_df: the shared group is the spine
        pd.testing.assert_frame_equal(alone, shop.get_feature_store().get_features(["orders.amount"]))
        with pytest.raises(ValidationError, match="GROUP.FEATURE"):
            fs.get_features(["shop::amount"], entity_df=spine, event_time="ts")
        orders.revoke_share("lab")
        with pytest.raises(AuthError, match="revoked"):
            fs.get_features(["age", "shop::orders.amount"], entity_df=spine, event_time="ts")
    finally:
        shop.close()
        lab.close()


def test_a_shared_view_gives_training_and_batch_data_read_only(tmp_path: Path) -> None:
    shop = lakebox.connect(tmp_path / "shop.lakebox")
    lab = lakebox.connect(tmp_path / "lab.lakebox")
    try:
        fs = shop.get_feature_store()
        orders = fs.create_feature_group("orders", version=1, primary_key=["oid"], online_enabled=True)
        orders.insert(pa.table({"oid": pa.array([1, 2, 3, 4], pa.int64()), "amount": pa.array([9.5, 3.0, 1.0, 2.0]),
                                "fraud": pa.array([0, 1, 0, 1], pa.int64())}))  # fmt: skip
        view = fs.create_feature_view("fraud", version=1, query=orders.select(["amount", "fraud"]), labels=["fraud"])
        view.create_training_dataset(test_size=0.5, seed=1)
        with pytest.raises(AuthError, match="does not share"):
            lab.get_feature_store().get_shared_feature_view("shop", "fraud", 1)
        view.share_with("lab")
        shared = lab.get_feature_store().get_shared_feature_view("shop", "fraud", 1)
        for mine, theirs in zip(shared.get_training_data(1), view.get_training_data(1), strict=True):
            pd.testing.assert_frame_equal(mine, theirs)
        pd.testing.assert_frame_equal(shared.get_batch_data(), view.get_batch_data())
        assert shared.get_feature_vector({"oid": 2}) == view.get_feature_vector({"oid": 2})
        with pytest.raises(AuthError, match="read-only"):
            shared.create_training_dataset()
        view.revoke_share("lab")
        with pytest.raises(AuthError, match="revoked"):
            shared.get_batch_data()
        shared.close()
        assert [e.object for e in shop.get_audit_log(action="share.grant")] == ["feature_view:fraud:1"]
    finally:
        shop.close()
        lab.close()

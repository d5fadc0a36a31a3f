"""Sharing through a real ``lakebox serve --home`` process: a client of project ``lab`` gets
``shop::orders.amount`` point-in-time joined onto its own features (equal to the local call),
reads a view built on shop's shared group, streams a group in record batches, and is refused
(as a local caller is) from the request after ``shop`` revokes the share."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day
from http_server import free_port, running

import lakebox
from lakebox.errors import AuthError

CLI = "import sys; from lakebox.cli import main; sys.argv = ['lakebox', *sys.argv[1:]]; main()"


@pytest.mark.slow  # a server process
def test_shared_features_over_the_server(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shop = lakebox.connect(home / "shop.lakebox")
    lab = lakebox.connect(home / "lab.lakebox")
    try:
        orders = shop.get_feature_store().create_feature_group(
            "orders", version=1, primary_key=["pid"], event_time="ts"
        )
        orders.insert(pa.table({"pid": pa.array([1, 1, 2], pa.int64()), "ts": pa.array([day(1), day(3), day(2)], TS),
                                "amount": pa.array([10.0, 30.0, 20.0])}))  # fmt: skip
        orders.share_with("lab")
        fs = lab.get_feature_store()
        players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts")
        players.insert(pa.table({"pid": pa.array(range(1, 4), pa.int64()), "ts": pa.array([day(1)] * 3, TS),
                                 "age": pa.array([20.0, 30.0, 40.0])}))  # fmt: skip
        shared = fs.get_shared_feature_group("shop", "orders", 1)
        view = fs.create_feature_view("spend", version=1, query=players.select(["age"]).join(shared.select(["amount"])))
        key = lab.create_api_key("lab_key", scopes=["read:offline"])
        spine = pd.DataFrame({"pid": [1, 2, 1, 3], "ts": pd.to_datetime([day(2), day(1), day(4), day(4)], utc=True)})
        names = ["age", "shop::orders.amount"]
        local = fs.get_features(names, entity_df=spine, event_time="ts")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with running(CLI, "serve", "--home", str(home), "--port", str(port), folder=tmp_path, base=base), \
                lakebox.connect(base, api_key=key, project="lab") as remote:  # fmt: skip
            rfs = remote.get_feature_store()
            pd.testing.assert_frame_equal(rfs.get_features(names, entity_df=spine, event_time="ts"), local)
            assert local["amount"].isna().tolist() == [False, True, False, True]
            pd.testing.assert_frame_equal(rfs.get_feature_view("spend", 1).get_batch_data(), view.get_batch_data())
            batches = list(rfs.get_feature_group("players", 1).read_batches())
            assert pa.Table.from_batches(batches).equals(players.read(dataframe_type="arrow"))
            orders.revoke_share("lab")
            with pytest.raises(AuthError, match="revoked"):
                rfs.get_features(names, entity_df=spine, event_time="ts")
            with pytest.raises(AuthError, match="revoked"):
                rfs.get_feature_view("spend", 1).get_batch_data()
    finally:
        lab.close()
        shop.close()

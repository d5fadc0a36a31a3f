"""Remote reads and writes against a real server: ``fg.read`` (now and as of a commit),
``fs.get_features`` with an entity frame, ``fv.get_training_data``, ``fv.get_batch_data``
return the same frames as local calls; ``fg.insert`` sends Arrow IPC and returns the commit,
with the same validation errors; big inserts go in parts (one commit); scopes apply; the
audit log names the remote writer."""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from helpers import TS, day
from http_server import free_port, running

import lakebox
from lakebox.errors import AuthError, NotFoundError, NullKeyError, SchemaMismatchError, ValidationError
from lakebox.security import create_api_key

SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("data")
    path = folder / "shop.lakebox"
    project = lakebox.connect(path)
    fs = project.get_feature_store()
    labels = fs.create_feature_group("labels", version=1, primary_key=["pid"], event_time="ts")
    players = fs.create_feature_group("players", version=1, primary_key=["pid"], event_time="ts", online_enabled=True)
    labels.insert(pa.table({"pid": pa.array([1, 2, 3, 4], pa.int64()), "ts": pa.array([day(5)] * 4, TS),
                            "label": pa.array([0, 1, 0, 1], pa.int64())}))  # fmt: skip
    players.insert(pa.table({"pid": pa.array([1, 2, 3, 1], pa.int64()), "ts": pa.array([day(1), day(1), day(2), day(3)], TS),
                             "age": pa.array([20.0, None, 30.0, 21.0]), "city": ["Oslo", "Bergen", None, "Oslo"]}))  # fmt: skip
    players.insert(pa.table({"pid": pa.array([4], pa.int64()), "ts": pa.array([day(4)], TS), "age": pa.array([44.0]),
                             "city": ["Tromsø"]}))  # fmt: skip
    view = fs.create_feature_view("churn", version=1, query=labels.select(["label"]).join(players.select(["age", "city"])),
                                  labels=["label"])  # fmt: skip
    view.create_training_dataset(test_size=0.5, seed=7)
    project.add_user("writer", "editor")
    keys = {
        "reader": create_api_key(project, "reader", ["read:offline"]),
        "online": create_api_key(project, "online", ["read:online"]),
        "writer": create_api_key(project, "writer_key", principal="writer"),
    }
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(SERVE, str(path), str(port), folder=folder, base=base) as proc:
        yield {"base": base, "keys": keys, "project": project, **proc}
    project.close()


def remote(server: dict[str, Any], key: str = "reader") -> Any:
    return lakebox.connect(server["base"], api_key=server["keys"][key])


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_read_equals_local_now_and_as_of_a_commit(server: dict[str, Any]) -> None:
    local = server["project"].get_feature_store().get_feature_group("players", 1)
    with remote(server) as r:
        group = r.get_feature_store().get_feature_group("players", 1)
        assert group.primary_key == ["pid"] and group["event_time"] == "ts"
        pd.testing.assert_frame_equal(group.read(), local.read())
        first = min(local.commit_details())
        pd.testing.assert_frame_equal(group.read(wallclock_time=first), local.read(wallclock_time=first))
        assert group.read(dataframe_type="arrow").equals(local.read(dataframe_type="arrow"))
        pd.testing.assert_frame_equal(group.read(limit=2, offset=1), local.read(limit=2, offset=1))
        seen: list[tuple[int, int | None]] = []
        group.read(progress=lambda rows, total: seen.append((rows, total)))
        assert seen and seen[-1] == (len(local.read()), len(local.read()))


@pytest.mark.slow
def test_get_features_with_an_entity_frame_over_one_mebibyte(server: dict[str, Any]) -> None:
    """An entity frame bigger than the 1 MiB of ordinary requests goes up (frames may be 64 MiB)."""
    fs = server["project"].get_feature_store()
    n = 200_000
    spine = pd.DataFrame({"pid": np.arange(n) % 6, "ts": pd.to_datetime([day(5)] * n, utc=True)})
    with remote(server) as r:
        got = r.get_feature_store().get_features(["age", "label"], entity_df=spine, event_time="ts")
    pd.testing.assert_frame_equal(got, fs.get_features(["age", "label"], entity_df=spine, event_time="ts"))


def test_get_features_with_an_entity_frame_equals_local(server: dict[str, Any]) -> None:
    fs = server["project"].get_feature_store()
    spine = pd.DataFrame({"pid": [1, 2, 4, 9], "ts": pd.to_datetime([day(2), day(5), day(3), day(5)], utc=True)})
    with remote(server) as r:
        rfs = r.get_feature_store()
        got = rfs.get_features(["age", "city"], entity_df=spine, event_time="ts")
        pd.testing.assert_frame_equal(got, fs.get_features(["age", "city"], entity_df=spine, event_time="ts"))
        aged = rfs.get_features(["age"], entity_df=spine, event_time="ts", max_age=timedelta(days=1))
        pd.testing.assert_frame_equal(aged, fs.get_features(["age"], entity_df=spine, event_time="ts", max_age=timedelta(days=1)))
        pd.testing.assert_frame_equal(rfs.get_features(["age"]), fs.get_features(["age"]))
        with pytest.raises(NotFoundError, match="nope"):
            rfs.get_features(["nope"])
        for hostile in ("read_csv('/etc/passwd')", "players.age; SELECT 1", "x FROM read_text('/etc/hostname')"):
            with pytest.raises((NotFoundError, ValidationError)):  # names are names, never SQL nor file reads
                rfs.get_features([hostile])


def test_training_and_batch_data_equal_local(server: dict[str, Any]) -> None:
    view = server["project"].get_feature_store().get_feature_view("churn", 1)
    with remote(server) as r:
        rview = r.get_feature_store().get_feature_view("churn", 1)
        got, expected = rview.get_training_data(1), view.get_training_data(1)
        assert len(got) == len(expected) == 4
        for a, b in zip(got, expected, strict=True):
            pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(rview.get_batch_data(), view.get_batch_data())
        pd.testing.assert_frame_equal(rview.get_batch_data(start_time=day(2), end_time=day(4)),
                                      view.get_batch_data(start_time=day(2), end_time=day(4)))  # fmt: skip
        with pytest.raises(NotFoundError):
            rview.get_training_data(9)


def test_insert_returns_the_commit_and_validates_as_locally(server: dict[str, Any]) -> None:
    local = server["project"].get_feature_store().get_feature_group("players", 1)
    rows = pd.DataFrame({"pid": [5, 6], "ts": pd.to_datetime([day(6), day(6)], utc=True), "age": [50.0, 60.0],
                         "city": ["Oslo", "Bergen"]})  # fmt: skip
    with remote(server, "writer") as r:
        group = r.get_feature_store().get_feature_group("players", 1)
        commit = group.insert(rows)
        assert commit["rows_inserted"] == 2 and commit["commit_id"] == max(local.commit_details())
        assert set(local.read()["pid"]) >= {5, 6}
        with pytest.raises(NullKeyError):
            group.insert(rows.assign(pid=pd.array([None, 7], dtype="Int64")))
        with pytest.raises(SchemaMismatchError):
            group.insert(rows.drop(columns=["age"]).assign(agee=1.0))
        with pytest.raises(ValidationError):
            r._request("POST", "/api/v1/feature-groups/players/1/insert", content=b"not arrow")
    entry = server["project"].get_audit_log(action="write", object="feature_group:players:1", limit=1)[0]
    assert entry.principal == "writer" and entry.details["commit_id"] == commit["commit_id"]


def test_a_big_insert_goes_in_parts_as_one_commit(server: dict[str, Any]) -> None:
    local = server["project"].get_feature_store().get_feature_group("players", 1)
    n = 20_000
    rows = pa.table({"pid": pa.array(np.arange(100, 100 + n), pa.int64()), "ts": pa.array([day(7)] * n, TS),
                     "age": pa.array(np.linspace(0, 1, n)), "city": pa.array(["x"] * n)})  # fmt: skip
    before = len(local.commit_details())
    with remote(server, "writer") as r:
        commit = r.get_feature_store().get_feature_group("players", 1).insert(rows, part_bytes=64 * 1024)
    assert commit["rows_inserted"] == n and len(local.commit_details()) == before + 1


def test_scopes_guard_data_routes(server: dict[str, Any]) -> None:
    rows = pd.DataFrame({"pid": [8], "ts": pd.to_datetime([day(6)], utc=True), "age": [1.0], "city": ["y"]})
    with remote(server, "reader") as r:
        with pytest.raises(AuthError, match="write"):
            r.get_feature_store().get_feature_group("players", 1).insert(rows)
    with remote(server, "online") as r:
        view = r.get_feature_store().get_feature_view("churn", 1)
        with pytest.raises(AuthError, match="read:offline"):
            view.get_batch_data()
        with pytest.raises(AuthError, match="read:offline"):
            r.get_feature_store().get_features(["age"])


def test_an_unknown_upload_is_404_and_a_part_must_be_arrow(server: dict[str, Any]) -> None:
    with remote(server, "writer") as r:
        with pytest.raises(NotFoundError, match="upload"):
            r._request("POST", "/api/v1/feature-groups/players/1/insert", params={"upload_id": "nope"})
        upload = r._request("POST", "/api/v1/uploads")["upload_id"]
        with pytest.raises(ValidationError, match="Arrow"):
            r._request("PUT", f"/api/v1/uploads/{upload}/parts/0", content=b"junk")


@pytest.mark.slow
def test_a_million_rows_read_and_inserted_remotely_equal_local(server: dict[str, Any]) -> None:
    n = 1_000_000
    project = server["project"]
    big = project.get_feature_store().create_feature_group("big", version=1, primary_key=["id"])
    frame = pa.table({"id": pa.array(np.arange(n), pa.int64()), "x": pa.array(np.random.default_rng(1).random(n)),
                      "s": pa.array(np.arange(n) % 1000).cast(pa.string())})  # fmt: skip
    with remote(server, "writer") as r:
        group = r.get_feature_store().get_feature_group("big", 1)
        assert group.insert(frame)["rows_inserted"] == n
    with remote(server) as r:
        got = r.get_feature_store().get_feature_group("big", 1).read(dataframe_type="arrow")
    assert got.equals(big.read(dataframe_type="arrow"))
    client_peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = Path(f"/proc/{server['proc'].pid}/status").read_text()
    server_peak_mib = int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1]) / 1024
    print(f"1M rows ({frame.nbytes / 2**20:.0f} MiB in Arrow): peak RSS client {client_peak_mib:.0f} MiB, "
          f"server {server_peak_mib:.0f} MiB")  # fmt: skip
    assert server_peak_mib < 3000 and os.path.exists(f"/proc/{server['proc'].pid}")

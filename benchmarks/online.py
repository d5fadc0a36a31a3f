"""Online serving: feature vectors in-process and over HTTP, against a raw LMDB floor.

    python benchmarks/online.py [--keys 100000] [--requests 20000] [--http-clients 4]

A view over 3 online groups x 10 features (30 features) keyed by entity_id. Measures:
- write-through: loading each group's latest values into LMDB (one transaction per commit)
  vs a raw floor (the same encoded pairs written with lmdb's putmulti);
- single-vector latency p50/p99 in-process vs the floor (the same 3 LMDB gets + msgpack
  decode in one read transaction, no lakebox): target p99 < 100 us, p50 within 3x;
- batch of 100 keys;
- over HTTP (`lakebox serve` in a subprocess, keep-alive clients): p50/p99 and requests/s
  with several concurrent clients (target p99 < 1 ms on loopback).
"""

from __future__ import annotations

import argparse
import os
import random
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import lmdb
import msgpack
import pyarrow as pa
from online_data import (  # sibling module, shared with peers/feast_online.py
    FEATURES,
    GROUPS,
    free_port,
    make_group,
    report,
)

import lakebox
from lakebox.online.codec import KeyCodec, ValueCodec
from lakebox.online.store import db_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--http-requests", type=int, default=5_000)
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--no-http", action="store_true", help="Only the in-process measurements.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "box"
        project = lakebox.connect(box)
        fs = project.get_feature_store()
        groups = {}
        t_write = 0.0
        tables = {}
        for index, prefix in enumerate(GROUPS):
            fg = fs.create_feature_group(prefix, 1, primary_key=["entity_id"], event_time="ts")
            data = make_group(prefix, args.keys, index)
            fg.insert(data)
            tables[prefix] = data
            start = time.perf_counter()
            fg.enable_online()  # backfill: latest per key from Iceberg into LMDB, one transaction
            t_write += time.perf_counter() - start
            groups[prefix] = fg
        # raw write floor: the same encoded pairs, putmulti into a fresh environment
        floor_env = lmdb.open(str(Path(tmp) / "floor"), map_size=1 << 32, max_dbs=8)
        start = time.perf_counter()
        for prefix in GROUPS:
            data = tables[prefix]
            keys = KeyCodec(["entity_id"], [pa.int64()]).encode_columns(data)
            codec = ValueCodec(data.schema, [f"{prefix}_f{i}" for i in range(FEATURES)], "ts")
            values = codec.encode_table(data)
            with floor_env.begin(write=True, db=floor_env.open_db(prefix.encode())) as txn:
                txn.cursor().putmulti(list(zip(keys, values)))
        t_floor_write = time.perf_counter() - start
        print(f"write-through {len(GROUPS)} x {args.keys:,} keys: lakebox {t_write:.2f} s (incl. reading Iceberg), "
              f"raw encode+putmulti {t_floor_write:.2f} s, ratio {t_write / t_floor_write:.2f}x")

        def features(prefix: str) -> list[str]:
            return [f"{prefix}_f{i}" for i in range(FEATURES)]

        query = groups["a"].select(features("a")).join(groups["b"].select(features("b"))).join(
            groups["c"].select(features("c")))  # fmt: skip
        fv = fs.create_feature_view("bench", 1, query=query)
        fv.init_serving()
        assert len(fv.serving_columns()) == 3 * FEATURES
        rng = random.Random(1)
        ids = [rng.randrange(args.keys) for _ in range(args.requests)]

        # floor: same gets and decode, hand-rolled; measured interleaved with lakebox, key by
        # key, so that both see the same machine load (a shared machine drifts within seconds)
        env = project.engines.online.env  # py-lmdb allows one handle per environment and process
        dbs = [env.open_db(db_name(groups[p].describe()["iceberg"]["table"]), create=False) for p in GROUPS]
        sign = 1 << 63

        def floor(entity: int) -> list[float]:
            with env.begin() as txn:
                key = struct.pack(">Q", (entity + sign) & ((1 << 64) - 1))
                row: list[float] = []
                for db in dbs:
                    row.extend(msgpack.unpackb(txn.get(key, db=db)[8:]))
            return row

        assert floor(ids[0]) == fv.get_feature_vector({"entity_id": ids[0]})
        floor_samples = []
        samples = []
        for entity in ids:
            start = time.perf_counter()
            floor(entity)
            middle = time.perf_counter()
            fv.get_feature_vector({"entity_id": entity})
            samples.append(time.perf_counter() - middle)
            floor_samples.append(middle - start)
        print(f"single vector, 30 features, {args.keys:,} keys ({len(ids):,} requests):")
        report("  raw LMDB get+decode (floor)", floor_samples)
        report("  lakebox fv.get_feature_vector", samples, floor_samples)

        batch_samples = []
        for i in range(0, min(len(ids), 20_000), 100):
            entries = [{"entity_id": e} for e in ids[i : i + 100]]
            start = time.perf_counter()
            fv.get_feature_vectors(entries)
            batch_samples.append(time.perf_counter() - start)
        report("  batch of 100 (whole call)", batch_samples)
        project.close()
        if args.no_http:
            return

        key = lakebox.connect(box).create_api_key("bench", scopes=["read:online"])
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, lakebox; from lakebox.server.app import serve; "
             "serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))", str(box), str(port)],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        try:
            remote = None
            for _ in range(200):
                try:
                    remote = lakebox.connect(f"http://127.0.0.1:{port}", api_key=key)
                    remote.health()
                    break
                except lakebox.LakeboxError:
                    time.sleep(0.05)
            assert remote is not None
            rfv = remote.get_feature_store().get_feature_view("bench", 1)
            assert rfv.get_feature_vector({"entity_id": 1}) == fv.get_feature_vector({"entity_id": 1})
            http_samples: list[float] = []
            lock = threading.Lock()

            def client(count: int, seed: int) -> None:
                own = lakebox.connect(f"http://127.0.0.1:{port}", api_key=key).get_feature_store().get_feature_view("bench", 1)
                local_rng = random.Random(seed)
                mine = []
                for _ in range(count):
                    start = time.perf_counter()
                    own.get_feature_vector({"entity_id": local_rng.randrange(args.keys)})
                    mine.append(time.perf_counter() - start)
                with lock:
                    http_samples.extend(mine)

            # the server's own latency: a minimal keep-alive client (stdlib), no client library cost
            import http.client
            import json as json_module

            raw = http.client.HTTPConnection("127.0.0.1", port)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            raw_samples = []
            raw_rng = random.Random(7)
            for i in range(args.http_requests + 500):
                body = json_module.dumps({"entry": {"entity_id": raw_rng.randrange(args.keys)}})
                start = time.perf_counter()
                raw.request("POST", "/api/v1/feature-views/bench/1/vector", body=body, headers=headers)
                raw.getresponse().read()
                if i >= 500:
                    raw_samples.append(time.perf_counter() - start)
            raw.close()
            print("over HTTP (server in its own process, keep-alive):")
            report("  stdlib http.client (server cost)", raw_samples)

            client(500, 0)  # warm up
            http_samples.clear()
            client(args.http_requests, 1)
            report("  lakebox remote client (httpx)", http_samples)
            http_samples.clear()
            per_client = args.http_requests // args.http_clients
            threads = [threading.Thread(target=client, args=(per_client, i + 2)) for i in range(args.http_clients)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - start
            report(f"  {args.http_clients} concurrent httpx clients", http_samples)
            print(f"  throughput: {len(http_samples) / elapsed:,.0f} requests/s with {args.http_clients} clients")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()

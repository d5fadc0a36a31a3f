"""Model deployments: predict latency against doing it by hand, over HTTP, and the log's cost.

    python benchmarks/serving.py [--keys 10000] [--requests 5000] [--http-requests 2000]

A scikit-learn linear model over a view of 3 online groups x 10 features (30 features,
benchmarks/online_data.py) plus a label group. Measures, in one run:
- in-process ``deployment.predict({"entity_id": k})`` (logging off, then on) against the floor
  of ``fv.get_feature_vector`` + ``estimator.predict`` on a one-row frame called by hand,
  interleaved key by key (target: within 1.3x of the floor);
- over HTTP (``lakebox serve`` in a subprocess, a keep-alive stdlib client): p50/p99 of
  ``POST /api/v1/deployments/{name}/predict`` with logging on and off (target p99 < 2 ms);
- the prediction log: what logging adds per prediction, the share of a 1,000 predictions/s
  budget it takes (target < 10 %), and how many rows/s the logger commits.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from online_data import FEATURES, GROUPS, free_port, make_group, report  # sibling module

import lakebox


def build(project: lakebox.Project, keys: int, tmp: Path) -> tuple[object, object, list[str]]:
    import joblib
    from sklearn.linear_model import LinearRegression

    fs = project.get_feature_store()
    groups = {}
    for index, prefix in enumerate(GROUPS):
        fg = fs.create_feature_group(prefix, 1, primary_key=["entity_id"], event_time="ts", online_enabled=True,
                                     statistics=False)  # fmt: skip
        fg.insert(make_group(prefix, keys, index))
        groups[prefix] = fg
    labels = fs.create_feature_group("labels", 1, primary_key=["entity_id"], event_time="ts", statistics=False)
    rng = np.random.default_rng(9)
    labels.insert(pa.table({
        "entity_id": pa.array(np.arange(keys, dtype=np.int64)),
        "ts": pa.array([datetime(2026, 6, 1, tzinfo=UTC)] * keys, pa.timestamp("us", tz="UTC")),
        "target": pa.array(rng.standard_normal(keys)),
    }))  # fmt: skip

    def features(prefix: str) -> list[str]:
        return [f"{prefix}_f{i}" for i in range(FEATURES)]

    query = labels.select(["target"])
    for prefix in GROUPS:
        query = query.join(groups[prefix].select(features(prefix)))
    view = fs.create_feature_view("bench", 1, query=query, labels=["target"])
    td = view.create_training_dataset(test_size=0.2, seed=1)
    x, _, y, _ = view.get_training_data(td)
    estimator = LinearRegression().fit(x, y.iloc[:, 0])
    folder = tmp / "model"
    folder.mkdir()
    joblib.dump(estimator, folder / "model.joblib")
    model = project.get_model_registry().create_model("bench_model", training_dataset=(view, td))
    model.save(folder)
    model.deploy(name="logged")
    model.deploy(name="quiet", log=False)
    return view, estimator, list(x.columns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--http-requests", type=int, default=2_000)
    parser.add_argument("--log-rows", type=int, default=20_000, help="rows for the logger throughput test")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        box = Path(tmp) / "box"
        project = lakebox.connect(box)
        view, estimator, columns = build(project, args.keys, Path(tmp))
        serving = project.get_model_serving()
        quiet, logged = serving.get_deployment("quiet"), serving.get_deployment("logged")
        rng = random.Random(1)
        ids = [rng.randrange(args.keys) for _ in range(args.requests)]

        def by_hand(entity: int) -> float:
            vector = view.get_feature_vector({"entity_id": entity})
            # the best by hand: a frame from a numpy row (from Python lists pandas costs milliseconds)
            return float(estimator.predict(pd.DataFrame(np.asarray([vector], dtype=np.float64), columns=columns))[0])

        for entity in ids[:200]:  # warm up, and check they agree
            assert abs(by_hand(entity) - quiet.predict({"entity_id": entity})["prediction"]) < 1e-9
            logged.predict({"entity_id": entity})
        floor, off, on = [], [], []
        for entity in ids:
            entry = {"entity_id": entity}
            t0 = time.perf_counter()
            by_hand(entity)
            t1 = time.perf_counter()
            quiet.predict(entry)
            t2 = time.perf_counter()
            logged.predict(entry)
            t3 = time.perf_counter()
            floor.append(t1 - t0)
            off.append(t2 - t1)
            on.append(t3 - t2)
        print(f"in-process, 30 features, {args.keys:,} keys ({len(ids):,} requests, interleaved):")
        report("  floor: get_feature_vector + estimator.predict", floor, width=44)
        report("  deployment.predict, logging off", off, floor, width=44)
        report("  deployment.predict, logging on", on, floor, width=44)
        added = statistics.median(on) - statistics.median(off)
        print(f"  logging adds {added * 1e6:.1f} us per prediction: {added * 1000 * 100:.2f} % of a second at "
              "1,000 predictions/s (target < 10 %)")
        logged.flush_logs()

        # the logger alone: rows per second committed to the log group
        from lakebox.deployments.rowlog import RowLogger

        group = logged.get_log_group()
        sink = project.get_feature_store().get_feature_group(group.name, 1)
        schema = sink.read(dataframe_type="arrow").schema
        sample = sink.read(dataframe_type="arrow").slice(0, 1).to_pylist()[0]
        logger = RowLogger(sink.insert, schema, max_rows=1000, max_seconds=1.0, name="bench")
        start = time.perf_counter()
        for _ in range(args.log_rows):
            sample["request_time"] = datetime.fromtimestamp(logger.now_us() / 1e6, UTC)
            logger.log(dict(sample))
        queued = time.perf_counter() - start
        logger.close()
        total = time.perf_counter() - start
        print(f"  logger: {args.log_rows:,} rows queued in {queued * 1e3:.0f} ms ({queued / args.log_rows * 1e6:.1f} us/row), "
              f"committed in {total:.2f} s: {args.log_rows / total:,.0f} rows/s in batches of 1,000")
        project.close()

        key = lakebox.connect(box).create_api_key("bench", scopes=["admin"])
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-c",
             "import sys, lakebox; from lakebox.server.app import serve; "
             "serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))", str(box), str(port)],
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    probe = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                    probe.request("GET", "/health")
                    if probe.getresponse().status == 200:
                        break
                except OSError:
                    pass
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.05)
            headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
            print("over HTTP (server in its own process, keep-alive stdlib client):")
            for name in ("quiet", "logged"):
                conn = http.client.HTTPConnection("127.0.0.1", port)
                samples = []
                local_rng = random.Random(5)
                for i in range(args.http_requests + 200):
                    body = json.dumps({"entry": {"entity_id": local_rng.randrange(args.keys)}})
                    start = time.perf_counter()
                    conn.request("POST", f"/api/v1/deployments/{name}/predict", body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    if i >= 200:
                        samples.append(time.perf_counter() - start)
                    assert response.status == 200, payload
                conn.close()
                report(f"  POST .../{name}/predict (logging {'on' if name == 'logged' else 'off'})", samples, width=44)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()

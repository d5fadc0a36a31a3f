"""Deployments over HTTP (issue 13): a real ``serve`` subprocess on a free 127.0.0.1 port.
Predictions equal the in-process ones; the ``predict`` scope; every error is the JSON shape
of the feature-vector routes (a failing model is ``predictor_error`` naming the deployment,
never a stack trace); OpenAPI documents the route; the remote client; and the prediction log
survives shutdown (SIGTERM flushes it) and loses only the documented window on SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy_world import PREDICTOR, World, build

import lakebox
from lakebox.catalog.keys import SCOPES
from lakebox.deployments.predictors import PredictorError
from lakebox.errors import AuthError, NotFoundError

ROOT = Path(__file__).resolve().parents[1]
SERVE = "import sys, lakebox; from lakebox.server.app import serve; serve(lakebox.connect(sys.argv[1]), port=int(sys.argv[2]))"
PREDICT = "/api/v1/deployments/{}/predict"
PREDICT_SCOPE = "predict" if "predict" in SCOPES else "admin"  # the scope lands with the server work (H15)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, box: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(box), str(self.port)], cwd=ROOT,
            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                out = self.process.stdout.read().decode() if self.process.stdout else ""
                raise RuntimeError(f"server did not start: {out}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        out, _ = self.process.communicate(timeout=60)
        return out.decode()


def _log_rows(box: Path, group: str) -> int:
    with lakebox.connect(box) as project:
        return int(project.get_feature_store().get_feature_group(group, 1).read(dataframe_type="arrow").num_rows)


@pytest.fixture
def served(project: Any, box_path: Path, tmp_path: Path) -> Iterator[tuple[World, Server, str]]:
    world = build(project, tmp_path)
    world.models[0].deploy(name="scores")
    toy = tmp_path / "toy"
    toy.mkdir()
    (toy / "scale.json").write_text('{"scale": 2.0}')
    script = tmp_path / "predictor.py"
    script.write_text(PREDICTOR)
    mr = project.get_model_registry()
    mr.create_model("toy", training_dataset=(world.view, world.td_version)).save(toy).deploy(name="toy", predictor=script)
    secret = project.create_api_key("predictor", [PREDICT_SCOPE])
    server = Server(box_path)
    try:
        yield world, server, secret
    finally:
        output = server.stop()
        assert "Traceback" not in output, output


@pytest.mark.slow  # a server subprocess and a trained model: ~20 s
def test_predict_over_http_equals_in_process_and_errors_are_json(served: tuple[World, Server, str], project: Any) -> None:
    world, server, secret = served
    local = project.get_model_serving().get_deployment("scores")
    auth = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=30) as http:
        one = http.post(PREDICT.format("scores"), json={"entry": {"pid": 3}})
        assert one.status_code == 200, one.text
        assert one.json() == local.predict({"pid": 3})
        many = http.post(PREDICT.format("scores"), json={"entries": [{"pid": 1}, {"pid": 2}]}).json()
        assert many == local.predict([{"pid": 1}, {"pid": 2}])
        shapes = {
            "unknown deployment": (http.post(PREDICT.format("nope"), json={"entry": {"pid": 1}}), 404, "not_found"),
            "missing key": (http.post(PREDICT.format("scores"), json={"entry": {"pid": 99_999}}), 404, "not_found"),
            "bad body": (http.post(PREDICT.format("scores"), json={"entry": {"pid": 1}, "x": 1}), 422, "validation_error"),
            "both entry and entries": (http.post(PREDICT.format("scores"), json={"entry": {"pid": 1}, "entries": []}), 422, "validation_error"),
            "no serving key": (http.post(PREDICT.format("scores"), json={"entry": {"player": 1}}), 422, "validation_error"),
            "model fails": (http.post(PREDICT.format("toy"), json={"entry": {"pid": 2}}), 500, "predictor_error"),
        }  # fmt: skip
        for what, (response, status, code) in shapes.items():
            body = response.json()
            assert (response.status_code, body["error"]) == (status, code), (what, body)
            assert set(body) == {"error", "message", "details"}, what
            assert "Traceback" not in response.text and 'File "' not in response.text, what
        assert "Deployment 'toy'" in shapes["model fails"][0].json()["message"]
        assert "Deployment 'scores'" in shapes["missing key"][0].json()["message"]
        listed = http.get("/api/v1/deployments").json()
        assert sorted(d["name"] for d in listed) == ["scores", "toy"]
        schema = http.get("/openapi.json").json()
        route = schema["paths"][PREDICT.format("{name}")]["post"]
        assert "requestBody" in route and {"200", "403", "404", "500"} <= set(route["responses"])
    # keys: none -> 401, a read-only key -> 403 naming the scope
    reader = project.create_api_key("reader", ["read:online"])
    no_key = httpx.post(f"{server.url}{PREDICT.format('scores')}", json={"entry": {"pid": 1}}, timeout=60)
    assert (no_key.status_code, no_key.json()["error"]) == (401, "auth_error")
    wrong = httpx.post(f"{server.url}{PREDICT.format('scores')}", json={"entry": {"pid": 1}},
                       headers={"Authorization": f"Bearer {reader}"}, timeout=60)  # fmt: skip
    assert wrong.status_code == 403 and "'predict'" in wrong.json()["message"]
    # the remote client: same answers, same error classes
    with lakebox.connect(server.url, api_key=secret, timeout=60) as remote:
        deployment = remote.get_model_serving().get_deployment("scores")
        assert deployment.predict({"pid": 3}) == local.predict({"pid": 3})
        assert deployment.predict([{"pid": 4}]) == local.predict([{"pid": 4}])
        with pytest.raises(NotFoundError, match="Deployment 'scores'"):
            deployment.predict({"pid": 99_999})
        with pytest.raises(PredictorError, match="Deployment 'toy'"):
            remote.get_model_serving().get_deployment("toy").predict({"pid": 2})
        with pytest.raises(NotFoundError):
            remote.get_model_serving().get_deployment("nope")
    with lakebox.connect(server.url, api_key=reader, timeout=60) as remote, pytest.raises(AuthError):
        remote.get_model_serving().get_deployment("scores").predict({"pid": 1})


@pytest.mark.slow
def test_traffic_change_reaches_a_running_server(served: tuple[World, Server, str], project: Any) -> None:
    _, server, secret = served
    entries = [{"pid": p} for p in range(200)]
    with lakebox.connect(server.url, api_key=secret, timeout=60) as remote:
        deployment = remote.get_model_serving().get_deployment("scores")
        assert set(deployment.predict(entries)["model_versions"]) == {1}
        project.get_model_serving().get_deployment("scores").set_traffic({1: 80, 2: 20})
        versions = deployment.predict(entries)["model_versions"]  # the very next request
        assert set(versions) == {1, 2}
        assert deployment.predict(entries)["model_versions"] == versions


@pytest.mark.slow
def test_prediction_log_is_flushed_on_shutdown_and_sigkill_loses_only_the_window(
    project: Any, box_path: Path, tmp_path: Path
) -> None:
    world = build(project, tmp_path)
    world.models[0].deploy(name="scores")
    secret = project.create_api_key("predictor", [PREDICT_SCOPE])
    auth = {"Authorization": f"Bearer {secret}"}
    # shutdown: nothing reaches the 1,000-row / 1-hour thresholds, SIGTERM still writes all 7
    server = Server(box_path, env={"LAKEBOX_PREDICTION_LOG_ROWS": "1000", "LAKEBOX_PREDICTION_LOG_SECONDS": "3600"})
    for pid in range(7):
        assert httpx.post(f"{server.url}{PREDICT.format('scores')}", json={"entry": {"pid": pid}}, headers=auth,
                          timeout=120).status_code == 200  # the first loads the model
    assert _log_rows(box_path, "scores_predictions") == 0  # still queued
    assert "Traceback" not in server.stop(signal.SIGTERM)
    assert _log_rows(box_path, "scores_predictions") == 7
    # SIGKILL: batches of 10; 25 requests -> 2 batches written, the 5 queued rows are the lost window
    server = Server(box_path, env={"LAKEBOX_PREDICTION_LOG_ROWS": "10", "LAKEBOX_PREDICTION_LOG_SECONDS": "3600"})
    for pid in range(25):
        assert httpx.post(f"{server.url}{PREDICT.format('scores')}", json={"entry": {"pid": pid}}, headers=auth,
                          timeout=120).status_code == 200  # the first loads the model
    deadline = time.monotonic() + 60
    while _log_rows(box_path, "scores_predictions") < 7 + 20:  # wait for the two full batches
        assert time.monotonic() < deadline
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    assert _log_rows(box_path, "scores_predictions") == 7 + 20  # lost: 5 rows < max_rows (10)

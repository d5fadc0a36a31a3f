"""Hopsworks tutorial notebooks, end to end (issue 18): feature pipeline (expectation suite,
statistics config), training pipeline (@udf and built-in transformations, an in-memory split,
mr.python.create_model(feature_view=...)), batch and online inference (model.get_feature_view(),
init_batch_scoring, get_feature_vector(transform=False) + fv.transform). Each notebook runs in
its own process, as written for hsfs with only the login line changed (hsfs imports through
lakebox.compat.install_hopsworks_alias(), in the tutorial's functions module)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# The pipelines run in their own processes: look for scikit-learn without importing it here
# (every xdist worker collects this module; importing sklearn and scipy costs seconds).
pytestmark = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None, reason="needs scikit-learn")

STEPS = Path(__file__).resolve().parent / "hsfs_pipeline"


def _notebook(name: str, box: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(STEPS), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(STEPS / f"{name}.py"), str(box)], cwd=STEPS.parent, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_feature_training_and_inference_notebooks(tmp_path: Path) -> None:
    box = tmp_path / "fraud.lakebox"
    features = _notebook("step1_feature_pipeline", box)
    assert features == {"rows": 200, "shown": 5, "policy": "ALWAYS", "reports": 1,
                        "statistics": features["statistics"], "profile_statistics": False}
    training = _notebook("step2_training_pipeline", box)
    assert training["columns"] == ["amount", "category", "cc_num", "age"], "the view's features, in order"
    assert training["train"] + training["test"] <= 200 and training["training_dataset"]["version"] == 1
    inference = _notebook("step3_inference_pipeline", box)
    assert inference["batch_columns"] == training["columns"] and inference["batch_rows"] == training["test"]
    assert inference["online_prediction"] is True and inference["vectors"] == 2

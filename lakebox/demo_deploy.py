"""The demo's deployment step: serve the best scikit-learn model, predict in-process and over
HTTP, read the prediction log, simulate a shifted week and show the drift monitor's alert.

It returns plain data; ``lakebox.cli.demo_deploy`` renders it. The "shifted week" is a
week's worth of requests whose home-team budgets are three times the real ones (passed as
``passed_features``, so the box's data is untouched): the model receives values far from
its training distribution, and the monitor says so.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.feature_view import FeatureView
    from lakebox.project import Project

DEPLOYMENT = "attendance"
MONITOR = "attendance_drift"
SHIFTED_FEATURE = "home_budget"
SHIFT_FACTOR = 3.0
DEMO_TAG = "lakebox_demo"


def delete_demo_deployment(project: Project) -> list[str]:
    """Remove what an earlier demo deployed (the deployment, its logs, its monitor)."""
    deleted = []
    fs = project.get_feature_store()
    for monitor in fs.get_drift_monitors():
        if monitor.name == MONITOR:
            monitor.delete()
            deleted.append(f"monitor {MONITOR}")
    serving = project.get_model_serving()
    if DEPLOYMENT in [d.name for d in serving.get_deployments()]:
        serving.get_deployment(DEPLOYMENT).delete(delete_logs=True)
        deleted.append(f"deployment {DEPLOYMENT}")
    else:
        for group in fs.get_feature_groups():
            if group.name in (f"{DEPLOYMENT}_predictions", f"{DEPLOYMENT}_outcomes"):
                group.delete()
    return deleted


def best_sklearn_model(project: Project, model_name: str, metric: str) -> Any:
    """The best registered version trained with scikit-learn (the torch one is a state dict,
    which needs a predictor.py to serve), or None."""
    models = [m for m in project.get_model_registry().get_models(model_name)
              if m.get_tags().get("framework") == "scikit-learn" and metric in m.metrics]  # fmt: skip
    return max(models, key=lambda m: (m.metrics[metric], m.version)) if models else None


def deploy_demo(project: Project, view: FeatureView, model_name: str, metric: str) -> dict[str, Any]:
    """Deploy, predict (in-process, over HTTP), log, drift: returns what happened."""
    import lakebox
    from lakebox.catalog.keys import SCOPES
    from lakebox.cli.serve import background_server

    deleted = delete_demo_deployment(project)
    model = best_sklearn_model(project, model_name, metric)
    if model is None:
        return {"skipped": f"no scikit-learn version of {model_name} to deploy", "deleted": deleted}
    deployment = model.deploy(name=DEPLOYMENT, description="lakebox demo: the best attendance model, served")
    deployment.add_tag(DEMO_TAG, True)
    key = deployment.serving_keys[0]
    keys = sorted(view.query.root_group.read(dataframe_type="arrow").column(key).to_pylist())
    entries = [{key: k} for k in keys]

    deployment.predict(entries[0])  # the first call loads the model and prepares the view
    started = time.perf_counter()
    one = deployment.predict(entries[0])
    in_process_ms = (time.perf_counter() - started) * 1000
    batch = deployment.predict(entries[:5])

    key_name = f"demo_{secrets.token_hex(3)}"
    secret = project.create_api_key(key_name, ["predict" if "predict" in SCOPES else "admin"])
    try:
        with background_server(project) as url, lakebox.connect(url, api_key=secret) as remote:
            remote_deployment = remote.get_model_serving().get_deployment(DEPLOYMENT)
            remote_deployment.predict(entries[0])
            started = time.perf_counter()
            over_http = remote_deployment.predict(entries[0])
            http_ms = (time.perf_counter() - started) * 1000
    finally:
        project.revoke_api_key(key_name)

    # a normal week of traffic, then a week when every home budget looks three times larger
    deployment.predict(entries)
    fs = project.get_feature_store()
    monitor = fs.create_drift_monitor(MONITOR, source=deployment, window="7d",
                                      description="lakebox demo: drift of the attendance model's inputs")  # fmt: skip
    calm = monitor.run()
    raw = view.get_batch_data(primary_key=True, transformed=False, dataframe_type="arrow") if SHIFTED_FEATURE in deployment.features else None
    shifted_entries: list[dict[str, Any]] = []
    passed: list[dict[str, Any]] = []
    if raw is not None:
        budgets = dict(zip(raw.column(key).to_pylist(), raw.column(SHIFTED_FEATURE).to_pylist(), strict=True))
        for entry in entries:
            budget = budgets.get(entry[key])
            if budget is not None:
                shifted_entries.append(entry)
                passed.append({SHIFTED_FEATURE: budget * SHIFT_FACTOR})
        deployment.predict(shifted_entries * 2, passed_features=passed * 2)
    shifted = monitor.run()
    log = deployment.get_prediction_log(dataframe_type="arrow")
    latest = log.sort_by([("request_time", "descending")]).slice(0, 3)
    shown = [key, "request_time", "model_version", "status", "prediction", "latency_ms"]
    return {
        "deleted": deleted,
        "deployment": deployment.to_dict(),
        "model": {"name": model.name, "version": model.version, "metric": metric, "value": model.metrics[metric]},
        "entry": entries[0],
        "in_process": one,
        "in_process_ms": round(in_process_ms, 3),
        "batch": batch,
        "over_http": over_http,
        "http_ms": round(http_ms, 3),
        "equal": over_http == one,
        "url": url,
        "log": {"group": deployment.log_group, "rows": log.num_rows, "latest": latest.select(shown).to_pylist()},
        "monitor": monitor.to_dict(),
        "calm": calm.to_dict(),
        "shifted": {**shifted.to_dict(), "feature": SHIFTED_FEATURE, "factor": SHIFT_FACTOR,
                    "requests": len(shifted_entries) * 2},  # fmt: skip
        "alerts": fs.get_alerts(MONITOR),
    }

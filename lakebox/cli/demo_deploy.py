"""The demo's deployment section (issue 13): runs ``lakebox.demo_deploy`` and prints it."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.rule import Rule

from lakebox.cli.deployments import table
from lakebox.cli.state import State
from lakebox.errors import LakeboxError


def deploy_section(state: State, built: Any, training: dict[str, Any], trained: dict[str, Any]) -> dict[str, Any]:
    """Deploy the best model, predict in-process and over HTTP, show the log and a drift alert."""
    from lakebox.demo_deploy import deploy_demo
    from lakebox.demo_training import METRIC, MODEL_NAME

    if trained.get("skipped"):
        return {"skipped": "no trained model (the training section was skipped)"}
    try:
        with state.busy("Deploying the best model, predicting, watching for drift…"):
            data = deploy_demo(built.project, training["view"], MODEL_NAME, METRIC)
    except LakeboxError as e:  # the tour goes on; the reason is shown
        data = {"skipped": f"{e.code}: {e.message}"}
    if state.text:
        _print(state, data)
    return data


def _print(state: State, data: dict[str, Any]) -> None:
    c = state.console
    c.print(Rule("Deployment: the model behind the online store", align="left"))
    if data.get("skipped"):
        c.print(f"[dim]Skipped the deployment section: {escape(str(data['skipped']))}[/]")
        return
    model, dep = data["model"], data["deployment"]
    key = dep["serving_keys"][0]
    c.print(
        f"[bold]model.deploy(name=\"{dep['name']}\")[/] serves {escape(model['name'])} v{model['version']} "
        f"({escape(model['metric'])} {model['value']:.3f}, the best scikit-learn version). A request carries only "
        f"the key: the deployment looks {len(dep['features'])} features up online, applies the training dataset's "
        "fitted transformations, predicts, and logs the request."
    )
    one = data["in_process"]
    c.print(
        f"  in-process  deployment.predict({escape(str(data['entry']))}) -> {one['prediction']:.1f} "
        f"(model v{one['model_version']}, vector {one['status']}, {data['in_process_ms']:.2f} ms)"
    )
    c.print(
        f"  over HTTP   POST {escape(data['url'])}/api/v1/deployments/{dep['name']}/predict -> "
        f"{data['over_http']['prediction']:.1f} ({data['http_ms']:.2f} ms, "
        + ("[green]equal[/]" if data["equal"] else "[red]different[/]") + ")"
    )
    log = data["log"]
    c.print(f"The prediction log is a feature group, [bold]{escape(log['group'])}[/] ({log['rows']} rows); the latest:")
    c.print(_rows(log["latest"], key))
    calm, shifted = data["calm"], data["shifted"]
    c.print(
        f"Drift monitor [bold]{escape(data['monitor']['name'])}[/] (psi, ks, mean shift over 7 days vs the training "
        f"dataset): after a normal week of {calm['rows']} requests: "
        + ("[red]ALERT[/]" if calm["alert"] else "[green]no drift[/]") + "."
    )
    alerting = sorted({r["feature"] for r in shifted["results"] if r["alert"]})
    c.print(
        f"A shifted week ({shifted['requests']} requests whose {escape(shifted['feature'])} is x{shifted['factor']:g}): "
        + (f"[bold red]ALERT[/] on {escape(', '.join(alerting))}" if shifted["alert"] else "[green]no drift[/]") + "."
    )
    for alert in data["alerts"][:1]:
        c.print(f"  [dim]catalog event: {escape(alert['message'])}[/]")
    c.print(f"[dim]Try: lakebox deployments show {dep['name']} · lakebox monitors history {data['monitor']['name']}[/]")


def _rows(rows: list[dict[str, Any]], key: str) -> Any:
    from lakebox.cli.output import render_rows

    return render_rows(table(rows, [key, "request_time", "model_version", "status", "prediction", "latency_ms"]))

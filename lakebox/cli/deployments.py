"""``lakebox deployments list|show|predict|delete``: model deployments of a box."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click

from lakebox.cli.formats import escape
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import ValidationError


@click.group("deployments", short_help="Model deployments: list, show, predict, traffic, delete.")
def deployments() -> None:
    """Model deployments: a registered model served behind the online store. A deployment looks
    an entry's features up online, transforms them as for training, predicts and logs the
    request to the feature group NAME_predictions. Create one in Python with model.deploy();
    `lakebox serve` answers POST /api/v1/deployments/NAME/predict.
    """


def table(records: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, Any]:
    """Rows for the output layer's tables (``table_data`` shape)."""
    def kind(name: str) -> str:
        values = [r.get(name) for r in records if r.get(name) is not None]
        return "double" if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values) else "string"

    return {
        "columns": [{"name": c, "type": kind(c)} for c in columns],
        "rows": [{c: r.get(c) for c in columns} for r in records],
        "row_count": len(records),
    }


def _summary(d: Any) -> dict[str, Any]:
    info = d if isinstance(d, dict) else d.to_dict()  # a dict: describe_deployments' answer
    traffic = {int(v): s for v, s in info["traffic"].items()}
    return {
        **info,
        "traffic_text": ", ".join(f"v{v}: {s:g}%" for v, s in sorted(traffic.items())),
        "view": f"{info['feature_view']} v{info['feature_view_version']} (td v{info['training_dataset_version']})",
    }


@deployments.command("list", short_help="List deployments.")
@output_option
@pass_state
def list_deployments(state: State) -> None:
    """List the deployments: model, default version, traffic split, feature view and log group."""
    found = [_summary(d) for d in state.open().describe_deployments()]  # the catalog only: no serving stack
    if not state.text:
        state.out.result({"deployments": [{k: v for k, v in d.items() if k not in ("traffic_text", "view")} for d in found]}, "")
        return
    rows = [{"name": d["name"], "model": d["model_name"], "traffic": d["traffic_text"], "feature view": d["view"],
             "log group": d["log_group"] or "(off)"} for d in found]  # fmt: skip
    state.out.rows(table(rows, ["name", "model", "traffic", "feature view", "log group"]), title="Deployments")


@deployments.command("show", short_help="Show a deployment and its prediction log.")
@click.argument("name")
@click.option("--log-rows", type=click.IntRange(0, 1000), default=5, show_default=True, help="Latest logged predictions to show.")
@output_option
@pass_state
def show_deployment(state: State, name: str, log_rows: int) -> None:
    """Show deployment NAME: model, traffic, serving keys, the model's features in order, and
    the latest rows of its prediction log."""
    deployment = state.open().get_model_serving().get_deployment(name)
    info = deployment.to_dict()
    latest: list[dict[str, Any]] = []
    total = 0
    if deployment.log_group is not None and log_rows:
        log = deployment.get_log_group().read(dataframe_type="arrow")
        total = log.num_rows
        ordered = log.sort_by([("request_time", "descending")]).slice(0, log_rows)
        latest = ordered.to_pylist()
    if not state.text:
        state.out.result({**info, "log_rows": total, "latest_predictions": latest}, "")
        return
    summary = _summary(deployment)
    lines = [
        f"[bold]{escape(name)}[/] serves model [bold]{escape(info['model_name'])}[/] ({escape(summary['traffic_text'])})",
        f"  feature view {escape(summary['view'])}, serving keys {escape(', '.join(info['serving_keys']))}",
        f"  features (in the model's order): {escape(', '.join(info['features']))}",
        f"  predictor: {escape(info['predictor'])}; prediction log: {escape(info['log_group'] or '(off)')} ({total} rows)",
    ]
    state.out.result(info, "\n".join(lines))
    if latest:
        columns = [*info["serving_keys"], "request_time", "model_version", "status", "prediction", "latency_ms"]
        state.out.rows(table(latest, columns), title="Latest predictions")


def _entries(values: Sequence[str], keys: Sequence[str]) -> list[dict[str, Any]]:
    entries = []
    for value in values:
        text = value.strip()
        if text.startswith("{"):
            try:
                entry = json.loads(text)
            except ValueError as e:
                raise ValidationError(f"--entry {value!r} is not JSON: {e}") from e
        else:  # key=value,key=value
            entry = {}
            for part in filter(None, text.split(",")):
                key, sep, raw = part.partition("=")
                if not sep:
                    raise ValidationError(f"--entry {value!r}: write key=value (e.g. {keys[0]}=7) or a JSON object.")
                try:
                    entry[key.strip()] = json.loads(raw)
                except ValueError:
                    entry[key.strip()] = raw
        if not isinstance(entry, dict):
            raise ValidationError(f"--entry {value!r} must be an object of serving-key values.")
        entries.append(entry)
    return entries


@deployments.command("predict", short_help="Predict for one or more entries.")
@click.argument("name")
@click.option("-e", "--entry", "entry_values", multiple=True, required=True, metavar="KEY=VALUE|JSON",
              help="An entry's serving keys: pid=7, or a JSON object such as '{\"pid\": 7}'. Repeat for several.")
@click.option("--allow-missing", is_flag=True, help="Predict on nulls where the online store has no complete vector.")
@output_option
@pass_state
def predict(state: State, name: str, entry_values: tuple[str, ...], allow_missing: bool) -> None:
    """Predict with deployment NAME for each --entry (logged like any request).

    \b
    Example:
      lakebox deployments predict attendance -e game_id=3 -e game_id=4
    """
    deployment = state.open().get_model_serving().get_deployment(name)
    entries = _entries(entry_values, deployment.serving_keys)
    answer = deployment.predict(entries, allow_missing=allow_missing)
    deployment.flush_logs()
    if not state.text:
        state.out.result(answer, "")
        return
    rows = [{**e, "prediction": p, "model_version": v, "status": s}
            for e, p, v, s in zip(entries, answer["predictions"], answer["model_versions"], answer["statuses"], strict=True)]  # fmt: skip
    state.out.rows(table(rows, [*deployment.serving_keys, "prediction", "model_version", "status"]), title=f"Predictions of {name}")


@deployments.command("traffic", short_help="Split traffic between model versions, or serve one.")
@click.argument("name")
@click.argument("shares", nargs=-1, required=True, metavar="VERSION=PERCENT...")
@output_option
@pass_state
def traffic(state: State, name: str, shares: tuple[str, ...]) -> None:
    """Route deployment NAME's requests: 1=90 2=10 sends 10 % of the keys (always the same
    keys) to version 2; a single VERSION (2, or 2=100) serves that version to every key.
    Running servers pick it up on their next request.

    \b
    Example:
      lakebox deployments traffic attendance 1=90 2=10
    """
    split: dict[int, float] = {}
    for share in shares:
        version, sep, percent = share.partition("=")
        try:
            split[int(version)] = float(percent) if sep else 100.0
        except ValueError:
            raise ValidationError(f"{share!r}: write VERSION=PERCENT, e.g. 2=10.") from None
    deployment = state.open().get_model_serving().get_deployment(name)
    if len(split) == 1:
        deployment.set_model_version(next(iter(split)))
    else:
        deployment.set_traffic(split)
    text = ", ".join(f"v{v}: {s:g}%" for v, s in sorted(deployment.traffic.items()))
    state.out.result({"name": name, "traffic": {str(k): v for k, v in deployment.traffic.items()}},
                     f"[green]✓[/] {escape(name)} now serves {escape(text)}.")


@deployments.command("delete", short_help="Delete a deployment (its log stays).")
@click.argument("name")
@click.option("--delete-logs", is_flag=True, help="Also delete its prediction-log and outcome feature groups.")
@output_option
@pass_state
def delete(state: State, name: str, delete_logs: bool) -> None:
    """Delete deployment NAME. Its prediction log (NAME_predictions) stays unless --delete-logs."""
    state.open().get_model_serving().get_deployment(name).delete(delete_logs=delete_logs)
    state.out.result({"name": name, "deleted": True, "logs_deleted": delete_logs},
                     f"[green]✓[/] Deleted deployment [bold]{escape(name)}[/]" + (" and its logs." if delete_logs else "."))

"""``lakebox monitors list|run|history|alerts``: drift monitors of a box."""

from __future__ import annotations

from typing import Any

import click

from lakebox.cli.deployments import table
from lakebox.cli.formats import escape
from lakebox.cli.state import State, output_option, pass_state
from lakebox.errors import ValidationError


@click.group("monitors", short_help="Drift monitors: list, run, history, alerts.")
def monitors() -> None:
    """Drift monitors: a window of a deployment's logged features (or of a feature group's
    rows) compared with a training dataset (psi, ks, mean_shift). Create one in Python with
    fs.create_drift_monitor(); run them from cron with `lakebox monitors run --all`.
    """


def _result_rows(run: Any) -> list[dict[str, Any]]:
    return [{**r, "alert": "ALERT" if r["alert"] else ""} for r in run.results]


@monitors.command("list", short_help="List drift monitors.")
@output_option
@pass_state
def list_monitors(state: State) -> None:
    """List the monitors: source, reference training dataset, window, metrics and last run."""
    found = state.open().describe_monitors()  # the catalog only: no drift metrics, pyarrow or DuckDB
    if not state.text:
        state.out.result({"monitors": found}, "")
        return
    rows = [{
        "name": m["name"], "source": f"{m['source']['kind']} {m['source']['name']}",
        "reference": f"{m['reference']['feature_view']} v{m['reference']['feature_view_version']} "
                     f"td v{m['reference']['training_dataset_version']}",
        "window": f"{m['window_s'] / 3600:g} h", "metrics": ", ".join(m["metrics"]),
        "last run": (m["last_run"]["window_end"] + (" ALERT" if m["last_run"]["alert"] else " ok")) if m["last_run"] else "never",
    } for m in found]  # fmt: skip
    state.out.rows(table(rows, ["name", "source", "reference", "window", "metrics", "last run"]), title="Drift monitors")


@monitors.command("run", short_help="Run monitors now (or at --at); --all for cron.")
@click.argument("names", nargs=-1)
@click.option("--all", "run_all", is_flag=True, help="Run every monitor of the box (the entry point for cron).")
@click.option("--at", default=None, help="End of the window (ISO-8601 with an offset); default: now.")
@click.option("--fail-on-alert", is_flag=True, help="Exit with status 2 when any monitor alerts (for cron mail).")
@output_option
@pass_state
def run(state: State, names: tuple[str, ...], run_all: bool, at: str | None, fail_on_alert: bool) -> None:
    """Run monitors NAMES (or --all): score the window ending --at against the reference,
    store the results, record an alert event when a score passes its threshold.

    \b
    Example (crontab, every morning at 6):
      0 6 * * *  lakebox --box /data/my.lakebox monitors run --all --fail-on-alert
    """
    if bool(names) == run_all:
        raise ValidationError("Name the monitors to run, or pass --all (not both).")
    fs = state.open().get_feature_store()
    chosen = fs.get_drift_monitors() if run_all else [fs.get_drift_monitor(n) for n in names]
    runs = [m.run(at=at) for m in chosen]
    if not state.text:
        state.out.result({"runs": [r.to_dict() for r in runs]}, "")
    else:
        for r in runs:
            verdict = "[bold red]ALERT[/]" if r.alert else "[green]no drift[/]"
            title = f"{r.monitor}: {r.rows} rows in {r.window_start} .. {r.window_end}"
            state.out.rows(table(_result_rows(r), ["feature", "metric", "score", "threshold", "alert"]), title=title)
            state.console.print(f"{escape(r.monitor)}: {verdict}")
        if not runs:
            state.console.print("No drift monitors in this box.")
    if fail_on_alert and any(r.alert for r in runs):
        raise SystemExit(2)


@monitors.command("history", short_help="Past runs of a monitor.")
@click.argument("name")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Show at most this many runs.")
@output_option
@pass_state
def history(state: State, name: str, limit: int) -> None:
    """Past runs of monitor NAME, newest first: window, rows, alert and the alerting features."""
    runs = state.open().get_feature_store().get_drift_monitor(name).history(limit=limit)
    if not state.text:
        state.out.result({"name": name, "runs": [r.to_dict() for r in runs]}, "")
        return
    rows = [{"run": r.run_id, "window end": r.window_end, "rows": r.rows, "alert": "ALERT" if r.alert else "",
             "alerting": ", ".join(sorted({a["feature"] for a in r.alerts}))} for r in runs]  # fmt: skip
    state.out.rows(table(rows, ["run", "window end", "rows", "alert", "alerting"]), title=f"History of {name}")


@monitors.command("alerts", short_help="Drift alert events, newest first.")
@click.option("--monitor", default=None, help="Only this monitor's alerts.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True, help="Show at most this many alerts.")
@output_option
@pass_state
def alerts(state: State, monitor: str | None, limit: int) -> None:
    """Drift alerts (catalog events of kind drift_alert), newest first."""
    found = state.open().get_feature_store().get_alerts(monitor, limit)
    if not state.text:
        state.out.result({"alerts": found}, "")
        return
    state.out.rows(table(found, ["created_at", "asset_name", "message"]), title="Drift alerts")

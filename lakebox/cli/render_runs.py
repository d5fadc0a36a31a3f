"""Renderers for experiments and models: trials and model versions as rich tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lakebox.cli.formats import dataset_label, seconds, short, short_time
from lakebox.cli.tables import tidy

_STATUS_STYLES = {"finished": "green", "running": "yellow", "pruned": "yellow", "failed": "red", "interrupted": "red"}


def status_text(status: str) -> Text:
    """A run's or trial's status, coloured."""
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def count_statuses(statuses: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def render_trials(
    trials: Sequence[Mapping[str, Any]],
    metric: str | None,
    direction: str | None,
    title: str | None = None,
    compact: bool = False,
) -> Table:
    """A rich table of trials (``Experiment.trials``) in the given order: hyperparameters, the
    metric, other metrics, status, worker, attempts (when a trial was retried) and duration; the
    best finished one starred. ``compact`` draws no column lines (for narrow terminals)."""
    scored = [t for t in trials if t["status"] == "finished" and t.get("value") is not None]
    pick = min if direction == "min" else max
    best = pick(scored, key=lambda t: t["value"])["trial"] if scored and metric else None
    hparams = list(dict.fromkeys(k for t in trials for k in t["hparams"]))
    others = [m for m in dict.fromkeys(k for t in trials for k in (t["metrics"] or {})) if m != metric]
    retried = any(t["attempts"] > 1 for t in trials)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    table.add_column("trial", justify="right", no_wrap=True)
    for name in hparams:
        table.add_column(escape(name), justify="right", overflow="fold")
    if metric:
        table.add_column(escape(metric), justify="right", style="bold", no_wrap=True)
    for name in others:
        table.add_column(escape(name), justify="right", overflow="fold")
    for column in ("status", "worker", *(("attempts",) if retried else ()), "duration"):
        table.add_column(column, justify="left" if column == "status" else "right", no_wrap=True)
    for t in trials:
        value = t.get("value") if t.get("value") is not None else (t["metrics"] or {}).get(metric) if metric else None
        cells: list[str | Text] = [f"{t['trial']}{' ★' if t['trial'] == best else ''}"]
        cells += [short(t["hparams"].get(h)) for h in hparams]
        if metric:
            cells.append(short(value))
        cells += [short((t["metrics"] or {}).get(m)) for m in others]
        cells += [status_text(t["status"]), "-" if t["worker"] is None else f"w{t['worker']}"]
        cells += [str(t["attempts"])] if retried else []
        cells.append(seconds(t["duration_s"]))
        table.add_row(*cells)
    return tidy(table)


def render_models(models: Sequence[Mapping[str, Any]], title: str | None = None, compact: bool = False) -> Table:
    """A rich table of model versions (``describe_model`` entries)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    for column in ("name", "version", "metrics", "training dataset", "created"):
        table.add_column(column, justify="right" if column == "version" else "left", overflow="fold",
                         no_wrap=column in ("version", "created"))  # fmt: skip
    for m in models:
        metrics = ", ".join(f"{k}={short(v)}" for k, v in m["metrics"].items())
        table.add_row(
            escape(m["name"]), f"v{m['version']}", escape(metrics or "-"),
            escape(dataset_label(m["training_dataset"])), escape(short_time(m["created_at"])),
        )  # fmt: skip
    return tidy(table)

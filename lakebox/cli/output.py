"""The CLI's output layer: commands build plain data, an ``Output`` renders it as text or JSON.

Like pyiceberg's CLI, every command hands its result to ``TextOutput`` (rich tables for a
person) or ``JsonOutput`` (one JSON document on stdout for a program), chosen by
``--output``. Errors have one JSON shape everywhere: ``LakeboxError.to_dict()``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import click
import pyarrow as pa
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lakebox.errors import LakeboxError

OUTPUT_FORMATS = ("text", "json")
DEFAULT_MAX_ROWS = 100
WIDE = 140  # terminals narrower than this get compact statistics tables
NARROW = 100  # terminals narrower than this get trial and model tables without column lines


# -- values ---------------------------------------------------------------------------------
def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value``: times as ISO-8601 (``Z`` for UTC), NaN as null,
    decimals as strings, bytes as base64."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (datetime, date, time)):
        return format_value(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return str(value)


def format_value(value: Any) -> str:
    """How one cell reads in a text table (and how times read in JSON)."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        if value.tzinfo is not None and value.utcoffset() == UTC.utcoffset(None):
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value[:16]).hex() + ("…" if len(value) > 16 else "")
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def table_data(table: pa.Table, max_rows: int | None = None) -> dict[str, Any]:
    """``{"columns": [{"name", "type"}], "rows": [{...}], "row_count": N}`` for an Arrow table;
    ``rows`` holds at most ``max_rows`` rows (all when None), ``row_count`` counts them all."""
    from lakebox.types import type_name_or_raw

    shown = table if max_rows is None else table.slice(0, max_rows)
    return {
        "columns": [{"name": f.name, "type": type_name_or_raw(f.type)} for f in table.schema],
        "rows": shown.to_pylist(),
        "row_count": table.num_rows,
    }


# -- renderers ------------------------------------------------------------------------------
class Output(ABC):
    """What every renderer can show. Commands call these with plain data."""

    @abstractmethod
    def groups(self, groups: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def group(self, group: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def rows(self, data: Mapping[str, Any], title: str | None = None, caption: str | None = None) -> None: ...

    @abstractmethod
    def commits(self, data: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def result(self, data: Mapping[str, Any], message: str) -> None:
        """The outcome of a command that changed something (init, ingest)."""
        ...

    @abstractmethod
    def views(self, views: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def view(self, view: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def datasets(self, data: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def dataset(self, data: Mapping[str, Any]) -> None: ...

    @abstractmethod
    def sql_text(self, data: Mapping[str, Any]) -> None:
        """SQL that a command compiled (``data["sql"]``), not run."""
        ...

    @abstractmethod
    def online(self, groups: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def api_keys(self, keys: Sequence[Mapping[str, Any]]) -> None: ...

    @abstractmethod
    def search(self, data: Mapping[str, Any]) -> None:
        """Search hits (``data["hits"]``, each ``SearchHit.to_dict()``)."""
        ...

    @abstractmethod
    def lineage(self, data: Mapping[str, Any]) -> None:
        """A lineage graph (``LineageGraph.to_dict()`` with a ``label`` per node)."""
        ...

    @abstractmethod
    def statistics(self, data: Mapping[str, Any]) -> None:
        """A group's statistics at a commit (``data["statistics"]``: ``Statistics.to_dict()``)."""
        ...

    @abstractmethod
    def validations(self, data: Mapping[str, Any]) -> None:
        """A group's expectations and stored validation reports."""
        ...

    @abstractmethod
    def tags(self, data: Mapping[str, Any]) -> None:
        """The tags of one asset (``data["tags"]``)."""
        ...

    @abstractmethod
    def experiments(self, data: Mapping[str, Any]) -> None:
        """Recorded lagom runs (``data["experiments"]``)."""
        ...

    @abstractmethod
    def experiment(self, data: Mapping[str, Any]) -> None:
        """One run: its summary, and its trials, log or one trial when asked."""
        ...

    @abstractmethod
    def models(self, data: Mapping[str, Any]) -> None:
        """Registered model versions (``data["models"]``)."""
        ...

    @abstractmethod
    def model(self, data: Mapping[str, Any]) -> None:
        """One model version: metadata, files and lineage."""
        ...

    @abstractmethod
    def error(self, err: LakeboxError) -> None: ...


class JsonOutput(Output):
    """One JSON document per command, on stdout."""

    def _emit(self, value: Any) -> None:
        click.echo(json.dumps(jsonable(value), indent=2, ensure_ascii=False))

    def groups(self, groups: Sequence[Mapping[str, Any]]) -> None:
        self._emit({"feature_groups": list(groups)})

    def group(self, group: Mapping[str, Any]) -> None:
        self._emit(group)

    def rows(self, data: Mapping[str, Any], title: str | None = None, caption: str | None = None) -> None:
        self._emit(data)

    def commits(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def result(self, data: Mapping[str, Any], message: str) -> None:
        self._emit(data)

    def views(self, views: Sequence[Mapping[str, Any]]) -> None:
        self._emit({"feature_views": list(views)})

    def view(self, view: Mapping[str, Any]) -> None:
        self._emit(view)

    def datasets(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def dataset(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def sql_text(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def online(self, groups: Sequence[Mapping[str, Any]]) -> None:
        self._emit({"feature_groups": list(groups)})

    def api_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        self._emit({"api_keys": list(keys)})

    def search(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def lineage(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def statistics(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def validations(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def tags(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def experiments(self, data: Mapping[str, Any]) -> None:
        self._emit({"experiments": list(data["experiments"])})

    def experiment(self, data: Mapping[str, Any]) -> None:
        self._emit({k: v for k, v in data.items() if k != "show_trials"})

    def models(self, data: Mapping[str, Any]) -> None:
        self._emit({"models": list(data["models"])})

    def model(self, data: Mapping[str, Any]) -> None:
        self._emit(data)

    def error(self, err: LakeboxError) -> None:
        # On stdout, like every other JSON result, so `lakebox -o json ... | jq` sees it.
        click.echo(json.dumps(err.to_dict(), ensure_ascii=False))


class TextOutput(Output):
    """Rich tables on stdout; errors as one red line on stderr."""

    def __init__(self, console: Console, err_console: Console) -> None:
        self.console = console
        self.err_console = err_console

    def groups(self, groups: Sequence[Mapping[str, Any]]) -> None:
        if not groups:
            self.console.print(
                "No feature groups yet. Create one with [bold]lakebox fg ingest[/] or run [bold]lakebox demo[/]."
            )
            return
        table = Table(title="Feature groups", title_justify="left")
        table.add_column("group", no_wrap=True)
        table.add_column("primary key", no_wrap=True)
        table.add_column("event time", no_wrap=True)
        table.add_column("features", justify="right", no_wrap=True)
        table.add_column("commits", justify="right", no_wrap=True)
        table.add_column("description", overflow="fold")
        for g in groups:
            table.add_row(
                f"{escape(g['name'])} v{g['version']}",
                escape(", ".join(g["primary_key"])),
                escape(g["event_time"] or "-"),
                str(len(g["features"])),
                str(g["commit_count"]),
                escape(g["description"]),
            )
        self.console.print(table)

    def group(self, group: Mapping[str, Any]) -> None:
        lines = [
            f"[bold]{escape(group['name'])}[/] v{group['version']}  (SQL table [cyan]{escape(group['table'])}[/])",
        ]
        if group["description"]:
            lines.append(escape(group["description"]))
        lines.append(
            f"primary key: [bold]{escape(', '.join(group['primary_key']))}[/]   "
            f"event time: [bold]{escape(group['event_time'] or '-')}[/]   "
            f"online: {'yes' if group['online_enabled'] else 'no'}"
        )
        last = format_value(group["last_commit"]) if group["last_commit"] else "never"
        lines.append(f"commits: {group['commit_count']}   last commit: {last}")
        iceberg = group.get("iceberg")
        if iceberg:
            lines.append(
                f"Iceberg: catalog [cyan]{escape(iceberg['catalog_name'])}[/] ({escape(iceberg['catalog_type'])}, "
                f"{escape(iceberg['catalog_uri'])}), table [cyan]{escape(iceberg['identifier'])}[/]"
            )
            if iceberg.get("metadata_location"):
                lines.append(f"metadata: {escape(iceberg['metadata_location'])}")
            if iceberg.get("warning"):
                lines.append(f"[yellow]{escape(iceberg['warning'])}[/]")
        self.console.print(Panel("\n".join(lines), expand=False))
        if not group["features"]:
            self.console.print("No schema yet: the first insert defines it.")
            return
        table = Table(title="Schema", title_justify="left")
        table.add_column("feature")
        table.add_column("type")
        table.add_column("role")
        table.add_column("description", overflow="fold")
        for f in group["features"]:
            role = "primary key" if f["primary"] else ("event time" if f["event_time"] else "")
            name = Text(f["name"], style="bold" if role else "")
            table.add_row(name, escape(f["type"]), role, escape(f["description"]))
        self.console.print(table)

    def rows(self, data: Mapping[str, Any], title: str | None = None, caption: str | None = None) -> None:
        self.console.print(render_rows(data, title=title, caption=caption))

    def commits(self, data: Mapping[str, Any]) -> None:
        if not data["commits"]:
            self.console.print(f"{escape(data['name'])} v{data['version']} has no commits yet.")
            return
        self.console.print(render_commits(data["commits"], title=f"Commits of {data['name']} v{data['version']}"))

    def result(self, data: Mapping[str, Any], message: str) -> None:
        self.console.print(message)

    def views(self, views: Sequence[Mapping[str, Any]]) -> None:
        if not views:
            self.console.print(
                "No feature views yet. Create one in Python with [bold]fs.create_feature_view[/] "
                "or run [bold]lakebox demo[/]."
            )
            return
        table = Table(title="Feature views", title_justify="left")
        for column in ("view", "reads", "labels", "features", "training datasets", "description"):
            table.add_column(
                column, overflow="fold", justify="right" if column in ("features", "training datasets") else "left"
            )
        for v in views:
            table.add_row(
                f"{escape(v['name'])} v{v['version']}",
                escape(", ".join(f"{g['name']} v{g['version']}" for g in v["groups"])),
                escape(", ".join(v["labels"]) or "-"),
                str(len(v["features"])),
                str(len(v["training_datasets"])),
                escape(v["description"]),
            )
        self.console.print(table)

    def view(self, view: Mapping[str, Any]) -> None:
        lines = [f"[bold]{escape(view['name'])}[/] v{view['version']}"]
        if view["description"]:
            lines.append(escape(view["description"]))
        reads = ", ".join(f"{g['name']} v{g['version']}" for g in view["groups"])
        lines.append(f"reads: [bold]{escape(reads)}[/]   (root, the spine: {escape(view['groups'][0]['name'])})")
        lines.append(
            f"primary key: [bold]{escape(', '.join(view['primary_key']))}[/]   "
            f"event time: [bold]{escape(view['event_time'] or '-')}[/]   "
            f"labels: [bold]{escape(', '.join(view['labels']) or '-')}[/]"
        )
        self.console.print(Panel("\n".join(lines), expand=False))
        table = Table(title="Query output", title_justify="left")
        table.add_column("column")
        table.add_column("role")
        table.add_column("transformation")
        for column in view["columns"]:
            table.add_row(
                Text(column["name"], style="bold" if column["role"] != "feature" else ""),
                column["role"],
                escape(column["transformation"] or ""),
            )
        self.console.print(table)
        if not view["training_datasets"]:
            self.console.print(f"No training datasets yet: [bold]lakebox td create {escape(view['name'])}[/].")
            return
        self.console.print(render_datasets(view["training_datasets"], title="Training datasets"))

    def datasets(self, data: Mapping[str, Any]) -> None:
        if not data["training_datasets"]:
            self.console.print(
                f"Feature view {escape(data['name'])} v{data['version']} has no training datasets yet: "
                f"[bold]lakebox td create {escape(data['name'])}[/]."
            )
            return
        title = f"Training datasets of {data['name']} v{data['version']}"
        self.console.print(render_datasets(data["training_datasets"], title=title))

    def dataset(self, data: Mapping[str, Any]) -> None:
        lines = [
            f"[bold]{escape(data['view'])}[/] v{data['view_version']}, training dataset [bold]v{data['version']}[/]",
        ]
        if data["description"]:
            lines.append(escape(data["description"]))
        lines.append(f"split: {escape(split_summary(data['spec']))}   format: {escape(data['data_format'])}")
        lines.append(f"created: {escape(short_time(data['created_at']))}")
        paths = list(data["files"].values())
        if paths:
            folder = paths[0].rsplit("/", 1)[0] if "/" in paths[0] else "."
            names = ", ".join(p.rsplit("/", 1)[-1] for p in paths)
            lines.append(f"files: [cyan]{escape(folder)}/[/] ({escape(names)})")
        self.console.print(Panel("\n".join(lines), expand=False))

        splits = Table(title="Rows per split", title_justify="left")
        splits.add_column("split")
        splits.add_column("rows", justify="right")
        for split, count in data["row_counts"].items():
            splits.add_row(escape(split), f"{count:,}")
        self.console.print(splits)

        snapshots = Table(title="Snapshots read (pinned against retention)", title_justify="left")
        for column in ("group", "commit", "snapshot id"):
            snapshots.add_column(column, justify="left" if column == "group" else "right")
        for s in data["snapshots"]:
            snapshots.add_row(
                f"{escape(s['group'])} v{s['version']}",
                str(s["commit_id"]) if s["commit_id"] is not None else "empty",
                str(s["snapshot_id"]) if s["snapshot_id"] is not None else "-",
            )
        self.console.print(snapshots)

        fitted = data["transformations"].get("features", []) if data["transformations"] else []
        if fitted:
            table = Table(title="Transformation functions (fitted on the training split)", title_justify="left")
            for column in ("feature", "function", "fitted parameters"):
                table.add_column(column, overflow="fold")
            for f in fitted:
                params = ", ".join(f"{k}={format_value(v)}" for k, v in (f.get("params") or {}).items())
                table.add_row(escape(f["feature"]), escape(f["function"]), escape(params))
            self.console.print(table)

        split = data["statistics_split"]
        if split is not None:
            stats = Table(title=f"Statistics of the {split} split", title_justify="left")
            for column in ("column", "count", "nulls", "min", "max", "mean", "stddev"):
                stats.add_column(column, justify="left" if column == "column" else "right")
            for name, s in data["statistics"][split].items():
                if name.startswith("$"):  # reserved keys: $row_count, $correlations
                    continue
                stats.add_row(
                    escape(name), f"{s.get('count', 0):,}", f"{s.get('null_count', 0):,}",
                    *[_stat(instant(s.get(k))) for k in ("min", "max", "mean", "stddev")],
                )  # fmt: skip
            self.console.print(stats)

    def sql_text(self, data: Mapping[str, Any]) -> None:
        from rich.syntax import Syntax

        self.console.print(Syntax(data["sql"], "sql", theme="ansi_dark", background_color="default", word_wrap=True))

    def online(self, groups: Sequence[Mapping[str, Any]]) -> None:
        if not groups:
            self.console.print(
                "No online-enabled feature groups. Enable one with [bold]lakebox fg online NAME --enable[/]."
            )
            return
        table = Table(title="Online store", title_justify="left")
        for column in ("group", "keys served", "last commit", "applied", "commits behind"):
            table.add_column(column, justify="left" if column == "group" else "right")
        for g in groups:
            behind = g["commits_behind"]
            table.add_row(
                f"{escape(g['name'])} v{g['version']}",
                f"{g['keys']:,}",
                str(g["last_commit"] or "-"),
                str(g["applied_commit"] or "-"),
                f"[bold yellow]{behind}[/]" if behind else "0",
            )
        self.console.print(table)
        if any(g["commits_behind"] for g in groups):
            self.console.print(
                "Groups behind the offline store catch up on their next read, or now with [bold]lakebox online rebuild[/]."
            )

    def api_keys(self, keys: Sequence[Mapping[str, Any]]) -> None:
        if not keys:
            self.console.print("No API keys. Create one with [bold]lakebox apikey create NAME[/].")
            return
        table = Table(title="API keys (secrets are never shown again)", title_justify="left")
        for column in ("name", "id prefix", "scopes", "created", "status"):
            table.add_column(column, overflow="fold")
        for k in keys:
            status = "active" if k["active"] else f"revoked {short_time(k['revoked_at'])}"
            table.add_row(
                escape(k["name"]), escape(k["prefix"]), escape(", ".join(k["scopes"])), escape(short_time(k["created_at"])),
                Text(status, style="green" if k["active"] else "dim"),
            )  # fmt: skip
        self.console.print(table)

    def search(self, data: Mapping[str, Any]) -> None:
        what = " ".join([repr(data["query"]) if data["query"] else "", *[f"--kind {k}" for k in data["kind"]],
                         *[f"--tag {t}" for t in data["tags"]]]).strip()  # fmt: skip
        if not data["hits"]:
            self.console.print(f"Nothing found for {escape(what)}.")
            return
        self.console.print(render_search(data["hits"], title=f"Search {what}: {len(data['hits'])} hit(s)"))

    def lineage(self, data: Mapping[str, Any]) -> None:
        self.console.print(render_lineage(data))
        if not data["edges"]:
            self.console.print("[dim]No lineage recorded for this asset yet.[/]")

    def statistics(self, data: Mapping[str, Any]) -> None:
        title = f"Statistics of {data['name']} v{data['version']} at commit {data['commit_id']}"
        compact = self.console.width < WIDE  # --output json has every statistic
        self.console.print(render_statistics(data["statistics"], title=title, compact=compact))

    def validations(self, data: Mapping[str, Any]) -> None:
        rules = ", ".join(rule_text(e) for e in data["expectations"]) or "none"
        self.console.print(
            f"[bold]{escape(data['name'])}[/] v{data['version']}: validation [bold]{escape(data['validation'])}[/]; "
            f"expectations: {escape(rules)}"
        )
        if not data["reports"]:
            self.console.print("No validation reports yet: every insert into a group with expectations stores one.")
            return
        self.console.print(render_validations(data["reports"], title="Validation reports (oldest first)"))

    def tags(self, data: Mapping[str, Any]) -> None:
        what = f"{data['kind'].replace('_', ' ')} {data['name']} v{data['version']}"
        if not data["tags"]:
            self.console.print(f"{escape(what)} has no tags.")
            return
        self.console.print(f"Tags of {escape(what)}:")
        table = Table()
        table.add_column("key")
        table.add_column("value (JSON)", overflow="fold")
        for key, value in data["tags"].items():
            table.add_row(escape(key), escape(json.dumps(value, ensure_ascii=False)))
        self.console.print(table)

    def experiments(self, data: Mapping[str, Any]) -> None:
        runs = data["experiments"]
        if not runs:
            self.console.print(
                "No experiments yet. Run a training function with [bold]experiment.lagom[/] in Python, "
                "or run [bold]lakebox demo[/]."
            )
            return
        table = Table(title="Experiments (runs of experiment.lagom)", title_justify="left")
        for column in ("name", "run", "kind", "status", "metric", "best value", "duration", "started"):
            table.add_column(column, justify="right" if column in ("run", "best value", "duration") else "left",
                             overflow="fold", no_wrap=column in ("run", "status", "best value", "duration"))  # fmt: skip
        for r in runs:
            table.add_row(
                escape(r["name"]), str(r["run"]), escape(r["kind"]), status_text(r["status"]),
                escape(metric_label(r["metric"], r["direction"])), _short(r["best_val"]), seconds(r["duration_s"]),
                escape(short_time(r["started_at"])),
            )  # fmt: skip
        self.console.print(table)

    def experiment(self, data: Mapping[str, Any]) -> None:
        lines = [f"[bold]{escape(data['name'])}[/] run {data['run']}   {escape(data['kind'])}   "
                 + status_text(data["status"]).markup]  # fmt: skip
        if data["description"]:
            lines.append(escape(data["description"]))
        lines.append(f"function: {escape(data['function'])}")
        timing = f"started: {escape(short_time(data['started_at']))}   duration: {seconds(data['duration_s'])}"
        lines.append(timing)
        if data["metric"]:
            lines.append(
                f"metric: [bold]{escape(metric_label(data['metric'], data['direction']))}[/]   "
                f"best value: [bold]{_metric(data['best_val'])}[/]"
            )
        if data["hparams"]:
            label = "best hyperparameters" if data["kind"] in ("hyperparameter_search", "ablation") else "hyperparameters"
            lines.append(f"{label}: {escape(_pairs(data['hparams']))}")
        if data["metrics"]:
            lines.append(f"metrics: {escape(_pairs(data['metrics']))}")
        env = data["environment"]
        if env.get("python"):
            git = env.get("git") or {}
            commit = f"   git {git['commit'][:10]}{' (dirty)' if git.get('dirty') else ''}" if git.get("commit") else ""
            lines.append(f"environment: Python {escape(str(env['python']))}, {env['packages']} packages{escape(commit)}")
        if data["training_datasets"]:
            read = ", ".join(f"{d['name']} v{d['version']}" for d in data["training_datasets"])
            lines.append(f"read training datasets: {escape(read)}")
        if data["models"]:
            made = ", ".join(f"{m['name']} v{m['version']}" for m in data["models"])
            lines.append(f"produced models: {escape(made)}")
        if data["files"]:
            lines.append(f"files: {escape(', '.join(data['files']))}   in [cyan]{escape(data['path'])}[/]")
        self.console.print(Panel("\n".join(lines), expand=False))
        if data["error"]:
            tail = data["error"].strip().splitlines()[-1:] or [""]
            self.console.print(Text(f"error: {tail[0]}", style="red"))
        trials = data["trials"]
        if data.get("show_trials"):
            order = {"metric": f"by {data['metric']}, best first", "trial": "by trial", "duration": "longest first"}
            title = f"Trials of {data['name']} run {data['run']} ({order[data.get('sort') or 'trial']}; ★ best)"
            compact = self.console.width < NARROW
            self.console.print(render_trials(trials, data["metric"], data["direction"], title=title, compact=compact))
        elif len(trials) > 1 and data.get("trial") is None and data.get("log") is None:
            counts = ", ".join(f"{n} {s}" for s, n in _count(t["status"] for t in trials).items())
            self.console.print(f"{len(trials)} trials ({escape(counts)}): add [bold]--trials[/] to list them.")
        chosen = data.get("trial")
        if chosen is not None:
            compact = self.console.width < NARROW
            title = f"Trial {chosen['trial']}"
            self.console.print(render_trials([chosen], data["metric"], data["direction"], title=title, compact=compact))
            if chosen.get("error"):
                self.console.print(Text(chosen["error"].rstrip(), style="red"))
            self.console.print(Rule(f"output of trial {chosen['trial']}", align="left"))
            self.console.print(Text(chosen["log"].rstrip() or "(no output)"))
        if data.get("log") is not None:
            self.console.print(Rule("run.log", align="left"))
            self.console.print(Text(data["log"].rstrip() or "(empty)"))

    def models(self, data: Mapping[str, Any]) -> None:
        if not data["models"]:
            self.console.print(
                "No models yet. Register one in Python with [bold]mr.create_model(...)[/] and "
                "[bold]model.save(path)[/], or run [bold]lakebox demo[/]."
            )
            return
        self.console.print(render_models(data["models"], title="Models", compact=self.console.width < NARROW))

    def model(self, data: Mapping[str, Any]) -> None:
        lines = [f"[bold]{escape(data['name'])}[/] v{data['version']}"]
        if data["description"]:
            lines.append(escape(data["description"]))
        lines.append(f"created: {escape(short_time(data['created_at']))}")
        lines.append(f"metrics: {escape(_pairs(data['metrics']) or '-')}")
        lines.append(f"training dataset: {escape(dataset_label(data['training_dataset']))}")
        if data["experiment"]:
            lines.append(f"made in experiment: {escape(data['experiment']['name'])} run {data['experiment']['run']}")
        if data["tags"]:
            lines.append(f"tags: {escape(_pairs(data['tags']))}")
        if data["input_example"] is not None:
            lines.append(f"input example: {escape(json.dumps(data['input_example'], ensure_ascii=False))}")
        self.console.print(Panel("\n".join(lines), expand=False))
        if data["files"]:
            table = Table(title=f"Files in {data['path']}", title_justify="left")
            table.add_column("file", overflow="fold")
            table.add_column("bytes", justify="right")
            for f in data["files"]:
                table.add_row(escape(f["name"]), f"{f['bytes']:,}")
            self.console.print(table)
        else:
            self.console.print("No files yet: save them in Python with [bold]model.save(path)[/].")
        self.console.print(Rule("Lineage (what the model was made from)", align="left"))
        self.lineage(data["lineage"])

    def error(self, err: LakeboxError) -> None:
        line = Text("Error ", style="bold red")
        line.append(f"[{err.code}]", style="red")
        line.append(" " + " ".join(str(err.message).split()), style="red")
        self.err_console.print(line, soft_wrap=True)


def render_rows(data: Mapping[str, Any], title: str | None = None, caption: str | None = None) -> Table:
    """A rich table of ``table_data`` output; says how many rows were left out."""
    numeric = {"int", "bigint", "float", "double"}
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in data["columns"]:
        is_number = column["type"] in numeric or column["type"].startswith("decimal")
        table.add_column(
            escape(column["name"]),
            justify="right" if is_number else "left",
            overflow="fold",
        )
    for row in data["rows"]:
        table.add_row(*[_cell(row.get(c["name"])) for c in data["columns"]])
    hidden = data["row_count"] - len(data["rows"])
    if hidden > 0 and caption is None:
        table.caption = f"{len(data['rows'])} of {data['row_count']} rows shown"
        table.caption_justify = "left"
    elif not data["rows"] and caption is None:
        table.caption = "no rows"
        table.caption_justify = "left"
    return table


def render_commits(commits: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table of ``commit_details`` entries (each with its ``commit_id``)."""
    table = Table(title=title, title_justify="left")
    table.add_column("commit", justify="right")
    table.add_column("committed on")
    table.add_column("kind")
    table.add_column("inserted", justify="right")
    table.add_column("updated", justify="right")
    table.add_column("deleted", justify="right")
    for c in commits:
        table.add_row(
            str(c["commit_id"]) + (" (expired)" if c.get("expired") else ""),
            str(c["committedOn"]),
            str(c.get("kind", "")),
            str(c["rowsInserted"]),
            str(c["rowsUpdated"]),
            str(c["rowsDeleted"]),
        )
    return table


def short_time(value: Any) -> str:
    """An ISO-8601 UTC time to the second, with ``Z``: ``2026-01-01T12:00:00Z``."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return format_value(moment.astimezone(UTC).replace(microsecond=0))


def split_summary(spec: Mapping[str, Any]) -> str:
    """One line for a training dataset's split spec: ``random: test 0.2, seed 42``."""
    kind = spec.get("kind")
    if kind == "time":
        parts = [
            f"{name} [{short_time(start) if start else '…'}, {short_time(end) if end else '…'})"
            for name, (start, end) in spec["times"].items()
        ]
        text = "by event time: " + "; ".join(parts)
    elif kind == "random":
        sizes = f"test {spec['test_size']}"
        if spec.get("validation_size") is not None:
            sizes += f", validation {spec['validation_size']}"
        text = f"random: {sizes}, seed {spec['seed']}"
    else:
        text = "none (one split: all)"
    if spec.get("start_time") or spec.get("end_time"):
        start, end = spec.get("start_time"), spec.get("end_time")
        text += f"; rows in [{short_time(start) if start else '…'}, {short_time(end) if end else '…'})"
    return text


def render_datasets(datasets: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table of training dataset versions (``version``, ``row_counts``, ``spec``...)."""
    table = Table(title=title, title_justify="left")
    for column in ("version", "format", "rows per split", "split", "created", "description"):
        table.add_column(column, overflow="fold", justify="right" if column == "version" else "left")
    for d in datasets:
        table.add_row(
            f"v{d['version']}",
            escape(d["data_format"]),
            escape(", ".join(f"{k} {v:,}" for k, v in d["row_counts"].items())),
            escape(split_summary(d["spec"])),
            escape(short_time(d["created_at"])),
            escape(d["description"]),
        )
    return table


def _stat(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return format_value(value)


def _short_stat(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if 1e3 <= abs(value) < 1e15 else f"{value:.4g}"
    return _stat(value)


def _cell(value: Any) -> Text:
    if value is None:
        return Text("null", style="dim")
    return Text(format_value(value))


# -- the catalog: search, lineage, statistics, validation -----------------------------------
_MATCH = re.compile(r"\[([^\[\]]*)\]")
_BLOCKS = "▁▂▃▄▅▆▇█"


def highlight(snippet: str) -> Text:
    """A search snippet with its ``[match]`` markers shown as bold highlighted text.

    FTS5 marks matches with brackets; a bracket pair that was already in the text reads as a
    match too (the snippet carries no other marker).
    """
    text = Text()
    position = 0
    for match in _MATCH.finditer(snippet):
        text.append(snippet[position : match.start()])
        text.append(match.group(1), style="bold black on yellow")
        position = match.end()
    text.append(snippet[position:])
    return text


def render_search(hits: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table of search hits, best first."""
    table = Table(title=title, title_justify="left")
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("version", justify="right")
    table.add_column("parent")
    table.add_column("score", justify="right")
    table.add_column("snippet", overflow="fold")
    for hit in hits:
        table.add_row(
            escape(hit["kind"]),
            escape(hit["name"]),
            "-" if hit["version"] is None else str(hit["version"]),
            escape(hit["parent"] or ""),
            f"{hit['score']:.3g}",
            highlight(hit["snippet"]),
        )
    return table


def _node_text(node: Mapping[str, Any]) -> Text:
    text = Text(node["kind"].replace("_", " ") + " ", style="dim")
    text.append(node["name"], style="bold")
    if node.get("version") is not None:
        text.append(f" v{node['version']}")
    return text


def _edge_note(relation: str, details: Mapping[str, Any]) -> str:
    if details.get("commit_id") is not None:
        return f"{relation} (commit {details['commit_id']})"
    return relation


def render_lineage(data: Mapping[str, Any]) -> Tree:
    """A rich tree of a lineage graph: sources (↑) and products (↓) nest under the root."""
    nodes = {str(k): v for k, v in data["nodes"].items()}
    edges = data["edges"]
    root = str(data["root"])
    tree = Tree(_node_text(nodes[root]))

    def walk(branch: Tree, node: str, direction: str, seen: frozenset[str]) -> None:
        for edge in edges:
            src, dst = str(edge["src"]), str(edge["dst"])
            if direction == "up" and dst == node:
                other, arrow = src, "↑"
            elif direction == "down" and src == node:
                other, arrow = dst, "↓"
            else:
                continue
            label = Text(f"{arrow} {_edge_note(edge['relation'], edge.get('details') or {})}: ", style="cyan")
            label.append_text(_node_text(nodes[other]))
            child = branch.add(label)
            if other not in seen:
                walk(child, other, direction, seen | {other})

    walk(tree, root, "up", frozenset({root}))
    walk(tree, root, "down", frozenset({root}))
    return tree


def sparkline(counts: Sequence[int], width: int | None = None) -> str:
    """Histogram counts as unicode blocks (a blank for an empty bin): ``▁▃█▅ ▂``; with
    ``width``, adjacent bins are summed so that it is at most that many characters."""
    counts = list(counts)
    if width is not None and len(counts) > width > 0:
        step = math.ceil(len(counts) / width)
        counts = [sum(counts[i : i + step]) for i in range(0, len(counts), step)]
    top = max(counts, default=0)
    if top <= 0:
        return ""
    return "".join(" " if c <= 0 else _BLOCKS[max(0, math.ceil(c / top * len(_BLOCKS)) - 1)] for c in counts)


def render_statistics(
    stats: Mapping[str, Any],
    title: str | None = None,
    features: Sequence[str] | None = None,
    compact: bool = False,
) -> Table:
    """One row per feature of a ``Statistics.to_dict()`` (keys starting with ``$`` are skipped):
    counts, range, moments, the median and a histogram sparkline (top value for strings).

    ``features`` picks and orders the rows; ``compact`` (for narrow terminals) leaves out the
    type, standard deviation and median, shows min and max as one range, draws no column lines
    and halves the sparkline.
    """
    rows = stats.get("$row_count")
    table = Table(title=title, title_justify="left", caption=f"{rows:,} rows" if rows is not None else None,
                  caption_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)  # fmt: skip
    columns = ["feature", "type", "count", "nulls", "distinct", "min", "max", "mean", "stddev", "p50"]
    if compact:
        columns = ["feature", "count", "nulls", "distinct", "range", "mean"]
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in ("feature", "type", "range") else "right",
            overflow="fold",
            no_wrap=column not in ("type", "min", "max", "range"),
        )
    if compact:
        table.add_column("histogram", no_wrap=True, max_width=12, overflow="ellipsis")
    else:
        table.add_column("histogram / top value", overflow="fold")
    number = _short_stat if compact else _stat
    names = [n for n in stats if not n.startswith("$")] if features is None else list(features)
    for name in names:  # reserved keys ($row_count, $correlations) are not features
        s = stats[name]
        histogram = s.get("histogram") or {}
        if histogram.get("counts"):
            shape = Text(sparkline(histogram["counts"], width=10 if compact else None), style="cyan")
        elif s.get("top"):
            value, count = s["top"][0]
            shape = Text(f"{format_value(value)} ×{count:,}", style="dim", overflow="ellipsis")
        else:
            shape = Text("")
        cells = {
            "feature": escape(name),
            "type": escape(str(s.get("type") or "")),
            "count": f"{s.get('count') or 0:,}",
            "nulls": f"{s.get('null_count') or 0:,}",
            "distinct": "-" if s.get("distinct") is None else f"{s['distinct']:,}",
            **{k: number(instant(s.get(k))) for k in ("min", "max", "mean", "stddev")},
            "p50": number((s.get("quantiles") or {}).get("0.5")),
        }
        cells["range"] = "-" if s.get("min") is None else f"{cells['min']} … {cells['max']}"
        table.add_row(*[cells[c] for c in columns], shape)
    return table


def instant(value: Any) -> Any:
    """An ISO-8601 string with an offset (a statistic of a timestamp) as an aware datetime."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return value


def rule_text(rule: Mapping[str, Any]) -> str:
    """An expectation as it was written: ``between(col='age', lo=18, hi=None)``."""
    return f"{rule['rule']}({', '.join(f'{k}={v!r}' for k, v in (rule.get('kwargs') or {}).items())})"


def failure_text(result: Mapping[str, Any], row_count: int) -> str:
    """Why one rule failed: ``between(col='age', ...): 3 of 10 rows`` or ``...: observed 0.4``."""
    if result.get("failed_rows") is None:
        return f"{rule_text(result)}: observed {format_value(result.get('observed'))}"
    return f"{rule_text(result)}: {result['failed_rows']:,} of {row_count:,} rows"


def render_validations(reports: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table of stored validation reports: commit (or refused), time, mode, outcome."""
    table = Table(title=title, title_justify="left")
    for column in ("commit", "checked at", "mode", "result", "rows", "failed rules"):
        table.add_column(
            column,
            overflow="fold",
            justify="right" if column in ("commit", "rows") else "left",
            no_wrap=column != "failed rules",
        )
    for r in reports:
        report = r["report"]
        failed = [x for x in report.get("results", []) if not x.get("success")]
        table.add_row(
            str(r["commit_id"]) if r["commit_id"] is not None else Text("refused", style="red"),
            escape(short_time(r["created_at"])),
            escape(r["mode"]),
            Text("✓ passed", style="green") if r["success"] else Text("✗ failed", style="red"),
            f"{report.get('row_count', 0):,}",
            escape("\n".join(failure_text(x, report.get("row_count", 0)) for x in failed) or "-"),
        )
    return table


# -- experiments and models -----------------------------------------------------------------
_STATUS_STYLES = {"finished": "green", "running": "yellow", "pruned": "yellow", "failed": "red", "interrupted": "red"}


def status_text(status: str) -> Text:
    """A run's or trial's status, coloured."""
    return Text(status, style=_STATUS_STYLES.get(status, ""))


def metric_label(metric: str | None, direction: str | None) -> str:
    """``r2 (max)``, or ``-`` without a metric."""
    if not metric:
        return "-"
    return f"{metric} ({direction})" if direction else metric


def seconds(value: float | None) -> str:
    """A duration: ``0.42 s``, ``12.3 s``, ``4 min 05 s``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def dataset_label(dataset: Mapping[str, Any] | None) -> str:
    """``attendance v1, training dataset v1`` (or ``-``)."""
    if not dataset:
        return "-"
    return f"{dataset['feature_view']} v{dataset['feature_view_version']}, training dataset v{dataset['version']}"


def _metric(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "-" if value is None else format_value(value)


def _short(value: Any) -> str:
    """A number for a narrow table cell: four significant digits (``0.7320``, ``6793``)."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if abs(value) >= 1e3 else f"{value:.4g}"
    return _metric(value)


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_metric(v) if isinstance(v, float) else format_value(v)}" for k, v in values.items())


def _count(statuses: Any) -> dict[str, int]:
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
        cells = [f"{t['trial']}{' ★' if t['trial'] == best else ''}"]
        cells += [_short(t["hparams"].get(h)) for h in hparams]
        if metric:
            cells.append(_short(value))
        cells += [_short((t["metrics"] or {}).get(m)) for m in others]
        cells += [status_text(t["status"]), "-" if t["worker"] is None else f"w{t['worker']}"]
        cells += [str(t["attempts"])] if retried else []
        cells.append(seconds(t["duration_s"]))
        table.add_row(*cells)
    return table


def render_models(models: Sequence[Mapping[str, Any]], title: str | None = None, compact: bool = False) -> Table:
    """A rich table of model versions (``describe_model`` entries)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)
    for column in ("name", "version", "metrics", "training dataset", "created"):
        table.add_column(column, justify="right" if column == "version" else "left", overflow="fold",
                         no_wrap=column in ("version", "created"))  # fmt: skip
    for m in models:
        metrics = ", ".join(f"{k}={_short(v)}" for k, v in m["metrics"].items())
        table.add_row(
            escape(m["name"]), f"v{m['version']}", escape(metrics or "-"),
            escape(dataset_label(m["training_dataset"])), escape(short_time(m["created_at"])),
        )  # fmt: skip
    return table


def make_output(fmt: str, console: Console, err_console: Console) -> Output:
    return JsonOutput() if fmt == "json" else TextOutput(console, err_console)

"""Text output: rich tables and panels for a person, errors as one red line on stderr.

Every table goes through ``tables.tidy`` and is printed with ``tables.emit`` (whole words,
whole keys; natural width into a pipe); counts use ``formats.number`` and ``formats.plural``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from lakebox.cli.formats import (
    dataset_label,
    format_value,
    instant,
    metric,
    metric_label,
    number,
    pairs,
    plural,
    rule_text,
    seconds,
    short,
    short_time,
    split_summary,
    stat,
)
from lakebox.cli.output import NARROW, WIDE, Output
from lakebox.cli.render import (
    render_commits,
    render_datasets,
    render_lineage,
    render_rows,
    render_search,
    render_statistics,
    render_validations,
)
from lakebox.cli.render_runs import count_statuses, render_models, render_trials, status_text
from lakebox.cli.tables import emit, tidy
from lakebox.errors import LakeboxError
from lakebox.jsonpolicy import dumps
from lakebox.textgrid import GROUP_COLUMNS, GROUPS_TITLE, group_cells, no_groups


class TextOutput(Output):
    """Rich tables on stdout; errors as one red line on stderr."""

    def __init__(self, console: Console, err_console: Console) -> None:
        self.console = console
        self.err_console = err_console

    def groups(self, groups: Sequence[Mapping[str, Any]]) -> None:
        # the columns, cells and message are lakebox.textgrid's, which draws the same table
        # without rich for the fast `lakebox fg list` (lakebox.entry)
        if not groups:
            self.console.print(no_groups(lambda command: f"[bold]{command}[/]"))
            return
        table = Table(title=GROUPS_TITLE, title_justify="left")
        for header, justify, wraps in GROUP_COLUMNS:
            table.add_column(header, justify=justify, no_wrap=not wraps, overflow="fold" if wraps else "ellipsis")
        for g in groups:
            table.add_row(*group_cells(g, escape))
        emit(self.console, tidy(table))

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
        emit(self.console, tidy(table))

    def rows(self, data: Mapping[str, Any], title: str | None = None, caption: str | None = None) -> None:
        emit(self.console, render_rows(data, title=title, caption=caption))

    def commits(self, data: Mapping[str, Any]) -> None:
        if not data["commits"]:
            self.console.print(f"{escape(data['name'])} v{data['version']} has no commits yet.")
            return
        emit(self.console, render_commits(data["commits"], title=f"Commits of {data['name']} v{data['version']}"))

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
                number(len(v["features"])),
                number(len(v["training_datasets"])),
                escape(v["description"]),
            )
        emit(self.console, tidy(table))

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
        emit(self.console, tidy(table))
        if not view["training_datasets"]:
            self.console.print(f"No training datasets yet: [bold]lakebox td create {escape(view['name'])}[/].")
            return
        emit(self.console, render_datasets(view["training_datasets"], title="Training datasets"))

    def datasets(self, data: Mapping[str, Any]) -> None:
        if not data["training_datasets"]:
            self.console.print(
                f"Feature view {escape(data['name'])} v{data['version']} has no training datasets yet: "
                f"[bold]lakebox td create {escape(data['name'])}[/]."
            )
            return
        title = f"Training datasets of {data['name']} v{data['version']}"
        emit(self.console, render_datasets(data["training_datasets"], title=title))

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
            splits.add_row(escape(split), number(count))
        emit(self.console, tidy(splits))

        snapshots = Table(title="Snapshots read (pinned against retention)", title_justify="left")
        for column in ("group", "commit", "snapshot id"):
            snapshots.add_column(column, justify="left" if column == "group" else "right")
        for s in data["snapshots"]:
            snapshots.add_row(
                f"{escape(s['group'])} v{s['version']}",
                str(s["commit_id"]) if s["commit_id"] is not None else "empty",
                str(s["snapshot_id"]) if s["snapshot_id"] is not None else "-",
            )
        emit(self.console, tidy(snapshots))

        fitted = data["transformations"].get("features", []) if data["transformations"] else []
        if fitted:
            table = Table(title="Transformation functions (fitted on the training split)", title_justify="left")
            for column in ("feature", "function", "fitted parameters"):
                table.add_column(column, overflow="fold")
            for f in fitted:
                params = ", ".join(f"{k}={format_value(v)}" for k, v in (f.get("params") or {}).items())
                table.add_row(escape(f["feature"]), escape(f["function"]), escape(params))
            emit(self.console, tidy(table))

        split = data["statistics_split"]
        if split is not None:
            stats = Table(title=f"Statistics of the {split} split", title_justify="left")
            for column in ("column", "count", "nulls", "min", "max", "mean", "stddev"):
                stats.add_column(column, justify="left" if column == "column" else "right")
            for name, s in data["statistics"][split].items():
                if name.startswith("$"):  # reserved keys: $row_count, $correlations
                    continue
                stats.add_row(
                    escape(name), number(s.get("count", 0)), number(s.get("null_count", 0)),
                    *[stat(instant(s.get(k))) for k in ("min", "max", "mean", "stddev")],
                )  # fmt: skip
            emit(self.console, tidy(stats))

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
                number(g["keys"]),
                str(g["last_commit"] or "-"),
                str(g["applied_commit"] or "-"),
                f"[bold yellow]{behind}[/]" if behind else "0",
            )
        emit(self.console, tidy(table))
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
        emit(self.console, tidy(table))

    def search(self, data: Mapping[str, Any]) -> None:
        what = " ".join([repr(data["query"]) if data["query"] else "", *[f"--kind {k}" for k in data["kind"]],
                         *[f"--tag {t}" for t in data["tags"]]]).strip()  # fmt: skip
        if not data["hits"]:
            self.console.print(f"Nothing found for {escape(what)}.")
            return
        emit(self.console, render_search(data["hits"], title=f"Search {what}: {plural(len(data['hits']), 'hit')}"))

    def lineage(self, data: Mapping[str, Any]) -> None:
        emit(self.console, render_lineage(data))
        if not data["edges"]:
            self.console.print("[dim]No lineage recorded for this asset yet.[/]")

    def statistics(self, data: Mapping[str, Any]) -> None:
        title = f"Statistics of {data['name']} v{data['version']} at commit {data['commit_id']}"
        compact = self.console.width < WIDE  # --output json has every statistic
        emit(self.console, render_statistics(data["statistics"], title=title, compact=compact))

    def validations(self, data: Mapping[str, Any]) -> None:
        rules = ", ".join(rule_text(e) for e in data["expectations"]) or "none"
        self.console.print(
            f"[bold]{escape(data['name'])}[/] v{data['version']}: validation [bold]{escape(data['validation'])}[/]; "
            f"expectations: {escape(rules)}"
        )
        if not data["reports"]:
            self.console.print("No validation reports yet: every insert into a group with expectations stores one.")
            return
        emit(self.console, render_validations(data["reports"], title="Validation reports (oldest first)"))

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
            table.add_row(escape(key), escape(dumps(value)))
        emit(self.console, tidy(table))

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
                escape(metric_label(r["metric"], r["direction"])), short(r["best_val"]), seconds(r["duration_s"]),
                escape(short_time(r["started_at"])),
            )  # fmt: skip
        emit(self.console, tidy(table))

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
                f"best value: [bold]{metric(data['best_val'])}[/]"
            )
        if data["hparams"]:
            label = (
                "best hyperparameters" if data["kind"] in ("hyperparameter_search", "ablation") else "hyperparameters"
            )
            lines.append(f"{label}: {escape(pairs(data['hparams']))}")
        if data["metrics"]:
            lines.append(f"metrics: {escape(pairs(data['metrics']))}")
        env = data["environment"]
        if env.get("python"):
            git = env.get("git") or {}
            commit = f"   git {git['commit'][:10]}{' (dirty)' if git.get('dirty') else ''}" if git.get("commit") else ""
            lines.append(
                f"environment: Python {escape(str(env['python']))}, {env['packages']} packages{escape(commit)}"
            )
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
            emit(self.console, render_trials(trials, data["metric"], data["direction"], title=title, compact=compact))
        elif len(trials) > 1 and data.get("trial") is None and data.get("log") is None:
            counts = ", ".join(f"{n} {s}" for s, n in count_statuses(t["status"] for t in trials).items())
            self.console.print(
                f"{plural(len(trials), 'trial')} ({escape(counts)}): add [bold]--trials[/] to list them."
            )
        chosen = data.get("trial")
        if chosen is not None:
            compact = self.console.width < NARROW
            title = f"Trial {chosen['trial']}"
            emit(self.console, render_trials([chosen], data["metric"], data["direction"], title=title, compact=compact))
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
        emit(self.console, render_models(data["models"], title="Models", compact=self.console.width < NARROW))

    def model(self, data: Mapping[str, Any]) -> None:
        lines = [f"[bold]{escape(data['name'])}[/] v{data['version']}"]
        if data["description"]:
            lines.append(escape(data["description"]))
        lines.append(f"created: {escape(short_time(data['created_at']))}")
        lines.append(f"metrics: {escape(pairs(data['metrics']) or '-')}")
        lines.append(f"training dataset: {escape(dataset_label(data['training_dataset']))}")
        if data["experiment"]:
            lines.append(f"made in experiment: {escape(data['experiment']['name'])} run {data['experiment']['run']}")
        if data["tags"]:
            lines.append(f"tags: {escape(pairs(data['tags']))}")
        if data["input_example"] is not None:
            lines.append(f"input example: {escape(dumps(data['input_example']))}")
        self.console.print(Panel("\n".join(lines), expand=False))
        if data["files"]:
            # the folder on a line of its own, never wrapped: it is copied into shells whole
            self.console.print(f"Files in [cyan]{escape(str(data['path']))}[/]", soft_wrap=True)
            table = Table()
            table.add_column("file")
            table.add_column("bytes", justify="right")
            for f in data["files"]:
                table.add_row(escape(f["name"]), number(f["bytes"]))
            emit(self.console, tidy(table))
        else:
            self.console.print("No files yet: save them in Python with [bold]model.save(path)[/].")
        self.console.print(Rule("Lineage (what the model was made from)", align="left"))
        self.lineage(data["lineage"])

    def error(self, err: LakeboxError) -> None:
        line = Text("Error ", style="bold red")
        line.append(f"[{err.code}]", style="red")
        line.append(" " + " ".join(str(err.message).split()), style="red")
        self.err_console.print(line, soft_wrap=True)

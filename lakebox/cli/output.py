"""The CLI's output layer: commands build plain data, an ``Output`` renders it as text or JSON.

Like pyiceberg's CLI, every command hands its result to ``TextOutput`` (rich tables for a
person) or ``JsonOutput`` (one JSON document on stdout for a program), chosen by
``--output``. Errors have one JSON shape everywhere: ``LakeboxError.to_dict()``.
"""

from __future__ import annotations

import base64
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

import click
import pyarrow as pa
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from lakebox.errors import LakeboxError

OUTPUT_FORMATS = ("text", "json")
DEFAULT_MAX_ROWS = 100


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
                    *[_stat(s.get(k)) for k in ("min", "max", "mean", "stddev")],
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


def _cell(value: Any) -> Text:
    if value is None:
        return Text("null", style="dim")
    return Text(format_value(value))


def make_output(fmt: str, console: Console, err_console: Console) -> Output:
    return JsonOutput() if fmt == "json" else TextOutput(console, err_console)

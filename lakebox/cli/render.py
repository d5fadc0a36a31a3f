"""Renderers: plain data (what commands build) as rich tables and trees, by the table policy.

Each returns a renderable; ``TextOutput`` (and the demo tour) print them with
``tables.emit``. Counts use ``formats.number``; every table goes through ``tables.tidy``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from lakebox.cli.formats import (
    failure_text,
    format_value,
    instant,
    number,
    short_stat,
    short_time,
    split_summary,
    stat,
)
from lakebox.cli.tables import tidy


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
        table.caption = f"{number(len(data['rows']))} of {number(data['row_count'])} rows shown"
        table.caption_justify = "left"
    elif not data["rows"] and caption is None:
        table.caption = "no rows"
        table.caption_justify = "left"
    return tidy(table)


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
            number(c["rowsInserted"]),
            number(c["rowsUpdated"]),
            number(c["rowsDeleted"]),
        )
    return tidy(table)


def render_datasets(datasets: Sequence[Mapping[str, Any]], title: str | None = None) -> Table:
    """A rich table of training dataset versions (``version``, ``row_counts``, ``spec``...)."""
    table = Table(title=title, title_justify="left")
    for column in ("version", "format", "rows per split", "split", "created", "description"):
        table.add_column(column, overflow="fold", justify="right" if column == "version" else "left")
    for d in datasets:
        table.add_row(
            f"v{d['version']}",
            escape(d["data_format"]),
            escape(", ".join(f"{k} {number(v)}" for k, v in d["row_counts"].items())),
            escape(split_summary(d["spec"])),
            escape(short_time(d["created_at"])),
            escape(d["description"]),
        )
    return tidy(table)


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
    """A rich table of search hits, best first (the version follows the name: ``players v1``)."""
    table = Table(title=title, title_justify="left")
    table.add_column("kind", no_wrap=True)
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("parent", overflow="ellipsis")
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("snippet", overflow="ellipsis", min_width=20)  # the match needs room to read
    for hit in hits:
        name = escape(hit["name"]) + ("" if hit["version"] is None else f" v{hit['version']}")
        table.add_row(
            escape(hit["kind"]),
            name,
            escape(hit["parent"] or ""),
            f"{hit['score']:.3g}",
            highlight(hit["snippet"]),
        )
    return tidy(table, keys=(0, 1))


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
    table = Table(title=title, title_justify="left", caption=f"{number(rows)} rows" if rows is not None else None,
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
    shown = short_stat if compact else stat
    names = [n for n in stats if not n.startswith("$")] if features is None else list(features)
    for name in names:  # reserved keys ($row_count, $correlations) are not features
        s = stats[name]
        histogram = s.get("histogram") or {}
        if histogram.get("counts"):
            shape = Text(sparkline(histogram["counts"], width=10 if compact else None), style="cyan")
        elif s.get("top"):
            value, count = s["top"][0]
            shape = Text(f"{format_value(value)} ×{number(count)}", style="dim", overflow="ellipsis")
        else:
            shape = Text("")
        cells = {
            "feature": escape(name),
            "type": escape(str(s.get("type") or "")),
            "count": number(s.get("count") or 0),
            "nulls": number(s.get("null_count") or 0),
            "distinct": "-" if s.get("distinct") is None else number(s["distinct"]),
            **{k: shown(instant(s.get(k))) for k in ("min", "max", "mean", "stddev")},
            "p50": shown((s.get("quantiles") or {}).get("0.5")),
        }
        cells["range"] = "-" if s.get("min") is None else f"{cells['min']} … {cells['max']}"
        table.add_row(*[cells[c] for c in columns], shape)
    return tidy(table)


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
            number(report.get("row_count", 0)),
            escape("\n".join(failure_text(x, report.get("row_count", 0)) for x in failed) or "-"),
        )
    return tidy(table)

"""What the browser shows: plain values that the data layer (``source.py``) produces in worker
threads and the widgets render on the UI thread, without touching lakebox objects.

Also the small text helpers every tab uses (``fmt``, ``sparkline``, ``bar_chart``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

KINDS = ("feature_group", "feature_view", "training_dataset", "experiment", "model", "deployment", "job", "monitor")
KIND_TITLES = {
    "feature_group": "feature group",
    "deployment": "deployment",
    "job": "job",
    "monitor": "drift monitor",
    "feature_view": "feature view",
    "training_dataset": "training dataset",
    "experiment": "experiment",
    "model": "model",
    "feature": "feature",
}
NULL = "∅"


class ReadOnlyError(Exception):
    """An edit was attempted in read-only mode."""


@dataclass(frozen=True)
class Ref:
    """Names one asset: ``kind``, ``name``, ``version`` (a training dataset's own version; an
    experiment's run) and, for training datasets, ``parent`` = ``"view:version"``."""

    kind: str
    name: str
    version: int | None = None
    parent: str | None = None
    # An external feature group (rows in a source, no history): the same asset as the plain
    # Ref of search hits and lineage nodes, so it takes no part in equality.
    external: bool = field(default=False, compare=False)
    note: str = field(default="", compare=False)  # shown after the label, e.g. "2 alerts"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.parent or ''}/{self.name}/{self.version}"

    @property
    def short(self) -> str:
        """The label in the asset tree."""
        return f"{self._short} · {self.note}" if self.note else self._short

    @property
    def _short(self) -> str:
        if self.kind == "training_dataset":
            return f"{self.view_name} v{self.view_version} · td {self.version}"
        if self.kind == "experiment":
            return f"{self.name} run {self.version}" if self.version is not None else self.name
        if self.external:
            return f"{self.name} v{self.version} · external"
        return f"{self.name} v{self.version}" if self.version is not None else self.name

    @property
    def title(self) -> str:
        kind = KIND_TITLES.get(self.kind, self.kind)
        if self.external:
            return f"external {kind} {self.name} v{self.version}"
        return f"{kind} {self.short}"

    @property
    def view_name(self) -> str:
        return (self.parent or self.name).split(":")[0]

    @property
    def view_version(self) -> int | None:
        if self.parent and ":" in self.parent:
            return int(self.parent.split(":")[1])
        return None


@dataclass
class Catalog:
    """Every asset of the box by kind. A branch whose listing failed is None and its error is
    in ``errors`` (the rest of the box still shows)."""

    name: str
    groups: list[Ref] = field(default_factory=list)
    views: list[Ref] = field(default_factory=list)
    datasets: list[Ref] = field(default_factory=list)
    experiments: list[Ref] | None = None
    models: list[Ref] | None = None
    deployments: list[Ref] | None = None
    jobs: list[Ref] | None = None
    monitors: list[Ref] | None = None
    errors: list[Exception] = field(default_factory=list)

    def branches(self) -> list[tuple[str, list[Ref] | None]]:
        return [
            ("Feature groups", self.groups),
            ("Feature views", self.views),
            ("Training datasets", self.datasets),
            ("Experiments", self.experiments),
            ("Models", self.models),
            ("Deployments", self.deployments),
            ("Jobs", self.jobs),
            ("Drift monitors", self.monitors),
        ]

    def refs(self) -> list[Ref]:
        return [ref for _, refs in self.branches() for ref in refs or []]

    def find(self, ref: Ref) -> Ref:
        """The catalog's own Ref for ``ref`` (which knows whether a group is external)."""
        for known in self.refs():
            if known == ref:
                return known
        return ref


@dataclass
class Hit:
    ref: Ref | None
    kind: str
    label: str
    snippet: str
    feature: str | None = None
    context: str = ""  # shown instead of the kind, e.g. "feature of games v1"


@dataclass
class Table:
    """A table of display strings: ``columns`` and ``rows`` (each as long as ``columns``)."""

    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)  # one per row (e.g. a commit id), optional
    sort_values: list[list[Any]] = field(default_factory=list)  # raw values, for sorting
    numeric: set[int] = field(default_factory=set)  # columns shown right-aligned


@dataclass
class Overview:
    ref: Ref
    description: str
    tags: dict[str, Any]
    facts: list[tuple[str, str]]
    schema: Table | None = None
    schema_title: str = "Schema"
    editable_description: bool = True


@dataclass
class Commit:
    commit_id: int
    committed_on: str
    kind: str
    inserted: int
    updated: int
    deleted: int
    expired: bool


@dataclass
class Page:
    commit_id: int | None  # the commit read; None = the latest
    latest_commit: int | None
    start: int
    size: int
    table: Table
    has_more: bool


@dataclass
class FeatureStats:
    name: str
    values: dict[str, Any]

    @property
    def histogram(self) -> tuple[list[float], list[int]] | None:
        hist = self.values.get("histogram")
        if not isinstance(hist, Mapping) or not hist.get("counts"):
            return None
        return [float(e) for e in hist.get("edges") or []], [int(c) for c in hist["counts"]]


@dataclass
class Stats:
    row_count: int | None
    features: list[FeatureStats]
    title: str = ""


@dataclass
class Trials:
    """An experiment's trials, the optimised metric and its direction."""

    table: Table
    metric: str | None
    direction: str | None


@dataclass
class LineageNode:
    ref: Ref | None
    label: str
    relation: str
    children: list[LineageNode] = field(default_factory=list)
    repeated: bool = False


@dataclass
class Lineage:
    root: Ref
    upstream: list[LineageNode]
    downstream: list[LineageNode]


# -- formatting ---------------------------------------------------------------------------
def fmt(value: Any) -> str:
    """One value as short display text (None as ∅, floats to 6 significant digits)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        return f"{value:.6g}"
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ")
        offset = value.utcoffset()
        return text.replace("+00:00", "Z") if offset is not None and not offset else text
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value[:16].hex() + ("…" if len(value) > 16 else "")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, separators=(",", ":"))
    return str(value)


def fmt_time(text: Any) -> str:
    """An ISO-8601 time as ``2026-01-01 12:00:00`` (UTC), or the text unchanged."""
    if not isinstance(text, str) or "T" not in text:
        return fmt(text)
    return text.replace("T", " ").split(".")[0].rstrip("Z")


def short(value: Any) -> str:
    """Short display of a min/max: ISO times lose their zeros, floats their noise."""
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        text = value.replace("T", " ").split(".")[0].rstrip("Z").replace("+00:00", "")
        return text[:10] if text.endswith("00:00:00") else text[:16]
    return fmt(value)


def as_int(value: Any) -> int | None:
    """``value`` as an int, or None when it is empty or not a number."""
    try:
        return int(value) if value is not None and value != "" else None
    except (TypeError, ValueError):
        return None


def version_of(ref: Ref) -> int:
    """The version of an asset that must have one (a training dataset, a model)."""
    if ref.version is None:
        raise ValueError(f"{ref.title} has no version")
    return ref.version


def parse_tag_value(text: str) -> Any:
    """Tag values are JSON when they parse (``3``, ``true``, ``["a"]``), else plain strings."""
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def split_summary(spec: Mapping[str, Any]) -> str:
    """One line for a training dataset's split: ``random: test 0.2, seed 42``."""
    kind = spec.get("kind")
    if kind == "random":
        sizes = f"test {spec.get('test_size')}"
        if spec.get("validation_size") is not None:
            sizes += f", validation {spec['validation_size']}"
        return f"random: {sizes}, seed {spec.get('seed')}"
    if kind == "time":
        times = spec.get("times") or {}
        parts = [f"{name} [{fmt_time(se[0]) if se[0] else '…'}, {fmt_time(se[1]) if se[1] else '…'})"
                 for name, se in times.items()]
        return "by event time: " + "; ".join(parts)
    return "none (one split: all)"


def sparkline(counts: Sequence[int], width: int | None = None) -> str:
    """Counts as one line of block characters (▁ to █), resampled to ``width`` columns."""
    if not counts:
        return ""
    values = list(counts)
    if width is not None and 0 < width < len(values):
        step = len(values) / width
        values = [sum(values[int(i * step):int((i + 1) * step)] or [0]) for i in range(width)]
    top = max(values) or 1
    bars = " ▁▂▃▄▅▆▇█"
    return "".join(bars[0 if v == 0 else max(1, round(v / top * 8))] for v in values)


def bar_chart(counts: Sequence[int], height: int = 6, col_width: int = 2) -> list[str]:
    """Counts as a vertical bar chart ``height`` lines tall (eighth blocks for the tops)."""
    if not counts:
        return []
    top = max(counts) or 1
    eighths = [max(1, round(c / top * height * 8)) if c else 0 for c in counts]  # a non-zero bin shows
    blocks = " ▁▂▃▄▅▆▇█"
    lines = []
    for level in range(height - 1, -1, -1):
        line = []
        for e in eighths:
            filled = e - level * 8
            line.append(("█" if filled >= 8 else blocks[filled] if filled > 0 else " ") * col_width)
        lines.append("".join(line).rstrip() or " ")
    return lines

"""The CLI's output layer: commands build plain data, an ``Output`` renders it as text or JSON.

Like pyiceberg's CLI, every command hands its result to ``TextOutput`` (rich tables for a
person, ``lakebox.cli.text_output``) or ``JsonOutput`` (one JSON document on stdout for a
program, encoded by ``lakebox.jsonpolicy``), chosen by ``--output``. Errors have one JSON shape
everywhere: ``LakeboxError.to_dict()``.

The rest of the layer, by responsibility: ``formats`` (how values read: numbers, plurals,
times), ``tables`` (the table policy: whole words, whole keys, piped width), ``render`` and
``render_runs`` (data as rich tables and trees). The names below are re-exported for callers.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import click

from lakebox.cli.formats import (
    dataset_label,
    failure_text,
    format_value,
    instant,
    metric_label,
    number,
    plural,
    rule_text,
    seconds,
    short_time,
    split_summary,
    table_data,
)
from lakebox.errors import LakeboxError
from lakebox.jsonpolicy import dumps, jsonable

if TYPE_CHECKING:
    from rich.console import Console

    from lakebox.cli.render import (
        highlight,
        render_commits,
        render_datasets,
        render_lineage,
        render_rows,
        render_search,
        render_statistics,
        render_validations,
        sparkline,
    )
    from lakebox.cli.render_runs import render_models, render_trials, status_text

# rich renderers, re-exported on first use: `-o json` never imports rich
_RENDERERS = {
    **dict.fromkeys(("highlight", "render_commits", "render_datasets", "render_lineage", "render_rows", "render_search",
                     "render_statistics", "render_validations", "sparkline"), "lakebox.cli.render"),
    **dict.fromkeys(("render_models", "render_trials", "status_text"), "lakebox.cli.render_runs"),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _RENDERERS:
        import importlib

        return getattr(importlib.import_module(_RENDERERS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

OUTPUT_FORMATS = ("text", "json")
DEFAULT_MAX_ROWS = 100
WIDE = 140  # terminals narrower than this get compact statistics tables
NARROW = 100  # terminals narrower than this get trial and model tables without column lines


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
        click.echo(dumps(value, indent=2))

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
        click.echo(dumps(err.to_dict()))


def make_output(fmt: str, console: Console | None = None, err_console: Console | None = None) -> Output:
    """The renderer of ``fmt``; text output on ``console`` and ``err_console`` (default: the
    terminal's stdout and stderr)."""
    if fmt == "json":
        return JsonOutput()
    from rich.console import Console

    from lakebox.cli.text_output import TextOutput

    return TextOutput(console or Console(emoji=False), err_console or Console(stderr=True, emoji=False))


__all__ = [
    "DEFAULT_MAX_ROWS", "NARROW", "OUTPUT_FORMATS", "WIDE", "JsonOutput", "Output", "dataset_label", "failure_text",
    "format_value", "highlight", "instant", "jsonable", "make_output", "metric_label", "number", "plural",
    "render_commits", "render_datasets", "render_lineage", "render_models", "render_rows", "render_search",
    "render_statistics", "render_trials", "render_validations", "rule_text", "seconds", "short_time", "sparkline",
    "split_summary", "status_text", "table_data",
]  # fmt: skip

"""Subcommands imported on first use, so ``lakebox fg list`` loads the feature-group commands
only, not the server's, the demo's or the TUI's (Click's "lazily loading subcommands" pattern).

A group's ``commands`` becomes a ``LazyCommands`` mapping: names are known up front (help,
"did you mean"), and each command is imported from its ``"module:attribute"`` the first time
it is looked up. Iterating the values (``--help``, the CLI reference, the flag names that
errors use) imports them all.

>>> import click
>>> group = click.Group("g")
>>> lazy(group, {"list": "lakebox.cli.fg:list_groups"})
>>> sorted(group.commands), group.commands["list"].name
(['list'], 'list')
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands: those added with ``add_command`` plus ``name -> "module:attr"`` specs."""

    def __init__(self, loaded: dict[str, click.Command], specs: dict[str, str]) -> None:
        self._loaded = dict(loaded)
        self._specs = {name: spec for name, spec in specs.items() if name not in loaded}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            spec = self._specs[name]  # KeyError: no such command
            module, _, attr = spec.partition(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{spec} is not a click command")
            self._loaded[name] = command
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._specs.pop(name, None)

    def __delitem__(self, name: str) -> None:
        if self._loaded.pop(name, None) is None:
            del self._specs[name]
        else:
            self._specs.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._loaded, *self._specs}))

    def __len__(self) -> int:
        return len({*self._loaded, *self._specs})

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._specs


def lazy(group: click.Group, specs: dict[str, str]) -> None:
    """Give ``group`` the commands in ``specs`` (``name -> "module:attribute"``), imported on first use."""
    current = group.commands
    loaded = dict(current._loaded) if isinstance(current, LazyCommands) else dict(current)
    pending = dict(current._specs) if isinstance(current, LazyCommands) else {}
    group.commands = LazyCommands(loaded, {**pending, **specs})


__all__ = ["LazyCommands", "lazy"]

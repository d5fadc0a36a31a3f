"""Errors in the CLI's own words: the api names Python arguments (``pass kind=...``), a
command line user types flags (``--kind``).

``in_cli_terms(err, root)`` rewrites ``name=`` and ``name must`` for every option the
``lakebox`` commands have (``kind=`` -> ``--kind``), plus the api arguments whose CLI
option has another name (``wallclock_time`` is ``--as-of``).

>>> import click
>>> @click.command()
... @click.option("--kind")
... def c(kind): ...
>>> from lakebox.errors import QueryError
>>> in_cli_terms(QueryError("'x' names several kinds; pass kind=... to pick one."), c).message
"'x' names several kinds; pass --kind ... to pick one."
"""

from __future__ import annotations

import re
from functools import cache

import click

from lakebox.errors import LakeboxError

# api argument -> the CLI option that carries it, where the names differ
RENAMED = {"wallclock_time": "--as-of", "entity_df": "--entity-file", "n": "--rows"}


def _walk(command: click.Command) -> list[click.Command]:
    found = [command]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            found += _walk(sub)
    return found


@cache
def _flags(root: click.Command) -> tuple[tuple[str, str], ...]:
    flags: dict[str, str] = dict(RENAMED)
    for command in _walk(root):
        for param in command.params:
            if isinstance(param, click.Option) and param.name:
                longest = max((o for o in param.opts if o.startswith("--")), key=len, default=None)
                if longest is not None:
                    flags.setdefault(param.name, longest)
    return tuple(sorted(flags.items(), key=lambda item: -len(item[0])))


def in_cli_terms(err: LakeboxError, root: click.Command) -> LakeboxError:
    """``err`` with Python argument names in its message replaced by the CLI's flags."""
    message = err.message
    for name, flag in _flags(root):
        word = re.escape(name)
        message = re.sub(rf"[\w.]+\({word}=\.\.\.\)", flag, message)  # fs.sql(as_of=...) -> --as-of

        def spelled(m: re.Match[str], f: str = flag) -> str:
            return f + (" ..." if m.group(1) else " ")

        message = re.sub(rf"(?<![\w.\-]){word}=(\.\.\.)?", spelled, message)
        message = re.sub(rf"(?<![\w.\-`]){word}(?= (must|may|takes|needs) )", flag, message)
        message = re.sub(rf"\bThe {word} (?=')", f"The {flag} value ", message)
    if message != err.message:
        err.message = message
        err.args = (message,)
    return err

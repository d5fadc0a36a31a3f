"""A job's entrypoint: ``"package.module:function"`` (imported by name in the worker) or a
Python file with a ``main(**params)`` (copied into the box with its hash, so the job runs the
code it was created with even after the original file changes). ``"file.py:function"`` picks
another function of the file.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import re
import runpy
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakebox.errors import ValidationError

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_MODULE = re.compile(rf"^({_IDENT}(?:\.{_IDENT})*):({_IDENT}(?:\.{_IDENT})*)$")
_FILE = re.compile(rf"^(.+\.py)(?::({_IDENT}))?$")


@dataclass(frozen=True)
class Entrypoint:
    kind: str  # module | file
    target: str  # "module:function", or the file (absolute path of the original when parsed)
    function: str


def parse(entrypoint: Any) -> Entrypoint:
    """Recognise the entrypoint, checking what can be checked without running user code."""
    if not isinstance(entrypoint, (str, Path)):
        raise ValidationError(
            f"A job's entrypoint is 'package.module:function' or the path of a Python file with a main(); "
            f"got {type(entrypoint).__name__}."
        )
    text = str(entrypoint)
    file_match = _FILE.match(text)
    if file_match:
        path = Path(file_match.group(1)).expanduser()
        function = file_match.group(2) or "main"
        if not path.is_file():
            raise ValidationError(f"The job file {text!r} does not exist; give the path of a Python file.")
        _check_defines(path, function)
        return Entrypoint("file", str(path.resolve()), function)
    module_match = _MODULE.match(text)
    if module_match:
        module, function = module_match.groups()
        try:
            found = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            found = None
        if found is None:
            raise ValidationError(
                f"The job entrypoint {text!r} names module {module!r}, which cannot be imported here; install its "
                "package or put it on PYTHONPATH (the scheduler process imports it too)."
            )
        return Entrypoint("module", f"{module}:{function}", function)
    raise ValidationError(
        f"The job entrypoint {text!r} is neither 'package.module:function' nor the path of a .py file "
        "(optionally 'file.py:function'); e.g. 'pipelines.daily:main' or 'pipelines/daily.py'."
    )


def _check_defines(path: Path, function: str) -> None:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (SyntaxError, UnicodeDecodeError) as e:
        raise ValidationError(f"The job file {path} is not valid Python: {e}.") from e
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    if function not in names:
        raise ValidationError(
            f"The job file {path} has no top-level function {function}(); define `def {function}(**params):` "
            f"(functions found: {sorted(names) or 'none'})."
        )


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_into(box_root: Path, job_name: str, source: Path) -> tuple[str, str]:
    """Copy a job file into the box; returns (path relative to the box, sha256)."""
    digest = file_hash(source)
    folder = box_root / "artifacts" / "jobs" / job_name
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{digest[:12]}_{source.name}"
    if not target.exists():
        tmp = target.with_name(target.name + ".tmp")
        shutil.copy2(source, tmp)
        tmp.replace(target)
    return str(target.relative_to(box_root)), digest


def load(kind: str, target: str, function: str, box_root: Path) -> Callable[..., Any]:
    """The job's function, in the worker process."""
    if kind == "file":
        path = box_root / target
        namespace = runpy.run_path(str(path), run_name="__lakebox_job__")
        fn = namespace.get(function)
    else:
        module_name, _, qualname = target.partition(":")
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
        fn = obj
    if not callable(fn):
        raise ValidationError(f"The job's entrypoint {target}:{function} is not a function.")
    return fn


def accepted(fn: Callable[..., Any], names: list[str]) -> list[str]:
    """Which of ``names`` the function takes (all, if it takes ``**kwargs``)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return list(names)
    params = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return list(names)
    taken = {p.name for p in params if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return [n for n in names if n in taken]

"""Sending the training function (and a model factory) to worker processes.

By reference when the workers can import it (a module-level function of an importable module,
or of the script that was started, which spawn re-imports as ``__mp_main__``); by script path
when it comes from a script executed some other way (``runpy``, IPython's ``%run``); by value
with cloudpickle, if installed, when it lives in an interactive session.
"""

from __future__ import annotations

import os
import pickle
import runpy
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lakebox.experiment.errors import SignatureError

_scripts: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class ScriptFunction:
    """A function defined at the top level of a script file, found again by running the script
    (under a name other than ``__main__``, so its ``if __name__ == "__main__":`` block stays idle)."""

    path: str
    qualname: str

    def resolve(self) -> Callable[..., Any]:
        if self.path not in _scripts:
            _scripts[self.path] = runpy.run_path(self.path, run_name="__lakebox_script__")
        obj: Any = _scripts[self.path]
        for part in self.qualname.split("."):
            obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
        return obj


def dumps(fn: Callable[..., Any], what: str, by_script: bool = False) -> bytes:
    """Pickle ``fn`` for the workers, or raise ``SignatureError`` saying how to make it sendable.

    ``by_script``: the receiving processes are not spawned by multiprocessing (torch's launcher
    starts them), so a function of the started script is found by running the script file."""
    qualname = getattr(fn, "__qualname__", "")
    if getattr(fn, "__module__", None) == "__main__":
        main = sys.modules.get("__main__")
        script = getattr(fn, "__globals__", {}).get("__file__")
        in_main = main is not None and getattr(main, qualname, None) is fn and not by_script
        if not in_main and script and os.path.isfile(script) and "<" not in qualname:
            return pickle.dumps(ScriptFunction(os.path.abspath(script), qualname))
        if not getattr(main, "__file__", None):
            return _by_value(fn, what)
    try:
        return pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError):
        return _by_value(fn, what)


def _by_value(fn: Callable[..., Any], what: str) -> bytes:
    try:
        import cloudpickle
    except ImportError:
        raise SignatureError(
            f"{what} {getattr(fn, '__qualname__', fn)!r} cannot be sent to the worker processes, which import it by "
            "name: define it at the top level of a module or script (not a lambda, closure or interactive "
            "session), or install cloudpickle to send it by value."
        ) from None
    try:
        return cloudpickle.dumps(fn)
    except Exception as e:
        raise SignatureError(f"{what} cannot be sent to the worker processes: {e}") from e


def loads(data: bytes) -> Callable[..., Any]:
    """The function again, in a worker."""
    obj = pickle.loads(data)
    return obj.resolve() if isinstance(obj, ScriptFunction) else obj

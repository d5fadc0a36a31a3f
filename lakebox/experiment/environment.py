"""The Python environment a run used: interpreter, platform, installed packages, git commit."""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

GIT_TIMEOUT_S = 5.0


def capture(cwd: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """A JSON-able description of this process's environment."""
    folder = Path(cwd) if cwd is not None else Path.cwd()
    packages = installed_packages(tuple(sys.path))
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cwd": str(folder),
        "argv": list(sys.argv),
        "packages": dict(packages),
        "git": git_state(folder),
    }


@functools.lru_cache(maxsize=4)
def installed_packages(path: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(name, version)`` of every installed distribution on ``path`` (parsing every package's
    metadata takes a few hundred milliseconds, so it is done once per process and path)."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions(path=list(path)):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            packages.setdefault(name, dist.version)
    return tuple(sorted(packages.items(), key=lambda kv: kv[0].lower()))


def git_state(folder: Path) -> dict[str, Any] | None:
    """``{"commit", "branch", "dirty"}`` of the git work tree holding ``folder``, or None."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=folder, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": commit,
        "branch": git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
        "root": git("rev-parse", "--show-toplevel"),
    }

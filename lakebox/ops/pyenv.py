"""The Python environment this process runs in: what is installed, whether the installed
distributions' requirements hold (like ``pip check``, computed with ``importlib.metadata`` and
``packaging``), how it differs from an environment recorded with a run, and a pinned
requirements file."""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from lakebox.errors import LakeboxWarning


@dataclass(frozen=True)
class Problem:
    """One requirement that does not hold: ``kind`` is ``missing`` or ``conflict``."""

    distribution: str
    version: str
    requirement: str
    kind: str
    installed: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"distribution": self.distribution, "version": self.version, "requirement": self.requirement,
                "kind": self.kind, "installed": self.installed}  # fmt: skip

    def __str__(self) -> str:
        if self.kind == "missing":
            return f"{self.distribution} {self.version} requires {self.requirement}, which is not installed."
        return (
            f"{self.distribution} {self.version} has requirement {self.requirement}, but {self.installed} is installed."
        )


def distributions(path: list[str] | None = None) -> dict[str, metadata.Distribution]:
    """Installed distributions by canonical name (the first on the path wins, as for imports)."""
    found: dict[str, metadata.Distribution] = {}
    for dist in metadata.distributions(path=path if path is not None else sys.path):
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(canonicalize_name(name), dist)
    return found


def show(path: list[str] | None = None) -> dict[str, Any]:
    """The interpreter and every installed distribution with its version."""
    packages = {d.metadata["Name"]: d.version for d in distributions(path).values()}
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "executable": sys.executable,
        "prefix": sys.prefix,
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items(), key=lambda kv: kv[0].lower())),
    }


def check(path: list[str] | None = None) -> list[Problem]:
    """Requirements of installed distributions that are missing or not satisfied (``pip
    check``): markers evaluated for this interpreter, extras' requirements skipped unless the
    extra is requested by another installed distribution's requirement."""
    dists = distributions(path)
    wanted_extras: dict[str, set[str]] = {}
    parsed: dict[str, list[Requirement]] = {}
    for key, dist in dists.items():
        reqs = []
        for text in dist.requires or []:
            try:
                reqs.append(Requirement(text))
            except InvalidRequirement:
                continue
        parsed[key] = reqs
        for req in reqs:
            if req.extras and _applies(req, ""):
                wanted_extras.setdefault(canonicalize_name(req.name), set()).update(req.extras)
    problems: list[Problem] = []
    for key, dist in dists.items():
        extras = {""} | wanted_extras.get(key, set())
        for req in parsed[key]:
            if not any(_applies(req, extra) for extra in extras):
                continue
            other = dists.get(canonicalize_name(req.name))
            name, version = dist.metadata["Name"], dist.version
            if other is None:
                problems.append(Problem(name, version, str(req), "missing", None))
            elif req.specifier and not _satisfies(req, other.version):
                problems.append(
                    Problem(name, version, str(req), "conflict", f"{other.metadata['Name']} {other.version}")
                )
    return sorted(problems, key=lambda p: (p.distribution.lower(), p.requirement))


def _applies(req: Requirement, extra: str) -> bool:
    if req.marker is None:
        return extra == ""
    try:
        return bool(req.marker.evaluate({"extra": extra}))
    except UndefinedEnvironmentName:
        return False


def _satisfies(req: Requirement, version: str) -> bool:
    try:
        return req.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return req.specifier.contains(version, prereleases=True)


def diff(recorded: dict[str, Any], current: dict[str, Any] | None = None) -> dict[str, Any]:
    """What differs between a recorded environment (``{"python", "packages": {name: version}}``)
    and this one: the interpreter, and packages added, removed or at another version."""
    now = current if current is not None else show()
    before = {canonicalize_name(k): (k, v) for k, v in (recorded.get("packages") or {}).items()}
    after = {canonicalize_name(k): (k, v) for k, v in now["packages"].items()}
    changed = {before[k][0]: {"recorded": before[k][1], "installed": after[k][1]}
               for k in sorted(before.keys() & after.keys()) if before[k][1] != after[k][1]}  # fmt: skip
    return {
        "python": {"recorded": recorded.get("python"), "installed": now["python"]},
        "changed": changed,
        "missing": {before[k][0]: before[k][1] for k in sorted(before.keys() - after.keys())},
        "added": {after[k][0]: after[k][1] for k in sorted(after.keys() - before.keys())},
        "same": recorded.get("python") == now["python"] and not changed and not (before.keys() ^ after.keys()),
    }


def export(path: list[str] | None = None, exclude: tuple[str, ...] = ()) -> str:
    """A requirements file pinning every installed distribution (``name==version``)."""
    return export_hashed(path, exclude, hashes=False)[0]


def export_hashed(path: list[str] | None = None, exclude: tuple[str, ...] = (), hashes: bool = True,
                  wheels: tuple[Path, ...] = ()) -> tuple[str, list[str]]:  # fmt: skip
    """The requirements file of ``export`` and the distributions it could not hash. With
    ``hashes``, each line carries ``--hash=sha256:...`` of its archive (``lakebox.ops.pyhash``:
    from ``direct_url.json`` or the archives in ``wheels``); one that cannot be hashed is a
    comment saying why and how to get its archive."""
    skip = {canonicalize_name(e) for e in exclude}
    chosen = [d for key, d in sorted(distributions(path).items()) if key not in skip]
    header = f"# pinned from {sys.executable} (Python {sys.version.split()[0]}) by `lakebox env export`\n"
    if not hashes:
        return header + "\n".join(f"{d.metadata['Name']}=={d.version}" for d in chosen) + "\n", []
    from lakebox.ops.pyhash import pin_all

    pinned = pin_all(chosen, wheels)
    missing = [f"{p.name}=={p.version}" for p in pinned if not p.hashes]
    if missing:
        header += (f"# {len(missing)} distribution(s) could not be hashed (commented out below, with the reason); "
                   "pip --require-hashes needs every one\n")  # fmt: skip
    return header + "\n".join(line for p in pinned for line in p.lines()) + "\n", missing


class EnvironmentDriftWarning(LakeboxWarning):
    """The serving environment differs from the one recorded with the run that made a model,
    in packages that run had installed (``.packages`` maps each to its recorded and installed
    versions, None when not installed now)."""

    def __init__(self, message: str, packages: dict[str, tuple[str, str | None]]) -> None:
        super().__init__(message)
        self.packages = packages


def drift_warning(
    recorded: dict[str, Any], what: str, current: dict[str, Any] | None = None
) -> EnvironmentDriftWarning | None:
    """An ``EnvironmentDriftWarning`` naming every package recorded in ``recorded`` (a run's
    environment) that is installed at another version now or not installed, or None when they
    all match. Packages installed since are not named: the run did not have them."""
    found = diff(recorded, current)
    packages: dict[str, tuple[str, str | None]] = {
        **{name: (v["recorded"], v["installed"]) for name, v in found["changed"].items()},
        **{name: (version, None) for name, version in found["missing"].items()},
    }
    python = found["python"]
    if not packages and (python["recorded"] is None or python["recorded"] == python["installed"]):
        return None
    parts = [f"{n} {r} -> {i if i is not None else 'not installed'}" for n, (r, i) in sorted(packages.items())]
    if python["recorded"] is not None and python["recorded"] != python["installed"]:
        parts.insert(0, f"Python {python['recorded']} -> {python['installed']}")
    return EnvironmentDriftWarning(
        f"{what} was trained in another environment than this one serves it from: {'; '.join(parts)} "
        "(recorded -> installed). Predictions may differ; install the recorded versions "
        "(`lakebox env diff model NAME VERSION` lists them).",
        packages,
    )

"""Hashes for a pinned requirements file (``lakebox env export --hashes``).

pip's hash-checking mode (``--require-hashes``) compares each ``--hash`` with the archive it
downloads or finds: the wheel or sdist file, not the installed files. An installed
environment keeps the archive's hash in only one place: ``direct_url.json`` (PEP 610), which
pip writes when a distribution was installed from a file or URL (``archive_info.hashes``).
The ``RECORD`` of a distribution lists the hashes of the installed *files*, which no
installer can check against an archive, so it cannot give one. Every other distribution is
hashed from its archive when one is at hand: the wheels and sdists in the folders given
(``--wheels DIR``: a wheelhouse from ``scripts/wheelhouse.sh`` or ``pip download``), every
file of that name and version (pip accepts any of the listed hashes, so wheels for several
platforms can be listed together).

What cannot be hashed, and is listed as a comment with the reason: editable installs and
installs from a source folder or version control (there is no archive: build one with
``pip wheel --no-deps PATH -w DIR`` and pass ``--wheels DIR``), and distributions installed
from an index with no archive in the given folders (``pip download NAME==VERSION --no-deps
-d DIR`` fetches it).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

CHUNK = 1 << 20


@dataclass(frozen=True)
class Pinned:
    """One line of the requirements file: ``name==version`` with its hashes, or the reason
    there are none."""

    name: str
    version: str
    hashes: tuple[str, ...] = ()  # "sha256:<hex>"
    reason: str | None = None

    def lines(self) -> list[str]:
        if not self.hashes:
            return [f"# {self.name}=={self.version}  # not hashed: {self.reason}"]
        return [f"{self.name}=={self.version} \\", *[f"    --hash={h}" + (" \\" if i < len(self.hashes) - 1 else "")
                                                    for i, h in enumerate(self.hashes)]]  # fmt: skip


def archives(folders: Sequence[Path]) -> dict[tuple[str, str], list[Path]]:
    """Wheels and sdists in ``folders`` by (canonical name, normalised version)."""
    found: dict[tuple[str, str], list[Path]] = {}
    for folder in folders:
        for file in sorted(Path(folder).iterdir()):
            key = _archive_key(file.name)
            if key is not None and file.is_file():
                found.setdefault(key, []).append(file)
    return found


def pin(dist: metadata.Distribution, available: dict[tuple[str, str], list[Path]]) -> Pinned:
    """``dist`` pinned with the hashes of its archive (see the module docstring for where)."""
    name, version = dist.metadata["Name"], dist.version
    origin = _direct_url(dist)
    if origin is not None:
        if "dir_info" in origin:
            editable = bool(origin["dir_info"].get("editable"))
            what = "an editable install" if editable else "installed from a source folder"
            local = available.get(_key(name, version))
            if local:
                return Pinned(name, version, _hash_files(local))
            return Pinned(name, version, reason=f"{what} ({origin.get('url', '?')}): no archive; build one with "
                          "`pip wheel --no-deps PATH -w DIR` and pass --wheels DIR")  # fmt: skip
        if "vcs_info" in origin and not available.get(_key(name, version)):
            return Pinned(name, version, reason=f"installed from version control ({origin.get('url', '?')}): no "
                          "archive; build one with `pip wheel --no-deps URL -w DIR` and pass --wheels DIR")  # fmt: skip
        archive = origin.get("archive_info") or {}
        recorded = dict(archive.get("hashes") or {})
        if not recorded and isinstance(archive.get("hash"), str) and "=" in archive["hash"]:
            algorithm, _, value = archive["hash"].partition("=")
            recorded[algorithm] = value
        if "sha256" in recorded:
            extra = [
                h for h in _hash_files(available.get(_key(name, version), [])) if h != f"sha256:{recorded['sha256']}"
            ]
            return Pinned(name, version, (f"sha256:{recorded['sha256']}", *extra))
    local = available.get(_key(name, version))
    if local:
        return Pinned(name, version, _hash_files(local))
    return Pinned(name, version, reason="installed from an index, which leaves no archive hash behind; put its "
                  f"wheel in a folder (`pip download {name}=={version} --no-deps -d DIR`) and pass --wheels DIR")  # fmt: skip


def pin_all(dists: Iterable[metadata.Distribution], wheels: Sequence[Path] = ()) -> list[Pinned]:
    available = archives(wheels)
    return [pin(d, available) for d in dists]


def sha256_of(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _hash_files(files: Sequence[Path]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(f"sha256:{sha256_of(f)}" for f in files))


def _direct_url(dist: metadata.Distribution) -> dict[str, Any] | None:  # PEP 610's JSON
    text = dist.read_text("direct_url.json")
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _key(name: str, version: str) -> tuple[str, str]:
    try:
        return canonicalize_name(name), str(Version(version))
    except InvalidVersion:
        return canonicalize_name(name), version


def _archive_key(filename: str) -> tuple[str, str] | None:
    try:
        if filename.endswith(".whl"):
            name, version, _, _ = parse_wheel_filename(filename)
            return str(name), str(version)
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return str(name), str(version)
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
    return None

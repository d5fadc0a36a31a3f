"""The box: one directory that holds a whole lakebox (DESIGN §1).

``Box`` owns the layout and the format version; it knows nothing about feature groups.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from lakebox.errors import StorageError

FORMAT_VERSION = 1
DEFAULT_DIRNAME = ".lakebox"
TOML_NAME = "lakebox.toml"


def default_path() -> Path:
    """``$LAKEBOX_HOME`` if set, else ``./.lakebox``."""
    return Path(os.environ.get("LAKEBOX_HOME") or DEFAULT_DIRNAME)


@dataclass(frozen=True)
class Box:
    """Paths of one box directory. ``Box.open(path)`` creates the layout if it is missing."""

    root: Path

    @property
    def toml(self) -> Path:
        return self.root / TOML_NAME

    @property
    def catalog_db(self) -> Path:
        return self.root / "catalog.db"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    @property
    def online(self) -> Path:
        return self.root / "online"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def locks(self) -> Path:
        """Cross-process lock files (not data; safe to delete when no process runs)."""
        return self.root / ".locks"

    @classmethod
    def open(cls, path: str | os.PathLike[str], create: bool = True) -> Box:
        root = Path(path).expanduser().resolve()
        box = cls(root)
        if root.exists() and not root.is_dir():
            raise StorageError(f"{root} exists and is not a directory; choose another box path.")
        if box.toml.exists():
            box._check_format()
        elif root.exists() and any(p for p in root.iterdir() if p.name not in {".locks"}):
            raise StorageError(
                f"{root} is a non-empty directory without {TOML_NAME}: it is not a lakebox box. "
                "Choose an empty or new directory."
            )
        elif not create:
            raise StorageError(f"No box at {root}: run `lakebox init {root}` first.")
        else:
            box._create()
        return box

    def _create(self) -> None:
        for directory in (self.root, self.warehouse, self.online, self.artifacts, self.logs, self.locks):
            directory.mkdir(parents=True, exist_ok=True)
        tmp = self.toml.with_suffix(".toml.tmp")
        tmp.write_text(
            "# lakebox box: everything of this lakehouse lives in this directory.\n"
            f"format_version = {FORMAT_VERSION}\n"
            "# Where the warehouse was created; Iceberg metadata records paths under it, and a\n"
            "# copied or moved box maps them to its current location (never edit this).\n"
            f"warehouse_origin = {_toml_string(self.warehouse.as_uri())}\n"
        )
        os.replace(tmp, self.toml)  # atomic: a box is either fully announced or not at all

    def settings(self) -> dict[str, object]:
        try:
            return tomllib.loads(self.toml.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise StorageError(f"Cannot read {self.toml}: {e}. Restore it from a backup.") from e

    @property
    def warehouse_origin(self) -> str:
        """The warehouse URI this box was created with (Iceberg paths are recorded under it)."""
        origin = self.settings().get("warehouse_origin")
        return origin if isinstance(origin, str) else self.warehouse.as_uri()

    def _check_format(self) -> None:
        version = self.settings().get("format_version")
        if not isinstance(version, int):
            raise StorageError(f"{self.toml} has no integer format_version; it is not a lakebox box.")
        if version > FORMAT_VERSION:
            raise StorageError(
                f"The box at {self.root} has format version {version}, newer than this lakebox "
                f"understands ({FORMAT_VERSION}). Upgrade lakebox (pip install -U lakebox) to open it."
            )
        for directory in (self.warehouse, self.online, self.artifacts, self.logs, self.locks):
            directory.mkdir(parents=True, exist_ok=True)


def _toml_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

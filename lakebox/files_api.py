"""Files kept in the box, through Hopsworks' dataset api: ``project.get_dataset_api()``
(``upload``, ``download``, ``exists``, ``mkdir``, ``remove``, ``list``, ``copy``, ``move``).

Hopsworks tutorials upload models, predictor scripts and data files into the project's
filesystem (``dataset_api.upload("model.pkl", "Resources")``); in lakebox that filesystem is
the folder ``artifacts/files/`` of the box, so copying the box copies them too. Paths are
relative to it (``"Resources/model.pkl"``; a leading ``/`` is ignored) and may not leave it.
Uploads and copies are written next to their target first and renamed into place, so a file
is either complete or absent.

>>> api = project.get_dataset_api()                                  # doctest: +SKIP
>>> api.upload("predictor.py", "Resources")                          # doctest: +SKIP
'Resources/predictor.py'
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from lakebox.errors import AlreadyExistsError, NotFoundError, StorageError, ValidationError

if TYPE_CHECKING:
    from lakebox.box import Box

FILES = "files"


class DatasetApi:
    """The box's file area (Hopsworks' ``DatasetApi``)."""

    def __init__(self, root: Path) -> None:
        self._root = root

    @property
    def root(self) -> Path:
        """The folder the paths are relative to (``<box>/artifacts/files``)."""
        return self._root

    def _path(self, path: str) -> tuple[str, Path]:
        if not isinstance(path, str):
            raise ValidationError(f"A dataset path is a string such as 'Resources/model.pkl', got {path!r}.")
        parts = [p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in ("/", ".")]
        if any(p == ".." for p in parts):
            raise ValidationError(f"The path {path!r} may not contain '..': paths stay inside the box's files.")
        clean = "/".join(parts)
        return clean, self._root.joinpath(*parts) if parts else self._root

    # -- queries --------------------------------------------------------------------------------
    def exists(self, path: str) -> bool:
        return self._path(path)[1].exists()

    path_exists = exists

    def list(self, path: str = "", offset: int = 0, limit: int = 1000) -> list[str]:
        """The files and folders in ``path`` (sorted paths relative to the box's files)."""
        clean, target = self._path(path)
        if not target.is_dir():
            raise NotFoundError(f"{path!r} is not a folder in the box's files ({self._root}).")
        names = sorted(p.name for p in target.iterdir() if not p.name.startswith(".lakebox-"))
        return [f"{clean}/{n}" if clean else n for n in names][offset : offset + limit]

    # -- changes --------------------------------------------------------------------------------
    def mkdir(self, path: str) -> str:
        clean, target = self._path(path)
        target.mkdir(parents=True, exist_ok=True)
        return clean

    def upload(self, local_path: str | os.PathLike[str], upload_path: str, overwrite: bool = False,
               **options: Any) -> str:
        """Copy a local file or folder into the folder ``upload_path``; returns its path there.
        Hopsworks' chunking/retry options are accepted and ignored (a local copy)."""
        source = Path(local_path)
        if not source.exists():
            raise NotFoundError(f"Cannot upload {source}: it does not exist.")
        folder, target_dir = self._path(upload_path)
        target_dir.mkdir(parents=True, exist_ok=True)
        self._place(source, target_dir / source.name, overwrite)
        return f"{folder}/{source.name}" if folder else source.name

    def download(self, path: str, local_path: str | os.PathLike[str] | None = None, overwrite: bool = False,
                 **options: Any) -> str:
        """Copy a file or folder of the box's files to ``local_path`` (default: the current
        folder; an existing folder receives it inside); returns the local path."""
        _, source = self._path(path)
        if not source.exists():
            raise NotFoundError(f"{path!r} does not exist in the box's files ({self._root}).")
        target = Path(local_path) if local_path is not None else Path.cwd() / source.name
        if target.is_dir() and not source.is_dir():
            target = target / source.name
        self._place(source, target, overwrite)
        return str(target)

    def copy(self, source_path: str, destination_path: str, overwrite: bool = False) -> None:
        _, source = self._path(source_path)
        if not source.exists():
            raise NotFoundError(f"{source_path!r} does not exist in the box's files.")
        self._place(source, self._path(destination_path)[1], overwrite)

    def move(self, source_path: str, destination_path: str, overwrite: bool = False) -> None:
        _, source = self._path(source_path)
        if not source.exists():
            raise NotFoundError(f"{source_path!r} does not exist in the box's files.")
        target = self._path(destination_path)[1]
        if target.exists() and not overwrite:
            raise AlreadyExistsError(f"{destination_path!r} exists; pass overwrite=True to replace it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._remove(target)
        os.replace(source, target)

    def remove(self, path: str) -> None:
        clean, target = self._path(path)
        if not clean:
            raise ValidationError("remove('') would delete every file of the box; name a path.")
        if not target.exists():
            raise NotFoundError(f"{path!r} does not exist in the box's files.")
        self._remove(target)

    rm = remove

    # -- internals ------------------------------------------------------------------------------
    @staticmethod
    def _remove(target: Path) -> None:
        import shutil  # (with tempfile) loaded when files move, not when Project is imported

        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()

    def _place(self, source: Path, target: Path, overwrite: bool) -> None:
        """Copy ``source`` to ``target`` through a temporary sibling and a rename."""
        import shutil
        import tempfile

        if target.exists() and not overwrite:
            raise AlreadyExistsError(f"{target} exists; pass overwrite=True to replace it.")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".lakebox-", dir=target.parent))
        try:
            staged = staging / source.name
            if source.is_dir():
                shutil.copytree(source, staged)
            else:
                shutil.copy2(source, staged)
            self._remove(target)
            os.replace(staged, target)
        except OSError as e:
            raise StorageError(f"Copying {source} to {target} failed: {e}") from e
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class DatasetMixin:
    """``project.get_dataset_api()`` (a mixin of ``Project``)."""

    _box: Box

    def get_dataset_api(self) -> DatasetApi:
        """The box's files (Hopsworks' dataset api): ``upload``, ``download``, ``list`` ..."""
        return DatasetApi(self._box.artifacts / FILES)

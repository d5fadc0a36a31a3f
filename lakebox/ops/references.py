"""The files an Iceberg table's metadata references, read without the SQL catalog."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lakebox.errors import StorageError


def file_io(root: Path, origin: str) -> Any:
    """A FileIO that reads paths recorded under ``origin`` from the box at ``root``."""
    from lakebox.offline.fileio import CURRENT, ORIGIN, BoxFileIO

    return BoxFileIO({ORIGIN: origin, CURRENT: (root / "warehouse").as_uri()})


def local(io: Any, uri: str) -> str:
    """The local path of a file URI of a box's table (``io``: the box's FileIO)."""
    from lakebox.offline.reader import localize

    return localize(io, uri)


def read_metadata(io: Any, location: str) -> Any:
    """The parsed metadata.json at ``location``; a ``StorageError`` naming the file if it is
    missing or not Iceberg metadata (``FileNotFoundError`` passes through for retries)."""
    from pyiceberg.serializers import FromInputFile

    try:
        return FromInputFile.table_metadata(io.new_input(location))
    except FileNotFoundError:
        raise
    except Exception as e:  # pydantic ValidationError, JSON errors, truncated files
        raise StorageError(f"The Iceberg metadata file {local(io, location)} is damaged: {e}") from e


def table_files(root: Path, origin: str, metadata_location: str, data: bool = True) -> Iterator[str]:
    """Local paths of the metadata file, then every manifest list, manifest and live data
    file of every snapshot it keeps (each once)."""
    io = file_io(root, origin)
    yield local(io, metadata_location)
    metadata = read_metadata(io, metadata_location)
    seen: set[str] = set()
    for snapshot in metadata.snapshots:
        if snapshot.manifest_list:
            yield local(io, snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path in seen:
                continue
            seen.add(manifest.manifest_path)
            yield local(io, manifest.manifest_path)
            if not data:
                continue
            for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
                path = local(io, entry.data_file.file_path)
                if path not in seen:
                    seen.add(path)
                    yield path
    for stats in metadata.statistics:
        yield local(io, stats.statistics_path)


def current_data_files(io: Any, metadata: Any) -> list[tuple[str, int, int]]:
    """(local path, size in bytes, rows) of the data files of the current snapshot."""
    snapshot = metadata.current_snapshot() if hasattr(metadata, "current_snapshot") else None
    if snapshot is None:
        snapshot = next((s for s in metadata.snapshots if s.snapshot_id == metadata.current_snapshot_id), None)
    if snapshot is None:
        return []
    files = []
    for manifest in snapshot.manifests(io):
        for entry in manifest.fetch_manifest_entry(io, discard_deleted=True):
            data_file = entry.data_file
            files.append((local(io, data_file.file_path), int(data_file.file_size_in_bytes), int(data_file.record_count)))
    return files


def is_relative_to(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True

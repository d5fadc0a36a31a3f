"""A PyTorch view of a materialised training dataset: files streamed as ``(features, labels)`` batches.

``TrainingIterable`` is a ``torch.utils.data.IterableDataset`` that reads the split files batch by
batch (never the whole dataset at once) and yields ``float32 [B, F]`` features with ``[B]`` labels
(one label column) or ``[B, L]`` (several); labels are int64 when every label column is an integer
or boolean (class ids for ``CrossEntropyLoss``) and float32 otherwise. Null features become NaN; a
null in an integer label is an error.

Sharding is by **row ranges**: the files are cut into units (parquet row groups, Arrow record
batches, blocks of ``npy`` rows, whole csv/tsv/json files), the units are concatenated (in a seeded,
per-epoch order when ``shuffle=True``), and shard ``s`` of ``S`` gets rows ``[N*s//S, N*(s+1)//S)``
of that concatenation, where ``S = world_size * num_workers`` and ``s = rank * num_workers +
worker_id``. So every row is read exactly once per epoch across all ranks and DataLoader workers,
shards differ by at most one row, and a shard reads only the units that overlap its range. With
``shuffle=True`` rows are also permuted inside each unit (a shuffle buffer of one unit); call
``set_epoch(epoch)`` before each epoch for a new order, as with ``DistributedSampler``.

Text formats (csv, tsv, json) carry no row counts, so they are parsed once at construction to
count rows; pass the split's recorded ``schema`` so they read back with the types that were written.
``npy`` files hold numbers only and need ``schema`` for their column names.

torch is imported lazily: importing this module works without it; constructing a dataset without
it raises ``MissingDependencyError``.

>>> ds = TrainingIterable(["train.parquet"], "parquet", ["age", "fee"], ["label"])  # doctest: +SKIP
>>> loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)  # doctest: +SKIP
>>> for features, labels in loader: ...  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import difflib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import MissingDependencyError, SchemaMismatchError, StorageError, ValidationError

__all__ = ["MissingDependencyError", "TrainingIterable", "shard_bounds"]

log = logging.getLogger(__name__)

FORMATS = ("parquet", "arrow", "feather", "ipc", "csv", "tsv", "json", "npy")
NPY_BLOCK_ROWS = 65_536
"""Rows per unit of an ``npy`` file (it has no row groups of its own)."""


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise MissingDependencyError(
            "The PyTorch view of a training dataset needs torch, which is not installed; "
            "install it with: pip install 'lakebox[train]'",
            package="torch",
        ) from e
    return torch


def shard_bounds(total_rows: int, shard: int, num_shards: int) -> tuple[int, int]:
    """The row range ``[start, stop)`` of shard ``shard`` of ``num_shards`` over ``total_rows`` rows.

    >>> [shard_bounds(10, s, 3) for s in range(3)]
    [(0, 3), (3, 6), (6, 10)]
    """
    if not 0 <= shard < num_shards:
        raise ValidationError(
            f"Shard {shard} does not exist: there are {num_shards} shards (0..{num_shards - 1})."
        )
    return total_rows * shard // num_shards, total_rows * (shard + 1) // num_shards


@dataclass(frozen=True)
class _Unit:
    """A piece of one file that is read as a whole: a row group, a record batch, a block, a file."""

    file: int
    part: int
    rows: int


class TrainingIterable:
    """A training dataset's files as an ``IterableDataset`` of ``(features, labels)`` batches.

    Args:
        files: the split's files (paths), read in this order when ``shuffle=False``.
        format: ``parquet``, ``arrow`` (also ``feather``/``ipc``: Arrow IPC files), ``csv``,
            ``tsv``, ``json`` (JSON lines) or ``npy`` (a 2-D number matrix per file).
        feature_columns: columns stacked, in this order, into the float32 features tensor.
        label_columns: one name or a list; ``[]`` yields features alone.
        batch_size: rows per yielded batch; each shard's last batch may be smaller.
        shuffle: permute units (per epoch, the same on every rank) and rows inside each unit.
        seed: the shuffle seed; every rank must use the same one.
        drop_last: drop each shard's last batch if it is smaller than ``batch_size``.
        rank, world_size: this process's data-parallel rank; default: from ``torch.distributed``
            when it is initialised, else a single rank.
        schema: the split's recorded Arrow schema (column names for npy, types for text formats).

    Use it with ``DataLoader(dataset, batch_size=None, num_workers=...)``: the dataset batches.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> TrainingIterable:
        if cls is TrainingIterable:
            cls = _torch_dataset_class()  # also a torch IterableDataset, so DataLoader treats it as one
        return super().__new__(cls)

    def __init__(
        self,
        files: str | Path | Sequence[str | Path],
        format: str,
        feature_columns: Sequence[str],
        label_columns: str | Sequence[str] = (),
        batch_size: int = 1024,
        shuffle: bool = False,
        seed: int = 0,
        *,
        drop_last: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        schema: pa.Schema | None = None,
    ) -> None:
        _torch()
        self.files = [Path(files)] if isinstance(files, (str, Path)) else [Path(f) for f in files]
        if not self.files:
            raise ValidationError("TrainingIterable needs at least one file.")
        for path in self.files:
            if not path.is_file():
                raise StorageError(f"The training dataset file {path} does not exist.", path=str(path))
        if format not in FORMATS:
            raise ValidationError(f"format must be one of {list(FORMATS)}, got {format!r}.")
        self.format = "arrow" if format in ("feather", "ipc") else format
        self.feature_columns = _names(feature_columns, "feature_columns")
        if not self.feature_columns:
            raise ValidationError("feature_columns is empty: name at least one feature column.")
        self.single_label = isinstance(label_columns, str)
        self.label_columns = _names([label_columns] if self.single_label else label_columns, "label_columns")
        if len(self.label_columns) == 1:
            self.single_label = True
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValidationError(f"batch_size must be a positive integer, got {batch_size!r}.")
        if (rank is None) != (world_size is None):
            raise ValidationError("Pass rank and world_size together (or neither, to use torch.distributed).")
        if world_size is not None and (world_size < 1 or not 0 <= rank < world_size):  # type: ignore[operator]
            raise ValidationError(f"rank must be in 0..world_size-1, got rank={rank}, world_size={world_size}.")
        if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
            raise ValidationError(f"seed must be a non-negative integer, got {seed!r}.")
        if self.format == "npy" and schema is None:
            raise ValidationError(
                "format='npy' needs schema= (the split's recorded schema) for its column names."
            )
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.rank = rank
        self.world_size = world_size
        self.schema = schema
        self.epoch = 0
        self._units, label_types = self._layout()
        self.num_rows = sum(u.rows for u in self._units)
        self.label_dtype = (
            "int64"
            if label_types and all(pa.types.is_integer(t) or pa.types.is_boolean(t) for t in label_types)
            else "float32"
        )

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch that seeds the shuffle (call it on every rank before each epoch)."""
        self.epoch = epoch

    def __repr__(self) -> str:
        return (
            f"TrainingIterable({len(self.files)} {self.format} files, {self.num_rows} rows, "
            f"features={self.feature_columns}, labels={self.label_columns})"
        )

    # -- layout ---------------------------------------------------------------------------

    @property
    def _columns(self) -> list[str]:
        return [*self.feature_columns, *(c for c in self.label_columns if c not in self.feature_columns)]

    def _layout(self) -> tuple[list[_Unit], list[pa.DataType]]:
        units: list[_Unit] = []
        label_types: list[pa.DataType] = []
        for i, path in enumerate(self.files):
            try:
                schema, rows = self._inspect(path)
            except (pa.ArrowException, OSError, ValueError) as e:
                raise StorageError(f"Cannot read {path} as {self.format}: {e}", path=str(path)) from e
            self._check_schema(path, schema)
            if i == 0:
                label_types = [schema.field(c).type for c in self.label_columns]
            units.extend(_Unit(i, part, n) for part, n in enumerate(rows) if n)
        return units, label_types

    def _inspect(self, path: Path) -> tuple[pa.Schema, list[int]]:
        """A file's schema and the row count of each of its units."""
        if self.format == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            return meta.schema.to_arrow_schema(), rows
        if self.format == "arrow":
            with pa.memory_map(str(path)) as source:
                reader = pa.ipc.open_file(source)
                return reader.schema, [reader.get_batch(b).num_rows for b in range(reader.num_record_batches)]
        if self.format == "npy":
            matrix = np.load(path, mmap_mode="r", allow_pickle=False)
            assert self.schema is not None
            if matrix.ndim != 2 or matrix.shape[1] != len(self.schema):
                raise SchemaMismatchError(
                    f"{path} holds an array of shape {matrix.shape}, but the schema has "
                    f"{len(self.schema)} columns; pass the schema recorded with this split.",
                    path=str(path),
                )
            n = matrix.shape[0]
            return self.schema, [min(NPY_BLOCK_ROWS, n - start) for start in range(0, n, NPY_BLOCK_ROWS)]
        total = 0
        with contextlib.closing(self._open_text(path)) as reader:
            schema = reader.schema
            for batch in reader:
                total += batch.num_rows
        return schema, [total]

    def _open_text(self, path: Path) -> Any:
        columns = self._columns
        if self.format == "json":
            import pyarrow.json as pjson

            return pjson.open_json(path, parse_options=pjson.ParseOptions(explicit_schema=self.schema))
        import pyarrow.csv as pcsv

        # Without the recorded schema, types are inferred from the first block of each file.
        types = {f.name: f.type for f in self.schema if f.name in columns} if self.schema is not None else {}
        return pcsv.open_csv(
            path,
            parse_options=pcsv.ParseOptions(delimiter="\t" if self.format == "tsv" else ","),
            convert_options=pcsv.ConvertOptions(column_types=types, include_columns=columns),
        )

    def _check_schema(self, path: Path, schema: pa.Schema) -> None:
        for role, names in (("feature", self.feature_columns), ("label", self.label_columns)):
            for name in names:
                if name not in schema.names:
                    close = difflib.get_close_matches(name, schema.names, n=3)
                    hint = f" Did you mean {close}?" if close else ""
                    raise SchemaMismatchError(
                        f"The {role} column {name!r} is not in {path}.{hint} Its columns: {schema.names}.",
                        column=name,
                    )
                t = schema.field(name).type
                if pa.types.is_dictionary(t):
                    t = t.value_type
                if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                        or pa.types.is_decimal(t)):
                    raise SchemaMismatchError(
                        f"The {role} column {name!r} in {path} is {t}, but tensors hold numbers; "
                        "encode it with a transformation function (label_encoder, one_hot_encoder).",
                        column=name,
                    )

    # -- iteration ------------------------------------------------------------------------

    def _shard(self) -> tuple[int, int, int, int]:
        torch = _torch()
        rank, world_size = self.rank, self.world_size
        if rank is None or world_size is None:
            dist = torch.distributed
            if dist.is_available() and dist.is_initialized():
                rank, world_size = dist.get_rank(), dist.get_world_size()
            else:
                rank, world_size = 0, 1
        info = torch.utils.data.get_worker_info()
        worker_id, num_workers = (info.id, info.num_workers) if info is not None else (0, 1)
        return rank, world_size, worker_id, num_workers

    def __iter__(self) -> Iterator[Any]:
        yield from self.iter_shard(*self._shard())

    def iter_shard(
        self, rank: int = 0, world_size: int = 1, worker_id: int = 0, num_workers: int = 1
    ) -> Iterator[Any]:
        """The batches of one shard: what ``rank`` sees in DataLoader worker ``worker_id``."""
        torch = _torch()
        for features, labels in self.iter_shard_numpy(rank, world_size, worker_id, num_workers):
            x = torch.from_numpy(features)
            if labels is None:
                yield x
            else:
                yield x, torch.from_numpy(labels)

    def iter_shard_numpy(
        self, rank: int = 0, world_size: int = 1, worker_id: int = 0, num_workers: int = 1
    ) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Like ``iter_shard``, as numpy arrays (features float32 ``[B, F]``, labels or None)."""
        if not 0 <= rank < world_size or not 0 <= worker_id < num_workers:
            raise ValidationError(
                f"Not a shard: rank={rank} of world_size={world_size}, worker {worker_id} of {num_workers}."
            )
        start, stop = shard_bounds(self.num_rows, rank * num_workers + worker_id, world_size * num_workers)
        units = list(self._units)
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.shuffle:
            units = [units[i] for i in rng.permutation(len(units))]  # the same order on every shard
        row_rng = np.random.default_rng([self.seed, self.epoch, rank, worker_id, world_size, num_workers])
        pending: list[tuple[np.ndarray, np.ndarray | None]] = []
        pending_rows = 0
        with contextlib.ExitStack() as stack:
            readers: dict[int, Any] = {}
            offset = 0
            for unit in units:
                if offset >= stop:
                    break
                lo, hi = max(start - offset, 0), min(stop - offset, unit.rows)
                offset += unit.rows
                if lo >= hi:
                    continue
                for table in self._read(unit, lo, hi, readers, stack):
                    features, labels = self._arrays(table)
                    if self.shuffle:
                        order = row_rng.permutation(len(features))
                        features = features[order]
                        labels = labels[order] if labels is not None else None
                    pending.append((features, labels))
                    pending_rows += len(features)
                    while pending_rows >= self.batch_size:
                        batch, pending = _take(pending, self.batch_size)
                        pending_rows -= self.batch_size
                        yield batch
            if pending_rows and not self.drop_last:
                batch, _ = _take(pending, pending_rows)
                yield batch

    def _read(
        self, unit: _Unit, lo: int, hi: int, readers: dict[int, Any], stack: contextlib.ExitStack
    ) -> Iterator[pa.Table]:
        """Rows ``[lo, hi)`` of one unit, as one or more tables of the needed columns."""
        path = self.files[unit.file]
        columns = self._columns
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                if unit.file not in readers:
                    readers[unit.file] = stack.enter_context(contextlib.closing(pq.ParquetFile(path)))
                yield readers[unit.file].read_row_group(unit.part, columns=columns).slice(lo, hi - lo)
            elif self.format == "arrow":
                if unit.file not in readers:
                    source = stack.enter_context(pa.memory_map(str(path)))
                    readers[unit.file] = pa.ipc.open_file(source)
                batch = readers[unit.file].get_batch(unit.part).slice(lo, hi - lo)
                yield pa.Table.from_batches([batch]).select(columns)
            elif self.format == "npy":
                if unit.file not in readers:
                    readers[unit.file] = np.load(path, mmap_mode="r", allow_pickle=False)
                assert self.schema is not None
                first = unit.part * NPY_BLOCK_ROWS
                block = np.asarray(readers[unit.file][first + lo : first + hi])
                names = self.schema.names
                yield pa.table({c: block[:, names.index(c)] for c in columns})
            else:
                with contextlib.closing(self._open_text(path)) as reader:
                    seen = 0
                    for batch in reader:
                        begin, end = max(lo - seen, 0), min(hi - seen, batch.num_rows)
                        seen += batch.num_rows
                        if begin < end:
                            yield pa.Table.from_batches([batch.slice(begin, end - begin)]).select(columns)
                        if seen >= hi:
                            break
        except (pa.ArrowException, OSError, ValueError) as e:
            raise StorageError(f"Cannot read {path} as {self.format}: {e}", path=str(path)) from e

    def _arrays(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray | None]:
        features = np.empty((table.num_rows, len(self.feature_columns)), dtype=np.float32)
        for j, name in enumerate(self.feature_columns):
            features[:, j] = _numbers(table.column(name), pa.float32())
        if not self.label_columns:
            return features, None
        dtype = np.int64 if self.label_dtype == "int64" else np.float32
        labels = np.empty((table.num_rows, len(self.label_columns)), dtype=dtype)
        for j, name in enumerate(self.label_columns):
            column = table.column(name)
            if dtype == np.int64 and column.null_count:
                raise ValidationError(
                    f"The label column {name!r} has {column.null_count} null values; integer labels "
                    "cannot be null. Filter those rows out or fill them before training.",
                    column=name,
                )
            labels[:, j] = _numbers(column, pa.int64() if dtype == np.int64 else pa.float32())
        return features, (np.ascontiguousarray(labels[:, 0]) if self.single_label else labels)


def _numbers(column: pa.ChunkedArray, to: pa.DataType) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    return pc.cast(column, to, safe=False).to_numpy(zero_copy_only=False)


def _take(
    pending: list[tuple[np.ndarray, np.ndarray | None]], n: int
) -> tuple[tuple[np.ndarray, np.ndarray | None], list[tuple[np.ndarray, np.ndarray | None]]]:
    """The first ``n`` pending rows as one batch, and what is left."""
    taken: list[tuple[np.ndarray, np.ndarray | None]] = []
    need = n
    while need:
        features, labels = pending[0]
        if len(features) <= need:
            taken.append(pending.pop(0))
            need -= len(features)
        else:
            taken.append((features[:need], labels[:need] if labels is not None else None))
            pending[0] = (features[need:], labels[need:] if labels is not None else None)
            need = 0
    x = taken[0][0] if len(taken) == 1 else np.concatenate([t[0] for t in taken])
    y: np.ndarray | None = None
    if taken[0][1] is not None:
        y = taken[0][1] if len(taken) == 1 else np.concatenate([t[1] for t in taken])
    return (np.ascontiguousarray(x), None if y is None else np.ascontiguousarray(y)), pending


def _names(value: object, what: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValidationError(f"{what} must be a list of column names, got {value!r}.")
    names = list(value)
    if len(set(names)) != len(names):
        raise ValidationError(f"{what} names a column twice: {names}.")
    return names


_TORCH_CLASS: type | None = None


def _torch_dataset_class() -> type:
    """``TrainingIterable`` mixed with torch's ``IterableDataset``, built on first use."""
    global _TORCH_CLASS
    if _TORCH_CLASS is None:
        torch = _torch()
        _TORCH_CLASS = type(
            "_TorchTrainingIterable",
            (TrainingIterable, torch.utils.data.IterableDataset),
            {"__module__": __name__, "__doc__": TrainingIterable.__doc__},
        )
    return _TORCH_CLASS


def __getattr__(name: str) -> Any:
    # Unpickling in a DataLoader worker started with "spawn" looks the class up by this name.
    if name == "_TorchTrainingIterable":
        return _torch_dataset_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

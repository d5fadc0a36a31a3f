"""The PyTorch view of a training dataset: every row exactly once, across ranks and workers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

from lakebox.errors import SchemaMismatchError, StorageError, ValidationError
from lakebox.training.torch_data import TrainingIterable, shard_bounds

N = 103  # rows over all files: a prime, so no shard split is even


def _table(start: int, stop: int) -> pa.Table:
    ids = np.arange(start, stop)
    return pa.table(
        {
            "id": ids,  # a feature that names the row (exact in float32 below 2**24)
            "x": ids * 0.5,
            "flag": ids % 2 == 0,
            "name": [f"n{i}" for i in ids],
            "cls": (ids % 3).astype(np.int32),
            "target": ids * 1.25,
        }
    )


def _write(tmp_path: Path, fmt: str, parts: tuple[int, ...] = (0, 40, 41, 90, N)) -> list[Path]:
    """The rows 0..N-1 over several files (one of them a single row) in ``fmt``."""
    paths = []
    for k, (lo, hi) in enumerate(zip(parts, parts[1:])):
        table = _table(lo, hi)
        path = tmp_path / f"part{k}.{fmt}"
        if fmt == "parquet":
            pq.write_table(table, path, row_group_size=16)
        elif fmt == "arrow":
            feather.write_feather(table, path, compression="zstd", chunksize=10)
        elif fmt in ("csv", "tsv"):
            pcsv.write_csv(table, path, pcsv.WriteOptions(delimiter="," if fmt == "csv" else "\t"))
        elif fmt == "json":  # JSON lines
            path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
        elif fmt == "npy":
            numbers = table.drop_columns(["name"])
            np.save(path, np.column_stack([c.to_numpy().astype(np.float64) for c in numbers.columns]))
        paths.append(path)
    return paths


def _ids(batches: Any) -> list[int]:
    out: list[int] = []
    for batch in batches:
        features = batch[0] if isinstance(batch, (tuple, list)) else batch  # DataLoader: a list
        out.extend(int(v) for v in features[:, 0].tolist())
    return out


def _numeric_schema() -> pa.Schema:
    return _table(0, 1).drop_columns(["name"]).schema


# --- without torch -----------------------------------------------------------------------


def test_import_without_torch_and_a_clear_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "parquet")[0]
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["torch"] = None  # as if torch were not installed
        import lakebox.training.torch_data as td
        assert "torch" not in [m for m, v in sys.modules.items() if v is not None]
        try:
            td.TrainingIterable([{str(path)!r}], "parquet", ["id"], "cls")
        except td.MissingDependencyError as e:
            assert isinstance(e, __import__("lakebox").LakeboxError)
            print(e.message)
        else:
            raise SystemExit("constructed without torch")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pip install 'lakebox[train]'" in result.stdout


# --- with torch --------------------------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv", "tsv", "json", "npy"])
def test_every_row_once_with_shapes_and_dtypes(tmp_path: Path, fmt: str) -> None:
    schema = _numeric_schema() if fmt in ("npy", "json") else None
    files = _write(tmp_path, fmt)
    ds = TrainingIterable(files, fmt, ["id", "x", "flag"], ["cls"], batch_size=32, schema=schema)
    assert isinstance(ds, torch.utils.data.IterableDataset)
    assert ds.num_rows == N
    batches = list(ds)
    assert [len(x) for x, _ in batches] == [32, 32, 32, N - 96]  # batches span file boundaries
    for x, y in batches:
        assert x.dtype == torch.float32 and x.shape[1] == 3
        assert y.dtype == torch.int64 and y.shape == (len(x),)  # one integer label: class ids [B]
    x = torch.cat([b[0] for b in batches])
    y = torch.cat([b[1] for b in batches])
    ids = np.arange(N)
    assert x[:, 0].tolist() == ids.tolist()  # every row once, in file order without shuffle
    assert x[:, 1].tolist() == (ids * 0.5).tolist()
    assert x[:, 2].tolist() == (ids % 2 == 0).astype(float).tolist()
    assert y.tolist() == (ids % 3).tolist()


def test_several_float_labels_and_no_labels(tmp_path: Path) -> None:
    files = _write(tmp_path, "parquet")
    x, y = next(iter(TrainingIterable(files, "parquet", ["id"], ["target", "x"], batch_size=8)))
    assert y.shape == (8, 2) and y.dtype == torch.float32
    assert y[:, 0].tolist() == [i * 1.25 for i in range(8)]
    only = next(iter(TrainingIterable(files, "parquet", ["id", "x"], [], batch_size=8)))
    assert isinstance(only, torch.Tensor) and only.shape == (8, 2)


def test_nulls_become_nan_and_null_class_labels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"a": [1.0, None, 3.0], "b": pa.array([1, None, 2], pa.int64())}), path)
    x, y = next(iter(TrainingIterable([path], "parquet", ["a"], ["a"])))
    assert torch.isnan(x[1, 0]) and torch.isnan(y[1])
    with pytest.raises(ValidationError, match="'b' has 1 null"):
        list(TrainingIterable([path], "parquet", ["a"], ["b"]))


@pytest.mark.parametrize("world_size", [1, 2, 3])
@pytest.mark.parametrize("num_workers", [1, 2, 4])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shards_cover_every_row_exactly_once(
    tmp_path: Path, world_size: int, num_workers: int, shuffle: bool
) -> None:
    files = _write(tmp_path, "parquet")
    ds = TrainingIterable(files, "parquet", ["id"], "cls", batch_size=7, shuffle=shuffle, seed=3)
    seen: list[int] = []
    sizes = []
    for rank in range(world_size):
        for worker in range(num_workers):
            shard = _ids(ds.iter_shard(rank, world_size, worker, num_workers))
            sizes.append(len(shard))
            seen.extend(shard)
    assert Counter(seen) == Counter(range(N))
    assert max(sizes) - min(sizes) <= 1  # row ranges: shards differ by one row at most


def test_shuffle_is_seeded_per_epoch(tmp_path: Path) -> None:
    files = _write(tmp_path, "parquet")

    def order(seed: int, epoch: int) -> list[int]:
        ds = TrainingIterable(files, "parquet", ["id"], "cls", batch_size=10, shuffle=True, seed=seed)
        ds.set_epoch(epoch)
        return _ids(ds)

    first = order(0, 0)
    assert sorted(first) == list(range(N)) and first != list(range(N))
    assert order(0, 0) == first  # reproducible
    assert order(0, 1) != first  # a new order each epoch
    assert order(1, 0) != first


def test_dataloader_workers_and_explicit_ranks(tmp_path: Path) -> None:
    files = _write(tmp_path, "parquet")
    seen: list[int] = []
    for rank in range(2):  # two simulated data-parallel ranks, each with two DataLoader workers
        ds = TrainingIterable(files, "parquet", ["id", "x"], "cls", batch_size=8, rank=rank, world_size=2)
        loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2)
        rank_ids = _ids(loader)
        assert len(rank_ids) in (N // 2, N // 2 + 1)
        seen.extend(rank_ids)
    assert Counter(seen) == Counter(range(N))


def test_distributed_rank_is_detected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_rank", lambda group=None: 1)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)
    ds = TrainingIterable(_write(tmp_path, "parquet"), "parquet", ["id"], "cls", batch_size=100)
    assert _ids(ds) == list(range(N // 2, N))


def test_drop_last(tmp_path: Path) -> None:
    ds = TrainingIterable(_write(tmp_path, "parquet"), "parquet", ["id"], "cls", batch_size=25, drop_last=True)
    assert [len(x) for x, _ in ds] == [25, 25, 25, 25]


def test_text_formats_read_with_the_recorded_schema(tmp_path: Path) -> None:
    files = _write(tmp_path, "csv")
    schema = pa.schema([pa.field("id", pa.int64()), pa.field("x", pa.float64()), pa.field("cls", pa.float64())])
    ds = TrainingIterable(files, "csv", ["id"], "cls", schema=schema)
    assert ds.label_dtype == "float32"  # the recorded type wins over what the text looks like


def test_shard_bounds() -> None:
    assert [shard_bounds(10, s, 4) for s in range(4)] == [(0, 2), (2, 5), (5, 7), (7, 10)]
    assert [shard_bounds(1, s, 3) for s in range(3)] == [(0, 0), (0, 0), (0, 1)]
    with pytest.raises(ValidationError, match="3 shards"):
        shard_bounds(10, 3, 3)


def test_errors_say_how_to_fix(tmp_path: Path) -> None:
    files = _write(tmp_path, "parquet")
    with pytest.raises(SchemaMismatchError, match=r"'idd'.*Did you mean \['id'\]"):
        TrainingIterable(files, "parquet", ["idd"], "cls")
    with pytest.raises(SchemaMismatchError, match="label_encoder"):
        TrainingIterable(files, "parquet", ["name"], "cls")
    with pytest.raises(ValidationError, match="format must be one of"):
        TrainingIterable(files, "xlsx", ["id"], "cls")
    with pytest.raises(StorageError, match="does not exist"):
        TrainingIterable([tmp_path / "nope.parquet"], "parquet", ["id"], "cls")
    with pytest.raises(StorageError, match="Cannot read"):
        TrainingIterable(files, "arrow", ["id"], "cls")  # parquet files read as Arrow IPC
    with pytest.raises(ValidationError, match="together"):
        TrainingIterable(files, "parquet", ["id"], "cls", rank=0)
    with pytest.raises(ValidationError, match="rank must be"):
        TrainingIterable(files, "parquet", ["id"], "cls", rank=2, world_size=2)
    with pytest.raises(ValidationError, match="batch_size"):
        TrainingIterable(files, "parquet", ["id"], "cls", batch_size=0)
    with pytest.raises(ValidationError, match="schema="):
        TrainingIterable(files, "npy", ["id"], "cls")

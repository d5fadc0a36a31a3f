"""Reading a Parquet or CSV file into one Arrow table, batch by batch, reporting progress.

The CLI shows a progress bar from the callbacks; this module only reads. CSV timestamps with
an offset (``2026-01-01T10:00:00+02:00`` or ``...Z``) become UTC instants; naive ones stay
naive, and ``lakebox fg ingest`` refuses them unless ``--timezone`` names their zone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from lakebox.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa  # imported where a file is read: `import lakebox.cli` stays light

FORMATS = ("auto", "parquet", "csv")
CSV_BLOCK_BYTES = 4 << 20
PARQUET_BATCH_ROWS = 64 * 1024
_COMPRESSION = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".lz4": "lz4"}
_PANDAS_INDEX = re.compile(r"^__index_level_\d+__$")

Progress = Callable[[int, int], None]
"""``progress(done, total)``: bytes for CSV, rows for Parquet."""


def detect_format(path: Path, fmt: str = "auto") -> str:
    """``parquet`` or ``csv``, from ``fmt`` or the file name (``.parquet``, ``.pq``, ``.csv``, ``.csv.gz``)."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        return "parquet"
    if ".csv" in suffixes[-2:] or ".tsv" in suffixes[-2:]:
        return "csv"
    raise ValidationError(
        f"Cannot tell the format of {path.name} from its name; pass --format parquet or --format csv.",
        path=str(path),
    )


def read_file(path: Path, fmt: str = "auto", progress: Progress | None = None) -> pa.Table:
    """The whole file as an Arrow table (pandas index columns of a Parquet file dropped)."""
    kind = detect_format(path, fmt)
    if kind == "parquet":
        return read_parquet(path, progress)
    return read_csv(path, progress)


def read_parquet(path: Path, progress: Progress | None = None) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as pf:
            total = int(pf.metadata.num_rows)
            schema = pf.schema_arrow
            batches = []
            done = 0
            if progress:
                progress(0, total)
            for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                batches.append(batch)
                done += batch.num_rows
                if progress:
                    progress(done, total)
            table = pa.Table.from_batches(batches, schema=schema)
    except (pa.ArrowException, OSError) as e:
        raise ValidationError(f"Cannot read {path} as Parquet: {e}", path=str(path)) from e
    index_columns = [name for name in table.column_names if _PANDAS_INDEX.match(name)]
    return table.drop_columns(index_columns) if index_columns else table


def read_csv(path: Path, progress: Progress | None = None) -> pa.Table:
    """Stream the CSV in blocks; the progress unit is bytes of the (possibly compressed) file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    total = path.stat().st_size
    delimiter = "\t" if ".tsv" in [s.lower() for s in path.suffixes] else ","
    try:
        with pa.OSFile(str(path), "rb") as raw:
            compression = _COMPRESSION.get(path.suffix.lower())
            stream = pa.CompressedInputStream(raw, compression) if compression else raw
            reader = pacsv.open_csv(
                stream,
                read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                parse_options=pacsv.ParseOptions(delimiter=delimiter),
            )
            batches = []
            if progress:
                progress(0, total)
            for batch in reader:
                batches.append(batch)
                if progress:
                    progress(min(raw.tell(), total), total)
            table = pa.Table.from_batches(batches, schema=reader.schema)
            if progress:
                progress(total, total)
    except pa.ArrowInvalid as e:
        raise ValidationError(
            f"Cannot read {path} as CSV: {e}. Column types are inferred from the first "
            f"{CSV_BLOCK_BYTES >> 20} MiB; a column whose values change type later cannot be read "
            "(convert the file to Parquet with explicit types).",
            path=str(path),
        ) from e
    except (pa.ArrowException, OSError) as e:
        raise ValidationError(f"Cannot read {path} as CSV: {e}", path=str(path)) from e
    return table

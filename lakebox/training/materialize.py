"""Writing and reading a materialised training-dataset split in one of several formats.

The Arrow schema of every split is recorded in the catalog, so text formats (csv, tsv, json)
read back with exactly the types that were written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.json as pjson
import pyarrow.parquet as pq

from lakebox.errors import StorageError, ValidationError
from lakebox.types import parse_type, type_name

FORMATS = {"parquet": "parquet", "csv": "csv", "tsv": "tsv", "json": "jsonl", "npy": "npy", "arrow": "arrow"}


def check_format(data_format: str) -> str:
    if data_format not in FORMATS:
        raise ValidationError(f"data_format must be one of {sorted(FORMATS)}, got {data_format!r}.")
    return data_format


def schema_to_json(schema: pa.Schema) -> list[list[str]]:
    return [[f.name, type_name(f.type)] for f in schema]


def schema_from_json(fields: list[list[str]]) -> pa.Schema:
    return pa.schema([pa.field(name, parse_type(t)) for name, t in fields])


def file_name(split: str, data_format: str) -> str:
    return f"{split}.{FORMATS[data_format]}"


def write(table: pa.Table, path: Path, data_format: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if data_format == "parquet":
        pq.write_table(table, tmp, compression="zstd")
    elif data_format in ("csv", "tsv"):
        options = pcsv.WriteOptions(delimiter="," if data_format == "csv" else "\t")
        pcsv.write_csv(table, tmp, write_options=options)
    elif data_format == "json":
        with open(tmp, "w") as out:
            for row in table.to_pylist():
                out.write(json.dumps(row, default=_json_default) + "\n")
    elif data_format == "arrow":
        feather.write_feather(table, tmp, compression="zstd")
    elif data_format == "npy":
        with open(tmp, "wb") as out:  # a file object: np.save would append ".npy" to a name
            np.save(out, _matrix(table), allow_pickle=False)
    else:
        raise ValidationError(f"Unknown data format {data_format!r}.")
    tmp.replace(path)  # atomic: a split file is complete or absent


def read(path: Path, data_format: str, schema: pa.Schema) -> pa.Table:
    if not path.exists():
        raise StorageError(f"The training dataset file {path} is missing; recreate the training dataset.")
    if data_format == "parquet":
        table = pq.read_table(path)
    elif data_format in ("csv", "tsv"):
        # pyarrow writes a null as an empty unquoted field and "" as a quoted one: read them
        # back the same way, and keep empty lines (a one-column row holding a null).
        table = pcsv.read_csv(
            path,
            parse_options=pcsv.ParseOptions(delimiter="," if data_format == "csv" else "\t", ignore_empty_lines=False),
            convert_options=pcsv.ConvertOptions(
                column_types={f.name: f.type for f in schema},
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    elif data_format == "json":
        if path.stat().st_size == 0:
            return schema.empty_table()
        table = pjson.read_json(path, parse_options=pjson.ParseOptions(explicit_schema=schema))
    elif data_format == "arrow":
        table = feather.read_table(path)
    elif data_format == "npy":
        matrix = np.load(path, allow_pickle=False)
        arrays = []
        for i, f in enumerate(schema):
            column = pa.array(matrix[:, i], from_pandas=True)  # NaN (npy's null) becomes null
            if pa.types.is_timestamp(f.type):
                column = column.cast(pa.int64())
            arrays.append(column.cast(f.type, safe=False))
        return pa.Table.from_arrays(arrays, schema=schema)
    else:
        raise ValidationError(f"Unknown data format {data_format!r}.")
    return table.select(schema.names).cast(schema)


def _matrix(table: pa.Table) -> np.ndarray:
    """All columns as one float64 matrix (npy holds numbers only)."""
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):  # event times travel as epoch microseconds
            column = column.cast(pa.int64())
        elif not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or pa.types.is_boolean(field.type)):
            raise ValidationError(
                f"data_format='npy' holds numbers only, but column {field.name!r} is {field.type}. "
                "Encode it with a transformation function (label_encoder, one_hot_encoder) or use parquet."
            )
        columns.append(column.to_numpy(zero_copy_only=False).astype(np.float64))
    return np.column_stack(columns) if columns else np.empty((table.num_rows, 0))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot serialise {type(value).__name__}")

"""Dataframes in and out: pandas, polars or pyarrow become one Arrow table, and back.

pandas and polars are imported only when a caller hands us (or asks for) one, so
``import lakebox`` stays fast.
"""

from __future__ import annotations

from typing import Any, Literal

import pyarrow as pa

from lakebox.errors import SchemaMismatchError, ValidationError
from lakebox.extras import require

DataFrameType = Literal["pandas", "polars", "arrow"]
DATAFRAME_TYPES = ("pandas", "polars", "arrow")


def to_arrow(df: Any) -> pa.Table:
    """An Arrow table for a pandas, polars or pyarrow frame (no copy for Arrow input)."""
    if isinstance(df, pa.Table):
        return df
    if isinstance(df, pa.RecordBatch):
        return pa.Table.from_batches([df])
    module = type(df).__module__.split(".")[0]
    if module == "pandas" and type(df).__name__ == "DataFrame":
        return _from_pandas(df)
    if module == "polars":
        if type(df).__name__ == "LazyFrame":
            raise ValidationError("Got a polars LazyFrame: call .collect() and insert the DataFrame.")
        if type(df).__name__ == "DataFrame":
            return df.to_arrow()
    raise ValidationError(
        f"Expected a pandas, polars or pyarrow dataframe, got {type(df).__module__}.{type(df).__name__}."
    )


def _from_pandas(df: Any) -> pa.Table:
    columns = [str(c) for c in df.columns]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise SchemaMismatchError(f"The dataframe has duplicate column names: {dupes}.", columns=dupes)
    try:
        return pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as e:
        raise SchemaMismatchError(
            f"Cannot convert the pandas dataframe to columns: {e}. Make each column hold one type "
            "(mixed object columns cannot be stored)."
        ) from e


def from_arrow(table: pa.Table, dataframe_type: str = "pandas") -> Any:
    """The Arrow table as the requested dataframe type."""
    if dataframe_type in ("arrow", "pyarrow"):
        return table
    if dataframe_type == "pandas":
        return table.to_pandas()
    if dataframe_type == "polars":
        pl = require("polars", 'dataframe_type="polars"')  # the polars extra

        return pl.from_arrow(table)
    raise ValidationError(f"dataframe_type must be one of {list(DATAFRAME_TYPES)}, got {dataframe_type!r}.")


def check_dataframe_type(dataframe_type: str) -> None:
    if dataframe_type not in (*DATAFRAME_TYPES, "pyarrow"):
        raise ValidationError(f"dataframe_type must be one of {list(DATAFRAME_TYPES)}, got {dataframe_type!r}.")

"""Feature types: the names users write, the Arrow types lakebox stores, and how input maps.

Storage is canonical so that every engine agrees: integers are int32 or int64, timestamps
are UTC microseconds (``timestamp[us, tz=UTC]``), strings are ``string``. Input columns are
widened to these (int8 -> int, float16 -> float, any timestamp unit -> us), never narrowed.
"""

from __future__ import annotations

import re

import pyarrow as pa

from lakebox.errors import SchemaMismatchError, TimezoneError

TIMESTAMP = pa.timestamp("us", tz="UTC")

_NAMED: dict[str, pa.DataType] = {
    "boolean": pa.bool_(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "float": pa.float32(),
    "double": pa.float64(),
    "string": pa.string(),
    "binary": pa.binary(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP,
}
_ALIASES = {
    "bool": "boolean",
    "integer": "int",
    "int32": "int",
    "long": "bigint",
    "int64": "bigint",
    "float32": "float",
    "float64": "double",
    "str": "string",
    "varchar": "string",
    "text": "string",
    "timestamptz": "timestamp",
}
MAX_DECIMAL_PRECISION = 38  # Iceberg's decimal(p,s): p <= 38
SUPPORTED = (
    "booleans, integers, floats, decimals of precision up to 38, strings, binary, dates, "
    "timezone-aware timestamps and lists of those"
)
_DECIMAL = re.compile(r"^decimal\((\d+),\s*(\d+)\)$")
_ARRAY = re.compile(r"^array<(.+)>$")


def parse_type(name: str | pa.DataType) -> pa.DataType:
    """Arrow type for a lakebox type name (``"bigint"``, ``"array<double>"``, ``"decimal(10,2)"``)."""
    if isinstance(name, pa.DataType):
        return canonical_type(name, column="<feature>")
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key in _NAMED:
        return _NAMED[key]
    if match := _DECIMAL.match(key):
        precision, scale = int(match.group(1)), int(match.group(2))
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
            raise SchemaMismatchError(
                f"Feature type {name!r}: decimal(p,s) needs 1 <= p <= {MAX_DECIMAL_PRECISION} and 0 <= s <= p "
                "(Iceberg's decimals). Use double for wider numbers, or string to keep every digit."
            )
        return pa.decimal128(precision, scale)
    if match := _ARRAY.match(key):
        return pa.list_(parse_type(match.group(1)))
    raise SchemaMismatchError(
        f"Unknown feature type {name!r}. Use one of {sorted(_NAMED)}, decimal(p,s) or array<type>."
    )


def type_name(dtype: pa.DataType) -> str:
    """The lakebox name of a canonical Arrow type."""
    for name, candidate in _NAMED.items():
        if dtype == candidate:
            return name
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision},{dtype.scale})"
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"array<{type_name(dtype.value_type)}>"
    raise SchemaMismatchError(f"Arrow type {dtype} has no lakebox feature type.")


def canonical_type(dtype: pa.DataType, column: str) -> pa.DataType:
    """The storage type for an input column type, or a clear error for unsupported ones."""
    t = pa.types
    if t.is_dictionary(dtype):
        return canonical_type(dtype.value_type, column)
    if t.is_boolean(dtype):
        return pa.bool_()
    if t.is_int8(dtype) or t.is_int16(dtype) or t.is_int32(dtype) or t.is_uint8(dtype) or t.is_uint16(dtype):
        return pa.int32()
    if t.is_int64(dtype) or t.is_uint32(dtype) or t.is_uint64(dtype):
        return pa.int64()
    if t.is_float16(dtype) or t.is_float32(dtype):
        return pa.float32()
    if t.is_float64(dtype):
        return pa.float64()
    if t.is_string(dtype) or t.is_large_string(dtype) or t.is_string_view(dtype):
        return pa.string()
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_binary_view(dtype) or t.is_fixed_size_binary(dtype):
        return pa.binary()
    if t.is_date(dtype):
        return pa.date32()
    if t.is_timestamp(dtype):
        if dtype.tz is None:
            raise TimezoneError(
                f"Column {column!r} holds naive timestamps (no timezone). lakebox stores instants in "
                "UTC and will not guess a zone: localize them first, e.g. "
                "df[col] = df[col].dt.tz_localize('UTC') in pandas or "
                "pl.col(col).dt.replace_time_zone('UTC') in polars.",
                column=column,
            )
        return TIMESTAMP
    if t.is_decimal(dtype):
        # decimal32/64/128/256 are stored as decimal128 (Iceberg's decimal), when they fit it
        if dtype.precision > MAX_DECIMAL_PRECISION or dtype.scale < 0:
            raise SchemaMismatchError(
                f"Column {column!r} has type {dtype}, which lakebox does not store: decimals hold at most "
                f"{MAX_DECIMAL_PRECISION} digits with a scale >= 0 (Iceberg's decimal). Cast it to a "
                f"decimal128 of precision <= {MAX_DECIMAL_PRECISION}, to double, or to string. "
                f"Supported: {SUPPORTED}.",
                column=column,
                supported=SUPPORTED,
            )
        return pa.decimal128(dtype.precision, dtype.scale)
    if t.is_list(dtype) or t.is_large_list(dtype) or t.is_fixed_size_list(dtype):
        return pa.list_(canonical_type(dtype.value_type, column))
    if t.is_null(dtype):
        raise SchemaMismatchError(
            f"Column {column!r} is entirely null, so its type is unknown. Declare the schema with "
            "features=[Feature(name, type), ...] when creating the group.",
            column=column,
        )
    raise SchemaMismatchError(
        f"Column {column!r} has type {dtype}, which lakebox does not store. Supported: {SUPPORTED}.",
        column=column,
        supported=SUPPORTED,
    )


# Safe widenings from an input's canonical type to a group's stored type.
def _widens(source: pa.DataType, target: pa.DataType) -> bool:
    t = pa.types
    if source == target:
        return True
    if t.is_integer(source) and (t.is_integer(target) or t.is_floating(target)):
        return True
    if t.is_float32(source) and t.is_float64(target):
        return True
    if t.is_decimal(source) and t.is_decimal(target):  # more digits on both sides of the point
        return target.scale >= source.scale and target.precision - target.scale >= source.precision - source.scale
    if t.is_list(source) and t.is_list(target):
        return _widens(source.value_type, target.value_type)
    return False


def conform_column(array: pa.ChunkedArray, target: pa.DataType, column: str) -> pa.ChunkedArray:
    """Cast one input column to the group's stored type, refusing lossy or unrelated casts."""
    if t_is_dict(array.type):
        array = array.cast(array.type.value_type)
    source = canonical_type(array.type, column)
    if not _widens(source, target):
        raise SchemaMismatchError(
            f"Column {column!r} has type {type_name_or_raw(source)} but the feature group stores "
            f"{type_name(target)}. Cast the column before inserting (or create a new group version).",
            column=column,
            expected=type_name(target),
            got=type_name_or_raw(source),
        )
    if array.type == target:
        return array
    try:
        if pa.types.is_timestamp(array.type):
            # Sub-microsecond digits are truncated: storage is microseconds (DESIGN §3).
            return array.cast(pa.timestamp("us", tz=array.type.tz), safe=False).cast(target)
        return array.cast(target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        raise SchemaMismatchError(
            f"Column {column!r} cannot be stored as {type_name(target)} without losing data: {e}",
            column=column,
        ) from e


def t_is_dict(dtype: pa.DataType) -> bool:
    return pa.types.is_dictionary(dtype)


def type_name_or_raw(dtype: pa.DataType) -> str:
    try:
        return type_name(dtype)
    except SchemaMismatchError:
        return str(dtype)

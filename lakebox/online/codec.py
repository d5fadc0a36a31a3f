"""Key and value encodings of the online store.

Keys: the primary-key values of a row, concatenated, each in a fixed, order-preserving
form (integers as 8 big-endian bytes with the sign bit flipped, strings length-prefixed).
The same bytes come from a vectorised Arrow path (writes) and a per-value Python path
(lookups); a test checks that they agree.

Long keys: LMDB keys are at most 511 bytes. An encoded key of up to 510 bytes is stored as
is; a longer one (a long string, several string columns) is stored under exactly 511 bytes:
its first 479 bytes and the SHA-256 of the whole key. No plain key is 511 bytes long, so the
two forms never meet, and two long keys share a slot only if SHA-256 collides. The full key
is kept in the value (after the features), so a scan decodes it and a lookup verifies it.
Any key a group can store offline can be served online (docs/decisions.md, "Long keys").

Values: 8 bytes of event time (UTC microseconds, big-endian; 0 without an event time) so that
a writer compares event times without decoding, then the features as a msgpack array
(timestamps as microseconds, dates as days, decimals as strings; a long key's full bytes
follow as one more element).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgpack
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import SchemaMismatchError, StorageError, ValidationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DATE = date(1970, 1, 1)
_SIGN = 1 << 63
_MASK = (1 << 64) - 1
_MIN_INT, _MAX_INT = -(1 << 63), (1 << 63) - 1
_TIME = struct.Struct(">q")
_U64 = struct.Struct(">Q")
_LEN = struct.Struct(">I")
MAX_KEY_BYTES = 511  # LMDB's compile-time limit (env.max_key_size())
MAX_PLAIN_KEY = MAX_KEY_BYTES - 1  # longer encodings are stored hashed, under exactly MAX_KEY_BYTES
_HASHED_PREFIX = MAX_KEY_BYTES - 32


# -- keys ---------------------------------------------------------------------------------
def storage_key(plain: bytes) -> bytes:
    """The LMDB key for an encoded key: itself up to ``MAX_PLAIN_KEY`` bytes, else its head
    and its SHA-256 in exactly ``MAX_KEY_BYTES`` (a length no plain key has)."""
    if len(plain) <= MAX_PLAIN_KEY:
        return plain
    return plain[:_HASHED_PREFIX] + hashlib.sha256(plain).digest()


def is_hashed(key: bytes) -> bool:
    return len(key) == MAX_KEY_BYTES


def online_key_problem(names: Sequence[str], types: Sequence[pa.DataType]) -> str | None:
    """Why a primary key of these columns cannot be served online (None: it can)."""
    for name, dtype in zip(names, types, strict=True):
        try:
            _key_kind(dtype)
        except SchemaMismatchError:
            return (
                f"primary key column {name!r} has type {dtype}, which the online store cannot serve; "
                "online keys are integers, strings, dates, timestamps, booleans or binary "
                "(cast it, e.g. a decimal key to string, or keep the group offline)"
            )
    return None


def _key_kind(dtype: pa.DataType) -> str:
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "str"
    if pa.types.is_timestamp(dtype):
        return "ts"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_boolean(dtype):
        return "bool"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype):
        return "bin"
    raise SchemaMismatchError(f"Primary keys of type {dtype} cannot be served online.")


class KeyCodec:
    """Encodes primary-key tuples of one group."""

    def __init__(self, names: Sequence[str], types: Sequence[pa.DataType]) -> None:
        self.names = list(names)
        self.kinds = [_key_kind(t) for t in types]
        # fixed-width keys (no strings or binary) fit LMDB's limit up to 63 columns
        self.may_be_long = any(k in ("str", "bin") for k in self.kinds) or 8 * len(self.kinds) > MAX_PLAIN_KEY

    def encode_columns(self, table: pa.Table) -> list[bytes]:
        """Vectorised: one LMDB key per row of ``table``."""
        plain = self.plain_columns(table)
        if not self.may_be_long:
            return plain
        return [storage_key(p) for p in plain]

    def plain_columns(self, table: pa.Table) -> list[bytes]:
        """Vectorised: the full encoded key of each row (before long keys are hashed)."""
        parts = [_encode_column(table.column(n), k) for n, k in zip(self.names, self.kinds, strict=True)]
        if len(parts) == 1:
            return parts[0]
        return [b"".join(p) for p in zip(*parts, strict=True)]

    def full_keys(self, plain: Sequence[bytes]) -> list[bytes | None] | None:
        """What the values keep of each key: the full key where it is stored hashed (None:
        no key of ``plain`` is)."""
        if not self.may_be_long:
            return None
        kept = [p if len(p) > MAX_PLAIN_KEY else None for p in plain]
        return kept if any(k is not None for k in kept) else None

    def encoder(self) -> Any:
        """``encode``, specialised: a single integer key (the common case) packs directly."""
        if self.kinds == ["int"]:
            name = self.names[0]

            def encode_int(values: Sequence[Any]) -> bytes:
                value = values[0]
                if type(value) is not int or not _MIN_INT <= value <= _MAX_INT:
                    return self.encode(values)  # the general path validates (bool, float, range)
                return _U64.pack(value + _SIGN)

            del name
            return encode_int
        return self.encode

    def decode(self, key: bytes) -> dict[str, Any]:
        """Inverse of ``plain``: ``{key column: value}`` (a hashed key decodes from the full
        key its value keeps: see ``ValueCodec.full_key``)."""
        values: dict[str, Any] = {}
        offset = 0
        for name, kind in zip(self.names, self.kinds, strict=True):
            if kind in ("int", "ts", "date", "bool"):
                number = _U64.unpack_from(key, offset)[0] - _SIGN
                offset += 8
                if kind == "ts":
                    values[name] = EPOCH + timedelta(microseconds=number)
                elif kind == "date":
                    values[name] = EPOCH_DATE + timedelta(days=number)
                elif kind == "bool":
                    values[name] = bool(number)
                else:
                    values[name] = number
            else:
                size = _LEN.unpack_from(key, offset)[0]
                offset += 4
                raw = key[offset : offset + size]
                offset += size
                values[name] = raw.decode() if kind == "str" else raw
        return values

    def encode(self, values: Sequence[Any]) -> bytes:
        """The LMDB key from Python values, in primary-key order."""
        return storage_key(self.plain(values))

    def plain(self, values: Sequence[Any]) -> bytes:
        """The full encoded key from Python values, in primary-key order."""
        return b"".join(_encode_value(v, k, n) for v, k, n in zip(values, self.kinds, self.names, strict=True))


def _encode_column(column: pa.ChunkedArray, kind: str) -> list[bytes]:
    if kind in ("int", "ts", "date", "bool"):
        if kind == "bool":
            ints = column.cast(pa.int8()).cast(pa.int64())
        elif kind == "date":
            ints = column.cast(pa.int32()).cast(pa.int64())  # date32 -> int64 directly is not a cast Arrow has
        else:
            ints = column.cast(pa.int64())
        raw = (ints.to_numpy().astype(np.int64).view(np.uint64) ^ np.uint64(_SIGN)).astype(">u8").tobytes()
        return [raw[i : i + 8] for i in range(0, len(raw), 8)]
    if kind == "str":
        return [_LEN.pack(len(b)) + b for b in (s.encode() for s in column.to_pylist())]
    return [_LEN.pack(len(b)) + b for b in column.to_pylist()]


def _encode_value(value: Any, kind: str, name: str) -> bytes:
    try:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError
            if not _MIN_INT <= int(value) <= _MAX_INT:
                # masking to 64 bits would alias another key (2**64 + 1 -> 1): refuse instead
                raise ValidationError(f"Primary key {name!r} = {value} is outside the 64-bit integer range.", key=name)
            return _U64.pack(int(value) + _SIGN)
        if kind == "str":
            if not isinstance(value, str):
                raise TypeError
            encoded = value.encode()
            return _LEN.pack(len(encoded)) + encoded
        if kind == "ts":
            return _U64.pack((to_micros(value) + _SIGN) & _MASK)
        if kind == "date":
            days = (value - EPOCH_DATE).days if not isinstance(value, datetime) else None
            if days is None:
                raise TypeError
            return _U64.pack((days + _SIGN) & _MASK)
        if kind == "bool":
            return _U64.pack((int(bool(value)) + _SIGN) & _MASK)
        if not isinstance(value, bytes):
            raise TypeError
        return _LEN.pack(len(value)) + value
    except (TypeError, AttributeError, OverflowError):
        raise ValidationError(
            f"Primary key {name!r} needs a {kind} value, got {type(value).__name__} {value!r}.", key=name
        ) from None


def to_micros(value: Any) -> int:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            from lakebox.errors import TimezoneError

            raise TimezoneError(f"Timestamp {value} has no time zone; pass an aware datetime.")
        return (value - EPOCH) // timedelta(microseconds=1)
    if hasattr(value, "to_pydatetime"):
        return to_micros(value.to_pydatetime())
    raise TypeError


# -- values -------------------------------------------------------------------------------
class ValueCodec:
    """Encodes the non-key features of one group (and its event time in the prefix)."""

    def __init__(self, schema: pa.Schema, features: Sequence[str], event_time: str | None) -> None:
        self.features = list(features)
        self.event_time = event_time
        self.kinds = [_value_kind(schema.field(f).type) for f in self.features]
        self._decoders = [None if k == "plain" else _decoder(k) for k in self.kinds]

    def encode_table(self, table: pa.Table, full_keys: Sequence[bytes | None] | None = None) -> list[bytes]:
        """One value per row; ``full_keys`` (from ``KeyCodec.full_keys``) are appended to the
        rows whose key is stored hashed."""
        columns = [_python_column(table.column(f), k) for f, k in zip(self.features, self.kinds, strict=True)]
        if self.event_time is not None:
            times = table.column(self.event_time).cast(pa.int64()).to_numpy()
            prefixes = [_TIME.pack(int(t)) for t in times]
        else:
            prefixes = [_TIME.pack(0)] * table.num_rows
        pack = msgpack.Packer(use_bin_type=True).pack
        rows = [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in prefixes]
        if full_keys is not None:
            for row, key in zip(rows, full_keys, strict=True):
                if key is not None:
                    row.append(key)
        return [p + pack(row) for p, row in zip(prefixes, rows, strict=True)]

    @staticmethod
    def event_micros(value: bytes) -> int:
        return _TIME.unpack_from(value)[0]

    def decode(self, value: bytes) -> list[Any]:
        try:
            row = msgpack.unpackb(value[8:], raw=False)
            if len(row) > len(self.features):
                del row[len(self.features) :]  # a hashed key's full bytes
            for i, decoder in enumerate(self._decoders):
                if decoder is not None and row[i] is not None:
                    row[i] = decoder(row[i])
        except (ValueError, TypeError, IndexError, KeyError, OverflowError) as e:  # msgpack's errors are ValueErrors
            raise damaged_value(e) from e
        return row

    def full_key(self, value: bytes) -> bytes | None:
        """The full key a value keeps (rows whose key is stored hashed), else None."""
        try:
            row = msgpack.unpackb(value[8:], raw=False)
        except ValueError as e:
            raise damaged_value(e) from e
        return row[len(self.features)] if len(row) > len(self.features) else None


def damaged_value(error: Exception) -> StorageError:
    return StorageError(
        f"A value in the online store is damaged ({type(error).__name__}: {error}). The online store is "
        "derived data: run `lakebox online rebuild` (or `lakebox doctor --repair`) to recreate it from the "
        "offline store."
    )


def _value_kind(dtype: pa.DataType) -> str:
    if pa.types.is_timestamp(dtype):
        return "ts"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_decimal(dtype):
        return "decimal"
    if (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)) and _value_kind(dtype.value_type) != "plain":
        return "list_" + _value_kind(dtype.value_type)
    return "plain"


_SCALAR_ENCODERS: dict[str, Any] = {
    "ts": lambda v: (v - EPOCH) // timedelta(microseconds=1),
    "date": lambda v: (v - EPOCH_DATE).days,
    "decimal": str,
}


def _element_encoder(kind: str) -> Any:
    """Python value -> msgpack-able value, for a (possibly nested) list kind's elements."""
    if kind.startswith("list_"):
        inner = _element_encoder(kind[5:])
        return lambda v: [None if x is None else inner(x) for x in v]
    return _SCALAR_ENCODERS[kind]


def _python_column(column: pa.ChunkedArray, kind: str) -> list[Any]:
    if kind.startswith("list_"):  # lists of times, dates or decimals: element by element (rare)
        encode = _element_encoder(kind)
        return [None if v is None else encode(v) for v in column.to_pylist()]
    if kind == "ts":
        column = column.cast(pa.int64())
    elif kind == "date":
        column = column.cast(pa.int32())
    elif kind == "decimal":
        column = pc.cast(column, pa.string())
    if column.null_count == 0 and (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return column.to_numpy().tolist()
    return column.to_pylist()


_SCALAR_DECODERS: dict[str, Any] = {
    "ts": lambda v: EPOCH + timedelta(microseconds=v),
    "date": lambda v: EPOCH_DATE + timedelta(days=v),
    "decimal": Decimal,
}


def _decoder(kind: str) -> Any:
    if kind.startswith("list_"):
        inner = _decoder(kind[5:])
        return lambda v: [None if x is None else inner(x) for x in v]
    return _SCALAR_DECODERS[kind]

"""lakebox's one JSON policy, for the CLI, the server, stored reports, configs and logs.

Whatever produces JSON in lakebox turns values into JSON the same way:

- NaN and ±infinity become ``null`` (JSON has no such numbers; ``allow_nan=False`` makes a
  slip an error, never the invalid token ``NaN``);
- ``bytes`` become base64 text (standard alphabet, padded);
- times become ISO-8601 in UTC with ``Z``: ``2026-01-01T12:00:00Z`` (microseconds when not
  zero); a naive datetime is taken as UTC, as everywhere in lakebox; pandas ``NaT`` is null;
  dates and times of day keep their ISO form (``2026-01-01``, ``12:00:00``);
- ``timedelta`` becomes seconds (a number); ``Decimal`` a string (exact); numpy scalars and
  arrays their Python values; sets sorted lists; paths and anything else their ``str``;
  objects with ``to_dict()`` their dict.

>>> from datetime import datetime, timezone
>>> dumps({"t": datetime(2026, 1, 1, 12, tzinfo=timezone.utc), "x": float("nan"), "b": b"hi"})
'{"t": "2026-01-01T12:00:00Z", "x": null, "b": "aGk="}'
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any


def iso_utc(moment: datetime) -> str:
    """``2026-01-01T12:00:00Z``: a datetime in UTC with ``Z`` (naive means UTC)."""
    if moment.tzinfo is not None and moment.utcoffset() is not None:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def jsonable(value: Any) -> Any:
    """A copy of ``value`` made of JSON types only, by the policy above."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return None if _is_nat(value) else iso_utc(value)
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else None
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [jsonable(v) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=repr)
    return _other(value)


def _is_nat(value: Any) -> bool:
    return type(value).__name__ == "NaTType"


def _other(value: Any) -> Any:
    """numpy scalars and arrays, pandas' NaT/NA, objects with ``to_dict``, else ``str``."""
    kind = type(value).__name__
    if _is_nat(value) or kind == "NAType":
        return None
    if hasattr(value, "dtype") and hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return jsonable(to_dict())
    return str(value)


def default(value: Any) -> Any:
    """A ``json.dumps(default=...)`` hook applying the policy to what json cannot encode."""
    return jsonable(value)


def dumps(value: Any, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """``value`` as JSON text by the policy (UTF-8 characters kept, never ``NaN``)."""
    return json.dumps(jsonable(value), indent=indent, sort_keys=sort_keys, ensure_ascii=False, allow_nan=False)


def loads(text: str | bytes) -> Any:
    """Parse JSON text (the inverse of ``dumps`` as far as JSON goes)."""
    return json.loads(text)


__all__ = ["default", "dumps", "iso_utc", "jsonable", "loads"]

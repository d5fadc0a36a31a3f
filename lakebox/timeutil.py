"""Turning user times into UTC instants: time arguments (``to_datetime``/``parse_time``) and
the timestamp columns of inserted data (``localize_times``).

Arguments are read as hsfs reads them (``start_time``, ``train_end``, ``wallclock_time``,
filter values ...): ISO strings, ``"2022/01/01"``, ``"2022-01-01 10:00"``, ``"20220101"``,
``"20220101103000"``, ``date``/``datetime``/pandas objects and int epoch milliseconds; a time
without a zone means UTC, a date its midnight UTC.

Data: a naive timestamp column means UTC too (or the ``timezone=`` given to ``fg.insert``),
with a ``NaiveTimestampWarning`` the first time per group and column; the box setting
``timestamps = "strict"`` (lakebox.toml) refuses naive columns instead. An event time may
also be int epoch milliseconds or a date (its midnight UTC), as in hsfs.
"""

from __future__ import annotations

import numbers
import warnings
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakebox.errors import LakeboxWarning, TimezoneError, ValidationError

if TYPE_CHECKING:  # pyarrow loads where a table is localized, not at import (the CLI starts fast)
    import pyarrow as pa

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# the compact forms fromisoformat does not read (hsfs accepts them)
_COMPACT_FORMATS = ("%Y%m%d%H", "%Y%m%d%H%M", "%Y%m%d%H%M%S", "%Y%m%d%H%M%S%f")


def to_datetime(value: Any, what: str = "time") -> datetime:
    """An aware UTC datetime for a time argument: a datetime, pandas Timestamp, date, ISO-8601
    string (or another format ``parse_time`` reads) or int epoch milliseconds. As in hsfs, a
    time without a zone means UTC and a date its midnight UTC."""
    moment = parse_time(value, what)
    if moment is None:
        raise ValidationError(f"The {what} is missing: pass a time such as '2026-01-01T00:00:00Z'.")
    return moment


def parse_time(value: Any, what: str = "time") -> datetime | None:
    """An aware UTC datetime for a time argument as hsfs takes it (see the module docstring);
    None for None or ``""`` (hsfs' "no bound").

    >>> parse_time("2022/01/02").isoformat()
    '2022-01-02T00:00:00+00:00'
    >>> parse_time(1640995200000).isoformat()
    '2022-01-01T00:00:00+00:00'
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool):
        raise ValidationError(f"The {what} must be a time, got {value!r}.")
    if isinstance(value, numbers.Integral):
        return EPOCH + timedelta(milliseconds=int(value))
    if isinstance(value, str):
        value = _parse_text(value.strip(), what)
    elif hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if not isinstance(value, datetime):
        raise ValidationError(
            f"The {what} must be a datetime, a date, a pandas Timestamp, a string such as "
            f"'2026-01-01T00:00:00Z' or int epoch milliseconds, got {type(value).__name__}."
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _parse_text(text: str, what: str) -> datetime:
    candidate = text.replace("/", "-")
    try:
        return datetime.fromisoformat(candidate)
    except ValueError:
        pass
    for fmt in _COMPACT_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValidationError(
        f"The {what} {text!r} is not a time lakebox can read: write an ISO-8601 time such as "
        "'2022-01-01T10:30:00Z', or '2022-01-01', '2022/01/01 10:30', '20220101103000' (without an offset: UTC)."
    )


def to_millis(value: Any, what: str = "time") -> int:
    """Epoch milliseconds (floored) of an aware time."""
    moment = to_datetime(value, what)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class NaiveTimestampWarning(LakeboxWarning):
    """A naive timestamp column was read as UTC (hsfs' rule); set ``timezone=`` to say so."""


_warned: set[tuple[Any, str]] = set()


def localize_times(
    table: pa.Table, *, event_time: str | None, timezone: str | None = None, strict: bool = False,
    warn_key: Any = None,
) -> pa.Table:
    """``table`` with naive timestamp columns in ``timezone`` (default UTC, with a warning once
    per ``warn_key`` and column) and an int (epoch milliseconds) or date event time as UTC
    timestamps. ``strict`` leaves naive columns alone (the insert then refuses them), unless a
    ``timezone`` is given."""
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays, changed = [], False
    for name, column in zip(table.column_names, table.columns, strict=True):
        dtype = column.type
        if name == event_time and (pa.types.is_integer(dtype) or pa.types.is_date(dtype)):
            if pa.types.is_integer(dtype):
                column = column.cast(pa.int64()).cast(pa.timestamp("ms", tz="UTC"))
            else:
                column = column.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
            changed = True
        elif pa.types.is_timestamp(dtype) and dtype.tz is None and (timezone is not None or not strict):
            zone = timezone or "UTC"
            if timezone is None and (warn_key, name) not in _warned:
                _warned.add((warn_key, name))
                warnings.warn(
                    f"Column {name!r} holds naive timestamps: read as UTC (as hsfs does). Pass timezone='...' "
                    "to insert to name their zone, or set timestamps = \"strict\" in lakebox.toml to refuse them.",
                    NaiveTimestampWarning,
                    stacklevel=3,
                )
            try:
                column = pc.assume_timezone(column, timezone=zone)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
                raise TimezoneError(
                    f"Column {name!r}: its naive timestamps cannot be read in time zone {zone!r} ({e}); times that "
                    "fall in a daylight-saving gap or overlap need an explicit offset.",
                    column=name,
                ) from e
            changed = True
        arrays.append(column)
    return pa.Table.from_arrays(arrays, names=table.column_names) if changed else table

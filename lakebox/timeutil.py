"""Turning user time arguments into UTC instants.

``to_datetime`` is lakebox's strict form (an offset is required). ``parse_time`` is the hsfs
form that Hopsworks code passes (``start_time``, ``train_end``, ``wallclock_time`` ...): ISO
strings, ``"2022/01/01"``, ``"2022-01-01 10:00"``, ``"20220101"``, ``"20220101103000"``,
``date``/``datetime``/pandas objects and int epoch milliseconds; a time without a zone means
UTC (as in hsfs), a date means its midnight UTC.
"""

from __future__ import annotations

import numbers
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakebox.errors import TimezoneError, ValidationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# the compact forms fromisoformat does not read (hsfs accepts them)
_COMPACT_FORMATS = ("%Y%m%d%H", "%Y%m%d%H%M", "%Y%m%d%H%M%S", "%Y%m%d%H%M%S%f")


def to_datetime(value: Any, what: str = "time") -> datetime:
    """An aware UTC datetime for a datetime, pandas Timestamp or ISO-8601 string with an offset."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as e:
            raise ValidationError(
                f"The {what} {value!r} is not an ISO-8601 timestamp; write e.g. '2026-01-01T00:00:00Z'."
            ) from e
        value = parsed
    elif hasattr(value, "to_pydatetime"):  # pandas.Timestamp
        value = value.to_pydatetime()
    elif isinstance(value, date) and not isinstance(value, datetime):
        raise TimezoneError(
            f"The {what} {value!r} is a date without a time zone; pass an aware datetime such as "
            "datetime(2026, 1, 1, tzinfo=timezone.utc) or '2026-01-01T00:00:00Z'."
        )
    if not isinstance(value, datetime):
        raise ValidationError(
            f"The {what} must be a datetime, a pandas Timestamp or an ISO-8601 string, got {type(value).__name__}."
        )
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise TimezoneError(
            f"The {what} {value.isoformat()} has no time zone. lakebox will not guess one: add an "
            "offset ('...Z' or '+02:00') or tzinfo=timezone.utc."
        )
    return value.astimezone(UTC)


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
    if isinstance(value, datetime) and (value.tzinfo is None or value.tzinfo.utcoffset(value) is None):
        value = value.replace(tzinfo=UTC)
    return to_datetime(value, what)


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
        f"The {what} {text!r} is not a time lakebox can read: write e.g. '2022-01-01', '2022/01/01 10:30', "
        "'20220101103000' or '2022-01-01T10:30:00Z' (a time without an offset is UTC)."
    )


def to_millis(value: Any, what: str = "time") -> int:
    """Epoch milliseconds (floored) of an aware time."""
    moment = to_datetime(value, what)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

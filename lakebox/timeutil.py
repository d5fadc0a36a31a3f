"""Turning user time arguments into UTC instants, refusing naive ones (no silent shift)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from lakebox.errors import TimezoneError, ValidationError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def to_millis(value: Any, what: str = "time") -> int:
    """Epoch milliseconds (floored) of an aware time."""
    moment = to_datetime(value, what)
    return (moment - EPOCH) // timedelta(milliseconds=1)


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

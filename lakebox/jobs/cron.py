"""Cron expressions, parsed and evaluated by ``cronsim`` (the parser of healthchecks.io, with
Debian cron's day-of-month/day-of-week and daylight-saving rules), never by hand."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from lakebox.errors import ValidationError

MAX_FIRES = 10_000  # fire times looked at in one step (a minutely schedule missed for a week)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValidationError(f"Unknown time zone {name!r}; use an IANA name such as 'UTC' or 'Europe/Paris'.") from e


def check(expression: str, timezone: str = "UTC") -> str:
    """The expression if it is valid cron (5 fields, or 6 with seconds first), else a ValidationError."""
    if not isinstance(expression, str) or not expression.strip():
        raise ValidationError("A schedule needs a cron expression such as '0 3 * * *' (every day at 03:00).")
    try:
        CronSim(expression, datetime.now(zone(timezone)))
    except CronSimError as e:
        raise ValidationError(
            f"Invalid cron expression {expression!r} ({e}); use 'minute hour day-of-month month day-of-week', "
            "e.g. '0 * * * *' for hourly or '30 2 * * 1-5' for 02:30 on weekdays."
        ) from e
    return expression.strip()


def fires(expression: str, timezone: str, after: datetime, until: datetime, limit: int = MAX_FIRES) -> list[datetime]:
    """Fire times in ``(after, until]``, in UTC, oldest first (at most ``limit``)."""
    tz = zone(timezone)
    found: list[datetime] = []
    for fire in CronSim(expression, after.astimezone(tz)):
        fire = fire.astimezone(UTC)
        if fire > until or len(found) >= limit:
            break
        if fire > after:
            found.append(fire)
    return found


def previous(expression: str, timezone: str, before: datetime) -> datetime:
    """The last fire time strictly before ``before`` (a scheduled run's window start)."""
    tz = zone(timezone)
    for fire in CronSim(expression, before.astimezone(tz), reverse=True):
        fire = fire.astimezone(UTC)
        if fire < before:
            return fire
    raise AssertionError("unreachable")


def next_fire(expression: str, timezone: str, after: datetime) -> datetime:
    return next(iter(CronSim(expression, after.astimezone(zone(timezone))))).astimezone(UTC)

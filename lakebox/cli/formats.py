"""How values read in the CLI's text output: one number format, plurals, times, statistics.

Counts always have thousands separators (``1,000``), a count with a noun agrees with it
(``1 row``, ``2 rows``), times are UTC with ``Z`` to the second in tables. JSON output does not
use these: it follows ``lakebox.jsonpolicy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from lakebox.jsonpolicy import iso_utc

if TYPE_CHECKING:
    import pyarrow as pa


def escape(text: str) -> str:
    """``text`` with rich markup escaped (``[x]`` prints as is); rich is imported on first use,
    so commands whose JSON output builds no message never import it."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def number(value: int | float) -> str:
    """A count as every command prints it: ``1,000`` (floats keep up to 6 significant digits)."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.6g}" if math.isfinite(value) else str(value)
    return f"{int(value):,}"


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """``1 row``, ``2 rows``, ``1,000 rows``; ``nouns`` for an irregular plural."""
    return f"{number(count)} {noun if count == 1 else (nouns or noun + 's')}"


def format_value(value: Any) -> str:
    """How one cell reads in a text table (and how times read in JSON)."""
    if value is None:
        return "null"
    if isinstance(value, datetime):
        return iso_utc(value)  # the JSON policy's form: UTC with Z
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value[:16]).hex() + ("…" if len(value) > 16 else "")
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    return str(value)


def table_data(table: pa.Table, max_rows: int | None = None) -> dict[str, Any]:
    """``{"columns": [{"name", "type"}], "rows": [{...}], "row_count": N}`` for an Arrow table;
    ``rows`` holds at most ``max_rows`` rows (all when None), ``row_count`` counts them all."""
    from lakebox.types import type_name_or_raw

    shown = table if max_rows is None else table.slice(0, max_rows)
    return {
        "columns": [{"name": f.name, "type": type_name_or_raw(f.type)} for f in table.schema],
        "rows": shown.to_pylist(),
        "row_count": table.num_rows,
    }


def short_time(value: Any) -> str:
    """An ISO-8601 UTC time to the second, with ``Z``: ``2026-01-01T12:00:00Z``."""
    text = str(value or "")
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        return text
    return format_value(moment.astimezone(UTC).replace(microsecond=0))


def split_summary(spec: Mapping[str, Any]) -> str:
    """One line for a training dataset's split spec: ``random: test 0.2, seed 42``."""
    kind = spec.get("kind")
    if kind == "time":
        parts = [
            f"{name} [{short_time(start) if start else '…'}, {short_time(end) if end else '…'})"
            for name, (start, end) in spec["times"].items()
        ]
        text = "by event time: " + "; ".join(parts)
    elif kind == "random":
        sizes = f"test {spec['test_size']}"
        if spec.get("validation_size") is not None:
            sizes += f", validation {spec['validation_size']}"
        text = f"random: {sizes}, seed {spec['seed']}"
    else:
        text = "none (one split: all)"
    if spec.get("start_time") or spec.get("end_time"):
        start, end = spec.get("start_time"), spec.get("end_time")
        text += f"; rows in [{short_time(start) if start else '…'}, {short_time(end) if end else '…'})"
    return text


def stat(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return format_value(value)


def short_stat(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if 1e3 <= abs(value) < 1e15 else f"{value:.4g}"
    return stat(value)


def metric_label(metric: str | None, direction: str | None) -> str:
    """``r2 (max)``, or ``-`` without a metric."""
    if not metric:
        return "-"
    return f"{metric} ({direction})" if direction else metric


def seconds(value: float | None) -> str:
    """A duration: ``0.42 s``, ``12.3 s``, ``4 min 05 s``."""
    if value is None:
        return "-"
    if value < 10:
        return f"{value:.2f} s"
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(int(round(value)), 60)
    return f"{minutes} min {rest:02d} s"


def dataset_label(dataset: Mapping[str, Any] | None) -> str:
    """``attendance v1, training dataset v1`` (or ``-``)."""
    if not dataset:
        return "-"
    return f"{dataset['feature_view']} v{dataset['feature_view_version']}, training dataset v{dataset['version']}"


def metric(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "-" if value is None else format_value(value)


def short(value: Any) -> str:
    """A number for a narrow table cell: four significant digits (``0.7320``, ``6793``)."""
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:,.0f}" if abs(value) >= 1e3 else f"{value:.4g}"
    return metric(value)


def pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={metric(v) if isinstance(v, float) else format_value(v)}" for k, v in values.items())


def instant(value: Any) -> Any:
    """An ISO-8601 string with an offset (a statistic of a timestamp) as an aware datetime."""
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
    return value


def rule_text(rule: Mapping[str, Any]) -> str:
    """An expectation as it was written: ``between(col='age', lo=18, hi=None)``."""
    return f"{rule['rule']}({', '.join(f'{k}={v!r}' for k, v in (rule.get('kwargs') or {}).items())})"


def failure_text(result: Mapping[str, Any], row_count: int) -> str:
    """Why one rule failed: ``between(col='age', ...): 3 of 10 rows`` or ``...: observed 0.4``."""
    if result.get("failed_rows") is None:
        return f"{rule_text(result)}: observed {format_value(result.get('observed'))}"
    return f"{rule_text(result)}: {result['failed_rows']:,} of {row_count:,} rows"

"""Small, explicit helpers shared by the offline-store tests (frames, instants, box state).

Kept out of ``conftest.py`` so test modules can import them by name; the fixtures that
hand out a fresh box live in ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa

UTC = UTC
TS = pa.timestamp("us", tz="UTC")


def day(n: int, hour: int = 0) -> datetime:
    """An aware UTC instant: 2024-01-``n`` at ``hour``:00."""
    return datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=n - 1, hours=hour)


def players(
    keys: Sequence[int],
    days: Sequence[int] | int = 1,
    ages: Sequence[float] | None = None,
    names: Sequence[str] | None = None,
) -> pa.Table:
    """A small ``players`` batch: ``pid`` bigint, ``ts`` timestamp, ``age`` double, ``name`` string."""
    n = len(keys)
    day_list = [days] * n if isinstance(days, int) else list(days)
    return pa.table(
        {
            "pid": pa.array(keys, pa.int64()),
            "ts": pa.array([day(d) for d in day_list], TS),
            "age": pa.array(list(ages) if ages is not None else [float(20 + k) for k in keys], pa.float64()),
            "name": pa.array(list(names) if names is not None else [f"p{k}" for k in keys], pa.string()),
        }
    )


def teams(keys: Sequence[int], cities: Sequence[str] | None = None) -> pa.Table:
    """A small ``teams`` batch without event time: ``team_id`` bigint, ``city`` string."""
    return pa.table(
        {
            "team_id": pa.array(keys, pa.int64()),
            "city": pa.array(list(cities) if cities is not None else [f"c{k}" for k in keys], pa.string()),
        }
    )


def rows(table: pa.Table) -> list[tuple[Any, ...]]:
    """The rows of an Arrow table as tuples, in table order."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return list(zip(*columns, strict=True))


def read_rows(fg: Any, wallclock_time: Any = None) -> list[tuple[Any, ...]]:
    return rows(fg.read(wallclock_time=wallclock_time, dataframe_type="arrow"))


def table_files(box_root: Path) -> set[str]:
    """Every file under the warehouse except the Iceberg SQLite catalog (data and metadata)."""
    warehouse = box_root / "warehouse"
    return {
        str(p.relative_to(warehouse))
        for p in warehouse.rglob("*")
        if p.is_file() and not p.name.startswith("iceberg_catalog.db")
    }


def group_state(fg: Any, box_root: Path) -> tuple[Any, ...]:
    """Everything a failed call must leave alone: commit log, current rows, schema, files."""
    return (
        fg.commit_details(),
        read_rows(fg),
        [f.to_dict() for f in fg.features],
        sorted(table_files(box_root)),
    )

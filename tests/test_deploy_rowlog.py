"""RowLogger, the batching logger behind prediction logs and view feature logging (issue 13):
batches by rows and by age, bounded queue with back-pressure then counted drops, retries then
counted failures (never an exception on the logging side), flush and close."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest

from lakebox.deployments.rowlog import RowLogger
from lakebox.errors import StorageError, ValidationError

SCHEMA = pa.schema([pa.field("pid", pa.int64()), pa.field("ts", pa.timestamp("us", tz="UTC")), pa.field("x", pa.float64())])


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def row(logger: RowLogger, pid: int) -> dict[str, Any]:
    return {"pid": pid, "ts": datetime.fromtimestamp(logger.now_us() / 1e6, UTC), "x": pid / 2}


@pytest.fixture
def group(fs: Any) -> Any:
    return fs.create_feature_group("log", version=1, primary_key=["pid"], event_time="ts", statistics=False,
                                   features=[("pid", "bigint"), ("ts", "timestamp"), ("x", "double")])  # fmt: skip


def test_batches_by_rows_then_flush(group: Any) -> None:
    logger = RowLogger(group.insert, SCHEMA, max_rows=5, max_seconds=3600, name="t")
    try:
        assert logger.log_many([row(logger, p) for p in range(12)]) == 12
        wait_for(lambda: logger.written == 10, "two full batches")
        assert logger.pending == 2 and logger.batches == 2
        assert len(group.commits()) == 2  # one commit per batch, not per row
        assert logger.flush()
        assert logger.written == 12 and group.read()["pid"].tolist() == list(range(12))
    finally:
        logger.close()
    with pytest.raises(ValidationError, match="closed"):
        logger.log(row(logger, 99))


def test_batches_by_age_and_takes_value_lists(group: Any) -> None:
    logger = RowLogger(group.insert, SCHEMA, max_rows=1000, max_seconds=0.05, name="t")
    try:
        logger.log(row(logger, 1))
        logger.log([2, datetime.now(UTC), 1.0])  # values in schema order
        wait_for(lambda: logger.written == 2, "the age trigger")
        assert sorted(group.read()["pid"].tolist()) == [1, 2]
        with pytest.raises(ValidationError, match="3 columns"):
            logger.log([1, 2])
    finally:
        logger.close()


def test_now_us_is_strictly_increasing() -> None:
    logger = RowLogger(lambda table: None, SCHEMA, name="t")
    try:
        stamps = [logger.now_us() for _ in range(10_000)]
        assert all(b > a for a, b in zip(stamps, stamps[1:], strict=False))
    finally:
        logger.close()


def test_full_queue_waits_then_drops_and_counts() -> None:
    release, entered = threading.Event(), threading.Event()
    written: list[int] = []

    def slow_write(table: pa.Table) -> None:
        entered.set()
        release.wait()
        written.extend(table.column("pid").to_pylist())

    logger = RowLogger(slow_write, SCHEMA, max_rows=1, max_seconds=3600, max_queue=2, block_s=0.01, name="t")
    try:
        logger.log([0, datetime.now(UTC), 0.0])
        wait_for(entered.is_set, "the first row in flight")
        accepted = logger.log_many([[p, datetime.now(UTC), 0.0] for p in range(1, 6)])
        assert accepted == 2 and logger.dropped == 3
        release.set()
        assert logger.flush()
        assert written == [0, 1, 2]
    finally:
        release.set()
        logger.close()


def test_a_failing_write_is_retried_then_counted_never_raised() -> None:
    calls: list[int] = []

    def broken(table: pa.Table) -> None:
        calls.append(table.num_rows)
        raise StorageError("disk full")

    logger = RowLogger(broken, SCHEMA, max_rows=2, max_seconds=3600, retries=2, name="t")
    try:
        assert logger.log_many([[p, datetime.now(UTC), 0.0] for p in range(2)]) == 2
        wait_for(lambda: logger.failed == 2, "the batch to fail for good")
        assert calls == [2, 2, 2] and logger.written == 0 and "disk full" in (logger.last_error or "")
        assert logger.flush()
    finally:
        logger.close()

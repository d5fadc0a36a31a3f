"""Lab 4: online serving and its latency. Fill in each function marked TODO."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def go_online(fg: Any) -> Any:
    """Enable the online store for ``fg``; return the group."""
    raise NotImplementedError("TODO: exercise 1")


def make_view(fs: Any, fg: Any) -> Any:
    """The feature view ``sensor_now`` v1 serving ``temp`` and ``humidity``."""
    raise NotImplementedError("TODO: exercise 2")


def lookup(fv: Any, sensor_ids: Sequence[int]) -> list[tuple[dict[str, Any], str]]:
    """One ``(vector as a dict, status)`` per id, in order."""
    raise NotImplementedError("TODO: exercise 3")


def p99(samples: Sequence[float]) -> float:
    """The 99th percentile by the nearest-rank method."""
    raise NotImplementedError("TODO: exercise 4")


def measure(fv: Any, sensor_id: int, n: int) -> list[float]:
    """``n`` latencies (microseconds) of ``fv.get_feature_vector`` for one sensor."""
    raise NotImplementedError("TODO: exercise 5")

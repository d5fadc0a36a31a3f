"""Traffic splits between model versions, deterministic per entity key.

An entry's serving-key values are hashed (BLAKE2b of their canonical JSON) into one of
10,000 buckets; a split ``{1: 90, 2: 10}`` gives buckets 0-8999 to version 1 and the rest to
version 2. The same key therefore always sees the same version while the split stands, and
moving a share moves only the keys of the buckets that change hands.
"""

from __future__ import annotations

import hashlib
import json
import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Any

from lakebox.errors import ValidationError

BUCKETS = 10_000


def bucket(values: Sequence[Any]) -> int:
    """The bucket (0..9999) of one entity's key values."""
    text = json.dumps(list(values), default=str, separators=(",", ":"), sort_keys=True)
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def check_traffic(traffic: Mapping[Any, Any]) -> dict[int, float]:
    """``{version: percent}`` with positive shares summing to 100."""
    if not isinstance(traffic, Mapping) or not traffic:
        raise ValidationError(f"traffic must be a dict of model version -> percent, such as {{1: 90, 2: 10}}; got {traffic!r}.")
    checked: dict[int, float] = {}
    for version, share in traffic.items():
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise ValidationError(f"traffic keys are model versions (integers), got {version!r}.") from None
        if number < 1:
            raise ValidationError(f"Model versions start at 1, got {version!r}.")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share) or share < 0:
            raise ValidationError(f"The share of version {number} must be a percentage >= 0, got {share!r}.")
        checked[number] = checked.get(number, 0) + float(share)
    total = sum(checked.values())
    if abs(total - 100.0) > 1e-6:
        raise ValidationError(f"traffic shares must add up to 100, they add up to {total:g}: {dict(traffic)}.")
    return {v: s for v, s in sorted(checked.items()) if s > 0}


class Router:
    """Picks a version per entry from a split (or always the default version)."""

    def __init__(self, default: int, traffic: Mapping[int, float]) -> None:
        self.default = default
        self.versions = sorted(traffic) if traffic else [default]
        self._bounds: list[int] = []
        self._choices: list[int] = []
        if traffic and set(traffic) != {default}:
            running = 0.0
            for version in self.versions:
                running += traffic[version]
                self._bounds.append(round(running * BUCKETS / 100))
                self._choices.append(version)
            self._bounds[-1] = BUCKETS

    @property
    def split(self) -> bool:
        return bool(self._choices)

    def route(self, values: Sequence[Any]) -> int:
        if not self._choices:
            return self.default
        return self._choices[bisect_right(self._bounds, bucket(values))]

"""The ``Statistics`` value (what ``fg.get_statistics()`` returns) and the conventions shared by
``compute_statistics``, summaries and ``compare``: feature kinds, decoding, JSON-safe numbers.

``Statistics.exact`` says whether every field is what an exact recomputation gives (``distinct``
and, for summaries, ``quantiles`` and the string ``top`` are always sketch estimates within their
stated error); ``False`` after an update or delete touched a part that cannot be subtracted (see
:mod:`lakebox.stats.summary`), ``approximate`` names those parts per feature.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import NotFoundError, ValidationError
from lakebox.names import closest

DEFAULT_QUANTILES: tuple[float, ...] = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
TOP_VALUES = 10
ROW_COUNT_KEY = "$row_count"
CORRELATIONS_KEY = "$correlations"
# Keys of a stored statistics dict that are not features start with "$", which no feature
# name can (names match ^[a-z_][a-z0-9_]*$).
RESERVED_PREFIX = "$"
PSI_EPSILON = 1e-4
# "$exact": False when some part is stale after an update/delete; "$approximate": which parts.
EXACT_KEY = "$exact"
APPROXIMATE_KEY = "$approximate"

FEATURE_KEYS = (
    "type",
    "count",
    "null_count",
    "distinct",
    "min",
    "max",
    "mean",
    "stddev",
    "quantiles",
    "histogram",
    "nan_count",
    "inf_count",
    "top",
)


@dataclass
class Statistics:
    """Statistics of one table: its row count, one dict per feature, and numeric correlations.

    Example:
        >>> import pyarrow as pa
        >>> stats = compute_statistics(pa.table({"age": [20, 30, None]}))
        >>> stats["age"]["mean"], stats["age"]["null_count"]
        (25.0, 1)
    """

    row_count: int
    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    correlations: dict[str, dict[str, float | None]] = field(default_factory=dict)
    exact: bool = True
    """False when an update or delete touched a part that cannot be subtracted exactly."""
    approximate: dict[str, list[str]] = field(default_factory=dict)
    """``{feature: [field, ...]}`` of the parts that are stale (``"$correlations"`` never is)."""

    def __getitem__(self, feature: str) -> dict[str, Any]:
        try:
            return self.features[feature]
        except KeyError:
            hint = closest(feature, self.features)
            also = f" Did you mean {', '.join(map(repr, hint))}?" if hint else ""
            raise NotFoundError(f"No statistics for feature {feature!r}.{also}", feature=feature) from None

    def __contains__(self, feature: object) -> bool:
        return feature in self.features

    def to_dict(self) -> dict[str, Any]:
        """``{feature: {"count", "null_count", "distinct", "min", "max", "mean", "stddev", ...}}``.

        The features are the top-level keys (DESIGN §3). The row count and the correlation matrix
        sit under the reserved keys ``"$row_count"`` and ``"$correlations"`` (and ``"$exact"``,
        ``"$approximate"`` when not exact), which cannot clash
        with a feature name; skip keys starting with ``"$"`` to iterate over features only.
        """
        out: dict[str, Any] = {name: dict(values) for name, values in self.features.items()}
        out[ROW_COUNT_KEY] = self.row_count
        out[CORRELATIONS_KEY] = {a: dict(row) for a, row in self.correlations.items()}
        out[EXACT_KEY] = self.exact
        if self.approximate:
            out[APPROXIMATE_KEY] = {name: list(parts) for name, parts in self.approximate.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Statistics:
        """The inverse of :meth:`to_dict` (unknown ``"$"`` keys are ignored, for newer formats)."""
        if not isinstance(data, Mapping):
            raise ValidationError(f"Statistics must be a mapping, got {type(data).__name__}.")
        features: dict[str, dict[str, Any]] = {}
        for name, values in data.items():
            if name.startswith(RESERVED_PREFIX):
                continue
            if not isinstance(values, Mapping):
                raise ValidationError(f"Statistics of feature {name!r} must be a mapping, got {values!r}.")
            entry = {key: values.get(key) for key in FEATURE_KEYS}
            entry.update({k: v for k, v in values.items() if k not in entry})
            features[name] = entry
        correlations = {a: dict(row) for a, row in (data.get(CORRELATIONS_KEY) or {}).items()}
        approximate = {name: list(parts) for name, parts in (data.get(APPROXIMATE_KEY) or {}).items()}
        return cls(
            row_count=int(data.get(ROW_COUNT_KEY) or 0),
            features=features,
            correlations=correlations,
            exact=bool(data.get(EXACT_KEY, True)),
            approximate=approximate,
        )




# shared helpers


def _check_quantiles(quantiles: Sequence[float]) -> list[float]:
    try:
        probabilities = [float(q) for q in quantiles]
    except (TypeError, ValueError) as e:
        raise ValidationError(f"quantiles must be numbers in [0, 1], got {quantiles!r}.") from e
    bad = [q for q in probabilities if not 0.0 <= q <= 1.0]
    if bad:
        raise ValidationError(f"quantiles must lie in [0, 1]; got {bad}.")
    return probabilities


def _check_bins(bins: int) -> None:
    if not isinstance(bins, int) or isinstance(bins, bool) or bins < 1:
        raise ValidationError(f"bins must be a positive integer, got {bins!r}.")


def _value_type(dtype: pa.DataType) -> pa.DataType:
    return dtype.value_type if pa.types.is_dictionary(dtype) else dtype


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column with dictionary encoding removed and types DuckDB/numpy read directly."""
    dtype = column.type
    if pa.types.is_dictionary(dtype):
        column = column.cast(dtype.value_type)
        dtype = column.type
    if pa.types.is_float16(dtype):
        return column.cast(pa.float32())
    if pa.types.is_string_view(dtype):
        return column.cast(pa.string())
    if pa.types.is_binary_view(dtype):
        return column.cast(pa.binary())
    if pa.types.is_timestamp(dtype) and dtype.unit == "ns":
        return column.cast(pa.timestamp("us", tz=dtype.tz), safe=False)
    return column


def _kind(dtype: pa.DataType) -> str:
    t = pa.types
    if t.is_integer(dtype) or t.is_floating(dtype) or t.is_decimal(dtype):
        return "numeric"
    if t.is_boolean(dtype):
        return "boolean"
    if t.is_string(dtype) or t.is_large_string(dtype):
        return "string"
    if t.is_date(dtype) or t.is_timestamp(dtype):
        return "temporal"
    if t.is_binary(dtype) or t.is_large_binary(dtype) or t.is_fixed_size_binary(dtype):
        return "binary"
    return "nested"


def _json_float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _iso(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _as_float(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls (non-finite values stay as they are)."""
    if column.type != pa.float64():
        column = column.cast(pa.float64(), safe=False)  # beyond 2**53 integers round
    if column.null_count:
        column = pc.fill_null(column, float("nan"))
    return np.asarray(column.to_numpy(), dtype=np.float64)



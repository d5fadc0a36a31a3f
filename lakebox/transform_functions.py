"""The transformation functions themselves: the built-ins and the per-process registry of
user functions (``register_transformation_function``), looked up by name when a view's
transformations are fitted or a stored fit is loaded. ``lakebox.transformations`` fits and
applies them (its docstring documents each built-in).
"""

from __future__ import annotations

import difflib
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from lakebox.errors import AlreadyExistsError, ValidationError
from lakebox.names import NAME_PATTERN

log = logging.getLogger(__name__)

InputType = Literal["numeric", "object"]
FitFn = Callable[[np.ndarray], Mapping[str, Any]]
TransformFn = Callable[[np.ndarray, Any], Any]

FORMAT_VERSION = 1
MAX_ONE_HOT_CATEGORIES = 1000
"""More categories than this is almost always an id column; label-encode it instead."""

# Value types: what a column holds, from its Arrow type or (online) a Python value.
_NUMERIC_VALUE_TYPES = frozenset({"integer", "float", "decimal"})
_CATEGORY_VALUE_TYPES = frozenset({"string", "integer", "boolean"})
_ALL_VALUE_TYPES = frozenset({"integer", "float", "decimal", "boolean", "string", "other"})


# --------------------------------------------------------------------------------------------
# Functions


@dataclass(frozen=True)
class _Function:
    """One transformation function: how to fit it, prepare its params once, and apply it."""

    name: str
    fit: FitFn
    transform: TransformFn
    input_type: InputType
    accepts: frozenset[str]
    prepare: Callable[[dict[str, Any]], Any] = lambda params: params
    output_suffixes: Callable[[dict[str, Any]], list[str]] | None = None
    output_type: pa.DataType | None = None
    builtin: bool = False


def _finite(values: np.ndarray) -> np.ndarray:
    return values[np.isfinite(values)]


def _fit_standard(values: np.ndarray) -> dict[str, Any]:
    v = _finite(values)
    if v.size == 0:
        return {"mean": 0.0, "std": 0.0}
    if v.min() == v.max():  # exactly constant: np.mean/np.std could round to a tiny spread
        return {"mean": float(v[0]), "std": 0.0}
    with np.errstate(over="ignore"):
        mean, std = float(v.mean()), float(v.std())
    if not (math.isfinite(mean) and math.isfinite(std)):  # huge values overflow the sums: rescale
        top = float(np.abs(v).max())
        mean, std = top * float((v / top).mean()), top * float((v / top).std())
    return {"mean": mean, "std": std}


def _fit_min_max(values: np.ndarray) -> dict[str, Any]:
    v = _finite(values)
    if v.size == 0:
        return {"min": 0.0, "max": 0.0}
    return {"min": float(v.min()), "max": float(v.max())}


def _fit_robust(values: np.ndarray) -> dict[str, Any]:
    v = _finite(values)
    if v.size == 0:
        return {"median": 0.0, "q25": 0.0, "q75": 0.0}
    q25, median, q75 = np.percentile(v, [25.0, 50.0, 75.0])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def _spread(value: float) -> float:
    return value if value > 0.0 and math.isfinite(value) else 1.0


def _scale(values: np.ndarray, state: tuple[float, float] | tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """(values - center) / scale; one feature's floats, or a row of features' arrays (online)."""
    center, scale = state
    return (values - center) / scale


def _fit_categories(values: np.ndarray) -> dict[str, Any]:
    return {"categories": sorted({v for v in values if v is not None})}


def _category_codes(values: np.ndarray, codes: dict[Any, int]) -> np.ndarray:
    get = codes.get
    return np.fromiter((get(v, -1) for v in values), dtype=np.int64, count=len(values))


def _prepare_codes(params: dict[str, Any]) -> dict[Any, int]:
    return {category: code for code, category in enumerate(params["categories"])}


def _one_hot_suffixes(categories: Sequence[Any]) -> list[str]:
    suffixes: list[str] = []
    seen: set[str] = set()
    for category in categories:
        base = re.sub(r"[^a-z0-9_]", "_", str(category).lower()) or "_"
        suffix, n = base, 1
        while suffix in seen:
            n += 1
            suffix = f"{base}_{n}"
        seen.add(suffix)
        suffixes.append(suffix)
    return suffixes


def _fit_one_hot(values: np.ndarray) -> dict[str, Any]:
    categories = _fit_categories(values)["categories"]
    if len(categories) > MAX_ONE_HOT_CATEGORIES:
        raise ValidationError(
            f"one_hot_encoder would create {len(categories)} columns (more than "
            f"{MAX_ONE_HOT_CATEGORIES}); use label_encoder for a feature with this many categories."
        )
    return {"categories": categories, "suffixes": _one_hot_suffixes(categories)}


def _prepare_one_hot(params: dict[str, Any]) -> tuple[dict[Any, int], np.ndarray]:
    width = len(params["categories"])
    # Row i is the one-hot vector of code i; the extra last row of zeros is what code -1 picks.
    rows = np.vstack([np.eye(width, dtype=np.int8), np.zeros((1, width), dtype=np.int8)])
    return _prepare_codes(params), rows


def _one_hot(values: np.ndarray, state: tuple[dict[Any, int], np.ndarray]) -> np.ndarray:
    codes_of, rows = state
    return rows.take(_category_codes(values, codes_of), axis=0)


BUILTIN_FUNCTIONS: dict[str, _Function] = {
    f.name: f
    for f in (
        _Function(
            "standard_scaler", _fit_standard, _scale, "numeric", _NUMERIC_VALUE_TYPES,
            prepare=lambda p: (p["mean"], _spread(p["std"])), output_type=pa.float64(), builtin=True,
        ),
        _Function(
            "min_max_scaler", _fit_min_max, _scale, "numeric", _NUMERIC_VALUE_TYPES,
            prepare=lambda p: (p["min"], _spread(p["max"] - p["min"])), output_type=pa.float64(),
            builtin=True,
        ),
        _Function(
            "robust_scaler", _fit_robust, _scale, "numeric", _NUMERIC_VALUE_TYPES,
            prepare=lambda p: (p["median"], _spread(p["q75"] - p["q25"])), output_type=pa.float64(),
            builtin=True,
        ),
        _Function(
            "label_encoder", _fit_categories, _category_codes, "object", _CATEGORY_VALUE_TYPES,
            prepare=_prepare_codes, output_type=pa.int64(), builtin=True,
        ),
        _Function(
            "one_hot_encoder", _fit_one_hot, _one_hot, "object", _CATEGORY_VALUE_TYPES,
            prepare=_prepare_one_hot, output_suffixes=lambda p: list(p["suffixes"]),
            output_type=pa.int8(), builtin=True,
        ),
    )
}

_registry: dict[str, _Function] = dict(BUILTIN_FUNCTIONS)


def register_transformation_function(
    name: str,
    fit: FitFn,
    transform: TransformFn,
    *,
    input_type: InputType = "numeric",
    replace: bool = False,
    output_type: pa.DataType | None = None,
) -> None:
    """Register a transformation function under ``name`` for this process.

    ``fit(values) -> params`` sees the training split's column (NaN / ``None`` included) and returns a
    JSON-serialisable dict; ``transform(values, params) -> values`` returns one value per input value
    (a 1-D array or sequence of the same length). ``values`` is a float64 array with NaN for missing
    (``input_type="numeric"``) or an object array with ``None`` for null (``"object"``). A function
    must be registered again (same name) in any process that loads a dataset fitted with it.
    ``output_type`` fixes the Arrow type of the output column (default: inferred).

    >>> import numpy as np
    >>> register_transformation_function(
    ...     "log1p", fit=lambda v: {}, transform=lambda v, p: np.log1p(v), replace=True)
    """
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValidationError(
            f"Transformation function name {name!r} is not a plain identifier: use lower-case "
            "letters, digits and underscores (for example 'log_scaler')."
        )
    if name in BUILTIN_FUNCTIONS:
        raise AlreadyExistsError(
            f"{name!r} is a built-in transformation function and cannot be replaced; "
            "register yours under another name."
        )
    if name in _registry and not replace:
        raise AlreadyExistsError(
            f"A transformation function named {name!r} is already registered; pass replace=True "
            "to replace it."
        )
    if not callable(fit) or not callable(transform):
        raise ValidationError(
            f"register_transformation_function({name!r}, fit, transform) needs two callables: "
            "fit(values) -> params dict and transform(values, params) -> values."
        )
    if input_type not in ("numeric", "object"):
        raise ValidationError(f"input_type must be 'numeric' or 'object', got {input_type!r}.")
    accepts = _NUMERIC_VALUE_TYPES if input_type == "numeric" else _ALL_VALUE_TYPES
    _registry[name] = _Function(name, fit, transform, input_type, accepts, output_type=output_type)
    log.debug("registered transformation function %s", name)


def unregister_transformation_function(name: str) -> None:
    """Forget a user-registered transformation function (built-ins cannot be removed)."""
    if name in BUILTIN_FUNCTIONS:
        raise ValidationError(f"{name!r} is a built-in transformation function and cannot be removed.")
    if _registry.pop(name, None) is None:
        raise ValidationError(f"No user transformation function named {name!r} is registered.")


def list_transformation_functions() -> list[str]:
    """The names of every registered transformation function, built-ins first."""
    return [*BUILTIN_FUNCTIONS, *sorted(n for n in _registry if n not in BUILTIN_FUNCTIONS)]


def _lookup(name: object, feature: str) -> _Function:
    function = _registry.get(name) if isinstance(name, str) else None
    if function is None:
        known = list_transformation_functions()
        close = difflib.get_close_matches(str(name), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValidationError(
            f"Unknown transformation function {name!r} for feature {feature!r}.{hint} Known "
            f"functions: {known}. Register your own with "
            "lakebox.register_transformation_function(name, fit, transform) (in every process "
            "that uses it).",
            feature=feature,
            function=name,
        )
    return function



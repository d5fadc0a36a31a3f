"""Transformation functions: fitted on the training split once, applied the same way offline and online.

A feature view names a function per feature (``{"age": "standard_scaler"}``). ``fit_transformations``
fits them on the training split; the result (``FittedTransformations``) is stored as JSON with the
training dataset version, and both ``transform_table`` (offline, vectorised) and ``transform_row``
(online, one entity) run *the same* per-function code over numpy arrays — a row is a length-1
array — so training and serving cannot drift apart.

Values as the functions see them:

- numeric functions (the scalers, and user functions registered with ``input_type="numeric"``) get a
  float64 array; null and NaN are both *missing* and arrive as NaN.
- object functions (the encoders, and ``input_type="object"``) get an object array of Python values
  (``str``, ``int``, ``bool``, ...); null arrives as ``None``.

Built-ins (all ignore missing values when fitting):

===================  =========================================  ====================================
function             output                                     missing / unseen at transform time
===================  =========================================  ====================================
``standard_scaler``  ``(x - mean) / std`` (population std)      missing stays missing (null)
``min_max_scaler``   ``(x - min) / (max - min)``                missing stays missing (null)
``robust_scaler``    ``(x - median) / (q75 - q25)`` (linear)    missing stays missing (null)
``label_encoder``    int64 code: index in the sorted categories null and unseen -> ``-1``
``one_hot_encoder``  one int8 column per category, named        null and unseen -> all zeros
                     ``{feature}_{category}``
===================  =========================================  ====================================

A zero spread (a constant column, a single value, or no values at all) scales by 1 instead of
dividing by zero; an empty column fits ``mean = min = median = 0``, so the scalers leave values as
they are. Infinite values are ignored when fitting and stay infinite. One-hot column names lower-case
the category and replace anything outside ``[a-z0-9_]`` with ``_``; categories that collide after
that get ``_2``, ``_3``... in sorted order. The names are stored with the fitted parameters, so a
stored training dataset keeps its column names.

>>> import pyarrow as pa
>>> fitted = fit_transformations({"age": "min_max_scaler"}, pa.table({"age": [20, 30, 40]}))
>>> fitted.transform_row({"age": 35, "id": 7})
{'age': 0.75, 'id': 7}
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakebox.errors import SchemaMismatchError, ValidationError
from lakebox.transform_functions import (  # noqa: F401 - re-exported: the public names live here too
    _ALL_VALUE_TYPES,
    _NUMERIC_VALUE_TYPES,
    BUILTIN_FUNCTIONS,
    FORMAT_VERSION,
    MAX_ONE_HOT_CATEGORIES,
    _Function,
    _lookup,
    _scale,
    list_transformation_functions,
    register_transformation_function,
    unregister_transformation_function,
)

__all__ = [
    "BUILTIN_FUNCTIONS",
    "FittedTransformations",
    "fit_transformations",
    "list_transformation_functions",
    "register_transformation_function",
    "unregister_transformation_function",
]

# --------------------------------------------------------------------------------------------
# Values in and out


def _value_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_dictionary(arrow_type):
        return _value_type(arrow_type.value_type)
    if pa.types.is_integer(arrow_type):
        return "integer"
    if pa.types.is_floating(arrow_type):
        return "float"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type) or (
        hasattr(pa.types, "is_string_view") and pa.types.is_string_view(arrow_type)
    ):
        return "string"
    return "other"


_NUMBER_TYPES: frozenset[type] = frozenset(
    {int, float, Decimal, np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8,
     np.uint64, np.uint32, np.uint16, np.uint8}
)


def _row_value_type(value: object) -> str:
    t = type(value)
    if t is str or isinstance(value, str):
        return "string"
    if t is bool or t is np.bool_:
        return "boolean"
    if t is int or isinstance(value, np.integer):
        return "integer"
    if t is float or isinstance(value, np.floating):
        return "float"
    if t is Decimal:
        return "decimal"
    return "other"


def _column_values(function: _Function, column: pa.ChunkedArray) -> np.ndarray:
    """A table column as the array ``function`` expects (see the module docstring)."""
    if pa.types.is_dictionary(column.type):
        column = pc.cast(column, column.type.value_type)
    if function.input_type == "numeric":
        values = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return values if values.flags.writeable else values.copy()
    kind = _value_type(column.type)
    if kind in ("integer", "boolean"):
        values = pc.fill_null(column, False if kind == "boolean" else 0)
        out = values.to_numpy(zero_copy_only=False).astype(object)
        if column.null_count:
            out[pc.is_null(column).to_numpy(zero_copy_only=False)] = None
        return out
    if kind == "string":
        return column.to_numpy(zero_copy_only=False).astype(object, copy=False)
    return np.fromiter(column.to_pylist(), dtype=object, count=len(column))


def _table_column(function: _Function, result: np.ndarray) -> pa.Array:
    return pa.array(result, type=function.output_type, from_pandas=True)


def _python(value: Any) -> Any:
    """One output value as the Python value Arrow's ``to_pylist`` gives for it (NaN -> None)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (type(value) is float and value != value):
        return None
    return value


# --------------------------------------------------------------------------------------------
# Fitted transformations


class _Step:
    """One feature's fitted function, ready to apply: params are prepared once, here."""

    __slots__ = ("feature", "function", "params", "value_type", "state", "outputs", "numeric")

    def __init__(self, feature: str, function: _Function, params: dict[str, Any], value_type: str):
        self.feature = feature
        self.function = function
        self.params = params
        self.value_type = value_type
        self.numeric = function.input_type == "numeric"
        try:
            self.state = function.prepare(params)
            suffixes = function.output_suffixes(params) if function.output_suffixes else None
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(
                f"The stored parameters of {function.name} for feature {feature!r} are malformed "
                f"({type(e).__name__}: {e}); refit the transformations.",
                feature=feature,
            ) from e
        self.outputs = [f"{feature}_{s}" for s in suffixes] if suffixes is not None else None

    def run(self, values: np.ndarray) -> np.ndarray:
        """The one code path: both the table and the row go through here."""
        result = self.function.transform(values, self.state)
        if not isinstance(result, np.ndarray):
            result = np.asarray(result)
        expected = (len(values),) if self.outputs is None else (len(values), len(self.outputs))
        if result.shape != expected:
            raise ValidationError(
                f"Transformation function {self.function.name!r} returned shape {result.shape} "
                f"for feature {self.feature!r}; it must return one value per input value "
                f"(shape {expected}).",
                feature=self.feature,
            )
        return result

    def check_column(self, column_type: pa.DataType) -> None:
        kind = _value_type(column_type)
        if kind not in self.function.accepts or (
            not self.numeric and self.function.builtin and kind != self.value_type
        ):
            raise _type_error(self.function, self.feature, str(column_type), kind, self.value_type)

    def number(self, value: object) -> float:
        """One online value as the float64 a numeric function sees (None -> NaN)."""
        if value is None:
            return math.nan
        if type(value) in _NUMBER_TYPES or isinstance(value, (np.integer, np.floating)):
            return float(value)  # type: ignore[arg-type]
        raise _row_type_error(self, value)

    def row(self, value: object) -> Any:
        if self.numeric:
            values = np.array((self.number(value),), dtype=np.float64)
        else:
            if value is not None and self.function.builtin and _row_value_type(value) != self.value_type:
                raise _row_type_error(self, value)
            values = np.empty(1, dtype=object)
            values[0] = value  # type: ignore[call-overload]  # numpy's stubs: an object array holds any object
        result = self.run(values).tolist()[0]
        if self.outputs is None:
            return _python(result)
        return [_python(v) for v in result]


def _type_error(function: _Function, feature: str, arrow_type: str, kind: str, fitted: str) -> ValidationError:
    if function.input_type == "numeric":
        hint = (
            "use label_encoder or one_hot_encoder for categories, or cast the column to a number"
            if function.builtin
            else "register the function with input_type='object' to accept any type"
        )
        return SchemaMismatchError(
            f"{function.name} needs a numeric column, but {feature!r} is {arrow_type}; {hint}.",
            feature=feature,
            function=function.name,
        )
    if kind not in function.accepts:
        return SchemaMismatchError(
            f"{function.name} encodes string, integer or boolean categories, but {feature!r} is "
            f"{arrow_type}; cast it to string or integer first.",
            feature=feature,
            function=function.name,
        )
    return SchemaMismatchError(
        f"{function.name} for {feature!r} was fitted on {fitted} categories, but the column is now "
        f"{arrow_type}; give it the type it was trained with or refit the transformations.",
        feature=feature,
        function=function.name,
    )


def _row_type_error(step: _Step, value: object) -> ValidationError:
    wanted = "a number" if step.numeric else f"a {step.value_type} category"
    return SchemaMismatchError(
        f"{step.function.name} for feature {step.feature!r} needs {wanted} (or None), got "
        f"{type(value).__name__} {value!r}.",
        feature=step.feature,
        function=step.function.name,
    )


def _missing_column(feature: str, columns: Sequence[str], where: str) -> ValidationError:
    close = difflib.get_close_matches(feature, list(columns), n=3)
    hint = f" Did you mean {close}?" if close else ""
    return SchemaMismatchError(
        f"The transformation for feature {feature!r} needs a column {feature!r}, but the {where} "
        f"has none.{hint} Its columns: {list(columns)}.",
        feature=feature,
    )


class FittedTransformations:
    """Transformation functions with their fitted parameters, per feature.

    Attributes:
        spec: ``{feature: function_name}``, in the order given at fit time.
        params: ``{feature: params dict}`` as fitted (JSON-serialisable).
        value_types: ``{feature: "integer" | "float" | "decimal" | "boolean" | "string" | "other"}``,
            the column type the function was fitted on.
    """

    def __init__(
        self,
        spec: Mapping[str, str],
        params: Mapping[str, Mapping[str, Any]],
        value_types: Mapping[str, str],
    ) -> None:
        self.spec: dict[str, str] = dict(spec)
        self.params: dict[str, dict[str, Any]] = {f: dict(params[f]) for f in self.spec}
        self.value_types: dict[str, str] = {f: value_types[f] for f in self.spec}
        self._steps = [
            _Step(f, _lookup(name, f), self.params[f], self.value_types[f]) for f, name in self.spec.items()
        ]
        self._by_feature = {step.feature: step for step in self._steps}
        self._expanded = {s.feature: s.outputs for s in self._steps if s.outputs is not None}
        # Online, the built-in scalers of one row run as ONE call of the same ``_scale`` over an
        # array of features instead of rows: it is elementwise IEEE arithmetic, so each value is
        # bit-for-bit what the table path computes, at a fraction of the per-call numpy overhead.
        self._scaled = [s for s in self._steps if s.function.builtin and s.function.transform is _scale]
        self._scaled_state = (
            np.array([s.state[0] for s in self._scaled], dtype=np.float64),
            np.array([s.state[1] for s in self._scaled], dtype=np.float64),
        )
        self._others = [s for s in self._steps if s not in self._scaled]

    # -- storage ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, stored with a training dataset version."""
        return {
            "format_version": FORMAT_VERSION,
            "features": [
                {"feature": f, "function": name, "value_type": self.value_types[f], "params": self.params[f]}
                for f, name in self.spec.items()
            ],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FittedTransformations:
        """The inverse of ``to_dict`` (user functions must be registered in this process first)."""
        try:
            if d["format_version"] != FORMAT_VERSION:
                raise ValidationError(
                    f"Stored transformations have format version {d['format_version']!r}; this "
                    f"lakebox reads version {FORMAT_VERSION}. Upgrade lakebox or refit them."
                )
            entries = list(d["features"])
            spec = {e["feature"]: e["function"] for e in entries}
            params = {e["feature"]: e["params"] for e in entries}
            value_types = {e["feature"]: e["value_type"] for e in entries}
        except (KeyError, TypeError) as e:
            raise ValidationError(
                f"Not a stored set of transformations (missing or malformed {e}); expected the "
                "dict that FittedTransformations.to_dict() returns."
            ) from e
        return cls(spec, params, value_types)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FittedTransformations):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"FittedTransformations({self.spec!r})"

    # -- applying --------------------------------------------------------------------------

    def output_columns(self, columns: Sequence[str]) -> list[str]:
        """Column names after the transformations: one-hot columns replace theirs, order kept.

        Names without a transformation pass through; features not in ``columns`` are ignored.
        """
        out: list[str] = []
        for name in columns:
            expanded = self._expanded.get(name)
            if expanded is None:
                out.append(name)
            else:
                out.extend(expanded)
        return out

    def transform_table(self, table: pa.Table) -> pa.Table:
        """Apply every transformation to a table (offline), vectorised; other columns pass through."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        columns = table.column_names
        for s in self._steps:
            if s.feature not in columns:
                raise _missing_column(s.feature, columns, "table")
        names = self.output_columns(columns)
        _check_unique(names)
        arrays: list[pa.Array | pa.ChunkedArray] = []
        for name, column in zip(columns, table.columns):
            step = self._by_feature.get(name)
            if step is None:
                arrays.append(column)
                continue
            step.check_column(column.type)
            result = step.run(_column_values(step.function, column))
            if step.outputs is None:
                arrays.append(_table_column(step.function, result))
            else:
                arrays.extend(_table_column(step.function, result[:, j]) for j in range(len(step.outputs)))
        return pa.Table.from_arrays(arrays, names=names)

    def transform_row(self, row: Mapping[str, object]) -> dict[str, object]:
        """Apply every transformation to one entity's values (online serving); other keys pass through."""
        values: dict[str, Any] = {}
        try:
            if self._scaled:
                numbers = np.array([s.number(row[s.feature]) for s in self._scaled], dtype=np.float64)
                for s, x in zip(self._scaled, _scale(numbers, self._scaled_state).tolist()):
                    values[s.feature] = None if x != x else x
            for step in self._others:
                values[step.feature] = step.row(row[step.feature])
        except KeyError:
            missing = [s.feature for s in self._steps if s.feature not in row]
            if not missing:
                raise  # from a user's transform function, not from the row
            raise _missing_column(missing[0], list(row), "row") from None
        if not self._expanded:
            out = dict(row)
            out.update(values)
            return out
        out = {}
        for name, value in row.items():
            expanded = self._expanded.get(name)
            if expanded is None:
                out[name] = values[name] if name in values else value
            else:
                out.update(zip(expanded, values[name]))
        return out


def _check_unique(names: Sequence[str]) -> None:
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise SchemaMismatchError(
            f"One-hot encoding would create columns that already exist: {dupes}; rename the "
            "feature or the clashing column.",
            columns=dupes,
        )


def _jsonable(value: Any, function: str, feature: str) -> Any:
    if isinstance(value, np.ndarray):
        value = value.tolist()
    elif isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v, function, feature) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, function, feature) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(
                f"Fitting {function} on feature {feature!r} gave a non-finite parameter ({value}); "
                "check the column for extreme values.",
                feature=feature,
            )
        return value
    raise ValidationError(
        f"Fitting {function} on feature {feature!r} returned a parameter of type "
        f"{type(value).__name__}, which cannot be stored as JSON; return numbers, strings, lists "
        "and dicts only.",
        feature=feature,
    )


def fit_transformations(spec: Mapping[str, str], table: pa.Table) -> FittedTransformations:
    """Fit ``{feature: function_name}`` on ``table`` (the training split only).

    >>> import pyarrow as pa
    >>> fitted = fit_transformations({"team": "label_encoder"}, pa.table({"team": ["b", "a", None]}))
    >>> fitted.params
    {'team': {'categories': ['a', 'b']}}
    """
    if not isinstance(spec, Mapping) or not all(isinstance(k, str) for k in spec):
        raise ValidationError(
            "Transformation functions must be a dict {feature_name: function_name}, for example "
            "{'age': 'standard_scaler'}."
        )
    if isinstance(table, pa.RecordBatch):
        table = pa.Table.from_batches([table])
    if not isinstance(table, pa.Table):
        raise ValidationError(f"fit_transformations needs a pyarrow Table, got {type(table).__name__}.")
    columns = table.column_names
    functions = {feature: _lookup(name, feature) for feature, name in spec.items()}
    params: dict[str, dict[str, Any]] = {}
    value_types: dict[str, str] = {}
    for feature, function in functions.items():
        if feature not in columns:
            raise _missing_column(feature, columns, "table")
        column = table.column(feature)
        kind = _value_type(column.type)
        if kind not in function.accepts:
            raise _type_error(function, feature, str(column.type), kind, kind)
        fitted = function.fit(_column_values(function, column))
        if not isinstance(fitted, Mapping):
            raise ValidationError(
                f"The fit function of {function.name!r} returned {type(fitted).__name__} for "
                f"feature {feature!r}; it must return a dict of parameters.",
                feature=feature,
            )
        params[feature] = _jsonable(fitted, function.name, feature)
        json.dumps(params[feature], allow_nan=False)  # _jsonable guarantees it; cheap insurance
        value_types[feature] = kind
    fitted_all = FittedTransformations(dict(spec), params, value_types)
    _check_unique(fitted_all.output_columns(columns))
    return fitted_all

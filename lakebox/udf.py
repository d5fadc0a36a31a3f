"""hsfs' transformation functions on lakebox: ``@udf(return_type, drop=..., mode=...)`` and
``TransformationStatistics``, as Hopsworks code writes them.

A ``@udf`` function of one feature becomes a lakebox transformation function of the same name
(``lakebox.transformations``): fitting computes the training split's statistics of that
feature, and applying calls the function with a pandas Series (``mode="python"``: one value
at a time) and ``statistics=`` holding them — offline on the whole column, online on a
one-row Series, by the same code. Built-ins (``lakebox.builtin_transformations``) are the
lakebox functions of the same names.

>>> from lakebox.udf import udf, TransformationStatistics
>>> @udf(float)
... def centered(amount, statistics=TransformationStatistics("amount")):
...     return amount - statistics.amount.mean

Differences from hsfs (docs/hopsworks.md): the output keeps the input feature's name and
position (hsfs names it ``{function}_{feature}_`` and appends it), so ``drop`` changes nothing;
a function transforms one feature (several inputs are refused); like any lakebox
transformation function, a ``@udf`` must be defined (imported) in every process that uses it.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from lakebox.errors import ValidationError
from lakebox.transform_functions import BUILTIN_FUNCTIONS, MAX_ONE_HOT_CATEGORIES, register_transformation_function

__all__ = ["HopsworksUdf", "TransformationStatistics", "transformation_spec", "udf"]

_UDFS: dict[str, HopsworksUdf] = {}  # the @udf functions defined in this process, by name

_OUTPUT_TYPES: dict[Any, pa.DataType] = {
    float: pa.float64(), "float": pa.float64(), "double": pa.float64(),
    int: pa.int64(), "int": pa.int64(), "bigint": pa.int64(),
    str: pa.string(), "str": pa.string(), "string": pa.string(),
    bool: pa.bool_(), "bool": pa.bool_(), "boolean": pa.bool_(),
}


class TransformationStatistics:
    """Declares the features whose training statistics a ``@udf`` receives (hsfs' class):
    ``def f(x, statistics=TransformationStatistics("x"))`` -> ``statistics.x.mean``."""

    def __init__(self, *features: str) -> None:
        self._features = list(features)

    @property
    def features(self) -> list[str]:
        return list(self._features)


class FeatureTransformationStatistics:
    """The training split's statistics of one feature, under hsfs' attribute names."""

    def __init__(self, feature_name: str, values: Mapping[str, Any]) -> None:
        self.feature_name = feature_name
        self.count: int = values.get("count", 0)
        self.num_null_values: int = values.get("num_null_values", 0)
        self.completeness: float | None = values.get("completeness")
        self.min: float | None = values.get("min")
        self.max: float | None = values.get("max")
        self.mean: float | None = values.get("mean")
        self.std_dev: float | None = values.get("std_dev")
        self.sum: float | None = values.get("sum")
        self.percentiles: list[float] = list(values.get("percentiles") or [])
        self.unique_values: list[Any] = list(values.get("unique_values") or [])
        self.exact_num_distinct_values: int | None = values.get("distinct")
        self.approx_num_distinct_values = self.exact_num_distinct_values

    def __repr__(self) -> str:
        return f"FeatureTransformationStatistics({self.feature_name!r}, mean={self.mean}, std_dev={self.std_dev})"


class _Statistics:
    """``statistics`` as a function receives it: one attribute per declared feature."""

    def __init__(self, features: Mapping[str, FeatureTransformationStatistics]) -> None:
        self.__dict__.update(features)


def _statistics_of(values: np.ndarray) -> dict[str, Any]:
    """The statistics of one training column (JSON-able; NaN/inf left out)."""
    import pandas as pd

    series = pd.Series(values.tolist())
    present = series.dropna()
    out: dict[str, Any] = {
        "count": int(len(present)),
        "num_null_values": int(len(series) - len(present)),
        "completeness": float(len(present) / len(series)) if len(series) else None,
    }
    numeric = pd.api.types.is_numeric_dtype(present) and not pd.api.types.is_bool_dtype(present)
    if numeric and len(present):
        array = present.to_numpy(dtype=np.float64)
        array = array[np.isfinite(array)]
        if array.size:
            out.update(
                min=float(array.min()), max=float(array.max()), mean=float(array.mean()),
                std_dev=float(array.std()), sum=float(array.sum()),
                percentiles=[float(p) for p in np.percentile(array, np.arange(100))],
            )
    distinct = sorted({v for v in present.tolist() if isinstance(v, (str, int, float, bool))}, key=_sort_key)
    out["distinct"] = len(distinct)
    if len(distinct) <= MAX_ONE_HOT_CATEGORIES:
        out["unique_values"] = [v for v in distinct if not (isinstance(v, float) and not math.isfinite(v))]
    return out


def _sort_key(value: Any) -> tuple[str, Any]:
    return (type(value).__name__, value)


class HopsworksUdf:
    """A transformation function as hsfs' ``@udf`` returns it; call it with feature names to
    attach it to those features: ``transformation_functions=[scale("amount")]``."""

    def __init__(
        self,
        func: Callable[..., Any] | None,
        return_types: Any,
        name: str,
        drop: str | Sequence[str] | None = None,
        mode: str = "default",
        features: Sequence[str] | None = None,
    ) -> None:
        if mode not in ("default", "python", "pandas"):
            raise ValidationError(f"@udf mode must be 'default', 'python' or 'pandas', got {mode!r}.")
        self.func = func
        self.return_types = list(return_types) if isinstance(return_types, (list, tuple)) else [return_types]
        self.function_name = name
        self.execution_mode = mode
        self.dropped_features = [drop] if isinstance(drop, str) else list(drop or [])
        self._arguments, self._statistics = _signature(func) if func is not None else (["feature"], {})
        self.transformation_features = list(features) if features is not None else list(self._arguments)
        if len(self.transformation_features) != len(self._arguments):
            raise ValidationError(
                f"Transformation function {name} takes {len(self._arguments)} feature(s) {self._arguments}, "
                f"got {list(self.transformation_features)}."
            )

    # -- hsfs' attributes -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.function_name

    @property
    def output_column_names(self) -> list[str]:
        """lakebox transforms in place: the output columns keep the features' names."""
        return list(self.transformation_features)

    @property
    def statistics_required(self) -> bool:
        return bool(self._statistics)

    def __call__(self, *features: str) -> HopsworksUdf:
        """This function attached to ``features`` (hsfs: ``scaler("amount")``)."""
        bound = HopsworksUdf.__new__(HopsworksUdf)
        bound.__dict__.update(self.__dict__)
        bound.transformation_features = [str(f) for f in features]
        if len(features) != len(self._arguments):
            raise ValidationError(
                f"Transformation function {self.function_name} takes {len(self._arguments)} feature(s), got {list(features)}."
            )
        return bound

    def alias(self, *names: str) -> HopsworksUdf:
        from lakebox.hsfs_compat import unsupported

        raise unsupported(f"{self.function_name}.alias(...)", "transformed features keep their names in lakebox")

    def save(self) -> None:
        """hsfs persists the function in the backend; lakebox registered it when it was defined."""

    def spec(self) -> dict[str, str]:
        """``{feature: function name}``, the lakebox form a feature view stores."""
        if len(self.transformation_features) != 1:
            from lakebox.hsfs_compat import unsupported

            raise unsupported(
                f"transformation function {self.function_name} of {len(self.transformation_features)} features",
                "write one function per feature (lakebox transforms each feature in place)",
            )
        return {self.transformation_features[0]: self.function_name}

    def __repr__(self) -> str:
        return f"HopsworksUdf({self.function_name!r}, features={self.transformation_features})"


def _signature(func: Callable[..., Any]) -> tuple[list[str], dict[str, TransformationStatistics]]:
    arguments: list[str] = []
    statistics: dict[str, TransformationStatistics] = {}
    for parameter in inspect.signature(func).parameters.values():
        if isinstance(parameter.default, TransformationStatistics):
            statistics[parameter.name] = parameter.default
        elif parameter.name != "context":
            arguments.append(parameter.name)
    return arguments, statistics


def udf(return_type: Any, drop: str | Sequence[str] | None = None, mode: str = "default") -> Callable[[Callable[..., Any]], HopsworksUdf]:
    """hsfs' decorator: a transformation function returning ``return_type`` (``float``, ``int``,
    ``str``, ``bool``), registered under the function's name for this process.

    ``mode="python"`` calls it once per value; otherwise with a pandas Series.
    """

    def wrap(func: Callable[..., Any]) -> HopsworksUdf:
        made = HopsworksUdf(func, return_type, func.__name__, drop=drop, mode=mode)
        if len(made._arguments) == 1:
            _register(made)
        _UDFS[made.function_name] = made
        return made

    return wrap


def _register(made: HopsworksUdf) -> None:
    func = made.func
    assert func is not None
    argument = made._arguments[0]
    statistics_args = made._statistics
    output_type = _OUTPUT_TYPES.get(made.return_types[0]) if len(made.return_types) == 1 else None
    python_mode = made.execution_mode == "python"

    def fit(values: np.ndarray) -> dict[str, Any]:
        return {"statistics": _statistics_of(values)} if statistics_args else {}

    def transform(values: np.ndarray, params: Any) -> np.ndarray:
        import pandas as pd

        kwargs = {}
        for parameter, declared in statistics_args.items():
            stats = FeatureTransformationStatistics(argument, params.get("statistics", {}))
            kwargs[parameter] = _Statistics({name: stats for name in declared.features or [argument]})
        if python_mode:
            result: Any = [None if _missing(v) else func(v, **kwargs) for v in values.tolist()]
        else:
            result = func(pd.Series(values.tolist()), **kwargs)
        if hasattr(result, "to_numpy"):
            result = result.astype(object).where(result.notna(), None).to_numpy() if output_type != pa.float64() else (
                result.to_numpy(dtype=np.float64, na_value=np.nan))
        array = np.asarray(result, dtype=np.float64 if output_type == pa.float64() else object)
        return array

    register_transformation_function(made.function_name, fit, transform, input_type="object", replace=True,
                                     output_type=output_type)


def registered(name: str) -> HopsworksUdf:
    """The ``@udf`` function ``name``, or a plain handle on a function registered with
    ``register_transformation_function``."""
    return _UDFS.get(name) or HopsworksUdf(None, None, name)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def builtin(name: str, return_type: Any) -> HopsworksUdf:
    """The hsfs built-in ``name`` as a ``HopsworksUdf`` over lakebox's built-in of that name."""
    assert name in BUILTIN_FUNCTIONS
    return HopsworksUdf(None, return_type, name, drop=["feature"])


def transformation_spec(value: Any) -> dict[str, str]:
    """hsfs' ``transformation_functions=`` (a list of ``fn("feature")``, or a dict of feature ->
    function name / ``HopsworksUdf``) as lakebox's ``{feature: function name}``."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for feature, function in value.items():
            out[str(feature)] = function.function_name if isinstance(function, HopsworksUdf) else function
        return out
    if isinstance(value, HopsworksUdf):
        value = [value]
    if isinstance(value, (list, tuple)):
        out = {}
        for item in value:
            if isinstance(item, str):
                raise ValidationError(
                    f"transformation_functions=[...] takes functions attached to features, e.g. "
                    f"min_max_scaler('amount'); got the string {item!r} (use a dict {{feature: {item!r}}})."
                )
            if not isinstance(item, HopsworksUdf):
                raise ValidationError(f"transformation_functions=[...] takes @udf functions, got {item!r}.")
            for feature, name in item.spec().items():
                if feature in out:
                    raise ValidationError(f"Feature {feature!r} has two transformation functions; give it one.")
                out[feature] = name
        return out
    raise ValidationError(
        f"transformation_functions must be a list such as [min_max_scaler('amount')] or a dict, got {type(value).__name__}."
    )


# -- on-demand transformations on a feature group (hsfs: create_feature_group(transformation_functions=)) --
def on_demand_spec(value: Any) -> list[dict[str, Any]]:
    """hsfs' on-demand ``transformation_functions=[fn("a", "b"), ...]`` of a feature group as
    stored settings: ``[{"function", "features", "output"}]`` (the output column is named after
    the function, as hsfs names a one-output on-demand feature)."""
    items = [value] if isinstance(value, HopsworksUdf) else list(value or [])
    out = []
    for item in items:
        if not isinstance(item, HopsworksUdf) or item.func is None:
            raise ValidationError(f"A feature group's transformation_functions take @udf functions, got {item!r}.")
        if len(item.return_types) != 1:
            from lakebox.hsfs_compat import unsupported

            raise unsupported(f"on-demand function {item.function_name} with several outputs", "return one feature")
        out.append({"function": item.function_name, "features": list(item.transformation_features),
                    "output": item.function_name})
    return out


def apply_on_demand(table: pa.Table, spec: Sequence[Mapping[str, Any]]) -> pa.Table:
    """``table`` with the on-demand features of ``spec`` computed from their input columns (at
    insert time, by the @udf functions defined in this process)."""
    import pandas as pd

    for item in spec:
        made = _UDFS.get(item["function"])
        if made is None or made.func is None:
            raise ValidationError(
                f"The feature group computes {item['output']!r} with the @udf function {item['function']!r}, which "
                "is not defined in this process: import the module that defines it before inserting."
            )
        missing = [f for f in item["features"] if f not in table.column_names]
        if missing:
            raise ValidationError(f"On-demand feature {item['output']!r} needs the column(s) {missing} in the insert.")
        if item["output"] in table.column_names:
            continue  # computed by the caller already
        inputs = [pd.Series(table.column(f).to_pylist()) for f in item["features"]]
        if made.execution_mode == "python":
            result: Any = [made.func(*row) for row in zip(*(s.tolist() for s in inputs), strict=True)]
        else:
            result = made.func(*inputs)
        values = result.tolist() if hasattr(result, "tolist") else list(result)
        output_type = _OUTPUT_TYPES.get(made.return_types[0])
        table = table.append_column(item["output"], pa.array(values, type=output_type, from_pandas=True))
    return table

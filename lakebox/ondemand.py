"""On-demand features (issue 14): features computed when they are asked for, from the view's
other features and from request parameters, by ONE Python function used in training and serving.

>>> import math, lakebox
>>> @lakebox.on_demand(request=["user_lat", "user_lon"], returns="double")   # doctest: +SKIP
... def distance_km(shop_lat, shop_lon, user_lat, user_lon):
...     return 111.2 * math.hypot(shop_lat - user_lat, shop_lon - user_lon)
>>> fv.attach_on_demand(distance_km)                                          # doctest: +SKIP
>>> fv.get_feature_vector({"shop_id": 3}, request_parameters={"user_lat": 52.5, "user_lon": 13.4})  # doctest: +SKIP

The function's parameters are its inputs: the ones named in ``request`` are request
parameters, the others are features of the view. Training rows carry the request parameters as
columns of the view's query (what the request looked like when the label was recorded); they
are inputs, not features, so training data and feature vectors both leave them out and end
with the on-demand features, in the order attached. Serving takes them from
``request_parameters``; a missing one is an error naming it. The function is stored by
reference (``module:qualname``): a process that serves the view imports it from there.
"""

from __future__ import annotations

import importlib
import inspect
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from lakebox.errors import NotFoundError, ValidationError
from lakebox.frames import from_arrow
from lakebox.names import check_name
from lakebox.types import parse_type, type_name

if TYPE_CHECKING:
    from lakebox.catalog.db import CatalogDB
    from lakebox.catalog.views import ViewRow
    from lakebox.feature_store import FeatureStore

_registry: dict[str, OnDemandFeature] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class OnDemandFeature:
    """A function made an on-demand feature by ``@lakebox.on_demand``; still callable as itself."""

    function: Callable[..., Any]
    name: str
    inputs: tuple[str, ...]
    request: tuple[str, ...]
    type: str
    mode: str = "python"  # python: called once per row; pandas: once per batch with Series

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)

    @property
    def reference(self) -> str:
        return f"{self.function.__module__}:{self.function.__qualname__}"

    @property
    def features(self) -> tuple[str, ...]:
        """The inputs that are features of the view (not request parameters)."""
        return tuple(i for i in self.inputs if i not in self.request)

    def to_dict(self) -> dict[str, Any]:
        return {"function": self.reference, "inputs": list(self.inputs), "request": list(self.request), "type": self.type,
                "mode": self.mode}

    def compute(self, rows: Sequence[Mapping[str, Any]]) -> pa.Array:
        """The feature for each row (a mapping holding every input), as an Arrow array."""
        if self.mode == "pandas":
            import pandas as pd

            return self.compute_frame(pd.DataFrame({n: [row[n] for row in rows] for n in self.inputs}))
        values = []
        for row in rows:
            try:
                values.append(self.function(**{name: row[name] for name in self.inputs}))
            except Exception as e:  # the user's code: say which feature and row failed
                raise ValidationError(
                    f"On-demand feature {self.name} ({self.reference}) failed on inputs "
                    f"{ {n: row.get(n) for n in self.inputs} }: {type(e).__name__}: {e}"
                ) from e
        try:
            return pa.array(values, parse_type(self.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise ValidationError(
                f"On-demand feature {self.name} returned values that are not {self.type}: {e}. "
                "Return that type, or declare returns= to match."
            ) from e


    def compute_frame(self, frame: Any) -> pa.Array:
        """``mode="pandas"``: one call with a pandas Series per input (a batch of training rows,
        or the one row of a feature vector); the function returns a Series or array."""
        try:
            result = self.function(**{name: frame[name] for name in self.inputs})
        except Exception as e:  # the user's code: say which feature failed
            raise ValidationError(
                f"On-demand feature {self.name} ({self.reference}) failed on a batch of {len(frame)} row(s): "
                f"{type(e).__name__}: {e}"
            ) from e
        values = getattr(result, "to_numpy", lambda: result)()
        if len(values) != len(frame):
            raise ValidationError(
                f"On-demand feature {self.name} (mode='pandas') returned {len(values)} values for {len(frame)} rows."
            )
        try:
            return pa.array(values, parse_type(self.type), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as e:
            raise ValidationError(
                f"On-demand feature {self.name} returned values that are not {self.type}: {e}. "
                "Return that type, or declare returns= to match."
            ) from e


def on_demand(
    function: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    request: Sequence[str] = (),
    returns: str = "double",
    mode: str = "python",
) -> Any:
    """Make ``function`` an on-demand feature named ``name`` (default: the function's name),
    whose parameters named in ``request`` are request parameters and the others features of
    the view it is attached to (``fv.attach_on_demand``). ``returns`` is a lakebox type
    (``double``, ``bigint``, ``string``, ``boolean``, ``timestamp``, ...). ``mode="python"``
    calls it once per row with plain values; ``mode="pandas"`` (hsfs' name) once per batch
    with a pandas Series per input — training rows in one call, a feature vector as one row."""
    if mode not in ("python", "pandas"):
        raise ValidationError(f"on_demand mode must be 'python' or 'pandas', got {mode!r}.")

    def wrap(fn: Callable[..., Any]) -> OnDemandFeature:
        if not callable(fn):
            raise ValidationError(f"@on_demand decorates a function, got {fn!r}.")
        feature_name = check_name(name or fn.__name__, "on-demand feature name")
        parameters = list(inspect.signature(fn).parameters.values())
        if any(p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in parameters):
            raise ValidationError(f"On-demand feature {feature_name}: use named parameters only (no *args/**kwargs).")
        inputs = tuple(check_name(p.name, "on-demand input") for p in parameters)
        wanted = (request,) if isinstance(request, str) else tuple(request)
        unknown = [r for r in wanted if r not in inputs]
        if unknown:
            raise ValidationError(
                f"On-demand feature {feature_name}: request parameter(s) {unknown} are not parameters of "
                f"{fn.__name__}{inputs}."
            )
        try:
            type_name(parse_type(returns))
        except Exception as e:
            raise ValidationError(f"On-demand feature {feature_name}: returns={returns!r} is not a lakebox type.") from e
        feature = OnDemandFeature(fn, feature_name, inputs, wanted, returns, mode)
        with _lock:
            _registry[feature.reference] = feature
        return feature

    return wrap(function) if function is not None else wrap


def resolve(spec: Mapping[str, Any], name: str) -> OnDemandFeature:
    """The on-demand feature a stored spec names: registered in this process, or imported."""
    reference = spec["function"]
    with _lock:
        found = _registry.get(reference)
    if found is None:
        module, _, qualname = reference.partition(":")
        try:
            target: Any = importlib.import_module(module)
            for part in qualname.split("."):
                target = getattr(target, part)
        except (ImportError, AttributeError) as e:
            raise NotFoundError(
                f"The on-demand feature {name} is computed by {reference}, which cannot be imported here ({e}). "
                "Define it in an importable module (not __main__ or a notebook cell), or import that module first."
            ) from e
        found = target if isinstance(target, OnDemandFeature) else on_demand(target, name=name,
                                                                             request=spec["request"], returns=spec["type"],
                                                                             mode=spec.get("mode", "python"))
    if found.name != name:
        found = OnDemandFeature(found.function, name, found.inputs, found.request, found.type, found.mode)
    return found


# -- the catalog ---------------------------------------------------------------------------------
def stored(catalog: CatalogDB, view_id: int) -> list[OnDemandFeature]:
    rows = catalog.query(
        "SELECT name, spec FROM on_demand_features WHERE view_id = ? ORDER BY position", (view_id,)
    )
    return [resolve(json.loads(r["spec"]), r["name"]) for r in rows]


def _store(catalog: CatalogDB, view_id: int, features: Sequence[OnDemandFeature]) -> None:
    with catalog.write() as conn:
        start = conn.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM on_demand_features WHERE view_id = ?", (view_id,)
        ).fetchone()[0]
        for i, feature in enumerate(features):
            conn.execute(
                "INSERT INTO on_demand_features (view_id, position, name, spec) VALUES (?,?,?,?)",
                (view_id, start + i, feature.name, json.dumps(feature.to_dict())),
            )


# -- training rows and feature vectors -----------------------------------------------------------
def add_to_table(features: Sequence[OnDemandFeature], table: pa.Table, what: str) -> pa.Table:
    """``table`` with each on-demand feature appended and the request-parameter columns dropped."""
    if not features:
        return table
    needed = sorted({i for f in features for i in f.inputs})
    missing = [n for n in needed if n not in table.column_names]
    if missing:
        raise ValidationError(
            f"The on-demand features of {what} need the column(s) {missing} in the training rows; the view's query "
            f"has {table.column_names}. Select them in the query (request parameters too: the rows record them)."
        )
    inputs = table.select(needed)
    rows = inputs.to_pylist() if any(f.mode == "python" for f in features) else []
    frame = inputs.to_pandas() if any(f.mode == "pandas" for f in features) else None
    for feature in features:
        values = feature.compute_frame(frame) if feature.mode == "pandas" else feature.compute(rows)
        table = table.append_column(pa.field(feature.name, parse_type(feature.type)), values)
    request = {r for f in features for r in f.request}
    return table.drop_columns([c for c in table.column_names if c in request])


def add_to_row(features: Sequence[OnDemandFeature], row: dict[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
    values = {**row, **request}
    for feature in features:
        row[feature.name] = feature.compute([values])[0].as_py()
        values[feature.name] = row[feature.name]
    return row


def check_request(features: Sequence[OnDemandFeature], request: Mapping[str, Any] | None, what: str) -> Mapping[str, Any]:
    wanted = [r for f in features for r in f.request]
    given = dict(request or {})
    missing = [r for r in dict.fromkeys(wanted) if r not in given]
    if missing:
        users = sorted({f.name for f in features if set(f.request) & set(missing)})
        raise ValidationError(
            f"{what} needs the request parameter(s) {missing} for its on-demand feature(s) {users}: pass "
            f"request_parameters={{{', '.join(repr(m) + ': ...' for m in missing)}}}.",
            missing=missing,
        )
    unknown = [k for k in given if k not in wanted]
    if unknown:
        raise ValidationError(f"{what} has no request parameter(s) {unknown}; it takes {list(dict.fromkeys(wanted))}.")
    return given


class OnDemandMixin:
    """``fv.attach_on_demand`` and on-demand features in training data and feature vectors
    (a mixin of ``FeatureView``, placed before its serving mixin so it wraps serving)."""

    if TYPE_CHECKING:
        @property
        def id(self) -> int: ...
        @property
        def name(self) -> str: ...
        @property
        def version(self) -> int: ...
        _store: FeatureStore
        _row: ViewRow
        @property
        def query(self) -> Any: ...
        @property
        def labels(self) -> list[str]: ...
        @property
        def transformation_functions(self) -> dict[str, str]: ...

    @property
    def on_demand_features(self) -> list[OnDemandFeature]:
        cached = self.__dict__.get("_on_demand")
        if cached is None:
            cached = stored(self._store.engines.catalog, self.id)
            self.__dict__["_on_demand"] = cached
        return list(cached)

    @property
    def request_parameters(self) -> list[str]:
        """The request parameters ``get_feature_vector(s)`` needs (``request_parameters=``)."""
        return list(dict.fromkeys(r for f in self.on_demand_features for r in f.request))

    def attach_on_demand(self, *features: OnDemandFeature) -> Any:
        """Attach on-demand features (``@lakebox.on_demand`` functions) to this view. Refused
        once the view has training datasets (they would lack the feature): attach first, or
        create a new view version."""
        label = f"Feature view {self.name} v{self.version}"
        for feature in features:
            if not isinstance(feature, OnDemandFeature):
                raise ValidationError(f"attach_on_demand takes @lakebox.on_demand functions, got {feature!r}.")
        if self._store._views.datasets(self.id):
            raise ValidationError(f"{label} has training datasets already; attach on-demand features to a new view version.")
        existing = self.on_demand_features
        outputs = list(self.query.features)
        known = {*outputs, *(f.name for f in existing)}
        for feature in features:
            if feature.name in known or feature.name in self.labels:
                raise ValidationError(f"{label} already has a column named {feature.name!r}; name the on-demand feature otherwise.")
            for name in feature.features:
                if name not in outputs:  # not another on-demand feature: each reads the view's own columns
                    raise ValidationError(
                        f"On-demand feature {feature.name} reads {name!r}, which is neither a feature of {label} "
                        f"({outputs}) nor a request parameter (request=[...])."
                    )
                if name in self.labels:
                    raise ValidationError(f"On-demand feature {feature.name} may not read the label {name!r}.")
            touched = [n for n in (*feature.inputs, feature.name) if n in self.transformation_functions]
            if touched:
                raise ValidationError(
                    f"On-demand feature {feature.name}: {touched} have transformation functions in {label}; on-demand "
                    "features read and produce untransformed values."
                )
            known.add(feature.name)
        _store(self._store.engines.catalog, self.id, features)
        self.__dict__["_on_demand"] = None
        self.__dict__["_serving"] = None
        return self

    # -- serving: wrap the view's feature vectors -----------------------------------------------
    def _serving_columns(self, plan: Any) -> list[str]:
        request = set(self.request_parameters)
        return [c for c in super()._serving_columns(plan) if c not in request]  # type: ignore[misc]

    def serving_columns(self) -> list[str]:
        return [*super().serving_columns(), *(f.name for f in self.on_demand_features)]  # type: ignore[misc]

    def get_feature_vector(self, entry: Mapping[str, Any], passed_features: Mapping[str, Any] | None = None,
                           return_type: str = "list", allow_missing: bool = False,
                           training_dataset_version: int | None = None, *,
                           request_parameters: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """One feature vector; ``request_parameters`` feed the view's on-demand features
        (other keyword options, e.g. ``transform=False``, go to the serving mixin)."""
        if not self.on_demand_features:
            if request_parameters:
                check_request([], request_parameters, f"Feature view {self.name} v{self.version}")
            return super().get_feature_vector(  # type: ignore[misc]
                entry, passed_features, return_type, allow_missing, training_dataset_version, **kwargs)
        out = OnDemandMixin.get_feature_vectors(  # this layer's own (aliases above have done their part)
            self, [entry], [passed_features] if passed_features else None,
            "list" if return_type in ("pandas", "polars", "numpy") else return_type,
            allow_missing, training_dataset_version, request_parameters=[request_parameters or {}], **kwargs,
        )[0]
        if return_type in ("pandas", "polars"):
            columns = self._on_demand_columns(kwargs.get("transform", True))
            return from_arrow(pa.Table.from_pylist([dict(zip(columns, out, strict=True))]), return_type)
        if return_type == "numpy":
            return np.array(out, dtype=object)
        return out

    def get_feature_vectors(self, entries: Sequence[Mapping[str, Any]],
                            passed_features: Sequence[Mapping[str, Any]] | None = None,
                            return_type: str = "list", allow_missing: bool = False,
                            training_dataset_version: int | None = None, return_status: bool = False, *,
                            request_parameters: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Any:
        """One vector per entry; ``request_parameters`` (one dict per entry) feed the view's
        on-demand features, computed after the lookup by the same function as in training."""
        features = self.on_demand_features
        what = f"Feature view {self.name} v{self.version}"
        if not features:
            if request_parameters and any(request_parameters):
                check_request([], request_parameters[0], what)
            return super().get_feature_vectors(  # type: ignore[misc]
                entries, passed_features, return_type, allow_missing, training_dataset_version, return_status, **kwargs)
        if return_type not in ("list", "dict", "pandas", "polars", "numpy"):
            raise ValidationError(f"return_type must be list, dict, pandas, polars or numpy; got {return_type!r}.")
        if isinstance(request_parameters, Mapping) or request_parameters is None or len(request_parameters) != len(entries):
            raise ValidationError(f"{what} has on-demand features: pass request_parameters=[{{...}}], one dict per entry.")
        requests = [check_request(features, r, what) for r in request_parameters]
        rows, statuses = super().get_feature_vectors(  # type: ignore[misc]
            entries, passed_features, "dict", allow_missing, training_dataset_version, return_status=True, **kwargs)
        columns = self._on_demand_columns(kwargs.get("transform", True))
        vectors: list[Any] = []
        for row, request in zip(rows, requests, strict=True):
            complete = add_to_row(features, dict(row), request)
            vectors.append(complete if return_type == "dict" else [complete[c] for c in columns])
        out: Any = vectors
        if return_type in ("pandas", "polars"):
            out = from_arrow(pa.Table.from_pylist([dict(zip(columns, v, strict=True)) for v in vectors]), return_type)
        elif return_type == "numpy":
            out = np.array(vectors, dtype=object)
        return (out, statuses) if return_status else out


    def _on_demand_columns(self, transform: bool) -> list[str]:
        """A vector's columns: transformed (``serving_columns``) or as stored, then on-demand."""
        if transform:
            return self.serving_columns()
        return [*self.__dict__["_serving"][0].outputs, *(f.name for f in self.on_demand_features)]


def add_on_demand(view: Any, table: pa.Table) -> pa.Table:
    """The hook in ``FeatureView._read``: training and batch rows get the on-demand features."""
    features = view.on_demand_features if isinstance(view, OnDemandMixin) else []
    return add_to_table(features, table, f"feature view {view.name} v{view.version}")

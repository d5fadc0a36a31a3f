"""Transformation functions: values match hand-written numpy formulas, rows match tables exactly."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lakebox.transformations as tf
from lakebox.errors import AlreadyExistsError, SchemaMismatchError, ValidationError
from lakebox.transformations import (
    FittedTransformations,
    fit_transformations,
    register_transformation_function,
    unregister_transformation_function,
)

SCALERS = ["standard_scaler", "min_max_scaler", "robust_scaler"]
ENCODERS = ["label_encoder", "one_hot_encoder"]


def _rows_equal_table(fitted: FittedTransformations, table: pa.Table) -> None:
    """transform_row on each row gives exactly (bit for bit) the row of transform_table."""
    expected = fitted.transform_table(table).to_pylist()
    got = [fitted.transform_row(row) for row in table.to_pylist()]
    assert got == expected
    for g, e in zip(got, expected):
        assert list(g) == list(e)  # same column order too


def _roundtrip(fitted: FittedTransformations) -> FittedTransformations:
    return FittedTransformations.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))


@pytest.fixture
def registered() -> Iterator[list[str]]:
    """Names registered by a test, unregistered afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        unregister_transformation_function(name)


# --- values equal the textbook formulas ------------------------------------------------------


def test_standard_scaler_matches_numpy() -> None:
    x = np.array([3.0, 1.5, 7.25, -2.0, 10.0])
    table = pa.table({"x": pa.array([*x, None]), "other": list("abcdef")})
    fitted = fit_transformations({"x": "standard_scaler"}, table)
    out = fitted.transform_table(table)
    expected = (x - x.mean()) / x.std(ddof=0)  # population std, like sklearn's StandardScaler
    assert out.column("x").to_pylist()[:5] == pytest.approx(expected.tolist(), rel=1e-12)
    assert out.column("x").to_pylist()[5] is None  # null stays null
    assert out.column("other") == table.column("other")  # untouched columns pass through
    assert fitted.params["x"] == pytest.approx({"mean": x.mean(), "std": x.std()})


def test_min_max_scaler_matches_numpy() -> None:
    x = np.array([4, 8, 5, 12, 6], dtype=np.int64)
    table = pa.table({"x": x})
    out = fit_transformations({"x": "min_max_scaler"}, table).transform_table(table)
    expected = (x - x.min()) / (x.max() - x.min())
    assert out.column("x").to_pylist() == pytest.approx(expected.tolist(), rel=1e-12)
    assert out.schema.field("x").type == pa.float64()


def test_robust_scaler_matches_numpy() -> None:
    x = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 100.0, float("nan")])
    table = pa.table({"x": pa.array(x)})  # NaN (not null) counts as missing too
    out = fit_transformations({"x": "robust_scaler"}, table).transform_table(table).column("x")
    finite = x[:-1]
    q25, median, q75 = np.percentile(finite, [25, 50, 75])
    assert out.to_pylist()[:-1] == pytest.approx(((finite - median) / (q75 - q25)).tolist(), rel=1e-12)
    assert out.to_pylist()[-1] is None


def test_fit_ignores_infinities_and_keeps_them() -> None:
    table = pa.table({"x": [1.0, 3.0, float("inf")]})
    fitted = fit_transformations({"x": "standard_scaler"}, table)
    assert fitted.params["x"] == {"mean": 2.0, "std": 1.0}
    assert fitted.transform_table(table).column("x").to_pylist() == [-1.0, 1.0, math.inf]


@pytest.mark.parametrize("function", SCALERS)
@pytest.mark.parametrize(
    "values",
    [[], [None, None], [5.0, 5.0, 5.0], [0.1, 0.1, 0.1], [7.0]],
    ids=["empty", "all-null", "constant", "constant-inexact", "single"],
)
def test_scalers_never_divide_by_zero(function: str, values: list[float | None]) -> None:
    table = pa.table({"x": pa.array(values, type=pa.float64())})
    fitted = fit_transformations({"x": function}, table)
    json.dumps(fitted.to_dict(), allow_nan=False)
    out = fitted.transform_table(table).column("x").to_pylist()
    # Zero spread scales by 1 and centres on the value itself: a constant column becomes zeros.
    assert out == [None if v is None else 0.0 for v in values]
    # And new values are shifted, never blown up by a division by zero.
    assert fitted.transform_row({"x": 1.0})["x"] == 1.0 - (values[0] if values and values[0] else 0.0)


def test_label_encoder_sorted_codes_and_unseen() -> None:
    train = pa.table({"team": ["red", "blue", None, "green", "blue"]})
    fitted = fit_transformations({"team": "label_encoder"}, train)
    assert fitted.params["team"] == {"categories": ["blue", "green", "red"]}
    test = pa.table({"team": ["green", "purple", None, "red"]})
    out = fitted.transform_table(test)
    assert out.column("team").to_pylist() == [1, -1, -1, 2]  # unseen and null -> -1
    assert out.schema.field("team").type == pa.int64()
    assert fitted.transform_row({"team": "purple"}) == {"team": -1}


def test_label_encoder_integer_and_boolean_categories() -> None:
    table = pa.table({"zone": pa.array([30, 10, None, 20], type=pa.int32()), "flag": [True, False, None, True]})
    fitted = fit_transformations({"zone": "label_encoder", "flag": "label_encoder"}, table)
    assert fitted.params == {"zone": {"categories": [10, 20, 30]}, "flag": {"categories": [False, True]}}
    out = fitted.transform_table(table)
    assert out.column("zone").to_pylist() == [2, 0, -1, 1]
    assert out.column("flag").to_pylist() == [1, 0, -1, 1]
    assert fitted.transform_row({"zone": np.int64(20), "flag": np.bool_(False)}) == {"zone": 1, "flag": 0}
    _rows_equal_table(_roundtrip(fitted), table)


def test_one_hot_encoder_columns_in_place() -> None:
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "city": ["Oslo", "São Paulo", None, "new-york"],
            "age": [30, 40, 50, 60],
        }
    )
    fitted = fit_transformations({"city": "one_hot_encoder", "age": "min_max_scaler"}, table)
    out = fitted.transform_table(table)
    # Categories in sorted order ("Oslo" < "São Paulo" < "new-york": upper case sorts first).
    names = ["id", "city_oslo", "city_s_o_paulo", "city_new_york", "age"]
    assert out.column_names == names
    assert fitted.output_columns(table.column_names) == names
    assert out.schema.field("city_oslo").type == pa.int8()
    assert [list(r.values()) for r in out.select(names[1:4]).to_pylist()] == [
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 0],  # null -> all zeros
        [0, 0, 1],
    ]
    row = fitted.transform_row({"age": 45, "city": "Lima", "x": "y"})
    assert list(row) == ["age", "city_oslo", "city_s_o_paulo", "city_new_york", "x"]
    assert list(row.values()) == [0.5, 0, 0, 0, "y"]  # unseen -> all zeros, in place of "city"


def test_one_hot_names_that_collide_after_sanitising_get_suffixes() -> None:
    table = pa.table({"c": ["A b", "a_b", "a-b", ""]})
    fitted = fit_transformations({"c": "one_hot_encoder"}, table)
    assert fitted.params["c"]["categories"] == ["", "A b", "a-b", "a_b"]
    assert fitted.output_columns(["c"]) == ["c__", "c_a_b", "c_a_b_2", "c_a_b_3"]
    _rows_equal_table(fitted, table)


def test_dictionary_encoded_strings_are_categories() -> None:
    table = pa.table({"c": pa.array(["x", "y", None, "x"]).dictionary_encode()})
    fitted = fit_transformations({"c": "label_encoder"}, table)
    assert fitted.transform_table(table).column("c").to_pylist() == [0, 1, -1, 0]
    _rows_equal_table(fitted, table)


def test_fit_uses_only_the_given_split() -> None:
    train = pa.table({"x": [0.0, 10.0]})
    test = pa.table({"x": [20.0, -10.0]})
    fitted = fit_transformations({"x": "min_max_scaler"}, train)
    assert fitted.transform_table(test).column("x").to_pylist() == [2.0, -1.0]


# --- storage ------------------------------------------------------------------------------


def test_json_roundtrip_gives_identical_transformations() -> None:
    table = pa.table(
        {
            "a": [1.5, None, 3.25, 8.0],
            "b": pa.array([1, 2, 2, None], type=pa.int16()),
            "c": ["x", "y", None, "Z!"],
            "d": [True, False, True, None],
            "e": [0.1, 0.2, 0.30000000000000004, 1e-300],
        }
    )
    spec = {
        "a": "standard_scaler",
        "b": "robust_scaler",
        "c": "one_hot_encoder",
        "d": "label_encoder",
        "e": "min_max_scaler",
    }
    fitted = fit_transformations(spec, table)
    text = json.dumps(fitted.to_dict(), allow_nan=False)
    loaded = FittedTransformations.from_dict(json.loads(text))
    assert loaded == fitted
    assert loaded.spec == spec and list(loaded.spec) == list(spec)
    assert loaded.transform_table(table).equals(fitted.transform_table(table))
    _rows_equal_table(loaded, table)


def test_from_dict_rejects_garbage() -> None:
    with pytest.raises(ValidationError, match="to_dict"):
        FittedTransformations.from_dict({"features": []})
    with pytest.raises(ValidationError, match="format version"):
        FittedTransformations.from_dict({"format_version": 99, "features": []})
    bad = {"format_version": 1, "features": [{"feature": "x", "function": "min_max_scaler",
                                             "value_type": "float", "params": {"min": 0}}]}
    with pytest.raises(ValidationError, match="malformed"):
        FittedTransformations.from_dict(bad)
    unknown = {"format_version": 1, "features": [{"feature": "x", "function": "nope",
                                                 "value_type": "float", "params": {}}]}
    with pytest.raises(ValidationError, match="register_transformation_function"):
        FittedTransformations.from_dict(unknown)


# --- one code path: a row equals its table row, for every built-in --------------------------

_floats = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.floats(min_value=-1e6, max_value=1e6),
)
_ints = st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.integers(-5, 5))
_strings = st.one_of(st.none(), st.sampled_from(["a", "B", "c c", "ä", ""]), st.text(max_size=4))
_small_ints = st.one_of(st.none(), st.integers(-3, 3))


@st.composite
def _case(draw: st.DrawFn) -> tuple[dict[str, str], pa.Table, pa.Table]:
    n_train = draw(st.integers(0, 12))
    n_test = draw(st.integers(1, 12))
    columns = {
        "f": (_floats, pa.float64()),
        "i": (_ints, pa.int64()),
        "s": (_strings, pa.string()),
        "k": (_small_ints, pa.int32()),
    }

    def table(n: int) -> pa.Table:
        return pa.table(
            {name: pa.array(draw(st.lists(values, min_size=n, max_size=n)), type=t)
             for name, (values, t) in columns.items()}
        )

    spec = {
        "f": draw(st.sampled_from(SCALERS)),
        "i": draw(st.sampled_from(SCALERS)),
        "s": draw(st.sampled_from(ENCODERS)),
        "k": draw(st.sampled_from([*ENCODERS, *SCALERS])),
    }
    return spec, table(n_train), table(n_test)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_row_equals_table_for_every_builtin(case: tuple[dict[str, str], pa.Table, pa.Table]) -> None:
    spec, train, test = case
    with np.errstate(over="ignore", invalid="ignore"):
        fitted = fit_transformations(spec, train)
        _rows_equal_table(fitted, test)  # unseen categories, nulls, NaN and infinities included
        _rows_equal_table(_roundtrip(fitted), test)


# --- user functions ----------------------------------------------------------------------


def test_user_numeric_function(registered: list[str]) -> None:
    def fit(values: np.ndarray) -> dict[str, Any]:
        return {"shift": np.nanmin(values)}  # a numpy scalar: stored as a plain float

    def transform(values: np.ndarray, params: dict[str, Any]) -> np.ndarray:
        return np.log1p(values - params["shift"])

    register_transformation_function("log_shift", fit, transform)
    registered.append("log_shift")
    table = pa.table({"x": [1.0, 2.0, None, 11.0]})
    fitted = fit_transformations({"x": "log_shift"}, table)
    assert fitted.params == {"x": {"shift": 1.0}}
    out = fitted.transform_table(table).column("x").to_pylist()
    assert out == [0.0, math.log1p(1.0), None, math.log1p(10.0)]
    _rows_equal_table(_roundtrip(fitted), table)
    assert "log_shift" in tf.list_transformation_functions()


def test_user_object_function(registered: list[str]) -> None:
    register_transformation_function(
        "str_len",
        fit=lambda values: {},
        transform=lambda values, params: np.array([-1 if v is None else len(v) for v in values]),
        input_type="object",
    )
    registered.append("str_len")
    table = pa.table({"name": ["ada", None, "grace"]})
    fitted = fit_transformations({"name": "str_len"}, table)
    assert fitted.transform_table(table).column("name").to_pylist() == [3, -1, 5]
    _rows_equal_table(fitted, table)


def test_register_rules(registered: list[str]) -> None:
    with pytest.raises(AlreadyExistsError, match="built-in"):
        register_transformation_function("standard_scaler", lambda v: {}, lambda v, p: v)
    with pytest.raises(ValidationError, match="plain identifier"):
        register_transformation_function("My Fn", lambda v: {}, lambda v, p: v)
    with pytest.raises(ValidationError, match="input_type"):
        register_transformation_function(
            "fn", lambda v: {}, lambda v, p: v, input_type="text"  # type: ignore[arg-type]
        )
    register_transformation_function("ident", lambda v: {}, lambda v, p: v)
    registered.append("ident")
    with pytest.raises(AlreadyExistsError, match="replace=True"):
        register_transformation_function("ident", lambda v: {}, lambda v, p: v)
    register_transformation_function("ident", lambda v: {}, lambda v, p: v * 2, replace=True)
    fitted = fit_transformations({"x": "ident"}, pa.table({"x": [1.5]}))
    assert fitted.transform_row({"x": 1.5}) == {"x": 3.0}
    with pytest.raises(ValidationError, match="built-in"):
        unregister_transformation_function("label_encoder")


def test_user_function_contract_errors(registered: list[str]) -> None:
    register_transformation_function("bad_shape", lambda v: {}, lambda v, p: v[:1])
    register_transformation_function("bad_params", lambda v: {"when": object()}, lambda v, p: v)
    register_transformation_function("nan_params", lambda v: {"m": float("nan")}, lambda v, p: v)
    registered.extend(["bad_shape", "bad_params", "nan_params"])
    table = pa.table({"x": [1.0, 2.0]})
    with pytest.raises(ValidationError, match="one value per input value"):
        fit_transformations({"x": "bad_shape"}, table).transform_table(table)
    with pytest.raises(ValidationError, match="cannot be stored as JSON"):
        fit_transformations({"x": "bad_params"}, table)
    with pytest.raises(ValidationError, match="non-finite"):
        fit_transformations({"x": "nan_params"}, table)


# --- errors ------------------------------------------------------------------------------


def test_unknown_function_suggests_the_closest() -> None:
    with pytest.raises(ValidationError, match="Did you mean 'standard_scaler'") as info:
        fit_transformations({"x": "standard_scalar"}, pa.table({"x": [1.0]}))
    assert "register_transformation_function" in info.value.message
    assert info.value.details["feature"] == "x"


def test_scaler_on_strings_is_refused() -> None:
    with pytest.raises(SchemaMismatchError, match="needs a numeric column.*label_encoder"):
        fit_transformations({"name": "min_max_scaler"}, pa.table({"name": ["a", "b"]}))
    with pytest.raises(SchemaMismatchError, match="numeric"):
        fit_transformations({"flag": "standard_scaler"}, pa.table({"flag": [True, False]}))
    with pytest.raises(SchemaMismatchError, match="categories"):
        fit_transformations({"x": "label_encoder"}, pa.table({"x": [1.5, 2.5]}))


def test_missing_feature_names_the_close_columns() -> None:
    table = pa.table({"age": [1.0], "agent": [2.0]})
    with pytest.raises(SchemaMismatchError, match=r"'agee'.*Did you mean \['age'"):
        fit_transformations({"agee": "standard_scaler"}, table)
    fitted = fit_transformations({"age": "standard_scaler"}, table)
    with pytest.raises(SchemaMismatchError, match="'age'"):
        fitted.transform_table(table.drop_columns(["age"]))
    with pytest.raises(SchemaMismatchError, match="row has none"):
        fitted.transform_row({"agent": 1.0})


def test_wrong_types_at_transform_time() -> None:
    fitted = fit_transformations(
        {"x": "standard_scaler", "c": "label_encoder"}, pa.table({"x": [1.0, 2.0], "c": ["a", "b"]})
    )
    with pytest.raises(SchemaMismatchError, match="needs a number.*str 'oops'"):
        fitted.transform_row({"x": "oops", "c": "a"})
    with pytest.raises(SchemaMismatchError, match="needs a number"):
        fitted.transform_row({"x": True, "c": "a"})
    with pytest.raises(SchemaMismatchError, match="string category"):
        fitted.transform_row({"x": 1.0, "c": 3})
    with pytest.raises(SchemaMismatchError, match="fitted on string categories"):
        fitted.transform_table(pa.table({"x": [1.0], "c": [1]}))
    with pytest.raises(SchemaMismatchError, match="numeric"):
        fitted.transform_table(pa.table({"x": ["1.0"], "c": ["a"]}))
    # Any numeric type is fine for a scaler, whatever it was fitted on.
    assert fitted.transform_table(pa.table({"x": pa.array([3], pa.int8()), "c": ["b"]})).to_pylist() == [
        {"x": 3.0, "c": 1}
    ]


def test_one_hot_clash_and_too_many_categories() -> None:
    table = pa.table({"c": ["x", "y"], "c_x": [1, 2]})
    with pytest.raises(SchemaMismatchError, match="c_x"):
        fit_transformations({"c": "one_hot_encoder"}, table)
    ids = pa.table({"user": [f"u{i}" for i in range(tf.MAX_ONE_HOT_CATEGORIES + 1)]})
    with pytest.raises(ValidationError, match="label_encoder"):
        fit_transformations({"user": "one_hot_encoder"}, ids)


def test_spec_must_be_a_mapping() -> None:
    with pytest.raises(ValidationError, match="dict"):
        fit_transformations(["x"], pa.table({"x": [1.0]}))  # type: ignore[arg-type]

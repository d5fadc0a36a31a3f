"""On-demand features: one function computes them over training rows and over feature
vectors with the request's parameters; a missing request parameter is a clear error."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import lakebox
from lakebox.ondemand import OnDemandFeature, OnDemandMixin, add_to_row, add_to_table, on_demand, resolve

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@on_demand(request=["req_lat", "req_lon"], returns="double")
def distance_km(lat: float, lon: float, req_lat: float, req_lon: float) -> float:
    return round(111.2 * math.hypot(lat - req_lat, (lon - req_lon) * math.cos(math.radians(lat))), 6)


@on_demand(name="is_top", returns="boolean")
def top_rated(rating: float) -> bool:
    return rating >= 4.0


def test_the_decorator_records_inputs_and_request_parameters() -> None:
    assert isinstance(distance_km, OnDemandFeature)
    assert distance_km.inputs == ("lat", "lon", "req_lat", "req_lon")
    assert distance_km.features == ("lat", "lon") and distance_km.request == ("req_lat", "req_lon")
    assert distance_km(1.0, 2.0, 1.0, 2.0) == 0.0  # still the function
    assert resolve(distance_km.to_dict(), "distance_km") is distance_km
    assert top_rated.name == "is_top"
    with pytest.raises(lakebox.ValidationError, match="not parameters"):
        on_demand(name="x", request=["nope"])(lambda a: a)
    with pytest.raises(lakebox.ValidationError, match="not a lakebox type"):
        on_demand(name="x", returns="complex")(lambda a: a)
    with pytest.raises(lakebox.ValidationError, match="named parameters"):
        on_demand(name="x")(lambda *a: a)
    with pytest.raises(lakebox.NotFoundError, match="cannot be imported"):
        resolve({"function": "no_such_module_x:f", "inputs": [], "request": [], "type": "double"}, "f")


def test_table_and_row_computations_agree() -> None:
    table = pa.table({"lat": [52.5, 48.1], "lon": [13.4, 11.6], "req_lat": [52.0, 48.0], "req_lon": [13.0, 11.0],
                      "rating": [4.5, 3.0]})
    out = add_to_table([distance_km, top_rated], table, "test")
    assert out.column_names == ["lat", "lon", "rating", "distance_km", "is_top"]
    for i, row in enumerate(table.to_pylist()):
        vector = add_to_row([distance_km, top_rated], {"lat": row["lat"], "lon": row["lon"], "rating": row["rating"]},
                            {"req_lat": row["req_lat"], "req_lon": row["req_lon"]})
        assert vector["distance_km"] == out.column("distance_km")[i].as_py()
        assert vector["is_top"] == out.column("is_top")[i].as_py()
    with pytest.raises(lakebox.ValidationError, match=r"need the column\(s\) \['req_lon'\]"):
        add_to_table([distance_km], table.drop_columns(["req_lon"]), "test")


@pytest.fixture
def view(fs: Any) -> Any:
    shops = fs.create_feature_group("shops", primary_key=["shop_id"], online_enabled=True)
    shops.insert(pd.DataFrame({"shop_id": [1, 2, 3], "lat": [52.52, 48.14, 50.11], "lon": [13.40, 11.58, 8.68],
                               "rating": [4.5, 3.5, 4.0]}))
    visits = fs.create_feature_group("visits", primary_key=["shop_id"], event_time="ts")
    visits.insert(pd.DataFrame({
        "shop_id": [1, 2, 3, 1, 2, 3],
        "ts": [T0 + timedelta(hours=h) for h in range(6)],
        "req_lat": [52.50, 48.10, 50.00, 52.00, 48.00, 51.00],
        "req_lon": [13.30, 11.50, 8.60, 13.00, 11.00, 9.00],
        "clicked": [1, 0, 1, 0, 0, 1],
    }))
    query = visits.select(["req_lat", "req_lon", "clicked"]).join(shops.select(["lat", "lon", "rating"]))
    fv = fs.create_feature_view("nearby", query=query, labels=["clicked"])
    fv.attach_on_demand(distance_km, top_rated)
    return fv


def test_training_rows_get_the_features_and_lose_the_request_columns(view: Any) -> None:
    X, y = view.training_data()
    assert list(X.columns) == ["lat", "lon", "rating", "distance_km", "is_top"]
    expected = [distance_km(r.lat, r.lon, q_lat, q_lon) for r, q_lat, q_lon in zip(
        X.itertuples(), [52.50, 52.00, 48.10, 48.00, 50.00, 51.00], [13.30, 13.00, 11.50, 11.00, 8.60, 9.00])]
    assert sorted(X["distance_km"]) == sorted(expected)
    assert list(X["is_top"]) == [r >= 4.0 for r in X["rating"]]
    assert len(y) == 6
    batch = view.get_batch_data()  # batch scoring rows get them the same way
    assert list(batch.columns) == list(X.columns) and sorted(batch["distance_km"]) == sorted(expected)


def test_serving_computes_the_same_values_from_request_parameters(view: Any, fs: Any) -> None:
    vector = view.get_feature_vector({"shop_id": 1}, request_parameters={"req_lat": 52.5, "req_lon": 13.3})
    assert vector == [52.52, 13.40, 4.5, distance_km(52.52, 13.40, 52.5, 13.3), True]
    assert view.serving_columns() == ["lat", "lon", "rating", "distance_km", "is_top"]
    as_dict = view.get_feature_vector({"shop_id": 2}, request_parameters={"req_lat": 48.1, "req_lon": 11.5},
                                      return_type="dict")
    assert as_dict["distance_km"] == distance_km(48.14, 11.58, 48.1, 11.5) and as_dict["is_top"] is False
    many = view.get_feature_vectors([{"shop_id": 3}, {"shop_id": 1}],
                                    request_parameters=[{"req_lat": 50.0, "req_lon": 8.6}, {"req_lat": 52.0, "req_lon": 13.0}])
    assert [v[3] for v in many] == [distance_km(50.11, 8.68, 50.0, 8.6), distance_km(52.52, 13.40, 52.0, 13.0)]
    frame = view.get_feature_vector({"shop_id": 1}, request_parameters={"req_lat": 1.0, "req_lon": 2.0},
                                    return_type="pandas")
    assert list(frame.columns) == view.serving_columns()
    # training rows and serving agree row by row (the shops have no history)
    X, _ = view.training_data(primary_key=True)
    table = view.query.read()
    for row in table.itertuples():
        served = view.get_feature_vector({"shop_id": 1 if row.lat == 52.52 else 2 if row.lat == 48.14 else 3},
                                         request_parameters={"req_lat": row.req_lat, "req_lon": row.req_lon})
        assert served[3] == distance_km(row.lat, row.lon, row.req_lat, row.req_lon)
    # a fresh handle (another project object) finds the functions by reference
    again = fs.get_feature_view("nearby", 1)
    assert [f.name for f in again.on_demand_features] == ["distance_km", "is_top"]
    assert again.request_parameters == ["req_lat", "req_lon"]


def test_missing_or_unknown_request_parameters_are_clear_errors(view: Any) -> None:
    with pytest.raises(lakebox.ValidationError, match=r"request parameter\(s\) \['req_lon'\].*distance_km"):
        view.get_feature_vector({"shop_id": 1}, request_parameters={"req_lat": 52.5})
    with pytest.raises(lakebox.ValidationError, match=r"\['req_lat', 'req_lon'\]"):
        view.get_feature_vector({"shop_id": 1})
    with pytest.raises(lakebox.ValidationError, match="no request parameter"):
        view.get_feature_vector({"shop_id": 1}, request_parameters={"req_lat": 1, "req_lon": 2, "zoom": 3})
    with pytest.raises(lakebox.ValidationError, match="one dict per entry"):
        view.get_feature_vectors([{"shop_id": 1}], request_parameters={"req_lat": 1, "req_lon": 2})


def test_training_datasets_materialise_on_demand_features(view: Any) -> None:
    version = view.create_training_dataset(test_size=0.5, seed=1)
    X_train, X_test, y_train, y_test = view.get_training_data(version)
    assert "distance_km" in X_train.columns and "req_lat" not in X_train.columns
    assert len(X_train) + len(X_test) == 6
    with pytest.raises(lakebox.ValidationError, match="training datasets already"):
        view.attach_on_demand(on_demand(name="late", returns="double")(lambda rating: rating))


def test_attaching_checks_the_inputs(fs: Any, view: Any) -> None:
    fresh = fs.create_feature_view("nearby", version=2, query=view.query, labels=["clicked"])
    with pytest.raises(lakebox.ValidationError, match="neither a feature"):
        fresh.attach_on_demand(on_demand(name="bad", returns="double")(lambda altitude: altitude))
    with pytest.raises(lakebox.ValidationError, match="label"):
        fresh.attach_on_demand(on_demand(name="leak", returns="double")(lambda clicked: clicked))
    with pytest.raises(lakebox.ValidationError, match="already has a column"):
        fresh.attach_on_demand(on_demand(name="rating", returns="double")(lambda lat: lat))
    assert fresh.on_demand_features == []


def test_untransformed_vectors_keep_on_demand_features(fs: Any, view: Any) -> None:
    scaled = fs.create_feature_view("nearby", version=2, query=view.query, labels=["clicked"],
                                    transformation_functions={"rating": "min_max_scaler"})
    scaled.attach_on_demand(distance_km)
    scaled.create_training_dataset()
    request = {"req_lat": 52.5, "req_lon": 13.3}
    transformed = scaled.get_feature_vector({"shop_id": 1}, request_parameters=request)
    assert transformed[2] == 1.0 and transformed[3] == distance_km(52.52, 13.40, 52.5, 13.3)  # rating 4.5 is the max
    # the on-demand layer passes serving options through (hsfs' transform=False)
    raw = OnDemandMixin.get_feature_vector(scaled, {"shop_id": 1}, request_parameters=request, transform=False,
                                           return_type="dict")
    assert raw["rating"] == 4.5 and raw["distance_km"] == transformed[3]


@pytest.mark.slow  # measured: too long for the inner loop (CI runs it)
def test_another_process_imports_the_function_by_reference(view: Any, box_path: Any) -> None:
    script = (
        "import json, sys, lakebox\n"
        "fv = lakebox.connect(sys.argv[1]).get_feature_store().get_feature_view('nearby', 1)\n"
        "print(json.dumps(fv.get_feature_vector({'shop_id': 1}, request_parameters={'req_lat': 52.5, 'req_lon': 13.3})))\n"
    )
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tests, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", script, str(box_path)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == view.get_feature_vector({"shop_id": 1}, request_parameters={"req_lat": 52.5, "req_lon": 13.3})


@on_demand(request=["req_lat"], returns="double", mode="pandas")
def lat_gap(lat: Any, req_lat: Any) -> Any:
    return (lat - req_lat).abs()


def test_pandas_mode_computes_batches_with_the_same_code(fs: Any, view: Any) -> None:
    fresh = fs.create_feature_view("nearby", version=3, query=view.query, labels=["clicked"])
    fresh.attach_on_demand(lat_gap, distance_km)
    X, _ = fresh.training_data()
    assert list(X.columns) == ["lat", "lon", "rating", "lat_gap", "distance_km"]
    assert sorted(round(v, 6) for v in X["lat_gap"]) == sorted(
        round(abs(a - b), 6) for a, b in [(52.52, 52.50), (52.52, 52.00), (48.14, 48.10), (48.14, 48.00),
                                          (50.11, 50.00), (50.11, 51.00)])
    vector = fresh.get_feature_vector({"shop_id": 2}, request_parameters={"req_lat": 48.0, "req_lon": 11.0})
    assert vector[3] == pytest.approx(0.14) and vector[4] == distance_km(48.14, 11.58, 48.0, 11.0)
    with pytest.raises(lakebox.ValidationError, match="mode"):
        on_demand(name="x", mode="spark")(lambda a: a)
    with pytest.raises(lakebox.ValidationError, match="neither a feature"):  # on-demand inputs are the view's columns
        fs.create_feature_view("nearby", version=4, query=view.query, labels=["clicked"]).attach_on_demand(
            lat_gap, on_demand(name="chained", returns="double")(lambda lat_gap: lat_gap))

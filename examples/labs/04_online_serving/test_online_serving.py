"""Tests of lab 4 (run: pytest -q; add -s to see your latency)."""

from __future__ import annotations

import pandas as pd
import pytest
from online_serving import go_online, lookup, make_view, measure, p99

T0 = pd.Timestamp("2024-07-01 12:00", tz="UTC")
READINGS = pd.DataFrame({
    "sensor_id": [1, 2, 1, 3],
    "ts": [T0, T0, T0 + pd.Timedelta(minutes=5), T0],
    "temp": [20.5, 18.0, 21.0, 25.5],
    "humidity": [0.40, 0.55, 0.42, 0.30],
})


@pytest.fixture
def view(lakebox_box, lakebox_feature_group):
    fg = lakebox_feature_group("sensors", READINGS, primary_key=["sensor_id"], event_time="ts")
    assert not fg.online_enabled
    go_online(fg)
    return make_view(lakebox_box.get_feature_store(), fg), fg


def test_online_enabled(view):
    _, fg = view
    assert fg.online_enabled
    assert fg.online_key_count() == 3


def test_lookup_in_order_with_status(view):
    fv, _ = view
    found = lookup(fv, [3, 99, 1])
    assert [status for _, status in found] == ["present", "missing", "present"]
    assert found[0][0]["temp"] == 25.5
    assert found[2][0] == {"temp": 21.0, "humidity": 0.42}  # the latest event of sensor 1
    assert all(v is None for v in found[1][0].values())


def test_a_late_older_event_does_not_overwrite(view):
    fv, fg = view
    fg.insert(pd.DataFrame({"sensor_id": [1], "ts": [T0 - pd.Timedelta(hours=1)], "temp": [-5.0], "humidity": [0.9]}))
    assert lookup(fv, [1])[0][0]["temp"] == 21.0
    fg.insert(pd.DataFrame({"sensor_id": [1], "ts": [T0 + pd.Timedelta(hours=1)], "temp": [22.0], "humidity": [0.5]}))
    assert lookup(fv, [1])[0][0]["temp"] == 22.0


def test_p99_nearest_rank():
    assert p99(list(range(1, 101))) == 99
    assert p99([5.0]) == 5.0
    assert p99([3, 1, 2] * 100 + [1000]) == 3


def test_measure(view):
    fv, _ = view
    samples = measure(fv, 1, 200)
    assert len(samples) == 200 and all(s > 0 for s in samples)
    print(f"\nget_feature_vector p99: {p99(samples):.1f} µs over {len(samples)} calls")

"""The one JSON policy (``lakebox.jsonpolicy``): NaN/inf -> null, bytes -> base64, times -> ISO-8601
UTC with Z; and the CLI's ``-o json`` follows it."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from lakebox import jsonpolicy
from lakebox.cli import cli
from lakebox.errors import NotFoundError


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (float("nan"), None),
        (float("inf"), None),
        (-float("inf"), None),
        (np.float32("nan"), None),
        (np.float64(1.5), 1.5),
        (np.int64(7), 7),
        (np.bool_(True), True),
        (np.array([1.0, np.nan]), [1.0, None]),
        (b"\x00\xffhi", base64.b64encode(b"\x00\xffhi").decode()),
        (bytearray(b"ab"), "YWI="),
        (datetime(2026, 1, 1, 12, tzinfo=UTC), "2026-01-01T12:00:00Z"),
        (datetime(2026, 1, 1, 14, tzinfo=timezone(timedelta(hours=2))), "2026-01-01T12:00:00Z"),
        (datetime(2026, 1, 1, 12, 0, 0, 5), "2026-01-01T12:00:00.000005Z"),  # naive means UTC
        (pd.Timestamp("2026-01-01 12:00", tz="Europe/Lisbon"), "2026-01-01T12:00:00Z"),
        (pd.NaT, None),
        (pd.NA, None),
        (date(2026, 1, 2), "2026-01-02"),
        (time(8, 30), "08:30:00"),
        (timedelta(minutes=2), 120.0),
        (Decimal("1.10"), "1.10"),
        (Decimal("NaN"), None),
        ({"a": {1: [float("nan")]}}, {"a": {"1": [None]}}),
        ({3, 1, 2}, [1, 2, 3]),
        (Path("/x/y"), "/x/y"),
    ],
)
def test_policy(value: object, expected: object) -> None:
    assert jsonpolicy.jsonable(value) == expected


def test_dumps_is_strict_json_and_keeps_unicode() -> None:
    text = jsonpolicy.dumps({"x": float("nan"), "name": "Zürich", "t": datetime(2026, 1, 1, tzinfo=UTC)})
    assert text == '{"x": null, "name": "Zürich", "t": "2026-01-01T00:00:00Z"}'
    assert json.loads(text)["x"] is None
    assert json.dumps({"b": b"\x01"}, default=jsonpolicy.default) == '{"b": "AQ=="}'


def test_cli_json_output_follows_the_policy(tmp_path: Path) -> None:
    runner = CliRunner(env={"LAKEBOX_HOME": None})
    box = tmp_path / "j.lakebox"
    assert runner.invoke(cli, ["init", str(box)]).exit_code == 0
    csv = tmp_path / "r.csv"
    csv.write_text("k,ts,x\n1,2024-01-01T10:00:00+02:00,\n2,2024-01-01T00:00:00Z,1.5\n")
    assert runner.invoke(cli, ["--box", str(box), "fg", "ingest", "g", str(csv), "-k", "k", "-e", "ts"]).exit_code == 0
    result = runner.invoke(cli, ["--box", str(box), "-o", "json", "fg", "head", "g"])
    rows = json.loads(result.stdout)["rows"]
    assert rows == [{"k": 1, "ts": "2024-01-01T08:00:00Z", "x": None}, {"k": 2, "ts": "2024-01-01T00:00:00Z", "x": 1.5}]
    missing = runner.invoke(cli, ["--box", str(box), "-o", "json", "fg", "show", "nope"])
    assert json.loads(missing.stdout)["error"] == NotFoundError.code

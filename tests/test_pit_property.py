"""Property test: ``fs.get_features`` (and both SQL formulations of its plan) equal the plain-Python
point-in-time oracle (``pit_oracle``) cell by cell, nulls included, on random small histories:
2-3 groups (one without event time), keys missing from some groups, spines with duplicate rows and
unknown keys, late-arriving older events, deletes, ``max_age`` per call or per group, and ``as_of``
pinning to the first phase of commits or to before any commit (DESIGN §4)."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from budget import examples
from helpers import TS, day
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pit_oracle import Group, GroupState, expected_rows
from plans import plan_features

import lakebox
from lakebox import Feature
from lakebox.query.duck import execute

EXAMPLES = examples(dev=10, ci=60)  # budget.py; hunt locally with e.g. LAKEBOX_EXAMPLES=500

KEYS = st.integers(min_value=0, max_value=7)  # keys of the groups
SPINE_KEYS = st.integers(min_value=0, max_value=9)  # 8 and 9 exist in no group
GROUP_TIMES = [day(1), day(2), day(3), day(4)]
OLD_TIMES = GROUP_TIMES[:2]  # late-arriving events are old ones
# Spine times hit the group times exactly (ties: inclusive) and fall between and around them.
SPINE_TIMES = [day(1), day(2), day(2, 12), day(3), day(4), day(5), day(1) - timedelta(hours=1)]
FLOATS = st.one_of(st.none(), st.integers(min_value=-5, max_value=5).map(lambda v: v / 2))
INTS = st.one_of(st.none(), st.integers(min_value=-3, max_value=3))
TEXTS = st.one_of(st.none(), st.sampled_from(["", "a", "b", "é"]))
MAX_AGES: list[Any] = [
    None,
    None,
    timedelta(0),
    timedelta(days=1),
    timedelta(hours=36),
    {"ga": timedelta(days=1)},
    {"gb": timedelta(0), "gc": timedelta(days=1)},
]

# name, keys, event time, {feature: (lakebox type, arrow type)}
GROUPS = {
    "ga": (["k"], "ts", {"a_x": ("double", pa.float64()), "a_s": ("string", pa.string())}),
    "gb": (["k"], "bt", {"b_y": ("bigint", pa.int64())}),
    "gc": (["k2"], None, {"c_z": ("string", pa.string())}),
}
FEATURES = [("ga", "a_x"), ("ga", "a_s"), ("gb", "b_y"), ("gc", "c_z")]


def _columns(name: str) -> list[str]:
    keys, event_time, features = GROUPS[name]
    return [*keys, *([event_time] if event_time else []), *features]


def _arrow_types(name: str) -> list[pa.DataType]:
    keys, event_time, features = GROUPS[name]
    return [*[pa.int64()] * len(keys), *([TS] if event_time else []), *[t for _, t in features.values()]]


def _group_rows(name: str, times: list[datetime], max_size: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    keys, event_time, features = GROUPS[name]
    values = {"a_x": FLOATS, "a_s": TEXTS, "b_y": INTS, "c_z": TEXTS}
    parts = [KEYS, *([st.sampled_from(times)] if event_time else []), *[values[f] for f in features]]
    width = 2 if event_time else 1
    rows = st.lists(st.tuples(*parts), max_size=max_size, unique_by=lambda r: r[:width])
    return rows.map(lambda rs: [dict(zip(_columns(name), r, strict=True)) for r in rs])


def _deletes(name: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    keys, event_time, _ = GROUPS[name]
    by_key = st.lists(KEYS, max_size=2, unique=True).map(lambda ks: [{keys[0]: k} for k in ks])
    if event_time is None:
        return by_key
    by_key_and_time = st.lists(st.tuples(KEYS, st.sampled_from(GROUP_TIMES)), max_size=3, unique=True).map(
        lambda ps: [{keys[0]: k, event_time: t} for k, t in ps]
    )
    return st.one_of(by_key, by_key_and_time)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    names = ["ga", "gc"] + (["gb"] if draw(st.booleans()) else [])
    first: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        first[name] = draw(_group_rows(name, GROUP_TIMES, 12))
    if not first["ga"]:
        first["ga"] = [{"k": 0, "ts": day(2), "a_x": 1.0, "a_s": "a"}]  # phase one commits something
    late = {name: draw(_group_rows(name, OLD_TIMES, 6)) for name in names}
    deletes = {name: draw(_deletes(name)) for name in names}
    spine = draw(st.lists(st.tuples(SPINE_KEYS, SPINE_KEYS, st.sampled_from(SPINE_TIMES)), min_size=1, max_size=12))
    if draw(st.booleans()):
        spine.append(spine[0])  # an exact duplicate spine row
    return {
        "names": names,
        "first": first,
        "late": late,
        "deletes": deletes,
        "spine": [{"k": k, "k2": k2, "t": t} for k, k2, t in spine],
        "frame": draw(st.sampled_from(["arrow", "pandas", "polars"])),
        "max_age": draw(st.sampled_from(MAX_AGES)),
        "qualify": draw(st.booleans()),
        "order": draw(st.permutations(FEATURES)),
    }


def _table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    columns = _columns(name)
    types = _arrow_types(name)
    return pa.table({c: pa.array([r[c] for r in rows], t) for c, t in zip(columns, types, strict=True)})


def _spine_frame(spine: list[dict[str, Any]], kind: str) -> Any:
    table = pa.table(
        {
            "k": pa.array([r["k"] for r in spine], pa.int64()),
            "k2": pa.array([r["k2"] for r in spine], pa.int64()),
            "t": pa.array([r["t"] for r in spine], TS),
        }
    )
    if kind == "pandas":
        return table.to_pandas()
    if kind == "polars":
        import polars as pl

        return pl.from_arrow(table)
    return table


def _oracle_groups(states: dict[str, list[dict[str, Any]]]) -> list[Group]:
    return [Group(name, GROUPS[name][0], GROUPS[name][1], rows) for name, rows in states.items()]


def _check(result: pa.Table, expected: list[tuple[Any, ...]], features: list[tuple[str, str]], what: str) -> None:
    """Cell by cell, by column name (nulls included), in spine order."""
    columns = ["k", "k2", "t", *[f for _, f in features]]
    assert sorted(result.column_names) == sorted(columns), what
    assert result.num_rows == len(expected), f"{what}: one row per spine row"
    got = list(zip(*[result.column(c).to_pylist() for c in columns], strict=True))
    for index, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"{what}: spine row {index}: got {g}, expected {e}"


def _ms(moment_ms: int) -> datetime:
    return datetime.fromtimestamp(moment_ms / 1000, tz=UTC)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_get_features_equals_the_oracle(scenario: dict[str, Any]) -> None:
    names: list[str] = scenario["names"]
    features = [f for f in scenario["order"] if f[0] in names]
    requested = [
        (f"{g}.{f}" if i % 2 else f"{g}:1.{f}") if scenario["qualify"] else f for i, (g, f) in enumerate(features)
    ]
    spine = scenario["spine"]
    max_age = scenario["max_age"]
    if isinstance(max_age, dict):
        max_age = {g: a for g, a in max_age.items() if g in names}
    states = {name: GroupState(GROUPS[name][0], GROUPS[name][1]) for name in names}

    with tempfile.TemporaryDirectory() as tmp, lakebox.connect(Path(tmp) / "box") as project:
        fs = project.get_feature_store()
        groups = {}
        for name in names:
            keys, event_time, declared = GROUPS[name]
            schema = [Feature(k, "bigint") for k in keys]
            if event_time:
                schema.append(Feature(event_time, "timestamp"))
            schema.extend(Feature(f, t) for f, (t, _) in declared.items())
            groups[name] = fs.create_feature_group(
                name, version=1, primary_key=keys, event_time=event_time, features=schema
            )

        # Phase one: each group's first commit.
        first_commits = []
        for name in names:
            if scenario["first"][name]:
                first_commits.append(groups[name].insert(_table(name, scenario["first"][name])))
                states[name].insert(scenario["first"][name])
        at_first = {name: states[name].copy() for name in names}
        time.sleep(0.003)  # phase two commits land on later milliseconds

        # Phase two: late-arriving (older) events, then deletes.
        for name in names:
            if scenario["late"][name]:
                groups[name].insert(_table(name, scenario["late"][name]))
                states[name].insert(scenario["late"][name])
        for name in names:
            keys = scenario["deletes"][name]
            if keys:
                columns = list(keys[0])
                types = dict(zip(_columns(name), _arrow_types(name), strict=True))
                frame = pa.table({c: pa.array([k[c] for k in keys], types[c]) for c in columns})
                groups[name].delete_records(frame)
                states[name].delete(keys)

        now = _oracle_groups({n: s.snapshot() for n, s in states.items()})
        expected = expected_rows(spine, ["k", "k2", "t"], now, features, "t", max_age)

        entity_df = _spine_frame(spine, scenario["frame"])
        result = fs.get_features(requested, entity_df=entity_df, max_age=max_age, dataframe_type="arrow")
        _check(result, expected, features, "get_features")

        spine_table = _spine_frame(spine, "arrow")
        for formulation in ("asof", "window"):
            plan = plan_features(fs, requested, spine_table, max_age=max_age)
            _check(execute(plan, formulation), expected, features, f"plan executed as {formulation}")

        # as_of the last commit of phase one: later inserts invisible, later deletes undone.
        pinned_at = _ms(max(c.committed_ms for c in first_commits))
        then = _oracle_groups({n: s.snapshot() for n, s in at_first.items()})
        expected_then = expected_rows(spine, ["k", "k2", "t"], then, features, "t", max_age)
        pinned = fs.get_features(
            requested, entity_df=entity_df, as_of=pinned_at, max_age=max_age, dataframe_type="arrow"
        )
        _check(pinned, expected_then, features, f"as_of {pinned_at}")
        for formulation in ("asof", "window"):
            plan = plan_features(fs, requested, spine_table, as_of=pinned_at, max_age=max_age)
            _check(execute(plan, formulation), expected_then, features, f"as_of plan as {formulation}")

        # Before the first commit every group reads as empty: all features null, spine intact.
        before = _ms(min(c.committed_ms for c in first_commits) - 1)
        empty = fs.get_features(requested, entity_df=entity_df, as_of=before, dataframe_type="arrow")
        expected_empty = [(r["k"], r["k2"], r["t"], *[None] * len(features)) for r in spine]
        _check(empty, expected_empty, features, "as_of before the first commit")

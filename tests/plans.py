"""Planner helpers shared by the query tests: plans of a box's groups, bound or not."""

from __future__ import annotations

from typing import Any

import duckdb

from lakebox.queries import pin_resolver
from lakebox.query import duck
from lakebox.query.bind import bind
from lakebox.query.plan import Plan


def plan_features(
    fs: Any,
    names: list[str],
    entity_df: Any = None,
    *,
    event_time: str | None = None,
    as_of: Any = None,
    max_age: Any = None,
    bound: bool = True,
) -> Plan:
    """The plan ``fs.get_features`` runs (pinned to snapshots unless ``bound=False``)."""
    plan = fs._feature_plan(names, entity_df, event_time, as_of, max_age)
    return bind(plan, pin_resolver(store=fs)) if bound else plan


def register_all(con: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    """Every relation of a bound plan, under the names its SQL uses."""
    for relation in plan.relations():
        duck.register(con, relation)

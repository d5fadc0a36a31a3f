"""Pass 3: bind ``as_of`` — pin every group relation of a plan to a snapshot.

``pin_of(ref, as_of) -> Pin`` is given by the caller (the api layer, which can read the
catalog and Iceberg; a test, which builds pins by hand). ``bind`` returns a new plan whose
relations carry their pins; the plan it was given is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from lakebox.query.plan import Join, Plan, Relation
from lakebox.query.refs import GroupRef, Pin

PinResolver = Callable[[GroupRef, Any], Pin]


def bind(plan: Plan, pin_of: PinResolver) -> Plan:
    pinned: dict[str, Relation] = {}
    for relation in plan.relations():
        if relation.ref is not None and relation.pin is None:
            relation = replace(relation, pin=pin_of(relation.ref, relation.as_of))
        pinned[relation.name] = relation
    joins: dict[str, Join] = {j.alias: replace(j, relation=pinned[j.relation.name]) for j in plan.joins}
    outputs = [replace(o, join=joins[o.join.alias]) if o.join is not None else o for o in plan.outputs]
    return replace(
        plan,
        spine=pinned[plan.spine.name],
        joins=list(joins.values()),
        outputs=outputs,
        columns_of=dict(plan.columns_of),
    )


def pins(plan: Plan) -> list[tuple[GroupRef, Pin]]:
    """(group, pin) of every group the bound plan reads, once per group, spine first."""
    found: dict[tuple[str, int], tuple[GroupRef, Pin]] = {}
    for relation in plan.relations():
        if relation.ref is not None and relation.pin is not None:
            found.setdefault(relation.ref.key, (relation.ref, relation.pin))
    return list(found.values())

"""Build the logical plan: the one plan builder, with the one set of naming rules.

Two front ends describe what they want as plain values — a ``QuerySpec`` tree for
``fg.select(...).join(...)`` and a list of ``(GroupRef, feature)`` for ``fs.get_features``
— and both become a ``Plan`` here, through the same ``_Builder``: one way to add a group's
relation, one way to add a join, one rule for output names:

- a column keeps its name, with the join's ``prefix`` in front when one is given;
- a join key equal to a column the left side already has is not repeated;
- a name that clashes with an earlier column is an error naming the clash and the fix, except
  that ``fs.get_features`` (which has no ``prefix=``) first retries with ``<group>_<feature>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from lakebox.errors import QueryError, ValidationError
from lakebox.query.filter import Condition
from lakebox.query.plan import ROW, Join, JoinType, Output, Plan, Relation
from lakebox.query.refs import GroupRef

SPINE_ALIAS = "s"


@dataclass(frozen=True)
class JoinSpec:
    query: QuerySpec
    on: tuple[str, ...] | None = None
    left_on: tuple[str, ...] | None = None
    right_on: tuple[str, ...] | None = None
    join_type: str = "left"
    prefix: str | None = None
    max_age: timedelta | None = None


@dataclass(frozen=True)
class QuerySpec:
    """``fg.select(features).join(...).filter(...).as_of(t)`` as a value."""

    ref: GroupRef
    features: tuple[str, ...] | None = None  # None: every feature
    as_of: Any = None
    joins: tuple[JoinSpec, ...] = ()
    where: Condition | None = None


def group_relation(ref: GroupRef, as_of: Any = None, name: str | None = None) -> Relation:
    """A feature group as a (not yet pinned) relation of the plan."""
    return Relation(
        name=name or ref.relation,
        schema=ref.schema,
        primary_key=list(ref.primary_key),
        event_time=ref.event_time,
        ref=ref,
        as_of=as_of,
    )


class _Builder:
    def __init__(self, spine: Relation) -> None:
        self.plan = Plan(spine=spine, spine_alias=SPINE_ALIAS)
        self.taken: set[str] = set()
        self._names: dict[str, Any] = {}  # relation name -> the as_of it was pinned with
        if spine.ref is not None:
            self._names[spine.name] = spine.as_of
            self.plan.columns_of[spine.ref.key] = SPINE_ALIAS

    def relation(self, ref: GroupRef, as_of: Any) -> Relation:
        """The group's relation; the same group at another time gets its own name."""
        name, n = ref.relation, 1
        while name in self._names and self._names[name] != as_of:
            n += 1
            name = f"{ref.relation}__{n}"
        self._names[name] = as_of
        return group_relation(ref, as_of, name)

    def output(
        self,
        alias: str,
        column: str,
        join: Join | None = None,
        *,
        ref: GroupRef | None = None,
        prefix: str | None = None,
        auto_prefix: bool = False,
    ) -> str | None:
        """Add an output column by the naming rule; returns the name, or None on a clash."""
        name = (prefix or "") + column
        if name in self.taken and auto_prefix and ref is not None:
            name = f"{ref.project}_{ref.name}_{column}" if ref.project else f"{ref.name}_{column}"
        if name in self.taken:
            return None
        self.plan.outputs.append(Output(alias, column, name, join))
        self.taken.add(name)
        return name

    def join(
        self,
        relation: Relation,
        left_alias: str,
        left_keys: Sequence[str],
        right_keys: Sequence[str],
        join_type: str,
        max_age: timedelta | None,
        left_time: str | None,
        time_alias: str | None = None,
    ) -> Join:
        if join_type not in ("left", "inner"):
            raise QueryError(f"join_type must be 'left' or 'inner', got {join_type!r}.")
        join = Join(
            relation=relation,
            alias=f"j{len(self.plan.joins) + 1}",
            left_alias=left_alias,
            left_keys=list(left_keys),
            right_keys=list(right_keys),
            join_type=_join_type(join_type),
            max_age=max_age,
            left_time=left_time,
            time_alias=time_alias,
        )
        self.plan.joins.append(join)
        if relation.ref is not None:
            self.plan.columns_of.setdefault(relation.ref.key, join.alias)
        return join

    def filter(self, condition: Condition | None) -> None:
        if condition is not None:
            self.plan.where = condition if self.plan.where is None else self.plan.where & condition

    def finish(self) -> Plan:
        if self.plan.where is not None:
            for c in self.plan.where.columns():
                self.plan.alias_of(c)  # every filtered group must be in the query
        return self.plan


def _join_type(value: str) -> JoinType:
    return "inner" if value == "inner" else "left"


def _clash(ref: GroupRef, clashes: list[str], hint: str) -> QueryError:
    return QueryError(
        f"Feature(s) {clashes} of {ref.label} clash with columns already in the query. {hint}",
        clashes=clashes,
    )


# -- front end 1: Query -------------------------------------------------------------------
def query_plan(spec: QuerySpec) -> Plan:
    """The plan of a ``Query``: its root group is the spine; joins nest as written."""
    root = spec.ref
    builder = _Builder(group_relation(root, spec.as_of))
    selected = list(spec.features) if spec.features is not None else root.columns
    for name in selected:
        builder.output(SPINE_ALIAS, name)
    builder.filter(spec.where)
    _add_joins(builder, spec, SPINE_ALIAS, spec.as_of)
    return builder.finish()


def _add_joins(builder: _Builder, query: QuerySpec, alias: str, root_time: Any) -> None:
    plan = builder.plan
    left = query.ref
    for spec in query.joins:
        right = spec.query.ref
        when = root_time if root_time is not None else spec.query.as_of
        relation = builder.relation(right, when)
        if spec.on is not None:
            left_keys, right_keys = list(spec.on), list(spec.on)
        elif spec.left_on is not None and spec.right_on is not None:
            left_keys, right_keys = list(spec.left_on), list(spec.right_on)
        else:
            right_keys = list(right.primary_key)
            left_keys = right_keys
        for key in right_keys:
            if not right.has(key):
                raise QueryError(f"Join key {key!r} is not a feature of {right.label}.")
        left_alias, time_alias, left_time = alias, alias, left.event_time
        if any(not left.has(k) for k in left_keys):
            # The keys may come from a group joined earlier (labels -> players -> teams on
            # players.team_id): join through it, as of the root row's time.
            earlier = [j for j in plan.joins if all(k in j.relation.schema.names for k in left_keys)]
            if not earlier:
                missing = [k for k in left_keys if not left.has(k)]
                raise QueryError(
                    f"Cannot join {right.label}: {left.label} (and the groups joined before) lack the key "
                    f"column(s) {missing}. Pass on=[...] or left_on=/right_on=.",
                )
            left_alias = earlier[-1].alias
            time_alias, left_time = plan.spine_alias, plan.spine.event_time
        join = builder.join(
            relation, left_alias, left_keys, right_keys, spec.join_type, spec.max_age, left_time, time_alias
        )
        if spec.query.features is not None:
            selected = list(spec.query.features)
        else:  # select_all on the right: its keys and event time are the left's already
            selected = [c for c in right.columns if c not in right_keys and c != right.event_time]
        clashes = []
        for name in selected:
            if spec.prefix is None and name in right_keys and name in left_keys and name in builder.taken:
                continue  # the join key equals the left's column: do not repeat it
            if builder.output(join.alias, name, join, ref=right, prefix=spec.prefix) is None:
                clashes.append(name)
        if clashes:
            raise _clash(right, clashes, f"Pass prefix='{right.name}_' to join(), or select other features.")
        builder.filter(spec.query.where)
        _add_joins(builder, spec.query, join.alias, root_time)


# -- front end 2: get_features --------------------------------------------------------------
def features_plan(
    wanted: Sequence[tuple[str, GroupRef, str]],
    spine: Relation | None = None,
    as_of: Any = None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
) -> Plan:
    """The plan of ``fs.get_features``: ``wanted`` is ``(requested name, group, feature)`` in
    the order asked. Every group joins the spine (``entity_df``, or the first name's group)
    on its primary key, point-in-time where both have times."""
    groups: dict[tuple[str, int], GroupRef] = {}
    features: dict[tuple[str, int], list[str]] = {}
    for _, ref, feature in wanted:
        groups.setdefault(ref.key, ref)
        chosen = features.setdefault(ref.key, [])
        if feature in chosen:
            raise QueryError(f"The feature {ref.label}.{feature} is requested twice.")
        chosen.append(feature)
    requested: dict[int, tuple[tuple[str, int], str]] = {}  # id(Output) -> (GroupRef.key, feature)

    if spine is not None:
        builder = _Builder(spine)
        for name in spine.schema.names:
            if name != ROW:
                builder.output(SPINE_ALIAS, name)
        spine_time = spine.event_time
        join_groups = list(groups.values())
        where = "entity_df"
    else:
        first = wanted[0][1]
        builder = _Builder(group_relation(first, as_of))
        spine_time = first.event_time
        for name in [*first.primary_key, *([first.event_time] if first.event_time else [])]:
            builder.output(SPINE_ALIAS, name)
        for feature in features[first.key]:
            _feature_output(builder, SPINE_ALIAS, feature, None, first, requested)
        join_groups = [g for g in groups.values() if g.key != first.key]
        where = f"feature group {first.name}"

    spine_columns = set(builder.plan.spine.schema.names)
    for ref in join_groups:
        missing = [k for k in ref.primary_key if k not in spine_columns]
        if missing:
            raise QueryError(
                f"Feature group {ref.label} cannot be joined: the {where} lacks its primary key column(s) "
                f"{missing}. "
                + ("Add them to the entity_df." if spine is not None else
                   "Pass an entity_df with those keys, or name a feature of the group that has them first."),
                group=ref.name,
                missing=missing,
            )
        join = builder.join(
            builder.relation(ref, as_of), SPINE_ALIAS, ref.primary_key, ref.primary_key, "left",
            _age_for(max_age, ref), spine_time,
        )
        for feature in features[ref.key]:
            _feature_output(builder, join.alias, feature, join, ref, requested)
    # requested features come out in the order they were asked for, after the spine's columns
    plan = builder.finish()
    position = {(ref.key, feature): i for i, (_, ref, feature) in enumerate(wanted)}
    ranked = [(requested.get(id(o)), o) for o in plan.outputs]
    head = [o for rank, o in ranked if rank is None]
    tail = sorted(((rank, o) for rank, o in ranked if rank is not None), key=lambda pair: position[pair[0]])
    plan.outputs = head + [o for _, o in tail]
    return plan


def _feature_output(
    builder: _Builder, alias: str, feature: str, join: Join | None, ref: GroupRef,
    requested: dict[int, tuple[tuple[str, int], str]],
) -> None:
    if builder.output(alias, feature, join, ref=ref, auto_prefix=True) is None:
        raise _clash(ref, [feature], "Two requested features produce the same column; request only one.")
    requested[id(builder.plan.outputs[-1])] = (ref.key, feature)


def _age_for(max_age: timedelta | Mapping[str, timedelta] | None, ref: GroupRef) -> timedelta | None:
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        age: Any = max_age
    elif isinstance(max_age, Mapping):
        age = max_age.get(ref.name)
    else:
        raise ValidationError("max_age must be a timedelta or a {group name: timedelta} mapping.")
    if age is not None and (not isinstance(age, timedelta) or age < timedelta(0)):
        raise ValidationError(f"max_age for {ref.name} must be a non-negative timedelta.")
    return age

"""The planner's front end: feature names -> feature groups -> a join plan on a spine.

``fs.get_features(["age", "teams.budget", "players:2.rating"], entity_df=spine)`` resolves
each name through the catalog (unqualified names against the latest version of every group),
infers each group's join keys from its primary key (which the spine must carry), and plans
a point-in-time join of every group onto the spine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakebox.errors import NotFoundError, QueryError, SchemaMismatchError, ValidationError
from lakebox.frames import to_arrow
from lakebox.names import closest, did_you_mean
from lakebox.query.plan import ROW, Join, Output, Plan, Relation
from lakebox.query.query import _relation
from lakebox.types import canonical_type, conform_column

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup
    from lakebox.feature_store import FeatureStore

_NAME = re.compile(r"^(?:(?P<group>[a-z_][a-z0-9_]*)(?::(?P<version>[0-9]+))?\.)?(?P<feature>[a-z_][a-z0-9_]*)$")
SPINE = "entity_df"


@dataclass(frozen=True)
class Resolved:
    requested: str
    group: FeatureGroup
    feature: str


def resolve_names(store: FeatureStore, names: Sequence[str]) -> list[Resolved]:
    """Map each requested name to (group, feature); errors list candidates and suggestions."""
    if isinstance(names, str):
        names = [names]
    if not names:
        raise ValidationError("get_features needs at least one feature name.")
    latest: dict[str, FeatureGroup] = {}
    for group in store.get_feature_groups():
        if group.name not in latest or group.version > latest[group.name].version:
            latest[group.name] = group
    by_feature: dict[str, list[FeatureGroup]] = {}
    for group in latest.values():
        for feature in group.features:
            if feature.name in group.primary_key or feature.name == group.event_time:
                continue  # keys come from the spine; they are not features to look up
            by_feature.setdefault(feature.name, []).append(group)
    resolved: list[Resolved] = []
    for requested in names:
        match = _NAME.match(requested) if isinstance(requested, str) else None
        if match is None:
            raise ValidationError(
                f"{requested!r} is not a feature name; write 'feature', 'group.feature' or 'group:version.feature'."
            )
        feature, group_name, version = match["feature"], match["group"], match["version"]
        if group_name is not None:
            group = store.get_feature_group(group_name, int(version) if version else None)
            group.get_feature(feature)  # NotFoundError with suggestions
            resolved.append(Resolved(requested, group, feature))
            continue
        candidates = by_feature.get(feature, [])
        if not candidates:
            raise NotFoundError(
                f"No feature group has a feature named {feature!r}{did_you_mean(feature, by_feature) or '.'}"
                " Qualify names as 'group.feature' to pick a group.",
                feature=feature,
                suggestions=closest(feature, by_feature),
            )
        if len(candidates) > 1:
            options = sorted(f"{g.name}.{feature}" for g in candidates)
            raise QueryError(
                f"The feature name {feature!r} is ambiguous: it exists in {len(candidates)} feature groups. "
                f"Write one of {options}.",
                candidates=options,
            )
        resolved.append(Resolved(requested, candidates[0], feature))
    return resolved


def spine_event_time(spine: pa.Table, event_time: str | None) -> str | None:
    timestamps = [f.name for f in spine.schema if pa.types.is_timestamp(f.type)]
    if event_time is not None:
        if event_time not in spine.column_names:
            raise SchemaMismatchError(
                f"The entity_df has no column {event_time!r} (event_time); it has {spine.column_names}."
            )
        if not pa.types.is_timestamp(spine.schema.field(event_time).type):
            raise SchemaMismatchError(
                f"The entity_df's event_time column {event_time!r} holds {spine.schema.field(event_time).type}, "
                "not timestamps; name a column of timezone-aware timestamps.",
                column=event_time,
            )
        return event_time
    if len(timestamps) > 1:
        raise ValidationError(
            f"The entity_df has several timestamp columns {timestamps}; name the spine's time with event_time=..."
        )
    return timestamps[0] if timestamps else None


def plan_features(
    store: FeatureStore,
    names: Sequence[str],
    entity_df: Any = None,
    event_time: str | None = None,
    as_of: Any = None,
    max_age: timedelta | Mapping[str, timedelta] | None = None,
    resolve: bool = True,
) -> Plan:
    resolved = resolve_names(store, names)
    groups: dict[int, FeatureGroup] = {}
    wanted: dict[int, list[str]] = {}
    for item in resolved:
        groups.setdefault(item.group.id, item.group)
        features = wanted.setdefault(item.group.id, [])
        if item.feature in features:
            raise QueryError(f"The feature {item.group.name}.{item.feature} is requested twice.")
        features.append(item.feature)

    requested: dict[int, tuple[int, str]] = {}  # id(Output) -> (group id, feature) of requested features
    if entity_df is not None:
        spine_relation, spine_time, taken = _spine(entity_df, event_time, groups.values())
        plan = Plan(spine=spine_relation)
        for name in spine_relation.schema.names:
            if name != ROW:
                plan.outputs.append(Output("s", name, name))
        join_groups = list(groups.values())
    else:
        first = resolved[0].group
        spine_relation = _relation(first, as_of, resolve)
        spine_time = first.event_time
        plan = Plan(spine=spine_relation, columns_of={first.id: "s"})
        taken = set()
        for name in [*first.primary_key, *([first.event_time] if first.event_time else [])]:
            plan.outputs.append(Output("s", name, name))
            taken.add(name)
        for feature in wanted[first.id]:
            out = feature if feature not in taken else f"{first.name}_{feature}"
            plan.outputs.append(Output("s", feature, out))
            requested[id(plan.outputs[-1])] = (first.id, feature)
            taken.add(out)
        join_groups = [g for g in groups.values() if g.id != first.id]

    spine_columns = set(spine_relation.schema.names)
    for index, group in enumerate(join_groups, start=1):
        missing = [k for k in group.primary_key if k not in spine_columns]
        if missing:
            where = "entity_df" if entity_df is not None else f"feature group {resolved[0].group.name}"
            raise QueryError(
                f"Feature group {group.name} v{group.version} cannot be joined: the {where} lacks its "
                f"primary key column(s) {missing}. "
                + ("Add them to the entity_df." if entity_df is not None else
                   "Pass an entity_df with those keys, or name a feature of the group that has them first."),
                group=group.name,
                missing=missing,
            )
        alias = f"j{index}"
        join = Join(
            relation=_relation(group, as_of, resolve),
            alias=alias,
            left_alias="s",
            left_keys=list(group.primary_key),
            right_keys=list(group.primary_key),
            max_age=_age_for(max_age, group),
            left_time=spine_time,
        )
        plan.joins.append(join)
        plan.columns_of[group.id] = alias
        for feature in wanted[group.id]:
            out = feature if feature not in taken else f"{group.name}_{feature}"
            if out in taken:
                raise QueryError(f"Two requested features produce the column {out!r}; request only one.")
            plan.outputs.append(Output(alias, feature, out, join))
            requested[id(plan.outputs[-1])] = (group.id, feature)
            taken.add(out)
    # requested features come out in the order they were asked for, after the spine's columns
    position = {(item.group.id, item.feature): i for i, item in enumerate(resolved)}
    ranked = [(requested.get(id(o)), o) for o in plan.outputs]
    head = [o for rank, o in ranked if rank is None]
    features = sorted(((rank, o) for rank, o in ranked if rank is not None), key=lambda pair: position[pair[0]])
    plan.outputs = head + [o for _, o in features]
    return plan


def _age_for(max_age: timedelta | Mapping[str, timedelta] | None, group: FeatureGroup) -> timedelta | None:
    if max_age is None:
        return None
    if isinstance(max_age, timedelta):
        age: Any = max_age
    elif isinstance(max_age, Mapping):
        age = max_age.get(group.name)
    else:
        raise ValidationError("max_age must be a timedelta or a {group name: timedelta} mapping.")
    if age is not None and (not isinstance(age, timedelta) or age < timedelta(0)):
        raise ValidationError(f"max_age for {group.name} must be a non-negative timedelta.")
    return age


def _spine(
    entity_df: Any, event_time: str | None, groups: Any
) -> tuple[Relation, str | None, set[str]]:
    """The entity dataframe as a relation: canonical types, key types of the groups, row numbers."""
    data = to_arrow(entity_df)
    if data.num_rows == 0:
        raise ValidationError("The entity_df has no rows.")
    if ROW in data.column_names:
        raise ValidationError(f"The entity_df may not have a column named {ROW!r}.")
    key_types: dict[str, pa.DataType] = {}
    for group in groups:
        schema = group._output_schema()
        for key in group.primary_key:
            key_types.setdefault(key, schema.field(key).type)
    arrays, fields = [], []
    for name in data.column_names:
        column = data.column(name)
        target = key_types.get(name) or canonical_type(column.type, name)
        arrays.append(conform_column(column, target, name))
        fields.append(pa.field(name, target))
    time_column = spine_event_time(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), event_time)
    for name in key_types:
        if name in data.column_names and data.column(name).null_count:
            from lakebox.offline.batch import check_keys

            check_keys(pa.Table.from_arrays(arrays, schema=pa.schema(fields)), [name])
    if time_column is not None and data.column(time_column).null_count:
        raise ValidationError(f"The entity_df's event time column {time_column!r} holds nulls.")
    arrays.append(pa.array(range(data.num_rows), pa.int64()))
    fields.append(pa.field(ROW, pa.int64()))
    frame = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
    relation = Relation(name=SPINE, schema=frame.schema, primary_key=[], event_time=time_column, frame=frame)
    return relation, time_column, set(frame.column_names) - {ROW}

"""Plan -> SQL (sqlglot trees). Two exact formulations of the point-in-time join:

- ``asof``: DuckDB's ``ASOF LEFT JOIN`` per joined group (``s.ts >= r.ts`` on the keys).
- ``window``: join each group on its keys with ``r.ts <= s.ts``, rank matches per spine row by
  ``r.ts DESC`` and keep rank 1. Portable (Spark, Trino have no ASOF) and often the faster
  plan in DuckDB for wide payloads; it is what ``to_sql("spark"|"trino")`` emits.

Both return exactly one row per spine row (a joined group holds one row per key and event
time, so there are no ties), in the spine's order, and null a value older than ``max_age``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Literal

import sqlglot.expressions as exp

from lakebox.errors import QueryError
from lakebox.query.plan import RANK, ROW, Join, Plan

Formulation = Literal["asof", "window"]


def col(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def _table(name: str, alias: str | None = None) -> exp.Expr:
    table = exp.Table(this=_ident(name))
    return exp.alias_(table, _ident(alias), table=True) if alias else table


def _interval(age: timedelta) -> exp.Interval:
    micros = age // timedelta(microseconds=1)
    if micros % 1_000_000 == 0:
        return exp.Interval(this=exp.Literal.string(str(micros // 1_000_000)), unit=exp.Var(this="SECOND"))
    if micros % 1000 == 0:
        return exp.Interval(this=exp.Literal.string(str(micros // 1000)), unit=exp.Var(this="MILLISECOND"))
    return exp.Interval(this=exp.Literal.string(str(micros)), unit=exp.Var(this="MICROSECOND"))


def _key_condition(join: Join, left_alias: str, right_alias: str) -> exp.Expr:
    condition: exp.Expr | None = None
    for left_key, right_key in zip(join.left_keys, join.right_keys, strict=True):
        clause = exp.EQ(this=col(left_alias, left_key), expression=col(right_alias, right_key))
        condition = clause if condition is None else exp.and_(condition, clause)
    assert condition is not None
    return condition


def _fresh_enough(join: Join, time: exp.Expr, right_alias: str) -> exp.Expr:
    """``r.ts >= <left time> - max_age``."""
    assert join.max_age is not None and join.relation.event_time
    return exp.GTE(
        this=col(right_alias, join.relation.event_time),
        expression=exp.Sub(this=time, expression=_interval(join.max_age)),
    )


def _left_time(join: Join) -> exp.Expr:
    assert join.time_alias and join.left_time
    return col(join.time_alias, join.left_time)


def _latest_per_key(join: Join) -> exp.Expr:
    """The relation reduced to its latest row per key (for a left side without event time)."""
    relation = join.relation
    assert relation.event_time is not None
    ranked = exp.select(
        exp.Star(),
        exp.alias_(
            exp.Window(
                this=exp.RowNumber(),
                partition_by=[col("h", k) for k in relation.primary_key],
                order=exp.Order(expressions=[exp.Ordered(this=col("h", relation.event_time), desc=True)]),
            ),
            RANK,
            quoted=True,
        ),
    ).from_(_table(relation.name, "h"))
    latest = (
        exp.select(*[col("ranked", name) for name in relation.schema.names])
        .from_(ranked.subquery("ranked"))
        .where(exp.EQ(this=col("ranked", RANK), expression=exp.Literal.number(1)))
    )
    return latest.subquery(_ident(join.alias))


def _needed(plan: Plan, join: Join) -> list[str]:
    """Columns of a joined relation the rest of the query uses (narrow window CTEs are faster)."""
    names = {o.column for o in plan.outputs if o.alias == join.alias}
    for other in plan.joins:
        if other.left_alias == join.alias:
            names.update(other.left_keys)
        if other.time_alias == join.alias and other.left_time:
            names.add(other.left_time)
    if plan.where is not None:
        names.update(c.name for c in plan.where.columns() if plan.alias_of(c) == join.alias)
    return [n for n in join.relation.schema.names if n in names]


def _aged(plan: Plan, alias: str, formulation: Formulation) -> Join | None:
    """The left point-in-time join behind ``alias`` whose rows may be too old (ASOF plan only:
    the window plan drops such rows in the join itself)."""
    if formulation != "asof":
        return None
    for join in plan.joins:
        if join.alias == alias and join.point_in_time and join.max_age is not None and join.join_type == "left":
            return join
    return None


def _ref(plan: Plan, alias: str, column: str, formulation: Formulation) -> exp.Expr:
    """A column as every clause must see it: a value older than its join's max_age is NULL."""
    value: exp.Expr = col(alias, column)
    join = _aged(plan, alias, formulation)
    if join is not None:
        value = exp.Case(ifs=[exp.If(this=_fresh_enough(join, _left_time(join), join.alias), true=value)])
    return value


def _output(plan: Plan, formulation: Formulation) -> list[exp.Expr]:
    return [exp.alias_(_ref(plan, o.alias, o.column, formulation), o.name, quoted=True) for o in plan.outputs]


def _where(plan: Plan, formulation: Formulation = "window") -> exp.Expr | None:
    if plan.where is None:
        return None
    return plan.where.to_sqlglot(lambda c: _ref(plan, plan.alias_of(c), c.name, formulation))


def compile_plan(plan: Plan, formulation: Formulation = "window", names: Mapping[str, str] | None = None) -> exp.Select:
    """The plan as a sqlglot tree; ``names`` renames relations (an engine's own view names)."""
    if formulation == "asof":
        tree = _compile_asof(plan)
    elif formulation == "window":
        tree = _compile_window(plan)
    else:
        raise QueryError(f"Unknown plan formulation {formulation!r}; use 'asof' or 'window'.")
    return rename_relations(tree, names) if names else tree


def rename_relations(tree: exp.Expr, names: Mapping[str, str]) -> exp.Select:
    """Point the tree's relation references at other names (CTE names never clash: they are
    ``s``/``jN``, relation names ``name_version`` or ``entity_df``)."""

    def rename(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and not node.db and node.name in names:
            node.set("this", _ident(names[node.name]))
        return node

    return tree.transform(rename, copy=True)  # type: ignore[return-value]


def _compile_asof(plan: Plan) -> exp.Select:
    query = exp.select(*_output(plan, "asof")).from_(_table(plan.spine.name, plan.spine_alias))
    extra_where: list[exp.Expr] = []
    for join in plan.joins:
        on = _key_condition(join, join.left_alias, join.alias)
        left_aged = _aged(plan, join.left_alias, "asof")
        if left_aged is not None:  # keys taken from a row too old to use are no keys at all
            on = exp.and_(on, _fresh_enough(left_aged, _left_time(left_aged), left_aged.alias))
        if join.point_in_time:
            assert join.left_time and join.relation.event_time
            on = exp.and_(on, exp.GTE(this=_left_time(join), expression=col(join.alias, join.relation.event_time)))
            if join.max_age is not None and join.join_type == "inner":
                extra_where.append(_fresh_enough(join, _left_time(join), join.alias))
        source = _latest_per_key(join) if join.latest_only else _table(join.relation.name, join.alias)
        query = query.join(
            source,
            on=on,
            join_type=("ASOF " if join.point_in_time else "") + join.join_type.upper(),
        )
    where = _where(plan, "asof")
    for clause in extra_where:
        where = clause if where is None else exp.and_(where, clause)
    if where is not None:
        query = query.where(where)
    return query.order_by(*[col(plan.spine_alias, c) for c in plan.order_by()])


def _attach(plan: Plan, alias: str, query: exp.Select) -> exp.Select:
    """Join an earlier join's rows onto ``s`` (one per spine row) inside a helper query."""
    spine = plan.spine_alias
    if alias == spine:
        return query
    earlier = next(j for j in plan.joins if j.alias == alias)
    if earlier.point_in_time:
        on = exp.and_(
            exp.EQ(this=col(spine, ROW), expression=col(alias, ROW)),
            exp.EQ(this=col(alias, RANK), expression=exp.Literal.number(1)),
        )
        return query.join(_table(alias, None), on=on, join_type="INNER")
    if earlier.left_alias != spine:
        raise QueryError("Joins chained through a join without event time compile with the 'asof' formulation only.")
    source = _latest_per_key(earlier) if earlier.latest_only else _table(earlier.relation.name, alias)
    return query.join(source, on=_key_condition(earlier, spine, alias), join_type="INNER")


def _left_rows(plan: Plan, join: Join) -> exp.Select:
    """Per spine row: its row number, the join's left keys and the time to join as of."""
    spine = plan.spine_alias
    assert join.time_alias and join.left_time
    query = exp.select(
        exp.alias_(col(spine, ROW), ROW, quoted=True),
        *[exp.alias_(col(join.left_alias, k), k, quoted=True) for k in join.left_keys],
        exp.alias_(col(join.time_alias, join.left_time), "__lb_t", quoted=True),
    ).from_(_table(spine, None))
    query = _attach(plan, join.left_alias, query)
    if join.time_alias != join.left_alias:
        query = _attach(plan, join.time_alias, query)
    return query


def _compile_window(plan: Plan) -> exp.Select:
    spine = plan.spine_alias
    spine_source = exp.select(exp.Star()).from_(_table(plan.spine.name, "base"))
    if plan.spine_has_row and plan.number_spine_in_sql and plan.spine_numbering == "monotonic":
        number: exp.Expr = exp.Anonymous(this="monotonically_increasing_id", expressions=[])
        spine_source = exp.select(exp.Star(), exp.alias_(number, ROW, quoted=True)).from_(_table(plan.spine.name, "base"))
    elif not plan.spine_has_row or plan.number_spine_in_sql:
        number = exp.Window(
            this=exp.RowNumber(),
            order=exp.Order(expressions=[exp.Ordered(this=col("base", c)) for c in plan.order_by()])
            if plan.order_by()
            else None,
        )
        spine_source = exp.select(exp.Star(), exp.alias_(number, ROW, quoted=True)).from_(_table(plan.spine.name, "base"))
    query = exp.select(*_output(plan, "window")).from_(_table(spine, None))
    query = query.with_(_ident(spine), as_=spine_source)
    for join in plan.joins:
        if not join.point_in_time:
            source = _latest_per_key(join) if join.latest_only else _table(join.relation.name, join.alias)
            query = query.join(source, on=_key_condition(join, join.left_alias, join.alias), join_type=join.join_type.upper())
            continue
        assert join.left_time and join.relation.event_time
        if join.left_alias == spine and join.time_alias == spine:
            left: exp.Expr = _table(spine, None)
            left_name, time = spine, col(spine, join.left_time)
        else:  # keys or time from an earlier join: gather them per spine row first
            left = _left_rows(plan, join).subquery(_ident("l"))
            left_name, time = "l", col("l", "__lb_t")
        matched = exp.LTE(this=col("r", join.relation.event_time), expression=time)
        on = exp.and_(_key_condition(join, left_name, "r"), matched)
        if join.max_age is not None:
            on = exp.and_(on, _fresh_enough(join, time, "r"))
        ranked = (
            exp.select(
                exp.alias_(col(left_name, ROW), ROW, quoted=True),
                *[col("r", name) for name in _needed(plan, join)],
                exp.alias_(
                    exp.Window(
                        this=exp.RowNumber(),
                        partition_by=[col(left_name, ROW)],
                        order=exp.Order(expressions=[exp.Ordered(this=col("r", join.relation.event_time), desc=True)]),
                    ),
                    RANK,
                    quoted=True,
                ),
            )
            .from_(left)
            .join(_table(join.relation.name, "r"), on=on, join_type="INNER")
        )
        query = query.with_(_ident(join.alias), as_=ranked)
        on_rank = exp.and_(
            exp.EQ(this=col(spine, ROW), expression=col(join.alias, ROW)),
            exp.EQ(this=col(join.alias, RANK), expression=exp.Literal.number(1)),
        )
        query = query.join(_table(join.alias, None), on=on_rank, join_type=join.join_type.upper())
    where = _where(plan)
    if where is not None:
        query = query.where(where)
    return query.order_by(col(spine, ROW))

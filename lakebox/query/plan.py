"""The logical plan of a feature query: one spine relation and joins onto it (values only).

A plan is what the one plan builder (``build.py``) makes for both front ends — ``Query``
objects (``fg.select(...).join(...)``) and ``fs.get_features(names, entity_df)`` — what
``bind.py`` pins to snapshots and what ``compile.py`` turns into SQL. Relations are feature
groups (``GroupRef``, pinned by a ``Pin`` once bound) or the caller's entity dataframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import pyarrow as pa

from lakebox.errors import QueryError
from lakebox.query.filter import Col, Condition
from lakebox.query.refs import GroupRef, Pin

ROW = "__lb_row"  # the spine's row number: output order and the window plan's partition key
RANK = "__lb_rn"

JoinType = Literal["left", "inner"]


@dataclass
class Relation:
    """A table the plan reads."""

    name: str  # the SQL relation name: name_version for groups, entity_df for a spine frame
    schema: pa.Schema
    primary_key: list[str]
    event_time: str | None
    ref: GroupRef | None = None
    as_of: Any = None  # when to pin the group (a time or commit id; None: now)
    pin: Pin | None = None  # set by the bind pass
    frame: Any = None  # the entity dataframe with a ROW column (Arrow, or an engine's own frame)

    @property
    def snapshot_id(self) -> int | None:
        return self.pin.snapshot_id if self.pin is not None else None


@dataclass
class Join:
    relation: Relation
    alias: str
    left_alias: str
    left_keys: list[str]
    right_keys: list[str]
    join_type: JoinType = "left"
    max_age: timedelta | None = None
    left_time: str | None = None  # the left side's event time column, for point-in-time joins
    time_alias: str | None = None  # whose ``left_time`` it is (default: the left alias)

    def __post_init__(self) -> None:
        if self.time_alias is None:
            self.time_alias = self.left_alias

    @property
    def point_in_time(self) -> bool:
        return self.left_time is not None and self.relation.event_time is not None

    @property
    def latest_only(self) -> bool:
        """The right side has history but the left has no time: join its latest row per key."""
        return self.left_time is None and self.relation.event_time is not None


@dataclass
class Output:
    alias: str
    column: str
    name: str
    join: Join | None = None  # set for columns of a joined relation (max_age guards them)


@dataclass
class Plan:
    spine: Relation
    spine_alias: str = "s"
    joins: list[Join] = field(default_factory=list)
    outputs: list[Output] = field(default_factory=list)
    where: Condition | None = None
    columns_of: dict[tuple[str, int], str] = field(default_factory=dict)  # GroupRef.key -> alias, for filters
    # Number the spine's rows in SQL (ROW_NUMBER() OVER ()) instead of reading a ROW column:
    # for SQL handed to users to run on their own entity dataframe.
    number_spine_in_sql: bool = False
    # How: ROW_NUMBER() (ordered by the spine's keys when it has no row order of its own) or
    # monotonically_increasing_id() for Spark, where ROW_NUMBER() OVER () is not allowed.
    spine_numbering: Literal["row_number", "monotonic"] = "row_number"

    def alias_of(self, col: Col) -> str:
        try:
            return self.columns_of[col.group_key]
        except KeyError:
            raise QueryError(
                f"The filter uses {col.group}.{col.name}, but feature group {col.group} is not part of this query."
            ) from None

    @property
    def spine_has_row(self) -> bool:
        return self.spine.frame is not None

    def relations(self) -> list[Relation]:
        """Every relation the plan reads, once per SQL name, spine first."""
        found: dict[str, Relation] = {}
        for relation in [self.spine, *[j.relation for j in self.joins]]:
            found.setdefault(relation.name, relation)
        return list(found.values())

    def order_by(self) -> list[str]:
        """Spine columns that give the output its deterministic order."""
        if self.spine_has_row and self.number_spine_in_sql:
            return []  # the frame's own row order (ROW_NUMBER() OVER ())
        if self.spine_has_row:
            return [ROW]
        keys = list(self.spine.primary_key)
        if self.spine.event_time:
            keys.append(self.spine.event_time)
        return keys

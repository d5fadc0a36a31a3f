"""The logical plan of a feature query: one spine relation and joins onto it.

A plan is what both front ends produce — ``Query`` objects (``fg.select(...).join(...)``)
and the planner (``fs.get_features(names, entity_df)``) — and what ``compile`` turns into
SQL. Relations are feature groups pinned to a snapshot, or the caller's entity dataframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa

from lakebox.query.filter import Col, Condition

if TYPE_CHECKING:
    from lakebox.feature_group import FeatureGroup

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
    group: FeatureGroup | None = None
    snapshot_id: int | None = None  # pinned snapshot (None: the group is empty at that time)
    table: Any = None  # the pyiceberg table, for reading the snapshot
    frame: pa.Table | None = None  # the entity dataframe, with a ROW column


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
    columns_of: dict[int, str] = field(default_factory=dict)  # group id -> alias, for filters
    # Number the spine's rows in SQL (ROW_NUMBER() OVER ()) instead of reading a ROW column:
    # for SQL handed to users to run on their own entity dataframe.
    number_spine_in_sql: bool = False

    def alias_of(self, col: Col) -> str:
        try:
            return self.columns_of[col.group_id]
        except KeyError:
            from lakebox.errors import QueryError

            raise QueryError(
                f"The filter uses {col.group}.{col.name}, but feature group {col.group} is not part of this query."
            ) from None

    @property
    def spine_has_row(self) -> bool:
        return self.spine.frame is not None

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

"""``Feature``: one column of a feature group (name, type, description, role)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakebox.errors import ValidationError
from lakebox.names import check_name
from lakebox.types import parse_type, type_name


@dataclass(frozen=True)
class Feature:
    """A feature (column). ``type`` is a lakebox type name: bigint, double, string, timestamp, ...

    >>> Feature("age", "bigint", description="years since birth").type
    'bigint'
    """

    name: str
    type: str = "string"
    description: str = ""
    primary: bool = False
    event_time: bool = False

    def __post_init__(self) -> None:
        check_name(self.name, "feature name")
        object.__setattr__(self, "type", type_name(parse_type(self.type)))

    @property
    def arrow_type(self) -> pa.DataType:
        return parse_type(self.type)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "description": self.description,
            "primary": self.primary,
            "event_time": self.event_time,
        }


def as_feature(value: Any) -> Feature:
    """Accept a Feature, a ``{"name":..., "type":...}`` dict or a ``(name, type)`` tuple."""
    if isinstance(value, Feature):
        return value
    if isinstance(value, dict):
        return Feature(**value)
    if isinstance(value, (tuple, list)) and len(value) in (2, 3):
        return Feature(*value)
    raise ValidationError(f"Cannot read a feature from {value!r}; use Feature(name, type, description).")

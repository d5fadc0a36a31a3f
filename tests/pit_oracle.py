"""The point-in-time oracle, shipped as ``lakebox.testing.oracle`` (tests import it from here)."""

from lakebox.testing.oracle import Group, GroupState, Row, expected_rows, match, point_in_time

__all__ = ["Group", "GroupState", "Row", "expected_rows", "match", "point_in_time"]

"""Transitional alias: ``Query`` is an api object and lives in ``lakebox.queries``.

Only ``lakebox/feature_group.py`` (owned by the lead, being rewritten) still imports it from
here; ``tests/test_layers.py`` names this one edge as pending. Delete this module once that
file imports ``lakebox.queries``.
"""

from lakebox.queries import Query

__all__ = ["Query"]

"""Checked by mypy, never run: each implementation of a shared protocol satisfies it.

``tests/test_typing.py`` runs mypy over ``lakebox/`` and this file (``[tool.mypy] files`` in
pyproject.toml). A function returning an implementation as its protocol fails type checking
when a method is missing or its signature drifted (a parameter renamed, dropped or retyped).
"""

from __future__ import annotations

from lakebox.client import RemoteFeatureView
from lakebox.feature_view import FeatureView
from lakebox.protocols import FeatureViewLike


def local_feature_view(view: FeatureView) -> FeatureViewLike:
    return view


def remote_feature_view(view: RemoteFeatureView) -> FeatureViewLike:
    return view

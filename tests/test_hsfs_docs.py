"""docs/hopsworks.md is generated from lakebox.hsfs_calls and current; every call it lists as
running on lakebox names an attribute that exists; the opt-in hopsworks/hsfs import aliases."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from lakebox import compat
from lakebox.errors import ValidationError
from lakebox.hsfs_calls import CALLS, STATUSES, render, resolve

DOC = Path(__file__).resolve().parent.parent / "docs" / "hopsworks.md"


def test_the_page_is_generated_and_current() -> None:
    assert DOC.read_text() == render(), "regenerate: python -m lakebox.hsfs_calls > docs/hopsworks.md"


@pytest.mark.parametrize("call", [c for c in CALLS if c.target], ids=lambda c: c.call[:60])
def test_every_listed_target_exists(call: object) -> None:
    assert resolve(call.target) is not None  # type: ignore[attr-defined]


def test_statuses_are_known_and_not_applicable_calls_say_why() -> None:
    assert all(c.status in STATUSES for c in CALLS)
    assert all(c.note for c in CALLS if c.status in ("different", "not applicable"))


def test_the_hopsworks_alias_is_opt_in_and_never_shadows_the_real_sdk() -> None:
    assert "hopsworks" not in sys.modules or getattr(sys.modules["hopsworks"], "__lakebox_alias__", False)
    try:
        compat.install_hopsworks_alias()
        from hopsworks import udf  # type: ignore[import-not-found]
        from hopsworks.hsfs.builtin_transformations import label_encoder  # type: ignore[import-not-found]
        from hsfs.transformation_statistics import TransformationStatistics  # type: ignore[import-not-found]

        from lakebox.builtin_transformations import label_encoder as ours
        from lakebox.udf import TransformationStatistics as our_statistics
        from lakebox.udf import udf as our_udf

        assert (label_encoder, TransformationStatistics, udf) == (ours, our_statistics, our_udf)
        from hsfs.feature import Feature  # type: ignore[import-not-found]

        feature = Feature("amount", type="double", description="in EUR", partition=False, online_type="DOUBLE")
        assert (feature.name, feature.type, feature.description) == ("amount", "double", "in EUR")
        assert compat.install_hopsworks_alias(), "idempotent"
    finally:
        compat.uninstall_hopsworks_alias()
    assert "hopsworks" not in sys.modules
    sys.modules["hsml"] = types.ModuleType("hsml")  # stands in for the real SDK
    try:
        with pytest.raises(ValidationError, match="will not shadow"):
            compat.install_hopsworks_alias()
        assert "hopsworks" not in sys.modules
    finally:
        del sys.modules["hsml"]

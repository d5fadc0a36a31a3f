"""Testing helpers for lakebox users and teachers: a pytest plugin and assertions.

The plugin (``lakebox.testing.plugin``) is registered as a ``pytest11`` entry point, so once
lakebox is installed its fixtures (``lakebox_box``, ``lakebox_demo_box``,
``lakebox_feature_group``) are available in every test without a ``conftest.py``.

>>> from lakebox.testing import assert_group_equals, assert_pit_correct, assert_reproducible
"""

from lakebox.testing.asserts import assert_group_equals, assert_pit_correct, assert_reproducible

__all__ = ["assert_group_equals", "assert_pit_correct", "assert_reproducible"]

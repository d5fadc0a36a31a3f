"""hsfs' built-in transformation functions, importable as Hopsworks code imports them
(``from hopsworks.hsfs.builtin_transformations import label_encoder`` becomes
``from lakebox.builtin_transformations import label_encoder``): each is lakebox's built-in of
the same name (``lakebox.transformations``), attached to a feature by calling it:
``transformation_functions=[min_max_scaler("amount"), label_encoder("category")]``.
"""

from __future__ import annotations

from lakebox.udf import builtin

__all__ = ["label_encoder", "min_max_scaler", "one_hot_encoder", "robust_scaler", "standard_scaler"]

min_max_scaler = builtin("min_max_scaler", float)
standard_scaler = builtin("standard_scaler", float)
robust_scaler = builtin("robust_scaler", float)
label_encoder = builtin("label_encoder", int)
one_hot_encoder = builtin("one_hot_encoder", bool)

"""Opt-in import aliases so that Hopsworks code runs with its own imports unchanged.

``from hopsworks.hsfs.builtin_transformations import label_encoder`` needs a module named
``hopsworks``. lakebox does not ship a top-level ``hopsworks`` package (it would shadow the
real SDK for anyone who has both installed); instead, one explicit call registers alias
modules in ``sys.modules`` for this process:

>>> import lakebox.compat
>>> lakebox.compat.install_hopsworks_alias()                # doctest: +SKIP
>>> import hopsworks                                        # doctest: +SKIP
>>> project = hopsworks.login()     # lakebox.connect(): $LAKEBOX_HOME or ./.lakebox  # doctest: +SKIP

It refuses (``ValidationError``) when the real ``hopsworks``/``hsfs``/``hsml`` is importable,
unless ``force=True``. The aliases: ``hopsworks`` (``login``, ``udf``), ``hopsworks.hsfs``,
``hopsworks.hsfs.builtin_transformations``, ``hsfs``, ``hsfs.builtin_transformations``,
``hsfs.hopsworks_udf`` (``udf``), ``hsfs.transformation_statistics``
(``TransformationStatistics``), ``hsfs.feature`` (``Feature``). Without the call, write the
lakebox imports: ``from lakebox.builtin_transformations import label_encoder``,
``from lakebox.udf import udf, TransformationStatistics``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any

from lakebox.errors import ValidationError

ALIASES = (
    "hopsworks", "hopsworks.hsfs", "hopsworks.hsfs.builtin_transformations", "hopsworks.hsfs.transformation_statistics",
    "hopsworks.hsfs.hopsworks_udf", "hsfs", "hsfs.builtin_transformations", "hsfs.hopsworks_udf",
    "hsfs.transformation_statistics", "hsfs.feature",
)


def login(project: str | None = None, api_key_value: str | None = None, host: str | None = None, **options: Any) -> Any:
    """hopsworks.login(): opens the box at ``$LAKEBOX_HOME`` (or ``./.lakebox``); the host, project
    name and API key of a Hopsworks cluster have no meaning for a local box and are ignored."""
    import lakebox

    return lakebox.connect(os.environ.get("LAKEBOX_HOME"))


def _module(name: str, **attributes: Any) -> types.ModuleType:
    module = types.ModuleType(name, f"lakebox alias of {name} (lakebox.compat.install_hopsworks_alias)")
    module.__dict__.update(attributes)
    module.__lakebox_alias__ = True  # type: ignore[attr-defined]
    return module


def install_hopsworks_alias(force: bool = False) -> list[str]:
    """Register the alias modules (see the module docstring); returns their names. Idempotent."""
    from lakebox import builtin_transformations as builtins
    from lakebox import udf as udf_module
    from lakebox.hsfs_compat import hsfs_feature as Feature  # noqa: N812 - hsfs' class name

    if not force:
        for real in ("hopsworks", "hsfs", "hsml"):
            existing = sys.modules.get(real)
            if existing is not None and getattr(existing, "__lakebox_alias__", False):
                continue
            if existing is not None or importlib.util.find_spec(real) is not None:
                raise ValidationError(
                    f"The real {real!r} package is installed; lakebox will not shadow it. Use lakebox's own imports "
                    "(lakebox.builtin_transformations, lakebox.udf), or pass force=True in a process that never "
                    "needs the real one."
                )
    transformation_statistics = _module("hsfs.transformation_statistics",
                                        TransformationStatistics=udf_module.TransformationStatistics)
    hopsworks_udf = _module("hsfs.hopsworks_udf", udf=udf_module.udf, HopsworksUdf=udf_module.HopsworksUdf)
    builtin = _module("hsfs.builtin_transformations", **{n: getattr(builtins, n) for n in builtins.__all__})
    feature = _module("hsfs.feature", Feature=Feature)
    hsfs = _module("hsfs", builtin_transformations=builtin, transformation_statistics=transformation_statistics,
                   hopsworks_udf=hopsworks_udf, feature=feature, udf=udf_module.udf)
    hopsworks = _module("hopsworks", login=login, udf=udf_module.udf, hsfs=hsfs)
    modules = {
        "hopsworks": hopsworks, "hopsworks.hsfs": hsfs, "hopsworks.hsfs.builtin_transformations": builtin,
        "hopsworks.hsfs.transformation_statistics": transformation_statistics,
        "hopsworks.hsfs.hopsworks_udf": hopsworks_udf, "hsfs": hsfs, "hsfs.builtin_transformations": builtin,
        "hsfs.hopsworks_udf": hopsworks_udf, "hsfs.transformation_statistics": transformation_statistics,
        "hsfs.feature": feature,
    }
    sys.modules.update(modules)
    return sorted(modules)


def uninstall_hopsworks_alias() -> None:
    """Remove the alias modules this process registered (real packages are left alone)."""
    for name in ALIASES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__lakebox_alias__", False):
            del sys.modules[name]

"""lakebox: an embedded, single-node lakehouse for ML.

>>> import lakebox
>>> project = lakebox.connect("my.lakebox")          # doctest: +SKIP
>>> fs = project.get_feature_store()                  # doctest: +SKIP
"""

# typing.TYPE_CHECKING without importing typing: `import lakebox` (and the console script's
# fast `fg list`, lakebox.entry) loads no more than it must; mypy reads any TYPE_CHECKING as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    from lakebox.errors import (
        AlreadyExistsError,
        AuthError,
        BoxMovedWarning,
        ConflictError,
        DuplicateKeyError,
        InvalidNameError,
        LakeboxError,
        LakeboxWarning,
        MissingDependencyError,
        NotFoundError,
        NullKeyError,
        OnlineBehindError,
        QueryError,
        SchemaMismatchError,
        StorageError,
        TimezoneError,
        ValidationError,
    )
    from lakebox.feature import Feature
    from lakebox.project import Project, connect

# loaded on first use (module __getattr__ below, with the error classes of __all__): `import
# lakebox` stays light
_LAZY = {"Feature": "lakebox.feature", "Project": "lakebox.project", "connect": "lakebox.project"}


def register_transformation_function(*args: object, **kwargs: object) -> None:
    """Register a user transformation function by name (see ``lakebox.transformations``)."""
    from lakebox.transformations import register_transformation_function as register

    register(*args, **kwargs)  # type: ignore[arg-type]


__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "BoxMovedWarning",
    "ConflictError",
    "DuplicateKeyError",
    "Feature",
    "InvalidNameError",
    "LakeboxError",
    "LakeboxWarning",
    "MissingDependencyError",
    "NotFoundError",
    "NullKeyError",
    "OnlineBehindError",
    "Project",
    "QueryError",
    "SchemaMismatchError",
    "StorageError",
    "TimezoneError",
    "ValidationError",
    "connect",
    "register_transformation_function",
]


def __getattr__(name: str) -> object:
    """The error classes, ``lakebox.connect``, ``Project`` and ``Feature`` (pyarrow and the
    engines), and ``lakebox.expect``, ``lakebox.stats``, ``lakebox.experiment`` and
    ``lakebox.sources`` (DuckDB, sqlglot, torch helpers) load on first use, so ``import lakebox``
    stays fast; so does the ``@lakebox.on_demand`` decorator."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    if name in __all__:  # the error classes (lakebox.errors)
        from lakebox import errors

        value = getattr(errors, name)
        globals()[name] = value
        return value
    if name in ("expect", "stats", "experiment", "sources"):
        import importlib

        return importlib.import_module(f"lakebox.{name}")
    if name == "on_demand":
        from lakebox.ondemand import on_demand

        return on_demand
    raise AttributeError(f"module 'lakebox' has no attribute {name!r}")

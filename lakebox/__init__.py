"""lakebox: an embedded, single-node lakehouse for ML.

>>> import lakebox
>>> project = lakebox.connect("my.lakebox")          # doctest: +SKIP
>>> fs = project.get_feature_store()                  # doctest: +SKIP
"""

from lakebox.errors import (
    AlreadyExistsError,
    AuthError,
    BoxMovedWarning,
    ConflictError,
    DuplicateKeyError,
    InvalidNameError,
    LakeboxError,
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
    """``lakebox.expect``, ``lakebox.stats``, ``lakebox.experiment`` and ``lakebox.sources``
    load on first use (they pull in DuckDB, sqlglot or torch helpers; ``import lakebox``
    stays fast), as does the ``@lakebox.on_demand`` decorator."""
    if name in ("expect", "stats", "experiment", "sources"):
        import importlib

        return importlib.import_module(f"lakebox.{name}")
    if name == "on_demand":
        from lakebox.ondemand import on_demand

        return on_demand
    raise AttributeError(f"module 'lakebox' has no attribute {name!r}")

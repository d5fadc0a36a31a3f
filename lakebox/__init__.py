"""lakebox: an embedded, single-node lakehouse for ML.

>>> import lakebox
>>> project = lakebox.connect("my.lakebox")          # doctest: +SKIP
>>> fs = project.get_feature_store()                  # doctest: +SKIP
"""

from lakebox.errors import (
    AlreadyExistsError,
    AuthError,
    ConflictError,
    DuplicateKeyError,
    InvalidNameError,
    LakeboxError,
    NotFoundError,
    NullKeyError,
    QueryError,
    SchemaMismatchError,
    StorageError,
    TimezoneError,
    ValidationError,
)
from lakebox.feature import Feature
from lakebox.project import Project, connect

__version__ = "0.1.0"

__all__ = [
    "AlreadyExistsError",
    "AuthError",
    "ConflictError",
    "DuplicateKeyError",
    "Feature",
    "InvalidNameError",
    "LakeboxError",
    "NotFoundError",
    "NullKeyError",
    "Project",
    "QueryError",
    "SchemaMismatchError",
    "StorageError",
    "TimezoneError",
    "ValidationError",
    "connect",
]

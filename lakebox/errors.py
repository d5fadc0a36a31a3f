"""The error hierarchy: every error a user can cause is a ``LakeboxError``.

Each class carries a machine-readable ``code`` and the ``http_status`` the server answers
with, as data, so the CLI, the HTTP API and the Python API report one error one way.
"""

from __future__ import annotations

from typing import Any


class LakeboxError(Exception):
    """Root of every error lakebox raises on purpose."""

    code: str = "lakebox_error"
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of this error (used by the CLI's ``--output json`` and the server)."""
        from lakebox.jsonpolicy import jsonable  # the one JSON policy (NaN -> null, times ISO UTC, bytes base64)

        return {"error": self.code, "message": self.message, "details": jsonable(self.details)}


class NotFoundError(LakeboxError):
    """A named asset (group, version, commit, feature) does not exist."""

    code = "not_found"
    http_status = 404


class AlreadyExistsError(LakeboxError):
    """Creating an asset whose name and version are taken."""

    code = "already_exists"
    http_status = 409


class ValidationError(LakeboxError):
    """Input that lakebox refuses; nothing was written."""

    code = "validation_error"
    http_status = 422

    def __init__(self, message: str, report: Any = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.report = report


class InvalidNameError(ValidationError):
    """A group, feature or view name that is not a plain lower-case identifier."""

    code = "invalid_name"


class SchemaMismatchError(ValidationError):
    """A column is missing, extra, or of a type that does not match the group's schema."""

    code = "schema_mismatch"


class NullKeyError(ValidationError):
    """A primary key or event time column holds nulls."""

    code = "null_key"


class DuplicateKeyError(ValidationError):
    """Two rows of one batch share a primary key (and event time)."""

    code = "duplicate_key"


class TimezoneError(ValidationError):
    """A naive (timezone-less) timestamp where lakebox needs an instant."""

    code = "timezone_error"


class ConflictError(LakeboxError):
    """A concurrent writer won, or a lock could not be taken in time."""

    code = "conflict"
    http_status = 409


class StorageError(LakeboxError):
    """The box on disk is unreadable, too new, or an engine failed underneath."""

    code = "storage_error"
    http_status = 500


class OnlineBehindError(StorageError):
    """A commit is durable offline but the online store could not mirror it.

    ``commit`` is the commit that was written: the data is in the offline store and in the
    commit log. The online store lags behind it until a catch-up succeeds (every online read
    retries it) or ``lakebox online rebuild`` runs.
    """

    code = "online_behind"
    http_status = 503

    def __init__(self, message: str, commit: Any = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.commit = commit


class QueryError(LakeboxError):
    """SQL or a query that cannot be planned or executed."""

    code = "query_error"
    http_status = 400


class MissingDependencyError(LakeboxError):
    """An optional dependency (an extra such as ``lakebox[train]``) is not installed."""

    code = "missing_dependency"
    http_status = 501


class AuthError(LakeboxError):
    """Missing or wrong credentials."""

    code = "auth_error"
    http_status = 401


class LakeboxWarning(UserWarning):
    """The root of lakebox's warnings: something works, but not as the user may expect."""


class BoxMovedWarning(LakeboxWarning):
    """The box was copied or moved: lakebox reads it correctly, but other engines reading its
    Iceberg metadata would read the original location until ``lakebox box relocate`` runs."""

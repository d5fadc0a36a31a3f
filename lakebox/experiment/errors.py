"""Errors of ``lakebox.experiment``: every one a ``LakeboxError`` with a message that says the fix."""

from __future__ import annotations

from typing import Any

from lakebox.errors import LakeboxError, ValidationError


class SearchspaceError(ValidationError):
    """A search space entry of the wrong shape (type, bounds, choices)."""

    code = "invalid_searchspace"


class SignatureError(ValidationError):
    """The training function's parameters do not match what the config provides."""

    code = "signature_mismatch"


class ExperimentError(LakeboxError):
    """A run failed: the single run (or every trial) raised, or a rank of a distributed run died.

    ``result`` is the recorded run (``lakebox.experiment.Result``); ``traceback`` the worker's
    traceback text of the (first) failure.
    """

    code = "experiment_failed"
    http_status = 500

    def __init__(self, message: str, result: Any = None, traceback: str = "", **details: Any) -> None:
        super().__init__(message, **details)
        self.result = result
        self.traceback = traceback

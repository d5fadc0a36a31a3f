"""Structural types that more than one implementation satisfies.

``FeatureViewLike`` is what code may call on a feature view wherever it lives: the local
``lakebox.feature_view.FeatureView`` and the HTTP client's ``lakebox.client.RemoteFeatureView``
(``lakebox.connect("http://...")``) both satisfy it; ``DeploymentLike`` likewise for
``lakebox.deployments.Deployment`` and the client's ``RemoteDeployment``. mypy checks both against it
(``tests/typing_conformance.py``, run by ``tests/test_typing.py``), so a parameter renamed or
dropped on one side fails the tests instead of a user's code that runs on the other.

>>> def score(view: FeatureViewLike, key: int) -> list:  # doctest: +SKIP
...     return view.get_feature_vector({"player_id": key})

This module imports nothing from lakebox: api objects and interfaces may both use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol


class FeatureViewLike(Protocol):
    """A feature view, local or remote: its metadata, feature vectors, training data and batch data."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> int: ...

    @property
    def labels(self) -> list[str]: ...

    @property
    def primary_key(self) -> list[str]: ...

    def get_feature_vector(
        self,
        entry: Mapping[str, Any],
        passed_features: Mapping[str, Any] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        *,
        request_parameters: Mapping[str, Any] | None = None,
    ) -> Any:
        """One feature vector for ``entry`` (the serving keys): a list, or a dict, frame or array
        as ``return_type`` says."""
        ...

    def get_feature_vectors(
        self,
        entries: Sequence[Mapping[str, Any]],
        passed_features: Sequence[Mapping[str, Any]] | None = None,
        return_type: str = "list",
        allow_missing: bool = False,
        *,
        return_status: bool = False,
        request_parameters: Sequence[Mapping[str, Any]] | None = None,
    ) -> Any:
        """One vector per entry, in order (with ``return_status``: ``(vectors, statuses)``)."""
        ...

    def get_training_data(self, training_dataset_version: int, dataframe_type: str = "pandas") -> tuple[Any, ...]:
        """The frames of a materialised training dataset: ``(X, y)`` or the split tuple."""
        ...

    def get_batch_data(
        self, start_time: Any = None, end_time: Any = None, *, dataframe_type: str = "pandas", transformed: bool = True
    ) -> Any:
        """The view's features (no labels) between two event times, for batch scoring."""
        ...


class DeploymentLike(Protocol):
    """A model deployment, local or remote: ``predict`` looks the features up, predicts and logs."""

    @property
    def name(self) -> str: ...

    @property
    def model_name(self) -> str: ...

    @property
    def serving_keys(self) -> list[str]: ...

    def predict(
        self,
        entries: Mapping[str, Any] | Sequence[Mapping[str, Any]],
        passed_features: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        allow_missing: bool = False,
    ) -> dict[str, Any]:
        """One entry: ``{"deployment", "prediction", "model_version", "status"}``; a list of
        entries: ``{"deployment", "predictions", "model_versions", "statuses"}``, in order."""
        ...

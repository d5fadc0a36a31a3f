"""Lab 3: a feature view with transformations, and training/serving equality. Fill in the TODOs."""

from __future__ import annotations

from typing import Any


def create_view(fs: Any, churn: Any, customers: Any) -> Any:
    """The feature view ``churn_model`` v1 (label ``churned``; spend scaled, plan encoded)."""
    raise NotImplementedError("TODO: exercise 1")


def make_training_dataset(fv: Any) -> int:
    """A training dataset with a 25% test split, seed 7; returns its version."""
    raise NotImplementedError("TODO: exercise 2")


def training_rows(fv: Any, version: int) -> dict[int, dict[str, Any]]:
    """``{customer_id: {feature: transformed value}}`` over the train and test splits (no label)."""
    raise NotImplementedError("TODO: exercise 3")


def serve(fv: Any, version: int, customer_id: int) -> dict[str, Any]:
    """The online feature vector of ``customer_id`` as a dict, transformed as in ``version``."""
    raise NotImplementedError("TODO: exercise 4")

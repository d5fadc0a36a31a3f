"""Lab 3: a feature view with transformations, and training/serving equality — the solution."""

from __future__ import annotations

from typing import Any

import pandas as pd


def create_view(fs: Any, churn: Any, customers: Any) -> Any:
    """The feature view ``churn_model`` v1 (label ``churned``; spend scaled, plan encoded)."""
    query = churn.select_all().join(customers.select(["spend", "age", "plan"]))
    return fs.create_feature_view(
        "churn_model", version=1, query=query, labels=["churned"],
        transformation_functions={"spend": "standard_scaler", "plan": "label_encoder"},
    )


def make_training_dataset(fv: Any) -> int:
    """A training dataset with a 25% test split, seed 7; returns its version."""
    return fv.create_training_dataset(test_size=0.25, seed=7)


def training_rows(fv: Any, version: int) -> dict[int, dict[str, Any]]:
    """``{customer_id: {feature: transformed value}}`` over the train and test splits (no label)."""
    x_train, x_test, _, _ = fv.get_training_data(version, primary_key=True)
    rows = pd.concat([x_train, x_test], ignore_index=True).to_dict("records")
    return {int(row.pop("customer_id")): row for row in rows}


def serve(fv: Any, version: int, customer_id: int) -> dict[str, Any]:
    """The online feature vector of ``customer_id`` as a dict, transformed as in ``version``."""
    return fv.get_feature_vector({"customer_id": customer_id}, return_type="dict", training_dataset_version=version)

"""Model deployments: predictions enriched from the online store, prediction logs, traffic
splits between model versions (issue 13). See ``docs/deployments.md``."""

from __future__ import annotations

from typing import Any

__all__ = ["Deployment", "ModelServing", "PredictorError", "RowLogger"]


def __getattr__(name: str) -> Any:  # lazy: importing the package does not load pandas or the catalog
    if name == "Deployment":
        from lakebox.deployments.deployment import Deployment

        return Deployment
    if name == "ModelServing":
        from lakebox.deployments.serving import ModelServing

        return ModelServing
    if name == "PredictorError":
        from lakebox.deployments.predictors import PredictorError

        return PredictorError
    if name == "RowLogger":
        from lakebox.deployments.rowlog import RowLogger

        return RowLogger
    raise AttributeError(name)

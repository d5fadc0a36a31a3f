"""The hooks that put deployments on the shared api objects (one base class each):
``Model.deploy``, ``Project.get_model_serving``. Imports are lazy so that importing the
registry or the project does not load the serving stack."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakebox.deployments.deployment import Deployment
    from lakebox.deployments.serving import ModelServing


class DeployMixin:
    """``model.deploy(...)`` on a registered model version."""

    def deploy(
        self,
        name: str | None = None,
        predictor: str | os.PathLike[str] | None = None,
        serving_keys: Sequence[str] | None = None,
        description: str = "",
        log: bool = True,
        prediction_type: str = "double",
    ) -> Deployment:
        """Serve this model version: ``deployment.predict({"player_id": 3})`` looks the features
        up online, transforms them as for training, predicts and logs the request.

        ``name`` defaults to the model's name; ``predictor`` is None (the model's own files: a
        scikit-learn/joblib pickle, TorchScript or torch.export file, or a saved predictor.py)
        or the path of a predictor.py with ``class Predict``; ``serving_keys`` default to the
        feature view's primary key; ``log=False`` keeps no prediction log; ``prediction_type``
        is the log's prediction column type (double or string).
        """
        registry: Any = getattr(self, "_registry")  # noqa: B009 - Model keeps its registry here
        serving = registry._project.get_model_serving()
        deployment = serving.deploy(
            self,
            name=name,
            predictor=predictor,
            serving_keys=serving_keys,
            description=description,
            log=log,
            prediction_type=prediction_type,
        )
        model: Any = self
        run = model.experiment  # the lagom run that made the model, if any
        if run is not None and run.environment:  # EnvironmentDriftWarning: packages of the run differ here
            import warnings

            from lakebox.ops.pyenv import drift_warning

            found = drift_warning(run.environment, f"Model {model.name} v{model.version}")
            if found is not None:
                warnings.warn(found, stacklevel=2)
        return deployment


class ServingProjectMixin:
    """``project.get_model_serving()``."""

    def get_model_serving(self) -> ModelServing:
        """The box's model deployments (``lakebox.deployments.ModelServing``)."""
        from lakebox.deployments.serving import ModelServing

        found: ModelServing | None = self.__dict__.get("_model_serving")
        if found is None:
            found = ModelServing(self)
            self.__dict__["_model_serving"] = found
        return found

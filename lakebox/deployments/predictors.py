"""Predictors: what turns a frame of features into predictions for one model version.

Three kinds, found in the model's folder (``model.save(...)``) unless the deployment names a
``predictor.py``:

- **scikit-learn** (or anything with ``predict``): a ``*.joblib``, ``*.pkl`` or ``*.pickle``
  file, loaded with joblib (which reads plain pickles too);
- **TorchScript** (``*.pt``, ``*.pth``, ``*.torchscript``, via ``torch.jit.load``) or a
  ``torch.export`` program (``*.pt2``, via ``torch.export.load``): called on a float32
  tensor of the features;
- **Python**: a user's ``predictor.py`` with ``class Predict`` whose ``__init__(self, model_dir)``
  loads anything and whose ``predict(self, features: pandas.DataFrame)`` returns one
  prediction per row.

Loading and predicting are wrapped: whatever a model raises becomes a ``PredictorError``
that names the deployment and the model version (never a stack trace over HTTP).
"""

from __future__ import annotations

import abc
import importlib.util
import itertools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lakebox.errors import LakeboxError, MissingDependencyError, NotFoundError, ValidationError
from lakebox.extras import require

SKLEARN_SUFFIXES = (".joblib", ".pkl", ".pickle")
TORCH_SUFFIXES = (".pt", ".pth", ".torchscript")
EXPORT_SUFFIXES = (".pt2",)
PREDICTOR_FILE = "predictor.py"
_modules = itertools.count(1)


class PredictorError(LakeboxError):
    """A deployment's predictor failed to load or to predict (the model's own error, wrapped)."""

    code = "predictor_error"
    http_status = 500


class Predictor(abc.ABC):
    """A loaded model version: ``predict(frame) -> list`` (one value per row)."""

    kind = "predictor"

    def __init__(self, deployment: str, version: int, source: Path) -> None:
        self.deployment = deployment
        self.version = version
        self.source = source

    @abc.abstractmethod
    def _raw(self, frame: Any) -> Any:
        """The model's own output for ``frame`` (each kind of predictor calls its model)."""

    def predict(self, frame: Any) -> list[Any]:
        try:
            result = self._raw(frame)
        except LakeboxError:
            raise
        except Exception as e:  # the model's own failure, whatever it is
            raise PredictorError(
                f"Deployment {self.deployment!r} (model version {self.version}, {self.kind} predictor "
                f"{self.source.name}) failed to predict {len(frame)} row(s): {type(e).__name__}: {e}",
                deployment=self.deployment, model_version=self.version,
            ) from e
        return _as_list(result, len(frame), self)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "file": self.source.name, "model_version": self.version}


class EstimatorPredictor(Predictor):
    kind = "sklearn"

    def __init__(self, deployment: str, version: int, source: Path) -> None:
        super().__init__(deployment, version, source)
        joblib = require("joblib", "A scikit-learn model deployment")  # the train extra

        self.estimator = joblib.load(source)
        if not hasattr(self.estimator, "predict"):
            raise PredictorError(
                f"{source.name} of model version {version} holds a {type(self.estimator).__name__}, which has no "
                f"predict method; save an estimator, or give deploy(predictor='predictor.py') for other objects.",
                deployment=deployment,
            )
        # an estimator fitted on a frame checks the column names; one fitted on an array warns on a frame
        self._frames = hasattr(self.estimator, "feature_names_in_")

    def _raw(self, frame: Any) -> Any:
        return self.estimator.predict(frame if self._frames else frame.to_numpy())


class TorchPredictor(Predictor):
    kind = "torchscript"

    def __init__(self, deployment: str, version: int, source: Path) -> None:
        super().__init__(deployment, version, source)
        torch = _torch()
        if source.suffix in EXPORT_SUFFIXES:
            self.kind = "torch.export"
            self.module = torch.export.load(str(source)).module()
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # torch 2.13 deprecates TorchScript
                    self.module = torch.jit.load(str(source), map_location="cpu")
            except RuntimeError as e:
                raise PredictorError(
                    f"{source.name} of model version {version} is not a TorchScript file ({e}). Save the model with "
                    "torch.jit.save(torch.jit.script(model), 'model.pt'), or deploy it with a predictor.py.",
                    deployment=deployment,
                ) from e
            self.module.eval()
        self._torch = torch

    def _raw(self, frame: Any) -> Any:
        import numpy as np

        torch = self._torch
        values = np.asarray(frame.to_numpy(dtype=np.float32, na_value=np.nan), dtype=np.float32)
        with torch.no_grad():
            out = self.module(torch.from_numpy(values))
        return out.detach().cpu().numpy()


class PythonPredictor(Predictor):
    kind = "python"

    def __init__(self, deployment: str, version: int, source: Path, model_dir: Path) -> None:
        super().__init__(deployment, version, source)
        spec = importlib.util.spec_from_file_location(f"lakebox_predictor_{next(_modules)}", source)
        if spec is None or spec.loader is None:
            raise ValidationError(f"Cannot load {source} as a Python module.")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            cls = getattr(module, "Predict", None)
            if cls is None:
                raise ValidationError(
                    f"{source} defines no class Predict; write `class Predict:` with __init__(self, model_dir) and "
                    "predict(self, features) -> one prediction per row."
                )
            self.instance = cls(str(model_dir))
        except LakeboxError:
            raise
        except Exception as e:
            raise PredictorError(
                f"Deployment {deployment!r}: loading {source.name} for model version {version} failed: "
                f"{type(e).__name__}: {e}",
                deployment=deployment,
            ) from e
        if not callable(getattr(self.instance, "predict", None)):
            raise ValidationError(f"{source}: class Predict has no predict(self, features) method.")

    def _raw(self, frame: Any) -> Any:
        return self.instance.predict(frame)


def find_model_file(model_dir: Path) -> Path | None:
    """The model file the automatic predictor would load (None: nothing it can load)."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file()) if model_dir.is_dir() else []
    for suffixes in (SKLEARN_SUFFIXES, TORCH_SUFFIXES, EXPORT_SUFFIXES):
        found = [p for p in files if p.suffix in suffixes]
        if found:
            return min(found, key=lambda p: (len(p.relative_to(model_dir).parts), p.name))
    return None


def load_predictor(deployment: str, version: int, model_dir: Path, predictor_file: Path | None) -> Predictor:
    """The predictor of one model version: the deployment's ``predictor.py``, a ``predictor.py``
    saved with the model, or the model file found in its folder."""
    if predictor_file is not None:
        return PythonPredictor(deployment, version, predictor_file, model_dir)
    own = model_dir / PREDICTOR_FILE
    if own.is_file():
        return PythonPredictor(deployment, version, own, model_dir)
    found = find_model_file(model_dir)
    if found is None:
        listed = sorted(str(p.relative_to(model_dir)) for p in model_dir.rglob("*") if p.is_file()) if model_dir.is_dir() else []
        raise NotFoundError(
            f"Model version {version} of deployment {deployment!r} has no file a predictor can load (its files: "
            f"{listed}). Save a scikit-learn estimator (*.joblib, *.pkl), a TorchScript (*.pt) or torch.export "
            "(*.pt2) file with model.save(), or deploy with predictor='predictor.py' (class Predict).",
            deployment=deployment,
        )
    try:
        if found.suffix in SKLEARN_SUFFIXES:
            return EstimatorPredictor(deployment, version, found)
        return TorchPredictor(deployment, version, found)
    except LakeboxError:
        raise
    except Exception as e:
        raise PredictorError(
            f"Deployment {deployment!r}: loading {found.name} of model version {version} failed: "
            f"{type(e).__name__}: {e}",
            deployment=deployment,
        ) from e


def _torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise MissingDependencyError(
            "This model is a torch file, and torch is not installed: pip install 'lakebox[train]'."
        ) from e
    return torch


def _as_list(result: Any, rows: int, predictor: Predictor) -> list[Any]:
    """One plain Python value per row (a column vector becomes scalars)."""
    import numpy as np

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        array = np.asarray(result)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim == 0 or array.shape[0] != rows:
        raise PredictorError(
            f"Deployment {predictor.deployment!r} (model version {predictor.version}): the predictor returned "
            f"{'a scalar' if array.ndim == 0 else f'{array.shape[0]} values'} for {rows} row(s); predict() must "
            "return one prediction per row.",
            deployment=predictor.deployment,
        )
    return array.tolist()


def describe_all(predictors: Sequence[Predictor]) -> list[dict[str, Any]]:
    return [p.describe() for p in predictors]

"""The dataset and model factories a training function receives, and the trials of an ablation.

``dataset_factory()`` returns a materialised training dataset of a feature view (the same
tuple as ``fv.get_training_data``), without the feature an ablation trial leaves out;
``dataset_factory.torch_dataset(split)`` the PyTorch view of it. ``model_factory()`` builds
the model without the component a trial leaves out. Outside an ablation nothing is left out,
so the same function runs in every context.
"""

from __future__ import annotations

import inspect
from typing import Any

from lakebox.errors import NotFoundError, ValidationError
from lakebox.experiment.port import Recorder


class DatasetFactory:
    """Reads a training dataset version of a feature view, optionally without one feature."""

    def __init__(
        self, recorder: Recorder, feature_view: str, feature_view_version: int, version: int, drop: str | None = None
    ) -> None:
        self.recorder = recorder
        self.feature_view = feature_view
        self.feature_view_version = feature_view_version
        self.version = version
        self.dropped = drop

    def __repr__(self) -> str:
        left = f", without {self.dropped!r}" if self.dropped else ""
        return f"DatasetFactory({self.feature_view} v{self.feature_view_version}, training dataset v{self.version}{left})"

    def view(self) -> Any:
        return self.recorder.feature_view(self.feature_view, self.feature_view_version)

    def _drop_columns(self, view: Any) -> list[str]:
        if self.dropped is None:
            return []
        fitted = view.transformations_for(self.version)
        return fitted.output_columns([self.dropped]) if fitted is not None else [self.dropped]

    @property
    def features(self) -> list[str]:
        """The view's features that this factory keeps."""
        return [f for f in self.view().features if f != self.dropped]

    def __call__(self, dataframe_type: str = "pandas", **kwargs: Any) -> tuple[Any, ...]:
        """``fv.get_training_data(version)`` without the left-out feature: ``(X, y)``,
        ``(X_train, X_test, y_train, y_test)`` or the six-tuple with validation."""
        view = self.view()
        data = view.get_training_data(self.version, dataframe_type=dataframe_type, **kwargs)
        drop = self._drop_columns(view)
        if not drop:
            return data
        half = len(data) // 2
        return tuple(_drop(x, drop) for x in data[:half]) + tuple(data[half:])

    def torch_dataset(self, split: str = "train", **kwargs: Any) -> Any:
        """The PyTorch ``IterableDataset`` of a split, without the left-out feature."""
        view = self.view()
        dataset = view.torch_dataset(self.version, split, **kwargs)
        drop = self._drop_columns(view)
        if not drop:
            return dataset
        from lakebox.training.torch_data import TrainingIterable

        features = [c for c in dataset.feature_columns if c not in drop]
        return TrainingIterable(dataset.files, dataset.format, features, dataset.label_columns, schema=dataset.schema, **kwargs)


def _drop(frame: Any, columns: list[str]) -> Any:
    if hasattr(frame, "drop_columns"):  # pyarrow
        return frame.drop_columns([c for c in columns if c in frame.column_names])
    present = [c for c in columns if c in list(frame.columns)]
    if not present:
        return frame
    if hasattr(frame, "to_pandas") and not hasattr(frame, "iloc"):  # polars
        return frame.drop(present)
    return frame.drop(columns=present)  # pandas


class ModelFactory:
    """Builds the model with the user's factory, leaving out one named component if asked.

    The factory receives the hyperparameters its signature names, and ``omit`` (the component
    to leave out, or None) if it takes it. Otherwise the component is a dotted path to a
    submodule of the returned ``torch.nn.Module``, replaced by ``torch.nn.Identity()``.
    """

    def __init__(self, factory: bytes, omit: str | None = None, hparams: dict[str, Any] | None = None) -> None:
        self._factory_bytes = factory
        self.omitted = omit
        self.hparams = dict(hparams or {})

    def __repr__(self) -> str:
        left = f", without {self.omitted!r}" if self.omitted else ""
        return f"ModelFactory({self._factory()!r}{left})"

    def _factory(self) -> Any:
        from lakebox.experiment.functions import loads

        return loads(self._factory_bytes)

    def __call__(self, **overrides: Any) -> Any:
        factory = self._factory()
        parameters = inspect.signature(factory).parameters
        takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        kwargs = {k: v for k, v in self.hparams.items() if takes_all or k in parameters}
        kwargs.update(overrides)
        if "omit" in parameters:
            kwargs["omit"] = self.omitted
            return factory(**kwargs)
        model = factory(**kwargs)
        if self.omitted is not None:
            omit_submodule(model, self.omitted)
        return model


def omit_submodule(model: Any, path: str) -> None:
    """Replace the submodule at ``path`` (e.g. ``"encoder.dropout"``) by ``torch.nn.Identity``."""
    try:
        import torch
    except ImportError as e:
        raise ValidationError(
            f"Leaving out component {path!r}: the model factory takes no 'omit' argument, and replacing a "
            "submodule needs torch."
        ) from e
    if not isinstance(model, torch.nn.Module):
        raise ValidationError(
            f"Leaving out component {path!r}: the model factory returned a {type(model).__name__}, not a "
            "torch.nn.Module; give the factory an 'omit' argument and leave the component out yourself."
        )
    names = [name for name, _ in model.named_modules() if name]
    if path not in names:
        from lakebox.names import did_you_mean

        raise NotFoundError(
            f"The model has no component {path!r}{did_you_mean(path, names)} Its named submodules are {names[:20]}."
        )
    parent_path, _, leaf = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, leaf, torch.nn.Identity())


def ablation_trials(features: list[str], components: list[str], baseline: bool) -> list[dict[str, Any]]:
    """The trials of an ablation study: ``{"ablated": None | name, "kind": ...}`` each."""
    trials: list[dict[str, Any]] = []
    if baseline:
        trials.append({"ablated": None, "kind": "baseline"})
    trials.extend({"ablated": f, "kind": "feature"} for f in features)
    trials.extend({"ablated": c, "kind": "component"} for c in components)
    return trials

"""The running trial, seen from inside the training function's process.

``report(value, step)`` sends an intermediate metric to the optimizer (and raises
``EarlyStopped`` when it stops the trial); outside ``lagom`` it does nothing, so the same
function runs unchanged in a plain loop. Lineage: while a trial runs, its context listens to
the ``training_dataset_read`` event that the feature view publishes (``lakebox.experiment.hooks``);
the model registry calls ``note_model`` when a model is created; the run links both to the
experiment.

This module is imported by ``lakebox.model_registry``: it must stay light (no torch, no optuna).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lakebox.errors import LakeboxError, ValidationError
from lakebox.experiment import hooks

log = logging.getLogger(__name__)


class EarlyStopped(Exception):
    """Raised by ``report`` when the optimizer stops this trial early; let it propagate."""


@dataclass
class TrialContext:
    """What a trial knows about itself (set in the worker process around each call)."""

    experiment_id: int
    experiment_name: str
    run: int
    trial: int
    worker: int
    box: str
    rank: int = 0
    world_size: int = 1
    send_report: Callable[[float, int], bool] | None = None
    steps: list[tuple[int, float]] = field(default_factory=list)
    stop_requested: bool = False
    datasets: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)
    logdir: str | None = None
    """Where this trial's (or rank's) TensorBoard event files go, under the run's folder."""
    writer: Any = None


_current: TrialContext | None = None
_unsubscribe: Callable[[], None] | None = None


def current() -> TrialContext | None:
    """The trial running in this process, or None outside ``lagom``."""
    return _current


def set_current(context: TrialContext | None) -> None:
    """Start (or, with None, end) a trial in this process: it listens to lineage events meanwhile."""
    global _current, _unsubscribe
    if _unsubscribe is not None:
        _unsubscribe()
        _unsubscribe = None
    _current = context
    if context is not None:
        _unsubscribe = hooks.subscribe(hooks.TRAINING_DATASET_READ, note_training_dataset)


def report(metric: float, step: int | None = None) -> None:
    """Report an intermediate value of the optimised metric (e.g. validation accuracy after an epoch).

    The optimizer may stop the trial here: ``EarlyStopped`` is raised, and the trial is
    recorded as pruned with the last reported value. ``step`` defaults to the previous step
    plus one (starting at 0). Outside ``lagom`` (or on a rank other than 0) it does nothing.

    >>> report(0.5, step=1)  # outside lagom: no effect
    """
    context = _current
    if context is None or context.rank != 0:
        return
    try:
        value = float(metric)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"experiment.report needs a number, got {metric!r}.") from e
    if step is None:
        step = context.steps[-1][0] + 1 if context.steps else 0
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise ValidationError(f"experiment.report: step must be an integer >= 0, got {step!r}.")
    if context.steps and step <= context.steps[-1][0]:
        raise ValidationError(
            f"experiment.report: step {step} is not after the last reported step {context.steps[-1][0]}; "
            "report each step once, in increasing order."
        )
    context.steps.append((step, value))
    if context.stop_requested:
        raise EarlyStopped(f"trial {context.trial} was stopped early at step {step}")
    if context.send_report is not None and math.isfinite(value) and context.send_report(value, step):
        context.stop_requested = True
        raise EarlyStopped(f"trial {context.trial} was stopped early at step {step}")


TENSORBOARD_DIR = "tensorboard"


def summary_writer() -> Any:
    """The trial's ``torch.utils.tensorboard.SummaryWriter``, writing under the run's folder
    (``tensorboard/``; ``tensorboard/trial_<n>`` for a search or ablation, ``tensorboard/rank_<r>``
    for a data-parallel run); None outside ``lagom``. Needs ``pip install 'lakebox[tensorboard]'``."""
    context = _current
    if context is None or context.logdir is None:
        return None
    if context.writer is None:
        try:
            import tensorboard  # noqa: F401  (torch's writer needs it, and says so less clearly)
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            from lakebox.errors import MissingDependencyError

            raise MissingDependencyError(
                "experiment.log_scalar writes TensorBoard event files, which needs torch and tensorboard: "
                "pip install 'lakebox[tensorboard]'", package="tensorboard",
            ) from e
        context.writer = SummaryWriter(log_dir=context.logdir)
    return context.writer


def log_scalar(name: str, value: float, step: int | None = None) -> None:
    """Write ``value`` of ``name`` at ``step`` to the run's TensorBoard event files; outside
    ``lagom`` it does nothing. ``lakebox experiments tensorboard NAME`` prints the logdir.

    >>> log_scalar("loss", 0.25, step=1)  # outside lagom: no effect
    """
    if not isinstance(name, str) or not name:
        raise ValidationError(f"experiment.log_scalar needs a name, got {name!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError) as e:
        raise ValidationError(f"experiment.log_scalar({name!r}, ...) needs a number, got {value!r}.") from e
    writer = summary_writer()
    if writer is not None:
        writer.add_scalar(name, number, step)


def close_writer(context: TrialContext) -> None:
    """Flush and close the trial's writer (at the end of the trial)."""
    if context.writer is not None:
        try:
            context.writer.close()
        finally:
            context.writer = None


class Reporter:
    """Passed to a function that takes a ``reporter`` parameter (Maggy's name for it)."""

    def report(self, metric: float, step: int | None = None) -> None:
        report(metric, step)

    broadcast = report

    def log(self, message: str) -> None:
        print(message, flush=True)  # the worker's output streams back to the caller, prefixed

    @property
    def trial(self) -> int | None:
        return _current.trial if _current is not None else None

    @property
    def worker(self) -> int | None:
        return _current.worker if _current is not None else None


# -- lineage hooks --------------------------------------------------------------------------
def note_training_dataset(view: Any, version: int) -> None:
    """The listener of ``training_dataset_read`` (published by ``FeatureView`` when a training
    dataset is read): remember it for the run's lineage."""
    context = _current
    if context is None:
        return
    key = (view.name, view.version, version)
    if any((d["feature_view"], d["feature_view_version"], d["version"]) == key for d in context.datasets):
        return
    try:
        asset_id = view.training_dataset_asset(version).id
    except LakeboxError as e:  # never fail a read because of bookkeeping
        log.warning("cannot record the lineage of training dataset %s v%s: %s", view.name, version, e)
        return
    context.datasets.append(
        {"feature_view": view.name, "feature_view_version": view.version, "version": version, "asset_id": asset_id}
    )


def note_model(name: str, version: int, asset_id: int) -> TrialContext | None:
    """Called by the model registry when a model is created; returns the trial context, if any."""
    context = _current
    if context is not None and context.rank == 0:
        context.models.append({"name": name, "version": version, "asset_id": asset_id})
    return context

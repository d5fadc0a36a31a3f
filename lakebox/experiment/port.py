"""The recording port: what the lagom runtime needs from a box, as an interface.

The runtime (configs, trial context, scheduling, launching) never imports the api layer
(``lakebox.project``, the model registry): it talks to a ``Recorder`` that the api layer
implements (``lakebox.experiments.BoxRecorder``) and registers with ``bind`` when it is
imported. A recorder is picklable (it holds the box's path), so worker processes and the
ranks of a distributed run receive it with their task and open the box themselves.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lakebox.errors import ValidationError


class RunInfo(Protocol):
    """The recorded run, as the runtime sees it (``lakebox.catalog.experiments.ExperimentRow``)."""

    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def run(self) -> int: ...
    @property
    def location(self) -> str: ...
    @property
    def hparams(self) -> dict[str, Any]: ...


@runtime_checkable
class Recorder(Protocol):
    """Records runs in one box, and opens what a training function reads from it."""

    @property
    def box(self) -> str:
        """The box's folder (workers get it as ``$LAKEBOX_HOME``)."""

    @property
    def artifacts(self) -> Path:
        """The box's artifacts folder; a run's files live under ``artifacts/<run.location>``."""

    def create_run(self, *, name: str, kind: str, description: str, function: str, config: dict[str, Any],
                   hparams: dict[str, Any], metric: str | None, direction: str | None) -> RunInfo: ...

    def set_environment(self, run_id: int, environment: dict[str, Any]) -> None: ...

    def save_trial(self, run_id: int, trial: dict[str, Any]) -> None: ...

    def finish_run(self, run_id: int, *, status: str, hparams: dict[str, Any], metrics: dict[str, Any],
                   best_value: float | None, files: dict[str, str], error: str | None, duration_s: float) -> None: ...

    def link_inputs(self, run_id: int, datasets: Mapping[int, dict[str, Any]]) -> None:
        """Lineage: the training datasets (asset id -> which trials read it) -> the run."""

    def experiment(self, run_id: int) -> Any:
        """The recorded run as the api's ``Experiment`` object (``Result.experiment``)."""

    def feature_view(self, name: str, version: int | None) -> Any:
        """A feature view of the box (the dataset factory reads training data through it)."""


class ExperimentApi(Protocol):
    """The api layer's side: a recorder for a project, and recorded runs by name."""

    def recorder(self, project: Any) -> Recorder: ...

    def get_experiment(self, name: str, run: int | None, project: Any) -> Any: ...


_api: ExperimentApi | None = None


def bind(api: ExperimentApi) -> None:
    """Called by the api layer (``lakebox.experiments``) when it is imported."""
    global _api
    _api = api


def api() -> ExperimentApi:
    if _api is None:
        raise ValidationError(
            "lakebox.experiment records runs in a box: import lakebox and call lakebox.connect(path) first."
        )
    return _api


def recorder(project: Any) -> Recorder:
    """The recorder of ``project`` (an open ``Project``; None: the one ``lakebox.connect`` opened last)."""
    if isinstance(project, Recorder):
        return project
    return api().recorder(project)

"""Recorded runs of ``experiment.lagom`` in the api layer: ``Experiment``, ``get_experiment``, and
``BoxRecorder``, the box's implementation of the runtime's recording port.

The lagom runtime (``lakebox.experiment``) never imports this module or ``lakebox.project``:
this module binds itself to the runtime's port when it is imported (``Project`` imports it for
its ``ExperimentsMixin``), and the runtime records through the ``Recorder`` it gets.

>>> run = lakebox.experiments.get_experiment("attendance_gbr_search")   # doctest: +SKIP
>>> run.best_val, run.trials[0]["status"]                                 # doctest: +SKIP
(0.91, 'finished')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakebox.catalog.assets import Asset, AssetStore
from lakebox.errors import LakeboxError, NotFoundError, ValidationError
from lakebox.experiment import port
from lakebox.tags import Taggable

if TYPE_CHECKING:  # the catalog's experiment store loads when a run is read (Project imports this module)
    from lakebox.catalog.experiments import ExperimentRow, ExperimentStore
    from lakebox.feature_view import FeatureView
    from lakebox.project import Project


class Experiment(Taggable):
    """One recorded run of ``lagom``: parameters, metrics, trials, logs, environment, files."""

    _asset_kind = "experiment"
    _row: ExperimentRow

    def __init__(self, project: Project, row: ExperimentRow) -> None:
        self._project = project
        self._row = row

    # -- assets (tags, lineage, search) ---------------------------------------------------
    def _assets(self) -> AssetStore:
        return AssetStore(self._project.catalog)

    def _store(self) -> ExperimentStore:
        from lakebox.catalog.experiments import ExperimentStore

        return ExperimentStore(self._project.catalog)

    def refresh(self) -> Experiment:
        row = self._store().by_id(self._row.id)
        if row is None:
            raise NotFoundError(f"Experiment {self.name} run {self.run} was deleted.")
        self._row = row
        return self

    # -- metadata -------------------------------------------------------------------------
    @property
    def run(self) -> int:
        return self._row.run

    @property
    def version(self) -> int:
        """The run number (assets are versioned; an experiment's versions are its runs)."""
        return self._row.run

    @property
    def kind(self) -> str:
        return self._row.kind

    @property
    def status(self) -> str:
        return self._row.status

    @property
    def function(self) -> str:
        return self._row.function

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._row.config)

    @property
    def hparams(self) -> dict[str, Any]:
        """The run's hyperparameters (for a search: the best trial's)."""
        return dict(self._row.hparams)

    best_hp = hparams

    @property
    def metrics(self) -> dict[str, Any]:
        """The run's metrics (for a search or ablation: the best trial's; distributed: averaged over ranks)."""
        return dict(self._row.metrics)

    @property
    def metric(self) -> str | None:
        return self._row.metric

    @property
    def direction(self) -> str | None:
        return self._row.direction

    @property
    def best_val(self) -> float | None:
        return self._row.best_value

    @property
    def error(self) -> str | None:
        return self._row.error

    @property
    def environment(self) -> dict[str, Any]:
        return dict(self._row.environment)

    @property
    def started_at(self) -> str:
        return self._row.started_at

    @property
    def finished_at(self) -> str | None:
        return self._row.finished_at

    @property
    def duration_s(self) -> float | None:
        return self._row.duration_s

    @property
    def path(self) -> Path:
        """The run's folder in the box: ``artifacts/experiments/<name>/<run>/``."""
        return self._project.artifacts / self._row.location

    @property
    def tensorboard_dir(self) -> Path:
        """The run's TensorBoard event files (``experiment.log_scalar``): ``<path>/tensorboard/``."""
        from lakebox.experiment.context import TENSORBOARD_DIR

        return self.path / TENSORBOARD_DIR

    @property
    def files(self) -> dict[str, Path]:
        """Files the function returned, copied into the box: ``{key: path}``."""
        root = self._project.artifacts
        return {k: root / v for k, v in self._row.files.items()}

    @property
    def trials(self) -> list[dict[str, Any]]:
        """Every trial (a search's, an ablation's, or one per rank): hparams, status, metrics, steps..."""
        return [t.to_dict() for t in self._store().trials(self._row.id)]

    def logs(self, trial: int | None = None) -> str:
        """The run's output, every line prefixed by its worker (or one trial's output, unprefixed)."""
        from lakebox.experiment.record import RUN_LOG, TRIAL_LOG

        path = self.path / RUN_LOG if trial is None else self.path / "trials" / str(trial) / TRIAL_LOG
        if not path.exists():
            if trial is not None and trial not in {t["trial"] for t in self.trials}:
                raise NotFoundError(f"Experiment {self.name} run {self.run} has no trial {trial}.")
            return ""
        return path.read_text(encoding="utf-8", errors="replace")

    def training_datasets(self) -> list[Asset]:
        """Training datasets the function read (recorded without the user logging anything)."""
        store = self._assets()
        return [store.by_id(src) for src, _, relation, _ in store.edges(self._asset().id, "up") if relation == "input"]

    def models(self) -> list[Any]:
        """Models registered inside the run."""
        registry = self._project.get_model_registry()
        return [m for m in registry.get_models() if m.experiment_id == self._row.id]

    def update_description(self, description: str) -> Experiment:
        """Change the description (it is searchable)."""
        from lakebox.errors import ValidationError

        if not isinstance(description, str):
            raise ValidationError("description must be a string.")
        self._store().update_description(self._row.id, description)
        return self.refresh()

    def delete(self) -> None:
        """Delete the run: its catalog rows, tags, lineage edges and artifacts (models stay)."""
        self._store().delete(self._row.id)
        import shutil

        shutil.rmtree(self.path, ignore_errors=True)

    def to_dict(self) -> dict[str, Any]:
        row = self._row
        return {
            "name": row.name,
            "run": row.run,
            "kind": row.kind,
            "status": row.status,
            "description": row.description,
            "function": row.function,
            "config": row.config,
            "hparams": row.hparams,
            "metrics": row.metrics,
            "metric": row.metric,
            "direction": row.direction,
            "best_val": row.best_value,
            "files": row.files,
            "error": row.error,
            "location": row.location,
            "started_at": row.started_at,
            "finished_at": row.finished_at,
            "duration_s": row.duration_s,
            "environment": row.environment,
        }

    def __repr__(self) -> str:
        return f"Experiment({self.name!r}, run={self.run}, kind={self.kind!r}, status={self.status!r})"


def get_experiment(name: str, run: int | None = None, project: Any = None) -> Experiment:
    """A recorded run (the latest run of ``name`` unless ``run`` is given)."""
    project = _local_project(project)
    from lakebox.catalog.experiments import ExperimentStore

    store = ExperimentStore(project.catalog)
    row = store.get(name, run)
    if row is None:
        runs = [r.run for r in store.list(name)]
        if runs:
            raise NotFoundError(f"Experiment {name!r} has no run {run}; it has runs {runs}.")
        from lakebox.names import did_you_mean

        hint = did_you_mean(name, store.names())
        raise NotFoundError(f"No experiment named {name!r}" + (hint or "; `lakebox experiments list` shows the recorded runs."))
    return Experiment(project, row)


def _local_project(project: Any) -> Any:
    if project is None:
        from lakebox.project import current_project

        project = current_project()
    if project is None:
        raise ValidationError("lagom records each run in a box: call lakebox.connect(path) first, or pass project=.")
    if not hasattr(project, "engines"):  # a RemoteProject (lakebox.connect("http://...")) has none
        raise ValidationError("lagom runs against a local box (lakebox.connect(path)), not a remote server.")
    return project


class BoxRecorder:
    """The recording port (``lakebox.experiment.port.Recorder``) over a local box.

    Pickled into worker processes as the box's path; each process opens the box once.
    """

    def __init__(self, project: Any) -> None:  # a Project (its ExperimentsMixin passes itself)
        self._project: Project | None = project
        self._box = str(project.path)

    def __getstate__(self) -> dict[str, Any]:
        return {"box": self._box}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._box = state["box"]
        self._project = None

    def project(self) -> Project:
        if self._project is None:
            self._project = _open(self._box)
        return self._project

    @property
    def box(self) -> str:
        return self._box

    @property
    def artifacts(self) -> Path:
        return Path(self.project().artifacts)

    def _store(self) -> ExperimentStore:
        from lakebox.catalog.experiments import ExperimentStore

        return ExperimentStore(self.project().catalog)

    def create_run(self, *, name: str, kind: str, description: str, function: str, config: dict[str, Any],
                   hparams: dict[str, Any], metric: str | None, direction: str | None) -> ExperimentRow:
        return self._store().create(name=name, kind=kind, description=description, function=function, config=config,
                                    hparams=hparams, metric=metric, direction=direction)

    def set_environment(self, run_id: int, environment: dict[str, Any]) -> None:
        self._store().set_environment(run_id, environment)

    def save_trial(self, run_id: int, trial: dict[str, Any]) -> None:
        self._store().save_trial(run_id, trial)

    def finish_run(self, run_id: int, *, status: str, hparams: dict[str, Any], metrics: dict[str, Any],
                   best_value: float | None, files: dict[str, str], error: str | None, duration_s: float) -> None:
        self._store().finish(run_id, status=status, hparams=hparams, metrics=metrics, best_value=best_value,
                             files=files, error=error, duration_s=duration_s)

    def link_inputs(self, run_id: int, datasets: Mapping[int, dict[str, Any]]) -> None:
        assets = AssetStore(self.project().catalog)
        experiment = assets.get("experiment", run_id)
        for asset_id, dataset in datasets.items():
            try:
                assets.link(asset_id, experiment.id, "input", {"trials": dataset["trials"]})
            except LakeboxError as e:  # the dataset was deleted during the run
                import logging

                logging.getLogger(__name__).warning("cannot link training dataset %s to the run: %s", dataset, e)

    def experiment(self, run_id: int) -> Experiment:
        row = self._store().by_id(run_id)
        if row is None:
            raise NotFoundError(f"Experiment run {run_id} was deleted.")
        return Experiment(self.project(), row)

    def feature_view(self, name: str, version: int | None) -> FeatureView:
        return self.project().get_feature_store().get_feature_view(name, version)


_projects: dict[str, Project] = {}


def _open(box: str) -> Project:
    """The project of ``box`` in this process (the one ``lakebox.connect`` opened, if it is that box)."""
    from lakebox.project import connect, current_project

    current = current_project()
    if current is not None and Path(current.path) == Path(box):
        return current
    if box not in _projects:
        _projects[box] = connect(box)
    return _projects[box]


class _Api:
    """What the runtime's port asks of the api layer."""

    def recorder(self, project: Any) -> BoxRecorder:
        return BoxRecorder(_local_project(project))

    def get_experiment(self, name: str, run: int | None, project: Any) -> Experiment:
        return get_experiment(name, run, project)


port.bind(_Api())


class ExperimentsMixin:
    """``Project`` methods for recorded runs."""

    def get_experiment(self, name: str, run: int | None = None) -> Experiment:
        """A recorded run of ``experiment.lagom`` (the latest run of ``name`` unless ``run`` is given)."""
        return get_experiment(name, run, self)

    def experiment_recorder(self) -> BoxRecorder:
        """The recording port of this box (what ``lagom(..., project=self)`` records through)."""
        return BoxRecorder(self)

"""Where trials come from: Optuna's samplers and pruners for a search, a fixed list otherwise.

The search runs in the caller's process with Optuna's ask-and-tell interface (an in-memory
study, or one in shared storage: ``OptunaSearch``): a worker asks for the next trial when it is free, ``experiment.report`` values go to
``trial.report`` and the pruner's ``should_prune`` answers whether to stop. Grid search
enqueues every grid point (Optuna's GridSampler cannot be used with ask-and-tell: it stops
the study from inside ``tell``).
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from lakebox.experiment.config import HyperparameterOptConfig, Param
from lakebox.extras import require

OWNER = "lakebox_owner"  # "host:pid" of the process running a trial of a shared study
ABANDONED = "lakebox_abandoned"  # failed because its process died; queued again
SURPLUS = "lakebox_surplus"  # asked after the last trial was taken; never run
RETRY_OF = "lakebox_retry_of"
STUDIES_FILE = "optuna.db"
MAX_GIVEN_BACK = 1000  # trials asked and given back (duplicates, surplus) before this process stops asking


def storage_of(storage: Any, box: str | None) -> Any:
    """The Optuna storage of a shared study: as given, or the box's SQLite file."""
    if isinstance(storage, str) and storage.startswith("sqlite:"):
        return _sqlite(storage)
    if storage is not None:
        return storage
    if box is None:
        from lakebox.errors import ValidationError

        raise ValidationError("A shared study needs storage= (a database URL) when lagom runs without a box.")
    return _sqlite(f"sqlite:///{Path(box) / STUDIES_FILE}")


def _sqlite(url: str) -> Any:
    """Optuna's RDB storage on SQLite, waiting for the file's lock (several processes share it)."""
    import time

    optuna = _optuna()
    for attempt in range(5):  # two processes creating the file's tables at once collide once
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
        except Exception:  # sqlalchemy's IntegrityError/OperationalError of the concurrent creation
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _shared_study(optuna: Any, name: str, storage: Any, direction: str, sampler: Any, pruner: Any) -> Any:
    """Create or load the study; two processes creating the storage's tables at the same moment can
    collide once (a table or the study already exists), so a failed attempt is tried again."""
    import time

    for attempt in range(5):
        try:
            return optuna.create_study(study_name=name, storage=storage, direction=direction, sampler=sampler,
                                       pruner=pruner, load_if_exists=True)
        except Exception:  # sqlalchemy/optuna errors of a concurrent creation
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def _optuna() -> Any:
    return require("optuna", "Hyperparameter search")  # MissingDependencyError naming the train extra


class FixedTrials:
    """A given list of hyperparameter dicts, in order; nothing is ever stopped early."""

    def __init__(self, trials: Iterable[dict[str, Any]]) -> None:
        self._trials = list(trials)
        self._next = 0

    @property
    def total(self) -> int:
        return len(self._trials)

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        if self._next >= len(self._trials):
            return None
        self._next += 1
        return self._next - 1, dict(self._trials[self._next - 1])

    def report(self, number: int, step: int, value: float) -> bool:
        return False

    def tell(self, number: int, value: float | None, status: str) -> None:
        pass

    def close(self) -> None:
        pass


class OptunaSearch:
    """A hyperparameter search driven by an Optuna study (ask and tell).

    Without ``study`` the study lives in memory, in this process. With ``study`` (and
    ``storage``: a database URL, an Optuna storage, or by default the box's SQLite file
    ``optuna.db``) it lives in storage that several processes, on one machine or several, share:
    each asks the storage for the next trial (queued grid points are handed out once), the
    search stops when ``num_trials`` trials are taken, counted in the study's own order so that
    two processes never both run the last one; and a search killed midway resumes: its trials
    left "running" by a dead process on this machine are failed and queued again.
    """

    def __init__(self, config: HyperparameterOptConfig, box: str | None = None, name: str | None = None) -> None:
        optuna = _optuna()
        self._optuna = optuna
        self._verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # lagom reports trials itself
        self.space = config.searchspace
        self.shared = config.study is not None or config.storage is not None
        seed = config.seed
        if seed is not None and self.shared:
            seed = seed + os.getpid()  # two processes with one seed would sample the same points
        if config.optimizer == "tpe":
            sampler = optuna.samplers.TPESampler(seed=seed)
        else:
            sampler = optuna.samplers.RandomSampler(seed=seed)
        pruner_name = config.pruner()
        if pruner_name == "median":
            pruner = optuna.pruners.MedianPruner(
                n_startup_trials=config.early_stopping_min_trials,
                n_warmup_steps=config.early_stopping_warmup_steps,
            )
        elif pruner_name == "asha":
            pruner = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=config.reduction_factor)
        else:
            pruner = optuna.pruners.NopPruner()
        direction = "maximize" if config.direction == "max" else "minimize"
        if self.shared:
            study_name = config.study or name or "lakebox"
            self.study_name: str | None = study_name
            self.storage = storage_of(config.storage, box)
            self.study = _shared_study(optuna, study_name, self.storage, direction, sampler, pruner)
        else:
            self.study_name, self.storage = None, None
            self.study = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
        url = self.storage if isinstance(self.storage, str) else getattr(self.storage, "url", None)
        self._lock_path = (f"{url.removeprefix('sqlite:///')}.lakebox-lock"
                           if isinstance(url, str) and url.startswith("sqlite:///") and os.name == "posix" else None)
        self.grid = config.optimizer == "gridsearch"
        if self.grid:
            grid = self.space.grid(config.grid_points)
            self.total = min(len(grid), config.num_trials or len(grid))
            with self._claiming():  # two processes must not queue the same grid twice
                for point in grid[: self.total]:
                    self.study.enqueue_trial(point, skip_if_exists=self.shared)
        else:
            assert config.num_trials is not None
            self.total = config.num_trials
        with self._claiming():
            self.resumed = self._requeue_abandoned() if self.shared else 0
        self._asked = 0
        self._trials: dict[int, Any] = {}
        self._steps: dict[int, set[int]] = {}

    # -- sharing --------------------------------------------------------------------------
    def _counted(self, trial: Any) -> bool:
        """A trial that uses up one of ``num_trials``: taken (running, done, failed), not given up."""
        state = self._optuna.trial.TrialState
        if trial.user_attrs.get(ABANDONED) or trial.user_attrs.get(SURPLUS):
            return False
        return bool(trial.state in (state.RUNNING, state.COMPLETE, state.PRUNED, state.FAIL))

    def _requeue_abandoned(self) -> int:
        """Trials left "running" by a process of this machine that is gone: failed, and queued again."""
        state = self._optuna.trial.TrialState
        host = socket.gethostname()
        again = 0
        for trial in self.study.get_trials(deepcopy=False, states=(state.RUNNING,)):
            owner = str(trial.user_attrs.get(OWNER, ""))
            owner_host, _, pid = owner.rpartition(":")
            if owner_host != host or not pid.isdigit() or _alive(int(pid)):
                continue
            self.study._storage.set_trial_user_attr(trial._trial_id, ABANDONED, True)
            self.study.tell(trial.number, state=state.FAIL, skip_if_finished=True)
            self.study.enqueue_trial(trial.params, user_attrs={RETRY_OF: trial.number})
            again += 1
        return again

    def remaining(self) -> int:
        """Trials still to be taken from the study (in memory: by this process)."""
        if not self.shared:
            return self.total - self._asked
        taken = sum(1 for t in self.study.get_trials(deepcopy=False) if self._counted(t))
        return max(0, self.total - taken)

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        with self._claiming():
            return self._ask()

    @contextlib.contextmanager
    def _claiming(self) -> Iterator[None]:
        """On SQLite, one process at a time asks for and claims a trial (a file lock beside the
        database): SQLite has no row locks, so two processes could otherwise pop the same queued
        trial. Databases with row locks (PostgreSQL, MySQL) need none."""
        if self._lock_path is None:
            yield
            return
        import fcntl

        with open(self._lock_path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _ask(self) -> tuple[int, dict[str, Any]] | None:
        for _ in range(MAX_GIVEN_BACK):
            if self.remaining() <= 0:
                return None
            trial = self.study.ask()
            params = {p.name: _suggest(trial, p) for p in self.space.params}
            if self.shared and not self._keep(trial, params):
                continue
            number = self._asked
            self._asked += 1
            self._trials[number] = trial
            self._steps[number] = set()
            return number, params
        return None

    def _params_of(self, trial: Any) -> dict[str, Any]:
        """A trial's parameters; for a queued one that has not suggested them yet, its queued ones."""
        if trial.params:
            return dict(trial.params)
        fixed = self.study._storage.get_trial_system_attrs(trial._trial_id).get("fixed_params")
        return dict(fixed or {})

    def _keep(self, trial: Any, params: dict[str, Any]) -> bool:
        """Claim a trial of the shared study, or give it back unused: when another process took the
        last one first, when the queue is empty in a grid search, or when an earlier trial already
        has these parameters (two processes may queue the same grid point at the same moment)."""
        state = self._optuna.trial.TrialState
        trial.set_user_attr(OWNER, f"{socket.gethostname()}:{os.getpid()}")
        trials = self.study.get_trials(deepcopy=False)
        earlier = [t for t in trials if t.number < trial.number and self._counted(t)]
        queued = "fixed_params" in self.study._storage.get_trial_system_attrs(trial._trial_id)
        # the lowest-numbered trial of a parameter set is its copy; queued ones are numbered when queued
        waiting = self._optuna.trial.TrialState.WAITING
        copies = [t for t in trials if t.number < trial.number and (self._counted(t) or t.state == waiting)]
        duplicate = any(self._params_of(t) == params for t in copies)
        if len(earlier) >= self.total or (self.grid and not queued) or duplicate:
            trial.set_user_attr(SURPLUS, True)
            self.study.tell(trial, state=state.FAIL)
            return False
        return True

    def report(self, number: int, step: int, value: float) -> bool:
        trial = self._trials[number]
        if step in self._steps[number]:
            return False
        self._steps[number].add(step)
        trial.report(value, step)
        return bool(trial.should_prune())

    def tell(self, number: int, value: float | None, status: str) -> None:
        state = self._optuna.trial.TrialState
        trial = self._trials.pop(number)
        if status == "finished" and value is not None:
            self.study.tell(trial, value)
        elif status == "pruned":
            self.study.tell(trial, state=state.PRUNED)
        else:
            self.study.tell(trial, state=state.FAIL)

    def study_best(self) -> dict[str, Any] | None:
        """The best finished trial of the whole (shared) study: ``{"hparams", "value"}``, or None."""
        try:
            best = self.study.best_trial
        except ValueError:  # no finished trial yet
            return None
        return {"hparams": dict(best.params), "value": best.value, "number": best.number}

    def close(self) -> None:
        self._optuna.logging.set_verbosity(self._verbosity)


def _suggest(trial: Any, param: Param) -> Any:
    if param.type == "DOUBLE":
        lo, hi = param.values
        return trial.suggest_float(param.name, lo, hi, log=param.log)
    if param.type == "INTEGER":
        lo, hi = param.values
        return trial.suggest_int(param.name, lo, hi, log=param.log)
    return trial.suggest_categorical(param.name, list(param.values))

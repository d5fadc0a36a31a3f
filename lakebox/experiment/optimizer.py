"""Where trials come from: Optuna's samplers and pruners for a search, a fixed list otherwise.

The search runs in the caller's process with Optuna's ask-and-tell interface (an in-memory
study): a worker asks for the next trial when it is free, ``experiment.report`` values go to
``trial.report`` and the pruner's ``should_prune`` answers whether to stop. Grid search
enqueues every grid point (Optuna's GridSampler cannot be used with ask-and-tell: it stops
the study from inside ``tell``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lakebox.errors import MissingDependencyError
from lakebox.experiment.config import HyperparameterOptConfig, Param


def _optuna() -> Any:
    try:
        import optuna
    except ImportError as e:
        raise MissingDependencyError(
            "Hyperparameter search needs optuna, which is not installed; install it with: pip install optuna",
            package="optuna",
        ) from e
    return optuna


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
    """A hyperparameter search driven by an Optuna study (ask and tell)."""

    def __init__(self, config: HyperparameterOptConfig) -> None:
        optuna = _optuna()
        self._optuna = optuna
        self._verbosity = optuna.logging.get_verbosity()
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # lagom reports trials itself
        self.space = config.searchspace
        seed = config.seed
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
        self.study = optuna.create_study(
            direction="maximize" if config.direction == "max" else "minimize", sampler=sampler, pruner=pruner
        )
        if config.optimizer == "gridsearch":
            grid = self.space.grid(config.grid_points)
            self.total = min(len(grid), config.num_trials or len(grid))
            for point in grid[: self.total]:
                self.study.enqueue_trial(point)
        else:
            assert config.num_trials is not None
            self.total = config.num_trials
        self._asked = 0
        self._trials: dict[int, Any] = {}
        self._steps: dict[int, set[int]] = {}

    def ask(self) -> tuple[int, dict[str, Any]] | None:
        if self._asked >= self.total:
            return None
        trial = self.study.ask()
        params = {p.name: _suggest(trial, p) for p in self.space.params}
        number = self._asked
        self._asked += 1
        self._trials[number] = trial
        self._steps[number] = set()
        return number, params

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

"""What ``lagom`` should do with a training function: the config classes and the search space.

>>> sp = Searchspace(lr=("DOUBLE", [1e-4, 1e-1]), layers=("INTEGER", [1, 4]), act=("CATEGORICAL", ["relu", "tanh"]))
>>> sp.names
['lr', 'layers', 'act']
>>> Config("baseline", {"lr": 0.01}).kind
'single'
"""

from __future__ import annotations

import itertools
import keyword
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lakebox.errors import ValidationError
from lakebox.experiment.errors import SearchspaceError

PARAM_TYPES = ("DOUBLE", "INTEGER", "DISCRETE", "CATEGORICAL")
OPTIMIZERS = ("gridsearch", "randomsearch", "asha", "tpe")
EARLY_STOPPING = ("auto", "none", "median", "asha")
DIRECTIONS = ("max", "min")
BACKENDS = ("auto", "gloo", "nccl")
# parameter names lagom fills itself (see lakebox.experiment.signature)
SPECIAL_PARAMETERS = ("hparams", "reporter", "dataset_factory", "dataset_function", "model_factory", "model_function")
MAX_GRID = 10_000
_RUN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Param:
    """One dimension of a search space: bounds ``(lo, hi)`` for DOUBLE and INTEGER, else the choices."""

    name: str
    type: str
    values: tuple[Any, ...]
    log: bool = False

    def grid(self, points: int) -> list[Any]:
        """The values a grid search tries: every choice, every integer, or ``points`` doubles."""
        if self.type in ("DISCRETE", "CATEGORICAL"):
            return list(self.values)
        lo, hi = self.values
        if self.type == "INTEGER":
            if self.log:
                return sorted({int(round(v)) for v in _space(lo, hi, min(points, hi - lo + 1), True)})
            return list(range(lo, hi + 1))
        return [float(v) for v in _space(lo, hi, points, self.log)]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "values": list(self.values)}
        if self.log:
            out["log"] = True
        return out


def _space(lo: float, hi: float, points: int, log: bool) -> list[float]:
    if points == 1:
        return [lo]
    if log:
        a, b = math.log(lo), math.log(hi)
        values = [math.exp(a + (b - a) * i / (points - 1)) for i in range(points)]
    else:
        values = [lo + (hi - lo) * i / (points - 1) for i in range(points)]
    values[0], values[-1] = lo, hi  # exact ends, no rounding drift
    return values


class Searchspace:
    """Named hyperparameters and their domains.

    Each entry is ``(TYPE, values)`` or ``(TYPE, values, "log")``:
    ``("DOUBLE", [lo, hi])``, ``("INTEGER", [lo, hi])`` (both ends included),
    ``("DISCRETE", [1, 2, 4])`` (numbers), ``("CATEGORICAL", ["relu", "tanh"])`` (None, bool,
    int, float or str). ``"log"`` samples DOUBLE/INTEGER on a log scale (``lo > 0``).
    """

    def __init__(self, **params: Any) -> None:
        self._params: dict[str, Param] = {}
        for name, spec in params.items():
            self.add(name, spec)

    def add(self, name: str, spec: Any) -> Searchspace:
        if name in self._params:
            raise SearchspaceError(f"The search space already has a hyperparameter {name!r}.")
        self._params[name] = _param(name, spec)
        return self

    @property
    def params(self) -> list[Param]:
        return list(self._params.values())

    @property
    def names(self) -> list[str]:
        return list(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __getitem__(self, name: str) -> Param:
        return self._params[name]

    def grid(self, points: int = 5) -> list[dict[str, Any]]:
        """Every combination, in a stable order (the first hyperparameter varies slowest)."""
        axes = [p.grid(points) for p in self._params.values()]
        size = math.prod(len(a) for a in axes)
        if size > MAX_GRID:
            raise SearchspaceError(
                f"The grid has {size} points (more than {MAX_GRID}); use optimizer='randomsearch' or narrow "
                "the INTEGER ranges / lower grid_points."
            )
        return [dict(zip(self._params, combo, strict=True)) for combo in itertools.product(*axes)]

    def to_dict(self) -> dict[str, Any]:
        return {name: p.to_dict() for name, p in self._params.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{p.name}=({p.type!r}, {list(p.values)!r}{', log' if p.log else ''})" for p in self.params)
        return f"Searchspace({inner})"


def _param(name: Any, spec: Any) -> Param:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise SearchspaceError(f"Hyperparameter name {name!r} must be a Python identifier (it becomes an argument).")
    if name in SPECIAL_PARAMETERS:
        raise SearchspaceError(f"{name!r} is a name lagom passes itself; rename the hyperparameter.")
    example = "e.g. ('DOUBLE', [1e-4, 1e-1]) or ('CATEGORICAL', ['relu', 'tanh'])"
    if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
        raise SearchspaceError(f"Hyperparameter {name!r}: give (TYPE, values) or (TYPE, values, 'log'), {example}; got {spec!r}.")
    kind, values = spec[0], spec[1]
    log = False
    if len(spec) == 3:
        if spec[2] != "log":
            raise SearchspaceError(f"Hyperparameter {name!r}: the third element may only be 'log', got {spec[2]!r}.")
        log = True
    if not isinstance(kind, str) or kind.upper() not in PARAM_TYPES:
        raise SearchspaceError(f"Hyperparameter {name!r}: unknown type {kind!r}; choose one of {list(PARAM_TYPES)}.")
    kind = kind.upper()
    if not isinstance(values, (list, tuple)) or not values:
        raise SearchspaceError(f"Hyperparameter {name!r}: values must be a non-empty list, got {values!r}.")
    if kind in ("DOUBLE", "INTEGER"):
        number = int if kind == "INTEGER" else (int, float)
        if len(values) != 2 or not all(isinstance(v, number) and not isinstance(v, bool) for v in values):
            what = "integers" if kind == "INTEGER" else "numbers"
            raise SearchspaceError(f"Hyperparameter {name!r}: {kind} needs two {what} [lo, hi], got {values!r}.")
        lo, hi = values
        if not all(math.isfinite(v) for v in values) or not lo < hi:
            raise SearchspaceError(f"Hyperparameter {name!r}: {kind} bounds must be finite with lo < hi, got {values!r}.")
        if log and lo <= 0:
            raise SearchspaceError(f"Hyperparameter {name!r}: a log scale needs lo > 0, got {values!r}.")
        cast = int if kind == "INTEGER" else float
        return Param(name, kind, (cast(lo), cast(hi)), log)
    if log:
        raise SearchspaceError(f"Hyperparameter {name!r}: 'log' applies to DOUBLE and INTEGER only.")
    allowed: tuple[type, ...] = (int, float) if kind == "DISCRETE" else (type(None), bool, int, float, str)
    for v in values:
        if not isinstance(v, allowed) or (kind == "DISCRETE" and isinstance(v, bool)):
            what = "numbers" if kind == "DISCRETE" else "None, bool, int, float or str"
            raise SearchspaceError(f"Hyperparameter {name!r}: {kind} values must be {what}; {v!r} is not.")
    if len(set(map(repr, values))) != len(values):
        raise SearchspaceError(f"Hyperparameter {name!r}: {kind} values repeat: {values!r}.")
    return Param(name, kind, tuple(values), False)


# -- configs ------------------------------------------------------------------------------
@dataclass(kw_only=True)
class _Common:
    name: str | None = None
    hparams: Mapping[str, Any] | None = None
    description: str = ""
    feature_view: Any = None
    """A FeatureView, a view name (latest version) or ``(name, version)``: gives ``dataset_factory``."""
    training_dataset_version: int | None = None
    """Which materialised training dataset ``dataset_factory`` reads (default: the view's latest)."""
    model_factory: Callable[..., Any] | None = None
    """A module-level function building the model; the function receives it as ``model_factory``."""
    metric: str | None = None
    direction: str = "max"
    retries: int = 0
    timeout_s: float | None = None
    """Per trial (per run): a trial still running after this many seconds is killed and failed."""

    kind = "single"

    def _check_common(self) -> None:
        if self.name is not None and (not isinstance(self.name, str) or not _RUN_NAME.match(self.name)):
            raise ValidationError(
                f"Experiment name {self.name!r} must be 1-100 letters, digits, '_', '.' or '-' (it names a folder)."
            )
        if self.hparams is not None and not isinstance(self.hparams, Mapping):
            raise ValidationError(f"hparams must be a dict of name -> value, got {type(self.hparams).__name__}.")
        for key in self.hparams or {}:
            if not isinstance(key, str) or not key.isidentifier():
                raise ValidationError(f"Hyperparameter name {key!r} must be a Python identifier (it becomes an argument).")
        if self.direction not in DIRECTIONS:
            raise ValidationError(f"direction must be 'max' or 'min', got {self.direction!r}.")
        if self.metric is not None and not isinstance(self.metric, str):
            raise ValidationError(f"metric must be the name of a returned metric, got {self.metric!r}.")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) or self.retries < 0:
            raise ValidationError(f"retries must be an integer >= 0, got {self.retries!r}.")
        if self.timeout_s is not None and (not isinstance(self.timeout_s, (int, float)) or self.timeout_s <= 0):
            raise ValidationError(f"timeout_s must be a positive number of seconds, got {self.timeout_s!r}.")
        if self.model_factory is not None and not callable(self.model_factory):
            raise ValidationError("model_factory must be a function that builds the model.")
        if self.training_dataset_version is not None and self.feature_view is None:
            raise ValidationError("training_dataset_version needs feature_view= too.")

    def fixed_hparams(self) -> dict[str, Any]:
        return dict(self.hparams or {})

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record of the config (stored with the run)."""
        out: dict[str, Any] = {"kind": self.kind}
        for key, value in self.__dict__.items():
            out[key] = _jsonable(value)
        return out


@dataclass(kw_only=True)
class Config(_Common):
    """One run of the function in a child process (a crash cannot take the caller down).

    ``Config(name, hparams)``; ``retries`` (default 0) re-runs a failed run.
    """

    def __init__(self, name: str | None = None, hparams: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        _Common.__init__(self, name=name, hparams=hparams, **kwargs)
        self.__post_init__()

    def __post_init__(self) -> None:
        self._check_common()


@dataclass(kw_only=True)
class HyperparameterOptConfig(_Common):
    """A hyperparameter search over parallel worker processes.

    ``optimizer``: ``gridsearch`` (every combination; DOUBLE ranges cut into ``grid_points``),
    ``randomsearch``, ``asha`` (random sampling with asynchronous successive halving) or
    ``tpe``. ``experiment.report(value, step)`` inside the function lets ``early_stopping``
    (``auto``: ASHA for ``asha``, median stopping otherwise; or ``median``, ``asha``, ``none``)
    stop bad trials. A trial that raises is retried ``retries`` times (default once), then
    recorded as failed, and the search goes on. ``workers`` defaults to the number of cores.
    """

    searchspace: Searchspace
    optimizer: str = "randomsearch"
    num_trials: int | None = None
    metric: str | None = "metric"
    workers: int | None = None
    early_stopping: str = "auto"
    early_stopping_min_trials: int = 3
    """Median stopping: trials that must finish before any is stopped."""
    early_stopping_warmup_steps: int = 0
    """Median stopping: steps a trial runs before it can be stopped."""
    reduction_factor: int = 3
    """ASHA: keep the best 1/reduction_factor of the trials at each rung."""
    grid_points: int = 5
    seed: int | None = None
    retries: int = 1

    kind = "hyperparameter_search"

    def __post_init__(self) -> None:
        self._check_common()
        if not isinstance(self.searchspace, Searchspace):
            raise SearchspaceError("searchspace must be a Searchspace(name=(TYPE, values), ...).")
        if not len(self.searchspace):
            raise SearchspaceError("The search space is empty: give at least one hyperparameter.")
        if self.optimizer not in OPTIMIZERS:
            raise ValidationError(f"Unknown optimizer {self.optimizer!r}; choose one of {list(OPTIMIZERS)}.")
        if self.early_stopping not in EARLY_STOPPING:
            raise ValidationError(f"early_stopping must be one of {list(EARLY_STOPPING)}, got {self.early_stopping!r}.")
        if not self.metric:
            raise ValidationError("A hyperparameter search needs metric=, the name of the returned metric to optimise.")
        clash = sorted(set(self.searchspace.names) & set(self.hparams or {}))
        if clash:
            raise ValidationError(f"{clash} are both searched and fixed in hparams; keep each in one place.")
        for attr in ("num_trials", "workers"):
            value = getattr(self, attr)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValidationError(f"{attr} must be an integer >= 1, got {value!r}.")
        for attr, low in (("grid_points", 1), ("reduction_factor", 2), ("early_stopping_min_trials", 0),
                          ("early_stopping_warmup_steps", 0)):
            value = getattr(self, attr)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValidationError(f"{attr} must be an integer >= {low}, got {value!r}.")
        if self.optimizer != "gridsearch" and self.num_trials is None:
            raise ValidationError(f"optimizer={self.optimizer!r} needs num_trials= (how many trials to run).")
        if self.optimizer == "gridsearch":
            self.searchspace.grid(self.grid_points)  # refuse oversized grids now, not in the middle of a run

    def pruner(self) -> str:
        if self.early_stopping == "auto":
            return "asha" if self.optimizer == "asha" else "median"
        return self.early_stopping


@dataclass(kw_only=True)
class AblationConfig(_Common):
    """Leave-one-component-out: a baseline trial, then one trial per left-out feature or component.

    ``features``: features of ``feature_view`` to leave out one at a time (default: all of them;
    ``[]`` for none): the function's ``dataset_factory()`` returns the training data without it.
    ``components``: names of model components to leave out one at a time: ``model_factory``
    either takes an ``omit`` argument, or returns a ``torch.nn.Module`` whose named submodule
    (a dotted path) lagom replaces by ``torch.nn.Identity``.
    """

    features: Sequence[str] | None = None
    components: Sequence[str] = field(default_factory=tuple)
    metric: str | None = "metric"
    workers: int | None = None
    baseline: bool = True
    retries: int = 1

    kind = "ablation"

    def __post_init__(self) -> None:
        self._check_common()
        if self.features is not None and (isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features)):
            raise ValidationError(f"features must be a list of feature names, got {self.features!r}.")
        if isinstance(self.components, str) or not all(isinstance(c, str) and c for c in self.components):
            raise ValidationError(f"components must be a list of component names, got {self.components!r}.")
        if self.features and self.feature_view is None:
            raise ValidationError("Ablating features needs feature_view= (and optionally training_dataset_version=).")
        if self.components and self.model_factory is None:
            raise ValidationError("Ablating model components needs model_factory=, a function that builds the model.")
        if self.feature_view is None and not self.components:
            raise ValidationError("Nothing to ablate: give feature_view= (its features) and/or components= with model_factory=.")
        if self.workers is not None and (not isinstance(self.workers, int) or self.workers < 1):
            raise ValidationError(f"workers must be an integer >= 1, got {self.workers!r}.")
        if not self.metric:
            raise ValidationError("An ablation needs metric=, the name of the returned metric to compare.")


@dataclass(kw_only=True)
class TorchDistributedConfig(_Common):
    """Data-parallel training: ``world_size`` processes with ``torch.distributed`` initialised.

    ``backend="auto"`` picks NCCL when there is a CUDA device per rank, else gloo. The
    rendezvous listens on 127.0.0.1 only (torch.distributed has no authentication). Each rank
    gets ``torch.set_num_threads(threads_per_rank)`` (default: cores // world_size, at least 1);
    ``timeout_s`` bounds rendezvous and collectives so a stuck rank fails instead of hanging.
    Rank 0's returned dict is the result; numeric metrics are averaged over the ranks.
    """

    world_size: int | None = None
    backend: str = "auto"
    timeout_s: float | None = 120.0
    threads_per_rank: int | None = None

    kind = "distributed"

    def __init__(self, name: str | None = None, hparams: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        world_size = kwargs.pop("world_size", None)
        backend = kwargs.pop("backend", "auto")
        threads = kwargs.pop("threads_per_rank", None)
        kwargs.setdefault("timeout_s", 120.0)
        _Common.__init__(self, name=name, hparams=hparams, **kwargs)
        self.world_size, self.backend, self.threads_per_rank = world_size, backend, threads
        self.__post_init__()

    def __post_init__(self) -> None:
        self._check_common()
        if self.world_size is not None and (
            not isinstance(self.world_size, int) or isinstance(self.world_size, bool) or self.world_size < 1
        ):
            raise ValidationError(f"world_size must be an integer >= 1 (the number of processes), got {self.world_size!r}.")
        if self.backend not in BACKENDS:
            raise ValidationError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}.")
        if self.threads_per_rank is not None and (not isinstance(self.threads_per_rank, int) or self.threads_per_rank < 1):
            raise ValidationError(f"threads_per_rank must be an integer >= 1, got {self.threads_per_rank!r}.")
        if self.timeout_s is None:
            raise ValidationError("A distributed run needs timeout_s (seconds), so a stuck rank fails instead of hanging.")


def _jsonable(value: Any) -> Any:
    if isinstance(value, Searchspace):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if callable(value):
        return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"
    if hasattr(value, "name") and hasattr(value, "version"):
        return {"name": value.name, "version": value.version}
    return repr(value)

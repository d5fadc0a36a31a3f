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
    gpus: int | Sequence[int | str] | None = None
    """GPUs for the trial workers, one each (``CUDA_VISIBLE_DEVICES``): a count or device ids;
    default: every GPU of the machine (and as many workers), none on a CPU machine."""
    study: str | None = None
    """An Optuna study name: the search lives in ``storage`` and several processes (or machines)
    running the same search share it; a killed search resumes where it stopped."""
    storage: Any = None
    """Where the study lives: a database URL (``sqlite:///path.db``, ``postgresql://...``), an
    Optuna storage object (e.g. ``JournalStorage``); default with ``study``: the box's SQLite file."""
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
        _check_gpus(self.gpus)
        if self.study is not None and (not isinstance(self.study, str) or not _RUN_NAME.match(self.study)):
            raise ValidationError(f"study must be a name of 1-100 letters, digits, '_', '.' or '-', got {self.study!r}.")
        if self.storage is not None and isinstance(self.storage, str) and "://" not in self.storage:
            raise ValidationError(
                f"storage must be a database URL such as 'sqlite:///studies.db' or 'postgresql://host/db', or an "
                f"Optuna storage object; got {self.storage!r}."
            )
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
    gpus: int | Sequence[int | str] | None = None
    """GPUs for the trial workers, one each (see ``HyperparameterOptConfig.gpus``)."""
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
        _check_gpus(self.gpus)


@dataclass(kw_only=True)
class TorchDistributedConfig(_Common):
    """Data-parallel training on torch's own launcher (``torch.distributed.run``, torch elastic).

    On one machine (the default) lagom starts ``nproc_per_node`` ranks (``world_size`` is the
    same number; default: one per GPU, else 2 CPU ranks) with ``torch.distributed``
    initialised: ``backend="auto"`` picks NCCL when there is a CUDA device per rank (rank *r*
    uses ``cuda:<local rank>``), else gloo. On several machines, start the same lagom call (or
    ``lakebox train``) on each with ``nnodes``, ``rdzv_endpoint`` (``host:port`` of the
    rendezvous) and ``node_rank`` (0 records the run; the others join it): a static rendezvous
    (global rank 0 on node 0), or with ``elastic=True`` torch's c10d rendezvous (global ranks in
    order of arrival). ``max_restarts`` restarts the whole group after a rank dies. ``timeout_s`` bounds the
    rendezvous and collectives so a stuck rank fails instead of hanging. Each rank gets
    ``torch.set_num_threads(threads_per_rank)`` (default: cores // ranks on this machine).
    Rank 0's returned dict is the result; numeric metrics are averaged over the ranks.
    """

    world_size: int | None = None
    nproc_per_node: int | None = None
    nnodes: int = 1
    node_rank: int | None = None
    rdzv_endpoint: str | None = None
    max_restarts: int = 0
    elastic: bool = False
    backend: str = "auto"
    timeout_s: float | None = 120.0
    threads_per_rank: int | None = None

    kind = "distributed"

    _FIELDS = ("world_size", "nproc_per_node", "nnodes", "node_rank", "rdzv_endpoint", "max_restarts", "elastic",
               "backend", "threads_per_rank")

    def __init__(self, name: str | None = None, hparams: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        own = {key: kwargs.pop(key) for key in self._FIELDS if key in kwargs}
        kwargs.setdefault("timeout_s", 120.0)
        _Common.__init__(self, name=name, hparams=hparams, **kwargs)
        self.world_size = own.get("world_size")
        self.nproc_per_node = own.get("nproc_per_node")
        self.nnodes = own.get("nnodes", 1)
        self.node_rank = own.get("node_rank")
        self.rdzv_endpoint = own.get("rdzv_endpoint")
        self.max_restarts = own.get("max_restarts", 0)
        self.elastic = own.get("elastic", False)
        self.backend = own.get("backend", "auto")
        self.threads_per_rank = own.get("threads_per_rank")
        self.__post_init__()

    def __post_init__(self) -> None:
        self._check_common()
        for attr, low in (("world_size", 1), ("nproc_per_node", 1), ("nnodes", 1), ("node_rank", 0),
                          ("max_restarts", 0), ("threads_per_rank", 1)):
            value = getattr(self, attr)
            if value is None and attr in ("world_size", "nproc_per_node", "node_rank", "threads_per_rank"):
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise ValidationError(f"{attr} must be an integer >= {low}, got {value!r}.")
        if self.backend not in BACKENDS:
            raise ValidationError(f"backend must be one of {list(BACKENDS)}, got {self.backend!r}.")
        if not isinstance(self.elastic, bool):
            raise ValidationError(f"elastic must be True or False, got {self.elastic!r}.")
        if self.timeout_s is None:
            raise ValidationError("A distributed run needs timeout_s (seconds), so a stuck rank fails instead of hanging.")
        if self.nnodes > 1:
            if not self.rdzv_endpoint:
                raise ValidationError(
                    f"nnodes={self.nnodes} needs rdzv_endpoint='host:port': the address every node can reach, where "
                    "the rendezvous runs (on the node with node_rank=0), e.g. rdzv_endpoint='10.0.0.1:29400'."
                )
            if self.node_rank is None:
                raise ValidationError(
                    f"nnodes={self.nnodes} needs node_rank: 0 on the machine that records the run in its box, "
                    f"1..{self.nnodes - 1} on the others."
                )
            if self.node_rank >= self.nnodes:
                raise ValidationError(f"node_rank must be in 0..{self.nnodes - 1} (nnodes={self.nnodes}), got {self.node_rank}.")
        elif self.node_rank not in (None, 0):
            raise ValidationError(f"node_rank={self.node_rank} needs nnodes > 1 (a run on several machines).")
        if self.rdzv_endpoint is not None:
            _endpoint(self.rdzv_endpoint)
        if self.world_size is not None and self.nproc_per_node is not None and self.world_size != self.nproc_per_node * self.nnodes:
            raise ValidationError(
                f"world_size={self.world_size} disagrees with nproc_per_node={self.nproc_per_node} x nnodes={self.nnodes}; "
                "give one of them."
            )
        if self.world_size is not None and self.nproc_per_node is None and self.world_size % self.nnodes:
            raise ValidationError(f"world_size={self.world_size} does not split evenly over nnodes={self.nnodes}.")

    @property
    def joins(self) -> bool:
        """True on a node that joins a run another node records (node_rank > 0)."""
        return self.nnodes > 1 and (self.node_rank or 0) > 0

    def ranks_per_node(self, default: int) -> int:
        if self.nproc_per_node is not None:
            return self.nproc_per_node
        if self.world_size is not None:
            return self.world_size // self.nnodes
        return default


def _check_gpus(gpus: Any) -> None:
    if gpus is None:
        return
    if isinstance(gpus, bool) or (isinstance(gpus, int) and gpus < 0):
        raise ValidationError(f"gpus must be a count >= 0 or a list of device ids, got {gpus!r}.")
    if not isinstance(gpus, int) and (isinstance(gpus, str) or not all(isinstance(g, (int, str)) for g in gpus)):
        raise ValidationError(f"gpus must be a count >= 0 or a list of device ids, got {gpus!r}.")


def _endpoint(text: str) -> tuple[str, int]:
    host, sep, port = str(text).rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValidationError(f"rdzv_endpoint must be 'host:port' (e.g. '10.0.0.1:29400'), got {text!r}.")
    return host.strip("[]"), int(port)


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

"""``lagom``: run the oblivious training function in the context its config chooses, and record it.

Every run is an experiment in the box (status ``running`` from the start, so a model created
inside it can link to it): hyperparameters, metrics, per-trial results, returned files copied
under ``artifacts/experiments/<name>/<run>/``, the output of every worker (``run.log``, each
line prefixed by its worker; ``trials/<n>/output.log``), duration, status, the Python
environment, and lineage (training datasets read inside the function -> the experiment).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lakebox.catalog.assets import AssetStore
from lakebox.catalog.experiments import ExperimentStore, dumps, now
from lakebox.errors import LakeboxError, NotFoundError, ValidationError
from lakebox.experiment import environment, signature
from lakebox.experiment.ablation import ablation_trials
from lakebox.experiment.config import (
    AblationConfig,
    Config,
    HyperparameterOptConfig,
    TorchDistributedConfig,
    _Common,
)
from lakebox.experiment.errors import ExperimentError
from lakebox.experiment.functions import dumps as serialise
from lakebox.experiment.optimizer import FixedTrials, OptunaSearch
from lakebox.experiment.pool import Pool, Worker, fatal
from lakebox.experiment.record import RUN_LOG, TRIAL_LOG, Experiment, Result

log = logging.getLogger(__name__)

MAX_STARTUP_FAILURES = 3
FAILURE_GRACE_S = 1.0
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def lagom(
    train_fn: Callable[..., Any],
    config: Config | HyperparameterOptConfig | AblationConfig | TorchDistributedConfig,
    project: Any = None,
    *,
    echo: bool | Callable[[str], None] = True,
) -> Result:
    """Run ``train_fn`` as ``config`` says, in worker processes, and record the run in the box.

    Args:
        train_fn: a top-level function returning a dict of metrics and file paths (or a number).
            Its parameters decide what it receives: hyperparameters by name, ``hparams`` (the
            dict), ``reporter``, ``dataset_factory``, ``model_factory`` (see ``signature``).
        config: ``Config`` (one run), ``HyperparameterOptConfig`` (a search),
            ``AblationConfig`` (leave one out) or ``TorchDistributedConfig`` (data parallel).
        project: the box to record in; default: the one ``lakebox.connect`` opened last.
        echo: print worker output live, each line prefixed by its worker (``[w0] ...``), to
            stdout (True), nowhere (False), or to a callable taking each line.

    Returns a ``Result`` (``best_hp``, ``best_val``, ``metrics``, ``trials``, ``experiment``).
    Raises ``ExperimentError`` (with ``.result``) when the run, or every trial, failed.

    >>> result = lagom(train, HyperparameterOptConfig(searchspace=sp, num_trials=8, metric="acc"))  # doctest: +SKIP
    """
    if not isinstance(config, _Common):
        raise ValidationError(
            "config must be a Config, HyperparameterOptConfig, AblationConfig or TorchDistributedConfig, "
            f"got {type(config).__name__}."
        )
    project = _project(project)
    dataset, view = _dataset_spec(project, config)
    fixed = config.fixed_hparams()
    names = list(fixed) + (config.searchspace.names if isinstance(config, HyperparameterOptConfig) else [])
    plan = signature.plan(train_fn, names, dataset is not None, config.model_factory is not None)
    fn_bytes = serialise(train_fn, "The training function")
    model_bytes = serialise(config.model_factory, "model_factory") if config.model_factory is not None else None
    trials_spec: list[dict[str, Any]] = []
    if isinstance(config, AblationConfig):
        features = _ablation_features(config, view)
        trials_spec = ablation_trials(features, list(config.components), config.baseline)
    function = f"{getattr(train_fn, '__module__', '?')}.{getattr(train_fn, '__qualname__', repr(train_fn))}"
    name = config.name or _default_name(train_fn)
    run = _Run(project, config, name, function, echo, fixed)
    try:
        if isinstance(config, TorchDistributedConfig):
            _distributed(run, config, fn_bytes, plan, dataset, model_bytes, fixed)
        else:
            if isinstance(config, HyperparameterOptConfig):
                source: Any = OptunaSearch(config)
                workers = config.workers or os.cpu_count() or 1
            elif isinstance(config, AblationConfig):
                source = FixedTrials({"ablated": t["ablated"], "ablation_kind": t["kind"]} for t in trials_spec)
                workers = config.workers or os.cpu_count() or 1
            else:
                source = FixedTrials([{}])
                workers = 1
            try:
                _trials(run, config, source, min(workers, max(1, source.total)), fn_bytes, plan, dataset, model_bytes, fixed)
            finally:
                source.close()
    except BaseException as e:
        run.abort(e)
        raise
    return run.finish()


# -- preparing ----------------------------------------------------------------------------
def _project(project: Any) -> Any:
    if project is None:
        from lakebox.project import current_project

        project = current_project()
    if project is None:
        raise ValidationError("lagom records each run in a box: call lakebox.connect(path) first, or pass project=.")
    if not hasattr(project, "engines"):  # a RemoteProject (lakebox.connect("http://...")) has none
        raise ValidationError("lagom runs against a local box (lakebox.connect(path)), not a remote server.")
    return project


def _default_name(fn: Any) -> str:
    raw = getattr(fn, "__name__", "experiment")
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "_" for c in raw).strip(".") or "experiment"
    return cleaned[:100]


def _dataset_spec(project: Any, config: _Common) -> tuple[dict[str, Any] | None, Any]:
    spec = config.feature_view
    if spec is None:
        return None, None
    if isinstance(spec, str):
        name, version = spec, None
    elif isinstance(spec, (tuple, list)) and len(spec) == 2:
        name, version = spec
    elif hasattr(spec, "name") and hasattr(spec, "version") and hasattr(spec, "get_training_data"):
        name, version = spec.name, spec.version
    else:
        raise ValidationError(f"feature_view must be a FeatureView, a view name or (name, version); got {spec!r}.")
    view = project.get_feature_store().get_feature_view(name, version)
    versions = [d["version"] for d in view.get_training_datasets()]
    td = config.training_dataset_version
    if td is None:
        if not versions:
            raise ValidationError(
                f"Feature view {view.name} v{view.version} has no training dataset for the dataset factory: "
                "call fv.create_training_dataset() first, or pass training_dataset_version=."
            )
        td = versions[-1]
    elif td not in versions:
        raise NotFoundError(f"Feature view {view.name} v{view.version} has no training dataset v{td}; it has {versions}.")
    return {"box": str(project.path), "feature_view": view.name, "feature_view_version": view.version, "version": td}, view


def _ablation_features(config: AblationConfig, view: Any) -> list[str]:
    if view is None:
        return []
    hidden = set(view.primary_key) | {view.query.root_group.event_time}
    available = [f for f in view.features if f not in hidden]
    if config.features is None:
        return available
    from lakebox.names import closest

    for feature in config.features:
        if feature not in available:
            hint = closest(feature, available)
            raise NotFoundError(
                f"Feature view {view.name} v{view.version} has no feature {feature!r} to leave out"
                + (f"; did you mean {hint}?" if hint else "")
                + f" Its features are {available}."
            )
    return list(config.features)


def _worker_env(box: str, processes: int, threads: int | None = None) -> dict[str, str]:
    """Environment of worker processes: the run's box as ``$LAKEBOX_HOME`` (so ``lakebox.connect()``
    inside the function opens it) and the cores shared out between the processes."""
    env = {"LAKEBOX_HOME": box}
    share = str(threads or max(1, (os.cpu_count() or 1) // processes))
    for variable in THREAD_VARIABLES:
        if variable not in os.environ:
            env[variable] = share
    return env


# -- one run: what is recorded ---------------------------------------------------------------
@dataclass
class _Trial:
    number: int
    hparams: dict[str, Any]  # what the record shows (searched values; for an ablation what is left out)
    attempts: int = 0
    worker: int | None = None
    started_at: str | None = None
    lines: list[str] = field(default_factory=list)


class _Run:
    """The experiment being recorded: catalog rows, the run folder, the log, the live echo."""

    def __init__(
        self, project: Any, config: _Common, name: str, function: str, echo: bool | Callable[[str], None],
        fixed: dict[str, Any],
    ) -> None:
        self.project = project
        self.config = config
        self.store = ExperimentStore(project.catalog)
        self.assets = AssetStore(project.catalog)
        metric = config.metric
        self.row = self.store.create(
            name=name, kind=config.kind, description=config.description, function=function, config=config.to_dict(),
            hparams=fixed, metric=metric, direction=config.direction if metric else None,
        )
        self.artifacts = project.artifacts
        self.folder = self.artifacts / self.row.location
        if self.folder.exists():
            shutil.rmtree(self.folder)  # left by a process that died before recording this run number
        self.folder.mkdir(parents=True)
        self._log: TextIO | None = open(self.folder / RUN_LOG, "a", encoding="utf-8")  # noqa: SIM115
        self._echo = echo
        self.started = time.perf_counter()
        self.trials: dict[int, dict[str, Any]] = {}
        self.datasets: dict[int, dict[str, Any]] = {}
        self.models: list[dict[str, Any]] = []
        self.worker_startup_s: list[float] = []
        self.extra: dict[str, Any] = {}
        self.closed = False

    @property
    def context(self) -> dict[str, Any]:
        return {"experiment_id": self.row.id, "experiment_name": self.row.name, "run": self.row.run,
                "box": str(self.project.path)}

    def trial_folder(self, number: int) -> Path:
        return self.folder / "trials" / str(number)

    # output --------------------------------------------------------------------------------
    def line(self, prefix: str, text: str) -> None:
        formatted = f"[{prefix}] {text}"
        if self._log is not None:
            self._log.write(formatted + "\n")
            self._log.flush()
        if self._echo is True:
            stream = sys.stdout
            if stream is not None:
                stream.write(formatted + "\n")
                stream.flush()
        elif callable(self._echo):
            self._echo(formatted)

    def on_worker_log(self, w: Worker, text: str) -> None:
        self.line(f"w{w.id}", text)
        if isinstance(w.task, _Trial):
            w.task.lines.append(text)

    def note(self, text: str) -> None:
        log.info("%s run %s: %s", self.row.name, self.row.run, text)
        self.line("lagom", text)

    def capture_environment(self) -> None:
        env = environment.capture()
        self.store.set_environment(self.row.id, env)
        (self.folder / "environment.json").write_text(json.dumps(env, indent=2, default=str))

    # trials ----------------------------------------------------------------------------------
    def record_trial(self, trial: _Trial, result: dict[str, Any], status: str, value: float | None,
                     error: str | None) -> None:
        record = {
            "trial": trial.number,
            "hparams": trial.hparams,
            "status": status,
            "metrics": result.get("metrics", {}),
            "value": value,
            "steps": [list(s) for s in result.get("steps", [])],
            "files": result.get("files", {}),
            "outputs": result.get("outputs", {}),
            "attempts": trial.attempts,
            "worker": trial.worker,
            "error": error,
            "started_at": trial.started_at or now(),
            "duration_s": result.get("duration_s"),
        }
        self.trials[trial.number] = record
        self.store.save_trial(self.row.id, record)
        folder = self.trial_folder(trial.number)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / TRIAL_LOG).write_text("".join(line + "\n" for line in trial.lines), encoding="utf-8")
        for dataset in result.get("datasets", []):
            entry = self.datasets.setdefault(dataset["asset_id"], {**dataset, "trials": []})
            entry["trials"].append(trial.number)
        self.models.extend(result.get("models", []))

    # the end -----------------------------------------------------------------------------------
    def _best(self) -> dict[str, Any] | None:
        metric = self.config.metric
        done = [t for t in self.trials.values() if t["status"] == "finished"]
        if not done:
            return None
        if metric is None or isinstance(self.config, (Config, TorchDistributedConfig)):
            return done[0]
        scored = [t for t in done if t["value"] is not None]
        if not scored:
            return None
        pick = max if self.config.direction == "max" else min
        return pick(scored, key=lambda t: t["value"])

    def _link_lineage(self) -> None:
        experiment = self.assets.get("experiment", self.row.id)
        for asset_id, dataset in self.datasets.items():
            try:
                self.assets.link(asset_id, experiment.id, "input", {"trials": dataset["trials"]})
            except LakeboxError as e:  # the dataset was deleted during the run
                log.warning("cannot link training dataset %s to the run: %s", dataset, e)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def finish(self) -> Result:
        """Record the outcome; raise ``ExperimentError`` if the run failed."""
        internal = {k: self.extra.pop(k) for k in [k for k in self.extra if k.startswith("_")]}
        best = internal.get("_best") or self._best()
        ok = best is not None and internal.get("_ok", True)
        error = None
        if not ok:
            failures = [t for t in self.trials.values() if t["status"] == "failed" and t["error"]]
            error = internal.get("_error") or (failures[0]["error"] if failures else "no trial finished")
        metric = self.config.metric
        value = best["value"] if best is not None and best.get("value") is not None else (
            best["metrics"].get(metric) if best is not None and metric else None)
        if best is not None and "best_trial" not in self.extra and self.config.kind != "distributed":
            self.extra["best_trial"] = best["trial"]
        if isinstance(self.config, AblationConfig):
            self.extra["ablation"] = {
                (t["hparams"]["ablated"] or "baseline"): t["value"] for t in sorted(self.trials.values(), key=lambda t: t["trial"])
            }
        duration = time.perf_counter() - self.started
        self.store.finish(
            self.row.id,
            status="finished" if ok else "failed",
            hparams=(best["hparams"] if best is not None else self.row.hparams),
            metrics=(best["metrics"] if best is not None else {}),
            best_value=value,
            files=(best["files"] if best is not None else {}),
            error=error,
            duration_s=duration,
        )
        self._link_lineage()
        self.note(
            f"{self.row.name} run {self.row.run} {'finished' if ok else 'failed'} in {duration:.1f} s"
            + (f"; best {metric} = {value} with {best['hparams']}" if ok and metric and value is not None else "")
        )
        self._close_log()
        self.closed = True
        row = self.store.by_id(self.row.id)
        assert row is not None
        trials = [self.trials[k] for k in sorted(self.trials)]
        result = Result(Experiment(self.project, row), trials, {**self.extra, "models": self.models,
                                                                "worker_startup_s": self.worker_startup_s})
        (self.folder / "result.json").write_text(dumps(result.to_dict()))
        if not ok:
            last = (error or "").strip().splitlines()[-1:] or ["unknown error"]
            headline = internal.get("_headline")
            raise ExperimentError(
                f"Experiment {self.row.name} run {self.row.run} failed: {headline + ': ' if headline else ''}{last[0]}"
                " (the full traceback is in "
                f"result.error and {self.folder / RUN_LOG}).",
                result=result,
                traceback=error or "",
            )
        return result

    def abort(self, exc: BaseException) -> None:
        """Record a run that ``lagom`` could not finish (interrupted, or an error of lagom itself)."""
        if self.closed:
            return
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        try:
            self.note(f"{self.row.name} run {self.row.run} {status}: {type(exc).__name__}: {exc}")
            best = self._best()
            self.store.finish(
                self.row.id, status=status, hparams=best["hparams"] if best else self.row.hparams,
                metrics=best["metrics"] if best else {}, best_value=best.get("value") if best else None,
                files=best["files"] if best else {}, error=f"{type(exc).__name__}: {exc}",
                duration_s=time.perf_counter() - self.started,
            )
            self._link_lineage()
        finally:
            self._close_log()
            self.closed = True


# -- trials in a pool of workers (single run, search, ablation) -------------------------------
def _trials(
    run: _Run, config: _Common, source: Any, workers: int, fn_bytes: bytes, plan: signature.CallPlan,
    dataset: dict[str, Any] | None, model_bytes: bytes | None, fixed: dict[str, Any],
) -> None:
    metric = config.metric
    needs_metric = metric is not None and not isinstance(config, Config)
    env = _worker_env(str(run.project.path), workers)
    ablation = isinstance(config, AblationConfig)

    def payload(trial: _Trial) -> dict[str, Any]:
        ablated = trial.hparams.get("ablated") if ablation else None
        kind = trial.hparams.get("ablation_kind") if ablation else None
        hparams = dict(fixed) if ablation else dict(trial.hparams)
        data = dict(dataset, drop=ablated if kind == "feature" else None) if dataset is not None else None
        model = ({"factory": model_bytes, "omit": ablated if kind == "component" else None, "hparams": hparams}
                 if model_bytes is not None else None)
        return {
            "trial": trial.number, "hparams": hparams, "plan": plan, "context": run.context,
            "artifacts_root": str(run.artifacts), "files_dir": str(run.trial_folder(trial.number) / "files"),
            "dataset": data, "model": model, "metric": metric, "report": True,
        }

    pool = Pool(fn_bytes, run.on_worker_log)
    retry: deque[_Trial] = deque()
    exhausted = False
    startup_failures = 0
    try:
        for i in range(workers):
            pool.start(i, env)
        run.note(f"{run.row.name} run {run.row.run}: {config.kind}, {source.total} trial(s) on {workers} worker(s)")
        run.capture_environment()  # while the workers start
        while True:
            if not exhausted or retry:
                free = sorted(set(range(workers)) - {w.id for w in pool.alive()})
                for worker_id in free:
                    pool.start(worker_id, env)
            for w in sorted(pool.alive(), key=lambda w: w.id):
                if not w.idle:
                    continue
                trial = retry.popleft() if retry else None
                if trial is None and not exhausted:
                    asked = source.ask()
                    if asked is None:
                        exhausted = True
                    else:
                        trial = _Trial(asked[0], {**fixed, **asked[1]})
                if trial is None:
                    break
                trial.attempts += 1
                trial.worker = w.id
                trial.started_at = trial.started_at or now()
                if trial.attempts > 1:
                    trial.lines.append(f"--- attempt {trial.attempts} ---")
                pool.assign(w, trial, payload(trial))
            busy = [w for w in pool.alive() if w.task is not None]
            if not busy and not retry and exhausted:
                break
            deadline = None
            if config.timeout_s is not None and busy:
                deadline = max(0.0, min(w.task_started + config.timeout_s for w in busy) - time.perf_counter())
            for kind, w, data in pool.wait(deadline):
                if kind == "ready":
                    startup_failures = 0
                    run.worker_startup_s.append(w.ready_s or 0.0)
                elif kind == "fatal":
                    raise fatal(w, data)
                elif kind == "report":
                    trial = w.task
                    stop = source.report(trial.number, data[2], data[3])
                    pool.send(w, ("reply", stop))
                    if stop:
                        run.note(f"trial {trial.number} stopped early at step {data[2]} ({metric} = {data[3]:.6g})")
                elif kind == "result":
                    trial, w.task = w.task, None
                    _finish_trial(run, source, trial, data[1], metric, needs_metric, config.retries, retry)
                elif kind == "exit":
                    trial, w.task = w.task, None
                    if trial is None and w.ready_s is None:
                        startup_failures += 1
                        if startup_failures >= MAX_STARTUP_FAILURES:
                            raise ExperimentError(
                                f"Worker processes exit while starting (exit code {data}); their error is printed "
                                "above. Workers are started with spawn and import the caller's script: put the "
                                "lagom call under `if __name__ == '__main__':`."
                            )
                    if isinstance(trial, _Trial):
                        reason = w.killed_reason or f"the worker process died ({_exit_reason(data)})"
                        run.note(f"trial {trial.number}: {reason}")
                        failed = {"status": "failed", "error": reason, "metrics": {}, "steps": [], "duration_s":
                                  time.perf_counter() - w.task_started}
                        _finish_trial(run, source, trial, failed, metric, needs_metric, config.retries, retry)
            if config.timeout_s is not None:
                for w in pool.alive():
                    if w.task is not None and time.perf_counter() - w.task_started > config.timeout_s:
                        pool.kill(w, f"the trial timed out after {config.timeout_s} s and was killed")
    finally:
        pool.shutdown()


def _finish_trial(
    run: _Run, source: Any, trial: _Trial, result: dict[str, Any], metric: str | None, needs_metric: bool,
    retries: int, retry: deque[_Trial],
) -> None:
    status, error = result["status"], result.get("error")
    metrics = result.get("metrics", {})
    final = False
    if status == "finished" and needs_metric and metrics.get(metric) is None:  # type: ignore[arg-type]
        status, final = "failed", True
        error = (
            f"The function returned no number for metric {metric!r}; it returned metrics {sorted(metrics)}"
            + (f" and other values {sorted(result.get('outputs', {}))}" if result.get("outputs") else "")
            + ". Return it in the dict, or set metric= to one of the returned names."
        )
        run.note(f"trial {trial.number}: {error}")
    if status == "failed" and not final and trial.attempts <= retries:
        last = (error or "").strip().splitlines()[-1:] or ["unknown error"]
        run.note(f"trial {trial.number} failed on w{trial.worker} (attempt {trial.attempts}): {last[0]}; retrying")
        retry.append(trial)
        return
    value: float | None = None
    if status == "finished" and metric is not None:
        value = metrics.get(metric)
    elif status == "pruned" and result.get("steps"):
        value = result["steps"][-1][1]
    source.tell(trial.number, value, status)
    run.record_trial(trial, result, status, value, error)
    shown = f"{metric} = {value:.6g}" if isinstance(value, (int, float)) else ""
    run.note(f"trial {trial.number} {status}" + (f" ({shown})" if shown else "") + f" {trial.hparams}")


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# -- torch.distributed ----------------------------------------------------------------------
def _distributed(
    run: _Run, config: TorchDistributedConfig, fn_bytes: bytes, plan: signature.CallPlan,
    dataset: dict[str, Any] | None, model_bytes: bytes | None, fixed: dict[str, Any],
) -> None:
    world = config.world_size or _default_world_size()
    threads = config.threads_per_rank or max(1, (os.cpu_count() or 1) // world)
    run.note(f"{run.row.name} run {run.row.run}: torch.distributed, {world} rank(s), {threads} thread(s) each")
    env = _worker_env(str(run.project.path), world, threads)
    loopback = _loopback()
    if loopback and "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = loopback  # keep gloo's own connections on loopback too
    environment_captured = False
    results: dict[int, dict[str, Any]] = {}
    failure: tuple[int, str] | None = None
    trials: dict[int, _Trial] = {}
    for attempt in range(config.retries + 1):
        trials = {r: trials.get(r) or _Trial(r, dict(fixed)) for r in range(world)}
        for trial in trials.values():
            trial.attempts = attempt + 1
            trial.worker = trial.number
            trial.started_at = now()
        pool = Pool(fn_bytes, run.on_worker_log)
        results, failure, port, sent = {}, None, None, set()
        try:
            for rank in range(world):
                pool.start(rank, env)
            if not environment_captured:
                run.capture_environment()
                environment_captured = True

            def payload(rank: int, port: int | None) -> dict[str, Any]:
                model = {"factory": model_bytes, "omit": None, "hparams": dict(fixed)} if model_bytes is not None else None
                return {
                    "trial": rank, "hparams": dict(fixed), "plan": plan, "context": run.context,
                    "artifacts_root": str(run.artifacts), "files_dir": str(run.folder / "files"),
                    "dataset": dataset, "model": model, "metric": config.metric, "report": True,
                    "distributed": {"rank": rank, "world_size": world, "backend": config.backend, "port": port,
                                    "timeout_s": config.timeout_s, "threads": threads},
                }

            failures: list[tuple[int, str, bool]] = []  # (rank, error, died)
            grace_until: float | None = None
            while len(results) < world and (grace_until is None or time.perf_counter() < grace_until):
                for w in pool.alive():
                    if w.idle and w.id not in sent and (w.id == 0 or port is not None) and not failures:
                        sent.add(w.id)
                        pool.assign(w, trials[w.id], payload(w.id, port))
                timeout = None if grace_until is None else max(0.0, grace_until - time.perf_counter())
                events = pool.wait(timeout)
                if not events and not pool.alive():
                    break
                for kind, w, data in events:
                    if kind == "ready":
                        run.worker_startup_s.append(w.ready_s or 0.0)
                    elif kind == "fatal":
                        raise fatal(w, data)
                    elif kind == "port":
                        port = data[1]
                    elif kind == "report":
                        pool.send(w, ("reply", False))
                    elif kind == "result":
                        w.task = None
                        results[w.id] = data[1]
                        if data[1]["status"] != "finished":
                            failures.append((w.id, data[1].get("error") or f"rank {w.id} stopped early", False))
                    elif kind == "exit" and w.id not in results:
                        failures.append((w.id, f"rank {w.id} died ({_exit_reason(data)})", True))
                if failures and grace_until is None:
                    # the first report may come from a rank that only saw its peer go away: listen a
                    # moment longer, then blame the rank that failed first-hand
                    grace_until = time.perf_counter() + FAILURE_GRACE_S
            if failures:
                failure = _root_cause(failures)
                for w in pool.alive():  # the others wait in collectives for the failed rank: stop them now
                    pool.kill(w, f"stopped because rank {failure[0]} failed")
        finally:
            pool.shutdown()
        if failure is None:
            break
        last = failure[1].strip().splitlines()[-1:] or ["unknown error"]
        run.note(f"rank {failure[0]} failed (attempt {attempt + 1}): {last[0]}"
                 + ("; retrying" if attempt < config.retries else ""))
    for rank in range(world):
        result = results.get(rank) or {
            "status": "failed", "metrics": {}, "steps": [], "duration_s": None,
            "error": f"stopped because rank {failure[0]} failed" if failure else "no result",
        }
        run.record_trial(trials[rank], result, result["status"], None, result.get("error"))
    if failure is not None:
        run.extra["_ok"] = False
        run.extra["_error"] = f"rank {failure[0]} failed:\n{failure[1]}"
        run.extra["_headline"] = f"rank {failure[0]} failed"
        return
    rank0 = run.trials[0]
    metrics = dict(rank0["metrics"])
    for key, value in rank0["metrics"].items():
        values = [run.trials[r]["metrics"].get(key) for r in range(world)]
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if isinstance(value, (int, float)) and numbers:
            metrics[key] = sum(numbers) / len(numbers)
    best = dict(rank0, metrics=metrics, value=metrics.get(config.metric) if config.metric else None)
    run.extra["_best"] = best
    run.extra["ranks"] = [run.trials[r]["metrics"] for r in range(world)]


_PEER_FAILURE = re.compile(
    r"Connection (closed|reset) by peer|Broken pipe|DistBackendError|DistNetworkError|Socket Timeout|"
    r"timed out|ProcessGroupGloo|NCCL (error|communicator)|TCPStore|sendBytes|recvBytes",
    re.IGNORECASE,
)


def _root_cause(failures: list[tuple[int, str, bool]]) -> tuple[int, str]:
    """The failure that caused the others: a rank that died, else one whose error is not a
    symptom of a peer going away (a closed connection, a collective timeout), else the first."""
    for rank, error, died in failures:
        if died:
            return rank, error
    for rank, error, _ in failures:
        if not _PEER_FAILURE.search(error):
            return rank, error
    return failures[0][0], failures[0][1]


def _default_world_size() -> int:
    try:
        import torch
    except ImportError:
        return 2
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return count if count > 0 else 2


def _loopback() -> str | None:
    from lakebox.experiment.distributed import loopback_interface

    return loopback_interface()

"""Trials in a pool of worker processes: a single run, a hyperparameter search, an ablation.

Trials come from a source (``OptunaSearch`` or ``FixedTrials``); a free worker gets the next
one; reports go to the optimizer, which may stop a trial; a failed trial is retried
``retries`` times; a trial past ``timeout_s`` is killed.
"""

from __future__ import annotations

import os
import signal
import time
from collections import deque
from typing import Any

from lakebox.catalog.experiments import now
from lakebox.experiment import signature
from lakebox.experiment.config import AblationConfig, Config, _Common
from lakebox.experiment.context import TENSORBOARD_DIR
from lakebox.experiment.errors import ExperimentError
from lakebox.experiment.pool import Pool, fatal
from lakebox.experiment.recording import Run, Trial

MAX_STARTUP_FAILURES = 3
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def worker_env(box: str, processes: int, threads: int | None = None) -> dict[str, str]:
    """Environment of worker processes: the run's box as ``$LAKEBOX_HOME`` (so ``lakebox.connect()``
    inside the function opens it) and the cores shared out between the processes."""
    env = {"LAKEBOX_HOME": box}
    share = str(threads or max(1, (os.cpu_count() or 1) // processes))
    for variable in THREAD_VARIABLES:
        if variable not in os.environ:
            env[variable] = share
    return env


def visible_gpus() -> list[str]:
    """The GPUs this machine offers trial workers: ``CUDA_VISIBLE_DEVICES`` if set, else the CUDA
    devices torch sees (torch is only imported where an NVIDIA driver is present)."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [d.strip() for d in given.split(",") if d.strip() and d.strip() != "-1"]
    if not os.path.exists("/proc/driver/nvidia/gpus"):
        return []
    try:
        import torch
    except ImportError:
        return []
    return [str(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []


def gpus_of(config: _Common) -> list[str]:
    """The GPUs a config's trials share out: its ``gpus`` (a count or device ids; 0 or [] for
    none), else what the machine offers (``visible_gpus``)."""
    given = getattr(config, "gpus", None)
    if given is None:
        return visible_gpus()
    if isinstance(given, int):
        available = visible_gpus()
        return available[:given] if available else [str(i) for i in range(given)]
    return [str(g) for g in given]


def device_env(worker: int, gpus: list[str]) -> dict[str, str]:
    """A trial worker's device: GPU ``gpus[worker]`` alone (``CUDA_VISIBLE_DEVICES``), which it
    holds while it runs trials and gives back when it exits; no GPUs: the CPU."""
    if not gpus:
        return {}
    gpu = gpus[worker % len(gpus)]
    return {"CUDA_VISIBLE_DEVICES": gpu, "LAKEBOX_DEVICE": "cuda:0"}


def run_trials(
    run: Run, config: _Common, source: Any, workers: int, fn_bytes: bytes, plan: signature.CallPlan,
    dataset: dict[str, Any] | None, model_bytes: bytes | None, fixed: dict[str, Any],
) -> None:
    metric = config.metric
    needs_metric = metric is not None and not isinstance(config, Config)
    env = worker_env(run.recorder.box, workers)
    gpus = gpus_of(config)
    if gpus:
        run.note(f"GPUs {gpus}: one per worker (CUDA_VISIBLE_DEVICES)")
    ablation = isinstance(config, AblationConfig)
    many = not isinstance(config, Config)  # a search or an ablation: one TensorBoard run per trial

    def payload(trial: Trial) -> dict[str, Any]:
        ablated = trial.hparams.get("ablated") if ablation else None
        kind = trial.hparams.get("ablation_kind") if ablation else None
        hparams = dict(fixed) if ablation else dict(trial.hparams)
        data = dict(dataset, drop=ablated if kind == "feature" else None, recorder=run.recorder) if dataset is not None else None
        model = ({"factory": model_bytes, "omit": ablated if kind == "component" else None, "hparams": hparams}
                 if model_bytes is not None else None)
        return {
            "trial": trial.number, "hparams": hparams, "plan": plan, "context": run.context,
            "artifacts_root": str(run.artifacts), "files_dir": str(run.trial_folder(trial.number) / "files"),
            "tensorboard_dir": str(run.folder / TENSORBOARD_DIR / (f"trial_{trial.number}" if many else "")),
            "dataset": data, "model": model, "metric": metric, "report": True,
        }

    pool = Pool(fn_bytes, run.on_worker_log)
    retry: deque[Trial] = deque()
    exhausted = False
    startup_failures = 0
    try:
        for i in range(workers):
            pool.start(i, {**env, **device_env(i, gpus)})
        run.note(f"{run.row.name} run {run.row.run}: {config.kind}, {source.total} trial(s) on {workers} worker(s)")
        run.capture_environment()  # while the workers start
        while True:
            if not exhausted or retry:
                free = sorted(set(range(workers)) - {w.id for w in pool.alive()})
                for worker_id in free:
                    pool.start(worker_id, {**env, **device_env(worker_id, gpus)})
            for w in sorted(pool.alive(), key=lambda w: w.id):
                if not w.idle:
                    continue
                trial = retry.popleft() if retry else None
                if trial is None and not exhausted:
                    asked = source.ask()
                    if asked is None:
                        exhausted = True
                    else:
                        trial = Trial(asked[0], {**fixed, **asked[1]})
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
                    if isinstance(trial, Trial):
                        reason = w.killed_reason or f"the worker process died ({exit_reason(data)})"
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
    run: Run, source: Any, trial: Trial, result: dict[str, Any], metric: str | None, needs_metric: bool,
    retries: int, retry: deque[Trial],
) -> None:
    status, error = result["status"], result.get("error")
    metrics = result.get("metrics", {})
    final = False
    if status == "finished" and needs_metric and metrics.get(metric) is None:
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


def exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"

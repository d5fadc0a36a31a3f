"""One run being recorded: the run's catalog rows (through the recording port), its folder,
its log (every worker's output, prefixed) and the live echo, its trials, and how it ends.

Every run is an experiment in the box (status ``running`` from the start, so a model created
inside it can link to it): hyperparameters, metrics, per-trial results, returned files copied
under ``artifacts/experiments/<name>/<run>/``, the output of every worker (``run.log``, each
line prefixed by its worker; ``trials/<n>/output.log``), duration, status, the Python
environment, and lineage (training datasets read inside the function -> the experiment).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lakebox.catalog.experiments import dumps, now
from lakebox.experiment import environment
from lakebox.experiment.config import AblationConfig, Config, TorchDistributedConfig, _Common
from lakebox.experiment.errors import ExperimentError
from lakebox.experiment.port import Recorder
from lakebox.experiment.record import RUN_LOG, TRIAL_LOG, Result

log = logging.getLogger(__name__)


@dataclass
class Trial:
    number: int
    hparams: dict[str, Any]  # what the record shows (searched values; for an ablation what is left out)
    attempts: int = 0
    worker: int | None = None
    started_at: str | None = None
    lines: list[str] = field(default_factory=list)


class Run:
    """The experiment being recorded: catalog rows, the run folder, the log, the live echo."""

    def __init__(
        self, recorder: Recorder, config: _Common, name: str, function: str, echo: bool | Callable[[str], None],
        fixed: dict[str, Any],
    ) -> None:
        self.recorder = recorder
        self.config = config
        metric = config.metric
        self.row = recorder.create_run(
            name=name, kind=config.kind, description=config.description, function=function, config=config.to_dict(),
            hparams=fixed, metric=metric, direction=config.direction if metric else None,
        )
        self.artifacts = recorder.artifacts
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
                "box": self.recorder.box}

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

    def on_worker_log(self, w: Any, text: str) -> None:
        self.line(f"w{w.id}", text)
        if isinstance(w.task, Trial):
            w.task.lines.append(text)

    def note(self, text: str) -> None:
        log.info("%s run %s: %s", self.row.name, self.row.run, text)
        self.line("lagom", text)

    def capture_environment(self) -> None:
        env = environment.capture()
        self.recorder.set_environment(self.row.id, env)
        (self.folder / "environment.json").write_text(json.dumps(env, indent=2, default=str))

    # trials ----------------------------------------------------------------------------------
    def record_trial(self, trial: Trial, result: dict[str, Any], status: str, value: float | None,
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
        self.recorder.save_trial(self.row.id, record)
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
        self.recorder.link_inputs(self.row.id, self.datasets)

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
        self.recorder.finish_run(
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
            + (f"; best {metric} = {value} with {best['hparams']}" if ok and best is not None and metric and value is not None else "")
        )
        self._close_log()
        self.closed = True
        trials = [self.trials[k] for k in sorted(self.trials)]
        result = Result(self.recorder.experiment(self.row.id), trials, {**self.extra, "models": self.models,
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
            self.recorder.finish_run(
                self.row.id, status=status, hparams=best["hparams"] if best else self.row.hparams,
                metrics=best["metrics"] if best else {}, best_value=best.get("value") if best else None,
                files=best["files"] if best else {}, error=f"{type(exc).__name__}: {exc}",
                duration_s=time.perf_counter() - self.started,
            )
            self._link_lineage()
        finally:
            self._close_log()
            self.closed = True

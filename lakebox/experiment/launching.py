"""Data-parallel runs: ``TorchDistributedConfig`` ranks with torch.distributed initialised."""

from __future__ import annotations

import os
import re
import time
from typing import Any

from lakebox.catalog.experiments import now
from lakebox.experiment import signature
from lakebox.experiment.config import TorchDistributedConfig
from lakebox.experiment.pool import Pool, fatal
from lakebox.experiment.recording import Run, Trial
from lakebox.experiment.scheduling import exit_reason, worker_env

FAILURE_GRACE_S = 1.0


def run_distributed(
    run: Run, config: TorchDistributedConfig, fn_bytes: bytes, plan: signature.CallPlan,
    dataset: dict[str, Any] | None, model_bytes: bytes | None, fixed: dict[str, Any],
) -> None:
    world = config.world_size or _default_world_size()
    threads = config.threads_per_rank or max(1, (os.cpu_count() or 1) // world)
    run.note(f"{run.row.name} run {run.row.run}: torch.distributed, {world} rank(s), {threads} thread(s) each")
    env = worker_env(run.recorder.box, world, threads)
    loopback = _loopback()
    if loopback and "GLOO_SOCKET_IFNAME" not in os.environ:
        env["GLOO_SOCKET_IFNAME"] = loopback  # keep gloo's own connections on loopback too
    environment_captured = False
    results: dict[int, dict[str, Any]] = {}
    failure: tuple[int, str] | None = None
    trials: dict[int, Trial] = {}
    for attempt in range(config.retries + 1):
        trials = {r: trials.get(r) or Trial(r, dict(fixed)) for r in range(world)}
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
                    "dataset": dict(dataset, recorder=run.recorder) if dataset is not None else None, "model": model, "metric": config.metric, "report": True,
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
                        failures.append((w.id, f"rank {w.id} died ({exit_reason(data)})", True))
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

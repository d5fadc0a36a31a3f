"""Data-parallel runs on torch's own launcher (``torch.distributed.run``, torch elastic).

lagom writes the node's spec (the function, hyperparameters, factories and, on the recording
node, the run's context) into the run folder and starts ``python -m torch.distributed.run
--nnodes N --nproc-per-node P --max-restarts R <rendezvous> -m lakebox.experiment.node SPEC``.
Torch elastic does the rest: rendezvous (c10d; or static with a node rank), one process per
rank with ``RANK``/``LOCAL_RANK``/``WORLD_SIZE``, watching them, stopping the group within a
monitor interval when one fails, restarting it ``max_restarts`` times. lagom reads the
launcher's output line by line (every rank's lines arrive prefixed ``[w<rank>]``), and
afterwards each rank's result from ``<run>/ranks/<rank>.json``.

A node that joins a run another node records (``node_rank > 0``) runs the same launcher with a
spec that has no run context; its ranks' results and output reach the recording node through
the process group at the end (``node.py``).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lakebox.catalog.experiments import now
from lakebox.experiment import signature
from lakebox.experiment.config import TorchDistributedConfig, _endpoint
from lakebox.experiment.context import TENSORBOARD_DIR
from lakebox.experiment.node import RESULTS
from lakebox.experiment.recording import Run, Trial
from lakebox.experiment.scheduling import worker_env

MONITOR_INTERVAL_S = 0.1
SHUTDOWN_TIMEOUT_S = 5
_RANK_LINE = re.compile(r"^\[w(\d+)\] ?(.*)$")
_ROOT_RANK = re.compile(r"Root Cause \(first observed failure\):.*?rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+)[^\n]*", re.S)
_FAILURE_ENTRY = re.compile(r"rank\s*:\s*(\d+) \(local_rank: \d+\)\s*\n\s*exitcode\s*:\s*(-?\d+)")
_PEER_FAILURE = re.compile(
    r"Connection (closed|reset) by peer|Broken pipe|DistBackendError|DistNetworkError|Socket Timeout|"
    r"timed out|ProcessGroupGloo|NCCL (error|communicator)|TCPStore|sendBytes|recvBytes",
    re.IGNORECASE,
)


def default_ranks() -> int:
    """One rank per GPU, else 2 CPU ranks."""
    try:
        import torch
    except ImportError:
        return 2
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return count if count > 0 else 2


def launcher_command(config: TorchDistributedConfig, nproc: int, spec: Path, run_id: str) -> list[str]:
    """The ``torch.distributed.run`` command line of this node (through ``launcher``, which keeps
    the stores on 127.0.0.1, when every node is this machine)."""
    timeout = int(max(1, round(float(config.timeout_s or 120))))
    local = config.nnodes == 1 or _loopback(_endpoint(config.rdzv_endpoint or "127.0.0.1:0")[0])
    launcher = ["-m", "lakebox.experiment.launcher", "--loopback"] if local else ["-m", "torch.distributed.run"]
    command = [
        sys.executable, *launcher, f"--nnodes={config.nnodes}", f"--nproc-per-node={nproc}",
        f"--max-restarts={max(config.max_restarts, config.retries)}", f"--monitor-interval={MONITOR_INTERVAL_S}",
        f"--rdzv-id={run_id}", f"--rdzv-conf=join_timeout={timeout},timeout={timeout}",
    ]
    if config.nnodes == 1:
        # one machine: the rendezvous store on a free loopback port, and the ranks' master there too
        command += ["--rdzv-backend=c10d", "--rdzv-endpoint=127.0.0.1:0", "--local-addr=127.0.0.1"]
    else:
        assert config.rdzv_endpoint is not None
        host, port = _endpoint(config.rdzv_endpoint)
        if config.elastic:  # c10d rendezvous: node ranks in order of arrival
            command += ["--rdzv-backend=c10d", f"--rdzv-endpoint={config.rdzv_endpoint}"]
        else:  # static: node ranks as given, global rank 0 on node 0
            command += [f"--node-rank={config.node_rank}", f"--master-addr={host}", f"--master-port={port}"]
        if _loopback(host):
            command.append("--local-addr=127.0.0.1")
    return [*command, "-m", "lakebox.experiment.node", str(spec)]


def rendezvous_id(config: TorchDistributedConfig, name: str, unique: str) -> str:
    """The rendezvous id: the same on every node of a multi-node run (the run's name), unique on one machine."""
    return f"lakebox-{name}" if config.nnodes > 1 else f"lakebox-{name}-{unique}"


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1")


def _environment(box: str | None, config: TorchDistributedConfig, nproc: int, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(worker_env(box, nproc, threads) if box else {})
    env.setdefault("OMP_NUM_THREADS", str(threads))  # else torchrun prints a banner and sets 1
    # the ranks import the training function by name, like the caller: give them its sys.path
    paths = [p for p in sys.path if p]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("TORCH_ELASTIC_SHUTDOWN_TIMEOUT", str(SHUTDOWN_TIMEOUT_S))
    local = config.nnodes == 1 or (config.rdzv_endpoint is not None and _loopback(_endpoint(config.rdzv_endpoint)[0]))
    if local and "GLOO_SOCKET_IFNAME" not in os.environ:
        from lakebox.experiment.distributed import loopback_interface

        interface = loopback_interface()
        if interface:
            env["GLOO_SOCKET_IFNAME"] = interface  # gloo's own connections stay on loopback too
    return env


def _spec(
    config: TorchDistributedConfig, fn_bytes: bytes, plan: signature.CallPlan, dataset: dict[str, Any] | None,
    model_bytes: bytes | None, fixed: dict[str, Any], backend: str, threads: int, record: dict[str, Any] | None,
    recorder: Any,
) -> dict[str, Any]:
    model = {"factory": model_bytes, "omit": None, "hparams": dict(fixed)} if model_bytes is not None else None
    return {
        "fn": fn_bytes, "plan": plan, "hparams": dict(fixed), "metric": config.metric, "model": model,
        "dataset": dict(dataset, recorder=recorder) if dataset is not None else None,
        "backend": backend, "timeout_s": config.timeout_s, "threads": threads, "env": {}, "record": record,
    }


def _launch(command: list[str], env: dict[str, str], on_line: Callable[[str], None]) -> int:
    """Run the launcher, handing every output line to ``on_line``; stop it if the caller is interrupted."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        text=True, encoding="utf-8", errors="replace", bufsize=1,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            on_line(line.rstrip("\n"))
        return process.wait()
    finally:
        if process.poll() is None:  # interrupted: torch elastic stops its ranks on SIGTERM
            process.terminate()
            try:
                process.wait(SHUTDOWN_TIMEOUT_S + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()


# -- the recording node -----------------------------------------------------------------------
def run_distributed(
    run: Run, config: TorchDistributedConfig, fn_bytes: bytes, plan: signature.CallPlan,
    dataset: dict[str, Any] | None, model_bytes: bytes | None, fixed: dict[str, Any],
) -> None:
    nproc = config.ranks_per_node(default_ranks())
    world = nproc * config.nnodes
    threads = config.threads_per_rank or max(1, (os.cpu_count() or 1) // nproc)
    backend = config.backend  # each rank resolves "auto" (and refuses NCCL without a GPU per rank) itself
    where = "" if config.nnodes == 1 else f" x {config.nnodes} nodes (rendezvous {config.rdzv_endpoint})"
    run.note(f"{run.row.name} run {run.row.run}: torch.distributed (backend {backend}) on torch's launcher, "
             f"{nproc} rank(s){where}, {threads} thread(s) each")
    launch = run.folder / "launch"
    launch.mkdir(parents=True, exist_ok=True)
    results = run.folder / RESULTS
    record = {"context": run.context, "artifacts_root": str(run.artifacts), "files_dir": str(run.folder / "files"),
              "results_dir": str(results), "tensorboard_dir": str(run.folder / TENSORBOARD_DIR)}
    spec_path = launch / "spec.pkl"
    spec_path.write_bytes(pickle.dumps(_spec(config, fn_bytes, plan, dataset, model_bytes, fixed, backend, threads,
                                             record, run.recorder)))
    trials = {r: Trial(r, dict(fixed), attempts=1, worker=r, started_at=now()) for r in range(world)}
    launcher_lines: list[str] = []

    def on_line(line: str) -> None:
        match = _RANK_LINE.match(line)
        if match and int(match.group(1)) in trials:
            rank = int(match.group(1))
            run.line(f"w{rank}", match.group(2))
            trials[rank].lines.append(match.group(2))
        else:
            launcher_lines.append(line)
            run.line("launcher", line)

    command = launcher_command(config, nproc, spec_path, rendezvous_id(config, run.row.name, f"{run.row.id}-{os.getpid()}"))
    run.capture_environment()
    code = _launch(command, _environment(run.recorder.box, config, nproc, threads), on_line)
    outcome: dict[int, dict[str, Any]] = {}
    for rank in range(world):
        path = results / f"{rank}.json"
        if path.exists():
            outcome[rank] = json.loads(path.read_text(encoding="utf-8"))
    for rank, returned in sorted(outcome.items()):
        if returned.get("remote"):  # a rank of another node: its output came with its result
            for line in returned.get("log", []):
                run.line(f"w{rank}", line)
            trials[rank].lines.extend(returned.get("log", []))
        trials[rank].attempts = int(returned.get("attempt", 1))
    finished = code == 0 and all(outcome.get(r, {}).get("status") == "finished" for r in range(world))
    failure = None if finished else _root_cause(outcome, world, "\n".join(launcher_lines), code)
    for rank in range(world):
        result = outcome.get(rank)
        if failure is not None and rank != failure[0]:
            # the others only stopped (or lost their peer) because of the root cause
            own = ((result or {}).get("error") or "").strip().splitlines()[-1:]
            result = dict(result or {"metrics": {}, "steps": [], "duration_s": None}, status="failed",
                          error=f"stopped because rank {failure[0]} failed" + (f" ({own[0]})" if own else ""))
        elif result is None:
            result = {"status": "failed", "metrics": {}, "steps": [], "duration_s": None,
                      "error": failure[1] if failure is not None else "no result"}
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
    run.extra["attempts"] = max(t.attempts for t in trials.values())


def _root_cause(outcome: dict[int, dict[str, Any]], world: int, launcher: str, code: int) -> tuple[int, str]:
    """The rank whose failure caused the others': one whose error is not a symptom of a peer going
    away (a closed connection, a collective timeout); else the launcher's root cause (a rank that
    died without a result); else the first failed rank."""
    failed = [(r, outcome[r].get("error") or "") for r in sorted(outcome) if outcome[r].get("status") != "finished"]
    for rank, error in failed:
        if not _PEER_FAILURE.search(error):
            return rank, error
    # a rank that wrote no result died (a signal, os._exit): that is the cause of the peers' errors
    exits = {int(r): int(code) for r, code in _FAILURE_ENTRY.findall(launcher)}
    match = _ROOT_RANK.search(launcher)
    suspects = ([int(match.group(1))] if match else []) + sorted(exits) + list(range(world))
    for rank in suspects:
        if rank < world and rank not in outcome:
            how = _exit(exits[rank]) if rank in exits else "no result"
            return rank, f"rank {rank} died ({how}); the launcher said:\n" + "\n".join(launcher.strip().splitlines()[-25:])
    if failed:
        return failed[0]
    tail = "\n".join(launcher.strip().splitlines()[-20:])
    return 0, f"torch's launcher exited with code {code}:\n{tail}"


def _exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# -- a node that joins a run another node records ---------------------------------------------
def join_distributed(
    config: TorchDistributedConfig, fn_bytes: bytes, plan: signature.CallPlan, dataset: dict[str, Any] | None,
    model_bytes: bytes | None, fixed: dict[str, Any], recorder: Any, echo: bool | Callable[[str], None], name: str,
) -> int:
    """Start this node's ranks; returns the launcher's exit code (0: this node's ranks finished)."""
    nproc = config.ranks_per_node(default_ranks())
    threads = config.threads_per_rank or max(1, (os.cpu_count() or 1) // nproc)
    backend = config.backend
    folder = Path(tempfile.mkdtemp(prefix="lakebox-node-"))
    try:
        spec_path = folder / "spec.pkl"
        spec_path.write_bytes(pickle.dumps(_spec(config, fn_bytes, plan, dataset, model_bytes, fixed, backend, threads,
                                                 None, recorder)))

        def on_line(line: str) -> None:
            text = line if _RANK_LINE.match(line) else f"[launcher] {line}"
            if echo is True:
                print(text, flush=True)
            elif callable(echo):
                echo(text)

        box = recorder.box if recorder is not None else None
        return _launch(launcher_command(config, nproc, spec_path, rendezvous_id(config, name, "")), _environment(box, config, nproc, threads),
                       on_line)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

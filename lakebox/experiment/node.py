"""One rank of a data-parallel run, as torch's launcher starts it.

``lakebox.experiment.launching`` starts ``python -m torch.distributed.run ... -m
lakebox.experiment.node SPEC`` on each machine; torch elastic starts ``nproc_per_node`` of
these processes per node with ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous in
the environment, watches them, and restarts the group (``max_restarts``) or stops it when one
fails. Each rank:

1. prefixes every line of its output with ``[w<rank>]`` (prints, logging, C-level output);
2. initialises ``torch.distributed`` (gloo, or NCCL on ``cuda:<LOCAL_RANK>``);
3. learns from its peers which node records the run (the spec of that node carries the run's
   context; the others' carry none) with one ``all_gather_object``;
4. calls the training function like a trial worker does (``worker.run_task``);
5. on the recording node writes its result to ``<run>/ranks/<rank>.json``; the ranks of other
   nodes send result and output to the recording node's first rank, which writes them there;
6. exits 0, or 1 with its traceback (also in torch elastic's error file, so the launcher's
   failure summary shows it).
"""

from __future__ import annotations

import os
import pickle
import socket
import sys
import traceback
from pathlib import Path
from typing import Any

from lakebox.catalog.experiments import dumps, now

RESULTS = "ranks"
USAGE = "usage: python -m lakebox.experiment.node SPEC (under torch.distributed.run; lagom writes SPEC)"


class _Console:
    """Where a rank's output goes: the launcher's stdout, each line prefixed by the rank."""

    def __init__(self, prefix: str) -> None:
        self.fd = os.dup(1)
        self.prefix = prefix
        self.lines: list[str] = []

    def send(self, message: tuple[Any, ...]) -> None:
        line = message[1]
        self.lines.append(line)
        try:
            os.write(self.fd, f"[{self.prefix}] {line}\n".encode("utf-8", "replace"))
        except OSError:
            pass  # the launcher went away; the line is still kept


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(USAGE, file=sys.stderr)
        sys.exit(2)
    from lakebox.experiment.worker import OutputCapture

    rank = int(os.environ.get("RANK", "0"))
    console = _Console(f"w{rank}")
    capture = OutputCapture(console)  # type: ignore[arg-type]
    code = 1
    try:
        code = run_rank(Path(args[0]), rank, int(os.environ.get("WORLD_SIZE", "1")), console, capture)
    finally:
        capture.flush()
        # never wait for a process group's teardown here: a failed peer would make it hang
        os._exit(code)


def run_rank(spec_path: Path, rank: int, world: int, console: _Console, capture: Any) -> int:
    with open(spec_path, "rb") as f:
        spec = pickle.load(f)
    os.environ.update(spec["env"])
    record = spec.get("record")
    started = now()
    result: dict[str, Any]
    recorder_rank: int | None = None
    records: list[Any] = [None] * world
    try:
        from lakebox.experiment import functions
        from lakebox.experiment.distributed import init_from_launcher
        from lakebox.experiment.worker import run_task

        fn = functions.loads(spec["fn"])
        init_from_launcher(spec["backend"], spec["timeout_s"], spec["threads"])
        import torch.distributed as dist

        dist.all_gather_object(records, record)
        recorder_rank = next((r for r, item in enumerate(records) if item is not None), None)
        if recorder_rank is None:
            raise RuntimeError(
                "No node of this run records it: start node_rank 0 with experiment.lagom(...) or `lakebox train`, "
                "and the other nodes with their node_rank."
            )
        shared = records[recorder_rank]
        task = {
            "trial": rank, "hparams": spec["hparams"], "plan": spec["plan"], "context": shared["context"],
            "artifacts_root": shared["artifacts_root"], "files_dir": shared["files_dir"] if record else None,
            "dataset": spec["dataset"], "model": spec["model"], "metric": spec["metric"], "report": False,
            # every rank its own TensorBoard folder; ranks of other nodes only with the box on a shared filesystem
            "tensorboard_dir": f"{shared['tensorboard_dir']}/rank_{rank}" if record or _shared(shared) else None,
        }
        result = run_task(fn, task, None, rank, rank, world)
    except BaseException as e:  # set-up failed: the rank fails with its traceback
        text = "".join(traceback.format_exception(type(e), e, e.__traceback__))
        print(text, file=sys.stderr, end="", flush=True)
        result = {"trial": rank, "rank": rank, "status": "failed", "metrics": {}, "files": {}, "outputs": {},
                  "error": text, "steps": [], "datasets": [], "models": [], "started_at": started, "duration_s": None}
    result.update(
        attempt=int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) + 1, host=socket.gethostname(),
        local_rank=int(os.environ.get("LOCAL_RANK", "0")),
    )
    if record is not None:
        _write(Path(record["results_dir"]), rank, result)
    if result["status"] != "finished":
        _torch_error_file(result.get("error") or "failed")
        return 1
    import torch.distributed as dist

    # the ranks of other nodes send their result and output to the recording node
    capture.flush()
    mine = None if records[rank] is not None else dict(result, log=list(console.lines), remote=True)
    gathered: list[Any] | None = [None] * world if rank == recorder_rank else None
    dist.gather_object(mine, gathered, dst=recorder_rank)
    if gathered is not None and record is not None:
        for other, item in enumerate(gathered):
            if item is not None:
                _write(Path(record["results_dir"]), other, item)
    dist.destroy_process_group()
    return 0


def _shared(record: dict[str, Any]) -> bool:
    """True when the recording node's run folder is visible here too (a shared filesystem)."""
    return Path(record["results_dir"]).parent.is_dir()


def _write(folder: Path, rank: int, result: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{rank}.json"
    partial = target.with_suffix(".json.part")
    partial.write_text(dumps(result), encoding="utf-8")
    os.replace(partial, target)


def _torch_error_file(message: str) -> None:
    """torch elastic's error file (its failure summary names the root cause with this text)."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if not path:
        return
    import json
    import time

    data = {"message": {"message": message.strip().splitlines()[-1] if message.strip() else "failed",
                        "extraInfo": {"py_callstack": message, "timestamp": str(int(time.time()))}}}
    try:
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)
    except OSError:
        pass


if __name__ == "__main__":
    main()

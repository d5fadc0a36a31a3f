"""What experiment.lagom costs: per-trial overhead, worker start-up, parallel speed-up, a
shared study, and the start-up of a data-parallel run on torch's launcher.

    python benchmarks/lagom_overhead.py [--trials 20] [--work 0.25] [--parallel-trials 8] [--ddp-runs 3]

1. The floor: the training function called in a plain loop.
2. lagom's fixed cost per trial: a random search of the same (near-empty) function with one
   worker, for n and 10n trials; the difference per extra trial is what lagom adds to each
   trial (dispatch over the pipe, the optimizer's ask/tell, the trial's catalog row and log
   file). Target: under 1 s per trial; it is milliseconds.
3. Worker start-up (spawn a fresh interpreter, import lakebox and the function), and the
   wall time of a whole single ``Config`` run against one direct call.
4. 8 random-search trials of a CPU-bound function (``--work`` seconds each) with 2 workers
   vs 1: the speed-up parallel workers give (at most the number of free cores).
5. The same overhead per trial when the Optuna study lives in shared storage (the box's SQLite
   file), as two processes sharing a search would use it.
6. A 2-rank CPU data-parallel run (``TorchDistributedConfig(world_size=2)``, gloo, torch's
   launcher): seconds from the ``lagom`` call until both ranks are inside the training function
   (target: under 3 s), and the whole run; beside the floor, one ``python -c "import torch"``.

Run on an otherwise idle machine; numbers are noisy on shared ones.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lakebox
from lakebox import experiment


def tiny(x: float) -> dict[str, float]:
    """The near-empty training function: what is measured around it is lagom."""
    return {"metric": -((x - 0.5) ** 2)}


def busy(x: float, work: float = 0.25) -> dict[str, float]:
    """A CPU-bound function that computes for about ``work`` seconds (no sleeping)."""
    deadline = time.process_time() + work
    total = 0.0
    while time.process_time() < deadline:
        for i in range(1000):
            total += i * x
    return {"metric": -((x - 0.5) ** 2), "spin": total}


def entered() -> dict[str, float]:
    """A data-parallel function that only says when its rank started it (after init_process_group)."""
    import torch
    import torch.distributed as dist

    at = time.time()
    dist.all_reduce(torch.ones(1))
    return {"entered": at}


def search(fn, trials: int, workers: int, study: str | None = None, **hparams: float) -> tuple[float, experiment.Result]:  # type: ignore[no-untyped-def]
    config = experiment.HyperparameterOptConfig(
        searchspace=experiment.Searchspace(x=("DOUBLE", [0.0, 1.0])), optimizer="randomsearch",
        num_trials=trials, metric="metric", workers=workers, seed=0, hparams=hparams or None, study=study,
    )
    start = time.perf_counter()
    result = experiment.lagom(fn, config, echo=False)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="trials of the overhead measurement (n; also 10n)")
    parser.add_argument("--work", type=float, default=0.25, help="CPU seconds per trial of the parallel measurement")
    parser.add_argument("--parallel-trials", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ddp-runs", type=int, default=3, help="2-rank data-parallel runs to time (0: skip)")
    parser.add_argument("--skip", default="", help="comma-separated parts to skip: overhead,parallel,study")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        lakebox.connect(Path(tmp) / "bench.lakebox")

        # 1. the floor
        start = time.perf_counter()
        for i in range(args.trials):
            tiny(i / args.trials)
        loop = (time.perf_counter() - start) / args.trials
        print(f"\nplain loop:                      {loop * 1e6:10.2f} µs per call")

        n = args.trials
        if "overhead" not in skip:
            overhead(args, loop)
        if "parallel" not in skip:
            parallel(args)
        if "study" not in skip:
            small = min(search(tiny, n, 1, study=f"small_{i}")[0] for i in range(args.repeats))
            large = min(search(tiny, 10 * n, 1, study=f"large_{i}")[0] for i in range(args.repeats))
            print(f"\nshared study (the box's SQLite):  {(large - small) / (9 * n) * 1e3:10.2f} ms per trial")
        if args.ddp_runs:
            data_parallel(args)


def data_parallel(args: argparse.Namespace) -> None:
    import subprocess

    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import torch"], check=True)
    floor = time.perf_counter() - start
    starts, totals = [], []
    for i in range(args.ddp_runs):
        called = time.time()
        result = experiment.lagom(entered, experiment.TorchDistributedConfig(f"ddp_{i}", world_size=2), echo=False)
        totals.append(time.time() - called)
        starts.append(max(r["entered"] for r in result.ranks or []) - called)
    print("\n2-rank CPU data-parallel run (gloo, torch's launcher):")
    print(f"  until both ranks train:        {min(starts):10.3f} s   (target < 3 s; median {statistics.median(starts):.3f})")
    print(f"  whole run, end to end:         {min(totals):10.3f} s   (median {statistics.median(totals):.3f})")
    print(f"  floor: python -c 'import torch' {floor:9.3f} s   (the launcher and each rank pay it)")


def overhead(args: argparse.Namespace, loop: float) -> None:
    # 2. fixed cost per trial (incremental, so worker start-up cancels out)
    n = args.trials
    small = min(search(tiny, n, 1)[0] for _ in range(args.repeats))
    large_runs = [search(tiny, 10 * n, 1) for _ in range(args.repeats)]
    large = min(t for t, _ in large_runs)
    per_trial = (large - small) / (9 * n)
    fixed = small - n * per_trial
    print(f"lagom, 1 worker, {n:4d} trials:     {small:10.3f} s")
    print(f"lagom, 1 worker, {10 * n:4d} trials:     {large:10.3f} s")
    print(f"overhead per trial:              {per_trial * 1e3:10.2f} ms   (target < 1000 ms; "
          f"{per_trial / loop:,.0f}x the plain call)")
    print(f"fixed cost per run:              {fixed:10.3f} s   (start-up, environment, recording)")

    # 3. worker start-up and one single run
    startups = [s for _, r in large_runs for s in r.to_dict()["worker_startup_s"]]
    print(f"worker start-up (spawn+imports): {statistics.median(startups):10.3f} s   median of {len(startups)}")
    singles = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        experiment.lagom(tiny, experiment.Config("single", {"x": 0.3}), echo=False)
        singles.append(time.perf_counter() - start)
    print(f"one Config run, end to end:      {min(singles):10.3f} s   (a direct call: {loop * 1e6:.1f} µs)")


def parallel(args: argparse.Namespace) -> None:
    # 4. parallel speed-up
    k = args.parallel_trials
    one = min(search(busy, k, 1, work=args.work)[0] for _ in range(max(1, args.repeats - 1)))
    two = min(search(busy, k, 2, work=args.work)[0] for _ in range(max(1, args.repeats - 1)))
    print(f"\n{k} random-search trials of {args.work:.2f} s CPU each:")
    print(f"  1 worker:                      {one:10.3f} s   (floor {k * args.work:.2f} s)")
    print(f"  2 workers:                     {two:10.3f} s   (floor {k * args.work / 2:.2f} s)")
    print(f"  speed-up:                      {one / two:10.2f}x")

if __name__ == "__main__":
    main()

"""What experiment.lagom costs: per-trial overhead, worker start-up, and parallel speed-up.

    python benchmarks/lagom_overhead.py [--trials 20] [--work 0.25] [--parallel-trials 8]

1. The floor: the training function called in a plain loop.
2. lagom's fixed cost per trial: a random search of the same (near-empty) function with one
   worker, for n and 10n trials; the difference per extra trial is what lagom adds to each
   trial (dispatch over the pipe, the optimizer's ask/tell, the trial's catalog row and log
   file). Target: under 1 s per trial; it is milliseconds.
3. Worker start-up (spawn a fresh interpreter, import lakebox and the function), and the
   wall time of a whole single ``Config`` run against one direct call.
4. 8 random-search trials of a CPU-bound function (``--work`` seconds each) with 2 workers
   vs 1: the speed-up parallel workers give (at most the number of free cores).

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


def search(fn, trials: int, workers: int, **hparams: float) -> tuple[float, experiment.Result]:  # type: ignore[no-untyped-def]
    config = experiment.HyperparameterOptConfig(
        searchspace=experiment.Searchspace(x=("DOUBLE", [0.0, 1.0])), optimizer="randomsearch",
        num_trials=trials, metric="metric", workers=workers, seed=0, hparams=hparams or None,
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
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")

    with tempfile.TemporaryDirectory() as tmp:
        lakebox.connect(Path(tmp) / "bench.lakebox")

        # 1. the floor
        start = time.perf_counter()
        for i in range(args.trials):
            tiny(i / args.trials)
        loop = (time.perf_counter() - start) / args.trials
        print(f"\nplain loop:                      {loop * 1e6:10.2f} µs per call")

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

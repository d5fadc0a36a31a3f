"""How fast lakebox starts: ``import lakebox`` and ``lakebox fg list`` against their floors.

Floors, run side by side in the same process tree: ``python -c "import sqlite3"`` plus reading
the feature groups from the box's catalog with plain sqlite3 (the least any ``fg list`` must
do), and a bare ``python -c pass``. Targets (issue 16): ``import lakebox`` under 300 ms, and
``lakebox fg list`` on the demo box within 2x of the sqlite3 floor. Each figure is the median
of ``--repeat`` runs, as wall time and as CPU time (user + sys of the child): on a loaded
machine the CPU time is the steadier of the two. It also lists which heavy modules
``fg list`` imported (pyiceberg's catalog, pandas, sqlglot, polars should be absent).

The lakebox rows run the console script with output into a pipe and ``COLUMNS`` unset, as a
script or ``lakebox fg list | grep`` runs it: ``fg list`` then takes the fast path of
``lakebox.entry`` (no click, no rich). Text for a terminal, or ``COLUMNS`` narrower than the
table (the row with ``COLUMNS=120``: the demo's table is ~150 wide, so rich fits it), goes
through click and rich; so does every other command (``fv list``).

Bytecode is cached for every child (``PYTHONPYCACHEPREFIX`` in the temporary folder, one
warm-up run each), as after ``pip install``, which compiles it: an environment with
``PYTHONDONTWRITEBYTECODE=1`` would otherwise compile lakebox's sources on every run. A row
``import click + rich`` shows what the CLI's own libraries cost before lakebox does anything.

Run: .venv/bin/python benchmarks/cli_startup.py [--box demo.lakebox] [--repeat 7] [--baseline DIR]
(without --box it builds a small demo box in a temporary folder first). ``--baseline DIR``: a
checkout of another commit (``git archive REF lakebox sql | tar -x -C DIR``); each lakebox
command also runs from there (``PYTHONPATH=DIR``, through ``lakebox.cli.main``, the console
script of commits before ``lakebox.entry``), so before and after share one run and load.
Commands run interleaved, round by round, so a change in the machine's load hits all of them.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
HEAVY = ("pyiceberg.catalog.sql", "pandas", "sqlglot", "polars", "duckdb", "pyarrow", "lmdb", "fastapi", "textual", "torch")


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: str | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one run; fails loudly if the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def build_box(folder: Path) -> Path:
    import lakebox
    from lakebox.demo import build_demo_box

    path = folder / "demo.lakebox"
    with lakebox.connect(path) as project:
        build_demo_box(project, days=2, n_players=50, n_games=100)
    return path


# metadata commands whose imports are listed (each reads the catalog only; tests/test_startup*.py)
METADATA = (["fg", "list"], ["fg", "show", "players"], ["fg", "commits", "players"], ["search", "attend"], ["models", "list"],
            ["experiments", "list"], ["jobs", "list"], ["lineage", "games"], ["fv", "list"], ["tag", "list", "fg", "players"],
            ["monitors", "list"], ["deployments", "list"])  # fmt: skip


def imported(box: Path, args: list[str], watched: tuple[str, ...], env: dict[str, str] | None = None,
             main: str = "lakebox.cli") -> list[str]:  # fmt: skip
    """Which ``watched`` modules ``lakebox ARGS`` imported, run through ``main``'s ``main``."""
    code = (
        f"import sys\nsys.argv = ['lakebox', '--box', {str(box)!r}, *{args!r}]\nfrom {main} import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print('loaded:' + ','.join(m for m in {watched!r} if m in sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, env=env)
    found = [line for line in done.stderr.splitlines() if line.startswith("loaded:")]
    if not found:
        raise SystemExit(f"lakebox {' '.join(args)} failed:\n{done.stderr}")
    return [m for m in found[-1].removeprefix("loaded:").split(",") if m]


# what the console script's fast `fg list` (lakebox.entry) must not import
FAST_WATCHED = ("click", "rich", "lakebox.cli", "lakebox.box", "dataclasses", "pathlib", "tomllib")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--box", type=Path, default=None, help="A box to list (default: build a small demo box).")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--baseline", type=Path, default=None, help="A checkout of another commit to compare with.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        box = args.box or build_box(Path(tmp))
        catalog = box / "catalog.db"
        lakebox_cli = str(Path(PYTHON).parent / "lakebox")
        env = {**os.environ, "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache")}
        for name in ("PYTHONDONTWRITEBYTECODE", "COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
            env.pop(name, None)  # into a pipe at natural width, as scripts see it
        floor_sql = (
            f"import sqlite3; db = sqlite3.connect('file:{catalog}?mode=ro', uri=True); "
            "print(db.execute('SELECT name, version FROM feature_groups ORDER BY name, version').fetchall())"
        )
        commands = [
            ("python -c pass", [PYTHON, "-c", "pass"]),
            ("floor: import sqlite3 + read the catalog", [PYTHON, "-c", floor_sql]),
            ("import click + rich (the CLI's libraries)", [PYTHON, "-c", "import click, rich.console, rich.table"]),
            ("import lakebox", [PYTHON, "-c", "import lakebox"]),
            ("lakebox fg list", [lakebox_cli, "--box", str(box), "fg", "list"]),
            ("lakebox fg list, COLUMNS=120 (rich fits it)", [lakebox_cli, "--box", str(box), "fg", "list"]),
            ("lakebox -o json fg list (no rich)", [lakebox_cli, "--box", str(box), "-o", "json", "fg", "list"]),
            ("lakebox fv list", [lakebox_cli, "--box", str(box), "fv", "list"]),
            ("lakebox -o json fv list (no rich)", [lakebox_cli, "--box", str(box), "-o", "json", "fv", "list"]),
        ]
        narrow = {**env, "COLUMNS": "120"}
        runs: list[tuple[str, list[str], dict[str, str]]] = [
            (name, argv, narrow if "COLUMNS=" in name else env) for name, argv in commands
        ]
        if args.baseline is not None:  # the same lakebox commands from the baseline's sources
            base_env = {**env, "PYTHONPATH": str(args.baseline.resolve()),
                        "PYTHONPYCACHEPREFIX": str(Path(tmp) / "pycache-baseline")}  # fmt: skip
            cli = "import sys; from lakebox.cli import main; sys.argv[0] = 'lakebox'; main()"
            runs += [(f"baseline: {name}", [PYTHON, "-c", cli, *argv[1:]],
                      {**base_env, "COLUMNS": "120"} if "COLUMNS=" in name else base_env)
                     for name, argv in commands if argv[0] == lakebox_cli]  # fmt: skip
        for _, argv, run_env in runs:  # warm-up: writes the bytecode caches
            timed(argv, run_env, cwd=tmp)  # cwd: not a checkout, so PYTHONPATH decides which lakebox runs
        times: dict[str, list[tuple[float, float]]] = {name: [] for name, _, _ in runs}
        for _ in range(args.repeat):
            for name, argv, run_env in runs:
                times[name].append(timed(argv, run_env, cwd=tmp))
        rows = [(name, (statistics.median(t[0] for t in found), statistics.median(t[1] for t in found)))
                for name, found in times.items()]  # fmt: skip
        floor = dict(rows)["floor: import sqlite3 + read the catalog"]
        print(f"{'command':55} {'wall ms':>9} {'cpu ms':>8} {'x floor (cpu)':>14}")
        for name, (wall, cpu) in rows:
            print(f"{name:55} {wall * 1000:9.0f} {cpu * 1000:8.0f} {cpu / floor[1]:14.1f}")
        print("\ntargets: import lakebox < 300 ms; fg list within 2x of the floor")
        print("text into a terminal, or COLUMNS narrower than the table: click and rich (the COLUMNS=120 row)")
        fast = imported(box, ["fg", "list"], FAST_WATCHED, env, main="lakebox.entry")
        print(f"lakebox fg list (console script, into a pipe) imported: {', '.join(fast) or 'none'} of {', '.join(FAST_WATCHED)}")
        print("heavy modules imported (pyiceberg's catalog, pandas, pyarrow, sqlglot, duckdb, ...):")
        for command in METADATA:
            heavy = imported(box, command, HEAVY, env)
            print(f"  lakebox {' '.join(command):24} {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()

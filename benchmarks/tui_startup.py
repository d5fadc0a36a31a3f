"""Startup of the terminal browser: ``lakebox tui`` on the demo box, to its first screen.

    python benchmarks/tui_startup.py [--repeats 5] [--size 80x24]

Runs ``python -m lakebox.cli tui BOX`` in a pseudo-terminal, as a person would, and times two
moments from the process start: the *first screen* (the frame with the search bar is drawn)
and the *tree* (the box is open and its assets are listed). The floor is a minimal Textual
app drawing one line, started the same way: what any Textual program costs before it does
anything. Prints the best and median of each and the ratio to the floor (target: first
screen under 1 s). Wall times are noisy on a shared machine; the CPU time the process has used
when each moment comes (read from /proc, Linux only) is what survives the load.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import re
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

FLOOR_APP = """
from textual.app import App
from textual.widgets import Static
class Floor(App):
    def compose(self):
        yield Static("floor-ready")
Floor().run()
"""
_ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>NOPc78DEHM])")


def build_box(root: Path) -> Path:
    """The demo box with its feature view and one training dataset."""
    import lakebox
    from lakebox.demo import build_demo_box, create_demo_view

    path = root / "demo.lakebox"
    with lakebox.connect(path) as project:
        view = create_demo_view(build_demo_box(project))
        view.create_training_dataset(data_format="parquet", test_size=0.2, seed=42)
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far, all threads (NaN where /proc is missing)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_run(argv: list[str], markers: list[bytes], size: tuple[int, int], timeout: float = 30.0,
              cpu: list[float] | None = None) -> list[float]:
    """Start ``argv`` in a pty of ``size``; seconds until each marker has appeared on screen
    (and, into ``cpu``, the CPU seconds the process had used by then)."""
    cols, rows = size
    pid, fd = os.forkpty()
    if pid == 0:  # the child: a terminal of the given size, then the program
        fcntl.ioctl(sys.stdout.fileno(), termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        os.environ.update(TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        os.execv(argv[0], argv)
    start = time.perf_counter()
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    seen: list[float] = []
    screen = b""
    try:
        while len(seen) < len(markers):
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{argv[-2:]}: no {markers[len(seen)]!r} within {timeout} s")
            ready, _, _ = select.select([fd], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            screen += _ESCAPES.sub(b"", chunk)
            while len(seen) < len(markers) and markers[len(seen)] in screen:
                seen.append(time.perf_counter() - start)
                if cpu is not None:
                    cpu.append(cpu_seconds(pid))
        os.write(fd, b"q")
        deadline = time.perf_counter() + 10
        while time.perf_counter() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    if not os.read(fd, 65536):
                        break
                except OSError:
                    break
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                pid = 0
                break
    finally:
        if pid:
            os.kill(pid, signal.SIGTERM)
            os.waitpid(pid, 0)
        os.close(fd)
    if len(seen) < len(markers):
        raise RuntimeError(f"{argv[-2:]} exited before showing {markers[len(seen)]!r}")
    return seen


def summary(name: str, times: list[float]) -> str:
    return f"{name:<28} best {min(times) * 1000:7.0f} ms   median {statistics.median(times) * 1000:7.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--size", default="80x24", help="terminal size COLSxROWS")
    args = parser.parse_args()
    size = tuple(int(x) for x in args.size.split("x"))
    assert len(size) == 2
    with tempfile.TemporaryDirectory() as tmp:
        box = build_box(Path(tmp))
        floor_script = Path(tmp) / "floor.py"
        floor_script.write_text(FLOOR_APP)
        tui = [sys.executable, "-m", "lakebox.cli", "tui", str(box)]
        floor = [sys.executable, str(floor_script)]
        timed_run(tui, [b"Feature groups"], size)  # warm the file cache once
        first, tree, floors, first_cpu, tree_cpu, floor_cpu = [], [], [], [], [], []
        for _ in range(args.repeats):
            cpu: list[float] = []
            a, b = timed_run(tui, [b"search groups", b"Feature groups"], size, cpu=cpu)  # type: ignore[arg-type]
            first.append(a)
            tree.append(b)
            first_cpu.append(cpu[0])
            tree_cpu.append(cpu[1])
            cpu = []
            floors.append(timed_run(floor, [b"floor-ready"], size, cpu=cpu)[0])  # type: ignore[arg-type]
            floor_cpu.append(cpu[0])
    print(f"lakebox tui on the demo box, {size[0]}x{size[1]}, {args.repeats} runs (from process start)")
    print(summary("floor: minimal Textual app", floors))
    print(summary("lakebox tui: first screen", first))
    print(summary("lakebox tui: assets listed", tree))
    print(f"CPU by then (median): floor {statistics.median(floor_cpu):.2f} s, first screen "
          f"{statistics.median(first_cpu):.2f} s ({statistics.median(first_cpu) / statistics.median(floor_cpu):.2f}x), "
          f"assets listed {statistics.median(tree_cpu):.2f} s")
    ratio = statistics.median(first) / statistics.median(floors)
    verdict = "OK" if statistics.median(first) < 1.0 else "over the 1 s target"
    print(f"first screen / floor: {ratio:.2f}x   first screen median {statistics.median(first):.2f} s: {verdict}")


if __name__ == "__main__":
    main()

"""A real ``lakebox serve`` process on a free loopback port, for the HTTP tests."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(code: str, *args: str, folder: Path, base: str | None = None, verify: Any = True) -> Iterator[dict[str, Any]]:
    """Run ``python -c code args...`` (a server) until it answers ``/health`` at ``base``;
    yields its process and output files; terminates it afterwards."""
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=ROOT, stdout=stdout, stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    deadline = time.monotonic() + 60
    try:
        while base is not None:
            assert proc.poll() is None, f"the server exited: {err.read_text()}"
            try:
                if httpx.get(base + "/health", timeout=1, verify=verify).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"the server did not start: {err.read_text()}"
            time.sleep(0.05)
        yield {"proc": proc, "stdout": out, "stderr": err}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_closed(sockets: list[socket.socket], deadline_s: float, poke: bytes = b"") -> list[bytes]:
    """Wait until the server has closed every socket (reads until EOF; optionally sends
    ``poke`` between reads to act as a trickling client); returns what each received.
    Fails if some are still open after ``deadline_s`` (a bound for a broken server, not a
    timing assertion: the server's own timeouts are far shorter)."""
    received = [b""] * len(sockets)
    open_ = set(range(len(sockets)))
    for s in sockets:
        s.settimeout(0.05)
    end = time.monotonic() + deadline_s
    try:
        _drain(sockets, received, open_, end, poke)
    finally:
        for s in sockets:
            s.close()
    return received


def _drain(sockets: list[socket.socket], received: list[bytes], open_: set[int], end: float, poke: bytes) -> None:
    while open_:
        assert time.monotonic() < end, f"{len(open_)} of {len(sockets)} connections still open"
        for i in list(open_):
            try:
                chunk = sockets[i].recv(65536)
            except TimeoutError:
                if poke:
                    try:
                        sockets[i].sendall(poke)
                    except OSError:
                        open_.discard(i)
                continue
            except OSError:
                open_.discard(i)
                continue
            if chunk:
                received[i] += chunk
            else:
                open_.discard(i)

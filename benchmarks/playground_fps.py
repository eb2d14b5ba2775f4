"""Playground speed: boundary frames per second per tab, and the server's CPU per session.

The server runs as its own process (``glassnet playground --port 0 --no-browser``), exactly as
a user starts it; each "tab" is a WebSocket client in a thread that asks for the articles'
circles network (2-4-6-6-4-1, the page's default), presses play and counts the frames it
receives (each frame: the 64 × 64 output grid, every unit's 32 × 32 map, all weights).
Rounds alternate 1 tab and 3 tabs (interleaved, so a busy machine hurts both alike); the
medians and min..max are printed, with the load average before and after.

Targets (issue 13): >= 30 fps with 1 tab, >= 15 fps per tab with 3 tabs (the server caps a
session at 60 frames a second: training you can watch, not a race).

    python benchmarks/playground_fps.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from websockets.sync.client import connect

SRC = Path(__file__).resolve().parents[1] / "src"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tab(address: str, seconds: float, counts: list[int], ready: threading.Barrier) -> None:
    with connect(address, max_size=2**24) as socket:
        while True:                                  # the model message comes first
            message = socket.recv(timeout=30)
            if isinstance(message, str) and json.loads(message)["type"] == "model":
                break
        ready.wait()
        socket.send(json.dumps({"type": "play"}))
        frames, stop = 0, time.perf_counter() + seconds
        while time.perf_counter() < stop:
            try:
                message = socket.recv(timeout=max(stop - time.perf_counter(), 0.001))
            except TimeoutError:
                break
            frames += isinstance(message, bytes)
        socket.send(json.dumps({"type": "pause"}))
        counts.append(frames)


def measure(address: str, pid: int, tabs: int, seconds: float) -> tuple[float, float]:
    """(frames per second per tab, median over tabs; server CPU seconds per second per session)."""
    counts: list[int] = []
    ready = threading.Barrier(tabs + 1)
    threads = [threading.Thread(target=_tab, args=(address, seconds, counts, ready)) for _ in range(tabs)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu0, wall0 = _cpu_seconds(pid), time.perf_counter()
    for thread in threads:
        thread.join()
    cpu, wall = _cpu_seconds(pid) - cpu0, time.perf_counter() - wall0
    return statistics.median(c / seconds for c in counts), cpu / wall / tabs


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    server = subprocess.Popen([sys.executable, "-m", "glassnet", "playground", "--port", "0", "--no-browser"],
                              stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = line.split(" at ")[1].split()[0].rstrip("/")
        address = url.replace("http://", "ws://") + "/ws"
        print(f"server {url} (pid {server.pid}); {args.rounds} rounds of {args.seconds:g} s; {_load()}")
        results: dict[int, list[tuple[float, float]]] = {1: [], 3: []}
        for _ in range(args.rounds):
            for tabs in (1, 3):
                results[tabs].append(measure(address, server.pid, tabs, args.seconds))
        for tabs, runs in results.items():
            fps, cpu = [r[0] for r in runs], [r[1] for r in runs]
            target = 30 if tabs == 1 else 15
            cpu_range = f"{100 * min(cpu):.0f}..{100 * max(cpu):.0f}%"
            print(f"{tabs} tab{'s' if tabs > 1 else ' '}: {statistics.median(fps):5.1f} fps per tab "
                  f"(min..max {min(fps):.1f}..{max(fps):.1f}; target >= {target}); server CPU per session "
                  f"{100 * statistics.median(cpu):.0f}% of a core ({cpu_range})")
        print(_load())
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()

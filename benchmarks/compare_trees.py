"""Old code against new: the same glassnet workloads from two source trees, paired.

Usage::

    git archive <old-commit> | tar -x -C /tmp/old          # a copy of the old tree
    python benchmarks/compare_trees.py /tmp/old/src src [--rounds 7] [--no-numba]
                                       [--only circles32,circles_full,script,A32,A128,A512]

Every round runs each workload once per tree, each in a fresh process (so imports and
one-time costs are alike for both and caches do not carry over), old first in even rounds
and new first in odd ones. A process times its workload after an untimed warm-up and prints
one number. Reported: per workload the median and min..max of each tree and of the paired
ratio ``old / new`` (> 1: the new code is faster). ``--no-numba`` makes the new tree behave
as if numba were not installed (``glassnet._fused`` finds no numba).

Workloads: the articles' circles network through ``fit`` with Adam (µs per step at batch
32 and full batch), the articles' whole script (ms, import excluded), and one epoch of the
MNIST-shaped MLP of workload A on 12,000 rows at batch 32 / 128 / 512 (s per epoch).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKLOADS = ("circles32", "circles_full", "script", "A32", "A128", "A512")


def worker(workload: str, no_numba: bool) -> float:
    """Run one workload in this process; return its time (s per step / script / epoch)."""
    sys.path.insert(0, str(HERE))
    if no_numba:
        try:
            from glassnet import _fused  # absent in trees older than the fused kernels
        except ImportError:
            pass
        else:
            _fused._NUMBA_FOUND = False
    from workloads import circles, common

    if workload.startswith("circles"):
        X, y = common.circles()
        batch = 32 if workload == "circles32" else len(X)
        epochs = 10 if batch == 32 else 300
        model = common.glassnet_model(common.CIRCLES_LAYERS, "sigmoid",
                                      common.glassnet_optimizer("adam", 1e-3), 0)
        model.fit(X, y, batch_size=batch, epochs=epochs, verbose=0)
        start = time.perf_counter()
        model.fit(X, y, batch_size=batch, epochs=epochs, verbose=0)
        return (time.perf_counter() - start) / (epochs * -(-len(X) // batch))
    if workload == "script":
        X, y = common.circles()
        start = time.perf_counter()
        circles.glassnet_script(X[:900], y[:900], 50)
        return time.perf_counter() - start
    X, y = common.random_mnist_like(12_000)
    model = common.glassnet_model(common.MNIST_LAYERS, "softmax",
                                  common.glassnet_optimizer("adam", 1e-3), 0)
    batch = int(workload[1:])
    model.fit(X, y, batch_size=batch, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(X, y, batch_size=batch, epochs=1, verbose=0)
    return time.perf_counter() - start


def run_one(src: str, workload: str, no_numba: bool) -> float:
    command = [sys.executable, __file__, "--worker", workload] + (["--no-numba"] if no_numba
                                                                   else [])
    result = subprocess.run(command, env=dict(os.environ, PYTHONPATH=src),
                            capture_output=True, text=True, check=True, timeout=600)
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", nargs="?")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--no-numba", action="store_true")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(worker(args.worker, args.no_numba))
        return
    if not (args.old and args.new):
        parser.error("give the old and the new source directory")
    old, new = str(Path(args.old).resolve()), str(Path(args.new).resolve())
    results = {}
    for workload in args.only.split(","):
        times: dict[str, list[float]] = {"old": [], "new": []}
        for round_index in range(args.rounds):
            order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
            for which in order:
                times[which].append(run_one(old if which == "old" else new, workload,
                                            args.no_numba and which == "new"))
        ratios = [o / n for o, n in zip(times["old"], times["new"], strict=True)]
        results[workload] = {**times, "ratio": ratios}
        print(f"{workload}: old {statistics.median(times['old']):.4g} "
              f"({min(times['old']):.4g}..{max(times['old']):.4g}), new "
              f"{statistics.median(times['new']):.4g} ({min(times['new']):.4g}.."
              f"{max(times['new']):.4g}); old/new {statistics.median(ratios):.2f}x "
              f"({min(ratios):.2f}..{max(ratios):.2f})", flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()

"""E. Peak memory of one training epoch of workload A (batch 128), glassnet vs PyTorch.

Each measurement is a fresh Python process (this file run as a script)::

    python memory.py glassnet|torch N_ROWS BATCH

It imports the library, creates the data (float32, directly: no float64
intermediate), then records the baseline, builds the model and trains one
epoch. It reports

* ``peak_mb``: ``ru_maxrss`` at the end minus the resident size at the baseline;
  the memory training added at its high point (what could make a machine swap);
* ``sampled_peak_mb``: the same from sampling the resident size every millisecond
  (a cross-check, and robust to a high-water mark reached during imports).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


class _Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.001)


def child(framework: str, n: int, batch_size: int) -> dict[str, Any]:
    sys.path.insert(0, str(HERE.parents[1]))
    from workloads import common

    if framework == "torch":
        import torch  # noqa: F401
    else:
        import glassnet  # noqa: F401
    X, y = common.random_mnist_like(n)
    baseline = _rss_mb()
    baseline_maxrss = _maxrss_mb()
    sampler = _Sampler()
    sampler.start()
    if framework == "torch":
        net = common.torch_model(common.MNIST_LAYERS, "softmax", 0)
        trainer = common.TorchTrainer(net, common.torch_optimizer(net, "adam", 1e-3), X, y,
                                      batch_size, "softmax")
        trainer.epoch()
    else:
        model = common.glassnet_model(common.MNIST_LAYERS, "softmax",
                                      common.glassnet_optimizer("adam", 1e-3), 0)
        model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)
    sampler.running = False
    sampler.join()
    end_maxrss = _maxrss_mb()
    return {
        "framework": framework,
        "baseline_rss_mb": baseline,
        "baseline_maxrss_mb": baseline_maxrss,
        "end_maxrss_mb": end_maxrss,
        "peak_mb": end_maxrss - baseline,
        "sampled_peak_mb": sampler.peak - baseline,
        "data_mb": X.nbytes / 2**20,
    }


def measure(framework: str, n: int, batch_size: int) -> dict[str, Any]:
    """Run :func:`child` in a fresh interpreter and return its report."""
    output = subprocess.run(
        [sys.executable, str(HERE), framework, str(n), str(batch_size)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run(settings) -> dict[str, Any]:
    from _harness import Target, log, summary

    n = 6_000 if settings.quick else 60_000
    batch_size = 128
    frameworks = ["glassnet"]
    try:
        import torch  # noqa: F401

        frameworks.append("torch")
    except ImportError:
        log("E: torch not installed; glassnet only")
    rounds = 1 if settings.quick else 3
    reports: dict[str, list[dict[str, Any]]] = {who: [] for who in frameworks}
    log(f"E: peak memory, {rounds} fresh processes each, {n} rows, batch {batch_size}")
    for round_index in range(rounds):
        for who in frameworks if round_index % 2 == 0 else frameworks[::-1]:
            reports[who].append(measure(who, n, batch_size))
    peaks = {who: summary([r["peak_mb"] for r in rs]) for who, rs in reports.items()}
    sampled = {who: summary([r["sampled_peak_mb"] for r in rs]) for who, rs in reports.items()}
    targets = []
    if "torch" in peaks:
        targets.append(Target("E", "peak memory added by training, glassnet / torch",
                              peaks["glassnet"]["median"] / max(peaks["torch"]["median"], 1e-9),
                              1.0, higher_is_better=False, unit="x"))
    return {
        "title": f"E. Peak memory of one epoch of A ({n} rows, batch {batch_size})",
        "cases": [],
        "memory": {"peak_mb": peaks, "sampled_peak_mb": sampled, "reports": reports},
        "targets": targets,
    }


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))

"""E. Peak memory of one training epoch of workload A (batch 128), glassnet vs PyTorch.

Each measurement is a fresh Python process (this file run as a script)::

    python memory.py glassnet|torch N_ROWS BATCH

It imports the library, creates the data (float32, directly: no float64
intermediate), then records the baseline, builds the model and trains one
epoch. It reports

* ``peak_mb``: the kernel's high-water mark of the resident size (``VmHWM``,
  reset at the baseline by writing 5 to ``/proc/self/clear_refs``) minus the
  resident size at the baseline: the memory training added at its high point;
* ``sampled_peak_mb``: the same from sampling the resident size every millisecond
  (a cross-check).

``getrusage().ru_maxrss`` is not used for the difference: Linux carries the
parent's high-water mark across ``fork``/``exec``, so in a child of a large
process it starts at the parent's size.
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


def _high_water_mb() -> float:
    """Peak resident size of this process since start (or since :func:`_reset_high_water`)."""
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_high_water() -> bool:
    """Reset ``VmHWM`` to the current resident size (Linux >= 4.0); False if not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


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
    high_water_before = _high_water_mb()
    reset = _reset_high_water()
    baseline = _rss_mb()
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
    high_water = _high_water_mb()
    return {
        "framework": framework,
        "baseline_rss_mb": baseline,
        "high_water_before_baseline_mb": high_water_before,
        "high_water_reset": reset,
        "high_water_mb": high_water,
        "peak_mb": high_water - baseline,
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

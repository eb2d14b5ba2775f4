"""A. MNIST-shaped training: 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam 1e-3.

``X`` is float32 ``(60000, 784)`` uniform noise (seeded) with 10 random classes:
the shapes and the arithmetic of an MNIST epoch without needing the data. One
call is one epoch (``fit(epochs=1)``) at batch 32, 128 and 512, against PyTorch
eager (default Adam), PyTorch with ``Adam(fused=True)`` and scikit-learn's
``MLPClassifier`` (float32, ``partial_fit``: one epoch per call).

GFLOP/s counts the matrix products actually executed (see
``common.gemm_flops_per_sample``), divided by the whole epoch time, so it also
shows how far the epoch is from the BLAS peak.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _harness import Target, compare, log, matmul_peak

from workloads import common

BATCH_SIZES = (32, 128, 512)
TARGET_SPEEDUPS = {"torch": 1.3, "torch fused Adam": 1.1, "sklearn": 1.5}


def contestants(X: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0) -> dict[str, Any]:
    """name -> callable that trains one epoch."""
    layers = common.MNIST_LAYERS
    model = common.glassnet_model(layers, "softmax", common.glassnet_optimizer("adam", 1e-3), seed)

    def glassnet_epoch() -> None:
        model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0, shuffle=True)

    runners: dict[str, Any] = {"glassnet": glassnet_epoch}
    try:
        import torch  # noqa: F401
    except ImportError:
        log("A: torch not installed; skipping the PyTorch peers")
    else:
        for name, fused in (("torch", False), ("torch fused Adam", True)):
            net = common.torch_model(layers, "softmax", seed)
            trainer = common.TorchTrainer(
                net, common.torch_optimizer(net, "adam", 1e-3, fused=fused), X, y, batch_size,
                "softmax",
            )
            runners[name] = trainer.epoch
    try:
        import sklearn  # noqa: F401
    except ImportError:
        log("A: scikit-learn not installed; skipping it")
    else:
        classifier = common.sklearn_model(batch_size, seed)
        common.quietly(classifier.partial_fit, X[:batch_size], y[:batch_size],
                       classes=np.arange(10))
        runners["sklearn"] = lambda: common.quietly(classifier.partial_fit, X, y)
    return runners


def run(settings: common.Settings) -> dict[str, Any]:
    n = 6_000 if settings.quick else 60_000
    X, y = common.random_mnist_like(n)
    flops_per_epoch = n * common.gemm_flops_per_sample(common.MNIST_LAYERS)
    cases, targets = [], []
    for batch_size in BATCH_SIZES:
        log(f"A: batch {batch_size}, {n} rows")
        case = compare(f"batch {batch_size}", contestants(X, y, batch_size), settings.repeats,
                       unit=f"s/epoch ({n} rows)")
        peak = settings.peak_gflops
        if peak and not settings.quick:
            # Measured again next to the case: on a busy machine the peak drifts too.
            peak = max(peak, matmul_peak(n=2048, repeats=5)["numpy_gflops"])
        case.extra["peak_gflops"] = peak
        gflops = {who: flops_per_epoch / np.median(times) / 1e9
                  for who, times in case.seconds.items()}
        case.extra["samples_per_s"] = {who: n / np.median(t) for who, t in case.seconds.items()}
        case.extra["gflops"] = gflops
        notes = {}
        for who, rate in gflops.items():
            notes[who] = f"{n / np.median(case.seconds[who]):,.0f} samples/s, {rate:.0f} GFLOP/s"
            if peak:
                notes[who] += f" ({rate / peak:.0%} of peak)"
        case.extra["fraction_of_peak"] = (
            {who: rate / peak for who, rate in gflops.items()} if peak else None
        )
        case.extra["notes"] = notes
        result = case.to_json()
        cases.append(result)
        for peer, threshold in TARGET_SPEEDUPS.items():
            ratio = result["speedup"].get(peer)
            targets.append(Target("A", f"batch {batch_size}: speedup vs {peer}",
                                  None if ratio is None else ratio["median"], threshold,
                                  unit="x"))
    return {
        "title": "A. MNIST-shaped MLP 784-256-128-10, Adam 1e-3, one epoch",
        "flops_per_epoch": flops_per_epoch,
        "cases": cases,
        "targets": targets,
    }

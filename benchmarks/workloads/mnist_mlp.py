"""A. MNIST-shaped training: 784-256-128-10 ReLU MLP, softmax cross-entropy, Adam 1e-3.

``X`` is float32 ``(60000, 784)`` uniform noise (seeded) labelled by a fixed random
teacher network (``common.teacher_labels``): the shapes and the arithmetic of an MNIST
epoch without needing the data, and a loss that falls (checked before timing). One call
is one epoch (``fit(epochs=1)``) of a *fresh* model (built untimed in every round) at
batch 32, 128 and 512, against PyTorch eager (default Adam), PyTorch with
``Adam(fused=True)``, ``torch.compile`` (model compiled once, weights reset in place
each round), JAX ``jit`` (Python loop) and JAX ``lax.scan`` (fresh parameters each
round; see ``peers.py``), scikit-learn's ``MLPClassifier`` (float32, ``partial_fit``:
one epoch per call), and the GEMM floor (only the epoch's matrix products, np.matmul:
its "speedup" is the fraction of the floor glassnet reaches).

GFLOP/s counts the matrix products actually executed (see
``common.gemm_flops_per_sample``), divided by the whole epoch time, so it also
shows how far the epoch is from the BLAS peak.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from _harness import Target, compare_external, log, matmul_peak

from workloads import common, peers

BATCH_SIZES = (32, 128, 512)
TARGET_SPEEDUPS = {"torch": 1.5, "torch fused Adam": 1.2, "sklearn": 1.5, "JAX jit loop": 1.0}


def _timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def contestants(X: np.ndarray, y: np.ndarray, batch_size: int, seed: int = 0,
                quick: bool = False) -> tuple[dict[str, Any], dict[str, str]]:
    """name -> callable that builds a fresh model (untimed) and returns the seconds of one
    trained epoch; and name -> note (compile times)."""
    layers = common.MNIST_LAYERS
    notes: dict[str, str] = {}

    def glassnet_epoch() -> float:
        model = common.glassnet_model(layers, "softmax", common.glassnet_optimizer("adam", 1e-3),
                                      seed)
        return _timed(lambda: model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0,
                                        shuffle=True))

    runners: dict[str, Any] = {"glassnet": glassnet_epoch}
    if peers.have("torch"):
        for name, fused in (("torch", False), ("torch fused Adam", True)):
            def torch_epoch(fused: bool = fused) -> float:
                net = common.torch_model(layers, "softmax", seed)
                trainer = common.TorchTrainer(
                    net, common.torch_optimizer(net, "adam", 1e-3, fused=fused), X, y,
                    batch_size, "softmax")
                return _timed(trainer.epoch)

            runners[name] = torch_epoch
        if not quick:  # compiling takes 5-50 s
            compiled = peers.TorchCompiledTrainer(layers, "softmax", X, y, batch_size, 1e-3, seed)
            notes["torch.compile"] = f"compiled in {compiled.compile_seconds:.1f} s"
            runners["torch.compile"] = lambda: (compiled.reset(), _timed(compiled.epoch))[1]
    else:
        log("A: torch not installed; skipping the PyTorch peers")
    if peers.have("jax") and peers.have("optax"):
        for name, scan in (("JAX jit loop", False), ("JAX lax.scan", True)):
            trainer = peers.JaxTrainer(layers, "softmax", X, y, batch_size, 1e-3, scan, seed)
            notes[name] = f"compiled in {trainer.compile_seconds:.1f} s"
            runners[name] = lambda t=trainer: (t.reset(seed), _timed(t.epoch))[1]
    else:
        log("A: jax/optax not installed; skipping the JAX peers")
    if peers.have("sklearn"):
        def sklearn_epoch() -> float:
            classifier = common.sklearn_model(batch_size, seed)
            common.quietly(classifier.partial_fit, X[:batch_size], y[:batch_size],
                           classes=np.arange(10))
            return _timed(lambda: common.quietly(classifier.partial_fit, X, y))

        runners["sklearn"] = sklearn_epoch
    else:
        log("A: scikit-learn not installed; skipping it")
    floor = peers.GemmFloor(layers, len(X), batch_size)
    runners["GEMM floor"] = lambda: _timed(floor.epoch)
    return runners, notes


def loss_falls(X: np.ndarray, y: np.ndarray) -> list[float]:
    """Mean training loss of three epochs of a fresh glassnet model at batch 128."""
    model = common.glassnet_model(common.MNIST_LAYERS, "softmax",
                                  common.glassnet_optimizer("adam", 1e-3), 0)
    history = model.fit(X, y, batch_size=128, epochs=3, verbose=0)
    return [float(value) for value in history.history["loss"]]


def run(settings: common.Settings) -> dict[str, Any]:
    n = 6_000 if settings.quick else 60_000
    X, y = common.random_mnist_like(n)
    losses = loss_falls(X, y)
    log(f"A: glassnet's loss over three epochs {losses}")
    if not losses[-1] < min(losses[0], math.log(10)):
        raise RuntimeError(f"A: the loss does not fall ({losses}): the workload is broken")
    flops_per_epoch = n * common.gemm_flops_per_sample(common.MNIST_LAYERS)
    cases, targets = [], []
    for batch_size in BATCH_SIZES:
        log(f"A: batch {batch_size}, {n} rows")
        runners, compile_notes = contestants(X, y, batch_size, quick=settings.quick)
        case = compare_external(f"batch {batch_size}", runners, settings.repeats,
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
            if who in compile_notes:
                notes[who] += f"; {compile_notes[who]}"
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
        "glassnet_loss_three_epochs": losses,
        "cases": cases,
        "targets": targets,
    }

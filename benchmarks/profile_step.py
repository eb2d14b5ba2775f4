"""Where the microseconds of one glassnet training step go.

Usage::

    python benchmarks/profile_step.py [--workload A|B] [--batch 32] [--optimizer adam|sgd]
                                      [--metrics] [--steps 2000] [--threads N] [--no-fused]

It times ``fit`` for reference, then runs ``fit`` again with a clock around each
part of the model (methods of the live objects wrapped, nothing else changed):

    forward     model.forward (and inside it each layer.forward)
    backward    model.backward (inside: loss.output_gradient, each layer.backward)
    optimizer   optimizer.apply  (argument checks + the update passes)
    loss        loss.per_sample (the loss fit reports), amortised per step
    metrics     metric.update_state for each metric, amortised per step
    rest        fit's time per step minus the parts: batch gather, callbacks,
                Python bookkeeping

and then times the individual NumPy calls inside Dense.forward / Dense.backward
and Adam's update at the same shapes, so each line of the core can be priced.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import common  # noqa: E402


def build(workload: str, optimizer: str, metrics: bool, n: int):
    if workload == "A":
        X, y = common.random_mnist_like(n)
        layers, output, lr = common.MNIST_LAYERS, "softmax", 1e-3
    else:
        X, y = common.circles(n)
        layers, output = common.CIRCLES_LAYERS, "sigmoid"
        lr = 1e-3 if optimizer == "adam" else 0.01
    model = common.glassnet_model(layers, output, common.glassnet_optimizer(optimizer, lr), 0,
                                  ["accuracy"] if metrics else None)
    return model, X, y


def time_fit(model, X, y, batch_size: int, epochs: int) -> float:
    model.fit(X, y, batch_size=batch_size, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(X, y, batch_size=batch_size, epochs=epochs, verbose=0)
    steps = math.ceil(len(X) / batch_size) * epochs
    return (time.perf_counter() - start) / steps


class Clock:
    """Wraps methods of live objects so that each call adds its duration to a named total."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def wrap(self, owner: Any, method: str, name: str) -> None:
        function = getattr(owner, method)
        clock, seconds, calls = time.perf_counter, self.seconds, self.calls

        def timed(*args, **kwargs):
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                seconds[name] += clock() - start
                calls[name] += 1

        setattr(owner, method, timed)  # an instance attribute shadows the method


def wrapper_overhead() -> float:
    """µs a :class:`Clock` wrapper adds to one call."""
    class Thing:
        def noop(self) -> None:
            return None

    thing = Thing()
    bare = micro(thing.noop, 20_000)
    Clock().wrap(thing, "noop", "x")
    return micro(thing.noop, 20_000) - bare


def phases(model, X, y, batch_size: int, epochs: int) -> tuple[dict[str, float], float]:
    """Run ``fit`` with the model's parts wrapped in clocks; µs per step of each part.

    Top level (disjoint): ``forward``, ``backward``, ``optimizer.apply``, the loss
    (``loss.per_sample``, wherever fit calls it: per step or in bulk per epoch, shown
    amortised per step), ``metric.update_state``, and -- when fit stores each step's
    output for computing loss and metrics later -- that store. ``rest of fit`` is fit's
    time minus all of them: the batch gather, callbacks and Python bookkeeping.
    Indented rows are inside the row above. Parts that this version of glassnet does
    not have are left out, so the script keeps working while the core changes.
    """
    import glassnet.models as models_module

    clock = Clock()
    top = []

    def wrap(owner: Any, method: str, name: str, is_top: bool = True) -> None:
        if owner is not None and callable(getattr(owner, method, None)):
            clock.wrap(owner, method, name)
            if is_top:
                top.append(name)

    wrap(model, "forward", "forward")
    for i, layer in enumerate(model.layers):
        wrap(layer, "forward", f"  forward L{i}", False)
    wrap(model, "backward", "backward")
    wrap(model.loss, "output_gradient", "  backward: loss.output_gradient", False)
    for i, layer in reversed(list(enumerate(model.layers))):
        wrap(layer, "backward", f"  backward L{i}", False)
    wrap(model.optimizer, "apply", "optimizer.apply")
    wrap(model.loss, "per_sample", "loss.per_sample")
    for metric in model.metrics:
        wrap(metric, "update_state", f"metric {metric.name}.update_state")
    epoch_outputs = getattr(models_module, "_EpochOutputs", None)
    saved = None
    if epoch_outputs is not None and hasattr(epoch_outputs, "store"):
        saved = epoch_outputs.store
        wrap(epoch_outputs, "store", "_EpochOutputs.store (A, Z per step)")
    try:
        start = time.perf_counter()
        model.fit(X, y, batch_size=batch_size, epochs=epochs, verbose=0)
        fit_seconds = time.perf_counter() - start
    finally:
        if saved is not None:
            epoch_outputs.store = saved
    steps = clock.calls["forward"]
    per_step = {name: clock.seconds[name] / steps * 1e6 for name in clock.seconds}
    result = {}
    for name in top:  # each top-level part, followed by the parts inside it
        result[name] = per_step[name]
        inner = "  " + name.split()[0].split(".")[0]
        result.update({n: t for n, t in per_step.items() if n.startswith(inner)})
    result["rest of fit (gather, loop, callbacks)"] = (
        fit_seconds / steps * 1e6 - sum(result[name] for name in top))
    return result, fit_seconds / steps * 1e6


def micro(function, number: int = 2000, repeats: int = 5) -> float:
    """Best-of-``repeats`` µs per call of ``function()``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            function()
        best = min(best, (time.perf_counter() - start) / number)
    return best * 1e6


def _dense_costs(i: int, layer, m: int, rng: np.random.Generator) -> list[tuple[str, float]]:
    """µs of each NumPy call of ``Dense.forward`` / ``Dense.backward`` at this layer's shapes."""
    dtype = layer.W.dtype
    n_in, n_out = layer.W.shape
    W, b, activation = layer.W, layer.b, layer.activation
    A_prev = rng.standard_normal((m, n_in), dtype=dtype)
    Z, A = np.empty((m, n_out), dtype), np.empty((m, n_out), dtype)
    dZ = rng.standard_normal((m, n_out), dtype=dtype)
    dA_prev = np.empty((m, n_in), dtype)
    dW, db = np.empty_like(W), np.empty_like(b)
    mean_row = np.full(m, 1.0 / m, dtype=dtype)
    tag = f"L{i} {n_in}x{n_out} {activation.name}"
    skipped = "" if getattr(layer, "needs_input_gradient", True) else " (not run: first layer)"
    return [
        (f"{tag} fwd  np.matmul(A_prev, W, out=Z)", micro(lambda: np.matmul(A_prev, W, out=Z))),
        (f"{tag} fwd  Z += b", micro(lambda: np.add(Z, b, out=Z))),
        (f"{tag} fwd  activation.forward(Z, out=A)", micro(lambda: activation.forward(Z, out=A))),
        (f"{tag} bwd  activation.backward(dA, Z, A, out=dA)",
         micro(lambda: activation.backward(dZ, Z, A, out=dZ))),
        (f"{tag} bwd  np.matmul(A_prev.T, dZ, out=dW)", micro(lambda: np.matmul(A_prev.T, dZ, out=dW))),
        (f"{tag} bwd  dW *= 1/m", micro(lambda: np.multiply(dW, 1.0 / m, out=dW))),
        (f"{tag} bwd  np.matmul(mean_row, dZ, out=db)", micro(lambda: np.matmul(mean_row, dZ, out=db))),
        (f"{tag} bwd  np.matmul(dZ, W.T, out=dA_prev){skipped}",
         micro(lambda: np.matmul(dZ, W.T, out=dA_prev))),
    ]


def _adam_costs(size: int, dtype: np.dtype) -> list[tuple[str, float]]:
    """µs of each in-place pass of Adam's update over a flat buffer of ``size`` parameters."""
    g = np.random.default_rng(1).standard_normal(size).astype(dtype)
    p, m, v, s = (np.ones(size, dtype) for _ in range(4))
    number = 200 if size > 100_000 else 2000
    return [
        (f"Adam ({size} params) np.multiply(g, g, out=s)", micro(lambda: np.multiply(g, g, out=s), number)),
        ("Adam s -= v", micro(lambda: np.subtract(s, v, out=s), number)),
        ("Adam s *= 1 - beta_2", micro(lambda: np.multiply(s, 0.001, out=s), number)),
        ("Adam v += s", micro(lambda: np.add(v, s, out=v), number)),
        ("Adam np.subtract(g, m, out=g)", micro(lambda: np.subtract(g, m, out=g), number)),
        ("Adam np.sqrt(v, out=s)", micro(lambda: np.sqrt(v, out=s), number)),
        ("Adam g /= s", micro(lambda: np.divide(g, s, out=g), number)),
        ("Adam p -= g", micro(lambda: np.subtract(p, g, out=p), number)),
        *_fused_adam_cost(size, dtype, number),
    ]


def _fused_adam_cost(size: int, dtype: np.dtype, number: int) -> list[tuple[str, float]]:
    """µs of the whole Adam update as one fused numba kernel (glassnet._fused), if present."""
    try:
        from glassnet import _fused
    except ImportError:
        return []
    if not _fused.numba_available():
        return []
    from glassnet.optimizers import Adam

    g = np.random.default_rng(1).standard_normal(size).astype(dtype)
    p = np.ones(size, dtype)
    adam = Adam()
    adam.build(p)
    return [(f"Adam: the whole update as one fused kernel ({size} params)",
             micro(lambda: _fused._run_adam(adam, p, g, 0.001, 10), number))]


def line_costs(model, batch_size: int) -> list[tuple[str, float]]:
    """µs of the individual NumPy calls of Dense and Adam at this model's shapes."""
    rng = np.random.default_rng(0)
    rows: list[tuple[str, float]] = []
    for i, layer in enumerate(model.layers):
        rows += _dense_costs(i, layer, batch_size, rng)
    return rows + _adam_costs(model.count_params(), model.parameters.dtype)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/profile_step.py")
    parser.add_argument("--workload", choices=("A", "B"), default="A")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    parser.add_argument("--metrics", action="store_true", help="compile with metrics=['accuracy']")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="BLAS threads (default: as found)")
    parser.add_argument("--no-fused", action="store_true",
                        help="switch glassnet's fused optimizer kernels off (NumPy passes only)")
    args = parser.parse_args(argv)
    if args.no_fused:
        from glassnet import config

        config.set_fused_kernels(False)
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        global _limits
        _limits = threadpool_limits(limits=args.threads, user_api="blas")
    n = 60_000 if args.workload == "A" else 1000
    steps = args.steps or (1500 if args.workload == "A" else 20_000)
    model, X, y = build(args.workload, args.optimizer, args.metrics, n)
    epochs = 1 if args.workload == "A" else max(1, steps // math.ceil(n / args.batch))
    fit_step = time_fit(model, X, y, args.batch, epochs) * 1e6
    measured, instrumented = phases(model, X, y, args.batch, epochs)
    overhead = wrapper_overhead()
    print(f"workload {args.workload}, batch {args.batch}, {args.optimizer}, "
          f"metrics={'accuracy' if args.metrics else 'none'}")
    print(f"fit: {fit_step:.1f} µs/step (instrumented: {instrumented:.1f}; each clock adds "
          f"~{overhead:.2f} µs per wrapped call)\n")
    print("| part (indented: inside the one above) | µs/step | share of fit |\n|---|---|---|")
    for name, micros in measured.items():
        print(f"| {name.replace('  ', '&nbsp;&nbsp;')} | {micros:.1f} | {micros / fit_step:.0%} |")
    index = np.arange(args.batch)
    xb = np.empty((args.batch, X.shape[1]), dtype=np.float32)
    gather = micro(lambda: np.take(X, index, axis=0, out=xb, mode="clip"))
    print(f"\n(for comparison: np.take of one batch of X rows costs ~{gather:.2f} µs)")
    print("\n| NumPy call at these shapes | µs |\n|---|---|")
    for name, micros in line_costs(model, args.batch):
        print(f"| {name} | {micros:.2f} |")


if __name__ == "__main__":
    main()

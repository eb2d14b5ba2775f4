"""The compiled peers: JAX (``jax.jit`` + optax) and ``torch.compile``; and the GEMM floor.

Written the way a careful user of each library trains a Dense network on the CPU:

* **JAX jit loop**: one ``jax.jit`` train step (forward, ``optax.softmax_cross_entropy_with_
  integer_labels`` / binary cross-entropy, ``jax.grad``, ``optax.adam``) that takes the whole
  data set and the batch's indices and gathers the batch *inside* the compiled step; a
  Python loop over a NumPy permutation per epoch; the batch losses are summed on the device
  and read once per epoch (reading each step would wait for every step).
* **JAX lax.scan**: the same step scanned over all full batches of the epoch in one compiled
  call (the last, partial batch, if any, through the jit step).
* **torch.compile**: ``torch.compile(model)`` (forward and, through AOTAutograd, backward)
  with ``Adam(fused=True)``, the rest as in the eager loop. Compiling ``optimizer.step`` as
  well (PyTorch's recipe) was 4-5x *slower* per epoch here (0.29 s against ~0.06 s for 6,000
  rows at batch 128) and recompiled now and then (1.6 s epochs), so it is not used.

Each trainer's ``compile_seconds`` is the time of its first call(s) (tracing and
compilation), reported apart from the timed rounds.
"""

from __future__ import annotations

import time

import numpy as np


def have(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------ JAX
class JaxTrainer:
    """An MLP of ReLU layers trained with optax.adam; ``epoch()`` runs one shuffled epoch."""

    def __init__(self, layers: tuple[int, ...], output: str, X: np.ndarray, y: np.ndarray,
                 batch_size: int, learning_rate: float, scan: bool, seed: int = 0) -> None:
        import jax
        import jax.numpy as jnp
        import optax

        self.jax, self.layers, self.scan = jax, layers, scan
        self.X = jnp.asarray(X, dtype=jnp.float32)
        self.y = jnp.asarray(y, dtype=jnp.int32 if output == "softmax" else jnp.float32)
        self.n, self.batch_size = len(X), batch_size
        self.rng = np.random.default_rng(seed)
        self.optimizer = optax.adam(learning_rate)

        def loss_fn(params, xb, yb):
            a = xb
            for W, b in params[:-1]:
                a = jax.nn.relu(a @ W + b)
            W, b = params[-1]
            z = a @ W + b
            if output == "softmax":
                return optax.softmax_cross_entropy_with_integer_labels(z, yb).mean()
            return optax.sigmoid_binary_cross_entropy(z[:, 0], yb).mean()

        def step(params, state, total, index):
            xb, yb = jnp.take(self.X, index, axis=0), jnp.take(self.y, index, axis=0)
            loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
            updates, state = self.optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, total + loss

        def scan_epoch(params, state, batches):
            def body(carry, index):
                return step(*carry, index), None

            carry, _ = jax.lax.scan(body, (params, state, jnp.zeros((), jnp.float32)), batches)
            return carry

        self.step = jax.jit(step)
        self.scan_epoch = jax.jit(scan_epoch)
        self.reset(seed)
        start = time.perf_counter()
        self.epoch()  # traces and compiles every shape an epoch uses
        self.compile_seconds = time.perf_counter() - start

    def reset(self, seed: int) -> None:
        """Fresh He-initialised parameters and a fresh optax state."""
        import jax.numpy as jnp

        rng = np.random.default_rng(seed)
        self.params = [
            (jnp.asarray(rng.standard_normal((n_in, n_out), dtype=np.float32)
                         * np.float32(np.sqrt(2.0 / n_in))),
             jnp.zeros(n_out, jnp.float32))
            for n_in, n_out in zip(self.layers[:-1], self.layers[1:], strict=True)
        ]
        self.state = self.optimizer.init(self.params)

    def epoch(self) -> float:
        """One shuffled epoch; returns the mean batch loss (read once, at the end)."""
        import jax.numpy as jnp

        order = self.rng.permutation(self.n).astype(np.int32)
        full = self.n // self.batch_size * self.batch_size
        params, state, total = self.params, self.state, jnp.zeros((), jnp.float32)
        if self.scan:
            batches = order[:full].reshape(-1, self.batch_size)
            params, state, total = self.scan_epoch(params, state, batches)
            starts = range(full, self.n, self.batch_size)
        else:
            starts = range(0, self.n, self.batch_size)
        for start in starts:
            params, state, total = self.step(params, state, total,
                                             order[start:start + self.batch_size])
        self.params, self.state = params, state
        return float(total) / -(-self.n // self.batch_size)


# ------------------------------------------------------------------ torch.compile
class TorchCompiledTrainer:
    """``torch.compile`` of the model and of ``optimizer.step``; the eager loop otherwise."""

    def __init__(self, layers: tuple[int, ...], output: str, X: np.ndarray, y: np.ndarray,
                 batch_size: int, learning_rate: float, seed: int = 0) -> None:
        import torch

        from workloads import common

        self.torch = torch
        net = common.torch_model(layers, output, seed)
        self.fresh = {k: v.clone() for k, v in net.state_dict().items()}
        optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, fused=True)
        self.trainer = common.TorchTrainer(torch.compile(net), optimizer, X, y, batch_size,
                                           output)
        self.net, self.optimizer = net, optimizer
        start = time.perf_counter()
        self.trainer.epoch()  # compiles the full and the partial batch shapes
        self.compile_seconds = time.perf_counter() - start

    def reset(self) -> None:
        """Fresh initial weights copied in place (a new module would be compiled again);
        the optimizer's state (moments, step count) carries on."""
        with self.torch.no_grad():
            for name, value in self.net.state_dict().items():
                value.copy_(self.fresh[name])

    def epoch(self) -> float:
        return self.trainer.epoch()


# ------------------------------------------------------------------ the GEMM floor
class GemmFloor:
    """Only the matrix products of an epoch of training, in glassnet's operand layout.

    Per step and layer: ``Z = A_prev·W``, ``dW = A_prevᵀ·dZ`` and, for every layer but the
    first, ``dA_prev = dZ·Wᵀ``; ``np.matmul`` with preallocated outputs. No library can
    train this network with these products faster than this on the same BLAS.
    """

    def __init__(self, layers: tuple[int, ...], n: int, batch_size: int) -> None:
        rng = np.random.default_rng(0)
        self.batches = [(start, min(batch_size, n - start)) for start in range(0, n, batch_size)]
        self.W = [rng.standard_normal((a, b), dtype=np.float32) for a, b in
                  zip(layers[:-1], layers[1:], strict=True)]
        self.A = [rng.random((batch_size, width), dtype=np.float32) for width in layers]
        self.dW = [np.empty_like(W) for W in self.W]
        self.dA = [np.empty_like(A) for A in self.A]

    def epoch(self) -> None:
        matmul = np.matmul
        for _, rows in self.batches:
            A = [a[:rows] for a in self.A]
            for k, W in enumerate(self.W):
                matmul(A[k], W, out=A[k + 1])
            for k in range(len(self.W) - 1, -1, -1):
                dZ = A[k + 1]
                matmul(A[k].T, dZ, out=self.dW[k])
                if k > 0:
                    matmul(dZ, self.W[k].T, out=self.dA[k][:rows])

r"""Fused optimizer updates: each rule as one loop over the flat buffers, compiled by numba.

The optimizers in :mod:`glassnet.optimizers` update the flat parameter buffer with a
handful of whole-array NumPy passes (``v += (1 - beta_2) * (g*g - v)`` is three of them).
Each pass reads and writes the whole buffer, so on a large model the update is bound by
memory traffic: Adam on 235,146 float32 parameters is twelve passes and about 320 µs.
The kernels here compute the *same* update element by element in one pass, which reads
each of ``theta``, ``g``, ``m``, ``v`` once and takes about 70 µs.

Each kernel is the textbook rule of its optimizer, in the names of that optimizer's
docstring, with the same operations in the same order and in the buffer's dtype:

* each element is read into local variables (``g_i``, ``m_i``), updated, and written back
  once: reading ``m[i]`` again after writing it would stop LLVM from vectorising the loop
  (it cannot prove that the arrays do not overlap; Adam took 220 instead of 80 µs);
* every scalar is passed in as a NumPy scalar of the buffer's dtype, exactly the value the
  NumPy path multiplies by (NumPy 2 converts a Python float to the array's dtype before
  the operation), and the kernels contain no float literal, which would promote to float64;
* numba's ``fastmath=False`` keeps IEEE semantics (no reassociation, no fused multiply-add),
  and ``error_model='numpy'`` lets ``x / 0`` give inf/nan as NumPy does instead of raising
  (the default, Python's error model, also stops the loop from vectorising: ~8x slower).

So a kernel gives **bitwise the same** parameters and state as the NumPy path
(tests/test_fused.py checks every optimizer, float32 and float64).

When the kernels run
--------------------
Only for the NumPy backend, with numba installed (``pip install glassnet[fast]``), with
``glassnet.config.set_fused_kernels(True)`` (the default), for an optimizer whose class is
exactly one of glassnet's (a subclass may change the rule), and for buffers of at least
:data:`MIN_PARAMS` elements. Importing numba takes ~0.2 s and loading a cached kernel
~0.2 s more in a new process (compiling it the first time ever, a few seconds), which a
small network never earns back (the articles' circles network has 99 parameters and trains
in ~70 ms); see :data:`MIN_PARAMS` for where the threshold comes from.

Subnormal numbers
-----------------
A parameter whose gradient is exactly 0 for many steps (a dead ReLU unit) decays its
moments towards zero, ``m += (1 - beta_1)(0 - m)``, until they reach subnormal floats,
where the decrement rounds to 0 and they stay. Arithmetic on subnormals is slow on x86
(microcode assists) and hits a single-pass loop harder than NumPy's passes. The kernels do
not flush them to zero: that would change the state (and parameters within ~1e-34 of 0)
compared with the NumPy path; benchmarks/README.md has the measured cost.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np

from glassnet import config
from glassnet.backend import xp

#: Smallest parameter buffer (elements) that uses a kernel. Measured inside ``fit`` (Adam,
#: batch 32, paired; benchmarks/README.md "Fused optimizer kernels"): a kernel saves about
#: 6 µs a step at 2,400 parameters, 28 at 25,000, 91 at 100,000 and 360 at 240,000, while
#: importing numba and loading the cached kernel costs about 0.55 s once per process. From
#: 100,000 parameters that is earned back within about 6,000 steps (3 epochs of MNIST at
#: batch 32); below, most ``fit`` calls would not earn it back.
MIN_PARAMS = 100_000

_KERNELS: dict[str, Callable[..., None]] | None = None  # optimizer class -> adapter
_NUMBA_FOUND: bool | None = None


def numba_available() -> bool:
    """Whether numba can be imported (checked once, without importing it)."""
    global _NUMBA_FOUND
    if _NUMBA_FOUND is None:
        _NUMBA_FOUND = importlib.util.find_spec("numba") is not None
    return _NUMBA_FOUND


def update(optimizer: Any, params: np.ndarray, grads: np.ndarray, learning_rate: float,
           step: int) -> bool:
    """Apply ``optimizer``'s update with a fused kernel if one applies; return whether it did.

    Called by :meth:`glassnet.optimizers.Optimizer.apply` after clipping, with the same
    arguments as ``_update``. ``False`` means nothing was touched: take the NumPy path.
    """
    if params.shape[0] < MIN_PARAMS or not config.fused_kernels() or not xp.is_numpy:
        return False
    if params.dtype.char not in "fd" or not numba_available():  # float32 / float64 only
        return False
    try:
        cls = type(optimizer)   # glassnet's own classes only: a subclass may change the rule
        adapter = _kernels().get(cls.__name__) if cls.__module__ == "glassnet.optimizers" else None
    except ImportError as error:  # numba is installed but cannot load (e.g. a NumPy too new)
        global _NUMBA_FOUND
        _NUMBA_FOUND = False
        warnings.warn(f"glassnet: numba could not be imported ({error}); the optimizers use "
                      "their NumPy passes", RuntimeWarning, stacklevel=3)
        return False
    if adapter is None:
        return False
    adapter(optimizer, params, grads, learning_rate, step)
    return True


# ------------------------------------------------------------------ the kernels
# The loops below, plain Python; _compile() puts their numba versions in `compiled` on first
# use (numba is imported there), e.g. compiled.adam for _adam.
compiled = SimpleNamespace()


def _sgd(theta, g, eta):
    """θ ← θ − η g"""
    for i in range(theta.shape[0]):
        theta[i] = theta[i] - eta * g[i]


def _sgd_momentum(theta, g, v, eta, mu, nesterov):
    """v ← μ v − η g;  θ ← θ + v   (Nesterov: θ ← θ + μ v − η g)"""
    for i in range(theta.shape[0]):
        eta_g = eta * g[i]
        v_i = v[i] * mu - eta_g
        v[i] = v_i
        if nesterov:
            theta[i] = (theta[i] - eta_g) + mu * v_i
        else:
            theta[i] = theta[i] + v_i


def _rmsprop(theta, g, s, g_bar, b, eta, rho, one_minus_rho, epsilon, centered, momentum, mu):
    """s ← ρ s + (1 − ρ) g²;  Δ = η g / √(s + ε)   (centered: ḡ ← ρ ḡ + (1 − ρ) g,
    Δ = η g / √(s − ḡ² + ε));  θ ← θ − Δ   (momentum μ > 0: b ← μ b + Δ, θ ← θ − b)"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        s_i = s[i] * rho + one_minus_rho * (g_i * g_i)
        s[i] = s_i
        if centered:
            g_bar_i = g_bar[i] * rho + g_i * one_minus_rho
            g_bar[i] = g_bar_i
            delta = (eta * g_i) / np.sqrt((s_i - g_bar_i * g_bar_i) + epsilon)
        else:
            delta = (eta * g_i) / np.sqrt(s_i + epsilon)
        if momentum:
            b_i = b[i] * mu + delta
            b[i] = b_i
            theta[i] = theta[i] - b_i
        else:
            theta[i] = theta[i] - delta


def _adagrad(theta, g, a, eta, epsilon):
    """a ← a + g²;  θ ← θ − η g / √(a + ε)"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        a_i = a[i] + g_i * g_i
        a[i] = a_i
        theta[i] = theta[i] - (eta * g_i) / np.sqrt(a_i + epsilon)


def _adadelta(theta, g, s, d, eta, rho, one_minus_rho, epsilon):
    """s ← ρ s + (1 − ρ) g²;  Δ = −√(d + ε) / √(s + ε) · g;  d ← ρ d + (1 − ρ) Δ²;
    θ ← θ + η Δ   (``minus_delta`` holds −Δ, as the NumPy path's ``grads`` does)"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        s_i = s[i] * rho + (g_i * g_i) * one_minus_rho
        s[i] = s_i
        minus_delta = (g_i * np.sqrt(d[i] + epsilon)) / np.sqrt(s_i + epsilon)
        d[i] = d[i] * rho + (minus_delta * minus_delta) * one_minus_rho
        theta[i] = theta[i] - minus_delta * eta


def _adam(theta, g, m, v, v_hat, decay, one_minus_beta_1, one_minus_beta_2, alpha,
          epsilon_hat, amsgrad):
    """m ← m + (1 − β₁)(g − m);  v ← v + (1 − β₂)(g² − v);  (AMSGrad: v̂ ← max(v̂, v)
    replaces v below);  θ ← θ − α_t m / (√v + ε̂)
    (AdamW first decays θ ← (1 − η λ) θ = decay · θ; Adam passes decay = 1: no bit changes)"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        m_i = m[i] + one_minus_beta_1 * (g_i - m[i])
        v_i = v[i] + one_minus_beta_2 * (g_i * g_i - v[i])
        m[i], v[i] = m_i, v_i
        if amsgrad:
            v_i = np.maximum(v_hat[i], v_i)
            v_hat[i] = v_i
        theta[i] = theta[i] * decay - (alpha * m_i) / (np.sqrt(v_i) + epsilon_hat)


def _adamax(theta, g, m, u, eta, one_minus_beta_1, beta_2, epsilon, bias_correction):
    """m ← m + (1 − β₁)(g − m);  u ← max(β₂ u, |g|);  θ ← θ − η m / ((1 − β₁ᵗ)(u + ε))"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        m_i = m[i] + one_minus_beta_1 * (g_i - m[i])
        u_i = np.maximum(u[i] * beta_2, np.abs(g_i))
        m[i], u[i] = m_i, u_i
        theta[i] = theta[i] - (eta * m_i) / ((u_i + epsilon) * bias_correction)


def _nadam(theta, g, m, v, eta, one_minus_beta_1, one_minus_beta_2, epsilon,
           g_weight, m_weight, v_correction):
    """m ← m + (1 − β₁)(g − m);  v ← v + (1 − β₂)(g² − v);
    m̂ = μ_{t+1} m / (1 − Π_{t+1}) + (1 − μ_t) g / (1 − Π_t) = m_weight · m + g_weight · g;
    v̂ = v / (1 − β₂ᵗ);  θ ← θ − η m̂ / (√v̂ + ε)"""
    for i in range(theta.shape[0]):
        g_i = g[i]
        v_i = v[i] + one_minus_beta_2 * (g_i * g_i - v[i])
        m_i = m[i] + one_minus_beta_1 * (g_i - m[i])
        m[i], v[i] = m_i, v_i
        m_hat = g_i * g_weight + m_i * m_weight
        v_hat = v_i / v_correction
        theta[i] = theta[i] - (m_hat * eta) / (np.sqrt(v_hat) + epsilon)


# ------------------------------------------------------------------ adapters
# Each takes (optimizer, params, grads, learning_rate, step) like Optimizer._update,
# computes the host scalars exactly as the NumPy path does, and calls its kernel.
def _run_sgd(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype = params.dtype.type
    if opt.momentum == 0:
        compiled.sgd(params, grads, dtype(lr))
    else:
        compiled.sgd_momentum(params, grads, opt._state["momentums"], dtype(lr), dtype(opt.momentum),
                     opt.nesterov)


def _run_rmsprop(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype, state = params.dtype.type, opt._state
    s = state["velocities"]
    compiled.rmsprop(params, grads, s, state.get("average_gradients", s), state.get("momentums", s),
            dtype(lr), dtype(opt.rho), dtype(1.0 - opt.rho), dtype(opt.epsilon), opt.centered,
            opt.momentum > 0, dtype(opt.momentum))


def _run_adagrad(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype = params.dtype.type
    compiled.adagrad(params, grads, opt._state["accumulators"], dtype(lr), dtype(opt.epsilon))


def _run_adadelta(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype, state = params.dtype.type, opt._state
    compiled.adadelta(params, grads, state["accumulated_grads"], state["accumulated_delta_vars"],
             dtype(lr), dtype(opt.rho), dtype(1.0 - opt.rho), dtype(opt.epsilon))


def _run_adam(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int,
              decay: float = 1.0) -> None:
    dtype, state = params.dtype.type, opt._state
    beta_1, beta_2 = opt.beta_1, opt.beta_2
    alpha = lr * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)
    v = state["velocities"]
    compiled.adam(params, grads, state["momentums"], v, state.get("velocity_hats", v), dtype(decay),
         dtype(1.0 - beta_1), dtype(1.0 - beta_2), dtype(alpha), dtype(opt.epsilon), opt.amsgrad)


def _run_adamw(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    _run_adam(opt, params, grads, lr, step, decay=1.0 - lr * opt.weight_decay)


def _run_adamax(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype, state = params.dtype.type, opt._state
    compiled.adamax(params, grads, state["momentums"], state["norms"], dtype(lr), dtype(1.0 - opt.beta_1),
           dtype(opt.beta_2), dtype(opt.epsilon), dtype(1.0 - opt.beta_1**step))


def _run_nadam(opt: Any, params: np.ndarray, grads: np.ndarray, lr: float, step: int) -> None:
    dtype, state, beta_1 = params.dtype.type, opt._state, opt.beta_1
    u_t = beta_1 * (1.0 - 0.5 * 0.96**step)
    u_next = beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
    u_product = float(state["u_product"]) * u_t
    state["u_product"][...] = u_product
    u_product_next = u_product * u_next
    compiled.nadam(params, grads, state["momentums"], state["velocities"], dtype(lr),
          dtype(1.0 - beta_1), dtype(1.0 - opt.beta_2), dtype(opt.epsilon),
          dtype((1.0 - u_t) / (1.0 - u_product)), dtype(u_next / (1.0 - u_product_next)),
          dtype(1.0 - opt.beta_2**step))


def _compile() -> None:
    """Wrap the loops above with numba (imported here, on first use) as module attributes."""
    import numba

    jit = numba.njit(cache=True, error_model="numpy", fastmath=False)
    names = ("sgd", "sgd_momentum", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam")
    for name in names:
        setattr(compiled, name, jit(globals()["_" + name]))


def _kernels() -> dict[str, Callable[..., None]]:
    """The name of a class of glassnet.optimizers -> its adapter, built on first use (numba is
    imported then)."""
    global _KERNELS
    if _KERNELS is None:
        _compile()
        _KERNELS = {
            "SGD": _run_sgd, "RMSprop": _run_rmsprop, "Adagrad": _run_adagrad,
            "Adadelta": _run_adadelta, "Adam": _run_adam, "AdamW": _run_adamw,
            "Adamax": _run_adamax, "Nadam": _run_nadam,
        }
    return _KERNELS

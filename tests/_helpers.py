"""Shared test helpers."""

import numpy as np

from glassnet import backend
from glassnet.backend import to_numpy, xp  # noqa: F401  (to_numpy: for assertions)


def on_backend(x, dtype=None):
    """``x`` (array-like) as an array of the active backend (NumPy or array-api-strict)."""
    return backend.on_backend(np.asarray(x, dtype=dtype))


def numerical_gradient(f, x, eps=1e-6):
    """Central finite differences of a scalar function f() with respect to array x (in place).

    ``x`` may be a NumPy array or an array of the active backend; the result is NumPy.
    """
    grad = np.zeros(x.shape)
    flat = x.reshape(-1) if isinstance(x, np.ndarray) else xp.reshape(x, (-1,))
    gflat = grad.reshape(-1)
    for i in range(gflat.size):
        old = float(flat[i])
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad

"""Shared test helpers."""

import numpy as np

from glassnet.backend import xp


def on_backend(x, dtype=None):
    """``x`` (array-like) as an array of the active backend (NumPy or array-api-strict)."""
    return xp.from_numpy(np.asarray(x, dtype=dtype))


def to_numpy(x):
    """An array of any backend as a NumPy array (for assertions)."""
    return np.asarray(xp.to_numpy(x)) if not isinstance(x, np.ndarray) else x


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

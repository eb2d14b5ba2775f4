"""Shared test helpers."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Central finite differences of a scalar function f() with respect to array x (in place)."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        gflat[i] = (plus - minus) / (2 * eps)
    return grad

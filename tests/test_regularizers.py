"""Regularizers: Keras's penalty formulas, gradients against finite differences, lookup."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import regularizers
from glassnet.regularizers import L1, L1L2, L2


def weights(shape=(3, 4), seed=0) -> np.ndarray:
    """Float64 weights kept away from 0, where |w| has a kink."""
    w = np.random.default_rng(seed).normal(size=shape)
    w[np.abs(w) < 1e-2] = 0.5
    return w


def finite_difference_gradient(reg, w: np.ndarray, h=1e-6) -> np.ndarray:
    grad = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (reg(plus) - reg(minus)) / (2 * h)
    return grad


def test_penalties_follow_keras_formulas():
    w = weights()
    assert L1(0.3)(w) == pytest.approx(0.3 * np.abs(w).sum(), rel=1e-14)
    assert L2(0.3)(w) == pytest.approx(0.3 * (w**2).sum(), rel=1e-14)  # no factor 1/2
    assert L1L2(0.1, 0.2)(w) == pytest.approx(0.1 * np.abs(w).sum() + 0.2 * (w**2).sum(),
                                              rel=1e-14)
    assert isinstance(L2()(w.astype(np.float32)), float)
    assert L1L2()(w) == 0.0
    assert L2(0.5)([[1.0, -2.0]]) == pytest.approx(2.5)


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.3), L1L2(0.1, 0.2), L1L2(l2=0.05)], ids=repr)
def test_gradient_matches_finite_differences(reg):
    w = weights((4, 5))
    analytic = reg.gradient(w)
    numeric = finite_difference_gradient(reg, w)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    error = np.linalg.norm(analytic - numeric) / scale
    assert error < 1e-6


def test_gradient_formulas_out_and_dtype():
    w = np.array([[-2.0, 0.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(L1(0.5).gradient(w), [[-0.5, 0.0, 0.5]])  # sign(0) = 0
    np.testing.assert_allclose(L2(0.5).gradient(w), [[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(L1L2(0.5, 0.5).gradient(w), [[-2.5, 0.0, 3.5]])
    for reg in (L1(), L2(), L1L2(0.1, 0.1)):
        out = np.full_like(w, np.nan)
        assert reg.gradient(w, out=out) is out
        np.testing.assert_allclose(out, reg.gradient(w))
        assert reg.gradient(w).dtype == np.float32
    np.testing.assert_array_equal(w, [[-2.0, 0.0, 3.0]])  # the weights are untouched


def test_get_and_serialize():
    assert regularizers.get(None) is None
    assert regularizers.get("l2") == L2(0.01)
    assert regularizers.get("L1") == L1(0.01)
    assert regularizers.get("l1_l2") == L1L2(0.01, 0.01)  # as in Keras, not L1L2()'s zeros
    reg = L2(1e-4)
    assert regularizers.get(reg) is reg
    assert regularizers.serialize(reg) == {"name": "l2", "l2": 1e-4}
    assert regularizers.get({"name": "l1_l2", "l1": 0.1}) == L1L2(l1=0.1)
    assert regularizers.serialize(None) is None
    for name in regularizers.ALL:
        reg = regularizers.get(name)
        assert regularizers.get(regularizers.serialize(reg)) == reg


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Did you mean 'l2'"):
        regularizers.get("l22")
    with pytest.raises(TypeError, match="regularizer must be"):
        regularizers.get(0.01)
    with pytest.raises(TypeError, match="invalid parameters"):
        regularizers.get({"name": "l2", "l1": 0.1})
    with pytest.raises(ValueError, match="l2"):
        L2(-0.1)
    with pytest.raises(ValueError, match="'name' key"):
        regularizers.get({"l2": 0.1})

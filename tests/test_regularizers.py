"""Regularizers: Keras's penalty formulas, gradients against finite differences, lookup.

Every test runs on each core array backend (see ``conftest.py``).
"""

from __future__ import annotations

import numpy as np
import pytest

from _helpers import on_backend, to_numpy
from glassnet import regularizers
from glassnet.backend import dtype_name, is_backend_array
from glassnet.regularizers import L1, L1L2, L2

pytestmark = pytest.mark.usefixtures("array_backend")


def weights(shape=(3, 4), seed=0) -> np.ndarray:
    """Float64 weights kept away from 0, where |w| has a kink."""
    w = np.random.default_rng(seed).normal(size=shape)
    w[np.abs(w) < 1e-2] = 0.5
    return w


def finite_difference_gradient(reg, w: np.ndarray, h=1e-6) -> np.ndarray:
    """Central differences of the penalty, evaluated on the active backend (w is NumPy)."""
    grad = np.zeros_like(w)
    for index in np.ndindex(w.shape):
        plus, minus = w.copy(), w.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (reg(on_backend(plus)) - reg(on_backend(minus))) / (2 * h)
    return grad


def test_penalties_follow_keras_formulas():
    w = weights()
    expected = {
        "l1": 0.3 * np.abs(w).sum(),
        "l2": 0.3 * (w**2).sum(),  # no factor 1/2
        "l1_l2": 0.1 * np.abs(w).sum() + 0.2 * (w**2).sum(),
    }
    # arrays of the active backend, and NumPy arrays (converted) on every backend
    for weights_in in (on_backend(w), w):
        assert L1(0.3)(weights_in) == pytest.approx(expected["l1"], rel=1e-14)
        assert L2(0.3)(weights_in) == pytest.approx(expected["l2"], rel=1e-14)
        assert L1L2(0.1, 0.2)(weights_in) == pytest.approx(expected["l1_l2"], rel=1e-14)
    for reg in (L1(), L2(), L1L2(0.1, 0.1)):
        assert type(reg(on_backend(w, dtype=np.float32))) is float
    assert L1L2()(on_backend(w)) == 0.0
    assert L2(0.5)([[1.0, -2.0]]) == pytest.approx(2.5)
    assert L1(0.5)([[1.0, -2.0]]) == pytest.approx(1.5)


@pytest.mark.parametrize("reg", [L1(0.3), L2(0.3), L1L2(0.1, 0.2), L1L2(l2=0.05)], ids=repr)
def test_gradient_matches_finite_differences(reg):
    w = weights((4, 5))
    analytic = to_numpy(reg.gradient(on_backend(w)))
    numeric = finite_difference_gradient(reg, w)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    error = np.linalg.norm(analytic - numeric) / scale
    assert error < 1e-6


def test_gradient_formulas_out_and_dtype():
    w = on_backend([[-2.0, 0.0, 3.0]], dtype=np.float32)
    np.testing.assert_allclose(to_numpy(L1(0.5).gradient(w)), [[-0.5, 0.0, 0.5]])  # sign(0) = 0
    np.testing.assert_allclose(to_numpy(L2(0.5).gradient(w)), [[-2.0, 0.0, 3.0]])
    np.testing.assert_allclose(to_numpy(L1L2(0.5, 0.5).gradient(w)), [[-2.5, 0.0, 3.5]])
    for reg in (L1(), L2(), L1L2(0.1, 0.1)):
        out = on_backend(np.full((1, 3), np.nan, dtype=np.float32))
        assert reg.gradient(w, out=out) is out
        np.testing.assert_allclose(to_numpy(out), to_numpy(reg.gradient(w)))
        gradient = reg.gradient(w)
        assert is_backend_array(gradient) and dtype_name(gradient) == "float32"
        # NumPy arrays and lists are converted: the result is an array of the active backend
        for weights_in in (np.array([[-2.0, 0.0, 3.0]], dtype=np.float32), [[-2.0, 0.0, 3.0]]):
            converted = reg.gradient(weights_in)
            assert is_backend_array(converted)
            np.testing.assert_allclose(to_numpy(converted), to_numpy(gradient), rtol=1e-6)
    np.testing.assert_array_equal(to_numpy(w), [[-2.0, 0.0, 3.0]])  # the weights are untouched


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

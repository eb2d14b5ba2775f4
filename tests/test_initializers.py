"""Initializers: shapes, dtypes, the formulas' statistics, reproducibility, lookup."""

from __future__ import annotations

import math

import numpy as np
import pytest

from glassnet import initializers
from glassnet.config import float_dtype
from glassnet.initializers import TRUNCATED_NORMAL_STDDEV, compute_fans

KERNEL = (400, 300)  # fan_in 400, fan_out 300: 120,000 draws
CONV_KERNEL = (3, 3, 40, 30)  # fan_in 3*3*40 = 360, fan_out 3*3*30 = 270

# (name, variance as a function of (fan_in, fan_out), distribution)
VARIANCE_SCALING = [
    ("glorot_uniform", lambda fi, fo: 2.0 / (fi + fo), "uniform"),
    ("glorot_normal", lambda fi, fo: 2.0 / (fi + fo), "truncated_normal"),
    ("he_uniform", lambda fi, fo: 2.0 / fi, "uniform"),
    ("he_normal", lambda fi, fo: 2.0 / fi, "truncated_normal"),
    ("lecun_uniform", lambda fi, fo: 1.0 / fi, "uniform"),
    ("lecun_normal", lambda fi, fo: 1.0 / fi, "truncated_normal"),
]


def test_compute_fans_follows_keras():
    assert compute_fans((7, 5)) == (7, 5)
    assert compute_fans((5,)) == (5, 5)
    assert compute_fans(()) == (1, 1)
    assert compute_fans(CONV_KERNEL) == (360, 270)


def test_truncated_normal_correction_constant():
    # the standard deviation of a standard normal truncated to [-2, 2]
    density_at_2 = math.exp(-2.0) / math.sqrt(2.0 * math.pi)
    mass = math.erf(2.0 / math.sqrt(2.0))
    assert TRUNCATED_NORMAL_STDDEV == pytest.approx(math.sqrt(1 - 4 * density_at_2 / mass), 1e-12)


@pytest.mark.parametrize("shape", [KERNEL, CONV_KERNEL], ids=["dense", "conv"])
@pytest.mark.parametrize(("name", "variance", "distribution"), VARIANCE_SCALING,
                         ids=[v[0] for v in VARIANCE_SCALING])
def test_variance_scaling_statistics_match_the_formulas(name, variance, distribution, shape):
    w = initializers.get(name)(shape, dtype=np.float64, rng=0)
    assert w.shape == shape and w.dtype == np.float64
    expected_std = math.sqrt(variance(*compute_fans(shape)))
    assert w.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(w.mean()) < 5 * expected_std / math.sqrt(w.size)
    if distribution == "uniform":
        limit = math.sqrt(3.0) * expected_std  # e.g. glorot: sqrt(6 / (fan_in + fan_out))
        assert np.abs(w).max() <= limit
        assert np.abs(w).max() > 0.99 * limit
    else:
        # 2 stddev of the normal before truncation
        bound = 2.0 * expected_std / TRUNCATED_NORMAL_STDDEV
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.98 * bound


def test_glorot_uniform_limit_formula():
    w = initializers.get("glorot_uniform")((50, 30), rng=1)
    limit = math.sqrt(6.0 / (50 + 30))
    assert np.abs(w).max() <= limit


def test_named_initializers_are_variance_scaling_instances():
    for name, _, distribution in VARIANCE_SCALING:
        init = initializers.get(name)
        assert isinstance(init, initializers.VarianceScaling)
        assert init.distribution == distribution
    glorot = initializers.GlorotUniform()
    same = initializers.VarianceScaling(scale=1.0, mode="fan_avg", distribution="uniform")
    np.testing.assert_array_equal(glorot((20, 10), rng=5), same((20, 10), rng=5))


def test_variance_scaling_modes_and_untruncated_normal():
    shape = (500, 100)
    for mode, n in [("fan_in", 500), ("fan_out", 100), ("fan_avg", 300)]:
        w = initializers.VarianceScaling(3.0, mode, "untruncated_normal")(shape, rng=2)
        assert w.std() == pytest.approx(math.sqrt(3.0 / n), rel=0.02)
    w = initializers.VarianceScaling(3.0, "fan_in", "untruncated_normal")(shape, rng=2)
    assert np.abs(w).max() > 3.5 * math.sqrt(3.0 / 500)  # not truncated
    # fans below 1 (a zero-size dimension or a scalar) do not divide by zero
    assert initializers.HeUniform()((), rng=0).shape == ()


def test_random_normal_uniform_and_truncated_normal():
    w = initializers.RandomNormal(mean=1.0, stddev=0.5)(KERNEL, rng=3)
    assert w.mean() == pytest.approx(1.0, abs=0.01)
    assert w.std() == pytest.approx(0.5, rel=0.02)

    default = initializers.get("random_normal")(KERNEL, rng=3)
    assert default.std() == pytest.approx(0.05, rel=0.02)

    u = initializers.get("random_uniform")(KERNEL, rng=3)
    assert u.min() >= -0.05 and u.max() < 0.05
    assert u.std() == pytest.approx(0.1 / math.sqrt(12.0), rel=0.02)

    t = initializers.TruncatedNormal(mean=0.3, stddev=0.1)(KERNEL, rng=3)
    assert t.min() >= 0.3 - 0.2 and t.max() <= 0.3 + 0.2  # within 2 stddev
    assert t.min() < 0.3 - 0.19 and t.max() > 0.3 + 0.19
    assert t.std() == pytest.approx(0.1 * TRUNCATED_NORMAL_STDDEV, rel=0.02)
    assert t.mean() == pytest.approx(0.3, abs=0.002)


def test_constants():
    np.testing.assert_array_equal(initializers.get("zeros")((2, 3), rng=0), np.zeros((2, 3)))
    np.testing.assert_array_equal(initializers.get("ones")((4,)), np.ones(4))
    np.testing.assert_array_equal(initializers.Constant(0.1)((2, 2)), np.full((2, 2), 0.1,
                                                                              dtype=float_dtype()))


@pytest.mark.parametrize("name", initializers.ALL)
def test_dtype_shape_and_reproducibility(name):
    init = initializers.get(name)
    w32 = init((6, 4), dtype="float32", rng=42)
    w64 = init((6, 4), dtype=np.float64, rng=42)
    assert w32.dtype == np.float32 and w64.dtype == np.float64 and w32.shape == (6, 4)
    assert init((6, 4)).dtype == float_dtype()
    np.testing.assert_array_equal(w64, init((6, 4), dtype=np.float64,
                                            rng=np.random.default_rng(42)))
    np.testing.assert_array_equal(w32, w64.astype(np.float32))  # same draws for both dtypes
    assert init(5, rng=0).shape == (5,)
    if name not in ("zeros", "ones", "constant"):
        assert not np.array_equal(w64, init((6, 4), dtype=np.float64, rng=43))


def test_a_shared_generator_advances():
    rng = np.random.default_rng(0)
    init = initializers.get("he_normal")
    assert not np.array_equal(init((5, 5), rng=rng), init((5, 5), rng=rng))


@pytest.mark.parametrize("name", initializers.ALL)
def test_serialize_round_trip(name):
    init = initializers.get(name)
    assert initializers.serialize(init)["name"] == name
    assert initializers.get(initializers.serialize(init)) == init


def test_get_configs_and_aliases():
    assert initializers.serialize("glorot_uniform") == {"name": "glorot_uniform"}
    config = {"name": "variance_scaling", "scale": 2.0, "mode": "fan_out",
              "distribution": "uniform"}
    assert initializers.serialize(config) == config
    assert initializers.VarianceScaling(distribution="normal").distribution == "truncated_normal"
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    assert isinstance(initializers.get("Uniform"), initializers.RandomUniform)
    assert initializers.get({"name": "constant", "value": 0.1}).value == 0.1
    instance = initializers.Constant(0.1)
    assert initializers.get(instance) is instance


def test_errors_are_clear():
    with pytest.raises(ValueError, match="Did you mean 'glorot_uniform'"):
        initializers.get("glorot_unifrom")
    with pytest.raises(TypeError, match="initializer must be"):
        initializers.get(None)
    with pytest.raises(TypeError, match="invalid parameters"):
        initializers.get({"name": "zeros", "value": 1.0})
    with pytest.raises(ValueError, match=r"shape\[1\]"):
        initializers.get("zeros")((3, -1))
    with pytest.raises(TypeError, match="shape"):
        initializers.get("zeros")("3x4")
    with pytest.raises(TypeError, match="floating-point"):
        initializers.get("ones")((2,), dtype=np.int32)
    with pytest.raises(ValueError, match="mode"):
        initializers.VarianceScaling(mode="fan_sum")
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="maxval must be >= minval"):
        initializers.RandomUniform(minval=1.0, maxval=0.0)
    with pytest.raises(ValueError, match="stddev"):
        initializers.RandomNormal(stddev=-1.0)

"""Activations: values against PyTorch, gradients against finite differences and
autograd, numerical safety in float32, buffers, and lookup by name.

Every test runs on each core array backend (see ``array_backend`` in conftest.py):
``forward`` takes the NumPy test data as it is (it accepts NumPy arrays on every
backend), while ``backward``, ``derivative`` and ``out`` buffers get arrays of the
active backend (``on_backend``); results are compared as NumPy arrays (``to_numpy``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _helpers import on_backend, to_numpy
from glassnet import activations, config
from glassnet._erfc import erfc
from glassnet.activations import ALL, Activation
from glassnet.backend import dtype_name, is_backend_array, xp

pytestmark = pytest.mark.usefixtures("array_backend")

TRAINABLE = [name for name in ALL if name != "binary_step"]

# torch (or, where torch has no equivalent, an independent NumPy formula) for each activation
TORCH = {
    "linear": lambda t: t * 1.0,
    "relu": F.relu,
    "leaky_relu": lambda t: F.leaky_relu(t, negative_slope=0.2),
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "softmax": lambda t: F.softmax(t, dim=-1),
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "swish": F.silu,
    "gelu": F.gelu,
    "hard_sigmoid": F.hardsigmoid,  # torch's definition is Keras 3's relu6(x + 3) / 6
}
NUMPY_REFERENCE = {
    "binary_step": lambda z: np.where(z >= 0, 1.0, 0.0),
    "hard_sigmoid": lambda z: np.clip(z / 6.0 + 0.5, 0.0, 1.0),
}
# points where the derivative jumps; finite differences must stay away from them
KINKS = {"relu": [0.0], "leaky_relu": [0.0], "hard_sigmoid": [-3.0, 3.0]}


def torch_forward(name: str, z: np.ndarray) -> np.ndarray:
    return TORCH[name](torch.from_numpy(z)).numpy()


def sample_z(name: str, shape=(4, 6), seed=0) -> np.ndarray:
    """Float64 pre-activations spread over [-6, 6], moved away from any kink."""
    z = np.random.default_rng(seed).normal(0.0, 3.0, size=shape)
    for kink in KINKS.get(name, []):
        near = np.abs(z - kink) < 1e-2
        z[near] = kink + 0.1
    return z


def relative_error(a, b) -> float:
    a, b = to_numpy(a), to_numpy(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300))


def finite_difference_dz(act: Activation, z: np.ndarray, dA: np.ndarray, h=1e-6) -> np.ndarray:
    """d/dz of L(z) = sum(dA * g(z)), one entry at a time, by central differences."""
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        plus, minus = z.copy(), z.copy()
        plus[index] += h
        minus[index] -= h
        difference = to_numpy(act.forward(plus)) - to_numpy(act.forward(minus))
        grad[index] = np.sum(dA * difference) / (2 * h)
    return grad


def forward_and_backward(act: Activation, z: np.ndarray, dA: np.ndarray) -> np.ndarray:
    """``dZ`` for host arrays ``z`` and ``dA``, computed on the active backend, as NumPy."""
    z_b = on_backend(z)
    return to_numpy(act.backward(on_backend(dA), z_b, act.forward(z_b)))


# ----------------------------------------------------------------------------- forward


@pytest.mark.parametrize("name", sorted(TORCH))
def test_forward_matches_torch_float64(name):
    z = sample_z(name, shape=(5, 7))
    z[0, :3] = [-25.0, 0.0, 25.0]
    a = activations.get(name).forward(z)
    assert is_backend_array(a) and dtype_name(a) == "float64"
    np.testing.assert_allclose(to_numpy(a), torch_forward(name, z), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", sorted(TORCH))
def test_forward_matches_torch_float32(name):
    z = sample_z(name, shape=(5, 7)).astype(np.float32)
    a = activations.get(name).forward(z)
    assert is_backend_array(a) and dtype_name(a) == "float32"
    np.testing.assert_allclose(to_numpy(a), torch_forward(name, z), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(NUMPY_REFERENCE))
def test_forward_matches_independent_formula(name):
    z = np.concatenate([sample_z(name, (3, 5)), [[-3.0, 0.0, -0.0, 3.0, 1e-300]]])
    np.testing.assert_allclose(to_numpy(activations.get(name).forward(on_backend(z))),
                               NUMPY_REFERENCE[name](z), rtol=1e-15, atol=0)


def test_keras_defaults_and_variants_match_torch():
    z = sample_z("elu", shape=(4, 5))
    cases = [
        (activations.LeakyReLU(alpha=0.05), lambda t: F.leaky_relu(t, 0.05)),
        (activations.LeakyReLU(alpha=1.5), lambda t: F.leaky_relu(t, 1.5)),  # the min branch
        (activations.ELU(alpha=0.5), lambda t: F.elu(t, alpha=0.5)),
        (activations.GELU(approximate=True), lambda t: F.gelu(t, approximate="tanh")),
    ]
    for act, reference in cases:
        np.testing.assert_allclose(to_numpy(act.forward(on_backend(z))),
                                   reference(torch.from_numpy(z)).numpy(),
                                   rtol=1e-12, atol=1e-14, err_msg=repr(act))
    assert activations.get("leaky_relu").alpha == 0.2  # keras.activations.leaky_relu's default
    assert activations.SELU.alpha == pytest.approx(1.6732632423543772)
    assert activations.SELU.scale == pytest.approx(1.0507009873554805)


def test_softmax_rows_are_distributions_even_for_huge_logits():
    z = np.array([[1000.0, 1000.0, -1000.0], [1.0, 2.0, 3.0]], dtype=np.float32)
    a = to_numpy(activations.get("softmax").forward(on_backend(z)))
    assert a.dtype == np.float32
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(a[0], [0.5, 0.5, 0.0])


@pytest.mark.usefixtures("float64")
def test_sigmoid_keeps_relative_precision_far_below_zero_in_float64():
    # exp's argument is capped at 708 in float64 (87 only in float32), on every backend
    z = np.array([[-700.0, -300.0, -100.0, -90.0]])
    a = to_numpy(activations.get("sigmoid").forward(on_backend(z)))
    np.testing.assert_allclose(a, np.exp(z) / (1.0 + np.exp(z)), rtol=1e-13)


def test_erfc_matches_math_erfc():
    x = np.concatenate([np.linspace(-6.0, 6.0, 2001), np.linspace(6.0, 26.0, 201),
                        [-0.46875, 0.46875, 4.0, -4.0, 0.0]])
    expected = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(to_numpy(erfc(on_backend(x))), expected,
                               rtol=1e-13, atol=0)


# ----------------------------------------------------------------------------- gradients


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", TRAINABLE)
def test_backward_matches_finite_differences(name):
    act = activations.get(name)
    z = sample_z(name)
    dA = np.random.default_rng(1).normal(size=z.shape)
    dZ = forward_and_backward(act, z, dA)
    assert dZ.dtype == np.float64
    assert relative_error(dZ, finite_difference_dz(act, z, dA)) < 1e-6


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("act", [activations.GELU(approximate=True), activations.ELU(alpha=0.5),
                                 activations.LeakyReLU(alpha=0.01)], ids=repr)
def test_backward_of_variants_matches_finite_differences(act):
    z = sample_z("relu")
    dA = np.random.default_rng(1).normal(size=z.shape)
    dZ = forward_and_backward(act, z, dA)
    assert relative_error(dZ, finite_difference_dz(act, z, dA)) < 1e-6


@pytest.mark.usefixtures("float64")
@pytest.mark.parametrize("name", sorted(TORCH))
def test_backward_matches_torch_autograd(name):
    act = activations.get(name)
    z = sample_z(name)
    dA = np.random.default_rng(2).normal(size=z.shape)
    z_t = torch.tensor(z, requires_grad=True)
    TORCH[name](z_t).backward(torch.from_numpy(dA))
    dZ = forward_and_backward(act, z, dA)
    # torch's hardsigmoid backward multiplies by a float32 1/6, even for float64 tensors
    rtol = 1e-7 if name == "hard_sigmoid" else 1e-9
    np.testing.assert_allclose(dZ, z_t.grad.numpy(), rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("name", [n for n in TRAINABLE if n != "softmax"])
def test_derivative_is_backward_with_unit_upstream_gradient(name):
    act = activations.get(name)
    z = on_backend(sample_z(name))
    a = act.forward(z)
    ones = on_backend(np.ones(z.shape))
    np.testing.assert_allclose(to_numpy(act.derivative(z, a)),
                               to_numpy(act.backward(ones, z, a)), rtol=1e-14, atol=0)


def test_derivatives_at_zero_follow_keras_and_torch():
    z = on_backend(np.zeros((1, 1)))
    assert float(activations.get("relu").derivative(z, z)[0, 0]) == 0.0
    assert float(activations.get("leaky_relu").derivative(z, z)[0, 0]) == pytest.approx(0.2)


@pytest.mark.usefixtures("float64")
def test_softmax_backward_is_the_full_jacobian_vector_product():
    act = activations.get("softmax")
    z = sample_z("softmax", shape=(3, 5))
    dA = np.random.default_rng(3).normal(size=z.shape)
    jacobian = torch.autograd.functional.jacobian(
        lambda t: F.softmax(t, dim=-1), torch.from_numpy(z)
    ).numpy()  # shape (m, n, m, n): d a[i, j] / d z[k, l]
    expected = np.einsum("ij,ijkl->kl", dA, jacobian)
    np.testing.assert_allclose(forward_and_backward(act, z, dA), expected,
                               rtol=1e-10, atol=1e-13)
    # and per row with the textbook Jacobian diag(a) - a a^T
    a = to_numpy(act.forward(z))
    for row in range(z.shape[0]):
        row_jacobian = np.diag(a[row]) - np.outer(a[row], a[row])
        np.testing.assert_allclose(expected[row], row_jacobian @ dA[row], rtol=1e-10, atol=1e-13)


def test_softmax_derivative_explains_the_jacobian():
    z = on_backend(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="Jacobian.*backward"):
        activations.get("softmax").derivative(z, z)


def test_binary_step_cannot_be_trained():
    act = activations.get("binary_step")
    assert act.trainable is False
    assert all(activations.get(n).trainable for n in TRAINABLE)
    z = on_backend(np.array([[-1.0, 0.0, 2.0]]))
    with pytest.raises(ValueError, match="zero everywhere") as info:
        act.backward(on_backend(np.ones((1, 3))), z, act.forward(z))
    assert "sigmoid" in str(info.value) and "inference" in str(info.value)
    np.testing.assert_array_equal(to_numpy(act.derivative(z, act.forward(z))), 0.0)


# ----------------------------------------------------------------------------- float32 safety


@pytest.mark.parametrize("name", ALL)
@settings(max_examples=25, deadline=None)
@given(z=hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=8),
                    elements=st.floats(-1e4, 1e4, width=32)))
def test_float32_inputs_in_1e4_give_finite_results_without_warnings(name, z):
    act = activations.get(name)
    dA = on_backend(np.linspace(-1.0, 1.0, z.size, dtype=np.float32).reshape(z.shape))
    z = on_backend(z)
    # underflow to 0 (e.g. exp(-1e4)) is correct and stays allowed, as in NumPy's default
    # (array-api-strict computes with NumPy, so np.errstate watches it too)
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = act.forward(z)
        results = [a]
        if name != "softmax":
            results.append(act.derivative(z, a))
        if act.trainable:
            results.append(act.backward(dA, z, a))
    for result in results:
        assert dtype_name(result) == "float32"
        assert result.shape == z.shape
        assert np.isfinite(to_numpy(result)).all()


EXTREMES = [-1e4, -1e3, -104.0, -88.7, -20.0, -3.0, -1e-30, -0.0, 0.0, 1e-45, 3.0, 20.0, 88.8,
            1e3, 1e4]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL)
def test_extreme_inputs_are_finite_and_keep_their_dtype(name, dtype):
    act = activations.get(name)
    z = on_backend(np.array([EXTREMES], dtype=dtype))
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error")
        a = act.forward(z)
        dZ = act.backward(on_backend(np.ones(z.shape, dtype)), z, a) if act.trainable else a
    assert dtype_name(a) == np.dtype(dtype).name and dtype_name(dZ) == np.dtype(dtype).name
    a, dZ = to_numpy(a), to_numpy(dZ)
    assert np.isfinite(a).all() and np.isfinite(dZ).all()
    if name in ("sigmoid", "tanh", "softsign", "hard_sigmoid", "binary_step"):
        assert a.min() >= -1.0 and a.max() <= 1.0


# ----------------------------------------------------------------------------- buffers


@pytest.mark.parametrize("name", ALL)
def test_out_buffers_and_in_place_backward(name):
    act = activations.get(name)
    z_host = sample_z(name).astype(np.float32)
    z = on_backend(z_host)
    expected = act.forward(z)

    buffer = on_backend(np.full_like(z_host, np.nan))
    assert act.forward(z, out=buffer) is buffer
    np.testing.assert_array_equal(to_numpy(buffer), to_numpy(expected))
    with pytest.raises(ValueError, match="share memory"):
        act.forward(z, out=z)
    np.testing.assert_array_equal(to_numpy(z), z_host)  # the refused call left z alone

    if act.trainable:
        dA_host = np.random.default_rng(4).normal(size=z.shape).astype(np.float32)
        dA = on_backend(dA_host)
        expected_dZ = act.backward(dA, z, expected)
        separate = on_backend(np.full_like(z_host, np.nan))
        assert act.backward(dA, z, expected, out=separate) is separate
        np.testing.assert_allclose(to_numpy(separate), to_numpy(expected_dZ), rtol=1e-6)
        in_place = on_backend(dA_host.copy())
        assert act.backward(in_place, z, expected, out=in_place) is in_place
        np.testing.assert_allclose(to_numpy(in_place), to_numpy(expected_dZ), rtol=1e-6)
        # out=None returns a new array: overwriting it leaves dA, z and a as they were
        expected_dZ[...] = np.nan
        np.testing.assert_array_equal(to_numpy(dA), dA_host)
        np.testing.assert_array_equal(to_numpy(z), z_host)
        np.testing.assert_array_equal(to_numpy(expected), to_numpy(buffer))


@pytest.mark.numpy_only  # only NumPy can tell whether two arrays share memory
@pytest.mark.parametrize("name", ["relu", "sigmoid", "softmax", "gelu"])
def test_out_that_is_a_view_of_z_is_refused(name):
    act = activations.get(name)
    z = sample_z(name).astype(np.float32)
    with pytest.raises(ValueError, match="share memory"):
        act.forward(z, out=z[:, :])
    with pytest.raises(ValueError, match="share memory"):
        act.forward(z[:, :], out=z)
    # two halves of one array do not overlap: allowed
    both = np.concatenate([z, z])
    result = act.forward(both[:4], out=both[4:])
    assert result.base is both
    np.testing.assert_array_equal(both[4:], act.forward(z))


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_call_and_forward_convert_lists_and_integers_to_the_default_float(floatx):
    config.set_floatx(floatx)
    relu = activations.get("relu")
    for a in (relu([[-2, 3]]), relu(np.array([[-2, 3]])), relu(on_backend([[-2, 3]])),
              relu.forward([[-2, 3]])):
        assert is_backend_array(a) and dtype_name(a) == floatx
        np.testing.assert_array_equal(to_numpy(a), [[0.0, 3.0]])


def test_forward_copies_numpy_input_to_the_backend_and_keeps_its_dtype():
    z = np.array([[-1.5, 2.5]], dtype=np.float64)
    a = activations.get("sigmoid").forward(z)
    assert is_backend_array(a) and dtype_name(a) == "float64"
    assert (a is not z) and (xp.is_numpy or not isinstance(a, np.ndarray))
    np.testing.assert_allclose(to_numpy(a), 1.0 / (1.0 + np.exp(-z)), rtol=1e-15)


# ----------------------------------------------------------------------------- lookup


def test_get_by_name_alias_case_and_none():
    assert isinstance(activations.get(None), activations.Linear)
    assert isinstance(activations.get("ReLU"), activations.ReLU)
    assert isinstance(activations.get("silu"), activations.Swish)
    assert isinstance(activations.get("SWISH"), activations.Swish)
    assert isinstance(activations.get("leakyrelu"), activations.LeakyReLU)
    assert isinstance(activations.get("leaky_relu"), activations.LeakyReLU)
    instance = activations.LeakyReLU(alpha=0.1)
    assert activations.get(instance) is instance
    assert set(ALL) == {
        "linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "binary_step", "elu",
        "selu", "softplus", "softsign", "swish", "gelu", "hard_sigmoid",
    }


@pytest.mark.parametrize("name", ALL)
def test_serialize_round_trip_and_formulas(name):
    act = activations.get(name)
    config = activations.serialize(act)
    assert config["name"] == name
    assert activations.get(config) == act
    for text in (act.formula, act.derivative_formula, act.latex, act.derivative_latex):
        assert isinstance(text, str) and text
    doc = act.__doc__ or ""
    assert "g(z)" in doc and ("g'(z)" in doc or "Jacobian" in doc)  # formula and derivative


def test_config_keeps_parameters():
    act = activations.get({"name": "leaky_relu", "alpha": 0.1})
    assert act.alpha == 0.1 and activations.serialize(act) == {"name": "leaky_relu", "alpha": 0.1}
    gelu = activations.get(activations.serialize(activations.GELU(approximate=True)))
    assert gelu.approximate is True
    assert activations.ELU(alpha=0.5) != activations.ELU(alpha=1.0)


@pytest.mark.parametrize(("typo", "suggestion"), [("sigmoidd", "sigmoid"), ("relu6x", "relu"),
                                                  ("softmx", "softmax"), ("gelue", "gelu")])
def test_unknown_name_lists_choices_and_suggests_the_closest(typo, suggestion):
    with pytest.raises(ValueError) as info:
        activations.get(typo)
    message = str(info.value)
    assert f"Did you mean {suggestion!r}?" in message
    assert "binary_step" in message and "hard_sigmoid" in message


def test_bad_identifiers_and_parameters():
    with pytest.raises(TypeError, match="activation must be"):
        activations.get(3)
    with pytest.raises(ValueError, match="'name' key"):
        activations.get({"alpha": 0.1})
    with pytest.raises(TypeError, match="invalid parameters"):
        activations.get({"name": "relu", "alpha": 0.1})
    with pytest.raises(ValueError, match="alpha"):
        activations.LeakyReLU(alpha=-0.1)
    with pytest.raises(ValueError, match="alpha"):
        activations.ELU(alpha=0.0)
    with pytest.raises(TypeError, match="approximate"):
        activations.GELU(approximate="tanh")

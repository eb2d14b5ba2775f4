"""Losses: values against PyTorch, gradients against finite differences and autograd.

Every test runs on each core array backend (NumPy and array-api-strict, see conftest):
the inputs are put on the backend with ``on_backend`` and the results brought back
with ``to_numpy`` for the assertions.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _helpers import on_backend, to_numpy
from glassnet import losses
from glassnet.backend import dtype_name, is_backend_array, xp
from glassnet.utils import make_rng

pytestmark = pytest.mark.usefixtures("array_backend")

M, K = 5, 3


# ----------------------------------------------------------------------------- helpers
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def one_hot(ids, k):
    out = np.zeros((len(ids), k))
    out[np.arange(len(ids)), ids] = 1.0
    return out


def finite_difference(f, x, h=1e-6):
    """Central differences of the scalar f at every element of x (float64)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[index] += h
        minus[index] -= h
        grad[index] = (f(plus) - f(minus)) / (2 * h)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)


def make_case(name, rng):
    """(loss, y_true, y_pred) in float64, away from kinks and clip boundaries."""
    ids = rng.integers(0, K, size=M)
    labels = rng.integers(0, 2, size=(M, K)).astype(float)
    regression_y = rng.normal(size=(M, K))
    error = rng.uniform(0.1, 0.9, size=(M, K)) * rng.choice([-1.0, 1.0], size=(M, K))
    logits = rng.normal(scale=2.0, size=(M, K))
    soft_targets = softmax(rng.normal(size=(M, K)))
    if name == "mse":
        return losses.MeanSquaredError(), regression_y, regression_y + 3 * error
    if name == "mae":
        return losses.MeanAbsoluteError(), regression_y, regression_y + error
    if name == "huber":  # errors either well inside or well outside delta = 0.5
        big = error * np.where(rng.random((M, K)) < 0.5, 0.5, 2.0)
        return losses.Huber(delta=0.5), regression_y, regression_y + big
    if name == "log_cosh":
        return losses.LogCosh(), regression_y, regression_y + 4 * error
    if name == "hinge":  # margins 1 - y·ŷ away from 0
        scores = np.where(rng.random((M, K)) < 0.5, 0.5, 1.6) * rng.choice([-1.0, 1.0], (M, K))
        return losses.Hinge(), labels, scores
    if name == "bce":
        return losses.BinaryCrossentropy(), labels, rng.uniform(0.05, 0.95, size=(M, K))
    if name == "bce_soft":
        return losses.BinaryCrossentropy(), rng.random((M, K)), rng.uniform(0.05, 0.95, (M, K))
    if name == "bce_logits":
        return losses.BinaryCrossentropy(from_logits=True), labels, logits
    if name == "cce":
        return losses.CategoricalCrossentropy(), soft_targets, softmax(logits)
    if name == "cce_logits":
        return losses.CategoricalCrossentropy(from_logits=True), soft_targets, logits
    if name == "sparse":
        return losses.SparseCategoricalCrossentropy(), ids, softmax(logits)
    if name == "sparse_logits":
        return losses.SparseCategoricalCrossentropy(from_logits=True), ids, logits
    raise AssertionError(name)


CASES = [
    "mse", "mae", "huber", "log_cosh", "hinge", "bce", "bce_soft", "bce_logits",
    "cce", "cce_logits", "sparse", "sparse_logits",
]


def torch_per_sample(name, y_true, y_pred):
    """The same per-sample losses written with torch (float64 tensors)."""
    y = torch.as_tensor(y_true)
    p = y_pred if isinstance(y_pred, torch.Tensor) else torch.as_tensor(y_pred)
    none = {"reduction": "none"}
    if name == "mse":
        return F.mse_loss(p, y, **none).mean(1)
    if name == "mae":
        return F.l1_loss(p, y, **none).mean(1)
    if name == "huber":
        return F.huber_loss(p, y, delta=0.5, **none).mean(1)
    if name == "log_cosh":
        return torch.log(torch.cosh(p - y)).mean(1)
    if name == "hinge":  # Keras: labels {0, 1} -> {-1, 1}, then mean(max(1 - y·ŷ, 0))
        return torch.clamp(1 - (2 * y - 1) * p, min=0).mean(1)
    if name in ("bce", "bce_soft"):
        return F.binary_cross_entropy(p, y, **none).mean(1)
    if name == "bce_logits":
        return F.binary_cross_entropy_with_logits(p, y, **none).mean(1)
    if name == "cce":
        return -(y * torch.log(p)).sum(1)
    if name == "cce_logits":
        return F.cross_entropy(p, y, **none)
    if name == "sparse":
        return F.nll_loss(torch.log(p), y, **none)
    if name == "sparse_logits":
        return F.cross_entropy(p, y, **none)
    raise AssertionError(name)


# ----------------------------------------------------------------------------- values
@pytest.mark.parametrize("name", CASES)
def test_per_sample_matches_torch(name):
    loss, y_true, y_pred = make_case(name, make_rng(1))
    expected = torch_per_sample(name, y_true, y_pred).numpy()
    got = loss.per_sample(on_backend(y_true), on_backend(y_pred))
    assert is_backend_array(got) and got.shape == (M,)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-12, atol=1e-14)
    assert loss(on_backend(y_true), on_backend(y_pred)) == pytest.approx(expected.mean(), rel=1e-12)
    # NumPy data is accepted on every backend
    np.testing.assert_allclose(to_numpy(loss.per_sample(y_true, y_pred)), expected, rtol=1e-12)


@pytest.mark.parametrize("name", CASES)
def test_float32_in_float32_out(name):
    loss, y_true, y_pred = make_case(name, make_rng(2))
    y_true32 = on_backend(y_true, np.int64 if name.startswith("sparse") else np.float32)
    y_pred32 = on_backend(y_pred, np.float32)
    values = loss.per_sample(y_true32, y_pred32)
    gradient = loss.gradient(y_true32, y_pred32)
    assert dtype_name(values) == "float32"
    assert dtype_name(gradient) == "float32"
    assert gradient.shape == y_pred.shape
    values64 = loss.per_sample(on_backend(y_true), on_backend(y_pred))
    gradient64 = loss.gradient(on_backend(y_true), on_backend(y_pred))
    np.testing.assert_allclose(to_numpy(values), to_numpy(values64), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(gradient), to_numpy(gradient64), rtol=1e-4, atol=1e-5)


def test_keras_formulas_written_out():
    y_host = np.array([[0.0, 1.0], [1.0, 0.0]])
    p_host = np.array([[0.1, 0.8], [0.6, 0.3]])
    y, p = on_backend(y_host), on_backend(p_host)

    def per_sample(loss, y_true):
        return to_numpy(loss.per_sample(y_true, p))

    bce = -np.mean(y_host * np.log(p_host) + (1 - y_host) * np.log(1 - p_host), axis=1)
    np.testing.assert_allclose(per_sample(losses.get("binary_crossentropy"), y), bce)
    mse = np.mean((y_host - p_host) ** 2, axis=1)
    np.testing.assert_allclose(per_sample(losses.get("mse"), y), mse)
    e = p_host - y_host
    huber = np.where(np.abs(e) <= 0.5, 0.5 * e**2, 0.5 * np.abs(e) - 0.125).mean(axis=1)
    np.testing.assert_allclose(per_sample(losses.Huber(0.5), y), huber)
    hinge = np.maximum(1 - (2 * y_host - 1) * p_host, 0).mean(axis=1)
    np.testing.assert_allclose(per_sample(losses.get("hinge"), y), hinge)
    np.testing.assert_allclose(per_sample(losses.get("hinge"), on_backend(2 * y_host - 1)), hinge)


def test_probabilities_are_clipped_to_keras_epsilon():
    loss = losses.BinaryCrossentropy()
    worst = loss.per_sample(on_backend([[1.0], [0.0]]), on_backend([[0.0], [1.0]]))
    np.testing.assert_allclose(to_numpy(worst), -np.log(1e-7), rtol=1e-6)
    cce = losses.CategoricalCrossentropy()
    assert float(cce.per_sample([[0.0, 1.0]], [[1.0, 0.0]])[0]) == pytest.approx(-np.log(1e-7))
    sparse = losses.SparseCategoricalCrossentropy()
    assert float(sparse.per_sample([1], [[1.0, 0.0]])[0]) == pytest.approx(-np.log(1e-7))


def test_sample_weight_weights_each_example_and_divides_by_m():
    loss, y_true, y_pred = make_case("bce", make_rng(3))
    y_true, y_pred = on_backend(y_true), on_backend(y_pred)
    weights = np.array([0.0, 1.0, 2.0, 0.5, 3.0])
    per_sample = to_numpy(loss.per_sample(y_true, y_pred))
    expected = np.sum(weights * per_sample) / M
    assert loss(y_true, y_pred, sample_weight=weights) == pytest.approx(expected, rel=1e-12)
    assert loss(y_true, y_pred, sample_weight=on_backend(weights)) == pytest.approx(
        expected, rel=1e-12
    )
    assert loss(y_true, y_pred, sample_weight=weights[:, None]) == pytest.approx(expected)
    assert loss(y_true, y_pred, sample_weight=[1, 1, 1, 1, 1]) == pytest.approx(per_sample.mean())
    assert loss(y_true, y_pred, sample_weight=2.0) == pytest.approx(2 * per_sample.mean())
    for wrong in (np.ones(M + 1), on_backend(np.ones(M + 1))):
        with pytest.raises(ValueError, match="one weight per sample"):
            loss(y_true, y_pred, sample_weight=wrong)


def test_one_dimensional_inputs_read_as_a_column():
    y, p = np.array([0.0, 1.0, 1.0]), np.array([0.2, 0.6, 0.9])
    loss = losses.BinaryCrossentropy()
    np.testing.assert_allclose(
        to_numpy(loss.per_sample(on_backend(y), on_backend(p))),
        to_numpy(loss.per_sample(on_backend(y[:, None]), on_backend(p[:, None]))),
    )
    assert loss.gradient(on_backend(y), on_backend(p)).shape == (3, 1)


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_finite_differences(name):
    loss, y_true, y_pred = make_case(name, make_rng(4))
    targets = on_backend(y_true)

    def total_loss(p):  # l_i depends only on row i, so ∂(Σ_i l_i)/∂ŷ_ij = ∂l_i/∂ŷ_ij
        return float(xp.sum(loss.per_sample(targets, on_backend(p))))

    numeric = finite_difference(total_loss, y_pred)
    analytic = loss.gradient(targets, on_backend(y_pred))
    assert dtype_name(analytic) == "float64"
    assert relative_error(to_numpy(analytic), numeric) < 1e-6


@pytest.mark.parametrize("name", CASES)
def test_gradient_matches_torch_autograd(name):
    loss, y_true, y_pred = make_case(name, make_rng(5))
    p = torch.tensor(y_pred, requires_grad=True)
    torch_per_sample(name, y_true, p).sum().backward()
    expected = p.grad.numpy()
    gradient = loss.gradient(on_backend(y_true), on_backend(y_pred))
    np.testing.assert_allclose(to_numpy(gradient), expected, rtol=1e-10, atol=1e-12)


def test_gradient_writes_into_out():
    loss, y_true, y_pred = make_case("mse", make_rng(6))
    out = xp.empty_like(on_backend(y_pred))
    assert loss.gradient(on_backend(y_true), on_backend(y_pred), out=out) is out
    np.testing.assert_allclose(to_numpy(out), 2 * (y_pred - y_true) / K)


def test_clipped_probabilities_have_zero_gradient():
    loss = losses.BinaryCrossentropy()
    gradient = loss.gradient(on_backend([[0.0], [1.0]]), on_backend([[1.0], [0.0]]))
    np.testing.assert_array_equal(to_numpy(gradient), 0.0)
    cce = losses.CategoricalCrossentropy()
    gradient = cce.gradient(on_backend([[0.0, 1.0]]), on_backend([[0.5, 1.0]]))
    np.testing.assert_allclose(to_numpy(gradient), [[0.0, 0.0]])
    sparse = losses.SparseCategoricalCrossentropy()
    gradient = sparse.gradient(on_backend([1, 0]), on_backend([[0.5, 1.0], [0.5, 0.5]]))
    np.testing.assert_allclose(to_numpy(gradient), [[0.0, 0.0], [-2.0, 0.0]])


# ----------------------------------------------------------------------------- fused dZ
FUSED = [
    # (loss, activation name, activation written here, targets kind)
    (losses.BinaryCrossentropy(), "sigmoid", sigmoid, "labels"),
    (losses.BinaryCrossentropy(from_logits=True), "linear", lambda z: z, "labels"),
    (losses.CategoricalCrossentropy(), "softmax", softmax, "one_hot"),
    (losses.CategoricalCrossentropy(from_logits=True), "linear", lambda z: z, "one_hot"),
    (losses.SparseCategoricalCrossentropy(), "softmax", softmax, "ids"),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "linear", lambda z: z, "ids"),
    (losses.MeanSquaredError(), "linear", lambda z: z, "real"),
]


@pytest.mark.parametrize(("loss", "activation_name", "activation", "kind"), FUSED)
def test_output_gradient_is_the_chain_rule(loss, activation_name, activation, kind):
    rng = make_rng(7)
    Z = rng.normal(scale=2.0, size=(M, K))
    ids = rng.integers(0, K, size=M)
    Y = {
        "labels": rng.integers(0, 2, size=(M, K)).astype(float),
        "one_hot": one_hot(ids, K),
        "ids": ids,
        "real": rng.normal(size=(M, K)),
    }[kind]
    targets = on_backend(Y)

    def total_loss(z):
        return float(xp.sum(loss.per_sample(targets, on_backend(activation(z)))))

    numeric = finite_difference(total_loss, Z)
    A = activation(Z)
    out = xp.empty_like(on_backend(A))
    dZ = loss.output_gradient(targets, on_backend(A), on_backend(Z), activation_name, out=out)
    assert dZ is out
    assert relative_error(to_numpy(dZ), numeric) < 1e-6
    # float32 in, float32 out, A untouched
    A32, Z32 = on_backend(A, np.float32), on_backend(Z, np.float32)
    Y32 = on_backend(Y, np.int64 if kind == "ids" else np.float32)
    before = np.array(to_numpy(A32))
    dZ32 = loss.output_gradient(Y32, A32, Z32, activation_name)
    assert dtype_name(dZ32) == "float32"
    np.testing.assert_array_equal(to_numpy(A32), before)
    np.testing.assert_allclose(to_numpy(dZ32), to_numpy(dZ), atol=1e-6)
    # NumPy data is accepted on every backend
    host = loss.output_gradient(Y, A, Z, activation_name)
    np.testing.assert_allclose(to_numpy(host), to_numpy(dZ), rtol=1e-12)


def test_output_gradient_formulas():
    rng = make_rng(8)
    Z = rng.normal(size=(M, K))
    labels = rng.integers(0, 2, size=(M, K)).astype(float)
    A = sigmoid(Z)
    bce = losses.BinaryCrossentropy()
    dZ = bce.output_gradient(on_backend(labels), on_backend(A), on_backend(Z), "sigmoid")
    np.testing.assert_allclose(to_numpy(dZ), (A - labels) / K)
    ids = rng.integers(0, K, size=M)
    S = softmax(Z)
    sparse = losses.SparseCategoricalCrossentropy()
    dZ = sparse.output_gradient(on_backend(ids), on_backend(S), on_backend(Z), "softmax")
    np.testing.assert_allclose(to_numpy(dZ), S - one_hot(ids, K))
    cce = losses.CategoricalCrossentropy()
    one_hot_ids = one_hot(ids, K)
    dZ = cce.output_gradient(on_backend(one_hot_ids), on_backend(S), on_backend(Z), "softmax")
    np.testing.assert_allclose(to_numpy(dZ), S - one_hot_ids)
    # the fused sparse gradient may overwrite A itself
    S_backend = on_backend(S.copy())
    result = sparse.output_gradient(on_backend(ids), S_backend, on_backend(Z), "softmax",
                                    out=S_backend)
    assert result is S_backend
    np.testing.assert_allclose(to_numpy(result), S - one_hot(ids, K))


@pytest.mark.parametrize(
    ("loss", "activation_name"),
    [
        (losses.BinaryCrossentropy(), "softmax"),
        (losses.BinaryCrossentropy(from_logits=True), "sigmoid"),
        (losses.CategoricalCrossentropy(), "sigmoid"),
        (losses.SparseCategoricalCrossentropy(), "relu"),
        (losses.MeanSquaredError(), "sigmoid"),
        (losses.Hinge(), "tanh"),
    ],
)
def test_output_gradient_is_none_without_a_closed_form(loss, activation_name):
    A = on_backend(np.full((2, 3), 0.3))
    assert loss.output_gradient(on_backend(np.zeros((2, 3))), A, A, activation_name) is None
    assert loss.logits_activation in (None, "sigmoid", "softmax")


# ----------------------------------------------------------------------------- logits
def test_z_gives_the_exact_loss_where_probabilities_saturate():
    z_host = np.array([[-40.0], [3.0], [40.0]])
    y_host = np.array([[1.0], [1.0], [0.0]])
    z, y, a = on_backend(z_host), on_backend(y_host), on_backend(sigmoid(z_host))
    loss = losses.BinaryCrossentropy()
    exact = F.binary_cross_entropy_with_logits(
        torch.tensor(z_host), torch.tensor(y_host), reduction="none"
    ).numpy()[:, 0]
    np.testing.assert_allclose(to_numpy(loss.per_sample(y, a, z=z)), exact, rtol=1e-12)
    # without z the probabilities 1e-18 and 1 - 1e-18 are clipped: about 16.1, not 40
    assert float(loss.per_sample(y, a)[0]) == pytest.approx(-np.log(1e-7), rel=1e-6)

    Z_host = np.array([[50.0, -50.0, 0.0], [0.1, 0.2, 0.3]])
    ids_host = np.array([1, 2])
    Z, ids, S = on_backend(Z_host), on_backend(ids_host), on_backend(softmax(Z_host))
    exact = F.cross_entropy(torch.tensor(Z_host), torch.tensor(ids_host), reduction="none").numpy()
    sparse = losses.SparseCategoricalCrossentropy()
    np.testing.assert_allclose(to_numpy(sparse.per_sample(ids, S, z=Z)), exact, rtol=1e-12)
    cce = losses.CategoricalCrossentropy()
    Y = on_backend(one_hot(ids_host, 3))
    np.testing.assert_allclose(to_numpy(cce.per_sample(Y, S, z=Z)), exact, rtol=1e-12)
    # other losses ignore z
    mse = losses.MeanSquaredError()
    np.testing.assert_allclose(to_numpy(mse.per_sample(y, a, z=z)), to_numpy(mse.per_sample(y, a)))


@st.composite
def logit_batches(draw):
    m = draw(st.integers(1, 6))
    k = draw(st.integers(1, 5))
    extremes = st.sampled_from([-1e4, -1e3, -90.0, -20.0, 0.0, 20.0, 90.0, 1e3, 1e4])
    values = st.one_of(extremes, st.floats(-1e4, 1e4, width=32))
    z = draw(hnp.arrays(np.float32, (m, k), elements=values))
    ids = draw(hnp.arrays(np.int64, (m,), elements=st.integers(0, k - 1)))
    labels = draw(hnp.arrays(np.float32, (m, k), elements=st.sampled_from([0.0, 1.0])))
    return z, ids, labels


def _stable_sigmoid32(z):
    return (0.5 * (1.0 + np.tanh(0.5 * z))).astype(np.float32)


def _stable_softmax32(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@settings(max_examples=60, deadline=None)
@given(logit_batches())
def test_extreme_float32_logits_stay_finite_without_warnings(batch):
    z_host, ids_host, labels_host = batch
    k = z_host.shape[1]
    onehot = on_backend(one_hot(ids_host, k), np.float32)
    a_sigmoid, a_softmax = on_backend(_stable_sigmoid32(z_host)), on_backend(_stable_softmax32(z_host))
    z, ids, labels = on_backend(z_host), on_backend(ids_host), on_backend(labels_host)
    checks = [
        (losses.BinaryCrossentropy(from_logits=True), labels, z, None, "linear"),
        (losses.BinaryCrossentropy(), labels, a_sigmoid, z, "sigmoid"),
        (losses.CategoricalCrossentropy(from_logits=True), onehot, z, None, "linear"),
        (losses.CategoricalCrossentropy(), onehot, a_softmax, z, "softmax"),
        (losses.SparseCategoricalCrossentropy(from_logits=True), ids, z, None, "linear"),
        (losses.SparseCategoricalCrossentropy(), ids, a_softmax, z, "softmax"),
        (losses.MeanSquaredError(), labels, z, None, "linear"),
        (losses.MeanAbsoluteError(), labels, z, None, "linear"),
        (losses.Huber(), labels, z, None, "linear"),
        (losses.LogCosh(), labels, z, None, "linear"),
        (losses.Hinge(), labels, z, None, "linear"),
    ]
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        for loss, y, y_pred, logits, activation_name in checks:
            values = [loss.per_sample(y, y_pred, z=logits), loss.per_sample(y, y_pred)]
            gradients = [
                loss.gradient(y, y_pred),
                loss.output_gradient(y, y_pred, z, activation_name),
            ]
            for array in values + gradients:
                assert np.all(np.isfinite(to_numpy(array))), loss
            assert dtype_name(gradients[0]) == "float32"
            assert to_numpy(values[0]).min() >= 0.0


# ----------------------------------------------------------------------------- targets
def test_prepare_targets_accepts_a_vector_for_one_output():
    for name in ("binary_crossentropy", "mse", "huber"):
        y = losses.get(name).prepare_targets([0, 1, 1], 1, np.float64)
        assert y.shape == (3, 1) and y.dtype == np.float64
    y = losses.get("binary_crossentropy").prepare_targets([True, False], 1)
    assert y.dtype == np.float32


def test_prepare_targets_binary_crossentropy_range():
    with pytest.raises(ValueError, match=r"targets in \[0, 1\]; y contains 3"):
        losses.get("binary_crossentropy").prepare_targets([0, 1, 3], 1, np.float32)
    with pytest.raises(ValueError, match="y contains -0.5"):
        losses.get("binary_crossentropy").prepare_targets([[0, -0.5]], 2, np.float32)


def test_prepare_targets_rejects_nan_and_wrong_width():
    with pytest.raises(ValueError, match="NaN"):
        losses.get("mse").prepare_targets([0.0, np.nan], 1, np.float32)
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        losses.get("mse").prepare_targets(np.zeros((4, 3)), 2, np.float32)


def test_prepare_targets_categorical():
    loss = losses.get("categorical_crossentropy")
    y = loss.prepare_targets([[0, 1, 0], [0.1, 0.1, 0.8]], 3, np.float32)
    assert y.dtype == np.float32 and y.shape == (2, 3)
    with pytest.raises(ValueError, match="row 1 sums to 2") as info:
        loss.prepare_targets([[0, 1, 0], [1, 1, 0]], 3, np.float32)
    assert "sparse_categorical_crossentropy" in str(info.value)
    assert "to_categorical" in str(info.value)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        loss.prepare_targets([0, 2, 1], 3, np.float32)
    with pytest.raises(ValueError, match="binary_crossentropy"):
        loss.prepare_targets([0, 1, 1], 1, np.float32)


def test_prepare_targets_sparse():
    loss = losses.get("sparse_categorical_crossentropy")
    for y in ([0, 2, 1], [[0], [2], [1]], [0.0, 2.0, 1.0]):
        ids = loss.prepare_targets(y, 3, np.float32)
        assert ids.dtype == np.int64 and ids.shape == (3,)
        np.testing.assert_array_equal(ids, [0, 2, 1])
    with pytest.raises(ValueError, match=r"class ids in \[0, 2\].*y contains 3"):
        loss.prepare_targets([0, 3], 3, np.float32)
    with pytest.raises(ValueError, match="y contains -1"):
        loss.prepare_targets([0, -1], 3, np.float32)
    with pytest.raises(ValueError, match="integer class ids; y contains 1.5"):
        loss.prepare_targets([0, 1.5], 3, np.float32)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        loss.prepare_targets(np.eye(3), 3, np.float32)


def test_prepare_targets_hinge_converts_zero_one_labels():
    loss = losses.get("hinge")
    np.testing.assert_array_equal(loss.prepare_targets([0, 1, 1], 1, np.float32)[:, 0], [-1, 1, 1])
    np.testing.assert_array_equal(loss.prepare_targets([-1, 1], 1, np.float32)[:, 0], [-1, 1])
    with pytest.raises(ValueError, match="y contains 2"):
        loss.prepare_targets([0, 2], 1, np.float32)
    with pytest.raises(ValueError, match="both 0 and -1"):
        loss.prepare_targets([0, -1, 1], 1, np.float32)


# ----------------------------------------------------------------------------- registry
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("mse", losses.MeanSquaredError),
        ("mean_squared_error", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("mean_absolute_error", losses.MeanAbsoluteError),
        ("binary_crossentropy", losses.BinaryCrossentropy),
        ("categorical_crossentropy", losses.CategoricalCrossentropy),
        ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
        ("huber", losses.Huber),
        ("hinge", losses.Hinge),
        ("log_cosh", losses.LogCosh),
        ("logcosh", losses.LogCosh),
        ("MSE", losses.MeanSquaredError),
    ],
)
def test_get_by_name(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls
    assert loss.formula and loss.latex


def test_get_instances_and_configs_round_trip():
    huber = losses.Huber(delta=2.5)
    assert losses.get(huber) is huber
    rebuilt = losses.get(huber.get_config())
    assert isinstance(rebuilt, losses.Huber) and rebuilt.delta == 2.5
    bce = losses.get({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}})
    assert bce.from_logits and bce.get_config()["from_logits"] is True
    assert repr(bce) == "BinaryCrossentropy(from_logits=True)"


def test_get_unknown_name_suggests_the_closest():
    with pytest.raises(ValueError, match="Did you mean 'binary_crossentropy'"):
        losses.get("binary_crossentropyy")
    with pytest.raises(ValueError, match="Valid values: .*hinge"):
        losses.get("hinje")
    with pytest.raises(TypeError, match="loss must be"):
        losses.get(3)
    with pytest.raises(ValueError, match="delta"):
        losses.Huber(delta=0.0)

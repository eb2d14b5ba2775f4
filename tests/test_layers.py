"""Layers and whole-network backpropagation: finite differences, PyTorch autograd, and by hand."""

import numpy as np
import pytest
import torch

from _helpers import numerical_gradient, on_backend, to_numpy
from glassnet.layers import Activation, Dense, Dropout, Flatten, Input
from glassnet.models import Sequential
from glassnet.optimizers import SGD

pytestmark = pytest.mark.usefixtures("array_backend")


def _relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-12)


def _model_loss(model, X, Y, weights=None):
    A = model.forward(X, training=False)
    per_sample = model.loss.per_sample(Y, A)
    value = np.mean(per_sample) if weights is None else np.dot(per_sample, weights) / len(X)
    return value + sum(layer.regularization_penalty() for layer in model.layers)


NETWORKS = [
    # (hidden activations, output activation, loss, n_outputs)
    ("relu", "sigmoid", "binary_crossentropy", 1),
    ("tanh", "softmax", "categorical_crossentropy", 3),
    ("elu", "softmax", "sparse_categorical_crossentropy", 3),
    ("swish", "linear", "mse", 2),
    ("gelu", "linear", "huber", 2),
    ("softplus", "sigmoid", "mse", 2),
    ("selu", "tanh", "mae", 1),
    ("leaky_relu", "linear", "log_cosh", 1),
    ("softsign", "sigmoid", "binary_crossentropy", 2),
    ("hard_sigmoid", "linear", "hinge", 1),
]


def _targets(loss, n, k, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, k, n)
    if loss == "categorical_crossentropy":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss in ("binary_crossentropy", "hinge"):
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.normal(size=(n, k))


@pytest.mark.parametrize("hidden, output, loss, k", NETWORKS)
def test_backpropagation_matches_finite_differences(float64, hidden, output, loss, k):
    rng = np.random.default_rng(0)
    model = Sequential([
        Dense(5, input_dim=3, activation=hidden, kernel_regularizer="l2"),
        Dense(4, activation=hidden, bias_regularizer="l1_l2"),
        Dense(k, activation=output),
    ])
    model.compile(optimizer="sgd", loss=loss)
    X = rng.normal(size=(7, 3))
    Y = model.loss.prepare_targets(_targets(loss, 7, k, rng), k, np.float64)
    weights = rng.uniform(0.5, 2.0, size=7)
    model._refresh_step_settings()
    model.forward(X, training=True)
    model.backward(Y, model.layers[-1].A, weights)
    analytic = np.array(to_numpy(model.gradients))
    numeric = numerical_gradient(lambda: _model_loss(model, X, Y, weights), model.parameters)
    assert _relative_error(analytic, numeric) < 1e-6


def test_whole_network_matches_pytorch_autograd(float64):
    """The articles' 2-4-6-6-4-1 network: forward, loss and every gradient against PyTorch."""
    rng = np.random.default_rng(1)
    model = Sequential([Input(shape=(2,))] + [
        Dense(n, activation="relu") for n in (4, 6, 6, 4)
    ] + [Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    X = rng.normal(size=(16, 2))
    y = rng.integers(0, 2, size=(16, 1)).astype(float)
    model._refresh_step_settings()
    A = model.forward(X, training=True)
    loss = model.objective(y, A)
    model.backward(y, A)

    tensors = [torch.tensor(w, requires_grad=True) for w in model.get_weights()]
    a = torch.tensor(X)
    for i in range(0, len(tensors), 2):
        z = a @ tensors[i] + tensors[i + 1]
        a = torch.relu(z) if i < len(tensors) - 2 else torch.sigmoid(z)
    torch_loss = torch.nn.functional.binary_cross_entropy(a, torch.tensor(y))
    torch_loss.backward()

    np.testing.assert_allclose(A, a.detach().numpy(), rtol=1e-12)
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10)
    grads = [layer.grads[name] for layer in model.layers for name in ("kernel", "bias")]
    for mine, theirs in zip(grads, tensors, strict=True):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_softmax_network_with_dropout_and_regularizer_matches_pytorch(float64):
    rng = np.random.default_rng(2)
    model = Sequential([
        Dense(8, input_dim=5, activation="tanh", kernel_regularizer="l2"),
        Dropout(0.5, seed=3),
        Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    X = rng.normal(size=(10, 5))
    y = rng.integers(0, 3, size=10)
    model._refresh_step_settings()
    A = model.forward(X, training=True)
    mask = np.array(to_numpy(model.layers[1].mask))
    loss = model.objective(y, A)
    model.backward(y, A)

    W1, b1, W2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    h = torch.tanh(torch.tensor(X) @ W1 + b1) * torch.tensor(mask)
    logits = h @ W2 + b2
    torch_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y)) + 0.01 * (W1**2).sum()
    torch_loss.backward()
    assert loss == pytest.approx(torch_loss.item(), rel=1e-10)
    for mine, theirs in zip(model.get_weights(), (W1, b1, W2, b2), strict=True):
        assert mine.shape == theirs.shape
    np.testing.assert_allclose(model.layers[0].dW, W1.grad.numpy(), rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(model.layers[2].db, b2.grad.numpy(), rtol=1e-9, atol=1e-14)


def test_one_sgd_step_worked_by_hand(float64):
    """x = (1, 2), W = (0.1, 0.2)ᵀ, b = 0, y = 1, sigmoid unit, binary cross-entropy, α = 0.1.

    z = 0.1·1 + 0.2·2 + 0 = 0.5;  a = σ(0.5) = 0.6224593312
    dZ = a - y = -0.3775406688
    dW = xᵀ·dZ = (-0.3775406688, -0.7550813376);  db = -0.3775406688
    W := W - α·dW = (0.1377540669, 0.2755081338);  b := 0.0377540669
    """
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(optimizer=SGD(learning_rate=0.1), loss="binary_crossentropy")
    model.set_weights([np.array([[0.1], [0.2]]), np.array([0.0])])
    loss = model.train_on_batch(np.array([[1.0, 2.0]]), np.array([1.0]))
    assert loss == pytest.approx(-np.log(0.6224593312), rel=1e-9)
    W, b = model.get_weights()
    np.testing.assert_allclose(W.ravel(), [0.1377540669, 0.2755081338], rtol=1e-9)
    np.testing.assert_allclose(b, [0.0377540669], rtol=1e-9)


def test_dense_forward_is_the_equation():
    rng = np.random.default_rng(0)
    layer = Dense(3, activation="relu")
    model = Sequential([Input(shape=(4,)), layer])
    model.build()
    X = rng.normal(size=(5, 4)).astype(np.float32)
    expected = np.maximum(X @ layer.W + layer.b, 0)
    np.testing.assert_allclose(model.predict(X), expected, rtol=1e-6)
    assert layer.W.shape == (4, 3) and layer.b.shape == (3,)
    # W and b are views into the model's single parameter buffer
    assert np.shares_memory(layer.W, model.parameters)
    assert np.shares_memory(layer.dW, model.gradients)


def test_dropout_is_inverted_and_only_active_in_training():
    layer = Dropout(0.25, seed=0)
    model = Sequential([Input(shape=(1000,)), layer])
    model.build()
    X = np.ones((50, 1000), dtype=np.float32)
    np.testing.assert_array_equal(model.forward(X, training=False), X)
    out = model.forward(X, training=True)
    dropped = np.mean(out == 0)
    assert 0.23 < dropped < 0.27
    np.testing.assert_allclose(out[out != 0], 1 / 0.75, rtol=1e-6)
    assert abs(np.mean(out) - 1.0) < 0.02  # expectation preserved
    grad = layer.backward(on_backend(np.ones_like(X)))  # a layer's backward takes backend arrays
    np.testing.assert_array_equal(grad == 0, out == 0)


def test_flatten_feeds_images_to_dense():
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    X = rng.random((20, 28, 28))
    y = rng.integers(0, 10, 20)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.layers[1].W.shape == (784, 10)
    assert model.predict(X).shape == (20, 10)


def test_activation_layer_equals_dense_activation(float64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    y = rng.normal(size=(6, 2))
    fused = Sequential([Dense(2, input_dim=3, activation="tanh")])
    split = Sequential([Dense(2, input_dim=3), Activation("tanh")])
    for model in (fused, split):
        model.compile(optimizer="sgd", loss="mse")
        model.build()
    split.set_weights(fused.get_weights())
    np.testing.assert_allclose(fused.predict(X), split.predict(X))
    fused.train_on_batch(X, y)
    split.train_on_batch(X, y)
    np.testing.assert_allclose(fused.get_weights()[0], split.get_weights()[0], rtol=1e-12)


def test_fused_output_gradient_equals_the_chain_rule(float64):
    """dZ = A - Y for sigmoid + BCE equals dA * σ'(Z) computed the long way."""
    rng = np.random.default_rng(0)
    model = Sequential([Dense(3, input_dim=4, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    X = rng.normal(size=(8, 4))
    Y = rng.integers(0, 2, size=(8, 1)).astype(float)
    model._refresh_step_settings()
    A = model.forward(X, training=True)
    model.backward(Y, A)
    fused = np.array(to_numpy(model.gradients))
    last = model.layers[-1]
    dA = model.loss.gradient(Y, A)
    dZ = last.activation.backward(dA, last.Z, last.A)
    model.layers[0].backward(last.backward(dZ=dZ))
    np.testing.assert_allclose(model.gradients, fused, rtol=1e-7, atol=1e-12)


def test_layer_names_follow_keras():
    model = Sequential([Dense(2, input_dim=2), Dense(1)])
    names = [layer.name for layer in model.layers]
    assert all(name.startswith("dense") for name in names)
    assert len(set(names)) == 2


def test_binary_step_trains_with_a_clear_error():
    model = Sequential([Dense(1, input_dim=2, activation="binary_step")])
    model.compile(optimizer="sgd", loss="mse")
    X = np.array([[1.0, -1.0], [0.5, 2.0]])
    assert model.predict(X).shape == (2, 1)  # inference works
    with pytest.raises(ValueError, match="zero"):
        model.fit(X, np.array([0.0, 1.0]), verbose=0)


@pytest.mark.parametrize("m", [127, 128, 300])
def test_examples_stored_as_columns_give_the_textbook_numbers(float64, m):
    """Narrow layers on large batches keep examples as columns in memory (Zᵀ = Wᵀ·A_prevᵀ);
    forward and backward must give exactly the textbook row-layout numbers, through wide and
    narrow layers, a Dropout and an Activation layer, with and without the transposed path."""
    from glassnet.layers.base import stores_examples_as_columns

    rng = np.random.default_rng(5)
    model = Sequential([
        Dense(6, input_dim=3, activation="relu"),
        Dense(40, activation="tanh"),             # wide: rows
        Dropout(0.3, seed=0),
        Dense(5),
        Activation("sigmoid"),
        Dense(2, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    X = rng.normal(size=(m, 3))
    Y = np.eye(2)[rng.integers(0, 2, m)]
    model._refresh_step_settings()
    A = to_numpy(model.forward(X, training=True))
    model.backward(Y, model.layers[-1].A)
    assert stores_examples_as_columns(m, (6,)) == (m >= 128)
    if model.layers[0].Z.__class__ is np.ndarray:  # the layout itself is visible on NumPy
        assert model.layers[0].Z.T.flags.c_contiguous == (m >= 128)
        assert model.layers[1].Z.flags.c_contiguous

    W = [to_numpy(layer.W) for layer in model.layers if isinstance(layer, Dense)]
    b = [to_numpy(layer.b) for layer in model.layers if isinstance(layer, Dense)]
    mask = to_numpy(model.layers[2].mask)
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    Z0 = X @ W[0] + b[0]
    A0 = np.maximum(Z0, 0)
    Z1 = A0 @ W[1] + b[1]
    A1 = np.tanh(Z1) * mask
    Z2 = A1 @ W[2] + b[2]
    A2 = sig(Z2)
    Z3 = A2 @ W[3] + b[3]
    A3 = np.exp(Z3 - Z3.max(axis=1, keepdims=True))
    A3 /= A3.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(A, A3, rtol=1e-12)
    dZ3 = (A3 - Y) / m
    dA2 = dZ3 @ W[3].T
    dZ2 = dA2 * A2 * (1 - A2)
    dA1 = dZ2 @ W[2].T
    dZ1 = dA1 * mask * (1 - np.tanh(Z1) ** 2)
    dA0 = dZ1 @ W[1].T
    dZ0 = dA0 * (Z0 > 0)
    expected = [X.T @ dZ0, dZ0.sum(0), A0.T @ dZ1, dZ1.sum(0), A1.T @ dZ2, dZ2.sum(0), A2.T @ dZ3, dZ3.sum(0)]
    grads = [to_numpy(layer.grads[name]) for layer in model.layers if isinstance(layer, Dense)
             for name in ("kernel", "bias")]
    for mine, theirs in zip(grads, expected, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-15)

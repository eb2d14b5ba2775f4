"""BatchNormalization and Normalization: equations, finite differences, PyTorch, saving."""

import numpy as np
import pytest
import torch

from _helpers import numerical_gradient, on_backend, to_numpy
from glassnet.layers import BatchNormalization, Dense, Input, Normalization
from glassnet.models import Sequential, load_model

pytestmark = pytest.mark.usefixtures("array_backend")


def _relative_error(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(a)) + np.max(np.abs(b)), 1e-12)


def _bound(layer, n_features, weights=None):
    """``layer`` inside a built one-layer model (its parameters are views into the model's buffer)."""
    model = Sequential([Input(shape=(n_features,)), layer])
    model.build()
    if weights is not None:
        model.set_weights(weights)
    layer.needs_input_gradient = True
    return model


def _bn_weights(rng, c):
    return [rng.uniform(0.5, 2.0, c), rng.normal(size=c), rng.normal(size=c), rng.uniform(0.5, 2.0, c)]


def test_batchnorm_training_forward_and_moving_statistics(float64):
    rng = np.random.default_rng(0)
    X = rng.normal(2.0, 3.0, size=(16, 4))
    gamma, beta, mean0, var0 = _bn_weights(rng, 4)
    layer = BatchNormalization(momentum=0.9, epsilon=1e-3)
    _bound(layer, 4, [gamma, beta, mean0, var0])
    Y = to_numpy(layer.forward(on_backend(X), training=True))
    mu, var = X.mean(axis=0), X.var(axis=0)                     # biased batch variance, as Keras
    np.testing.assert_allclose(Y, gamma * (X - mu) / np.sqrt(var + 1e-3) + beta, rtol=1e-12)
    moving_mean, moving_variance = layer.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, 0.9 * mean0 + 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(moving_variance, 0.9 * var0 + 0.1 * var, rtol=1e-12)
    # inference: the moving statistics, not the batch's
    Y_inference = to_numpy(layer.forward(on_backend(X), training=False))
    expected = gamma * (X - moving_mean) / np.sqrt(moving_variance + 1e-3) + beta
    np.testing.assert_allclose(Y_inference, expected, rtol=1e-12)
    assert [spec.name for spec in layer.param_specs] == ["gamma", "beta", "moving_mean", "moving_variance"]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("center, scale", [(True, True), (False, True), (True, False)])
def test_batchnorm_backward_matches_finite_differences(float64, training, center, scale):
    """J = (1/m) Σ G·Y: backward(G) gives dγ, dβ = ∂J/∂θ and dX = m·∂J/∂X (glassnet's per-example dA)."""
    rng = np.random.default_rng(1)
    m, c = 6, 3
    layer = BatchNormalization(center=center, scale=scale, momentum=0.5)
    model = _bound(layer, c)
    weights = [w for w, keep in zip(_bn_weights(rng, c), (scale, center, True, True), strict=True) if keep]
    model.set_weights(weights)
    X, G = on_backend(rng.normal(size=(m, c))), rng.normal(size=(m, c))

    def J():
        return float(np.sum(G * to_numpy(layer.forward(X, training=training)))) / m

    J()
    dX = to_numpy(layer.backward(on_backend(G)))
    assert _relative_error(dX, m * numerical_gradient(J, X)) < 1e-7
    for name in [n for n, keep in (("gamma", scale), ("beta", center)) if keep]:
        analytic = np.array(to_numpy(layer.grads[name]))
        assert _relative_error(analytic, numerical_gradient(J, layer.params[name])) < 1e-7


@pytest.mark.numpy_only("PyTorch compares NumPy arrays")
def test_batchnorm_matches_pytorch_batchnorm1d(float64):
    rng = np.random.default_rng(2)
    m, c, momentum = 8, 5, 0.9
    gamma, beta, mean0, var0 = _bn_weights(rng, c)
    layer = BatchNormalization(momentum=momentum, epsilon=1e-3)
    _bound(layer, c, [gamma, beta, mean0, var0])
    X, G = rng.normal(1.0, 2.0, size=(m, c)), rng.normal(size=(m, c))
    Y = layer.forward(X, training=True)
    dX = layer.backward(G.copy())

    torch_bn = torch.nn.BatchNorm1d(c, eps=1e-3, momentum=1 - momentum, dtype=torch.float64)
    with torch.no_grad():
        torch_bn.weight[:], torch_bn.bias[:] = torch.tensor(gamma), torch.tensor(beta)
        torch_bn.running_mean[:], torch_bn.running_var[:] = torch.tensor(mean0), torch.tensor(var0)
    X_t = torch.tensor(X, requires_grad=True)
    Y_t = torch_bn.train()(X_t)
    (torch.tensor(G) * Y_t).sum().div(m).backward()

    np.testing.assert_allclose(Y, Y_t.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, m * X_t.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(layer.grads["gamma"], torch_bn.weight.grad.numpy(), rtol=1e-9)
    np.testing.assert_allclose(layer.grads["beta"], torch_bn.bias.grad.numpy(), rtol=1e-9)
    moving_mean, moving_variance = layer.get_weights()[2:]
    np.testing.assert_allclose(moving_mean, torch_bn.running_mean.numpy(), rtol=1e-12)
    # PyTorch's running variance uses the unbiased batch variance (N − 1); Keras's (and glassnet's)
    # the biased one: moving = k·v0 + (1 − k)·σ², torch = k·v0 + (1 − k)·σ²·N/(N − 1).
    torch_batch_part = torch_bn.running_var.numpy() - momentum * var0
    np.testing.assert_allclose(moving_variance - momentum * var0, torch_batch_part * (m - 1) / m, rtol=1e-10)


def test_network_with_batchnorm_matches_finite_differences(float64):
    """End to end through model.backward: Dense → BatchNormalization → Dense(softmax)."""
    rng = np.random.default_rng(3)
    model = Sequential([Dense(5, input_dim=3, activation="tanh"), BatchNormalization(momentum=0.5),
                        Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.layers[1].set_weights(_bn_weights(rng, 5))
    X, Y = on_backend(rng.normal(size=(9, 3))), on_backend(np.eye(3)[rng.integers(0, 3, 9)])
    model._refresh_step_settings()
    model.backward(Y, model.forward(X, training=True))
    n = model._n_trainable
    analytic = np.array(to_numpy(model.gradients[:n]))

    def J():
        return float(np.mean(to_numpy(model.loss.per_sample(Y, model.forward(X, training=True)))))

    numeric = numerical_gradient(J, model.parameters)[:n]
    assert _relative_error(analytic, numeric) < 1e-7
    assert n == model.count_params() - 10          # moving_mean and moving_variance are not trainable


def test_moving_statistics_are_frozen_parameters_updated_only_by_forward(float64):
    """Full-batch fit: the batch mean of X is the same each step, so after k steps
    moving_mean = μ·(1 − momentumᵏ); the optimizer sees only the trainable part."""
    rng = np.random.default_rng(4)
    X = rng.normal(3.0, 1.0, size=(20, 2))
    y = rng.normal(size=(20, 1))
    model = Sequential([BatchNormalization(input_shape=(2,), momentum=0.8), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, y, epochs=3, batch_size=20, shuffle=False, verbose=0)
    bn = model.layers[0]
    np.testing.assert_allclose(bn.get_weights()[2], X.mean(axis=0) * (1 - 0.8**3), rtol=1e-10)
    assert model._trainable_buffer().shape[0] == 2 + 2 + 2 + 1      # gamma, beta, kernel, bias
    assert model.count_params() == 2 * 4 + 3


def test_frozen_batchnorm_runs_in_inference_mode(float64):
    rng = np.random.default_rng(5)
    layer = BatchNormalization(trainable=False)
    _bound(layer, 3, _bn_weights(rng, 3))
    before = layer.get_weights()
    X = on_backend(rng.normal(size=(4, 3)))
    np.testing.assert_allclose(to_numpy(layer.forward(X, training=True)),
                               to_numpy(layer.forward(X, training=False)))
    for old, new in zip(before, layer.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_batchnorm_on_images_normalises_each_channel():
    layer = BatchNormalization(center=False, scale=False)
    _bound(layer, 1)
    model = Sequential([Input(shape=(4, 4, 3)), layer])
    model.build()
    X = np.random.default_rng(6).normal(5.0, 2.0, size=(8, 4, 4, 3)).astype("float32")
    Y = to_numpy(layer.forward(on_backend(X), training=True))
    np.testing.assert_allclose(Y.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(Y.var(axis=(0, 1, 2)), 1.0, rtol=1e-3)


def test_batchnorm_rejects_other_axes_and_bad_arguments():
    with pytest.raises(ValueError, match="last axis only"):
        Sequential([Input(shape=(3,)), BatchNormalization(axis=0)]).build()
    with pytest.raises(ValueError, match="momentum"):
        BatchNormalization(momentum=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        BatchNormalization(epsilon=0)


@pytest.mark.numpy_only("saving writes NumPy arrays")
def test_batchnorm_model_saved_and_loaded(tmp_path):
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(64, 3)), rng.integers(0, 2, 64)
    model = Sequential([Dense(8, input_dim=3, activation="relu"), BatchNormalization(),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "bn.glassnet")
    loaded = load_model(tmp_path / "bn.glassnet")
    assert [type(layer).__name__ for layer in loaded.layers] == ["Dense", "BatchNormalization", "Dense"]
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    loaded.fit(X, y, epochs=1, verbose=0)            # the loaded model trains on


# ------------------------------------------------------------------------------- Normalization
def test_normalization_adapt_matches_numpy_and_sets_the_input_shape():
    rng = np.random.default_rng(8)
    data = rng.normal([1.0, -2.0, 10.0], [0.5, 3.0, 0.0], size=(100, 3))   # the last feature is constant
    layer = Normalization()
    layer.adapt(data)
    model = Sequential([layer, Dense(1)])              # adapt told the model its input shape
    model.build()
    mean, variance = layer.get_weights()
    np.testing.assert_allclose(mean, data.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(variance, data.var(axis=0), rtol=1e-5, atol=1e-12)
    Y = to_numpy(layer.forward(on_backend(data.astype("float32"))))
    expected = (data - data.mean(axis=0)) / np.maximum(data.std(axis=0), 1e-7)
    np.testing.assert_allclose(Y, expected, rtol=1e-4, atol=1e-4)
    assert [spec.trainable for spec in layer.param_specs] == [False, False]


def test_normalization_given_statistics_invert_and_axis_none(float64):
    X = on_backend(np.array([[1.0, 4.0], [3.0, 8.0]]))
    given = Normalization(mean=[2.0, 6.0], variance=[1.0, 4.0])
    _bound(given, 2)
    np.testing.assert_allclose(to_numpy(given.forward(X)), [[-1.0, -1.0], [1.0, 1.0]])
    inverse = Normalization(mean=[2.0, 6.0], variance=[1.0, 4.0], invert=True)
    _bound(inverse, 2)
    np.testing.assert_allclose(to_numpy(inverse.forward(given.forward(X))), to_numpy(X))
    scalar = Normalization(axis=None)
    scalar.adapt(np.array([[0.0, 2.0], [4.0, 6.0]]))
    _bound(scalar, 2)
    np.testing.assert_allclose(to_numpy(scalar.forward(X)), (to_numpy(X) - 3.0) / np.sqrt(5.0))


@pytest.mark.parametrize("invert", [False, True])
def test_normalization_backward_matches_finite_differences(float64, invert):
    rng = np.random.default_rng(9)
    layer = Normalization(mean=rng.normal(size=3), variance=rng.uniform(0.5, 2, 3), invert=invert)
    _bound(layer, 3)
    X, G = on_backend(rng.normal(size=(4, 3))), rng.normal(size=(4, 3))
    numeric = numerical_gradient(lambda: float(np.sum(G * to_numpy(layer.forward(X)))), X)
    assert _relative_error(to_numpy(layer.backward(on_backend(G))), numeric) < 1e-8


def test_normalization_errors():
    with pytest.raises(ValueError, match="both mean= and variance="):
        Normalization(mean=[0.0])
    with pytest.raises(ValueError, match="variance must be >= 0"):
        Normalization(mean=[0.0], variance=[-1.0])
    with pytest.raises(ValueError, match="one row per example"):
        Normalization().adapt([1.0, 2.0])
    with pytest.raises(ValueError, match="2 values, but the inputs have 3 features"):
        Sequential([Input(shape=(3,)), Normalization(mean=[0.0, 1.0], variance=[1.0, 1.0])]).build()


@pytest.mark.numpy_only("saving writes NumPy arrays")
def test_normalization_adapted_values_are_saved(tmp_path):
    data = np.random.default_rng(10).normal(5.0, 2.0, size=(50, 2))
    norm = Normalization()
    norm.adapt(data)
    model = Sequential([norm, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(data, data[:, :1], epochs=2, verbose=0)
    np.testing.assert_allclose(norm.get_weights()[0], data.mean(axis=0), rtol=1e-6)   # not trained
    model.save(tmp_path / "norm.glassnet")
    loaded = load_model(tmp_path / "norm.glassnet")
    np.testing.assert_array_equal(loaded.predict(data), model.predict(data))


@pytest.mark.numpy_only("gradient_check needs a NumPy model")
def test_gradient_check_passes_through_batchnorm_and_skips_the_moving_statistics(float64):
    from glassnet import gradient_check

    rng = np.random.default_rng(11)
    model = Sequential([Dense(4, input_dim=3), BatchNormalization(), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    report = gradient_check(model, rng.normal(size=(16, 3)), rng.integers(0, 2, 16))
    assert report.ok
    checked = [r.parameter for r in report.results if r.layer.startswith("batch_normalization")]
    assert checked == ["gamma", "beta"]

"""A user-defined Activation, Loss and Layer (as docs/extending.md writes them) are explained,
traced, gradient-checked, diagnosed, saved and loaded without touching glassnet's modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import glassnet
from glassnet import activations, config, initializers, losses
from glassnet.equations import Equation, format_shape
from glassnet.layers import Dense, Layer
from glassnet.models import Sequential, load_model
from glassnet.utils import make_rng, set_random_seed


class Mish(activations.Activation):
    """Mish: g(z) = z·tanh(softplus(z))."""

    name = "mish"
    formula = "g(z) = z * tanh(softplus(z))"
    derivative_formula = "g'(z) = t + z * σ(z) * (1 - t²),  t = tanh(softplus(z))"
    latex = r"g(z) = z \tanh(\operatorname{softplus}(z))"
    derivative_latex = r"g'(z) = t + z\,\sigma(z)(1 - t^2),\quad t = \tanh(\operatorname{softplus}(z))"

    def forward(self, z, out=None):
        return z * np.tanh(np.logaddexp(0.0, z))

    def derivative(self, z, a):
        t = np.tanh(np.logaddexp(0.0, z))
        sigmoid = 0.5 * (1.0 + np.tanh(0.5 * z))
        return t + z * sigmoid * (1.0 - t * t)


class WeightedSquaredError(losses.Loss):
    """Squared error with a weight c_j per output: l = (1/k) Σ_j c_j (ŷ_j - y_j)²."""

    name = "weighted_squared_error"
    formula = "l = (1/k) Σ_j c_j (ŷ_j - y_j)²"
    latex = r"\ell = \frac{1}{k}\sum_j c_j (\hat y_j - y_j)^2"
    gradient_formula = "∂l/∂A = 2 c * (A - Y) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{2}{k}\, c \odot (A - Y)"

    def __init__(self, weights=(1.0,)):
        self.weights = [float(w) for w in weights]

    def per_sample(self, y_true, y_pred, z=None):
        error = np.asarray(y_pred) - np.asarray(y_true)
        return np.mean(np.asarray(self.weights) * error**2, axis=1)

    def gradient(self, y_true, y_pred, out=None):
        k = y_pred.shape[1]
        result = 2.0 * np.asarray(self.weights) * (y_pred - y_true) / k
        if out is None:
            return result.astype(y_pred.dtype)
        out[...] = result
        return out

    def get_config(self):
        return {**super().get_config(), "weights": self.weights}


class Scale(Layer):
    """A = s·A_prev with one trainable number s."""

    param_symbols = {"scale": "s"}

    def __init__(self, initial=1.0, **kwargs):
        super().__init__(**kwargs)
        self.initial = float(initial)

    def build(self, input_shape):
        super().build(input_shape)                 # output shape = input shape
        self.add_weight("scale", (1,), initializers.Constant(self.initial))

    def forward(self, A_prev, training=False):
        self.A_prev = A_prev
        return self.params["scale"][0] * A_prev                       # A = s·A_prev

    def backward(self, dA=None, *, dZ=None):
        dA = dZ if dA is None else dA                                 # no activation: dZ is dA
        m = dA.shape[0]
        self.grads["scale"][0] = np.sum(dA * self.A_prev) / m         # ds = Σ dA * A_prev / m
        if not self.needs_input_gradient:
            return None
        return self.params["scale"][0] * dA                           # dA_prev = s·dA

    def forward_equations(self, l, m="m"):
        shape = format_shape(self.array_shapes(m)["A"])
        return [Equation(f"A[{l}] = s[{l}]·A[{l - 1}]", f"(1,)·{shape} -> {shape}")]

    def backward_equations(self, l, m="m", *, given="dA"):
        shape = format_shape(self.array_shapes(m)["A"])
        return [Equation(f"ds[{l}] = Σ dA[{l}] * A[{l - 1}] / m", f"{shape} -> (1,)"),
                Equation(f"dA[{l - 1}] = s[{l}]·dA[{l}]", shape)]

    def get_config(self):
        return {**super().get_config(), "initial": self.initial}


def custom_model() -> Sequential:
    set_random_seed(7)
    model = Sequential([Dense(4, input_dim=3, activation=Mish()), Scale(1.5),
                        Dense(2, activation="mish")])
    model.compile(loss=WeightedSquaredError([1.0, 3.0]), optimizer="adam")
    model.build()
    return model


def data():
    rng = make_rng(3)
    return rng.normal(size=(12, 3)), rng.normal(size=(12, 2))


def test_the_registries_know_the_new_classes_by_name():
    assert activations.get("mish").formula == Mish.formula
    assert isinstance(losses.get({"class_name": "WeightedSquaredError", "weights": [2.0]}),
                      WeightedSquaredError)
    assert glassnet.layers.get("Scale") is Scale


def test_explained():
    text = custom_model().explain().to_text()
    for expected in ("A[1] = mish(Z[1])", "g(z) = z * tanh(softplus(z))", "A[2] = s[2]·A[1]",
                     "dZ[3] = dA[3] * mish'(Z[3])", "ds[2] = Σ dA[2] * A[1] / m",
                     "dA[3] = ∂l/∂A[3] = 2 c * (A[3] - Y) / 2", "l = (1/k) Σ_j c_j (ŷ_j - y_j)²"):
        assert expected in text, expected
    assert r"\tfrac{2}{2}\, c \odot (A^{[3]} - Y)" in custom_model().explain().to_latex()


def test_traced_with_the_gradients_of_the_real_pass():
    model = custom_model()
    x, y = data()
    result = model.trace(x[0], y[0])
    X = x[:1].astype(np.float32)
    Y = model.loss.prepare_targets(y[:1], 2)
    model.backward(Y, model.forward(X))
    np.testing.assert_array_equal(result.step("backward", 2)["ds"], model.layers[1].grads["scale"])
    np.testing.assert_array_equal(result.step("backward", 3)["dW"], model.layers[2].grads["kernel"])
    assert "a[2] = s[2]·a[1] = " in str(result) and "mish'(z[3])" in str(result)


def test_gradient_checked_with_finite_differences(float64):
    report = glassnet.gradient_check(custom_model(), *data())
    assert report.ok, str(report)


def test_custom_layer_and_activation_match_pytorch_autograd(float64):
    model = custom_model()
    x, y = data()
    W1, b1, s, W2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())

    def mish(z):
        return z * torch.tanh(torch.nn.functional.softplus(z))

    a3 = mish(s * mish(torch.tensor(x) @ W1 + b1) @ W2 + b2)
    c = torch.tensor([1.0, 3.0], dtype=torch.float64)
    loss = torch.mean(torch.mean(c * (a3 - torch.tensor(y)) ** 2, dim=1))
    loss.backward()
    Y = model.loss.prepare_targets(y, 2)
    A = model.forward(x)
    model.backward(Y, A)
    assert model.objective(Y, A) == pytest.approx(loss.item(), rel=1e-12)
    for array, tensor in zip([layer.grads[spec.name] for layer in model.layers
                              for spec in layer.param_specs], (W1, b1, s, W2, b2), strict=True):
        np.testing.assert_allclose(array, tensor.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_diagnosed():
    model = custom_model()
    x, y = data()
    model.fit(x, y, epochs=2, verbose=0)
    diagnosis = glassnet.diagnose(model, x, y)
    assert isinstance(str(diagnosis), str) and str(diagnosis)


def test_saved_and_loaded(tmp_path):
    model = custom_model()
    x, y = data()
    model.fit(x, y, epochs=2, verbose=0)
    path = tmp_path / "custom.glassnet"
    model.save(path)
    loaded = load_model(path)
    assert [type(layer) for layer in loaded.layers] == [Dense, Scale, Dense]
    assert loaded.layers[0].activation.name == "mish" and loaded.layers[1].initial == 1.5
    assert isinstance(loaded.loss, WeightedSquaredError) and loaded.loss.weights == [1.0, 3.0]
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert config.floatx() == "float32"

"""explain() and trace(): shapes, equations, and one example's numbers checked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from glassnet import optimizers
from glassnet.explain import Explanation, Trace, explain, trace
from glassnet.layers import Dense, Dropout, Flatten
from glassnet.models import NotBuiltError, NotCompiledError, Sequential
from glassnet.utils import make_rng, set_random_seed


def circles_network() -> Sequential:
    """The articles' 2-4-6-6-4-1 network."""
    model = Sequential([
        Dense(4, input_dim=2, activation="relu"),
        Dense(6, activation="relu"),
        Dense(6, activation="relu"),
        Dense(4, activation="relu"),
        Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def mnist_network() -> Sequential:
    model = Sequential([
        Flatten(input_shape=(28, 28)),
        Dense(16, activation="relu"),
        Dense(10, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    return model


# ----------------------------------------------------------------------------- explain
def test_explain_circles_shapes_and_equations():
    model = circles_network()
    explanation = model.explain()
    assert isinstance(explanation, Explanation)
    widths = [2, 4, 6, 6, 4, 1]
    assert [info.index for info in explanation.layers] == [1, 2, 3, 4, 5]
    for info, n_prev, n in zip(explanation.layers, widths[:-1], widths[1:], strict=True):
        assert info.shapes == {"A_prev": ("m", n_prev), "W": (n_prev, n), "b": (n,),
                               "Z": ("m", n), "A": ("m", n)}
        assert info.n_params == n_prev * n + n
    first = explanation.layers[0]
    assert str(first.forward[0]) == "Z[1] = A[0]·W[1] + b[1]   (m, 2)·(2, 4) + (4,) -> (m, 4)"
    assert str(first.forward[1]) == "A[1] = relu(Z[1])   (m, 4)"
    assert first.activation_formula == "g(z) = max(0, z)"
    last = explanation.layers[-1]
    assert last.backward[0].math == "dZ[5] = A[5] - Y"          # fused sigmoid + BCE
    assert [eq.math for eq in last.backward[1:]] == [
        "dW[5] = A[4]ᵀ·dZ[5] / m", "db[5] = Σ_rows dZ[5] / m", "dA[4] = dZ[5]·W[5]ᵀ"]
    assert explanation.layers[3].backward[0].math == "dZ[4] = dA[4] * relu'(Z[4])"
    assert explanation.layers[0].backward[-1].math == "dA[0] is not computed"
    # the articles' column notation: their W[1] is (4, 2)
    assert "(4, 2)·(2, m) + (4, 1) -> (4, m)" in str(first.column_notation[0])
    text = str(explanation)
    for expected in ("Z[3] = A[2]·W[3] + b[3]", "(m, 6)·(6, 6) + (6,) -> (m, 6)",
                     "l = -[y log(a) + (1-y) log(1-a)]", "θ := θ - α_t·m / (√v + ε)",
                     "their W[l] = our W[l]ᵀ"):
        assert expected in text
    assert str(first.backward[1]) == "dW[1] = A[0]ᵀ·dZ[1] / m   (2, m)·(m, 4) -> (2, 4)"
    assert explanation.update["optimizer"] == "Adam"


def test_explain_mnist_flatten_with_a_batch_size():
    explanation = explain(mnist_network(), batch_size=32)
    flatten, hidden, output = explanation.layers
    assert flatten.kind == "Flatten"
    assert flatten.shapes == {"A_prev": (32, 28, 28), "A": (32, 784)}
    assert hidden.shapes["W"] == (784, 16) and hidden.shapes["Z"] == (32, 16)
    assert output.shapes["W"] == (16, 10) and output.shapes["A"] == (32, 10)
    assert str(hidden.forward[0]) == (
        "Z[2] = A[1]·W[2] + b[2]   (32, 784)·(784, 16) + (16,) -> (32, 16)")
    assert output.backward[0].math == "dZ[3] = A[3] - onehot(y)"
    # the first Dense layer does not pass a gradient to the Flatten layer below it
    assert hidden.backward[-1].math == "dA[1] is not computed" and flatten.backward == []
    text = explanation.to_text()
    assert "(32, 28, 28) -> (32, 784)" in text and "θ := θ - α·g" in text


def test_explain_chain_rule_when_the_loss_does_not_cancel_the_activation():
    model = Sequential([Dense(3, input_dim=2, activation="tanh"), Dropout(0.5),
                        Dense(2, activation="sigmoid", kernel_regularizer="l2")])
    model.compile(loss="mse", optimizer="sgd")
    explanation = explain(model)
    output = explanation.layers[2]
    assert [eq.math for eq in output.backward[:2]] == [
        "dA[3] = ∂l/∂A[3] = 2 (A[3] - Y) / 2", "dZ[3] = dA[3] * sigmoid'(Z[3])"]
    assert any(eq.math == "dW[3] += ∂R/∂W[3]" for eq in output.backward)
    assert explanation.layers[1].backward[0].math == "dA[1] = dA[2] * mask[2] / (1 - 0.5)"
    assert explanation.loss["total"] == "L = (1/m) Σ_i l_i + Σ R(W)"


def test_explain_latex_and_markdown_for_jupyter():
    model = circles_network()
    explanation = model.explain()
    latex = explanation._repr_latex_()
    assert latex.startswith("$$") and r"\begin{aligned}" in latex
    assert r"Z^{[1]} &= A^{[0]} \cdot W^{[1]} + b^{[1]}" in latex
    assert r"dW^{[5]} &= A^{[4]\top} \cdot dZ^{[5]} / m" in latex
    assert r"\sqrt{v}" in latex
    markdown = explanation._repr_markdown_()
    assert "| (2, 4) | (4,) | (m, 4) | (m, 4) |" in markdown and r"\begin{aligned}" in markdown
    assert str(explain(model, latex=True)) == explanation.to_latex()
    assert repr(explanation) == explanation.to_text()


def test_explain_checks_its_arguments():
    model = circles_network()
    with pytest.raises(ValueError, match="batch_size"):
        explain(model, batch_size=0)
    with pytest.raises(TypeError, match="latex"):
        explain(model, latex="yes")
    with pytest.raises(NotBuiltError):
        Sequential([Dense(3), Dense(1)]).explain()


def test_explain_without_compile_shows_the_forward_pass():
    model = Sequential([Dense(3, input_dim=2, activation="relu"), Dense(1)])
    explanation = explain(model)
    assert explanation.loss is None and explanation.update is None
    assert explanation.layers[1].backward[0].math == "dA[2] = ∂L/∂A[2]"


# ----------------------------------------------------------------------------- trace
def tiny_network() -> Sequential:
    set_random_seed(3)
    model = Sequential([Dense(4, input_dim=3, activation="relu"),
                        Dense(3, activation="tanh"),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.build()
    return model


def test_trace_numbers_match_a_computation_by_hand(float64):
    model = tiny_network()
    (W1, b1), (W2, b2), (W3, b3) = [layer.get_weights() for layer in model.layers]
    x, y = np.array([0.5, -1.5, 2.0]), 1.0
    # forward, by hand
    z1 = x @ W1 + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2 + b2
    a2 = np.tanh(z2)
    z3 = a2 @ W3 + b3
    a3 = 1 / (1 + np.exp(-z3))
    loss = -(y * np.log(a3) + (1 - y) * np.log(1 - a3))[0]
    # backward, by hand
    dZ3 = a3 - y
    dW3, db3, dA2 = np.outer(a2, dZ3), dZ3, dZ3 @ W3.T
    dZ2 = dA2 * (1 - a2**2)
    dW2, db2, dA1 = np.outer(a1, dZ2), dZ2, dZ2 @ W2.T
    dZ1 = dA1 * (z1 > 0)
    dW1, db1 = np.outer(x, dZ1), dZ1

    result = model.trace(x, y)
    assert isinstance(result, Trace)
    forward = [result.step("forward", l) for l in (1, 2, 3)]
    for step, z, a in zip(forward, (z1, z2, z3), (a1, a2, a3), strict=True):
        np.testing.assert_allclose(step["z"], z, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(step["a"], a, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(forward[0]["W"], W1)
    assert result.loss == pytest.approx(loss, rel=1e-12)
    backward = {step["index"]: step for step in result.steps if step["phase"] == "backward"}
    assert list(backward) == [3, 2, 1]                     # last layer first
    expected = {3: (dZ3, dW3, db3, dA2), 2: (dZ2, dW2, db2, dA1), 1: (dZ1, dW1, db1, None)}
    for l, (dZ, dW, db, dA_prev) in expected.items():
        np.testing.assert_allclose(backward[l]["dZ"], dZ, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(backward[l]["dW"], dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(backward[l]["db"], db, rtol=1e-10, atol=1e-14)
        if dA_prev is None:
            assert backward[l]["dA_prev"] is None
        else:
            np.testing.assert_allclose(backward[l]["dA_prev"], dA_prev, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(backward[2]["g_prime"], 1 - a2**2, rtol=1e-12)

    text = str(result)
    assert f"= {result.loss:.4f}" in text
    assert f"z_1 = ({x[0]:.4f})({W1[0, 0]:.4f})" in text       # a unit's sum written out
    assert "dZ[3] = a[3] - y" in text and "dZ[2] = dA[2] * tanh'(z[2])" in text
    assert "dA[0] is not needed" in text


def test_trace_matches_pytorch_autograd_for_softmax_cross_entropy(float64):
    set_random_seed(5)
    model = Sequential([Dense(5, input_dim=4, activation="elu", kernel_regularizer="l2"),
                        Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.build()
    x = make_rng(1).normal(size=4)
    W1, b1, W2, b2 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    z2 = torch.nn.functional.elu(torch.tensor(x) @ W1 + b1) @ W2 + b2
    loss = torch.nn.functional.cross_entropy(z2[None], torch.tensor([2])) + 0.01 * (W1**2).sum()
    loss.backward()

    result = trace(model, x.reshape(1, -1), 2)
    assert result.loss == pytest.approx(loss.item(), rel=1e-12)
    np.testing.assert_allclose(result.step("backward", 2)["dW"], W2.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(result.step("backward", 1)["dW"], W1.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(result.step("backward", 1)["db"], b1.grad.numpy(), rtol=1e-10)
    assert "-log(a_2)" in str(result)


def test_trace_changes_no_weights_and_restores_the_gradients():
    model = tiny_network()
    model.gradients[...] = np.arange(model.gradients.size)
    weights_before, gradients_before = model.parameters.copy(), model.gradients.copy()
    model.trace([0.1, 0.2, 0.3], [0])
    np.testing.assert_array_equal(model.parameters, weights_before)
    np.testing.assert_array_equal(model.gradients, gradients_before)


def test_trace_summarises_big_layers_and_keeps_every_number():
    model = mnist_network()
    image = make_rng(0).uniform(size=(28, 28))
    result = model.trace(image, 7, max_values=5)
    hidden = result.step("forward", 2)
    assert hidden["W"].shape == (784, 16) and hidden["a_prev"].shape == (784,)
    text = str(result)
    assert "shape (784, 16), min" in text and "shape (784,), min" in text
    assert "true class 7" in text
    output = result.step("backward", 3)
    assert output["dW"].shape == (16, 10)
    np.testing.assert_allclose(output["dZ"].sum(), 0.0, atol=1e-6)   # softmax - onehot sums to 0


def test_trace_runs_dropout_in_inference_mode():
    model = Sequential([Dense(3, input_dim=2, activation="relu"), Dropout(0.9), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    result = model.trace([1.0, 2.0], 0.5)
    step = result.step("forward", 2)
    np.testing.assert_array_equal(step["a"], step["a_prev"])
    backward = result.step("backward", 2)
    np.testing.assert_array_equal(backward["dA_prev"], backward["dA"])


def test_trace_checks_its_arguments():
    model = tiny_network()
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        model.trace([1.0, 2.0], 1)
    with pytest.raises(ValueError, match="max_values"):
        model.trace([1.0, 2.0, 3.0], 1, max_values=0)
    with pytest.raises(ValueError, match="binary_crossentropy expects targets"):
        model.trace([1.0, 2.0, 3.0], 3)
    uncompiled = Sequential([Dense(2, input_dim=2)])
    with pytest.raises(NotCompiledError):
        uncompiled.trace([1.0, 2.0], [0.0, 1.0])


# ----------------------------------------------------------------------------- a reader of the components
def test_trace_shows_the_numbers_of_the_real_backward_pass():
    """trace runs model.forward and model.backward (fit's code) in record mode: its dW and db
    are bitwise the gradients model.backward puts in model.gradients for the same example."""
    model = tiny_network()
    x, y = np.array([0.5, -1.5, 2.0], dtype=np.float32), 1.0
    result = model.trace(x, y)
    X = x.reshape(1, -1)
    Y = model.loss.prepare_targets(np.array([y]), 1, model.parameters.dtype)
    model.backward(Y, model.forward(X))
    for l, layer in enumerate(model.layers, start=1):
        np.testing.assert_array_equal(result.step("backward", l)["dW"], layer.grads["kernel"])
        np.testing.assert_array_equal(result.step("backward", l)["db"], layer.grads["bias"])
    assert not any("forward" in layer.__dict__ for layer in model.layers)   # record mode is off again


def test_trace_dA_prev_of_hidden_layers_matches_pytorch(float64):
    model = tiny_network()
    W1, b1, W2, b2, W3, b3 = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    x = np.array([0.3, -0.7, 1.1])
    a1 = torch.relu(torch.tensor(x) @ W1 + b1)
    a1.retain_grad()
    a2 = torch.tanh(a1 @ W2 + b2)
    a2.retain_grad()
    target = torch.ones(1, dtype=torch.float64)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(a2 @ W3 + b3, target)
    loss.backward()
    result = trace(model, x, 1)
    np.testing.assert_allclose(result.step("backward", 3)["dA_prev"], a2.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(result.step("backward", 2)["dA_prev"], a1.grad.numpy(), rtol=1e-12)
    assert result.loss == pytest.approx(loss.item(), rel=1e-12)


def test_record_mode_keeps_copies_and_costs_training_nothing():
    from glassnet.layers.base import recording

    model = tiny_network()
    dense = model.layers[0]
    assert not dense.record and "forward" not in dense.__dict__
    X = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5]], dtype=np.float32)
    with recording(model.layers):
        assert all(layer.record for layer in model.layers)
        A = model.forward(X)
        forward = dense.recorded["forward"]
        assert list(forward) == ["A_prev", "W", "b", "Z", "A"]
        np.testing.assert_array_equal(forward["Z"], X @ dense.W + dense.b)
        model.backward(model.loss.prepare_targets(np.array([0, 1]), 1), A)
        backward = model.layers[-1].recorded["backward"]
        assert backward["dA"] is None                   # sigmoid + BCE: dZ given directly
        np.testing.assert_array_equal(backward["dZ"], A - np.array([[0], [1]], dtype=np.float32))
        assert dense.recorded["backward"]["dA_prev"] is None   # the input needs no gradient
        forward["Z"][...] = 0                           # copies: the layer's arrays are untouched
        assert np.any(dense.Z != 0)
    assert not any(layer.record for layer in model.layers)
    assert all("forward" not in vars(layer) for layer in model.layers)
    with pytest.raises(TypeError, match="record"):
        dense.record = "yes"


def test_every_layer_takes_dZ_as_the_one_backward_contract():
    model = Sequential([Flatten(input_shape=(2, 2)), Dropout(0.5), Dense(3, activation="relu"),
                        Dense(2, activation="softmax")])
    model.build()
    X = make_rng(0).normal(size=(4, 2, 2)).astype(np.float32)
    model.forward(X, training=False)
    flatten, dropout, hidden, output = model.layers
    gradient = np.ones((4, 2), dtype=np.float32)
    first = output.backward(dZ=gradient.copy()).copy()
    np.testing.assert_array_equal(first, output.backward(None, dZ=gradient.copy()))
    np.testing.assert_array_equal(dropout.backward(dZ=np.ones((4, 4), np.float32)), np.ones((4, 4)))
    assert flatten.backward(dZ=np.ones((4, 4), np.float32)).shape == (4, 2, 2)
    hidden.backward(dZ=np.ones((4, 3), np.float32))
    np.testing.assert_allclose(hidden.grads["bias"], np.ones(3))   # db = Σ_rows dZ / m


def test_explain_asks_each_component():
    """The equations explain shows are the components' own statements, put together."""
    model = Sequential([Dense(3, input_dim=2, activation="leaky_relu"), Dense(2, activation="linear")])
    model.compile(loss="huber", optimizer=optimizers.RMSprop(momentum=0.5, centered=True))
    explanation = explain(model, batch_size=8)
    hidden, output = explanation.layers
    assert hidden.forward == model.layers[0].forward_equations(1, 8)
    assert hidden.backward == model.layers[0].backward_equations(1, 8)
    assert "alpha = 0.2" in hidden.activation_formula
    assert output.backward[0].math == "dA[2] = ∂l/∂A[2] = clip(A[2] - Y, -δ, δ) / 2"
    assert explanation.update["rules"] == model.optimizer.update_rule()
    assert "ḡ := ρ·ḡ + (1 - ρ)·g" in explanation.to_text() and r"\bar{g}" in explanation.to_latex()


def test_explain_and_trace_print_in_a_script_and_return_the_object(capsys, monkeypatch):
    model = tiny_network()
    explanation = model.explain()
    assert isinstance(explanation, Explanation)
    assert capsys.readouterr().out.strip() == explanation.to_text().strip()
    result = model.trace([0.1, 0.2, 0.3], 1)
    assert capsys.readouterr().out.strip() == result.to_text().strip()
    monkeypatch.setattr("sys.ps1", ">>> ", raising=False)      # an interactive prompt shows the repr
    model.explain()
    assert capsys.readouterr().out == ""

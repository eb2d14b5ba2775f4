"""Every component states its own mathematics, complete and consistent with what it computes."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet import activations, losses, optimizers
from glassnet.equations import at_output, to_latex


@pytest.mark.parametrize("name", activations.ALL)
def test_every_activation_states_g_its_derivative_and_its_chain_rule(name):
    g = activations.get(name)
    assert g.formula.startswith("g(z)") and g.latex.startswith("g(z)")
    assert g.derivative_formula.startswith(("g'(z)", "∂g_i/∂z_j"))
    assert g.derivative_latex.startswith(("g'(z)", r"\frac{\partial g_i}"))
    assert g.backward_formula.startswith("dZ = ") and g.backward_latex.startswith("dZ = ")
    assert g.elementwise == (name != "softmax")


def test_parameterised_activations_show_their_values():
    assert "alpha = 0.1" in activations.get({"name": "leaky_relu", "alpha": 0.1}).formula
    assert r"\alpha = 2.5" in activations.get({"name": "elu", "alpha": 2.5}).derivative_latex
    assert "1.050700987" in activations.get("selu").formula
    approximate = activations.get({"name": "gelu", "approximate": True})
    assert "tanh" in approximate.formula and "tanh" in approximate.derivative_formula
    assert "erf" in activations.get("gelu").formula


@pytest.mark.parametrize("name", sorted({cls.name for cls in losses._ALIASES.values()}))
def test_every_loss_states_its_gradient_and_what_it_fuses_with(name):
    loss = losses.get(name)
    assert loss.gradient_formula.startswith("∂l/∂A = ") and loss.gradient_latex
    rng = np.random.default_rng(0)
    a = rng.uniform(0.1, 0.9, size=(3, 2))
    a /= a.sum(axis=1, keepdims=True)
    y = np.array([0, 1, 1]) if name.startswith("sparse") else np.eye(2)[[0, 1, 1]]
    for activation in ("sigmoid", "softmax", "relu"):
        fused = loss.output_gradient(y, a, a, activation) is not None
        assert fused == loss.fuses_with(activation)
        assert fused == (loss.fused_formula != "" and activation == loss.logits_activation)
    if loss.fused_formula:
        assert loss.fused_formula.startswith("dZ = ") and loss.fused_latex.startswith("dZ = ")


def test_formulas_put_in_the_output_layer_and_k():
    assert at_output("(A - Y) / k", 5, 1) == "A[5] - Y"
    assert at_output("2 (A - Y) / k", 3, 2) == "2 (A[3] - Y) / 2"
    assert at_output("(A - Y) / (A (1 - A)) / k", 2, 1) == "(A[2] - Y) / (A[2] (1 - A[2]))"
    assert at_output(r"\tfrac{2}{k}(A - Y)", 3, 1, latex=True) == "2(A^{[3]} - Y)"
    assert losses.get({"class_name": "BinaryCrossentropy", "from_logits": True}).gradient_formula \
        == "∂l/∂A = (σ(A) - Y) / k"


@pytest.mark.parametrize("name", sorted(optimizers._OPTIMIZERS))
def test_every_optimizer_states_its_update_its_state_and_settings(name):
    optimizer = optimizers.get(name)
    rule = optimizer.update_rule()
    assert rule and rule[-1].startswith("θ := θ")
    assert optimizer.update_rule_latex() == [to_latex(line) for line in rule]
    assert r"\theta \leftarrow" in optimizer.update_rule_latex()[-1]
    assert set(optimizer.hyperparameters) <= set(optimizer.get_config())
    assert "learning_rate" in optimizer.hyperparameters and "α = learning_rate" in optimizer.notation
    optimizer.build(np.zeros(4, dtype=np.float32))
    assert set(optimizer.get_state()) == {"iterations", *optimizer.state_names}
    for state in optimizer.state_names:
        assert state in optimizer.notation or state == "u_product"


def test_optimizer_rules_follow_the_settings():
    assert optimizers.SGD(momentum=0.9, nesterov=True).update_rule()[-1] == "θ := θ + μ·v - α·g"
    assert "v̂ := max(v̂, v)" in optimizers.Adam(amsgrad=True).update_rule()
    assert optimizers.AdamW().update_rule()[0].startswith("θ := θ - α·λ·θ")

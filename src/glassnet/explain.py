"""See inside a network: its shapes and equations, and one example's numbers.

* :func:`explain` lists, layer by layer, the shapes of ``W``, ``b``, ``Z`` and ``A``
  for a batch of ``m`` examples, the forward equations, the loss, the backward
  equations, the optimizer's update rule, and how all of it reads in the articles'
  column notation. ``model.explain()`` calls it.
* :func:`trace` runs *one* example through the network and writes out every step
  with its numbers, like the articles' worked examples: ``z = a_prev·W + b``,
  ``a = g(z)``, the loss, then ``dZ``, ``dW``, ``db``, ``dA_prev`` layer by layer.
  ``model.trace(x, y)`` calls it.

Notation (as in the articles): layer ``l`` turns ``A[l-1]`` into ``A[l]``; ``A[0] = X``
is the input and ``A[L]`` the output. glassnet stores examples as *rows*: ``X`` has
shape ``(m, n[0])`` and ``W[l]`` has shape ``(n[l-1], n[l])``, so ``Z[l] = A[l-1]·W[l] + b[l]``.
The articles store examples as columns and write ``Z[l] = W[l]·A[l-1] + b[l]`` with a
``W[l]`` of shape ``(n[l], n[l-1])``: their ``W`` is our ``Wᵀ`` and each equation is
the transpose of ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import losses as losses_module
from glassnet._validation import check_array, check_int, check_same_length
from glassnet.backend import require_numpy_model
from glassnet.errors import NotCompiledError
from glassnet.layers import Activation, Dense, Dropout, Flatten

__all__ = ["Equation", "Explanation", "LayerExplanation", "Trace", "explain", "trace"]


# ======================================================================== small helpers
def format_shape(shape: tuple[Any, ...]) -> str:
    """``(m, 2)`` for ``('m', 2)``, ``(4,)`` for ``(4,)``."""
    items = [str(size) for size in shape]
    return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"


def _to_latex(text: str) -> str:
    """Turn the plain-text equations of this module into LaTeX.

    ``A[0]ᵀ`` -> ``A^{[0]\\top}``, ``W[1]`` -> ``W^{[1]}``, ``·`` -> ``\\cdot``,
    ``*`` -> ``\\odot`` (elementwise), ``Σ_rows`` -> ``\\sum_{\\text{rows}}``.
    """
    text = text.replace("m̂", r"\hat{m}").replace("v̂", r"\hat{v}")
    text = re.sub(r"√\(([^()]*)\)", r"\\sqrt{\1}", text)
    text = re.sub(r"√(\\hat\{\w\}|\w+)", r"\\sqrt{\1}", text)
    text = re.sub(r"([A-Za-z]+)\[(\w+)\]ᵀ", r"\1^{[\2]\\top}", text)
    text = re.sub(r"([A-Za-z]+)\[(\w+)\]", r"\1^{[\2]}", text)
    replacements = {
        "ᵀ": r"^\top", "·": r" \cdot ", " * ": r" \odot ", "Σ_rows": r"\sum_{\text{rows}}",
        "Σ": r"\sum", "->": r"\to", ":=": r"\leftarrow", "²": "^2", "∂": r"\partial ",
        "α": r"\alpha", "β1": r"\beta_1", "β2": r"\beta_2", "ε": r"\epsilon", "ρ": r"\rho",
        "μ": r"\mu", "λ": r"\lambda", "θ": r"\theta", "Δ": r"\Delta", "δ": r"\delta",
        "σ": r"\sigma",
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    text = re.sub(r"\b(relu|sigmoid|tanh|softmax|linear|onehot|sign|clip|max|log)\b",
                  r"\\mathrm{\1}", text)
    return text


def _require_compiled(model: Any, what: str) -> None:
    if not model.compiled or model.loss is None:
        raise NotCompiledError(
            f"Cannot {what}: the model has no loss yet. Compile it first, e.g. "
            "model.compile(loss='binary_crossentropy', optimizer='adam')"
        )


def _activation_of(layer: Any) -> Any:
    """The layer's activation object (Dense, Activation), else None."""
    return getattr(layer, "activation", None)


def _prepare_data(
    model: Any, x: Any, y: Any, sample_weight: Any = None, names: tuple[str, str] = ("X", "y")
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Check ``x``, ``y`` (and ``sample_weight``) and convert them for ``model``.

    Unlike ``fit``, the arrays take the dtype of the model's own parameter buffer
    (float64 for a model built under ``set_floatx('float64')``), whatever the
    current global setting, so a float64 model is checked in float64.
    """
    X = model._check_x(x, names[0]).astype(model.parameters.dtype, copy=False)
    y_array = check_array(names[1], y, ndim=None)
    check_same_length(**{names[0]: X, names[1]: y_array})
    n_outputs = int(np.prod(model.output_shape))
    Y = model.loss.prepare_targets(y_array, n_outputs, model.parameters.dtype)
    weights = None
    if sample_weight is not None:
        weights = model._check_sample_weight(sample_weight, len(X))
        weights = weights.astype(model.parameters.dtype, copy=False)
    return X, Y, weights


def _uses_logits(model: Any) -> bool:
    """Whether the loss should be computed from the output layer's ``Z`` (exact, no clipping).

    True when the output activation is the one the loss is written for (sigmoid for
    binary, softmax for categorical cross-entropy): then ``l`` from ``Z`` is the function
    whose gradient ``dZ = A - Y`` the backward pass computes.
    """
    activation = _activation_of(model.layers[-1])
    name = activation.name if activation is not None else "linear"
    return name == getattr(model.loss, "logits_activation", None)


def _per_sample_loss(model: Any, Y: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``l_i`` for every example of the last forward pass, shape ``(m,)``."""
    z = model.layers[-1].Z if _uses_logits(model) else None
    return model.loss.per_sample(Y, A, z=z)


def _objective(
    model: Any, Y: np.ndarray, A: np.ndarray, weights: np.ndarray | None = None
) -> float:
    """The training objective ``J = (1/m) Σ_i w_i l_i + Σ R(W)``, accumulated in float64."""
    per_sample = _per_sample_loss(model, Y, A).astype(np.float64)
    if weights is None:
        value = float(np.mean(per_sample))
    else:
        value = float(np.dot(per_sample, weights.astype(np.float64)) / len(per_sample))
    return value + sum(layer.regularization_penalty() for layer in model.layers)


# ======================================================================== explain
@dataclass
class Equation:
    """One equation: the mathematics, the shapes it combines, and a remark.

    ``str(equation)`` is ``"<math>   <shapes>"``, e.g.
    ``Z[1] = A[0]·W[1] + b[1]   (m, 2)·(2, 4) + (4,) -> (m, 4)``.
    """

    math: str
    shapes: str = ""
    note: str = ""

    @property
    def latex(self) -> str:
        return _to_latex(self.math)

    def __str__(self) -> str:
        return f"{self.math}   {self.shapes}" if self.shapes else self.math


@dataclass
class LayerExplanation:
    """What one layer computes, for a batch of ``m`` examples.

    Attributes
    ----------
    index : int
        ``l``: the layer's output is ``A[l]`` (``A[0] = X``).
    name, kind : str
        The layer's name and class (``'dense_1'``, ``'Dense'``).
    activation : str or None
        ``g``'s name, for layers that have one.
    shapes : dict[str, tuple]
        ``'A_prev'``, ``'W'``, ``'b'``, ``'Z'``, ``'A'`` (those that exist); the batch
        dimension is ``'m'`` or the given batch size.
    n_params : int
    forward, backward : list of Equation
        The forward equations, and the backward equations (chain rule) of this layer.
    activation_formula, activation_derivative : str or None
        ``g(z)`` and ``g'(z)``.
    column_notation : list of Equation
        The forward equation in the articles' notation (examples as columns).
    """

    index: int
    name: str
    kind: str
    activation: str | None
    shapes: dict[str, tuple[Any, ...]]
    n_params: int
    forward: list[Equation] = field(default_factory=list)
    backward: list[Equation] = field(default_factory=list)
    activation_formula: str | None = None
    activation_derivative: str | None = None
    activation_latex: str | None = None
    column_notation: list[Equation] = field(default_factory=list)


# What ∂l/∂A is for each loss, per example (k = number of outputs).
_LOSS_GRADIENTS = {
    "mean_squared_error": "2 (A[L] - Y) / k",
    "mean_absolute_error": "sign(A[L] - Y) / k",
    "huber": "clip(A[L] - Y, -δ, δ) / k",
    "log_cosh": "tanh(A[L] - Y) / k",
    "hinge": "-Y * [Y * A[L] < 1] / k",
    "binary_crossentropy": "(A[L] - Y) / (A[L] (1 - A[L])) / k",
    "categorical_crossentropy": "-Y / A[L]",
    "sparse_categorical_crossentropy": "-1 / A[L] at the true class, 0 elsewhere",
}
_LOGIT_GRADIENTS = {
    "binary_crossentropy": "(σ(A[L]) - Y) / k",
    "categorical_crossentropy": "softmax(A[L]) - Y",
    "sparse_categorical_crossentropy": "softmax(A[L]) - onehot(y)",
}


def _with_k(formula: str, k: int) -> str:
    return formula.replace(" / k", "" if k == 1 else f" / {k}")


def _output_gradient_rule(loss: Any, activation_name: str, k: int) -> tuple[str, str]:
    """How the backward pass starts: ``('fused', dZ formula)`` or ``('chain', dA formula)``.

    Mirrors ``Sequential.backward``: sigmoid + binary cross-entropy and softmax +
    (sparse) categorical cross-entropy give ``dZ = A - Y`` directly; a linear output
    gives ``dZ = dA``; every other pair applies the chain rule ``dZ = dA * g'(Z)``.
    """
    name = getattr(loss, "name", type(loss).__name__)
    from_logits = getattr(loss, "from_logits", False)
    if not from_logits:
        if name == "binary_crossentropy" and activation_name == "sigmoid":
            return "fused", _with_k("(A[L] - Y) / k", k) if k > 1 else "A[L] - Y"
        if name == "categorical_crossentropy" and activation_name == "softmax":
            return "fused", "A[L] - Y"
        if name == "sparse_categorical_crossentropy" and activation_name == "softmax":
            return "fused", "A[L] - onehot(y)"
    table = _LOGIT_GRADIENTS if from_logits else _LOSS_GRADIENTS
    formula = _with_k(table.get(name, "∂l/∂A[L]"), k)
    if activation_name == "linear":
        return "linear", formula
    return "chain", formula


def _batch(shape: tuple[int, ...], m: Any) -> tuple[Any, ...]:
    return (m, *shape)


def _dense_explanation(layer: Dense, l: int, m: Any) -> LayerExplanation:
    assert layer.input_shape is not None, "the model is built before it is explained"
    n_prev, n = layer.input_shape[0], layer.units
    activation = layer.activation
    shapes: dict[str, tuple[Any, ...]] = {"A_prev": (m, n_prev), "W": (n_prev, n)}
    if layer.use_bias:
        shapes["b"] = (n,)
    shapes.update(Z=(m, n), A=(m, n))
    bias, bias_shape = (f" + b[{l}]", f" + {format_shape((n,))}") if layer.use_bias else ("", "")
    forward = [
        Equation(
            f"Z[{l}] = A[{l - 1}]·W[{l}]{bias}",
            f"{format_shape((m, n_prev))}·{format_shape((n_prev, n))}{bias_shape} -> "
            f"{format_shape((m, n))}",
        ),
        Equation(
            f"A[{l}] = Z[{l}]" if activation.name == "linear"
            else f"A[{l}] = {activation.name}(Z[{l}])",
            format_shape((m, n)),
            activation.formula,
        ),
    ]
    column_bias, column_bias_shape = (
        (f" + b[{l}]", f" + {format_shape((n, 1))}") if layer.use_bias else ("", "")
    )
    column = [
        Equation(
            f"Z[{l}] = W[{l}]·A[{l - 1}]{column_bias}",
            f"{format_shape((n, n_prev))}·{format_shape((n_prev, m))}{column_bias_shape} -> "
            f"{format_shape((n, m))}",
            f"their W[{l}] {format_shape((n, n_prev))} is our W[{l}]ᵀ",
        )
    ]
    return LayerExplanation(
        index=l, name=layer.name, kind="Dense", activation=activation.name, shapes=shapes,
        n_params=layer.count_params(), forward=forward, activation_formula=activation.formula,
        activation_derivative=activation.derivative_formula, activation_latex=activation.latex,
        column_notation=column,
    )


def _other_explanation(layer: Any, l: int, m: Any) -> LayerExplanation:
    shape_in = _batch(layer.input_shape, m)
    shape_out = _batch(layer.output_shape, m)
    shapes = {"A_prev": shape_in, "A": shape_out}
    activation = _activation_of(layer)
    if isinstance(layer, Flatten):
        forward = [Equation(f"A[{l}] = flatten(A[{l - 1}])",
                            f"{format_shape(shape_in)} -> {format_shape(shape_out)}",
                            "each example's values in one row, no copy")]
    elif isinstance(layer, Dropout):
        forward = [
            Equation(f"A[{l}] = A[{l - 1}] * mask[{l}] / (1 - {layer.rate:g})",
                     format_shape(shape_out),
                     f"training only: mask[{l}] is 1 with probability {1 - layer.rate:g}, else 0"),
            Equation(f"A[{l}] = A[{l - 1}]", format_shape(shape_out), "inference"),
        ]
    elif isinstance(layer, Activation):
        shapes = {"A_prev": shape_in, "Z": shape_in, "A": shape_out}
        forward = [Equation(f"A[{l}] = {activation.name}(A[{l - 1}])", format_shape(shape_out),
                            activation.formula)]
    else:
        forward = [Equation(f"A[{l}] = {layer.name}(A[{l - 1}])",
                            f"{format_shape(shape_in)} -> {format_shape(shape_out)}")]
    return LayerExplanation(
        index=l, name=layer.name, kind=type(layer).__name__,
        activation=None if activation is None else activation.name, shapes=shapes,
        n_params=layer.count_params(), forward=forward,
        activation_formula=None if activation is None else activation.formula,
        activation_derivative=None if activation is None else activation.derivative_formula,
        activation_latex=None if activation is None else activation.latex,
    )


def _add_backward(model: Any, explained: list[LayerExplanation], m: Any) -> None:
    """Fill each layer's ``backward`` equations, output layer first (the chain rule).

    As ``Sequential.backward`` does, the layers below the first layer with parameters
    are skipped: no gradient is needed there.
    """
    last = len(model.layers) - 1
    for position in range(last, model._first_backward_layer - 1, -1):
        layer, info = model.layers[position], explained[position]
        activation = _activation_of(layer)
        out_shape = format_shape(_batch(layer.output_shape, m))
        if position == last:
            equations = _output_layer_start(model, info.index, out_shape)
        elif activation is not None:
            equations = [_chain_rule(activation, info.index, out_shape)]
        else:
            equations = []
        info.backward = equations + _gradients_and_passing_down(layer, info.index, m)


def _output_layer_start(model: Any, l: int, shape: str) -> list[Equation]:
    """Where backward propagation starts: ``dZ[L]`` directly, or ``dA[L]`` then the chain rule."""
    activation = _activation_of(model.layers[-1])
    if model.loss is None:
        equations = [Equation(f"dA[{l}] = ∂L/∂A[{l}]", shape, "compile the model to choose a loss")]
        return equations + ([_chain_rule(activation, l, shape)] if activation is not None else [])
    name = activation.name if activation is not None else "linear"
    k = int(np.prod(model.output_shape))
    rule, formula = _output_gradient_rule(model.loss, name, k)
    formula = formula.replace("[L]", f"[{l}]")
    if rule == "fused":
        return [Equation(f"dZ[{l}] = {formula}", shape,
                         f"{name} + {model.loss.name}: g'(Z) cancels against ∂l/∂A")]
    if rule == "linear":
        return [Equation(f"dZ[{l}] = dA[{l}] = {formula}", shape, "linear output: g'(z) = 1")]
    equations = [Equation(f"dA[{l}] = ∂l/∂A[{l}] = {formula}", shape)]
    return equations + ([_chain_rule(activation, l, shape)] if activation is not None else [])


def _gradients_and_passing_down(layer: Any, l: int, m: Any) -> list[Equation]:
    """``dW``, ``db`` (for Dense) and the gradient ``dA[l-1]`` handed to the layer below."""
    in_shape = format_shape(_batch(layer.input_shape, m))
    out_shape = format_shape(_batch(layer.output_shape, m))
    if isinstance(layer, Activation):
        return [Equation(f"dA[{l - 1}] = dZ[{l}]", in_shape)]
    if isinstance(layer, Flatten):
        return [Equation(f"dA[{l - 1}] = reshape(dA[{l}])", f"{out_shape} -> {in_shape}")]
    if isinstance(layer, Dropout):
        return [Equation(f"dA[{l - 1}] = dA[{l}] * mask[{l}] / (1 - {layer.rate:g})", out_shape,
                         "training; the same mask as the forward pass")]
    if not isinstance(layer, Dense):
        return [Equation(f"dA[{l - 1}] = {layer.name}.backward(dA[{l}])", in_shape)]
    assert layer.input_shape is not None, "the model is built before it is explained"
    n_prev, n = layer.input_shape[0], layer.units
    equations = [Equation(
        f"dW[{l}] = A[{l - 1}]ᵀ·dZ[{l}] / m",
        f"{format_shape((n_prev, m))}·{format_shape((m, n))} -> {format_shape((n_prev, n))}",
    )]
    if layer.use_bias:
        equations.append(Equation(f"db[{l}] = Σ_rows dZ[{l}] / m",
                                  f"{format_shape((m, n))} -> {format_shape((n,))}"))
    for spec in layer.param_specs:
        if spec.regularizer is not None:
            symbol = "dW" if spec.name == "kernel" else "db"
            equations.append(Equation(f"{symbol}[{l}] += ∂R/∂{symbol[1:]}[{l}]", "",
                                      f"{spec.regularizer!r} adds its gradient"))
    if layer.needs_input_gradient:
        equations.append(Equation(
            f"dA[{l - 1}] = dZ[{l}]·W[{l}]ᵀ",
            f"{format_shape((m, n))}·{format_shape((n, n_prev))} -> {format_shape((m, n_prev))}",
        ))
    else:
        equations.append(Equation(f"dA[{l - 1}] is not computed", "",
                                  "nothing below needs it: the input is data, not a parameter"))
    return equations


def _chain_rule(activation: Any, l: int, shape: str) -> Equation:
    if activation.name == "linear":
        return Equation(f"dZ[{l}] = dA[{l}]", shape, "linear: g'(z) = 1")
    if activation.name == "softmax":
        return Equation(f"dZ[{l}] = A[{l}] * (dA[{l}] - Σ_k dA[{l}]_k A[{l}]_k)", shape,
                        "softmax's Jacobian applied row by row")
    return Equation(f"dZ[{l}] = dA[{l}] * {activation.name}'(Z[{l}])", shape,
                    activation.derivative_formula)


# Update rules, θ standing for every W[l] and b[l] and g for its gradient dW[l] or db[l].
_UPDATE_RULES: dict[str, list[str]] = {
    "SGD": ["θ := θ - α·g"],
    "SGD+momentum": ["v := μ·v - α·g", "θ := θ + v"],
    "SGD+nesterov": ["v := μ·v - α·g", "θ := θ + μ·v - α·g"],
    "RMSprop": ["s := ρ·s + (1 - ρ)·g²", "θ := θ - α·g / √(s + ε)"],
    "Adagrad": ["a := a + g²", "θ := θ - α·g / √(a + ε)"],
    "Adadelta": ["s := ρ·s + (1 - ρ)·g²", "Δ := -√(d + ε) / √(s + ε) · g",
                 "d := ρ·d + (1 - ρ)·Δ²", "θ := θ + α·Δ"],
    "Adam": ["m := m + (1 - β1)·(g - m)", "v := v + (1 - β2)·(g² - v)",
             "α_t = α·√(1 - β2^t) / (1 - β1^t)", "θ := θ - α_t·m / (√v + ε)"],
    "Adamax": ["m := m + (1 - β1)·(g - m)", "u := max(β2·u, |g|)",
               "θ := θ - α·m / ((1 - β1^t)·(u + ε))"],
    "Nadam": ["m := m + (1 - β1)·(g - m)", "v := v + (1 - β2)·(g² - v)",
              "θ := θ - α·m̂ / (√v̂ + ε)   (m̂: Nesterov momentum, see optimizers.Nadam)"],
}


def _update_rule(optimizer: Any) -> tuple[list[str], str]:
    """The update equations of ``optimizer`` and its hyperparameters as one line."""
    name = type(optimizer).__name__
    key = name
    if name == "SGD" and getattr(optimizer, "momentum", 0) > 0:
        key = "SGD+nesterov" if optimizer.nesterov else "SGD+momentum"
    rules = list(_UPDATE_RULES.get(key, []))
    if name == "AdamW":
        rules = ["θ := θ - α·λ·θ   (decoupled weight decay, first)", *_UPDATE_RULES["Adam"]]
    if not rules:
        rules = [f"see the docstring of {name}"]
    config = optimizer.get_config()
    settings = ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in config.items()
        if key not in ("name", "class_name") and value is not None and value is not False
    )
    return rules, settings


class Explanation:
    """What :func:`explain` returns: the network's shapes and equations.

    ``str(explanation)`` (and ``print``) gives plain text, or LaTeX source when
    made with ``latex=True``; in Jupyter it renders as Markdown with LaTeX
    equations. The structured data are in :attr:`layers` (one
    :class:`LayerExplanation` per layer), :attr:`loss`, :attr:`update`.
    """

    def __init__(self, model: Any, layers: list[LayerExplanation], m: Any, latex: bool) -> None:
        self.model_name = model.name
        self.batch_size = m
        self.layers = layers
        self.input_shape = tuple(model.input_shape)
        self.n_params = int(model.count_params())
        self.latex = latex
        self.dtype = str(model.parameters.dtype)
        self.loss: dict[str, str] | None = None
        if model.loss is not None:
            regularised = any(
                spec.regularizer is not None for layer in model.layers for spec in layer.param_specs
            )
            self.loss = {
                "name": model.loss.name,
                "formula": model.loss.formula,
                "latex": model.loss.latex,
                "total": "L = (1/m) Σ_i l_i" + (" + Σ R(W)" if regularised else ""),
            }
        self.update: dict[str, Any] | None = None
        if model.optimizer is not None:
            rules, settings = _update_rule(model.optimizer)
            self.update = {"optimizer": type(model.optimizer).__name__, "rules": rules,
                           "settings": settings}

    # ---------------------------------------------------------------- plain text
    def to_text(self) -> str:
        m = self.batch_size
        L = len(self.layers)
        out = [
            f"Model {self.model_name!r}: {L} layers, {self.n_params:,} parameters ({self.dtype}); "
            f"a batch of {'m' if m == 'm' else f'm = {m}'} examples, one per row",
            "",
            f"FORWARD PROPAGATION   A[0] = X, shape {format_shape((m, *self.input_shape))}",
        ]
        for info in self.layers:
            shapes = "  ".join(f"{key}[{info.index}] {format_shape(shape)}"
                               for key, shape in info.shapes.items() if key != "A_prev")
            out.append("")
            out.append(f"Layer {info.index}  {info.name!r} ({info.kind}"
                       f"{', ' + info.activation if info.activation else ''})   {shapes}")
            out.extend(_aligned(info.forward, indent=4))
        if self.loss is not None:
            out += ["", f"LOSS   {self.loss['name']}",
                    f"    {self.loss['total']}      the mean over the batch (the cost J)",
                    f"    {self.loss['formula']}      the loss of one example"]
        out += ["", "BACKWARD PROPAGATION   the chain rule, last layer first"]
        for info in reversed(self.layers):
            if not info.backward:
                continue
            out.append(f"  Layer {info.index}  {info.name!r}")
            out.extend(_aligned(info.backward, indent=4))
        if self.update is not None:
            out += ["", f"UPDATE   {self.update['optimizer']}({self.update['settings']})",
                    "    for every W[l] and b[l] (θ) with its gradient dW[l] or db[l] (g); "
                    "α = learning_rate" + _update_remark(self.update["optimizer"])]
            out += [f"    {rule}" for rule in self.update["rules"]]
        out += ["", *_notation_lines(self)]
        return "\n".join(out)

    # ---------------------------------------------------------------- LaTeX
    def to_latex(self) -> str:
        """The equations as one LaTeX ``aligned`` block per section."""
        def block(rows: list[str]) -> str:
            return "$$\n\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}\n$$"

        def row(equation: Equation) -> str:
            if "=" not in equation.math:
                return r"&\text{" + equation.math + "}"
            math = equation.latex.replace(" = ", " &= ", 1)
            return f"{math} && {_to_latex(equation.shapes)}" if equation.shapes else math

        def rule_row(rule: str) -> str:
            math = _to_latex(rule)
            if r"\leftarrow" in math:
                return math.replace(r"\leftarrow", r"&\leftarrow", 1)
            return math.replace(" = ", " &= ", 1)

        forward = [row(eq) for info in self.layers for eq in info.forward]
        backward = [row(eq) for info in reversed(self.layers) for eq in info.backward]
        parts = [block(forward)]
        if self.loss is not None:
            total = _to_latex(self.loss["total"]).replace("(1/m)", r"\frac{1}{m}")
            parts.append(block([total.replace(" = ", " &= ", 1),
                                self.loss["latex"].replace(" = ", " &= ", 1)]))
        parts.append(block(backward))
        if self.update is not None:
            parts.append(block([rule_row(rule) for rule in self.update["rules"]]))
        return "\n\n".join(parts)

    def to_markdown(self) -> str:
        """Headings, a shape table and the LaTeX equations, for Jupyter."""
        m = self.batch_size
        batch = "$m$" if m == "m" else f"$m = {m}$"
        lines = [f"**Model `{self.model_name}`**: {len(self.layers)} layers, {self.n_params:,} "
                 f"parameters; a batch of {batch} examples, one per row.", "",
                 "| l | layer | W | b | Z | A |", "|---|---|---|---|---|---|"]
        for info in self.layers:
            cells = [format_shape(info.shapes[key]) if key in info.shapes else ""
                     for key in ("W", "b", "Z", "A")]
            lines.append(f"| {info.index} | {info.name} ({info.kind}) | " + " | ".join(cells)
                         + " |")
        sections = self.to_latex().split("\n\n")
        titles = ["Forward propagation"]
        if self.loss is not None:
            titles.append(f"Loss ({self.loss['name']})")
        titles.append("Backward propagation")
        if self.update is not None:
            titles.append(f"Update ({self.update['optimizer']}: {self.update['settings']})")
        for title, section in zip(titles, sections, strict=False):
            lines += ["", f"**{title}**", "", section]
        lines += ["", "```", *_notation_lines(self), "```"]
        return "\n".join(lines)

    def _repr_latex_(self) -> str:
        return self.to_latex()

    def _repr_markdown_(self) -> str:
        return self.to_markdown()

    def __str__(self) -> str:
        return self.to_latex() if self.latex else self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def _update_remark(optimizer_name: str) -> str:
    if optimizer_name in ("Adam", "AdamW", "Adamax", "Nadam"):
        return "; m, v: running averages of g and g² (not the batch size), t: the step number"
    return ""


def _aligned(equations: list[Equation], indent: int) -> list[str]:
    """Equations in three aligned columns: mathematics, shapes, remark."""
    width = max((len(eq.math) for eq in equations), default=0)
    shape_width = max((len(eq.shapes) for eq in equations), default=0)
    lines = []
    for eq in equations:
        line = f"{' ' * indent}{eq.math:<{width}}   {eq.shapes:<{shape_width}}"
        if eq.note:
            line += f"   {eq.note}"
        lines.append(line.rstrip())
    return lines


def _notation_lines(explanation: Explanation) -> list[str]:
    lines = [
        "IN THE ARTICLES' NOTATION   examples as columns: X is (n[0], m), W[l] is (n[l], n[l-1])",
        "    Z[l] = W[l]·A[l-1] + b[l]    dW[l] = dZ[l]·A[l-1]ᵀ / m    "
        "db[l] = Σ_columns dZ[l] / m    dA[l-1] = W[l]ᵀ·dZ[l]",
        "    glassnet (and Keras) keep examples as rows, so each matrix here is the transpose of "
        "theirs: their W[l] = our W[l]ᵀ.",
    ]
    for info in explanation.layers:
        if info.column_notation:
            lines.extend(_aligned(info.column_notation, indent=4))
    return lines


def explain(model: Any, batch_size: int | None = None, latex: bool = False) -> Explanation:
    """Explain a model: per layer, the shapes and equations of forward and backward propagation.

    Parameters
    ----------
    model : Sequential
        Built, or with a known input shape (it is then built).
    batch_size : int, optional
        The number of examples ``m`` in a batch; default: the symbol ``'m'``.
    latex : bool
        Make ``str(explanation)`` the LaTeX source instead of plain text (Jupyter always
        shows the rendered equations).

    Returns
    -------
    Explanation
        ``print(explanation)`` for text; ``explanation.layers`` for the data.

    Examples
    --------
    >>> print(model.explain())           # doctest: +SKIP
    Layer 1  'dense' (Dense, relu)   W[1] (2, 4)  b[1] (4,)  Z[1] (m, 4)  A[1] (m, 4)
        Z[1] = A[0]·W[1] + b[1]   (m, 2)·(2, 4) + (4,) -> (m, 4)
        A[1] = relu(Z[1])         (m, 4)                          g(z) = max(0, z)
    """
    m: Any = "m" if batch_size is None else check_int("batch_size", batch_size)
    if not isinstance(latex, bool | np.bool_):
        raise TypeError(f"latex must be True or False, got {latex!r}")
    model._require_built("explain the model")
    explained = []
    for position, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            explained.append(_dense_explanation(layer, position + 1, m))
        else:
            explained.append(_other_explanation(layer, position + 1, m))
    _add_backward(model, explained, m)
    return Explanation(model, explained, m, bool(latex))


# ======================================================================== trace
def _number(value: float) -> str:
    """A number as the worked examples write it: 4 decimals, or scientific when tiny/huge."""
    value = float(value)
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.3e}"


def _vector(values: np.ndarray, max_values: int) -> str:
    """``[ 0.1000 -0.2000]``, or a summary when longer than ``max_values``."""
    flat = np.asarray(values).reshape(-1)
    if flat.size <= max_values:
        return "[" + "  ".join(_number(v) for v in flat) + "]"
    return _summary(values, max_values)


def _summary(values: np.ndarray, max_values: int) -> str:
    flat = np.asarray(values, dtype=np.float64).reshape(-1)
    head = "  ".join(_number(v) for v in flat[:max_values])
    return (f"[{head}  ...]  shape {format_shape(np.shape(values))}, min {_number(flat.min())}, "
            f"max {_number(flat.max())}, mean {_number(flat.mean())}")


def _matrix(values: np.ndarray, max_values: int, indent: int) -> list[str]:
    """Every row of a small matrix on its own line; a summary for a big one."""
    if values.ndim != 2 or max(values.shape) > max_values:
        return [" " * indent + _summary(values, max_values)]
    cells = [[_number(v) for v in row] for row in values]
    width = max(len(cell) for row in cells for cell in row)
    return [" " * indent + "[" + "  ".join(f"{cell:>{width}}" for cell in row) + "]"
            for row in cells]


def _prepare_example(model: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """One example as a batch of one: ``X`` of shape ``(1, *input_shape)`` and its target."""
    x_array = check_array("x", x, ndim=None)
    input_shape = tuple(model.input_shape)
    if x_array.shape == input_shape:
        x_array = x_array.reshape(1, *input_shape)
    elif x_array.shape != (1, *input_shape):
        raise ValueError(
            f"trace follows one example: x must have shape {input_shape} or "
            f"{(1, *input_shape)}, got {x_array.shape}"
        )
    y_array = np.asarray(y)
    n_outputs = int(np.prod(model.output_shape))
    sparse = isinstance(model.loss, losses_module.SparseCategoricalCrossentropy)
    if y_array.ndim == 0 or (sparse and y_array.size == 1):
        y_array = y_array.reshape(1)
    elif y_array.ndim == 1 and not sparse and y_array.size == n_outputs:
        y_array = y_array.reshape(1, n_outputs)
    X, Y, _ = _prepare_data(model, x_array, y_array, names=("x", "y"))
    return X, Y


class Trace:
    """What :func:`trace` returns: every step of one example's forward and backward pass.

    ``print(trace)`` lays the steps out with their numbers. :attr:`steps` holds the
    same numbers as NumPy arrays, one dict per step, in order:

    * ``{'phase': 'forward', 'index': l, 'layer': name, 'kind': 'Dense', 'activation': 'relu',
      'a_prev': ..., 'W': ..., 'b': ..., 'z': ..., 'a': ...}`` (``W``, ``b``, ``z`` only where
      the layer has them; vectors are the example's row, shape ``(n,)``);
    * ``{'phase': 'loss', 'y': ..., 'a': ..., 'data_loss': float, 'penalty': float,
      'loss': float}`` (``loss = data_loss + penalty``, the regularisation);
    * ``{'phase': 'backward', 'index': l, ..., 'dA': ..., 'g_prime': ..., 'dZ': ..., 'dW': ...,
      'db': ..., 'dA_prev': ...}`` from the last layer down (``dA`` is None where the output
      layer's ``dZ`` is computed directly; ``dA_prev`` is None where nobody needs it).

    With one example ``m = 1``, so ``dW = a_prevᵀ·dZ`` (an outer product) and ``db = dZ``.
    """

    def __init__(self, model: Any, steps: list[dict[str, Any]], max_values: int) -> None:
        self.model_name = model.name
        self.steps = steps
        self.max_values = max_values
        self.loss_name = model.loss.name
        self.loss_formula = model.loss.formula
        self.dtype = str(model.parameters.dtype)
        loss_step = self.step("loss")
        self.loss = float(loss_step["loss"])
        self.prediction = loss_step["a"]

    def step(self, phase: str, layer: int | str | None = None) -> dict[str, Any]:
        """The step of ``phase`` ('forward', 'loss', 'backward') for layer ``l`` or name."""
        for step in self.steps:
            if step["phase"] != phase:
                continue
            if layer is None or step.get("index") == layer or step.get("layer") == layer:
                return step
        raise KeyError(f"no {phase!r} step for layer {layer!r}")

    # ---------------------------------------------------------------- text
    def to_text(self) -> str:
        k = self.max_values
        forward = [s for s in self.steps if s["phase"] == "forward"]
        backward = [s for s in self.steps if s["phase"] == "backward"]
        loss = self.step("loss")
        out = [
            f"Trace of one example through model {self.model_name!r} ({self.dtype})",
            f"x = {_vector(forward[0]['a_prev'], k)}",
            f"y = {_vector(loss['y'], k)}",
            "",
            "FORWARD PASS   z = a_prev·W + b,  a = g(z)",
        ]
        for step in forward:
            out += [""] + _forward_text(step, k)
        out += ["", f"LOSS   {self.loss_name}:  {self.loss_formula}"]
        out += _loss_text(loss, self.loss_name, k)
        out += ["", "BACKWARD PASS   one example, so m = 1: dW = a_prevᵀ·dZ and db = dZ"]
        for step in backward:
            out += [""] + _backward_text(step, k)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def _forward_text(step: dict[str, Any], k: int) -> list[str]:
    l = step["index"]
    title = f"Layer {l} {step['layer']!r} ({step['kind']}"
    title += f", {step['activation']})" if step.get("activation") else ")"
    out = [title, f"  a[{l - 1}] = {_vector(step['a_prev'], k)}"]
    if step["kind"] == "Dense":
        W, b, a_prev, z = step["W"], step["b"], step["a_prev"], step["z"]
        out.append(f"  W[{l}] {format_shape(W.shape)} =")
        out += _matrix(W, k, indent=4)
        if b is not None:
            out.append(f"  b[{l}] = {_vector(b, k)}")
        bias = f" + b[{l}]" if b is not None else ""
        out.append(f"  z[{l}] = a[{l - 1}]·W[{l}]{bias}")
        if W.shape[0] <= 4 and W.shape[1] <= k:  # write each unit's sum out
            for j in range(W.shape[1]):
                terms = " + ".join(f"({_number(a_prev[i])})({_number(W[i, j])})"
                                   for i in range(W.shape[0]))
                if b is not None:
                    terms += f" + ({_number(b[j])})"
                out.append(f"      z_{j + 1} = {terms} = {_number(z[j])}")
        out.append(f"       = {_vector(z, k)}")
        name = step["activation"]
        if name == "linear":
            out.append(f"  a[{l}] = z[{l}] = {_vector(step['a'], k)}")
        else:
            out.append(f"  a[{l}] = {name}(z[{l}]) = {_vector(step['a'], k)}"
                       f"      {step['activation_formula']}")
    elif step["kind"] == "Activation":
        out.append(f"  a[{l}] = {step['activation']}(a[{l - 1}]) = {_vector(step['a'], k)}"
                   f"      {step['activation_formula']}")
    else:
        out.append(f"  a[{l}] = {_vector(step['a'], k)}")
    return out


def _loss_text(step: dict[str, Any], name: str, k: int) -> list[str]:
    y, a, value = step["y"], step["a"], step["loss"]
    out = [f"  y = {_vector(y, k)}   a = {_vector(a, k)}"]
    y_flat, a_flat = np.reshape(y, -1), np.reshape(a, -1)
    n = a_flat.size
    written = None
    if name == "binary_crossentropy" and n <= k:
        terms = [f"{_number(t)}·log({_number(p)}) + {_number(1 - t)}·log({_number(1 - p)})"
                 for t, p in zip(y_flat, a_flat, strict=True)]
        written = " + ".join(f"[{term}]" for term in terms)
        written = f"-{written}" if n == 1 else f"-(1/{n})({written})"
    elif name == "categorical_crossentropy" and n <= k:
        terms = [f"{_number(t)}·log({_number(p)})" for t, p in zip(y_flat, a_flat, strict=True)
                 if t != 0]
        written = "-(" + " + ".join(terms) + ")"
    elif name == "sparse_categorical_crossentropy":
        c = int(y_flat[0])
        written = f"-log(a_{c}) = -log({_number(a_flat[c])})   (true class {c})"
    elif name == "mean_squared_error" and n <= k:
        squares = " + ".join(f"({_number(p)} - {_number(t)})²" for t, p in zip(y_flat, a_flat,
                                                                               strict=True))
        written = squares if n == 1 else f"({squares}) / {n}"
    line = f"  l = {written} = {_number(step['data_loss'])}" if written else \
        f"  l = {_number(step['data_loss'])}"
    out.append(line)
    if step["penalty"]:
        out.append(f"  + regularisation Σ R(W) = {_number(step['penalty'])}  ->  "
                   f"J = {_number(value)}")
    return out


def _backward_text(step: dict[str, Any], k: int) -> list[str]:
    l = step["index"]
    title = f"Layer {l} {step['layer']!r} ({step['kind']}"
    title += f", {step['activation']})" if step.get("activation") else ")"
    out = [title]
    if step.get("rule") == "fused":
        formula = step["formula"].replace("A[", "a[").replace("Y", "y")
        if formula == f"a[{l}] - y":
            formula += f" = {_vector(step['a'], k)} - {_vector(step['y'], k)}"
        out.append(f"  dZ[{l}] = {formula} = {_vector(step['dZ'], k)}"
                   f"      (g'(z) cancels against ∂l/∂a)")
    else:
        if step.get("dA") is not None:
            if step.get("rule"):
                formula = step["formula"].replace("A[", "a[").replace("Y", "y")
                out.append(f"  dA[{l}] = ∂l/∂a[{l}] = {formula} = {_vector(step['dA'], k)}")
            else:
                out.append(f"  dA[{l}] = {_vector(step['dA'], k)}")
        if step.get("dZ") is not None and step.get("activation"):
            name = step["activation"]
            if step.get("g_prime") is not None:
                out.append(f"  dZ[{l}] = dA[{l}] * {name}'(z[{l}]) = {_vector(step['dA'], k)} * "
                           f"{_vector(step['g_prime'], k)}")
                out.append(f"        = {_vector(step['dZ'], k)}")
            elif name == "softmax":
                out.append(f"  dZ[{l}] = a[{l}] * (dA[{l}] - Σ_k dA[{l}]_k a[{l}]_k) = "
                           f"{_vector(step['dZ'], k)}")
            else:
                out.append(f"  dZ[{l}] = dA[{l}] * {name}'(z[{l}]) = {_vector(step['dZ'], k)}")
    if step.get("dW") is not None:
        out.append(f"  dW[{l}] = a[{l - 1}]ᵀ·dZ[{l}] {format_shape(step['dW'].shape)} =")
        out += _matrix(step["dW"], k, indent=4)
        if step.get("regularized"):
            out.append("           (includes the regularizer's gradient ∂R/∂W)")
    if step.get("db") is not None:
        out.append(f"  db[{l}] = dZ[{l}] = {_vector(step['db'], k)}")
    if step.get("dA_prev") is not None:
        source = f"dZ[{l}]·W[{l}]ᵀ" if step["kind"] == "Dense" else "backward"
        out.append(f"  dA[{l - 1}] = {source} = {_vector(step['dA_prev'], k)}")
    elif step["kind"] == "Dense":
        out.append(f"  dA[{l - 1}] is not needed: the input is data, not a parameter")
    return out


def trace(model: Any, x: Any, y: Any, *, max_values: int = 8) -> Trace:
    """Follow one example through forward and backward propagation, with every number.

    Parameters
    ----------
    model : Sequential
        Built and compiled (the loss is needed).
    x : array of shape (n_features,) or (1, n_features)
        One example (for image inputs: ``input_shape`` or ``(1, *input_shape)``).
    y : scalar or array
        Its target: a 0/1 label, a class id, a one-hot row or regression values.
    max_values : int, default 8
        Vectors longer than this, and matrices with a side longer than this, are
        summarised (their first ``max_values`` values, shape, min, max, mean).

    Returns
    -------
    Trace
        ``print(trace)`` for the worked example, ``trace.steps`` for the arrays.

    Notes
    -----
    The forward pass runs in inference mode (``training=False``): Dropout passes its
    input through. The weights are not changed; ``model.gradients`` is overwritten by
    the backward pass and then restored. The gradients shown are those of this one
    example's loss (``m = 1``), regularisation included.
    """
    require_numpy_model(model, "glassnet.explain.trace")
    max_values = check_int("max_values", max_values)
    model._require_built("trace the model")
    _require_compiled(model, "trace the model")
    X, Y = _prepare_example(model, x, y)
    saved_gradients = model.gradients.copy()
    try:
        steps, A = _trace_forward(model, X)
        steps.append(_trace_loss(model, Y, A))
        steps += _trace_backward(model, Y, A)
    finally:
        model.gradients[...] = saved_gradients
    return Trace(model, steps, max_values)


def _trace_forward(model: Any, X: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
    steps = []
    A = X
    for position, layer in enumerate(model.layers):
        A_prev = A
        A = layer.forward(A_prev, training=False)
        step: dict[str, Any] = {
            "phase": "forward", "index": position + 1, "layer": layer.name,
            "kind": type(layer).__name__, "a_prev": A_prev[0].copy(), "a": A[0].copy(),
        }
        activation = _activation_of(layer)
        if activation is not None:
            step.update(activation=activation.name, activation_formula=activation.formula,
                        z=np.array(layer.Z[0]))
        if isinstance(layer, Dense):
            step.update(W=layer.W.copy(), b=layer.b.copy() if layer.use_bias else None)
        steps.append(step)
    return steps, A


def _trace_loss(model: Any, Y: np.ndarray, A: np.ndarray) -> dict[str, Any]:
    data_loss = float(_per_sample_loss(model, Y, A)[0])
    penalty = float(sum(layer.regularization_penalty() for layer in model.layers))
    return {"phase": "loss", "y": Y[0].copy(), "a": A[0].copy(), "data_loss": data_loss,
            "penalty": penalty, "loss": data_loss + penalty}


def _trace_backward(model: Any, Y: np.ndarray, A: np.ndarray) -> list[dict[str, Any]]:
    """The backward pass, layer by layer, with the layers' own code (as ``fit`` runs it)."""
    steps = []
    last = len(model.layers) - 1
    k = int(np.prod(model.output_shape))
    dA: np.ndarray | None = None
    for position in range(last, model._first_backward_layer - 1, -1):
        layer = model.layers[position]
        activation = _activation_of(layer)
        step: dict[str, Any] = {
            "phase": "backward", "index": position + 1, "layer": layer.name,
            "kind": type(layer).__name__, "dA": None, "dZ": None, "g_prime": None,
            "dW": None, "db": None, "dA_prev": None,
        }
        dZ = None
        if position == last:
            name = activation.name if activation is not None else "linear"
            rule, formula = _output_gradient_rule(model.loss, name, k)
            step.update(rule=rule, formula=formula.replace("[L]", f"[{position + 1}]"),
                        a=A[0].copy(), y=Y[0].copy())
            if activation is not None:
                dZ = model.loss.output_gradient(Y, A, layer.Z, activation.name)
            if dZ is None:
                dA = model.loss.gradient(Y, A)
        if activation is not None:
            step["activation"] = activation.name
            if dZ is None:
                assert dA is not None, "the loss or the layer above has set dA"
                step["dA"] = dA[0].copy()
                dZ = activation.backward(dA.copy(), layer.Z, layer.A)      # dZ = dA * g'(Z)
                if activation.name != "softmax":
                    step["g_prime"] = np.asarray(activation.derivative(layer.Z, layer.A))[0]
            elif step.get("rule") == "linear":
                step["dA"] = dZ[0].copy()
            step["dZ"] = dZ[0].copy()
        else:
            assert dA is not None, "the loss or the layer above has set dA"
            step["dA"] = dA[0].copy()
        if isinstance(layer, Dense | Activation):
            assert dZ is not None, "Dense and Activation layers have an activation, so dZ is set"
            dA_prev = layer.backward(dZ=dZ.copy())
        else:
            assert dA is not None, "the loss or the layer above has set dA"
            dA_prev = layer.backward(dA.copy())
        if isinstance(layer, Dense):
            step["dW"] = layer.dW.copy()
            step["db"] = layer.db.copy() if layer.use_bias else None
            step["regularized"] = any(spec.regularizer is not None for spec in layer.param_specs)
        if dA_prev is not None:
            dA = np.array(dA_prev)
            step["dA_prev"] = dA[0].copy()
        steps.append(step)
    return steps

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

from glassnet._validation import check_array, check_int, check_same_length
from glassnet.backend import require_numpy_model
from glassnet.equations import Equation, at_output, format_shape, to_latex
from glassnet.errors import NotCompiledError
from glassnet.layers.base import Layer, recording

__all__ = ["Equation", "Explanation", "LayerExplanation", "Trace", "explain", "trace"]



# ======================================================================== small helpers
def _require_compiled(model: Any, what: str) -> None:
    if not model.compiled or model.loss is None:
        raise NotCompiledError(
            f"Cannot {what}: the model has no loss yet. Compile it first, e.g. "
            "model.compile(loss='binary_crossentropy', optimizer='adam')"
        )


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


def _activation_name(layer: Layer) -> str:
    return "linear" if layer.activation is None else layer.activation.name


# ======================================================================== explain
@dataclass
class LayerExplanation:
    """What one layer computes, for a batch of ``m`` examples (as the layer states it).

    Attributes
    ----------
    index : int
        ``l``: the layer's output is ``A[l]`` (``A[0] = X``).
    name, kind : str
        The layer's name and class (``'dense_1'``, ``'Dense'``).
    activation : str or None
        ``g``'s name, for layers that have one.
    shapes : dict[str, tuple]
        ``layer.array_shapes(m)``: ``'A_prev'``, the parameters (``'W'``, ``'b'``), ``'Z'``,
        ``'A'`` (those that exist); the batch dimension is ``'m'`` or the given batch size.
    n_params : int
    forward, backward : list of Equation
        ``layer.forward_equations`` and, where the backward pass reaches the layer, how
        it starts (at the output) and ``layer.backward_equations``.
    activation_formula, activation_derivative, activation_latex : str or None
        ``g(z)``, ``g'(z)`` and ``g(z)`` in LaTeX.
    column_notation : list of Equation
        ``layer.column_notation``: the forward equation in the articles' notation.
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


def _explain_layer(layer: Layer, l: int, m: Any) -> LayerExplanation:
    g = layer.activation
    return LayerExplanation(
        index=l, name=layer.name, kind=type(layer).__name__, activation=None if g is None else g.name,
        shapes=layer.array_shapes(m), n_params=layer.count_params(), forward=layer.forward_equations(l, m),
        activation_formula=None if g is None else g.formula,
        activation_derivative=None if g is None else g.derivative_formula,
        activation_latex=None if g is None else g.latex, column_notation=layer.column_notation(l, m),
    )


def _backward_start(model: Any, l: int, m: Any) -> tuple[list[Equation], str]:
    """How backpropagation starts at the output layer ``l``, as the loss states it, and what
    the layer is then given: ``'dZ'`` when the loss fuses with its activation, else ``'dA'``."""
    output = model.layers[-1]
    shape = format_shape(output.array_shapes(m)["A"])
    loss = model.loss
    if loss is None:
        return [Equation(f"dA[{l}] = ∂L/∂A[{l}]", shape, "compile the model to choose a loss")], "dA"
    k = int(np.prod(model.output_shape))
    g = _activation_name(output)
    if loss.fuses_with(g):
        math = f"dZ[{l}] = " + at_output(Equation(loss.fused_formula).rhs, l, k)
        latex = f"dZ^{{[{l}]}} = " + at_output(Equation(loss.fused_latex).rhs, l, k, latex=True)
        return [Equation(math, shape, f"{g} + {loss.name}: g'(Z) cancels against ∂l/∂A", latex)], "dZ"
    gradient = at_output(Equation(loss.gradient_formula).rhs, l, k)
    math = f"dA[{l}] = ∂l/∂A[{l}]" + (f" = {gradient}" if gradient else "")
    latex = f"dA^{{[{l}]}} = " + at_output(loss.gradient_latex, l, k, latex=True)
    return [Equation(math, shape, latex=latex)], "dA"


def _add_backward(model: Any, explained: list[LayerExplanation], m: Any) -> None:
    """Fill each layer's ``backward`` equations, output layer first (the chain rule).

    As ``Sequential.backward`` does, the layers below the first layer with parameters
    are skipped: no gradient is needed there.
    """
    last = len(model.layers) - 1
    for position in range(last, model._first_backward_layer - 1, -1):
        layer, info = model.layers[position], explained[position]
        start, given = _backward_start(model, info.index, m) if position == last else ([], "dA")
        info.backward = start + layer.backward_equations(info.index, m, given=given)


def _settings(hyperparameters: dict[str, Any]) -> str:
    """``learning_rate=0.001, beta_1=0.9, ...``: the settings that are set."""
    return ", ".join(
        f"{key}={value:g}" if isinstance(value, float) else f"{key}={value}"
        for key, value in hyperparameters.items() if value is not None and value is not False
    )


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
            optimizer = model.optimizer
            self.update = {"optimizer": type(optimizer).__name__, "rules": optimizer.update_rule(),
                           "latex": optimizer.update_rule_latex(), "notation": optimizer.notation,
                           "settings": _settings(optimizer.hyperparameters)}

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
                    + self.update["notation"].removeprefix("θ: the parameters, g: their gradient, ")]
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
            return f"{math} && {to_latex(equation.shapes)}" if equation.shapes else math

        def rule_row(math: str) -> str:
            if r"\leftarrow" in math:
                return math.replace(r"\leftarrow", r"&\leftarrow", 1)
            return math.replace(" = ", " &= ", 1)

        forward = [row(eq) for info in self.layers for eq in info.forward]
        backward = [row(eq) for info in reversed(self.layers) for eq in info.backward]
        parts = [block(forward)]
        if self.loss is not None:
            total = to_latex(self.loss["total"]).replace("(1/m)", r"\frac{1}{m}")
            parts.append(block([total.replace(" = ", " &= ", 1),
                                self.loss["latex"].replace(" = ", " &= ", 1)]))
        parts.append(block(backward))
        if self.update is not None:
            parts.append(block([rule_row(rule) for rule in self.update["latex"]]))
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

    Every equation comes from the component that computes it: the layers
    (``forward_equations``, ``backward_equations``), the loss (``gradient_formula``,
    ``fused_formula``, decided by ``loss.fuses_with``) and the optimizer (``update_rule``).

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
    explained = [_explain_layer(layer, position + 1, m) for position, layer in enumerate(model.layers)]
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
    if y_array.size == 1:                    # a label, a class id or one regression value
        y_array = y_array.reshape(1)
    elif y_array.ndim == 1 and y_array.size == n_outputs:
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
        self._layers, self._loss_function = list(model.layers), model.loss
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
            out += [""] + _forward_text(self._layers[step["index"] - 1], step, k)
        out += ["", f"LOSS   {self.loss_name}:  {self.loss_formula}"]
        out += _loss_text(self._loss_function, loss, k)
        out += ["", "BACKWARD PASS   one example, so m = 1: dW = a_prevᵀ·dZ and db = dZ"]
        for step in backward:
            out += [""] + _backward_text(self._layers[step["index"] - 1], step, k)
        return "\n".join(out)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()


def _one_example(text: str) -> str:
    """An equation for one example: the vectors ``A[l]``, ``Z[l]``, ``Y`` as ``a[l]``, ``z[l]``, ``y``."""
    text = re.sub(r"(?<![\w])([AZ])\[", lambda match: match.group(1).lower() + "[", text)
    return re.sub(r"(?<![\w])Y(?![\w])", "y", text)


def _key_of(equation: Equation, l: int) -> str | None:
    """The recorded array an equation defines: ``'Z'`` for ``Z[l] = ...``, ``'dA_prev'`` for ``dA[l-1]``."""
    match = re.fullmatch(r"(\w+)\[(\d+)\]", equation.lhs)
    if match is None:
        return None
    symbol, index = match.group(1), int(match.group(2))
    return f"{symbol}_prev" if index == l - 1 else symbol


def _title(step: dict[str, Any]) -> str:
    title = f"Layer {step['index']} {step['layer']!r} ({step['kind']}"
    return title + (f", {step['activation']})" if step.get("activation") else ")")


def _forward_text(layer: Layer, step: dict[str, Any], k: int) -> list[str]:
    """The recorded arrays of one layer, each under the equation that computed it."""
    l, record = step["index"], step["record"]
    out = [_title(step), f"  a[{l - 1}] = {_vector(step['a_prev'], k)}"]
    for symbol in step["params"]:
        value = step[symbol]
        if value.ndim == 2:
            out += [f"  {symbol}[{l}] {format_shape(value.shape)} =", *_matrix(value, k, indent=4)]
        else:
            out.append(f"  {symbol}[{l}] = {_vector(value, k)}")
    equations = {_key_of(eq, l): eq for eq in layer.forward_equations(l, 1)}   # the last one per array
    sums = layer.written_out(l, record, _number, k)
    for key in record:
        if key == "A_prev" or key in step["params"]:
            continue
        eq = equations.get(key)
        header = _one_example(eq.math) if eq is not None else f"{key.lower()}[{l}]"
        value = _vector(step[key.lower()], k)
        if sums:
            out += [f"  {header}", *(f"      {line}" for line in sums), f"       = {value}"]
            sums = []
        else:
            note = f"      {eq.note}" if eq is not None and eq.note else ""
            out.append(f"  {header} = {value}{note}")
    return out


def _loss_text(loss: Any, step: dict[str, Any], k: int) -> list[str]:
    y, a, value = step["y"], step["a"], step["loss"]
    out = [f"  y = {_vector(y, k)}   a = {_vector(a, k)}"]
    written = loss.written_out(np.reshape(y, -1), np.reshape(a, -1), _number, k)
    out.append(f"  l = {written} = {_number(step['data_loss'])}" if written
               else f"  l = {_number(step['data_loss'])}")
    if step["penalty"]:
        out.append(f"  + regularisation Σ R(W) = {_number(step['penalty'])}  ->  J = {_number(value)}")
    return out


def _backward_text(layer: Layer, step: dict[str, Any], k: int) -> list[str]:
    """How the backward pass met one layer: its equations, each with the recorded numbers."""
    l = step["index"]
    out = [_title(step)]
    rule = step.get("rule")
    if rule == "fused":
        formula = _one_example(step["formula"])
        if formula == f"a[{l}] - y":
            formula += f" = {_vector(step['a'], k)} - {_vector(step['y'], k)}"
        out.append(f"  dZ[{l}] = {formula} = {_vector(step['dZ'], k)}      (g'(z) cancels against ∂l/∂a)")
    elif rule == "chain":   # a linear output (A = Z) receives the loss's gradient as dZ
        gradient = step["dA"] if step["dA"] is not None else step["dZ"]
        out.append(f"  dA[{l}] = ∂l/∂a[{l}] = {_one_example(step['formula'])} = {_vector(gradient, k)}")
    elif step["dA"] is not None:
        out.append(f"  dA[{l}] = {_vector(step['dA'], k)}")
    equations = layer.backward_equations(l, 1, given="dZ" if rule == "fused" else "dA")
    keys = [_key_of(eq, l) for eq in equations]
    for position, (eq, key) in enumerate(zip(equations, keys, strict=True)):
        if key is None or key not in keys[position + 1:]:   # the last equation for each array
            out += _backward_equation_text(eq, key, step, l, k)
    return out


def _backward_equation_text(eq: Equation, key: str | None, step: dict[str, Any], l: int,
                            k: int) -> list[str]:
    math = _one_example(eq.math)
    if eq.math.endswith("is not computed"):
        return [f"  dA[{l - 1}] is not needed: the input is data, not a parameter"]
    if " += " in eq.math:
        return [f"           (includes the regularizer's gradient {eq.math.split(' += ')[1]})"]
    value = step.get(key) if key else None
    if value is None:
        return []
    if key == "dZ" and step.get("g_prime") is not None:
        return [f"  {math} = {_vector(step['dA'], k)} * {_vector(step['g_prime'], k)}",
                f"        = {_vector(value, k)}"]
    if value.ndim == 2:
        return [f"  {math} {format_shape(value.shape)} =", *_matrix(value, k, indent=4)]
    return [f"  {math} = {_vector(value, k)}"]


def trace(model: Any, x: Any, y: Any, *, max_values: int = 8) -> Trace:
    """Follow one example through forward and backward propagation, with every number.

    The numbers are those of the model's own passes: ``model.forward`` and
    ``model.backward`` (the code ``fit`` runs) with the layers in record mode
    (:func:`glassnet.layers.base.recording`); each layer keeps copies of its arrays.

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
        with recording(model.layers):
            A = model.forward(X, training=False)
            loss_step = _loss_step(model, Y, A)
            model.backward(Y, A)
            steps = _forward_steps(model) + [loss_step] + _backward_steps(model, Y)
    finally:
        model.gradients[...] = saved_gradients
    return Trace(model, steps, max_values)


def _loss_step(model: Any, Y: np.ndarray, A: np.ndarray) -> dict[str, Any]:
    """``l`` of the example (from the logits where the loss fuses with the output) and ``J``."""
    output = model.layers[-1]
    z = output.Z if model.loss.fuses_with(_activation_name(output)) else None
    data_loss = model.loss.weighted_sum(Y, A, z=z) / A.shape[0]
    return {"phase": "loss", "y": Y[0].copy(), "a": A[0].copy(), "data_loss": data_loss,
            "penalty": float(sum(layer.regularization_penalty() for layer in model.layers)),
            "loss": float(model.objective(Y, A))}


def _forward_steps(model: Any) -> list[dict[str, Any]]:
    steps = []
    for position, layer in enumerate(model.layers):
        record = layer.recorded["forward"]
        params = [layer.symbol(spec.name) for spec in layer.param_specs]
        step: dict[str, Any] = {"phase": "forward", "index": position + 1, "layer": layer.name,
                                "kind": type(layer).__name__, "params": params, "record": record}
        for key, value in record.items():
            step[key if key in params else key.lower()] = value if key in params else value[0]
        if layer.activation is not None:
            step.update(activation=layer.activation.name, activation_formula=layer.activation.formula)
        steps.append(step)
    return steps


def _backward_steps(model: Any, Y: np.ndarray) -> list[dict[str, Any]]:
    """One step per layer the backward pass reached, last layer first, from their records."""
    steps = []
    last = len(model.layers) - 1
    for position in range(last, model._first_backward_layer - 1, -1):
        layer = model.layers[position]
        record = layer.recorded["backward"]
        step: dict[str, Any] = {"phase": "backward", "index": position + 1, "layer": layer.name,
                                "kind": type(layer).__name__, "dA": None, "dZ": None, "g_prime": None,
                                "dA_prev": None}
        for key, value in record.items():
            is_batch = key in ("dA", "dZ", "dA_prev") and value is not None
            step[key] = value[0] if is_batch else value
        g = layer.activation
        if g is not None:
            step["activation"] = g.name
            if record["dA"] is not None and g.elementwise:
                forward = layer.recorded["forward"]
                step["g_prime"] = np.asarray(g.derivative(forward["Z"], forward["A"]))[0]
        if position == last:
            step.update(_output_rule(model, layer, position + 1), y=Y[0].copy())
        step["regularized"] = any(spec.regularizer is not None for spec in layer.param_specs)
        steps.append(step)
    return steps


def _output_rule(model: Any, layer: Layer, l: int) -> dict[str, Any]:
    """How the backward pass started at the output layer (``loss.fuses_with`` decides)."""
    loss, k = model.loss, int(np.prod(model.output_shape))
    forward = layer.recorded["forward"]
    if loss.fuses_with(_activation_name(layer)):
        rule, formula = "fused", loss.fused_formula
    else:
        rule, formula = "chain", loss.gradient_formula
    return {"rule": rule, "formula": at_output(Equation(formula).rhs or formula, l, k), "a": forward["A"][0]}

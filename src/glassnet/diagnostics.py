"""Why does my network not learn? Gradient checks, a diagnosis, and a training monitor.

* :func:`gradient_check` compares the gradients that backward propagation computes
  with central finite differences of the objective ``J`` (``model.objective``),
  ``(J(θ + ε) - J(θ - ε)) / 2ε``, one parameter at a time. If the two disagree, a
  backward pass is wrong.
* :func:`diagnose` runs the network on data and names the usual reasons training
  fails, in plain words, naming the layer, unit or input column: a diverged run, an
  output activation that does not fit the loss, gradients that are exactly zero, inputs
  on very different scales, dead ReLU units, saturated units, vanishing or exploding
  gradients, a learning rate that makes the loss rise or oscillate, and a network stuck
  at the majority-class baseline. Each remedy is the code to type, built from the
  model's own layers, activations, initializers and optimizer.
* :class:`DiagnosticsMonitor` is a callback that checks the same things during
  ``fit``, warns once per problem, and records per-layer gradient and weight norms
  in the history (``grad_norm/<layer>``, ``weight_norm/<layer>``).

Everything here is a reader: the objective, the fused output gradient, the activations'
slopes and the losses' gradients are asked from the model and its components.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import activations
from glassnet._console import should_show
from glassnet._validation import (
    check_bool,
    check_int,
    check_positive,
)
from glassnet.backend import require_numpy_model
from glassnet.callbacks import Callback, History
from glassnet.errors import DiagnosticWarning
from glassnet.explain import _prepare_data, _require_compiled, format_shape
from glassnet.utils import make_rng

__all__ = [
    "DiagnosticWarning",
    "DiagnosticsMonitor",
    "Diagnosis",
    "Finding",
    "GradientCheckReport",
    "GradientCheckResult",
    "diagnose",
    "gradient_check",
]

SEVERITIES = ("info", "warning", "error")
"""How bad a finding is: ``info`` (worth knowing), ``warning`` (likely hurts training),
``error`` (training cannot work like this)."""

# ======================================================================== gradient check
@dataclass
class GradientCheckResult:
    """One row of a :class:`GradientCheckReport`: one parameter array of one layer."""

    layer: str
    parameter: str
    shape: tuple[int, ...]
    n_checked: int
    max_abs_error: float
    relative_error: float
    ok: bool


class GradientCheckReport:
    """What :func:`gradient_check` returns: a table, one row per parameter array.

    Attributes
    ----------
    results : list of GradientCheckResult
    ok : bool
        Whether every array passed.
    max_relative_error : float
    threshold, epsilon, noise_floor : float
    dtype : str
    """

    def __init__(self, results: list[GradientCheckResult], *, threshold: float, epsilon: float,
                 noise_floor: float, dtype: str, objective: float) -> None:
        self.results = results
        self.threshold = threshold
        self.epsilon = epsilon
        self.noise_floor = noise_floor
        self.dtype = dtype
        self.objective = objective

    @property
    def ok(self) -> bool:
        return all(result.ok for result in self.results)

    @property
    def max_relative_error(self) -> float:
        return max((result.relative_error for result in self.results), default=0.0)

    def __str__(self) -> str:
        header = ("layer", "parameter", "shape", "checked", "max abs error", "relative error",
                  "result")
        rows = [
            (r.layer, r.parameter, format_shape(r.shape), str(r.n_checked),
             f"{r.max_abs_error:.2e}", f"{r.relative_error:.2e}", "OK" if r.ok else "FAIL")
            for r in self.results
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines = [
            f"Gradient check ({self.dtype}): backward propagation vs central differences "
            f"(J(θ+ε) - J(θ-ε)) / 2ε, ε = {self.epsilon:g}, J = {self.objective:.6g}",
            f"relative error = ‖analytic - numeric‖ / (‖analytic‖ + ‖numeric‖); OK when below "
            f"{self.threshold:g} (or when every difference is below the rounding noise "
            f"{self.noise_floor:.1e})",
            "",
            "  ".join(f"{h:<{w}}" for h, w in zip(header, widths, strict=True)),
        ]
        lines += ["  ".join(f"{c:<{w}}" for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        failed = [r for r in self.results if not r.ok]
        lines.append("")
        if failed:
            names = ", ".join(f"{r.layer}.{r.parameter}" for r in failed)
            lines.append(f"FAIL: {len(failed)} of {len(self.results)} gradients disagree "
                         f"({names}): the backward pass of those layers does not compute the "
                         "derivative of the loss.")
        else:
            lines.append(f"OK: all {len(self.results)} gradients agree with the finite "
                         "differences.")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


def float64_copy(model: Any) -> Any:
    """A copy of ``model`` whose parameters live in a float64 buffer (same values).

    A model's dtype is fixed when it is built. This asks the model for an independent
    compiled copy in float64 (``model.copy(dtype='float64')``, without its history and
    with a fresh optimizer of the same settings); the original is untouched.
    """
    model._require_built("copy the model")
    return model.copy(dtype="float64")


def _parameter_arrays(model: Any) -> list[tuple[Any, str, np.ndarray, np.ndarray]]:
    """``(layer, name, parameters, gradients)`` for every parameter array that has a gradient
    (not BatchNormalization's moving statistics, which forward propagation sets)."""
    return [
        (layer, spec.name, layer.params[spec.name], layer.grads[spec.name])
        for layer in model.layers
        for spec in layer.param_specs
        if spec.trainable
    ]


def _central_differences(params: np.ndarray, indices: np.ndarray, epsilon: float,
                         objective: Callable[[], float]) -> np.ndarray:
    """``(J(θ + ε e_i) - J(θ - ε e_i)) / 2ε`` for each entry ``i`` of ``params`` in ``indices``."""
    flat = params.reshape(-1)   # a view: writing into it changes the model
    dtype = params.dtype
    numeric = np.empty(len(indices))
    for position, index in enumerate(indices):
        original = flat[index]
        plus, minus = dtype.type(original + epsilon), dtype.type(original - epsilon)
        try:
            flat[index] = plus
            J_plus = objective()
            flat[index] = minus
            J_minus = objective()
        finally:
            flat[index] = original
        # divide by the step actually taken (in float32, θ ± ε is rounded)
        numeric[position] = (J_plus - J_minus) / (float(plus) - float(minus))
    return numeric


def gradient_check(
    model: Any,
    X: Any,
    y: Any,
    *,
    sample_weight: Any = None,
    epsilon: float | None = None,
    max_checks_per_array: int | None = None,
    seed: Any = 0,
    threshold: float | None = None,
    float64: bool = False,
    show: bool | None = None,
) -> GradientCheckReport:
    r"""Check backward propagation against central finite differences of the loss.

    For every parameter :math:`\theta_i` checked,

    .. math::

        \frac{\partial J}{\partial \theta_i} \approx
        \frac{J(\theta + \epsilon e_i) - J(\theta - \epsilon e_i)}{2 \epsilon},
        \qquad J = \frac{1}{m}\sum_i w_i\, \ell_i + \sum R(W)

    (the mean loss on ``X``, ``y`` with the regularisation penalties, exactly what
    ``fit`` minimises), and per parameter array the relative error
    ``‖analytic - numeric‖ / (‖analytic‖ + ‖numeric‖)`` is compared with ``threshold``.
    The error of central differences is :math:`O(\epsilon^2)` plus rounding
    :math:`\approx \text{eps}_\text{machine} |J| / \epsilon`.

    Parameters
    ----------
    model : Sequential
        Built and compiled.
    X, y : arrays
        A few examples are enough (say 5 to 50): every check costs two forward passes.
    sample_weight : array of shape (n_samples,), optional
    epsilon : float, optional
        The step; default 1e-5 in float64 and 1e-3 in float32.
    max_checks_per_array : int, optional
        Check at most this many randomly chosen entries of each array (default: all).
    seed : int or Generator
        Chooses those entries.
    threshold : float, optional
        Largest relative error that passes; default 1e-6 in float64, 1e-2 in float32.
    float64 : bool
        Check a float64 copy of a float32 model (see :func:`float64_copy`): a tight check
        of the same weights. Best of all, build the model in float64 in the first place,
        ``glassnet.config.set_floatx('float64')`` before creating it.
    show : bool, optional
        Print the report. Default: print, except at a Python or IPython prompt or in a
        notebook, which show the returned report themselves.

    Returns
    -------
    GradientCheckReport
        ``print(report)`` for the table; ``report.ok``; ``report.results``.

    Notes
    -----
    * Float32 has about 7 significant digits, so finite differences in float32 agree
      with the true gradient to about 1e-3 only: a float32 check warns and uses the
      looser threshold. Build the model in float64 (or pass ``float64=True``) for a
      tight check.
    * Both the analytic and the numeric gradient use ``training=False``: Dropout is
      the identity then. (With dropout on, every forward pass would draw a new mask and
      the finite differences would measure the mask's noise.)
    * ReLU and friends have kinks: if some ``z`` lies within ``ε`` of 0 the finite
      difference straddles the kink and that entry disagrees. Rare; use fewer examples
      or another ``seed`` for the data if it happens.
    * The weights are restored exactly; ``model.gradients`` is restored too.
    """
    require_numpy_model(model, "glassnet.gradient_check")
    model._require_built("check the gradients")
    _require_compiled(model, "check the gradients")
    float64 = check_bool("float64", float64)
    show = should_show(show)
    if float64 and model.parameters.dtype != np.float64:
        model = float64_copy(model)
    dtype = model.parameters.dtype
    precise = dtype == np.float64
    if not precise:
        warnings.warn(
            f"gradient_check on a {dtype} model: finite differences are only accurate to about "
            "1e-3 in float32, so the check uses a loose threshold. For a tight check build the "
            "model after glassnet.config.set_floatx('float64'), or pass float64=True.",
            stacklevel=2,
        )
    epsilon = (1e-5 if precise else 1e-4) if epsilon is None else check_positive("epsilon", epsilon)
    threshold = (1e-6 if precise else 1e-2) if threshold is None else check_positive(
        "threshold", threshold)
    if max_checks_per_array is not None:
        max_checks_per_array = check_int("max_checks_per_array", max_checks_per_array)
    rng = make_rng(seed)
    X, Y, weights = _prepare_data(model, X, y, sample_weight)

    def objective() -> float:
        return model.objective(Y, model.forward(X, training=False), weights)

    saved_gradients = model.gradients.copy()
    try:
        A = model.forward(X, training=False)
        J = model.objective(Y, A, weights)
        model.backward(Y, A, weights)
        analytic_all = [grads.copy() for *_, grads in _parameter_arrays(model)]
        # Rounding noise of one finite difference: J carries a relative error of a few
        # machine epsilons, and dividing by 2ε magnifies it.
        noise_floor = float(np.finfo(dtype).eps) * max(1.0, abs(J)) / epsilon
        results = []
        for (layer, name, params, _), analytic in zip(_parameter_arrays(model), analytic_all,
                                                      strict=True):
            indices = np.arange(params.size)
            if max_checks_per_array is not None and params.size > max_checks_per_array:
                indices = np.sort(rng.choice(params.size, max_checks_per_array, replace=False))
            numeric = _central_differences(params, indices, epsilon, objective)
            exact = analytic.reshape(-1)[indices].astype(np.float64)
            difference = np.abs(exact - numeric)
            scale = np.linalg.norm(exact) + np.linalg.norm(numeric)
            relative = float(np.linalg.norm(exact - numeric) / scale) if scale > 0 else 0.0
            max_abs = float(difference.max()) if difference.size else 0.0
            ok = bool(relative <= threshold or max_abs <= noise_floor)
            results.append(GradientCheckResult(layer.name, name, tuple(params.shape),
                                               len(indices), max_abs, relative, ok))
    finally:
        model.gradients[...] = saved_gradients
    report = GradientCheckReport(results, threshold=threshold, epsilon=epsilon,
                                 noise_floor=noise_floor, dtype=str(dtype), objective=J)
    if show:
        print(report)
    return report


# ======================================================================== diagnosis
@dataclass
class Finding:
    """One thing :func:`diagnose` noticed.

    Attributes
    ----------
    severity : {'info', 'warning', 'error'}
    kind : str
        ``'diverged'``, ``'output_mismatch'``, ``'zero_gradient'``, ``'input_scale'``,
        ``'dead_relu'``, ``'saturated_units'``, ``'non_finite_gradient'``,
        ``'vanishing_gradient'``, ``'exploding_gradient'``, ``'loss_increasing'``,
        ``'oscillating_loss'``, ``'stuck_at_majority'``.
    message : str
        What is wrong, in plain words, naming the layer, unit or input column.
    remedies : list of str
        What to change, written as the code a user types, built from the model's own
        configuration.
    layer : str or None
        The layer concerned, if any.
    details : dict
        The numbers behind the message (and, for some kinds, the suggested settings).
    """

    severity: str
    kind: str
    message: str
    remedies: list[str] = field(default_factory=list)
    layer: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"[{self.severity.upper()}] {self.message}"]
        lines += [f"    - {remedy}" for remedy in self.remedies]
        return "\n".join(lines)


class Diagnosis:
    """What :func:`diagnose` returns: a list of findings, worst first.

    ``print(diagnosis)`` lists them with their remedies and a per-layer table;
    iterate over it for the :class:`Finding` objects. ``diagnosis.ok`` is True when
    nothing reaches ``'warning'``.

    Attributes
    ----------
    findings : list of Finding
    layer_stats : list of dict
        Per layer: ``name``, ``activation``, ``units``, ``dead``, ``saturated``,
        ``grad_norm`` (‖gradient‖ of its parameters on the data), ``weight_norm``.
    loss : float
        The objective ``J = Σ w·l / m + R`` on the data.
    accuracy, majority_rate : float or None
        For classifiers: the accuracy on the data and that of always answering the
        most common class.
    baseline_loss : float or None
        For classifiers: the loss of always predicting the class frequencies, the best a
        network that ignores its input can do.
    """

    def __init__(self, model_name: str, n_examples: int, findings: list[Finding],
                 layer_stats: list[dict[str, Any]], accuracy: float | None,
                 majority_rate: float | None, loss: float,
                 baseline_loss: float | None = None) -> None:
        order = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
        self.findings = sorted(findings, key=lambda finding: order[finding.severity])
        self.model_name = model_name
        self.n_examples = n_examples
        self.layer_stats = layer_stats
        self.accuracy = accuracy
        self.majority_rate = majority_rate
        self.loss = loss
        self.baseline_loss = baseline_loss

    @property
    def ok(self) -> bool:
        """No finding of severity 'warning' or 'error'."""
        return not self.problems

    @property
    def problems(self) -> list[Finding]:
        """The findings of severity 'warning' or 'error'."""
        return [f for f in self.findings if f.severity in ("warning", "error")]

    def of_kind(self, kind: str) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind == kind]

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.findings)

    def __len__(self) -> int:
        return len(self.findings)

    def __getitem__(self, index: int) -> Finding:
        return self.findings[index]

    def __str__(self) -> str:
        n_problems = len(self.problems)
        head = f"Diagnosis of model {self.model_name!r} on {self.n_examples} examples: "
        head += (f"{n_problems} problem{'s' if n_problems != 1 else ''} found"
                 if n_problems else "no problems found")
        facts = f"loss {self.loss:.4g}"
        if self.baseline_loss is not None:
            facts += f" (always predicting the class frequencies: {self.baseline_loss:.4g})"
        if self.accuracy is not None:
            facts += (f", accuracy {self.accuracy:.3f} (always answering the most common class: "
                      f"{self.majority_rate:.3f})")
        lines = [head, facts, ""]
        explained: set[str] = set()
        for finding in self.findings:
            if finding.severity == "info":
                lines.append(f"[INFO] {finding.message}")
            elif finding.kind in explained:
                lines += [f"[{finding.severity.upper()}] {finding.message}", "    (remedies above)",
                          ""]
            else:
                lines += [str(finding), ""]
                explained.add(finding.kind)
        lines.append("")
        lines += _layer_table(self.layer_stats)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.__str__()


def _layer_table(stats: list[dict[str, Any]]) -> list[str]:
    header = ("layer", "activation", "units", "dead", "saturated", "‖gradient‖", "‖weights‖")
    rows = []
    for s in stats:
        rows.append((
            s["name"], s["activation"] or "", str(s["units"]),
            "" if s["dead"] is None else str(s["dead"]),
            "" if s["saturated"] is None else str(s["saturated"]),
            "" if s["grad_norm"] is None else f"{s['grad_norm']:.2e}",
            "" if s["weight_norm"] is None else f"{s['weight_norm']:.2e}",
        ))
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(f"{cell:<{width}}" for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


# ------------------------------------------------------------------ thresholds
_SATURATION_Z = 5.0          # |z| beyond which sigmoid/tanh are flat
_SATURATED_FRACTION = 0.9    # ... for this share of the examples
_VANISHING_RATIO = 1e-4      # a layer's gradient this much smaller than the largest
_EXPLODING_RATIO = 1e4       # ... or this much larger than the median of the others
_EXPLODING_NORM = 1e4        # ... or simply this large
_LARGE_INPUT = 10.0          # an input column whose root mean square exceeds this
_SCALE_RATIO = 100.0         # ... or whose spread differs this much from another's
_MAJORITY_MARGIN = 0.02      # accuracy within this of the majority rate is "no better"


# ------------------------------------------------------------------ remedies as code
def _call(name: str, *args: Any, **changes: Any) -> str:
    """``name(arg, key=value, ...)`` as a user types it."""
    return f"{name}({', '.join([*map(str, args), *(f'{k}={v!r}' for k, v in changes.items())])})"


def _layer_call(layer: Any, *, units: int | None = None, **changes: Any) -> str:
    """The layer's constructor call with ``changes``, e.g. ``Dense(4, activation='relu')``."""
    units = getattr(layer, "units", None) if units is None else units
    return _call(type(layer).__name__, *([] if units is None else [units]), **changes)


def _optimizer_call(model: Any, **changes: Any) -> str:
    """``optimizer=SGD(learning_rate=0.1)``: the model's optimizer with ``changes``."""
    optimizer = model.optimizer
    if optimizer is None:
        return _call("optimizer=Adam", **changes)
    return "optimizer=" + _call(type(optimizer).__name__, **changes)


def _learning_rate(model: Any) -> float | None:
    return None if model.optimizer is None else float(model.optimizer.current_learning_rate)


def _lower_learning_rate(model: Any) -> str:
    rate = _learning_rate(model)
    if rate is None:
        return "Lower the learning rate."
    return (f"Lower the learning rate (now {rate:g}): "
            f"{_optimizer_call(model, learning_rate=float(f'{rate / 10:.3g}'))}.")


def _clip_gradient(model: Any) -> str:
    rate = _learning_rate(model) or 0.001
    return ("Clip the gradient, so that no single step can be huge: "
            f"{_optimizer_call(model, learning_rate=float(f'{rate:.3g}'), clipnorm=1.0)}.")


def _initializer_name(layer: Any, which: str) -> str | None:
    initializer = getattr(layer, which, None)
    return None if initializer is None else initializer.get_config().get("name")


def _activation_name(layer: Any) -> str | None:
    activation = getattr(layer, "activation", None)
    return None if activation is None else activation.name


def _probe(activation: Any, units: int, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The activation's output and its slope ``∂a/∂z`` (one random ``dA``) on a grid of ``z``
    from -6 to 6, ``units`` units per row."""
    z = np.repeat(np.linspace(-6.0, 6.0, 241, dtype=dtype)[:, None], units, axis=1)
    z += np.linspace(0.0, 0.5, units, dtype=dtype)
    a = np.array(activation.forward(z))
    dA = make_rng(0).uniform(0.5, 1.5, size=z.shape).astype(dtype)
    return a, np.array(activation.backward(dA, z, a)) / dA


def _slope_at(activation: Any, z: float) -> float:
    """``|g'(z)|`` at one point (the activation's own backward pass with ``dA = 1``)."""
    zz = np.array([[z]])
    a = np.array(activation.forward(zz))
    return float(abs(np.array(activation.backward(np.ones_like(zz), zz, a))[0, 0]))


def _largest_slope(activation: Any) -> float:
    """``max g'(z)``: how much one layer of this activation can pass a gradient on."""
    return float(np.max(np.abs(_probe(activation, 1)[1])))


# ------------------------------------------------------------------ what diagnose saw
@dataclass
class _Activity:
    """What one layer with an activation did on the data: its pre-activations and outputs."""

    position: int
    layer: Any
    activation: Any
    Z: np.ndarray
    A: np.ndarray

    @property
    def name(self) -> str:
        return str(self.activation.name)


@dataclass
class _Run:
    """One forward and backward pass of the model on the data, and the findings so far
    (later checks refer to earlier findings in their remedies)."""

    model: Any
    X: np.ndarray
    Y: np.ndarray
    weights: np.ndarray | None
    A: np.ndarray
    activity: list[_Activity]
    loss: float
    grad_norms: dict[str, float]
    losses: list[float]
    feature_names: list[str]
    found: list[Finding] = field(default_factory=list)
    dead: dict[str, int] = field(default_factory=dict)
    saturated: dict[str, int] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    def has(self, kind: str) -> bool:
        return any(finding.kind == kind and finding.severity != "info" for finding in self.found)

    @property
    def output(self) -> Any:
        return self.model.layers[-1]


def _record_activity(model: Any, X: np.ndarray) -> tuple[list[_Activity], np.ndarray]:
    """Forward ``X`` (inference mode) and keep a copy of every layer's ``Z`` and ``A``."""
    activity = []
    A = X
    for position, layer in enumerate(model.layers):
        A = layer.forward(A, training=False)
        activation = getattr(layer, "activation", None)
        if activation is not None:
            activity.append(_Activity(position, layer, activation, np.array(layer.Z),
                                      np.array(A)))
    return activity, np.array(A)


def _layer_norms(model: Any, arrays: str) -> dict[str, float]:
    """``‖θ‖`` (``arrays='params'``) or ``‖∇θ‖`` (``'grads'``) of each layer with parameters."""
    return {
        layer.name: math.sqrt(sum(float(np.vdot(a, a)) for a in getattr(layer, arrays).values()))
        for layer in model.layers
        if layer.param_specs
    }


def _feature_names(X: Any, feature_names: Any) -> list[str] | None:
    """The names of the input columns: given, or a DataFrame's columns, else None."""
    names = getattr(X, "columns", None) if feature_names is None else feature_names
    return None if names is None else [str(name) for name in names]


# ------------------------------------------------------------------ the checks
def _divergence_findings(run: _Run) -> list[Finding]:
    """NaN or infinity in the weights, the loss now, or the loss history: training diverged."""
    model = run.model
    broken = [layer.name for layer in model.layers
              if any(not np.isfinite(p).all() for p in layer.params.values())]
    bad_epoch = next((epoch for epoch, value in enumerate(run.losses, 1)
                      if not math.isfinite(value)), None)
    if not broken and bad_epoch is None and math.isfinite(run.loss):
        return []
    if bad_epoch is not None:
        message = f"the loss became {run.losses[bad_epoch - 1]} at epoch {bad_epoch}"
    else:
        message = f"the loss is {run.loss} on these examples"
    if broken:
        message += f" and the weights of {_layer_list(broken)} are NaN or infinite"
    message += (": training diverged. The steps were so large that the loss and the weights "
                "overflowed.")
    remedies = [_lower_learning_rate(model), _clip_gradient(model)]
    if _unscaled_columns(run):
        remedies.append(_standardise_remedy(_unscaled_columns(run)))
    if broken:
        remedies.append("The weights are lost: build and compile the model again (or reload a "
                        "checkpoint) before training with the new settings.")
    return [Finding("error", "diverged", message, remedies, broken[0] if broken else None,
                    {"epoch": bad_epoch, **({"layers": broken} if broken else {})})]


def _output_findings(run: _Run) -> list[Finding]:
    """An output activation that does not fit the loss, or that gives the same output for every z."""
    loss, layer = run.model.loss, run.output
    activation = getattr(layer, "activation", None)
    name = "linear" if activation is None else activation.name
    units = int(run.A.shape[1])
    expected = getattr(loss, "logits_activation", None)
    constant = activation is not None and np.ptp(_probe(activation, units)[0], axis=0).max() == 0
    wants_probabilities = expected is not None and not loss.from_logits
    if not constant and not (wants_probabilities and not loss.fuses_with(name)):
        return []
    unit_text = f"{units} unit{'s' if units != 1 else ''}"
    if constant:
        message = (f"the output layer {layer.name!r} applies {name} to {unit_text}: it outputs "
                   f"{float(run.A.flat[0]):g} whatever z is, so the output cannot depend on the "
                   "input and no gradient flows back")
    else:
        message = (f"the output layer {layer.name!r} uses activation {name!r}, but {loss.name} "
                   f"is written for {expected} outputs{_output_evidence(run)}")
    remedies, suggested = _output_remedies(run, name, expected)
    message += ". The loss cannot steer the network toward the targets."
    return [Finding("error", "output_mismatch", message, remedies, layer.name,
                    {"activation": name, "units": units, "loss": loss.name, **suggested})]


def _output_evidence(run: _Run) -> str:
    """What the outputs look like and where the loss gives no gradient, from the data."""
    A = run.A.astype(np.float64)
    text = f": the outputs range from {A.min():.3g} to {A.max():.3g}"
    if A.shape[1] > 1:
        text += f" and each row adds up to {A.sum(axis=1).mean():.3g} on average, not 1"
    gradient = np.array(run.model.loss.gradient(run.Y, run.A))
    flat = float(np.mean(np.all(gradient == 0, axis=1)))
    if flat > 0:
        text += (f"; for {flat:.0%} of the examples the loss's gradient ∂l/∂a is exactly 0 "
                 "(outputs outside what the loss accepts are clipped)")
    return text


def _output_remedies(run: _Run, name: str, expected: str | None) -> tuple[list[str], dict]:
    """The output layer rewritten for the loss (and the loss rewritten for the output)."""
    layer, loss = run.output, run.model.loss
    units = int(run.A.shape[1])
    remedies: list[str] = []
    suggested: dict[str, Any] = {}
    if expected is not None and np.ptp(_probe(_activation(expected), units)[0]) > 0:
        suggested["suggested_activation"] = expected
        suggested["fix"] = _layer_call(layer, activation=expected)
        remedies.append(f"Make the output fit {loss.name}: {suggested['fix']}.")
    elif expected is not None:     # e.g. softmax over a single unit: two classes need two units
        suggested["suggested_activation"] = "sigmoid"
        suggested["fix"] = _layer_call(layer, activation="sigmoid")
        remedies.append(f"Two classes need two {expected} units, "
                        f"{_layer_call(layer, units=2, activation=expected)} with one-hot targets, "
                        f"or one sigmoid unit: {suggested['fix']} with "
                        "loss='binary_crossentropy'.")
    else:
        suggested["suggested_activation"] = "linear"
        suggested["fix"] = _layer_call(layer, activation="linear")
        remedies.append(f"Use an output activation that varies with z: {suggested['fix']} "
                        "for a regression.")
    if name == "linear" and expected is not None and "from_logits" in inspect.signature(
            type(loss)).parameters:
        remedies.append(f"Or keep the linear output and tell the loss that it gets logits z: "
                        f"loss={type(loss).__name__}(from_logits=True).")
    return remedies, suggested


def _activation(name: str) -> Any:
    return activations.get(name)


def _zero_gradient_findings(run: _Run, blocked: set[str]) -> list[Finding]:
    """Layers whose gradient is exactly 0 (not because of a dead ReLU layer above them)."""
    zero = [name for name, norm in run.grad_norms.items() if norm == 0.0 and name not in blocked]
    if not zero or run.loss == 0.0:
        return []
    stoppers = [record for record in run.activity if not _passes_gradient(record)]
    every = len(zero) == len(run.grad_norms)
    message = (f"every gradient is exactly 0 ({_layer_list(zero)}): no weight can change, so "
               "training cannot even start" if every else
               f"the gradient of {_layer_list(zero)} is exactly 0: those weights never change")
    remedies = []
    if stoppers:
        stopper = stoppers[-1]
        message += (f". Layer {stopper.layer.name!r} ({stopper.name} on "
                    f"{stopper.A.shape[1]} unit{'s' if stopper.A.shape[1] != 1 else ''}) passes no "
                    "gradient back: its slope ∂a/∂z is 0 for every example")
        if stopper.layer is run.output and run.has("output_mismatch"):
            fix = next(f for f in run.found if f.kind == "output_mismatch").details["fix"]
            remedies.append(f"Fix the output layer (see the output_mismatch finding): {fix}.")
        else:
            remedies.append(f"Use an activation with a slope in layer {stopper.layer.name!r}: "
                            f"{_layer_call(stopper.layer, activation='relu')}.")
    message += "."
    if not remedies:
        remedies.append("Check that the loss depends on the output (a loss that ignores the "
                        "network's output has a zero gradient everywhere).")
    return [Finding("error" if every else "warning", "zero_gradient", message, remedies, zero[0],
                    {"layers": zero, "blocked_by": stoppers[-1].layer.name if stoppers else None})]


def _passes_gradient(record: _Activity) -> bool:
    """Whether any gradient flows back through the activation on these examples."""
    dA = make_rng(0).uniform(0.5, 1.5, size=record.Z.shape).astype(record.Z.dtype)
    return bool(np.any(np.array(record.activation.backward(dA, record.Z, record.A)) != 0))


def _column_scales(run: _Run) -> list[dict[str, Any]]:
    """Per input column: its name, range, root mean square and standard deviation."""
    X = run.X.reshape(len(run.X), -1).astype(np.float64)
    names = run.feature_names or [f"column {j}" for j in range(X.shape[1])]
    rms = np.sqrt(np.mean(X ** 2, axis=0))
    std = X.std(axis=0)
    return [{"name": names[j], "min": float(X[:, j].min()), "max": float(X[:, j].max()),
             "rms": float(rms[j]), "std": float(std[j])} for j in range(X.shape[1])]


def _unscaled_columns(run: _Run) -> list[dict[str, Any]]:
    """Columns far from unit scale: large (root mean square > 10), or with a spread 100 times
    larger than the narrowest column's."""
    columns = _column_scales(run)
    spreads = [c["std"] for c in columns if c["std"] > 0]
    narrowest = min(spreads, default=0.0)
    return [c for c in columns if c["rms"] > _LARGE_INPUT
            or (narrowest > 0 and c["std"] > _SCALE_RATIO * narrowest)]


def _standardise_remedy(columns: list[dict[str, Any]]) -> str:
    names = ", ".join(c["name"] for c in columns[:8]) + (
        f" and {len(columns) - 8} more" if len(columns) > 8 else "")
    return ("Standardise the inputs (" + names + "): scaler = glassnet.datasets.StandardScaler(); "
            "X_train = scaler.fit_transform(X_train); X_test = scaler.transform(X_test) "
            "(the training set's mean and standard deviation for both).")


def _input_scale_findings(run: _Run) -> list[Finding]:
    """Input columns on very large or very different scales."""
    unscaled = _unscaled_columns(run)
    if not unscaled:
        return []
    columns = _column_scales(run)
    described = "; ".join(f"{c['name']}: {c['min']:.3g} to {c['max']:.3g}" for c in unscaled[:8])
    narrow = min(columns, key=lambda c: c["std"] if c["std"] > 0 else math.inf)
    message = (f"the inputs are on very large or very different scales ({described}"
               + (f"; {len(unscaled) - 8} more" if len(unscaled) > 8 else "")
               + f", against {narrow['name']}: {narrow['min']:.3g} to {narrow['max']:.3g}). "
               "Large inputs give large z in the first layer, which saturates or kills its "
               "units, and one learning rate cannot suit weights whose inputs differ 100-fold.")
    return [Finding("warning", "input_scale", message, [_standardise_remedy(unscaled)], None,
                    {"columns": [c["name"] for c in unscaled], "scales": unscaled})]


def _dead_relu_findings(run: _Run) -> list[Finding]:
    """Units whose output is 0 for every example: nothing flows forward or back through them."""
    findings = []
    for record in run.activity:
        if record.name != "relu" or record.layer is run.output:
            continue
        outputs = record.A.reshape(len(record.A), -1)
        dead = int(np.count_nonzero((outputs <= 0).all(axis=0)))
        units = outputs.shape[1]
        run.dead[record.layer.name] = dead
        if dead == 0:
            continue
        message = (f"layer {record.layer.name!r}: {dead} of {units} ReLU units "
                   f"{'is' if dead == 1 else 'are'} dead (output 0 for every training example)")
        if dead == units:
            severity = "error"
            message += (". Nothing passes through this layer: the network gives the same output "
                        "for every example, and no gradient reaches the layers below it, so "
                        "they cannot learn either.")
        elif dead > units / 2:
            severity = "warning"
            message += (": they take no part in the computation and, with zero gradient, "
                        "cannot learn their way back.")
        else:
            severity = "info"
            message += ": a few dead units are common and harmless when the rest learn."
        findings.append(Finding(severity, "dead_relu", message, _dead_remedies(run, record.layer),
                                record.layer.name, {"dead": dead, "units": units}))
    return findings


def _dead_remedies(run: _Run, layer: Any) -> list[str]:
    """Remedies for dead ReLU units, written for this layer and this model."""
    remedies = []
    kernel, bias = _initializer_name(layer, "kernel_initializer"), _initializer_name(
        layer, "bias_initializer")
    if kernel not in ("he_uniform", "he_normal") or bias == "zeros":
        remedies.append(
            f"Initialise for ReLU: {_layer_call(layer, activation='relu', kernel_initializer='he_uniform')}"
            + (" and leave bias_initializer out: its default 'auto' starts ReLU biases at 0.1, so "
               "every unit fires at first (now it is 'zeros')." if bias == "zeros" else "."))
    remedies.append(f"Use a slope that is never 0, so that a unit can recover: "
                    f"{_layer_call(layer, activation='leaky_relu')}.")
    if run.has("input_scale"):
        remedies.append(_standardise_remedy(_unscaled_columns(run)))
    remedies.append(_lower_learning_rate(run.model) + " One large step can push a unit's bias so "
                    "far below zero that it never fires again.")
    remedies.append("Train again from another random seed (glassnet.utils.set_random_seed).")
    return remedies


def _saturation_findings(run: _Run) -> list[Finding]:
    """Units whose slope is almost 0 for most examples (``|z| > 5`` on sigmoid, tanh...)."""
    findings = []
    for record in run.activity:
        largest = _largest_slope(record.activation)
        edges = max(_slope_at(record.activation, -8.0), _slope_at(record.activation, 8.0))
        if largest == 0 or edges > 0.01 * largest:
            continue   # the slope does not die out for large |z| (relu, linear, softplus...)
        if record.layer is run.output and run.model.loss.fuses_with(record.name):
            continue   # a confident sigmoid output is fine: dZ = A - Y does not vanish
        z = record.Z.reshape(len(record.Z), -1)
        share = (np.abs(z) > _SATURATION_Z).mean(axis=0)
        saturated = int(np.count_nonzero(share > _SATURATED_FRACTION))
        units = z.shape[1]
        run.saturated[record.layer.name] = saturated
        if saturated == 0:
            continue
        slope = max(_slope_at(record.activation, -_SATURATION_Z),
                    _slope_at(record.activation, _SATURATION_Z))
        message = (
            f"layer {record.layer.name!r}: {saturated} of {units} {record.name} units "
            f"{'is' if saturated == 1 else 'are'} saturated (|z| > {_SATURATION_Z:g} for more "
            f"than {_SATURATED_FRACTION:.0%} of the examples, where the slope g'(z) is at most "
            f"{slope:.2g}): almost no gradient flows back through them, so they learn very slowly."
        )
        severity = "warning" if saturated > units / 2 else "info"
        findings.append(Finding(severity, "saturated_units", message,
                                _saturation_remedies(run, record), record.layer.name,
                                {"saturated": saturated, "units": units}))
    return findings


def _saturation_remedies(run: _Run, record: _Activity) -> list[str]:
    layer = record.layer
    remedies = []
    if run.has("input_scale"):
        remedies.append(_standardise_remedy(_unscaled_columns(run)))
    kernel = _initializer_name(layer, "kernel_initializer")
    if kernel is not None and kernel not in ("glorot_uniform", "glorot_normal", "lecun_uniform",
                                             "lecun_normal"):
        remedies.append(f"Start with smaller weights: {_layer_call(layer, activation=record.name)}"
                        f" (leave kernel_initializer out: glorot_uniform is the default; now it "
                        f"is {kernel!r}).")
    remedies.append(_lower_learning_rate(run.model) + " Large steps can blow the weights up.")
    if layer is not run.output:
        remedies.append(f"Use an activation whose slope does not vanish: "
                        f"{_layer_call(layer, activation='relu', kernel_initializer='he_uniform')}.")
    return remedies


def _gradient_findings(model: Any, norms: dict[str, float], skip: set[str],
                       found: tuple[str, ...] = ()) -> list[Finding]:
    """Layers whose gradient is far smaller (vanishing) or larger (exploding) than the others'."""
    bad = [name for name, norm in norms.items() if not math.isfinite(norm)]
    if bad:
        return [Finding(
            "error", "non_finite_gradient",
            f"the gradient of {_layer_list(bad)} is NaN or infinite: the weights or the loss "
            "have overflowed.", [_lower_learning_rate(model), _clip_gradient(model)], bad[0],
            {"norms": dict(norms)})]
    candidates = {name: norm for name, norm in norms.items() if name not in skip}
    if not candidates:
        return []
    largest_name = max(candidates, key=candidates.__getitem__)
    largest = candidates[largest_name]
    vanishing = {name: norm for name, norm in candidates.items()
                 if largest > 0 and norm < _VANISHING_RATIO * largest}
    exploding = {}
    for name, norm in candidates.items():
        median_of_others = float(np.median([v for k, v in candidates.items() if k != name] or [0]))
        if norm > _EXPLODING_NORM or 0 < median_of_others < norm / _EXPLODING_RATIO:
            exploding[name] = norm
    findings = []
    if vanishing:
        findings.append(Finding(
            "warning", "vanishing_gradient",
            f"the gradient is vanishing in {_layer_list(vanishing)}: ‖gradient‖ = "
            f"{_norm_list(vanishing)}, against {largest:.1e} in layer {largest_name!r}. These "
            "weights barely change, so those layers hardly learn.",
            _vanishing_remedies(model, found), next(iter(vanishing)),
            {"norms": vanishing, "largest": largest}))
    if exploding:
        findings.append(Finding(
            "warning", "exploding_gradient",
            f"the gradient is exploding in {_layer_list(exploding)}: ‖gradient‖ = "
            f"{_norm_list(exploding)}. Steps this large throw the weights far away and "
            "training becomes unstable.", _exploding_remedies(model, found), next(iter(exploding)),
            {"norms": exploding}))
    return findings


def _vanishing_remedies(model: Any, found: tuple[str, ...]) -> list[str]:
    """Remedies for a vanishing gradient, from the activations this network actually uses."""
    hidden = [layer for layer in model.layers[:-1] if getattr(layer, "activation", None) is not None]
    shrinking = [layer for layer in hidden if 0 < _largest_slope(layer.activation) < 1]
    remedies = []
    if shrinking:
        names = sorted({layer.activation.name for layer in shrinking})
        slopes = ", ".join(f"{name}'s at most {_largest_slope(_activation(name)):.2g}"
                           for name in names)
        remedies.append(
            f"Use ReLU in the hidden layers {', '.join(repr(layer.name) for layer in shrinking)}, "
            f"e.g. {_layer_call(shrinking[0], activation='relu', kernel_initializer='he_uniform')}"
            f": backpropagation multiplies the gradient by the slope g'(z) at every layer "
            f"({slopes}), which shrinks it exponentially with depth.")
    if "dead_relu" in found:
        remedies.append("Fix the dead ReLU units first (see the dead_relu finding): no gradient "
                        "passes through them.")
    plain = [layer for layer in hidden if layer not in shrinking
             and _initializer_name(layer, "kernel_initializer") not in ("he_uniform", "he_normal")
             and _activation_name(layer) in ("relu", "leaky_relu", "elu")]
    if plain:
        call = _layer_call(plain[0], activation=_activation_name(plain[0]),
                           kernel_initializer="he_uniform")
        remedies.append(f"Match the initialisation to ReLU: {call}.")
    if model.optimizer is not None and model.optimizer.name == "sgd":
        remedies.append("Use an optimizer whose step does not shrink with the gradient: "
                        "optimizer='adam'.")
    n_layers = len([layer for layer in model.layers if layer.param_specs])
    remedies.append(f"Use fewer layers (this network has {n_layers} layers with weights).")
    return remedies


def _exploding_remedies(model: Any, found: tuple[str, ...]) -> list[str]:
    remedies = [_lower_learning_rate(model), _clip_gradient(model)]
    large = [layer for layer in model.layers if _initializer_name(layer, "kernel_initializer")
             not in (None, "glorot_uniform", "glorot_normal", "he_uniform", "he_normal",
                     "lecun_uniform", "lecun_normal")]
    if large:
        layer = large[0]
        name = _activation_name(layer) or "linear"
        call = _layer_call(layer, activation=name, kernel_initializer=(
            "he_uniform" if name == "relu" else "glorot_uniform"))
        remedies.append(f"Start with weights scaled to the layer's size: {call} (now "
                        f"kernel_initializer={_initializer_name(layer, 'kernel_initializer')!r}).")
    if "input_scale" in found:
        remedies.append("Standardise the inputs (see the input_scale finding).")
    return remedies


def _layer_list(names: Any) -> str:
    names = [repr(name) for name in names]
    return f"layer {names[0]}" if len(names) == 1 else "layers " + ", ".join(names)


def _norm_list(norms: dict[str, float]) -> str:
    return ", ".join(f"{norm:.1e}" for norm in norms.values())


def _loss_curve_findings(model: Any, losses: list[float], unscaled: bool = False) -> list[Finding]:
    """A rising or oscillating loss in the history: signs of a too-large learning rate.
    (A loss that became NaN is reported by the divergence check.)"""
    curve = np.asarray(losses, dtype=np.float64)
    if len(curve) < 3 or not np.isfinite(curve).all():
        return []
    remedies = [_lower_learning_rate(model), _clip_gradient(model),
                "Use a larger batch_size (less noisy steps), or ReduceLROnPlateau / a schedule."]
    if unscaled:
        remedies.append("Standardise the inputs (see the input_scale finding).")
    if curve[-1] > 1.5 * curve[0] and curve[-1] > curve[0] + 1e-3:
        return [Finding(
            "error", "loss_increasing",
            f"the loss went up instead of down: from {curve[0]:.4g} at epoch 1 to "
            f"{curve[-1]:.4g} at epoch {len(curve)}: each step overshoots the minimum.",
            remedies, None, {"first": float(curve[0]), "last": float(curve[-1])})]
    if len(curve) >= 6:
        rises = np.diff(curve)
        big = rises > 0.1 * np.abs(curve[:-1])          # up by more than 10% in one epoch
        half = len(curve) // 2
        no_progress = curve[half:].min() >= 0.5 * curve[:half].min()
        n_big = int(np.count_nonzero(big))
        if n_big >= max(2, 0.2 * len(rises)) and no_progress:
            return [Finding(
                "warning", "oscillating_loss",
                f"the loss oscillates: it jumped up by more than 10% in {n_big} of {len(rises)} "
                "epochs and is no lower now than in the first half of training. The learning "
                "rate is probably too large: each step jumps across the valley instead of down "
                "into it.", remedies, None, {"rises": n_big, "epochs": len(curve)})]
    return []


def _stalled(losses: list[float]) -> tuple[bool, int]:
    """Whether the loss has stopped improving: less than 0.1% better over the last epochs."""
    if len(losses) < 8:
        return False, 0
    window = max(5, len(losses) // 4)
    before = losses[-window - 1]
    best_since = min(losses[-window:])
    return bool(before - best_since < 1e-3 * abs(before)), window


def _class_scores(run: _Run) -> dict[str, float]:
    """For classifiers (a loss with a probability output): the accuracy, the majority rate,
    the share of the most predicted class and the loss of always predicting the class
    frequencies (the best an input-blind network can do)."""
    loss, A, Y = run.model.loss, run.A, run.Y
    if getattr(loss, "logits_activation", None) is None or not np.isfinite(A).all():
        return {}
    k = A.shape[1]
    if k == 1:
        predicted = (A[:, 0] > (0.0 if loss.from_logits else 0.5)).astype(np.int64)
        truth = (Y[:, 0] > 0.5).astype(np.int64)
    else:
        predicted = A.argmax(axis=1)
        truth = (Y.argmax(axis=1) if Y.ndim == 2 and Y.shape[1] == k
                 else np.asarray(Y).reshape(-1).astype(np.int64))
    counts = np.bincount(truth, weights=run.weights, minlength=max(k, 2)).astype(np.float64)
    prior = np.clip(counts / counts.sum(), 1e-7, 1 - 1e-7)
    if k == 1:
        constant = np.full((len(A), 1), math.log(prior[1] / prior[0]) if loss.from_logits
                           else prior[1], dtype=A.dtype)
    else:
        constant = np.tile(np.log(prior) if loss.from_logits else prior, (len(A), 1)).astype(A.dtype)
    baseline = loss.weighted_sum(Y, constant, sample_weight=run.weights) / len(A)
    return {"accuracy": float(np.mean(predicted == truth)),
            "majority": float(np.bincount(truth).max() / len(truth)),
            "most_predicted": float(np.bincount(predicted).max() / len(predicted)),
            "baseline_loss": float(baseline), "majority_class": int(np.argmax(counts)),
            "counts": counts.tolist()}


def _majority_findings(run: _Run) -> list[Finding]:
    """A classifier no better than always answering the most common class."""
    scores, losses = run.scores, run.losses
    if not scores or scores["accuracy"] > scores["majority"] + _MAJORITY_MARGIN:
        return []
    stalled, window = _stalled(losses)
    constant = scores["most_predicted"] >= 0.95
    at_baseline = run.loss >= 0.95 * scores["baseline_loss"]
    still_falling = len(losses) >= 4 and losses[-1] < 0.9 * losses[-4]
    if stalled:
        severity = "error"
    elif (constant and not losses) or (at_baseline and len(losses) >= 8 and not still_falling):
        severity = "warning"   # (with a short history, wait: the loss may still fall)
    else:
        return []
    accuracy, majority, baseline = scores["accuracy"], scores["majority"], scores["baseline_loss"]
    if stalled:
        message = (f"the loss has stopped improving (about {losses[-1]:.4g} for the last {window} "
                   f"epochs) while the accuracy, {accuracy:.3f}, is what always answering the most "
                   f"common class gives ({majority:.3f})")
    else:
        message = (f"the accuracy, {accuracy:.3f}, is no better than always answering the most "
                   f"common class ({majority:.3f})")
    if at_baseline:
        message += (f", and the loss, {run.loss:.4g}, is no lower than {baseline:.4g}, the loss "
                    "of always predicting the class frequencies")
    if constant:
        message += (f"; the network gives the same answer for {scores['most_predicted']:.0%} of "
                    "the examples")
    message += ": it has learned nothing beyond how often each class occurs."
    return [Finding(severity, "stuck_at_majority", message, _majority_remedies(run, stalled), None,
                    {"accuracy": accuracy, "majority_rate": majority, "baseline_loss": baseline,
                     "most_predicted": scores["most_predicted"]})]


def _majority_remedies(run: _Run, stalled: bool) -> list[str]:
    """What to do, pointing first at the other findings that explain it."""
    remedies = []
    if run.has("input_scale"):
        remedies.append(_standardise_remedy(_unscaled_columns(run)))
    for kind, what in (("output_mismatch", "the output layer"), ("zero_gradient", "the zero "
                       "gradient"), ("dead_relu", "the dead ReLU units"), ("saturated_units",
                       "the saturated units"), ("vanishing_gradient", "the vanishing gradient")):
        if run.has(kind):
            remedies.append(f"Fix {what} first (see the {kind} finding).")
    if not remedies:
        remedies.append("Re-initialise and train again from another seed "
                        "(glassnet.utils.set_random_seed)." if stalled else
                        "If the loss is still creeping down: train for more epochs.")
    counts = np.asarray(run.scores["counts"])
    if counts.max() > 1.5 * counts[counts > 0].min():
        weights = {c: round(float(counts.sum() / (len(counts) * n)), 3)
                   for c, n in enumerate(counts) if n > 0}
        remedies.append(f"The classes are imbalanced: weight them, fit(..., class_weight={weights}).")
    remedies.append("Check the labels: are they shuffled together with X, and not all one class?")
    return remedies


def _history_losses(model: Any, history: Any) -> list[float]:
    source = model.history if history is None else history
    if isinstance(source, History):
        source = source.history
    if source is None:
        return []
    if not isinstance(source, dict):
        raise TypeError(f"history must be a History, a dict of lists or None, got {source!r}")
    return [float(value) for value in source.get("loss", [])]


def _observe(model: Any, X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None,
             losses: list[float], feature_names: list[str] | None) -> _Run:
    """One forward pass (every layer's Z and A kept) and one backward pass on the data; the
    model's weights and gradient buffer are left as they were."""
    activity, A = _record_activity(model, X)
    saved_gradients = model.gradients.copy()
    try:
        with np.errstate(all="ignore"):     # a diverged model is reported, not warned about
            loss = model.objective(Y, A, weights)   # the layers still hold this forward pass
            model.backward(Y, A, weights)
        grad_norms = _layer_norms(model, "grads")
    finally:
        model.gradients[...] = saved_gradients
    if feature_names is not None and len(feature_names) != X.reshape(len(X), -1).shape[1]:
        raise ValueError(f"feature_names must name each of the {X.reshape(len(X), -1).shape[1]} "
                         f"input columns, got {len(feature_names)} names")
    return _Run(model, X, Y, weights, A, activity, loss, grad_norms, losses,
                feature_names or [])


def _blocked_by_dead_layers(run: _Run) -> set[str]:
    """Below a fully dead ReLU layer every gradient is exactly 0: that is the dead layer's
    doing, reported there, not a vanishing or zero gradient of its own."""
    blocked: set[str] = set()
    for record in run.activity:
        if run.dead.get(record.layer.name) and run.dead[record.layer.name] == record.A[0].size:
            blocked |= {layer.name for layer in run.model.layers[:record.position + 1]}
    return blocked


def _run_checks(run: _Run) -> None:
    """Each check reads the run (and the findings before it) and adds its findings."""
    run.found += _divergence_findings(run)
    if run.has("diverged") and not math.isfinite(run.loss):
        return    # with NaN weights every other number is NaN too
    run.found += _output_findings(run)
    run.found += _input_scale_findings(run)
    run.found += _dead_relu_findings(run)
    blocked = _blocked_by_dead_layers(run)
    run.found += _zero_gradient_findings(run, blocked)
    run.found += _saturation_findings(run)
    zero = {name for name, norm in run.grad_norms.items() if norm == 0.0}
    kinds = tuple(finding.kind for finding in run.found if finding.severity != "info")
    run.found += _gradient_findings(run.model, run.grad_norms, blocked | zero, kinds)
    run.found += _loss_curve_findings(run.model, run.losses, run.has("input_scale"))
    run.scores = _class_scores(run)
    run.found += _majority_findings(run)


def diagnose(
    model: Any, X: Any, y: Any, *, sample_weight: Any = None, history: Any = None,
    feature_names: Any = None, show: bool | None = None,
) -> Diagnosis:
    """Look for the usual reasons a network does not learn, and explain them.

    Runs one forward and one backward pass on ``X``, ``y`` (inference mode) and reads
    the training history, then reports, naming the layer, unit or input column:

    * **a diverged run**: NaN or infinity in the loss or the weights;
    * **an output that does not fit the loss**: e.g. softmax on one unit, sigmoid with
      categorical cross-entropy, a linear output with binary cross-entropy (the loss's
      ``logits_activation`` says what it expects);
    * **inputs on very large or very different scales**;
    * **dead ReLU units**: output 0 for every example, so zero gradient and no learning;
    * **gradients that are exactly 0**, and the layer that stops them;
    * **saturated units** (sigmoid, tanh, ...): ``|z| > 5`` for more than 90% of the examples;
    * **vanishing / exploding gradients**: a layer's ‖gradient‖ 1e4 times smaller than
      the largest, or far larger than the others';
    * **a learning rate too large**: from the history, a loss that went up or oscillates;
    * **stuck at the majority class**: accuracy no better than always answering the most
      common class, and a loss no lower than that of always predicting the class
      frequencies (or one that stopped improving).

    Every remedy is written as the code to type, from the model's own layers, activations,
    initializers and optimizer.

    Parameters
    ----------
    model : Sequential
        Built and compiled.
    X, y : arrays
        Training examples (a few thousand are plenty).
    sample_weight : array of shape (n_samples,), optional
    history : History or dict, optional
        Defaults to ``model.history`` (set by the last ``fit``).
    feature_names : list of str, optional
        Names of the input columns (default: a DataFrame's columns, else "column j").
    show : bool, optional
        Print the diagnosis. Default: print, except at a Python or IPython prompt or in a
        notebook, which show the returned diagnosis themselves.

    Returns
    -------
    Diagnosis
        ``print(diagnosis)``; ``diagnosis.ok``; ``diagnosis.findings``.
    """
    require_numpy_model(model, "glassnet.diagnose")
    model._require_built("diagnose the model")
    _require_compiled(model, "diagnose the model")
    show = should_show(show)
    names = _feature_names(X, feature_names)
    X, Y, weights = _prepare_data(model, X, y, sample_weight)
    run = _observe(model, X, Y, weights, _history_losses(model, history), names)
    _run_checks(run)
    weight_norms = _layer_norms(model, "params")
    activations_of = {record.layer.name: record.name for record in run.activity}
    layer_stats = [{
        "name": layer.name,
        "activation": activations_of.get(layer.name),
        "units": int(np.prod(layer.output_shape)),
        "dead": run.dead.get(layer.name),
        "saturated": run.saturated.get(layer.name),
        "grad_norm": run.grad_norms.get(layer.name),
        "weight_norm": weight_norms.get(layer.name),
    } for layer in model.layers]
    diagnosis = Diagnosis(model.name, len(X), run.found, layer_stats, run.scores.get("accuracy"),
                          run.scores.get("majority"), run.loss, run.scores.get("baseline_loss"))
    if show:
        print(diagnosis)
    return diagnosis


# ======================================================================== the callback
class DiagnosticsMonitor(Callback):
    """Watch training for the problems :func:`diagnose` knows; record gradient norms.

    After every epoch it looks at the loss so far (NaN, rising, oscillating) and,
    every ``every`` epochs when ``X`` and ``y`` are given, runs :func:`diagnose` on
    them (dead units, saturation, vanishing gradients, stuck at the majority class...).
    Each kind of problem is reported once, as a :class:`DiagnosticWarning` of one line.

    With ``record_norms=True`` it adds to each epoch's logs, so that ``History``
    keeps them, for every layer with parameters:

    * ``grad_norm/<layer>``: ‖gradient‖ of the layer's parameters (kernel and bias),
      averaged over the epoch's batches;
    * ``weight_norm/<layer>``: ‖parameters‖ at the end of the epoch.

    The batch gradients are read in :meth:`on_gradients`, which the training loop calls
    after backward propagation and before the optimizer's update (the optimizer may use
    the gradient buffer as scratch space, so it cannot be read after the step).

    Parameters
    ----------
    X, y : arrays, optional
        Data to diagnose on (e.g. a few hundred training examples). Without them only the
        loss curve and the batch gradient norms are checked.
    every : int
        Diagnose on ``X``, ``y`` every this many epochs.
    record_norms : bool
    warn : bool
        Issue warnings (else only collect them in :attr:`findings`).

    Attributes
    ----------
    findings : list of (epoch, Finding)
        Every warning- or error-level finding, the first time its kind appeared.
    """

    def __init__(self, X: Any = None, y: Any = None, every: int = 1, record_norms: bool = True,
                 warn: bool = True) -> None:
        super().__init__()
        if (X is None) != (y is None):
            raise ValueError("DiagnosticsMonitor needs X and y together (or neither)")
        self.X, self.y = X, y
        self.every = check_int("every", every)
        self.record_norms = check_bool("record_norms", record_norms)
        self.warn = check_bool("warn", warn)
        self.findings: list[tuple[int, Finding]] = []
        self._warned: set[str] = set()
        self._losses: list[float] = []
        self._grad_sums: dict[str, float] = {}
        self._batches = 0

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._warned, self._losses = set(), []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._grad_sums, self._batches = {}, 0

    def on_gradients(self, batch: int, logs: dict | None = None) -> None:
        """Add this batch's ‖∂J/∂θ‖ per layer (``model.gradients`` holds them now)."""
        if not self.record_norms and self.X is not None:
            return
        for name, norm in _layer_norms(self.model, "grads").items():
            self._grad_sums[name] = self._grad_sums.get(name, 0.0) + norm
        self._batches += 1

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        self._losses.append(float(logs.get("loss", math.nan)))
        grad_norms = {name: total / max(self._batches, 1)
                      for name, total in self._grad_sums.items()}
        if self.record_norms:
            for name, norm in grad_norms.items():
                logs[f"grad_norm/{name}"] = norm
            for name, norm in _layer_norms(self.model, "params").items():
                logs[f"weight_norm/{name}"] = norm
        self._report(epoch, self._findings(epoch, grad_norms))

    def _findings(self, epoch: int, grad_norms: dict[str, float]) -> list[Finding]:
        if self.X is not None and (epoch + 1) % self.every == 0:
            return diagnose(self.model, self.X, self.y, history={"loss": self._losses},
                            show=False).findings
        findings = _loss_curve_findings(self.model, self._losses)
        if any(not math.isfinite(value) for value in self._losses):
            bad = next(i for i, value in enumerate(self._losses, 1) if not math.isfinite(value))
            findings.append(Finding(
                "error", "diverged", f"the loss became {self._losses[bad - 1]} at epoch {bad}: "
                "training diverged.", [_lower_learning_rate(self.model),
                                       _clip_gradient(self.model)], None, {"epoch": bad}))
        if self.X is None and grad_norms:
            findings += _gradient_findings(self.model, grad_norms, set())
        return findings

    def _report(self, epoch: int, findings: list[Finding]) -> None:
        for finding in findings:
            if finding.severity == "info" or finding.kind in self._warned:
                continue
            self._warned.add(finding.kind)
            self.findings.append((epoch, finding))
            if self.warn:
                hint = f" Try: {finding.remedies[0]}" if finding.remedies else ""
                warnings.warn(f"Epoch {epoch + 1}: {finding.message}{hint}", DiagnosticWarning,
                              stacklevel=2)

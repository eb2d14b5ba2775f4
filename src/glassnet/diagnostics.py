"""Why does my network not learn? Gradient checks, a diagnosis, and a training monitor.

* :func:`gradient_check` compares the gradients that backward propagation computes
  with central finite differences of the loss, ``(J(θ + ε) - J(θ - ε)) / 2ε``, one
  parameter at a time. If the two disagree, a backward pass is wrong.
* :func:`diagnose` runs the network on data and names the usual reasons training
  fails, in plain words, with the usual remedies: dead ReLU units, vanishing or
  exploding gradients, saturated sigmoid/tanh units, a learning rate that makes the
  loss oscillate or diverge, and a network stuck at the majority-class accuracy.
* :class:`DiagnosticsMonitor` is a callback that checks the same things during
  ``fit``, warns once per problem, and records per-layer gradient and weight norms
  in the history (``grad_norm/<layer>``, ``weight_norm/<layer>``).
"""

from __future__ import annotations

import contextlib
import copy
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from glassnet import config, optimizers
from glassnet._validation import check_int, check_positive
from glassnet.backend import require_numpy_model
from glassnet.callbacks import Callback, History
from glassnet.explain import _objective, _prepare_data, _require_compiled, format_shape
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


class DiagnosticWarning(UserWarning):
    """Issued by :class:`DiagnosticsMonitor` when it sees a problem during training."""


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


@contextlib.contextmanager
def _floatx(name: str) -> Iterator[None]:
    """Temporarily set ``glassnet.config.set_floatx(name)``."""
    previous = config.floatx()
    config.set_floatx(name)
    try:
        yield
    finally:
        config.set_floatx(previous)


def float64_copy(model: Any) -> Any:
    """A copy of ``model`` whose parameters live in a float64 buffer (same values).

    A model's dtype is fixed when it is built (by ``glassnet.config.floatx()`` at
    that moment). This copies the model (without its history, and with a fresh
    optimizer of the same settings) and re-allocates its buffers in float64; the
    original is untouched.
    """
    model._require_built("copy the model")
    twin = copy.deepcopy(model, memo={id(model.history): None, id(model.optimizer): None})
    if model.optimizer is not None:
        twin.optimizer = optimizers.get(model.optimizer.get_config())
    with _floatx("float64"):
        twin._allocate_parameters()
    return twin


def _parameter_arrays(model: Any) -> list[tuple[Any, str, np.ndarray, np.ndarray]]:
    """``(layer, name, parameters, gradients)`` for every parameter array that has a gradient
    (not BatchNormalization's moving statistics, which forward propagation sets)."""
    return [
        (layer, spec.name, layer.params[spec.name], layer.grads[spec.name])
        for layer in model.layers
        for spec in layer.param_specs
        if spec.trainable
    ]


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
    if not isinstance(float64, bool | np.bool_):
        raise TypeError(f"float64 must be True or False, got {float64!r}")
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
        return _objective(model, Y, model.forward(X, training=False), weights)

    saved_gradients = model.gradients.copy()
    results = []
    try:
        A = model.forward(X, training=False)
        J = _objective(model, Y, A, weights)
        model.backward(Y, A, weights)
        analytic_all = [grads.copy() for *_, grads in _parameter_arrays(model)]
        # Rounding noise of one finite difference: J carries a relative error of a few
        # machine epsilons, and dividing by 2ε magnifies it.
        noise_floor = float(np.finfo(dtype).eps) * max(1.0, abs(J)) / epsilon
        for (layer, name, params, _), analytic in zip(_parameter_arrays(model), analytic_all,
                                                      strict=True):
            flat = params.reshape(-1)   # a view: writing into it changes the model
            indices = np.arange(flat.size)
            if max_checks_per_array is not None and flat.size > max_checks_per_array:
                indices = np.sort(rng.choice(flat.size, max_checks_per_array, replace=False))
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
    return GradientCheckReport(results, threshold=threshold, epsilon=epsilon,
                               noise_floor=noise_floor, dtype=str(dtype), objective=J)


# ======================================================================== diagnosis
@dataclass
class Finding:
    """One thing :func:`diagnose` noticed.

    Attributes
    ----------
    severity : {'info', 'warning', 'error'}
    kind : str
        ``'dead_relu'``, ``'vanishing_gradient'``, ``'exploding_gradient'``,
        ``'non_finite_gradient'``, ``'saturated_units'``, ``'diverged'``,
        ``'loss_increasing'``, ``'oscillating_loss'``, ``'stuck_at_majority'``.
    message : str
        What is wrong, in plain words.
    remedies : list of str
        What usually helps.
    layer : str or None
        The layer concerned, if any.
    details : dict
        The numbers behind the message.
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
    accuracy, majority_rate : float or None
        For classifiers: the accuracy on the data and that of always answering the
        most common class.
    """

    def __init__(self, model_name: str, n_examples: int, findings: list[Finding],
                 layer_stats: list[dict[str, Any]], accuracy: float | None,
                 majority_rate: float | None, loss: float) -> None:
        order = {severity: rank for rank, severity in enumerate(reversed(SEVERITIES))}
        self.findings = sorted(findings, key=lambda finding: order[finding.severity])
        self.model_name = model_name
        self.n_examples = n_examples
        self.layer_stats = layer_stats
        self.accuracy = accuracy
        self.majority_rate = majority_rate
        self.loss = loss

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


# ------------------------------------------------------------------ the checks
_SATURATION_Z = 5.0          # |z| beyond which sigmoid/tanh are flat
_SATURATED_FRACTION = 0.9    # ... for this share of the examples
_VANISHING_RATIO = 1e-4      # a layer's gradient this much smaller than the largest
_EXPLODING_RATIO = 1e4       # ... or this much larger than the median of the others
_EXPLODING_NORM = 1e4        # ... or simply this large

_DEAD_REMEDIES = [
    "Initialise ReLU layers with he_uniform kernels and a small positive bias: Dense's "
    "default (kernel_initializer='auto') does this. Keras's glorot_uniform kernels with zero "
    "biases can leave whole small layers dead from the start.",
    "Use activation='leaky_relu' (or 'elu'): its slope is never zero, so a unit can recover.",
    "Lower the learning rate: one large step can push a unit's bias so far below zero that it "
    "never fires again.",
    "Train again from another random seed (glassnet.utils.set_random_seed).",
]


@dataclass
class _Activity:
    """What one layer did on the data: its pre-activations and outputs."""

    position: int
    layer: Any
    activation: str
    Z: np.ndarray
    A: np.ndarray


def _record_activity(model: Any, X: np.ndarray) -> tuple[list[_Activity], np.ndarray]:
    """Forward ``X`` (inference mode) and keep a copy of every layer's ``Z`` and ``A``."""
    activity = []
    A = X
    for position, layer in enumerate(model.layers):
        A = layer.forward(A, training=False)
        activation = getattr(layer, "activation", None)
        if activation is not None:
            activity.append(_Activity(position, layer, activation.name,
                                      np.array(layer.Z), np.array(A)))
    return activity, np.array(A)


def _dead_relu_findings(activity: list[_Activity], n_layers: int) -> tuple[list[Finding], dict]:
    """Units whose output is 0 for every example: nothing flows forward or back through them."""
    findings, dead_counts = [], {}
    for record in activity:
        if record.activation != "relu" or record.position == n_layers - 1:
            continue
        outputs = record.A.reshape(len(record.A), -1)
        dead = int(np.count_nonzero((outputs <= 0).all(axis=0)))
        units = outputs.shape[1]
        dead_counts[record.layer.name] = dead
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
        findings.append(Finding(severity, "dead_relu", message, list(_DEAD_REMEDIES),
                                record.layer.name, {"dead": dead, "units": units}))
    return findings, dead_counts


def _saturation_findings(model: Any, activity: list[_Activity]) -> tuple[list[Finding], dict]:
    """Sigmoid/tanh units with ``|z| > 5`` for most examples: their slope is almost 0."""
    findings, counts = [], {}
    fused_output = _fused_output(model)
    for record in activity:
        if record.activation not in ("sigmoid", "tanh"):
            continue
        if record.position == len(model.layers) - 1 and fused_output:
            continue  # a confident sigmoid output is fine: dZ = A - Y does not vanish
        z = record.Z.reshape(len(record.Z), -1)
        share = (np.abs(z) > _SATURATION_Z).mean(axis=0)
        saturated = int(np.count_nonzero(share > _SATURATED_FRACTION))
        units = z.shape[1]
        counts[record.layer.name] = saturated
        if saturated == 0:
            continue
        slope = 0.0066 if record.activation == "sigmoid" else 1.8e-4
        message = (
            f"layer {record.layer.name!r}: {saturated} of {units} {record.activation} units "
            f"{'is' if saturated == 1 else 'are'} saturated (|z| > {_SATURATION_Z:g} for more "
            f"than {_SATURATED_FRACTION:.0%} of the examples, where the slope g'(z) is below "
            f"{slope:g}): almost no gradient flows back through them, so they learn very slowly."
        )
        severity = "warning" if saturated > units / 2 else "info"
        findings.append(Finding(severity, "saturated_units", message, [
            "Standardise the inputs (glassnet.datasets.StandardScaler): large inputs give large z.",
            "Start with smaller weights: glorot_uniform (the default for sigmoid/tanh).",
            "Lower the learning rate: large steps can blow the weights up.",
            "Use relu (or leaky_relu) in hidden layers; keep sigmoid for the output.",
        ], record.layer.name, {"saturated": saturated, "units": units}))
    return findings, counts


def _fused_output(model: Any) -> bool:
    activation = getattr(model.layers[-1], "activation", None)
    name = activation.name if activation is not None else "linear"
    loss = model.loss
    return not getattr(loss, "from_logits", False) and (
        (loss.name == "binary_crossentropy" and name == "sigmoid")
        or (loss.name in ("categorical_crossentropy", "sparse_categorical_crossentropy")
            and name == "softmax")
    )


def _layer_norms(model: Any, arrays: str) -> dict[str, float]:
    """``‖θ‖`` (``arrays='params'``) or ``‖∇θ‖`` (``'grads'``) of each layer with parameters."""
    return {
        layer.name: math.sqrt(sum(float(np.vdot(a, a)) for a in getattr(layer, arrays).values()))
        for layer in model.layers
        if layer.param_specs
    }


def _gradient_findings(norms: dict[str, float], blocked: set[str]) -> list[Finding]:
    """Layers whose gradient is far smaller (vanishing) or larger (exploding) than the others'."""
    findings = []
    bad = [name for name, norm in norms.items() if not math.isfinite(norm)]
    if bad:
        findings.append(Finding(
            "error", "non_finite_gradient",
            f"the gradient of layer(s) {', '.join(map(repr, bad))} is NaN or infinite: the "
            "weights or the loss have overflowed.",
            ["Lower the learning rate (divide it by 10).", "Clip the gradient: optimizer "
             "Adam(clipnorm=1.0).", "Standardise the inputs."], bad[0], {"norms": dict(norms)}))
        return findings
    candidates = {name: norm for name, norm in norms.items() if name not in blocked}
    if not candidates:
        return findings
    largest_name = max(candidates, key=candidates.__getitem__)
    largest = candidates[largest_name]
    vanishing = {name: norm for name, norm in candidates.items()
                 if largest > 0 and norm < _VANISHING_RATIO * largest}
    exploding = {}
    for name, norm in candidates.items():
        median_of_others = float(np.median([v for k, v in candidates.items() if k != name] or [0]))
        if norm > _EXPLODING_NORM or 0 < median_of_others < norm / _EXPLODING_RATIO:
            exploding[name] = norm
    if vanishing:
        findings.append(Finding(
            "warning", "vanishing_gradient",
            f"the gradient is vanishing in {_layer_list(vanishing)}: ‖gradient‖ = "
            f"{_norm_list(vanishing)}, against {largest:.1e} in layer {largest_name!r}. These "
            "weights barely change, so those layers hardly learn."
            + (" A gradient of exactly 0 usually means a layer of dead ReLU units above blocks "
               "it." if 0.0 in vanishing.values() else ""),
            [
                "Use relu (or leaky_relu) in hidden layers: sigmoid and tanh multiply the "
                "gradient by at most 1/4 and 1 per layer, which shrinks it exponentially.",
                "Match the initialisation to the activation (he_uniform for relu, "
                "glorot_uniform for sigmoid/tanh): Dense's 'auto' default does this.",
                "Use fewer layers, or Adam, whose step size does not shrink with the gradient.",
            ], next(iter(vanishing)), {"norms": vanishing, "largest": largest}))
    if exploding:
        findings.append(Finding(
            "warning", "exploding_gradient",
            f"the gradient is exploding in {_layer_list(exploding)}: ‖gradient‖ = "
            f"{_norm_list(exploding)}. Steps this large throw the weights far away and "
            "training becomes unstable.",
            [
                "Lower the learning rate.",
                "Clip the gradient: e.g. Adam(clipnorm=1.0).",
                "Start with smaller weights (glorot_uniform / he_uniform, not large constants) "
                "and standardise the inputs.",
            ], next(iter(exploding)), {"norms": exploding}))
    return findings


def _layer_list(norms: dict[str, float]) -> str:
    names = [repr(name) for name in norms]
    return f"layer {names[0]}" if len(names) == 1 else "layers " + ", ".join(names)


def _norm_list(norms: dict[str, float]) -> str:
    return ", ".join(f"{norm:.1e}" for norm in norms.values())


def _loss_curve_findings(losses: list[float], learning_rate: float | None) -> list[Finding]:
    """Divergence, a rising loss, an oscillating loss: signs of a too-large learning rate."""
    if not losses:
        return []
    lr = "" if learning_rate is None else f" (now {learning_rate:g}; try {learning_rate / 10:g})"
    remedies = [
        f"Lower the learning rate{lr}.",
        "Clip the gradient: e.g. Adam(clipnorm=1.0).",
        "Use a larger batch_size (less noisy steps), or ReduceLROnPlateau / a schedule.",
        "Standardise the inputs (glassnet.datasets.StandardScaler).",
    ]
    for epoch, value in enumerate(losses):
        if not math.isfinite(value):
            return [Finding(
                "error", "diverged",
                f"the loss became {value} at epoch {epoch + 1}: training diverged (the steps were "
                "so large that the weights overflowed).", remedies, None,
                {"epoch": epoch + 1})]
    findings = []
    curve = np.asarray(losses, dtype=np.float64)
    if len(curve) >= 3 and curve[-1] > 1.5 * curve[0] and curve[-1] > curve[0] + 1e-3:
        findings.append(Finding(
            "error", "loss_increasing",
            f"the loss went up instead of down: from {curve[0]:.4g} at epoch 1 to "
            f"{curve[-1]:.4g} at epoch {len(curve)}: each step overshoots the minimum.",
            remedies, None, {"first": float(curve[0]), "last": float(curve[-1])}))
        return findings
    if len(curve) >= 6:
        rises = np.diff(curve)
        big = rises > 0.1 * np.abs(curve[:-1])          # up by more than 10% in one epoch
        half = len(curve) // 2
        no_progress = curve[half:].min() >= 0.5 * curve[:half].min()
        n_big = int(np.count_nonzero(big))
        if n_big >= max(2, 0.2 * len(rises)) and no_progress:
            findings.append(Finding(
                "warning", "oscillating_loss",
                f"the loss oscillates: it jumped up by more than 10% in {n_big} of {len(rises)} "
                "epochs and is no lower now than in the first half of training. The learning "
                "rate is probably too large: each step jumps across the valley instead of down "
                "into it.", remedies, None, {"rises": n_big, "epochs": len(curve)}))
    return findings


def _stalled(losses: list[float]) -> tuple[bool, int]:
    """Whether the loss has stopped improving: less than 0.1% better over the last epochs."""
    if len(losses) < 8:
        return False, 0
    window = max(5, len(losses) // 4)
    before = losses[-window - 1]
    best_since = min(losses[-window:])
    return bool(before - best_since < 1e-3 * abs(before)), window


def _class_accuracy(model: Any, A: np.ndarray, Y: np.ndarray) -> tuple[float, float, float] | None:
    """``(accuracy, majority_rate, share of the most predicted class)`` for classifiers."""
    name = model.loss.name
    if name == "binary_crossentropy" and A.shape[1] == 1:
        threshold = 0.0 if getattr(model.loss, "from_logits", False) else 0.5
        predicted = (A[:, 0] > threshold).astype(np.int64)
        truth = (Y[:, 0] > 0.5).astype(np.int64)
    elif name == "categorical_crossentropy":
        predicted, truth = A.argmax(axis=1), Y.argmax(axis=1)
    elif name == "sparse_categorical_crossentropy":
        predicted, truth = A.argmax(axis=1), np.asarray(Y).reshape(-1).astype(np.int64)
    else:
        return None
    accuracy = float(np.mean(predicted == truth))
    majority = float(np.bincount(truth).max() / len(truth))
    most_predicted = float(np.bincount(predicted).max() / len(predicted))
    return accuracy, majority, most_predicted


def _majority_findings(accuracy: float, majority: float, most_predicted: float,
                       losses: list[float]) -> list[Finding]:
    """A classifier no better than always answering the most common class."""
    if accuracy > majority + 0.02:
        return []
    stalled, window = _stalled(losses)
    constant = most_predicted >= 0.95
    if not (stalled or (not losses and constant)):
        return []
    if stalled:
        message = (f"the loss has stopped improving (about {losses[-1]:.4g} for the last {window} "
                   f"epochs) while the accuracy, {accuracy:.3f}, is what always answering the most "
                   f"common class gives ({majority:.3f})")
    else:
        message = (f"the accuracy, {accuracy:.3f}, is no better than always answering the most "
                   f"common class ({majority:.3f})")
    if constant:
        message += f"; the network gives the same answer for {most_predicted:.0%} of the examples"
    message += ": it has learned nothing beyond how often each class occurs."
    return [Finding("error" if stalled else "warning", "stuck_at_majority", message, [
        "Look at the dead-unit findings: one layer of dead ReLUs blocks everything.",
        "Re-initialise and train again (another seed, or he_uniform kernels with a small "
        "positive bias, Dense's default).",
        "If the loss is still creeping down: a larger learning rate or more epochs.",
        "Check the labels (are they shuffled with X? all one class?) and, for imbalanced "
        "classes, pass class_weight to fit.",
    ], None, {"accuracy": accuracy, "majority_rate": majority, "most_predicted": most_predicted})]


def _history_losses(model: Any, history: Any) -> list[float]:
    source = model.history if history is None else history
    if isinstance(source, History):
        source = source.history
    if source is None:
        return []
    if not isinstance(source, dict):
        raise TypeError(f"history must be a History, a dict of lists or None, got {source!r}")
    return [float(value) for value in source.get("loss", [])]


def diagnose(
    model: Any, X: Any, y: Any, *, sample_weight: Any = None, history: Any = None
) -> Diagnosis:
    """Look for the usual reasons a network does not learn, and explain them.

    Runs one forward and one backward pass on ``X``, ``y`` (inference mode) and reads
    the training history, then reports:

    * **dead ReLU units**: output 0 for every example, so zero gradient and no learning
      (an error when a whole layer is dead);
    * **vanishing / exploding gradients**: a layer's ‖gradient‖ 1e4 times smaller than
      the largest, or far larger than the others';
    * **saturated sigmoid/tanh units**: ``|z| > 5`` for more than 90% of the examples;
    * **a learning rate too large**: from the history, a loss that became NaN, went up,
      or oscillates;
    * **stuck at the majority class**: the loss stopped improving while the accuracy
      equals that of always answering the most common class.

    Parameters
    ----------
    model : Sequential
        Built and compiled.
    X, y : arrays
        Training examples (a few thousand are plenty).
    sample_weight : array of shape (n_samples,), optional
    history : History or dict, optional
        Defaults to ``model.history`` (set by the last ``fit``).

    Returns
    -------
    Diagnosis
        ``print(diagnosis)``; ``diagnosis.ok``; ``diagnosis.findings``.
    """
    require_numpy_model(model, "glassnet.diagnose")
    model._require_built("diagnose the model")
    _require_compiled(model, "diagnose the model")
    X, Y, weights = _prepare_data(model, X, y, sample_weight)
    losses = _history_losses(model, history)

    activity, A = _record_activity(model, X)
    saved_gradients = model.gradients.copy()
    try:
        loss = _objective(model, Y, A, weights)   # the layers still hold this forward pass
        model.backward(Y, A, weights)
        grad_norms = _layer_norms(model, "grads")
    finally:
        model.gradients[...] = saved_gradients
    weight_norms = _layer_norms(model, "params")

    findings, dead = _dead_relu_findings(activity, len(model.layers))
    saturation_findings, saturated = _saturation_findings(model, activity)
    findings += saturation_findings
    # Below a fully dead layer every gradient is exactly 0: that is the dead layer's
    # doing, reported there, not a vanishing gradient.
    blocked: set[str] = set()
    for record in activity:
        if dead.get(record.layer.name) and dead[record.layer.name] == record.A[0].size:
            blocked |= {layer.name for layer in model.layers[:record.position + 1]}
    findings += _gradient_findings(grad_norms, blocked)
    learning_rate = None
    if model.optimizer is not None:
        learning_rate = float(model.optimizer.current_learning_rate)
    findings += _loss_curve_findings(losses, learning_rate)
    accuracy = majority = None
    scores = _class_accuracy(model, A, Y)
    if scores is not None:
        accuracy, majority, most_predicted = scores
        findings += _majority_findings(accuracy, majority, most_predicted, losses)

    activations = {record.layer.name: record for record in activity}
    layer_stats = []
    for layer in model.layers:
        layer_activity = activations.get(layer.name)
        layer_stats.append({
            "name": layer.name,
            "activation": None if layer_activity is None else layer_activity.activation,
            "units": int(np.prod(layer.output_shape)),
            "dead": dead.get(layer.name),
            "saturated": saturated.get(layer.name),
            "grad_norm": grad_norms.get(layer.name),
            "weight_norm": weight_norms.get(layer.name),
        })
    return Diagnosis(model.name, len(X), findings, layer_stats, accuracy, majority, loss)


# ======================================================================== the callback
class DiagnosticsMonitor(Callback):
    """Watch training for the problems :func:`diagnose` knows; record gradient norms.

    After every epoch it looks at the loss so far (NaN, rising, oscillating) and,
    every ``every`` epochs when ``X`` and ``y`` are given, runs :func:`diagnose` on
    them (dead units, saturation, vanishing gradients, stuck at the majority class).
    Each kind of problem is reported once, as a :class:`DiagnosticWarning` of one line.

    With ``record_norms=True`` it adds to each epoch's logs, so that ``History``
    keeps them, for every layer with parameters:

    * ``grad_norm/<layer>``: ‖gradient‖ of the layer's parameters (kernel and bias),
      averaged over the epoch's batches;
    * ``weight_norm/<layer>``: ‖parameters‖ at the end of the epoch.

    To see the batch gradients the monitor wraps ``model.backward`` during ``fit``
    (and puts it back at the end): the optimizer reuses the gradient buffer as
    scratch space, so it cannot be read after the step.

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
        self.record_norms = bool(record_norms)
        self.warn = bool(warn)
        self.findings: list[tuple[int, Finding]] = []
        self._restore_backward: Any = None

    # -- gradient norms of the batches -------------------------------------------
    def _watch_backward(self) -> None:
        model = self.model
        had_own = "backward" in vars(model)
        original = model.backward

        def backward_and_measure(Y: np.ndarray, A: np.ndarray,
                                 sample_weight: np.ndarray | None = None) -> None:
            original(Y, A, sample_weight)
            for name, norm in _layer_norms(model, "grads").items():
                self._grad_sums[name] = self._grad_sums.get(name, 0.0) + norm
            self._batches += 1

        def restore() -> None:
            if had_own:
                model.backward = original
            else:
                del model.backward

        model.backward = backward_and_measure
        self._restore_backward = restore

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._warned: set[str] = set()
        self._losses: list[float] = []
        self._grad_sums: dict[str, float] = {}
        self._batches = 0
        if self.record_norms and self._restore_backward is None:
            self._watch_backward()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._grad_sums, self._batches = {}, 0

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
        optimizer = self.model.optimizer
        learning_rate = None if optimizer is None else float(optimizer.current_learning_rate)
        findings = _loss_curve_findings(self._losses, learning_rate)
        if self.X is not None and (epoch + 1) % self.every == 0:
            diagnosis = diagnose(self.model, self.X, self.y, history={"loss": self._losses})
            findings += [f for f in diagnosis.findings if f.kind not in
                         ("diverged", "loss_increasing", "oscillating_loss")]
        elif self.X is None and grad_norms:
            findings += _gradient_findings(grad_norms, set())
        for finding in findings:
            if finding.severity == "info" or finding.kind in self._warned:
                continue
            self._warned.add(finding.kind)
            self.findings.append((epoch, finding))
            if self.warn:
                hint = f" Try: {finding.remedies[0]}" if finding.remedies else ""
                warnings.warn(f"Epoch {epoch + 1}: {finding.message}{hint}", DiagnosticWarning,
                              stacklevel=2)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._restore_backward is not None:
            self._restore_backward()
            self._restore_backward = None

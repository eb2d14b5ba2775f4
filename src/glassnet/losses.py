r"""Loss functions: the number that training makes small, and its gradient.

Conventions (the same as Keras)
-------------------------------
Samples are rows. ``y_pred`` (the network's output ``A``) has shape ``(m, k)``:
``m`` examples, ``k`` output units. ``y_true`` has the same shape, except for
:class:`SparseCategoricalCrossentropy`, whose targets are ``m`` class ids.

* ``per_sample(y_true, y_pred)`` is the loss ``l_i`` of each example, shape ``(m,)``.
  Element-wise losses (MSE, MAE, binary cross-entropy, Huber, hinge, log-cosh)
  average over the ``k`` outputs; categorical cross-entropy sums over the classes.
* ``loss(y_true, y_pred, sample_weight=w)`` is the batch loss
  ``L = (1/m) Σ_i w_i l_i`` (``w_i = 1`` by default; Keras's ``"sum_over_batch_size"``).
* ``gradient(y_true, y_pred)`` is ``∂l_i/∂ŷ_i`` for every example, shape ``(m, k)``.
  It is **not** divided by ``m``: the Dense layer does that, as the textbook writes
  ``dW = A_prevᵀ · dZ / m``.
* ``output_gradient(y_true, a, z, activation_name)`` is ``∂l_i/∂z_i`` straight through
  the output activation when the product of the two derivatives simplifies
  (sigmoid with binary cross-entropy, softmax with categorical cross-entropy), else
  ``None``.

Numerical safety
----------------
Probabilities are clipped to ``[EPSILON, 1 - EPSILON]`` with Keras's
``EPSILON = 1e-7`` before taking logs, so ``log(0)`` never happens; the largest
loss a single probability can produce is ``-log(1e-7) ≈ 16.1``. Losses written
in terms of logits (``from_logits=True``, or ``per_sample(..., z=Z)``) need no
clipping: they use ``max(z, 0) - z·y + log(1 + e^{-|z|})`` and the log-sum-exp
trick, which are exact and never overflow, even for float32 logits of ±1e4.

Backends
--------
The computations go through ``xp``, the namespace of the active array backend
(:mod:`glassnet.backend`): ``per_sample``, ``gradient`` and ``output_gradient``
accept NumPy arrays or array-likes and return arrays of the active backend (NumPy
arrays on the default backend). :meth:`Loss.prepare_targets` checks the user's
targets once, on the host, and returns a NumPy array; the model copies it to the
backend.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet import activations
from glassnet._arrays import as_float_array
from glassnet._validation import check_array, check_bool, check_choice, check_float, check_int
from glassnet.backend import dtype_name, on_backend, xp
from glassnet.config import float_dtype

EPSILON = 1e-7
"""Keras's ``backend.epsilon()``: probabilities are clipped to ``[EPSILON, 1 - EPSILON]``."""

_sigmoid = activations.Sigmoid().forward   # σ(z) = 1 / (1 + e^{-z}), overflow-safe
_softmax = activations.Softmax().forward   # softmax(z)_j = e^{z_j - max z} / Σ_c e^{z_c - max z}


# --------------------------------------------------------------------------- helpers
def _as_rows(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Both as float ``(m, k)`` arrays; ``(m,)`` is read as ``(m, 1)`` (as Keras does)."""
    y_pred = as_float_array(y_pred)
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    y_true = as_float_array(y_true)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_true.shape != y_pred.shape:
        raise ValueError(
            "y_true and y_pred must have the same shape (m, k), "
            f"got {y_true.shape} and {y_pred.shape}"
        )
    return y_true, y_pred


def _class_ids(y_true: Any) -> np.ndarray:
    """Class ids ``c`` (``(m,)`` or ``(m, 1)``) as an integer array of shape ``(m,)``."""
    if xp.is_numpy:
        ids = np.asarray(y_true).reshape(-1)
        return ids if ids.dtype.kind in "iu" else ids.astype(np.int64)
    ids = xp.reshape(on_backend(y_true), (-1,))
    return ids if dtype_name(ids).startswith(("int", "uint")) else xp.astype(ids, xp.int64)


def _empty_like(y_pred: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    return xp.empty_like(y_pred) if out is None else out


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """``log softmax(z)_j = z_j - log Σ_c e^{z_c}`` along axis 1, via log-sum-exp.

    Subtracting the row maximum first makes every exponent ``≤ 0``. Shape ``(m, k)``.
    """
    shifted = z - xp.max(z, axis=1, keepdims=True)
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=1, keepdims=True))


def _pick(matrix: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``matrix[i, c_i]`` for every row ``i``, shape ``(m,)``.

    The array API has no ``matrix[rows, ids]``; ``take`` on the flattened matrix with
    the flat index ``i·k + c_i`` of each row's entry does the same.
    """
    if xp.is_numpy:  # NumPy's own indexing is faster than np.take(np.reshape(...)) by ~1 µs
        return matrix[np.arange(matrix.shape[0]), ids]
    m, k = matrix.shape
    return xp.take(xp.reshape(matrix, (-1,)), xp.arange(0, m * k, k) + ids)


def _one_hot(ids: np.ndarray, k: int, dtype: Any) -> np.ndarray:
    """The one-hot rows of class ids: ``[i, j] = 1`` where ``j = c_i``, else 0; shape ``(m, k)``."""
    return xp.astype(xp.reshape(ids, (-1, 1)) == xp.arange(k), dtype)


def _subtract_one_hot(out: np.ndarray, ids: np.ndarray) -> None:
    """``out[i, c_i] -= 1`` for every row ``i``, in place."""
    if not xp.is_numpy:
        out -= _one_hot(ids, out.shape[1], out.dtype)
    elif out.flags.c_contiguous:  # one flat index per row, no (m, k) temporary
        k = out.shape[1]
        out.reshape(-1)[np.arange(0, len(ids) * k, k) + ids] -= 1.0
    else:
        out[np.arange(len(ids)), ids] -= 1.0


def mean_over_outputs(values: np.ndarray) -> np.ndarray:
    """``values.mean(axis=1)``: the per-sample average over the ``k`` outputs, shape ``(m,)``.

    With one output (the usual case) it is just the column, with no reduction.
    """
    if values.shape[1] == 1:
        return values[:, 0]
    return xp.sum(values, axis=1) / values.shape[1]


def sample_weight_vector(sample_weight: Any, m: int) -> np.ndarray | None:
    """Check ``sample_weight`` and return it as shape ``(m,)`` (``None`` stays ``None``).

    NumPy data and lists are checked on the host (numbers, finite) and copied to the
    backend; an array of another active backend (the model's own weights, checked by
    ``fit``) only has its size checked, so that it never leaves the device.
    """
    if sample_weight is None:
        return None
    if not xp.is_numpy and isinstance(sample_weight, xp.array_type):
        weights = sample_weight
    else:
        weights = xp.from_numpy(check_array(
            "sample_weight", sample_weight, ndim=(0, 1, 2), dtype=np.float64, allow_empty=True
        ))
    if weights.ndim == 0:
        return xp.full((m,), float(weights), dtype=xp.float64)
    if math.prod(weights.shape) != m:
        raise ValueError(
            f"sample_weight must hold one weight per sample ({m}), got shape {weights.shape}"
        )
    return xp.reshape(weights, (m,))


def _host_dtype(dtype: Any) -> np.dtype:
    """``dtype`` (``None``: the configured float type) as a NumPy dtype; a dtype of another
    backend, such as ``array_api_strict.float32``, is read by its name."""
    if dtype is None:
        return float_dtype()
    try:
        return np.dtype(dtype)
    except TypeError:
        return np.dtype(str(dtype).rsplit(".", 1)[-1])


def _first_offending_value(values: np.ndarray, bad: np.ndarray) -> str:
    return f"{values[bad].flat[0]:g}"


# --------------------------------------------------------------------------- base class
#: Every Loss class by lower-case class name (the ``class_name`` of a saved config).
LOSS_CLASSES: dict[str, type[Loss]] = {}
#: Every loss by the names users write (``'mse'``, ``'binary_crossentropy'``, ...).
_ALIASES: dict[str, type[Loss]] = {}


class Loss:
    """Base class. Subclasses implement :meth:`per_sample` and :meth:`gradient`.

    Attributes
    ----------
    name : str
        The registry name (``get(name)`` builds this loss). A subclass joins the
        registry :data:`LOSS_CLASSES` when it is defined (by class name, and by ``name``
        when it sets its own), so configs and model files can name it.
    formula, latex : str
        The per-sample loss ``l`` for one example, as text and as LaTeX.
    gradient_formula, gradient_latex : str
        Its gradient ``∂l/∂A`` (what :meth:`gradient` computes), written with ``A`` the
        output, ``Y`` the targets and ``k`` the number of outputs.
    fused_formula, fused_latex : str
        ``dZ`` of the output layer when the loss fuses with its activation
        (:meth:`fuses_with`: the derivative of the activation cancels), else ``''``.
    from_logits : bool
        Whether ``y_pred`` holds logits (scores before sigmoid/softmax).
    logits_activation : str or None
        The output activation this loss fuses with: :meth:`per_sample` can use its
        pre-activation ``z`` (``'sigmoid'`` for binary, ``'softmax'`` for categorical
        cross-entropy). Pass ``z`` only when :meth:`fuses_with` says so.
    """

    name = "loss"
    formula = ""
    latex = ""
    gradient_formula = "∂l/∂A"
    gradient_latex = r"\frac{\partial \ell}{\partial A}"
    fused_formula = ""
    fused_latex = ""
    from_logits = False
    logits_activation: str | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LOSS_CLASSES[cls.__name__.lower()] = cls
        if "name" in cls.__dict__:
            _ALIASES[cls.name] = cls

    # -- targets ---------------------------------------------------------------
    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any = None) -> np.ndarray:
        """Validate and convert the user's targets once, before training.

        Parameters
        ----------
        y : array-like, shape (m, n_outputs), or (m,) when n_outputs == 1
        n_outputs : int
            Number of units ``k`` of the model's output layer.
        dtype : dtype, optional
            Float type of the result; default ``glassnet.config.float_dtype()``.

        Returns
        -------
        NumPy ndarray of shape (m, n_outputs) and the given float dtype (the model
        copies it to the active backend).
        """
        n_outputs = check_int("n_outputs", n_outputs)
        y = self._check_values(check_array("y", y, ndim=(1, 2)))
        if y.ndim == 1 and n_outputs == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"{self.name} expects targets of shape (m, {n_outputs}) for a model with "
                f"{n_outputs} output unit(s), got y of shape {y.shape}"
            )
        y = self._convert(y)
        return np.ascontiguousarray(y, dtype=_host_dtype(dtype))

    def _check_values(self, y: np.ndarray) -> np.ndarray:
        """Hook: raise if the values of ``y`` make no sense for this loss."""
        return y

    def _convert(self, y: np.ndarray) -> np.ndarray:
        """Hook: turn checked targets into the form :meth:`per_sample` expects."""
        return y

    # -- value -----------------------------------------------------------------
    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        """The loss ``l_i`` of every example, shape ``(m,)``.

        ``z`` is the output layer's pre-activation, ``y_pred = g(z)``. The cross-entropies
        use it (when ``g`` is :attr:`logits_activation`) to compute the loss from logits,
        exactly, instead of clipping ``y_pred``; the other losses ignore it.
        """
        raise NotImplementedError

    def __call__(
        self, y_true: Any, y_pred: Any, sample_weight: Any = None, *, z: Any = None
    ) -> float:
        """Batch loss ``L = (1/m) Σ_i w_i l_i`` (a Python float)."""
        losses = self.per_sample(y_true, y_pred, z=z)
        m = losses.shape[0]
        weights = sample_weight_vector(sample_weight, m)
        if weights is None:
            return float(xp.mean(losses))
        return float(xp.vdot(weights, losses)) / m

    def weighted_sum(self, y_true: Any, y_pred: Any, *, z: Any = None, sample_weight: Any = None) -> float:
        """``Σ_i w_i·l_i`` over the rows of a batch (``w = 1`` without sample weights)."""
        losses = self.per_sample(y_true, y_pred, z=z)
        if sample_weight is None:
            return float(xp.sum(losses))
        return float(xp.vdot(losses, sample_weight))

    # -- gradients -------------------------------------------------------------
    def fuses_with(self, activation_name: str) -> bool:
        """Whether this loss and the output activation ``g`` are differentiated together.

        The one place that decides it. For sigmoid + binary cross-entropy and softmax +
        categorical cross-entropy, ``g'`` cancels against ``∂l/∂a`` and backpropagation
        starts at ``dZ = (A - Y) / k`` (:meth:`output_gradient`); then the loss is also
        computed from the logits ``z`` (exact, no clipping of ``log(0)``).
        """
        return activation_name == self.logits_activation and not self.from_logits

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        """``∂l_i/∂ŷ_i`` for every example, shape ``(m, k)``, dtype of ``y_pred``.

        Not divided by ``m``. ``out`` (shape ``(m, k)``) receives the result if given.
        """
        raise NotImplementedError

    def output_gradient(
        self,
        y_true: np.ndarray,
        a: np.ndarray,
        z: np.ndarray,
        activation_name: str,
        out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """``∂l_i/∂z_i`` through the output activation ``a = g(z)``, or ``None``.

        For a linear output (``a = z``) this is just :meth:`gradient`. Subclasses add
        the sigmoid / softmax cases where ``g'`` cancels. ``None`` tells the model to
        use the general chain rule ``dZ = gradient(y, a) * g'(z)``.
        """
        if activation_name == "linear":
            return self.gradient(y_true, a, out=out)
        return None

    # -- presentation ------------------------------------------------------------
    def written_out(self, y: np.ndarray, a: np.ndarray, number: Any, max_values: int = 8) -> str | None:
        """The loss of one example with its numbers put in (``y``, ``a`` of shape ``(k,)``),
        e.g. ``-[1.0000·log(0.7311) + 0.0000·log(0.2689)]``; None where not written out.

        ``number`` formats one value. :func:`glassnet.explain.trace` shows it.
        """
        return None

    # -- serialisation ---------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """``{'class_name': ..., **constructor arguments}``; ``get(config)`` rebuilds it."""
        return {"class_name": type(self).__name__}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "class_name")
        return f"{type(self).__name__}({args})"


# --------------------------------------------------------------------------- regression
class MeanSquaredError(Loss):
    r"""Mean squared error.

    ``l = (1/k) Σ_j (ŷ_j - y_j)²``;  gradient ``∂l/∂ŷ = 2 (ŷ - y) / k``.
    """

    name = "mean_squared_error"
    formula = "l = (1/k) Σ_j (ŷ_j - y_j)²"
    latex = r"\ell = \frac{1}{k}\sum_j (\hat y_j - y_j)^2"
    gradient_formula = "∂l/∂A = 2 (A - Y) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{2}{k}(A - Y)"

    def written_out(self, y: np.ndarray, a: np.ndarray, number: Any, max_values: int = 8) -> str | None:
        if a.size > max_values:
            return None
        squares = " + ".join(f"({number(p)} - {number(t)})²" for t, p in zip(y, a, strict=True))
        return squares if a.size == 1 else f"({squares}) / {a.size}"

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        return mean_over_outputs(xp.square(y_pred - y_true))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        out = xp.subtract(y_pred, y_true, out=_empty_like(y_pred, out))
        out *= 2.0 / y_pred.shape[1]
        return out


class MeanAbsoluteError(Loss):
    r"""Mean absolute error.

    ``l = (1/k) Σ_j |ŷ_j - y_j|``;  gradient ``∂l/∂ŷ = sign(ŷ - y) / k`` (0 where ``ŷ = y``).
    """

    name = "mean_absolute_error"
    formula = "l = (1/k) Σ_j |ŷ_j - y_j|"
    latex = r"\ell = \frac{1}{k}\sum_j |\hat y_j - y_j|"
    gradient_formula = "∂l/∂A = sign(A - Y) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{1}{k}\,\mathrm{sign}(A - Y)"

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        return mean_over_outputs(xp.abs(y_pred - y_true))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        out = xp.subtract(y_pred, y_true, out=_empty_like(y_pred, out))
        xp.sign(out, out=out)
        out *= 1.0 / y_pred.shape[1]
        return out


class Huber(Loss):
    r"""Huber loss: squared for small errors, linear for large ones.

    With ``e = ŷ - y``::

        l = (1/k) Σ_j  { ½ e_j²              if |e_j| ≤ δ
                       { δ |e_j| - ½ δ²      otherwise

    Gradient ``∂l/∂ŷ = clip(e, -δ, δ) / k``.

    Parameters
    ----------
    delta : float
        ``δ > 0``, where the loss turns from quadratic to linear.
    """

    name = "huber"
    formula = "l = (1/k) Σ_j [½ e_j² if |e_j| ≤ δ else δ|e_j| - ½δ²],  e = ŷ - y"
    latex = (
        r"\ell = \frac{1}{k}\sum_j \begin{cases} \tfrac12 e_j^2 & |e_j|\le\delta \\ "
        r"\delta |e_j| - \tfrac12\delta^2 & \text{otherwise}\end{cases},\quad e=\hat y-y"
    )

    gradient_formula = "∂l/∂A = clip(A - Y, -δ, δ) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{1}{k}\,\mathrm{clip}(A - Y, -\delta, \delta)"

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = check_float("delta", delta, low=0.0, low_inclusive=False)
        self.formula += f",  δ = {self.delta:g}"
        self.latex += rf",\ \delta = {self.delta:g}"

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        error = y_pred - y_true
        abs_error = xp.abs(error)
        quadratic = 0.5 * xp.square(error)
        linear = self.delta * abs_error - 0.5 * self.delta**2
        return mean_over_outputs(xp.where(abs_error <= self.delta, quadratic, linear))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        out = xp.subtract(y_pred, y_true, out=_empty_like(y_pred, out))
        xp.minimum(out, self.delta, out=out)                  # clip(e, -δ, δ)
        xp.maximum(out, -self.delta, out=out)
        out *= 1.0 / y_pred.shape[1]
        return out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "delta": self.delta}


class LogCosh(Loss):
    r"""Logarithm of the hyperbolic cosine of the error.

    ``l = (1/k) Σ_j log cosh(e_j)``, ``e = ŷ - y``; about ``½e²`` for small errors and
    ``|e| - log 2`` for large ones. Computed as ``e + softplus(-2e) - log 2`` (as Keras
    does), which never overflows. Gradient ``∂l/∂ŷ = tanh(e) / k``.
    """

    name = "log_cosh"
    formula = "l = (1/k) Σ_j log(cosh(ŷ_j - y_j))"
    latex = r"\ell = \frac{1}{k}\sum_j \log\cosh(\hat y_j - y_j)"
    gradient_formula = "∂l/∂A = tanh(A - Y) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{1}{k}\tanh(A - Y)"

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        error = y_pred - y_true
        # softplus(t) = log(1 + e^t) = max(t, 0) + log1p(e^{-|t|}), with t = -2e
        softplus = xp.maximum(-2.0 * error, 0.0) + xp.log1p(xp.exp(-2.0 * xp.abs(error)))
        # log cosh >= 0; the subtraction of log 2 can round to -6e-8 in float32 near e = 0
        return mean_over_outputs(xp.maximum(error + softplus - math.log(2.0), 0.0))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        out = xp.subtract(y_pred, y_true, out=_empty_like(y_pred, out))
        xp.tanh(out, out=out)
        out *= 1.0 / y_pred.shape[1]
        return out


class Hinge(Loss):
    r"""Hinge loss (maximum-margin classification).

    ``l = (1/k) Σ_j max(0, 1 - y_j ŷ_j)`` with labels ``y ∈ {-1, 1}``. Labels in
    ``{0, 1}`` are converted with ``y ← 2y - 1``, as Keras does (the conversion leaves
    ``{-1, 1}`` labels unchanged, so it is safe to repeat). ``ŷ`` is a raw score
    (use a linear or tanh output). Gradient ``∂l/∂ŷ = -y / k`` where ``y ŷ < 1``, else 0.
    """

    name = "hinge"
    formula = "l = (1/k) Σ_j max(0, 1 - y_j ŷ_j),  y ∈ {-1, 1}"
    latex = r"\ell = \frac{1}{k}\sum_j \max(0,\ 1 - y_j \hat y_j),\quad y\in\{-1,1\}"
    gradient_formula = "∂l/∂A = -Y * [Y * A < 1] / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = -\tfrac{1}{k}\, Y \odot [Y \odot A < 1]"

    @staticmethod
    def _signed(y_true: np.ndarray) -> np.ndarray:
        """``2y - 1`` for labels in ``{0, 1}``; other labels unchanged (any backend)."""
        if xp.all((y_true == 0) | (y_true == 1)):
            return 2.0 * y_true - 1.0
        return y_true

    def _check_values(self, y: np.ndarray) -> np.ndarray:
        zero_one = (y == 0) | (y == 1)
        minus_one_one = (y == -1) | (y == 1)
        if not (zero_one.all() or minus_one_one.all()):
            bad = ~(zero_one | minus_one_one)
            value = _first_offending_value(y, bad) if bad.any() else "both 0 and -1"
            raise ValueError(f"hinge expects labels in {{-1, 1}} or {{0, 1}}; y contains {value}")
        return y

    def _convert(self, y: np.ndarray) -> np.ndarray:
        # the targets are checked on the host (NumPy), whatever the backend
        return 2.0 * y - 1.0 if np.all((y == 0) | (y == 1)) else y

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        margin = 1.0 - self._signed(y_true) * y_pred
        return mean_over_outputs(xp.maximum(margin, 0.0))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        signed = self._signed(y_true)
        out = xp.multiply(signed, -1.0 / y_pred.shape[1], out=_empty_like(y_pred, out))
        out *= xp.astype(signed * y_pred < 1.0, out.dtype)          # 0 where the margin is met
        return out


# --------------------------------------------------------------------------- cross-entropies
class BinaryCrossentropy(Loss):
    r"""Binary cross-entropy (log loss), for sigmoid outputs.

    ``l = -(1/k) Σ_j [y_j log a_j + (1 - y_j) log(1 - a_j)]``, ``y ∈ [0, 1]``,
    ``a = clip(ŷ, ε, 1 - ε)``, ``ε = 1e-7``.

    Gradient with respect to the probability: ``∂l/∂a = (a - y) / (a (1 - a)) / k``
    (0 where ``ŷ`` lies outside the clip range, as the clip is flat there).

    From logits (``from_logits=True``, or ``per_sample(y, a, z=z)`` with ``a = σ(z)``)
    the same loss is ``(1/k) Σ_j [max(z_j, 0) - z_j y_j + log(1 + e^{-|z_j|})]``,
    exact and overflow-free, with gradient ``∂l/∂z = (σ(z) - y) / k``.

    Fused sigmoid + BCE (:meth:`output_gradient`): ``∂l/∂z = (a - y) / k``, because
    ``∂l/∂a = (a - y) / (a(1 - a)) / k`` and ``σ'(z) = a(1 - a)``: the denominators cancel.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits ``z`` instead of probabilities ``a = σ(z)``.
    """

    name = "binary_crossentropy"
    logits_activation = "sigmoid"
    formula = "l = -[y log(a) + (1-y) log(1-a)]  (averaged over the k outputs)"
    latex = r"\ell = -\frac{1}{k}\sum_j \left[y_j\log a_j + (1-y_j)\log(1-a_j)\right]"

    gradient_formula = "∂l/∂A = (A - Y) / (A (1 - A)) / k"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{1}{k}\,\frac{A - Y}{A \odot (1 - A)}"
    fused_formula = "dZ = (A - Y) / k"
    fused_latex = r"dZ = \tfrac{1}{k}(A - Y)"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = check_bool("from_logits", from_logits)
        if self.from_logits:
            self.gradient_formula = "∂l/∂A = (σ(A) - Y) / k"
            self.gradient_latex = r"\frac{\partial \ell}{\partial A} = \tfrac{1}{k}(\sigma(A) - Y)"

    def written_out(self, y: np.ndarray, a: np.ndarray, number: Any, max_values: int = 8) -> str | None:
        if a.size > max_values:
            return None
        terms = " + ".join(f"[{number(t)}·log({number(p)}) + {number(1 - t)}·log({number(1 - p)})]"
                           for t, p in zip(y, a, strict=True))
        return f"-{terms}" if a.size == 1 else f"-(1/{a.size})({terms})"

    def _check_values(self, y: np.ndarray) -> np.ndarray:
        outside = (y < 0) | (y > 1)
        if outside.any():
            raise ValueError(
                f"binary_crossentropy expects targets in [0, 1]; y contains "
                f"{_first_offending_value(y, outside)}. For class ids 0..K-1 use "
                f"loss='sparse_categorical_crossentropy' with a softmax output of K units."
            )
        return y

    @staticmethod
    def _from_logits(y_true: np.ndarray, z: np.ndarray) -> np.ndarray:
        # -[y log σ(z) + (1-y) log(1-σ(z))] = max(z, 0) - z y + log(1 + e^{-|z|})
        return mean_over_outputs(xp.maximum(z, 0.0) - z * y_true + xp.log1p(xp.exp(-xp.abs(z))))

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        if self.from_logits:
            return self._from_logits(y_true, y_pred)
        if z is not None:
            return self._from_logits(y_true, _as_rows(y_true, z)[1])
        a = xp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return mean_over_outputs(-(y_true * xp.log(a) + (1.0 - y_true) * xp.log1p(-a)))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        k = y_pred.shape[1]
        if self.from_logits:
            out = _sigmoid(y_pred, out=_empty_like(y_pred, out))   # σ(z)
            out -= y_true                                         #      - y
            out *= 1.0 / k
            return out
        a = xp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        inside = xp.astype(a == y_pred, a.dtype)
        out = xp.subtract(a, y_true, out=_empty_like(y_pred, out))  # (a - y)
        out /= a * (1.0 - a)                                        #   / (a (1 - a))
        out *= inside                                               # 0 where clipped
        if k != 1:
            out *= 1.0 / k
        return out

    def output_gradient(
        self,
        y_true: np.ndarray,
        a: np.ndarray,
        z: np.ndarray,
        activation_name: str,
        out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """``dZ = (A - Y) / k`` for a sigmoid output (``(σ(Z) - Y) / k`` from logits)."""
        if self.fuses_with(activation_name):
            if not xp.is_numpy:
                y_true, a = on_backend(y_true), on_backend(a)
            out = xp.subtract(a, y_true, out=_empty_like(a, out))
            if a.shape[1] != 1:
                out *= 1.0 / a.shape[1]
            return out
        return super().output_gradient(y_true, a, z, activation_name, out=out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    r"""Categorical cross-entropy, for softmax outputs and one-hot targets.

    ``l = -Σ_j y_j log a_j``, ``a = clip(ŷ, ε, 1 - ε)``, ``ε = 1e-7``; each row of ``y``
    sums to 1 (one-hot or soft labels). Gradient ``∂l/∂a_j = -y_j / a_j``
    (0 outside the clip range).

    From logits: ``l = log Σ_c e^{z_c} - Σ_j y_j z_j`` (log-sum-exp), gradient
    ``∂l/∂z = softmax(z) · Σ_j y_j - y``, i.e. ``softmax(z) - y``.

    Fused softmax + CE (:meth:`output_gradient`): ``∂l/∂z = a - y``. Derivation:
    ``∂a_c/∂z_j = a_c (δ_cj - a_j)``, so ``∂l/∂z_j = Σ_c (-y_c/a_c) a_c (δ_cj - a_j)
    = -y_j + a_j Σ_c y_c = a_j - y_j`` because the rows of ``y`` sum to 1.

    Keras also divides each probability row by its sum before clipping; for the output
    of a softmax (rows that sum to 1) the two are the same.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits ``z`` instead of probabilities ``softmax(z)``.
    """

    name = "categorical_crossentropy"
    logits_activation = "softmax"
    formula = "l = -Σ_j y_j log(a_j)"
    latex = r"\ell = -\sum_j y_j \log a_j"

    gradient_formula = "∂l/∂A = -Y / A"
    gradient_latex = r"\frac{\partial \ell}{\partial A} = -\frac{Y}{A}"
    fused_formula = "dZ = A - Y"
    fused_latex = r"dZ = A - Y"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = check_bool("from_logits", from_logits)
        if self.from_logits:
            self.gradient_formula = "∂l/∂A = softmax(A) - Y"
            self.gradient_latex = r"\frac{\partial \ell}{\partial A} = \mathrm{softmax}(A) - Y"

    def written_out(self, y: np.ndarray, a: np.ndarray, number: Any, max_values: int = 8) -> str | None:
        if a.size > max_values:
            return None
        terms = [f"{number(t)}·log({number(p)})" for t, p in zip(y, a, strict=True) if t != 0]
        return "-(" + " + ".join(terms) + ")"

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any = None) -> np.ndarray:
        n_outputs = check_int("n_outputs", n_outputs)
        y = check_array("y", y, ndim=(1, 2))
        hint = (
            "If y holds integer class ids, use loss='sparse_categorical_crossentropy' or "
            f"convert them with to_categorical(y, {n_outputs})."
        )
        if n_outputs == 1:
            hint = "With a single output unit use loss='binary_crossentropy' and a sigmoid."
        if y.ndim != 2 or y.shape[1] != n_outputs:
            raise ValueError(
                f"categorical_crossentropy expects one-hot targets of shape (m, {n_outputs}), "
                f"got y of shape {y.shape}. {hint}"
            )
        row_sums = y.sum(axis=1)  # host (NumPy) checks
        off = np.abs(row_sums - 1.0) > 1e-3
        if off.any() or (y < 0).any():
            detail = (
                f"row {int(np.argmax(off))} sums to {row_sums[off][0]:g}"
                if off.any()
                else f"y contains {y.min():g}"
            )
            raise ValueError(
                "categorical_crossentropy expects each row of y to be a probability vector "
                f"(non-negative, summing to 1); {detail}. {hint}"
            )
        return np.ascontiguousarray(y, dtype=_host_dtype(dtype))

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        if self.from_logits:
            return -xp.sum(y_true * _log_softmax(y_pred), axis=1)
        if z is not None:
            return -xp.sum(y_true * _log_softmax(_as_rows(y_true, z)[1]), axis=1)
        a = xp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        return -xp.sum(y_true * xp.log(a), axis=1)

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        y_true, y_pred = _as_rows(y_true, y_pred)
        if self.from_logits:
            out = _softmax(y_pred, out=_empty_like(y_pred, out))   # softmax(z)
            out *= xp.sum(y_true, axis=1, keepdims=True)           #   · Σ_j y_j  (= 1)
            out -= y_true                                         #   - y
            return out
        a = xp.clip(y_pred, EPSILON, 1.0 - EPSILON)
        out = xp.divide(y_true, a, out=_empty_like(y_pred, out))  # y / a
        xp.negative(out, out=out)                                 # -y / a
        out *= xp.astype(a == y_pred, a.dtype)                    # 0 where clipped
        return out

    def output_gradient(
        self,
        y_true: np.ndarray,
        a: np.ndarray,
        z: np.ndarray,
        activation_name: str,
        out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """``dZ = A - Y`` for a softmax output (rows of ``Y`` sum to 1)."""
        if self.fuses_with(activation_name):
            if not xp.is_numpy:
                y_true, a = on_backend(y_true), on_backend(a)
            return xp.subtract(a, y_true, out=_empty_like(a, out))
        return super().output_gradient(y_true, a, z, activation_name, out=out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


class SparseCategoricalCrossentropy(Loss):
    r"""Categorical cross-entropy with integer class ids as targets.

    ``y`` holds one class id ``c_i ∈ {0, …, k-1}`` per example (shape ``(m,)``); the loss
    is categorical cross-entropy against the one-hot vector of ``c_i``, which is never
    built: ``l_i = -log a_{i, c_i}``, ``a = clip(ŷ, ε, 1 - ε)``.

    Gradient ``∂l/∂a_{i,j} = -1/a_{i,j}`` for ``j = c_i`` (0 elsewhere and outside the
    clip). From logits: ``l = log Σ_c e^{z_c} - z_{c_i}``, ``∂l/∂z = softmax(z) - onehot(c)``.

    Fused softmax + CE (:meth:`output_gradient`): ``dZ = A - onehot(c)``, formed by
    copying ``A`` and subtracting 1 at ``[i, c_i]`` (on NumPy through one flat index per
    row; the array API cannot write at an index array, so other backends subtract the
    one-hot matrix); see :class:`CategoricalCrossentropy` for the derivation.

    Parameters
    ----------
    from_logits : bool
        Whether ``y_pred`` holds logits ``z`` instead of probabilities ``softmax(z)``.
    """

    name = "sparse_categorical_crossentropy"
    logits_activation = "softmax"
    formula = "l = -log(a_c),  c = the true class id"
    latex = r"\ell = -\log a_{c}"

    gradient_formula = "∂l/∂A = -1 / A at the true class, 0 elsewhere"
    gradient_latex = r"\frac{\partial \ell}{\partial A_{c}} = -\frac{1}{A_{c}}"
    fused_formula = "dZ = A - onehot(y)"
    fused_latex = r"dZ = A - \mathrm{onehot}(y)"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = check_bool("from_logits", from_logits)
        if self.from_logits:
            self.gradient_formula = "∂l/∂A = softmax(A) - onehot(y)"
            self.gradient_latex = (
                r"\frac{\partial \ell}{\partial A} = \mathrm{softmax}(A) - \mathrm{onehot}(y)"
            )

    def written_out(self, y: np.ndarray, a: np.ndarray, number: Any, max_values: int = 8) -> str | None:
        c = int(y.reshape(-1)[0])
        return f"-log(a_{c}) = -log({number(a[c])})   (true class {c})"

    def prepare_targets(self, y: Any, n_outputs: int, dtype: Any = None) -> np.ndarray:
        """Return the class ids as int64, shape ``(m,)`` (``dtype`` is ignored)."""
        n_outputs = check_int("n_outputs", n_outputs)
        y = check_array("y", y, ndim=(1, 2))
        if y.ndim == 2 and y.shape[1] != 1:
            raise ValueError(
                "sparse_categorical_crossentropy expects one integer class id per sample, "
                f"shape (m,), got y of shape {y.shape}. For one-hot targets use "
                "loss='categorical_crossentropy'."
            )
        y = y.reshape(-1)
        if y.dtype.kind == "f":
            fractional = y != np.round(y)
            if fractional.any():
                raise ValueError(
                    "sparse_categorical_crossentropy expects integer class ids; y contains "
                    f"{_first_offending_value(y, fractional)}"
                )
        invalid = (y < 0) | (y >= n_outputs)
        if invalid.any():
            raise ValueError(
                f"sparse_categorical_crossentropy expects class ids in [0, {n_outputs - 1}] "
                f"for a model with {n_outputs} output units; y contains "
                f"{_first_offending_value(y, invalid)}"
            )
        return y.astype(np.int64)

    def _rows(self, y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
        ids = _class_ids(y_true)
        y_pred = as_float_array(y_pred)
        if y_pred.ndim != 2 or ids.shape[0] != y_pred.shape[0]:
            raise ValueError(
                f"y_pred must have shape (m, k) with m = {ids.shape[0]} class ids, "
                f"got {y_pred.shape}"
            )
        return ids, y_pred

    def per_sample(self, y_true: Any, y_pred: Any, z: Any = None) -> np.ndarray:
        ids, y_pred = self._rows(y_true, y_pred)
        if self.from_logits or z is not None:
            logits = y_pred if self.from_logits else as_float_array(z)
            shift = xp.max(logits, axis=1, keepdims=True)                                # (m, 1)
            log_sum_exp = shift + xp.log(xp.sum(xp.exp(logits - shift), axis=1, keepdims=True))  # log Σ e^z
            return log_sum_exp[:, 0] - _pick(logits, ids)                     #   - z_{c_i}
        return -xp.log(xp.clip(_pick(y_pred, ids), EPSILON, 1.0 - EPSILON))

    def gradient(self, y_true: Any, y_pred: Any, out: np.ndarray | None = None) -> np.ndarray:
        ids, y_pred = self._rows(y_true, y_pred)
        out = _empty_like(y_pred, out)
        if self.from_logits:
            _softmax(y_pred, out=out)                                    # softmax(z)
            _subtract_one_hot(out, ids)                                  #   - onehot(c)
            return out
        true_class = _pick(y_pred, ids)                                  # a_{i, c_i}
        clipped = xp.clip(true_class, EPSILON, 1.0 - EPSILON)
        slope = xp.where(clipped == true_class, -1.0 / clipped, 0.0)     # 0 where clipped
        onehot = _one_hot(ids, y_pred.shape[1], y_pred.dtype)
        return xp.multiply(onehot, xp.reshape(slope, (-1, 1)), out=out)

    def output_gradient(
        self,
        y_true: np.ndarray,
        a: np.ndarray,
        z: np.ndarray,
        activation_name: str,
        out: np.ndarray | None = None,
    ) -> np.ndarray | None:
        """``dZ = A - onehot(y)`` for a softmax output (``out`` may be ``a`` itself)."""
        if self.fuses_with(activation_name):
            ids = _class_ids(y_true)
            if not xp.is_numpy:
                a = on_backend(a)
            if out is None:
                out = xp.copy(a)
            elif out is not a:
                xp.copyto(out, a)
            _subtract_one_hot(out, ids)
            return out
        return super().output_gradient(y_true, a, z, activation_name, out=out)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "from_logits": self.from_logits}


# --------------------------------------------------------------------------- registry
# Each class registered itself by class name and by its ``name``; Keras's short names too:
_ALIASES.update(mse=MeanSquaredError, mae=MeanAbsoluteError, logcosh=LogCosh)
_CLASSES = LOSS_CLASSES


def get(identifier: Any) -> Loss:
    """Turn a name, a config dict or a :class:`Loss` into a :class:`Loss`.

    Parameters
    ----------
    identifier : str, dict or Loss
        A Keras name or alias (``'mse'``, ``'binary_crossentropy'``, ...); a dict from
        :meth:`Loss.get_config` (``{'class_name': 'Huber', 'delta': 2.0}``) or in Keras's
        ``{'class_name': ..., 'config': {...}}`` form; or an instance, returned as is.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        config = dict(identifier)
        class_name = check_choice("loss class_name", config.pop("class_name", None), _CLASSES)
        return _CLASSES[class_name](**config.get("config", config))
    if isinstance(identifier, str):
        return _ALIASES[check_choice("loss", identifier, _ALIASES)]()
    raise TypeError(
        f"loss must be a name such as 'mse', a config dict or a Loss instance, "
        f"got {identifier!r} ({type(identifier).__name__})"
    )

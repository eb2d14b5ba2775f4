"""Activation functions ``a = g(z)`` and their derivatives.

Every activation works elementwise on an array ``Z`` of pre-activations of
shape ``(m, n)`` (``m`` examples in rows, ``n`` units), except softmax, which
normalises each row (the last axis). Each one knows three things:

* ``forward(Z)``: the output ``A = g(Z)``;
* ``derivative(Z, A)``: the elementwise slope ``g'(Z)``;
* ``backward(dA, Z, A)``: the chain rule ``dZ = dA * g'(Z)``, the gradient of
  the loss with respect to ``Z`` given ``dA``, its gradient with respect to ``A``.

Which one to choose
-------------------
============  ===================  ===============================================
activation    output range         use it for
============  ===================  ===============================================
relu          [0, inf)             hidden layers: cheap, no vanishing gradient for
                                   z > 0, but negative inputs give 0 and no gradient
leaky_relu    (-inf, inf)          hidden layers, when ReLU units "die"
sigmoid       (0, 1)               a probability (binary classifier output); in
                                   hidden layers its gradients vanish
tanh          (-1, 1)              hidden layers of small nets, RNNs; zero-centred
softmax       (0, 1), rows sum 1   the output layer of a multi-class classifier
binary_step   {0, 1}               inference only: its gradient is zero everywhere
linear        (-inf, inf)          the output layer of a regression
============  ===================  ===============================================

Speed notes: every ``forward`` and ``backward`` accepts ``out=`` and writes into
it with the backend's functions (``xp``, see :mod:`glassnet.backend`; on NumPy these
are NumPy's ufuncs), so a layer can reuse its buffers at each training step;
``backward(dA, Z, A, out=dA)`` works in place. Inputs keep their dtype (float32
stays float32) and no activation overflows, divides by zero or produces NaN for
finite inputs (checked for float32 inputs in [-1e4, 1e4]).

Backends: ``forward`` accepts an array of the active backend, or a NumPy array or
list (copied to the backend, integers becoming the default float type), and returns
an array of the active backend. ``derivative`` and ``backward`` take the arrays
``forward`` worked with. The array API has no arithmetic on booleans, so a 0/1 mask
such as ``[z > 0]`` is turned into floats (``xp.astype``) before it multiplies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._arrays import as_float_array
from glassnet._erfc import erfc
from glassnet._validation import check_bool, check_choice, check_float, check_positive
from glassnet.backend import xp

#: An array of the active backend (``numpy.ndarray``, an array-api-strict or CuPy array).
Array = Any

# --------------------------------------------------------------------------------------
# helpers


def _distinct_owners(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether NumPy arrays ``a`` and ``b`` are (views of) two different arrays that own
    their memory; NumPy's ``base`` is always the owner, never a view of it."""
    owner_a = a if a.base is None else a.base
    owner_b = b if b.base is None else b.base
    return owner_a is not owner_b and type(owner_a) is np.ndarray and type(owner_b) is np.ndarray


def _input_and_buffer(z: Any, out: Array | None) -> tuple[Array, Array]:
    """``z`` as an array of the active backend, and the array ``forward`` writes into:
    ``out`` (which must not overlap ``z``) or a new one."""
    if not isinstance(z, xp.array_type):
        z = as_float_array(z)
    if out is None:
        return z, xp.empty_like(z)
    # Views of two different NumPy arrays that own their memory cannot overlap: the exact
    # (slower) test is needed only when both come from the same owner, or from a buffer that
    # is not an array. The array API cannot tell whether two arrays share memory, so other
    # backends check identity only.
    if out is z or (
        xp.is_numpy
        and (out.base is not None or z.base is not None)
        and not _distinct_owners(out, z)
        and xp.may_share_memory(out, z)
    ):
        raise ValueError(
            "out must not share memory with z in forward(z, out=...): the activation reads z "
            "after it starts writing out; pass a separate buffer or out=None"
        )
    return z, out


def _copy_of(dA: Array, out: Array | None) -> Array:
    """``dA`` copied into ``out`` (no copy when ``out is dA``), or a fresh copy."""
    if out is None:
        return xp.copy(dA)
    if out is not dA:
        xp.copyto(out, dA)
    return out


def _sigmoid(z: Array, out: Array) -> Array:
    """``1 / (1 + exp(-z))`` computed in place in ``out``.

    ``-z`` is capped before ``exp`` so that it cannot overflow: at 87 in float32
    (``exp(87) = 6e37 < 3.4e38``) and 708 in float64; below the cap σ is smaller
    than the smallest normal number of the type anyway.
    This keeps full relative precision for very negative z, unlike
    ``0.5 * tanh(z / 2) + 0.5``, and needs no ``np.errstate`` (which costs more
    than a ufunc call on small arrays).
    """
    xp.negative(z, out=out)
    xp.minimum(out, 708.0 if out.dtype == xp.float64 else 87.0, out=out)
    xp.exp(out, out=out)
    out += 1.0
    return xp.reciprocal(out, out=out)


# --------------------------------------------------------------------------------------
# the base class

#: Every activation class by its ``name``: the built-in ones and any subclass that sets a
#: ``name`` of its own (it joins when it is defined, so configs and model files can name it).
ACTIVATION_CLASSES: dict[str, type[Activation]] = {}


class Activation:
    """An activation function ``a = g(z)``; subclasses fill in the formulas.

    Attributes
    ----------
    name : str
        The identifier accepted by :func:`get`, e.g. ``'relu'``. A subclass that sets its
        own name joins the registry :data:`ACTIVATION_CLASSES` when it is defined.
    formula, derivative_formula : str
        ``g(z)`` and ``g'(z)`` in plain text (with the values of the parameters, if any).
    latex, derivative_latex : str
        The same in LaTeX, for plots and notebooks.
    backward_formula, backward_latex : str
        The chain rule :meth:`backward` applies, ``dZ = dA * g'(Z)`` unless the
        activation says otherwise (softmax's Jacobian, linear's identity).
    trainable : bool
        Whether gradient descent can learn through it (False for ``binary_step``).
    elementwise : bool
        Whether ``g'`` is elementwise (False for softmax, whose slope is a Jacobian).
    """

    name: str = ""
    formula: str = ""
    derivative_formula: str = ""
    latex: str = ""
    derivative_latex: str = ""
    backward_formula: str = "dZ = dA * g'(Z)"
    backward_latex: str = r"dZ = dA \odot g'(Z)"
    trainable: bool = True
    #: Whether ``g'`` is elementwise, so that :meth:`derivative` exists (not for softmax).
    elementwise: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("name"):
            ACTIVATION_CLASSES[cls.name] = cls

    def forward(self, z: Array, out: Array | None = None) -> Array:
        """``A = g(Z)``.

        Parameters
        ----------
        z : array of shape (m, n)
            Pre-activations, one example per row: an array of the active backend, or a
            NumPy array or list (copied to the backend).
        out : array of the active backend, same shape and dtype as ``z``, optional
            Written into and returned. It must not share memory with ``z``.

        Returns
        -------
        array of shape (m, n), of the active backend
        """
        raise NotImplementedError

    def derivative(self, z: Array, a: Array) -> Array:
        """``g'(Z)`` elementwise; ``a = g(z)`` is passed so it can be reused."""
        raise NotImplementedError

    def backward(self, dA: Array, z: Array, a: Array, out: Array | None = None) -> Array:
        """The chain rule ``dZ = dA * g'(Z)``.

        Parameters
        ----------
        dA : array of shape (m, n)
            Gradient of the loss with respect to ``A``.
        z, a : array of shape (m, n)
            The forward pass's input and output. All three are arrays of the active backend.
        out : array of shape (m, n), optional
            Written into and returned; may be ``dA`` itself (in place), not ``z`` or ``a``.
        """
        return xp.multiply(dA, self.derivative(z, a), out=out)

    def __call__(self, z: Any) -> Array:
        return self.forward(as_float_array(z))

    def get_config(self) -> dict:
        """``{'name': ..., **parameters}``; :func:`get` rebuilds the activation from it."""
        return {"name": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))


# --------------------------------------------------------------------------------------
# the activations


class Linear(Activation):
    """The identity: ``g(z) = z``, ``g'(z) = 1``.

    Use it for the output layer of a regression, or for a layer whose
    non-linearity comes later (e.g. logits fed to a softmax cross-entropy loss).
    ``forward`` and ``backward`` return copies unless ``out`` is given.
    """

    name = "linear"
    formula = "g(z) = z"
    derivative_formula = "g'(z) = 1"
    latex = r"g(z) = z"
    derivative_latex = r"g'(z) = 1"
    backward_formula = "dZ = dA"
    backward_latex = "dZ = dA"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.copyto(out, z)
        return out

    def derivative(self, z, a):
        return xp.ones_like(z)

    def backward(self, dA, z, a, out=None):
        return _copy_of(dA, out)


class ReLU(Activation):
    """Rectified linear unit: ``g(z) = max(0, z)``, ``g'(z) = 1 if z > 0 else 0``.

    The default for hidden layers: one comparison per element and no vanishing
    gradient for positive inputs. It kills negative inputs (output and gradient
    0), so a unit whose inputs stay negative stops learning ("dying ReLU"); use
    ``leaky_relu`` or ``elu`` then. ``g'(0)`` is taken as 0, as in Keras and PyTorch.
    """

    name = "relu"
    formula = "g(z) = max(0, z)"
    derivative_formula = "g'(z) = 1 if z > 0 else 0"
    latex = r"g(z) = \max(0, z)"
    derivative_latex = r"g'(z) = \begin{cases} 1 & z > 0 \\ 0 & z \le 0 \end{cases}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        return xp.maximum(z, xp.zero(z.dtype), out=out)      # max(z, 0)

    def derivative(self, z, a):
        return xp.astype(z > xp.zero(z.dtype), z.dtype)

    def backward(self, dA, z, a, out=None):
        # dZ = dA * [z > 0]; on NumPy the float mask is also faster than a boolean one
        return xp.multiply(dA, xp.astype(z > xp.zero(z.dtype), dA.dtype), out=out)


class LeakyReLU(Activation):
    """Leaky ReLU: ``g(z) = z if z > 0 else alpha * z``, ``g'(z) = 1 if z > 0 else alpha``.

    Like ReLU for positive inputs, but negative inputs keep a small slope
    ``alpha`` so their units keep learning. ``alpha=0.2`` is the default of
    ``keras.activations.leaky_relu`` (the ``keras.layers.LeakyReLU`` layer uses 0.3).

    Parameters
    ----------
    alpha : float, default 0.2
        The slope for ``z <= 0``; ``alpha >= 0``.
    """

    name = "leaky_relu"
    formula = "g(z) = z if z > 0 else alpha * z"
    derivative_formula = "g'(z) = 1 if z > 0 else alpha"
    latex = r"g(z) = \begin{cases} z & z > 0 \\ \alpha z & z \le 0 \end{cases}"
    derivative_latex = r"g'(z) = \begin{cases} 1 & z > 0 \\ \alpha & z \le 0 \end{cases}"

    def __init__(self, alpha: float = 0.2) -> None:
        self.alpha = check_float("alpha", alpha, low=0.0)
        self.formula += f",  alpha = {self.alpha:g}"
        self.derivative_formula += f",  alpha = {self.alpha:g}"
        self.latex += rf",\quad \alpha = {self.alpha:g}"
        self.derivative_latex += rf",\quad \alpha = {self.alpha:g}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.multiply(z, self.alpha, out=out)
        # max(z, alpha*z) is z for z > 0 and alpha*z for z < 0 when alpha <= 1 (min when > 1)
        pick = xp.maximum if self.alpha <= 1.0 else xp.minimum
        return pick(z, out, out=out)

    def derivative(self, z, a):
        # alpha + (1 - alpha) * [z > 0]: arithmetic on the 0/1 mask is several times
        # faster than np.where or a masked ufunc when the signs of z are random
        slope = xp.astype(z > 0, z.dtype)
        slope *= 1.0 - self.alpha
        slope += self.alpha
        return slope

    def backward(self, dA, z, a, out=None):
        return xp.multiply(dA, self.derivative(z, a), out=out)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class Sigmoid(Activation):
    """Logistic sigmoid: ``g(z) = 1 / (1 + exp(-z))``, ``g'(z) = g(z) * (1 - g(z))``.

    Squashes any input into (0, 1), so it suits the output of a binary
    classifier (a probability). In hidden layers it is a poor choice: for large
    ``|z|`` the slope ``g(z)(1 - g(z)) <= 1/4`` is almost 0 and gradients vanish
    as they flow back through many layers.
    """

    name = "sigmoid"
    formula = "g(z) = 1 / (1 + exp(-z))"
    derivative_formula = "g'(z) = g(z) * (1 - g(z))"
    latex = r"g(z) = \frac{1}{1 + e^{-z}}"
    derivative_latex = r"g'(z) = g(z)\,(1 - g(z))"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        return _sigmoid(z, out)

    def derivative(self, z, a):
        return a * (1.0 - a)

    def backward(self, dA, z, a, out=None):
        slope = 1.0 - a
        slope *= a
        return xp.multiply(dA, slope, out=out)


class Tanh(Activation):
    """Hyperbolic tangent: ``g(z) = tanh(z)``, ``g'(z) = 1 - tanh(z)^2``.

    A zero-centred sigmoid with outputs in (-1, 1) (``tanh(z) = 2 sigmoid(2z) - 1``):
    better than sigmoid in hidden layers, but its gradients also vanish for large ``|z|``.
    """

    name = "tanh"
    formula = "g(z) = tanh(z) = (exp(z) - exp(-z)) / (exp(z) + exp(-z))"
    derivative_formula = "g'(z) = 1 - g(z)^2"
    latex = r"g(z) = \tanh z = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}}"
    derivative_latex = r"g'(z) = 1 - g(z)^2"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        return xp.tanh(z, out=out)

    def derivative(self, z, a):
        return 1.0 - a * a

    def backward(self, dA, z, a, out=None):
        slope = xp.square(a)
        xp.subtract(1.0, slope, out=slope)
        return xp.multiply(dA, slope, out=out)


class Softmax(Activation):
    """Softmax over the last axis: ``g(z)_j = exp(z_j) / sum_k exp(z_k)``.

    Turns each row of scores into a probability distribution (positive, sums
    to 1): use it for the output layer of a multi-class classifier. The row
    maximum is subtracted first (``softmax(z) = softmax(z - max z)``) so ``exp``
    never overflows.

    Its derivative is not elementwise but a Jacobian per row,
    ``d a_i / d z_j = a_i (delta_ij - a_j)``; :meth:`backward` multiplies ``dA``
    by it without building it: ``dZ = A * (dA - sum(dA * A, axis=-1))``.
    """

    name = "softmax"
    formula = "g(z)_j = exp(z_j) / sum_k exp(z_k)"
    derivative_formula = "∂g_i/∂z_j = g_i * (δ_ij - g_j)  (a Jacobian per example, not elementwise)"
    latex = r"g(z)_j = \frac{e^{z_j}}{\sum_k e^{z_k}}"
    derivative_latex = r"\frac{\partial g_i}{\partial z_j} = g_i(\delta_{ij} - g_j)"
    backward_formula = "dZ = A * (dA - Σ_k dA_k A_k)"
    elementwise = False
    backward_latex = r"dZ = A \odot \left(dA - \textstyle\sum_k dA_k A_k\right)"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.subtract(z, xp.max(z, axis=-1, keepdims=True), out=out)    # z - max z (no overflow)
        xp.exp(out, out=out)                                              # e^{z - max z}
        out /= xp.sum(out, axis=-1, keepdims=True)                        # / Σ_j e^{z_j - max z}
        return out

    def derivative(self, z, a):
        raise ValueError(
            "softmax has no elementwise derivative: each output depends on every input of "
            "its row, so g'(z) is a Jacobian matrix da_i/dz_j = a_i * (delta_ij - a_j) per "
            "example. Use backward(dA, z, a), which computes the Jacobian-vector product "
            "dZ = A * (dA - sum(dA * A, axis=-1, keepdims=True))"
        )

    def backward(self, dA, z, a, out=None):
        # row_dot = sum_k dA_k * A_k, one number per row (einsum on NumPy skips the product array)
        if xp.is_numpy:
            row_dot = np.einsum("...j,...j->...", dA, a)[..., np.newaxis]
        else:
            row_dot = xp.sum(dA * a, axis=-1, keepdims=True)
        out = xp.subtract(dA, row_dot, out=out)
        out *= a
        return out


class BinaryStep(Activation):
    """Heaviside step: ``g(z) = 1 if z >= 0 else 0``, ``g'(z) = 0`` (undefined at 0).

    The perceptron's activation: outputs only 0 or 1. Its slope is zero wherever
    it exists, so no gradient reaches the weights and gradient descent cannot
    train through it (``trainable = False``); ``backward`` raises. Use it for
    inference, or train with ``sigmoid`` and threshold at 0.5 afterwards.
    """

    name = "binary_step"
    formula = "g(z) = 1 if z >= 0 else 0"
    derivative_formula = "g'(z) = 0 (undefined at z = 0)"
    latex = r"g(z) = \begin{cases} 1 & z \ge 0 \\ 0 & z < 0 \end{cases}"
    derivative_latex = r"g'(z) = 0 \quad (z \ne 0)"
    backward_formula = "dZ = dA * g'(Z) = 0   (cannot be trained)"
    backward_latex = r"dZ = dA \odot g'(Z) = 0"
    trainable = False

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        step = z >= 0
        # NumPy copies the booleans as 0.0/1.0; the array API needs them as floats first
        xp.copyto(out, step if xp.is_numpy else xp.astype(step, out.dtype))
        return out

    def derivative(self, z, a):
        return xp.zeros_like(z)

    def backward(self, dA, z, a, out=None):
        raise ValueError(
            "binary_step cannot be trained with gradient descent: its derivative is zero "
            "everywhere (and undefined at 0), so every gradient through it is zero and the "
            "weights never change. Use activation='sigmoid' for training (a smooth step; "
            "threshold its output at 0.5 if you need 0/1); binary_step is fine for inference."
        )


def _elu(z: Array, alpha: float, out: Array) -> Array:
    """``max(z, 0) + alpha * (exp(min(z, 0)) - 1)``: ELU without ever overflowing ``exp``."""
    xp.minimum(z, 0, out=out)
    xp.expm1(out, out=out)
    out *= alpha
    out += xp.maximum(z, 0)
    return out


def _elu_slope(z: Array, a: Array, negative_scale: float, slope_positive: float) -> Array:
    """The slope of ``a = scale * elu(z)``: ``a + scale * alpha`` for z <= 0, ``scale`` for z > 0.

    ``negative_scale = scale * alpha``. Written as ``min(a, 0) + scale*alpha +
    (scale - scale*alpha) * [z > 0]``: arithmetic on the 0/1 mask, no np.where.
    """
    slope = xp.minimum(a, 0)
    slope += negative_scale
    positive = xp.astype(z > 0, z.dtype)
    positive *= slope_positive - negative_scale
    slope += positive
    return slope


class ELU(Activation):
    """Exponential linear unit.

    ``g(z) = z if z > 0 else alpha * (exp(z) - 1)``;
    ``g'(z) = 1 if z > 0 else alpha * exp(z) = g(z) + alpha``.

    Smooth for ``alpha = 1``, negative outputs down to ``-alpha`` push mean
    activations towards 0; a little more costly than ReLU (one ``exp``).

    Parameters
    ----------
    alpha : float, default 1.0
    """

    name = "elu"
    formula = "g(z) = z if z > 0 else alpha * (exp(z) - 1)"
    derivative_formula = "g'(z) = 1 if z > 0 else alpha * exp(z) = g(z) + alpha"
    latex = r"g(z) = \begin{cases} z & z > 0 \\ \alpha (e^{z} - 1) & z \le 0 \end{cases}"
    derivative_latex = (
        r"g'(z) = \begin{cases} 1 & z > 0 \\ \alpha e^{z} = g(z) + \alpha & z \le 0 \end{cases}"
    )

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = check_positive("alpha", alpha)
        self.formula += f",  alpha = {self.alpha:g}"
        self.derivative_formula += f",  alpha = {self.alpha:g}"
        self.latex += rf",\quad \alpha = {self.alpha:g}"
        self.derivative_latex += rf",\quad \alpha = {self.alpha:g}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        return _elu(z, self.alpha, out)

    def derivative(self, z, a):
        return _elu_slope(z, a, self.alpha, 1.0)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class SELU(Activation):
    """Scaled ELU: ``g(z) = scale * elu(z, alpha)`` with Keras's fixed constants.

    ``alpha = 1.6732632423543772``, ``scale = 1.0507009873554805`` make activations
    self-normalising (mean 0, variance 1) in deep plain stacks of Dense layers
    initialised with ``lecun_normal``. ``g'(z) = scale if z > 0 else
    scale * alpha * exp(z) = g(z) + scale * alpha``.
    """

    name = "selu"
    alpha = 1.6732632423543772848170429916717
    scale = 1.0507009873554804934193349852946
    _constants = f",  alpha = {alpha:.10g}, scale = {scale:.10g}"
    _latex_constants = rf",\quad \alpha = {alpha:.10g},\ \lambda = {scale:.10g}"
    formula = "g(z) = scale * (z if z > 0 else alpha * (exp(z) - 1))" + _constants
    derivative_formula = "g'(z) = scale if z > 0 else scale * alpha * exp(z)" + _constants
    latex = (
        r"g(z) = \lambda \begin{cases} z & z > 0 \\ \alpha (e^{z} - 1) & z \le 0 \end{cases}"
        + _latex_constants
    )
    derivative_latex = (
        r"g'(z) = \lambda \begin{cases} 1 & z > 0 \\ \alpha e^{z} & z \le 0 \end{cases}"
        + _latex_constants
    )

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        out = _elu(z, self.alpha, out)
        out *= self.scale
        return out

    def derivative(self, z, a):
        return _elu_slope(z, a, self.scale * self.alpha, self.scale)


class Softplus(Activation):
    """Softplus, a smooth ReLU: ``g(z) = log(1 + exp(z))``, ``g'(z) = sigmoid(z)``.

    Use it where an output must be positive but smooth, e.g. a predicted rate
    or standard deviation. Computed as ``max(z, 0) + log1p(exp(-|z|))``, which
    never overflows.
    """

    name = "softplus"
    formula = "g(z) = log(1 + exp(z))"
    derivative_formula = "g'(z) = 1 / (1 + exp(-z))  (the sigmoid)"
    latex = r"g(z) = \log(1 + e^{z})"
    derivative_latex = r"g'(z) = \sigma(z) = \frac{1}{1 + e^{-z}}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.abs(z, out=out)
        xp.negative(out, out=out)
        xp.exp(out, out=out)
        xp.log1p(out, out=out)
        out += xp.maximum(z, 0)
        return out

    def derivative(self, z, a):
        return _sigmoid(z, xp.empty_like(z))

    def backward(self, dA, z, a, out=None):
        slope = _sigmoid(z, xp.empty_like(z))
        return xp.multiply(dA, slope, out=out)


class Softsign(Activation):
    """Softsign: ``g(z) = z / (1 + |z|)``, ``g'(z) = 1 / (1 + |z|)^2``.

    Like tanh (outputs in (-1, 1)) but approaches its limits polynomially, not
    exponentially, so it saturates more slowly.
    """

    name = "softsign"
    formula = "g(z) = z / (1 + |z|)"
    derivative_formula = "g'(z) = 1 / (1 + |z|)^2"
    latex = r"g(z) = \frac{z}{1 + |z|}"
    derivative_latex = r"g'(z) = \frac{1}{(1 + |z|)^2}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.abs(z, out=out)
        out += 1.0
        return xp.divide(z, out, out=out)

    def derivative(self, z, a):
        slope = xp.abs(z)
        slope += 1.0
        xp.reciprocal(slope, out=slope)  # 1/(1+|z|) first, so squaring cannot overflow
        return xp.square(slope, out=slope)


class Swish(Activation):
    """Swish, also called SiLU: ``g(z) = z * sigmoid(z)``.

    ``g'(z) = s + z * s * (1 - s) = s + g(z) * (1 - s)`` with ``s = sigmoid(z)``.
    A smooth, non-monotonic ReLU that often trains deep nets a little better.
    ``'silu'`` (Keras 3's name) is an alias.
    """

    name = "swish"
    formula = "g(z) = z * sigmoid(z) = z / (1 + exp(-z))"
    derivative_formula = "g'(z) = s + g(z) * (1 - s), s = sigmoid(z)"
    latex = r"g(z) = z\,\sigma(z) = \frac{z}{1 + e^{-z}}"
    derivative_latex = r"g'(z) = \sigma(z) + g(z)\,(1 - \sigma(z))"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        out = _sigmoid(z, out)
        out *= z
        return out

    def derivative(self, z, a):
        s = _sigmoid(z, xp.empty_like(z))
        slope = 1.0 - s
        slope *= a
        slope += s
        return slope


_SQRT_HALF = math.sqrt(0.5)
_ONE_OVER_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_GELU_CUBIC = 0.044715


class GELU(Activation):
    """Gaussian error linear unit: ``g(z) = z * Phi(z)``, the input weighted by the
    standard normal CDF ``Phi(z) = (1 + erf(z / sqrt(2))) / 2``.

    ``g'(z) = Phi(z) + z * phi(z)`` with the normal density
    ``phi(z) = exp(-z^2 / 2) / sqrt(2 pi)``. The activation of BERT and GPT.

    With ``approximate=True`` the tanh form
    ``g(z) = z / 2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))`` is used.
    ``approximate=False`` (the default, as in Keras) computes erf with elementwise
    array operations (W. J. Cody's rational approximations, accurate to about 1e-15).

    Parameters
    ----------
    approximate : bool, default False
    """

    name = "gelu"
    formula = "g(z) = z * Phi(z) = z / 2 * (1 + erf(z / sqrt(2)))"
    derivative_formula = "g'(z) = Phi(z) + z * exp(-z^2 / 2) / sqrt(2 pi)"
    latex = r"g(z) = z\,\Phi(z) = \frac{z}{2}\left(1 + \mathrm{erf}(z / \sqrt{2})\right)"
    derivative_latex = r"g'(z) = \Phi(z) + z\,\frac{e^{-z^2/2}}{\sqrt{2\pi}}"

    approximate_formula = "g(z) = z / 2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))"
    approximate_derivative_formula = (
        "g'(z) = (1 + t) / 2 + z / 2 * (1 - t^2) * sqrt(2/pi) * (1 + 3 * 0.044715 z^2),  "
        "t = tanh(sqrt(2/pi) * (z + 0.044715 z^3))"
    )
    approximate_latex = (
        r"g(z) = \frac{z}{2}\left(1 + \tanh\left(\sqrt{2/\pi}\,(z + 0.044715 z^3)\right)\right)"
    )
    approximate_derivative_latex = (
        r"g'(z) = \frac{1 + t}{2} + \frac{z}{2}(1 - t^2)\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715 z^2),"
        r"\quad t = \tanh\left(\sqrt{2/\pi}\,(z + 0.044715 z^3)\right)"
    )

    def __init__(self, approximate: bool = False) -> None:
        self.approximate = check_bool("approximate", approximate)
        if self.approximate:
            self.formula, self.latex = self.approximate_formula, self.approximate_latex
            self.derivative_formula = self.approximate_derivative_formula
            self.derivative_latex = self.approximate_derivative_latex

    def _tanh_inner(self, z: Array) -> Array:
        """``tanh(u)`` with ``u = sqrt(2/pi) * (z + 0.044715 z^3)``."""
        u = z * z
        u *= _GELU_CUBIC
        u += 1.0
        u *= z
        u *= _SQRT_2_OVER_PI
        return xp.tanh(u, out=u)

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        if self.approximate:
            xp.copyto(out, self._tanh_inner(z))
            out += 1.0
        else:
            xp.multiply(z, -_SQRT_HALF, out=out)
            xp.copyto(out, erfc(out))  # erfc(-z/sqrt2) = 1 + erf(z/sqrt2) = 2 Phi(z)
        out *= z
        out *= 0.5
        return out

    def derivative(self, z, a):
        if self.approximate:
            # g = z/2 (1 + t); g' = (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)
            t = self._tanh_inner(z)
            du_dz = z * z
            du_dz *= 3.0 * _GELU_CUBIC
            du_dz += 1.0
            du_dz *= _SQRT_2_OVER_PI
            slope = 1.0 - t * t
            slope *= du_dz
            slope *= z
            slope += 1.0 + t
            slope *= 0.5
            return slope
        density = z * z
        density *= -0.5
        xp.exp(density, out=density)
        density *= _ONE_OVER_SQRT_2PI  # phi(z)
        cdf = erfc(z * -_SQRT_HALF)
        cdf *= 0.5  # Phi(z)
        density *= z
        density += cdf
        return density

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}


class HardSigmoid(Activation):
    """Hard sigmoid (Keras 3 definition): ``g(z) = relu6(z + 3) / 6 = clip(z/6 + 1/2, 0, 1)``.

    ``g'(z) = 1/6 if -3 < z < 3 else 0``. A piecewise-linear, cheaper sigmoid.
    (Keras 2 used ``clip(0.2 z + 0.5, 0, 1)``; PyTorch's ``hardsigmoid`` matches Keras 3.)
    """

    name = "hard_sigmoid"
    formula = "g(z) = min(max(z + 3, 0), 6) / 6"
    derivative_formula = "g'(z) = 1/6 if -3 < z < 3 else 0"
    latex = r"g(z) = \frac{\min(\max(z + 3, 0), 6)}{6}"
    derivative_latex = r"g'(z) = \begin{cases} 1/6 & -3 < z < 3 \\ 0 & \text{otherwise} \end{cases}"

    def forward(self, z, out=None):
        z, out = _input_and_buffer(z, out)
        xp.add(z, 3.0, out=out)
        if xp.is_numpy:
            xp.clip(out, 0.0, 6.0, out=out)
        else:  # the array API's clip has no out=
            xp.copyto(out, xp.clip(out, 0.0, 6.0))
        out /= 6.0
        return out

    def derivative(self, z, a):
        slope = xp.astype((z > -3.0) & (z < 3.0), z.dtype)
        slope *= 1.0 / 6.0
        return slope


# --------------------------------------------------------------------------------------
# lookup by name


_CLASSES = ACTIVATION_CLASSES
_ALIASES = {"silu": "swish", "leakyrelu": "leaky_relu"}

#: The names of glassnet's own activations (aliases not included); :func:`get` also knows
#: every subclass defined since (:data:`ACTIVATION_CLASSES`).
ALL: tuple[str, ...] = tuple(_CLASSES)


def get(identifier: Any) -> Activation:
    """Return an :class:`Activation` for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict or Activation
        ``None`` gives ``linear``; a name (case-insensitive, see :data:`ALL`;
        ``'silu'`` is ``'swish'``, ``'leakyrelu'`` is ``'leaky_relu'``); a config
        dict such as ``{'name': 'leaky_relu', 'alpha': 0.1}``; an instance is
        returned as is.
    """
    if identifier is None:
        return Linear()
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        name = check_choice("activation", identifier, (*_CLASSES, *_ALIASES))
        return _CLASSES[_ALIASES.get(name, name)]()
    if isinstance(identifier, dict):
        if "name" not in identifier:
            raise ValueError(
                f"an activation config dict needs a 'name' key, got keys {sorted(identifier)}"
            )
        params = {k: v for k, v in identifier.items() if k != "name"}
        name = check_choice("activation", identifier["name"], (*_CLASSES, *_ALIASES))
        cls = _CLASSES[_ALIASES.get(name, name)]
        try:
            return cls(**params)
        except TypeError as exc:
            raise TypeError(f"invalid parameters {params} for activation {name!r}: {exc}") from None
    raise TypeError(
        "activation must be None, a name such as 'relu', a config dict or an Activation "
        f"instance, got {identifier!r} ({type(identifier).__name__})"
    )


def serialize(activation: Any) -> dict:
    """The config dict of ``activation`` (anything :func:`get` accepts); JSON-friendly."""
    return get(activation).get_config()

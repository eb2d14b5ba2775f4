"""The fully connected layer: ``Z = A_prev W + b``, ``A = g(Z)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import activations, initializers, regularizers
from glassnet._validation import check_bool, check_int
from glassnet.backend import xp
from glassnet.layers.base import Layer, Workspace, stores_examples_as_columns


class Dense(Layer):
    r"""A fully connected layer of ``units`` neurons.

    Forward propagation, for a batch of ``m`` examples stored as rows::

        Z = A_prev · W + b          A_prev (m, n_prev), W (n_prev, n), b (n,), Z (m, n)
        A = g(Z)                    A (m, n)

    Backward propagation (the chain rule), given ``dA = ∂L/∂A`` of each example::

        dZ      = dA * g'(Z)                  (m, n)
        dW      = A_prevᵀ · dZ / m            (n_prev, n)
        db      = Σ_rows dZ / m               (n,)
        dA_prev = dZ · Wᵀ                     (m, n_prev)

    The articles write the same equations with examples as *columns*:
    ``Z = W·A + b`` with ``W`` of shape ``(n[l], n[l-1])`` and ``X`` of shape
    ``(n_x, m)``. glassnet stores examples as rows (as Keras, scikit-learn and
    NumPy do), so its ``W`` is the transpose of the articles' ``W`` and every
    equation above is the articles' equation transposed. In memory, a narrow layer
    on a large batch does keep its examples as columns, as the articles do, because
    that is faster there (:func:`~glassnet.layers.base.stores_examples_as_columns`);
    ``Z`` and ``A`` still read as ``(m, n)``.

    Parameters
    ----------
    units : int
        Number of neurons ``n``.
    activation : str or Activation, optional
        ``g``; ``None`` means linear (``A = Z``).
    use_bias : bool
        Whether to add ``b``.
    kernel_initializer : str or Initializer
        Default ``'glorot_uniform'``, as in Keras.
    bias_initializer : str or Initializer
        Default ``'auto'``: a constant 0.1 for ``relu`` layers, ``zeros`` (Keras's
        default) otherwise. A small positive bias keeps narrow ReLU layers from
        starting (and staying) dead: on the articles' circles network it cut the
        runs stuck near 0.47 accuracy from 6% to 1% (docs/keras-differences.md).
    kernel_regularizer, bias_regularizer : str or Regularizer, optional
        ``'l1'``, ``'l2'``, ``'l1_l2'`` or an instance; its penalty is added to the loss.
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "auto",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.units = check_int("units", units)
        self.activation = activations.get(activation)
        self.use_bias = check_bool("use_bias", use_bias)
        if bias_initializer == "auto":
            bias_initializer = initializers.Constant(0.1) if self.activation.name == "relu" else "zeros"
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._regularized = self.kernel_regularizer is not None or (
            self.use_bias and self.bias_regularizer is not None
        )
        self._linear = self.activation.name == "linear"
        self._workspace = Workspace()
        self._work_m = -1  # the batch size the work arrays are for

    def build(self, input_shape: tuple[int, ...]) -> None:
        if len(input_shape) != 1:
            raise ValueError(
                f"Dense layer {self.name!r} expects 1-D examples (shape (n_features,)), got "
                f"examples of shape {tuple(input_shape)}; add a Flatten layer before it"
            )
        self.input_shape = tuple(input_shape)
        self.output_shape = (self.units,)
        self.add_weight("kernel", (input_shape[0], self.units), self.kernel_initializer,
                        self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)
        self.built = True

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        super().bind(params, grads)
        self.W, self.dW = params["kernel"], grads["kernel"]
        if self.use_bias:
            self.b, self.db = params["bias"], grads["bias"]
            # b as a (1, n) row, the same rank as Z: NumPy adds it to a 1-row Z in half
            # the time it takes to broadcast the (n,) vector (0.4 vs 0.9 µs).
            self._b_row = xp.reshape(self.b, (1, self.units))
        self._workspace.clear()
        self._work_m = -1

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        if A_prev.shape[0] != self._work_m:
            self._use_workspace(A_prev.shape[0], self.W.dtype)
        self.A_prev = A_prev
        if not self._Z_columns:
            self.Z = xp.matmul(A_prev, self.W, out=self._Z)          # Z = A_prev · W
        else:  # Z keeps examples as columns: the same product, transposed (Zᵀ = Wᵀ · A_prevᵀ)
            self.Z = self._Z
            xp.matmul(self.W.T, A_prev.T, out=self.Z.T)
        if self.use_bias:
            self.Z += self._b_row                                    #   + b
        if self._linear:
            self.A = self.Z                                          # A = Z
        else:
            self.A = self.activation.forward(self.Z, out=self._A)    # A = g(Z)
        return self.A

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray | None:
        """Back-propagate ``dA`` (or, for a fused output layer, ``dZ`` directly).

        ``dA`` is overwritten (it becomes ``dZ``): it is a work array owned by the
        layer above, which no longer needs it.
        """
        if dZ is None:
            if dA is None:
                raise TypeError(f"{self.name}.backward() needs dA (or dZ for a fused output layer)")
            dZ = self.activation.backward(dA, self.Z, self.A, out=dA)   # dZ = dA * g'(Z)
        xp.matmul(self.A_prev.T, dZ, out=self.dW)                       # dW = A_prevᵀ · dZ
        self.dW *= self._one_over_m                                     #      / m
        if self.use_bias:
            xp.matmul(self._mean_row, dZ, out=self.db)                  # db = Σ dZ / m
        if self._regularized:
            self._add_regularization_gradients()
        if not self.needs_input_gradient:
            return None
        if not self._dA_prev_columns:
            return xp.matmul(dZ, self.W.T, out=self._dA_prev)           # dA_prev = dZ · Wᵀ
        xp.matmul(self.W, dZ.T, out=self._dA_prev.T)                     # (transposed: dA_prevᵀ = W · dZᵀ)
        return self._dA_prev

    def _add_regularization_gradients(self) -> None:
        if self.kernel_regularizer is not None:
            self.dW += self.kernel_regularizer.gradient(self.W)
        if self.use_bias and self.bias_regularizer is not None:
            self.db += self.bias_regularizer.gradient(self.b)

    def _use_workspace(self, m: int, dtype: Any) -> None:
        """Point Z, A, dA_prev at work arrays for batches of ``m`` rows (made once per size)."""
        assert self.input_shape is not None, "build() sets input_shape before forward()"
        work = self._workspace.get(
            m, dtype, {"Z": (self.units,), "A": (self.units,), "dA_prev": self.input_shape}
        )
        if "mean_row" not in work:
            # A row of 1/m: db = (1/m)·1ᵀ·dZ as one matrix-vector product (a GEMV is
            # several times faster than dZ.sum(axis=0) for small batches).
            work["mean_row"] = xp.full(m, 1.0 / m, dtype=dtype)
        self._Z, self._A, self._dA_prev = work["Z"], work["A"], work["dA_prev"]
        # np.dot writes only into C-ordered arrays: an array that stores its examples as
        # columns receives the transposed product (see stores_examples_as_columns).
        self._Z_columns = stores_examples_as_columns(m, (self.units,))
        self._dA_prev_columns = stores_examples_as_columns(m, self.input_shape)
        if "one_over_m" not in work:
            # 1/m as a 0-d array of the work dtype: NumPy multiplies by it in half the time
            # it needs for a Python float (no scalar conversion at every call).
            work["one_over_m"] = xp.asarray(1.0 / m, dtype=dtype)
        self._mean_row, self._one_over_m = work["mean_row"], work["one_over_m"]
        self._work_m = m

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            units=self.units,
            activation=activations.serialize(self.activation),
            use_bias=self.use_bias,
            kernel_initializer=self.kernel_initializer.get_config(),
            bias_initializer=self.bias_initializer.get_config(),
            kernel_regularizer=None if self.kernel_regularizer is None
            else self.kernel_regularizer.get_config(),
            bias_regularizer=None if self.bias_regularizer is None
            else self.bias_regularizer.get_config(),
        )
        return config

"""The fully connected layer: ``Z = A_prev W + b``, ``A = g(Z)``."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from glassnet import activations, initializers, regularizers
from glassnet._arrays import scalar_array
from glassnet._validation import check_bool, check_int
from glassnet.backend import xp
from glassnet.equations import Equation, format_shape, shape_product
from glassnet.layers.base import Layer, Workspace, matmul_into, stores_examples_as_columns


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

    activation: activations.Activation

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
            self._use_workspace(A_prev.shape[0], self.W.dtype)    # work arrays, once per batch size
        self.A_prev = A_prev
        self.Z = matmul_into(self._Z, A_prev, self.W, self._Z_columns)   # Z = A_prev · W
        if self.use_bias:
            self.Z += self._b_row                                        #   + b
        if self._linear:
            self.A = self.Z                                              # A = Z
        else:
            self.A = self.activation.forward(self.Z, out=self._A)        # A = g(Z)
        return self.A

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray | None:
        """Back-propagate ``dA`` (or, for a fused output layer, ``dZ`` directly).

        ``dA`` is overwritten (it becomes ``dZ``): it is a work array owned by the
        layer above, which no longer needs it.
        """
        if dZ is None:
            if dA is None:
                raise TypeError(f"{self.name}.backward() needs dA (or dZ for a fused output layer)")
            dZ = self.activation.backward(dA, self.Z, self.A, out=dA)       # dZ = dA * g'(Z)
        self.dZ = dZ
        xp.matmul(self.A_prev.T, dZ, out=self.dW)                           # dW = A_prevᵀ · dZ
        self.dW *= self._one_over_m                                         #      / m
        if self.use_bias:
            xp.matmul(self._mean_row, dZ, out=self.db)                      # db = Σ_rows dZ / m
        if self._regularized:
            self._add_regularization_gradients()                            # dW += ∂R/∂W
        if not self.needs_input_gradient:
            return None
        return matmul_into(self._dA_prev, dZ, self.W.T, self._dA_prev_columns)   # dA_prev = dZ · Wᵀ

    # -- mathematics --------------------------------------------------------------
    param_symbols: ClassVar[dict[str, str]] = {"kernel": "W", "bias": "b"}

    def _sizes(self) -> tuple[int, int]:
        assert self.input_shape is not None, "build() sets input_shape"
        return self.input_shape[0], self.units

    def forward_equations(self, l: int, m: Any = "m") -> list[Equation]:
        n_prev, n = self._sizes()
        bias, b_shape = (f" + b[{l}]", (n,)) if self.use_bias else ("", None)
        g = self.activation
        output = f"A[{l}] = Z[{l}]" if self._linear else f"A[{l}] = {g.name}(Z[{l}])"
        return [
            Equation(f"Z[{l}] = A[{l - 1}]·W[{l}]{bias}",
                     shape_product((m, n_prev), (n_prev, n), plus=b_shape, result=(m, n))),
            Equation(output, format_shape((m, n)), g.formula),
        ]

    def backward_equations(self, l: int, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        n_prev, n = self._sizes()
        equations = self._chain_rule(l, m) if given == "dA" else []
        equations.append(Equation(f"dW[{l}] = A[{l - 1}]ᵀ·dZ[{l}] / m",
                                  shape_product((n_prev, m), (m, n), result=(n_prev, n))))
        if self.use_bias:
            equations.append(Equation(f"db[{l}] = Σ_rows dZ[{l}] / m",
                                      f"{format_shape((m, n))} -> {format_shape((n,))}"))
        for spec in self.param_specs:
            if spec.regularizer is not None:
                p = self.symbol(spec.name)
                equations.append(Equation(f"d{p}[{l}] += ∂R/∂{p}[{l}]", "",
                                          f"{spec.regularizer!r} adds its gradient"))
        passing_down = Equation(f"dA[{l - 1}] = dZ[{l}]·W[{l}]ᵀ",
                                shape_product((m, n), (n, n_prev), result=(m, n_prev)))
        return equations + self._passing_down(passing_down, l)

    def column_notation(self, l: int, m: Any = "m") -> list[Equation]:
        n_prev, n = self._sizes()
        bias, b_shape = (f" + b[{l}]", (n, 1)) if self.use_bias else ("", None)
        return [Equation(f"Z[{l}] = W[{l}]·A[{l - 1}]{bias}",
                         shape_product((n, n_prev), (n_prev, m), plus=b_shape, result=(n, m)),
                         f"their W[{l}] {format_shape((n, n_prev))} is our W[{l}]ᵀ")]

    def written_out(self, l: int, record: dict[str, Any], number: Any, max_terms: int = 8) -> list[str]:
        """Each unit's sum ``z_j = Σ_i a_i W_ij + b_j`` with its numbers, for small layers."""
        W, b, a_prev, z = record["W"], record.get("b"), record["A_prev"][0], record["Z"][0]
        if W.shape[0] > 4 or W.shape[1] > max_terms:
            return []
        lines = []
        for j in range(W.shape[1]):
            terms = " + ".join(f"({number(a_prev[i])})({number(W[i, j])})" for i in range(W.shape[0]))
            if b is not None:
                terms += f" + ({number(b[j])})"
            lines.append(f"z_{j + 1} = {terms} = {number(z[j])}")
        return lines

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
        self._Z_columns = stores_examples_as_columns(m, (self.units,))
        self._dA_prev_columns = stores_examples_as_columns(m, self.input_shape)
        if "one_over_m" not in work:
            work["one_over_m"] = scalar_array(1.0 / m, dtype)
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

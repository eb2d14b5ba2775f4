"""A layer that only applies an activation function: ``A = g(Z)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import activations
from glassnet.equations import Equation, format_shape
from glassnet.layers.base import Layer, Workspace


class Activation(Layer):
    """Apply ``g`` elementwise (softmax: along the last axis).

    Forward ``A = g(Z)`` with ``Z = A_prev``; backward ``dZ = dA * g'(Z)`` (the chain
    rule) and ``dA_prev = dZ``. Shapes are unchanged: ``(m, *input_shape)``.

    Parameters
    ----------
    activation : str or glassnet.activations.Activation
    """

    activation: activations.Activation

    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self._workspace = Workspace()

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        self.Z = A_prev
        assert self.input_shape is not None, "build() sets input_shape before forward()"
        out = self._workspace.get(A_prev.shape[0], A_prev.dtype, {"A": self.input_shape})["A"]
        self.A = self.activation.forward(A_prev, out=out)
        return self.A

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray:
        if dZ is None:
            if dA is None:
                raise TypeError(f"{self.name}.backward() needs dA (or dZ for a fused output layer)")
            dZ = self.activation.backward(dA, self.Z, self.A, out=dA)      # dZ = dA * g'(Z)
        self.dZ = dZ
        return dZ                                                         # dA_prev = dZ (Z = A_prev)

    def forward_equations(self, l: int, m: Any = "m") -> list[Equation]:
        g = self.activation
        return [Equation(f"A[{l}] = {g.name}(A[{l - 1}])", format_shape(self.array_shapes(m)["A"]),
                         g.formula)]

    def backward_equations(self, l: int, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        equations = self._chain_rule(l, m) if given == "dA" else []
        shape = format_shape(self.array_shapes(m)["A_prev"])
        return equations + self._passing_down(Equation(f"dA[{l - 1}] = dZ[{l}]", shape), l)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}

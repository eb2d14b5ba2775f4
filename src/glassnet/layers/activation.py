"""A layer that only applies an activation function: ``A = g(Z)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import activations
from glassnet.layers.base import Layer, Workspace


class Activation(Layer):
    """Apply ``g`` elementwise (softmax: along the last axis).

    Forward ``A = g(Z)``; backward ``dZ = dA * g'(Z)`` (the chain rule). Shapes
    are unchanged: ``(m, *input_shape)``.

    Parameters
    ----------
    activation : str or glassnet.activations.Activation
    """

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
        if dZ is not None:
            return dZ
        if dA is None:
            raise TypeError(f"{self.name}.backward() needs dA (or dZ for a fused output layer)")
        return self.activation.backward(dA, self.Z, self.A, out=dA)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}

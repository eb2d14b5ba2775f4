"""Flatten each example into a vector, so that images can feed a Dense layer."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet.backend import xp
from glassnet.equations import Equation, format_shape
from glassnet.layers.base import Layer


class Flatten(Layer):
    """Reshape ``(m, d1, d2, ...)`` to ``(m, d1*d2*...)``; e.g. 28x28 images to 784 pixels.

    Backward reshapes the gradient back. No copies: both are views.
    """

    def build(self, input_shape: tuple[int, ...]) -> None:
        self.input_shape = tuple(input_shape)
        self.output_shape = (int(np.prod(input_shape)),)
        self.built = True

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        return xp.reshape(A_prev, (A_prev.shape[0], -1))

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray:
        dA = dZ if dA is None else dA                                # no activation: dZ is dA
        assert dA is not None and self.input_shape is not None, "backward needs dA, build() the shape"
        return xp.reshape(dA, (dA.shape[0], *self.input_shape))

    def forward_equations(self, l: int, m: Any = "m") -> list[Equation]:
        shapes = self.array_shapes(m)
        return [Equation(f"A[{l}] = flatten(A[{l - 1}])",
                         f"{format_shape(shapes['A_prev'])} -> {format_shape(shapes['A'])}",
                         "each example's values in one row, no copy")]

    def backward_equations(self, l: int, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        shapes = self.array_shapes(m)
        return self._passing_down(
            Equation(f"dA[{l - 1}] = reshape(dA[{l}])",
                     f"{format_shape(shapes['A'])} -> {format_shape(shapes['A_prev'])}"), l)

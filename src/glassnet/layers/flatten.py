"""Flatten each example into a vector, so that images can feed a Dense layer."""

from __future__ import annotations

import numpy as np

from glassnet.backend import xp
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

    def backward(self, dA: np.ndarray) -> np.ndarray:
        assert self.input_shape is not None, "build() sets input_shape before backward()"
        return xp.reshape(dA, (dA.shape[0], *self.input_shape))

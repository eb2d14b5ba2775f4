"""``Input(shape=...)``: declares the shape of one example at the start of a model."""

from __future__ import annotations

from typing import Any

from glassnet.layers.base import _check_shape
from glassnet.layers.symbolic import SymbolicTensor


class Input(SymbolicTensor):
    """The shape of one input example (without the batch dimension).

    ``Sequential([Input(shape=(2,)), Dense(4, activation='relu'), ...])`` is the
    Keras 3 way to say what ``input_dim=2`` says. ``Input`` is not a layer: it has
    no parameters and does not appear in ``model.layers``.

    Parameters
    ----------
    shape : tuple of int
        For tabular data ``(n_features,)``; for 28x28 images ``(28, 28)``.
    """

    def __init__(self, shape: Any, name: str | None = None) -> None:
        super().__init__(None, None, _check_shape("shape", shape))
        self.name = name or "input_layer"

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"

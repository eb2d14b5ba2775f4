"""Inverted dropout: randomly silence units while training."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_float
from glassnet.backend import dtype_name, xp
from glassnet.equations import Equation, format_shape
from glassnet.layers.base import Layer, Workspace
from glassnet.utils import make_rng


class Dropout(Layer):
    """Zero each unit with probability ``rate`` during training (inverted dropout).

    Training::

        mask = (u >= rate) / (1 - rate)     u ~ Uniform[0, 1), shape (m, *input_shape)
        A    = A_prev * mask
        dA_prev = dA * mask

    Dividing by ``1 - rate`` keeps the expected activation unchanged, so at
    inference the layer is the identity (``A = A_prev``) and needs no rescaling.

    Parameters
    ----------
    rate : float in [0, 1)
        Fraction of units to drop.
    seed : int, optional
        Seed of this layer's own random generator (else drawn from glassnet's
        global seed, see :func:`glassnet.utils.set_random_seed`).
    """

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = check_float("rate", rate, low=0.0, high=1.0, high_inclusive=False)
        self.seed = seed
        self.rng = make_rng(seed)
        self._workspace = Workspace()

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        self.training = training and self.rate > 0
        if not self.training:
            return A_prev
        assert self.input_shape is not None, "build() sets input_shape before forward()"
        work = self._workspace.get(
            A_prev.shape[0], A_prev.dtype, {"mask": self.input_shape, "A": self.input_shape}
        )
        mask = work["mask"]
        self._draw_uniform(mask)                                     # u ~ Uniform[0, 1)
        keep = 1.0 / (1.0 - self.rate)
        xp.greater_equal(mask, self.rate, out=mask)                  # 1 where kept, 0 where dropped
        mask *= keep                                                 # ... scaled by 1 / (1 - rate)
        self.mask = mask
        return xp.multiply(A_prev, mask, out=work["A"])              # A = A_prev * mask

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray:
        dA = dZ if dA is None else dA                                # no activation: dZ is dA
        assert dA is not None, "backward needs dA"
        if not self.training:
            return dA
        return xp.multiply(dA, self.mask, out=dA)                    # dA_prev = dA * mask

    def forward_equations(self, l: int, m: Any = "m") -> list[Equation]:
        shape = format_shape(self.array_shapes(m)["A"])
        return [
            Equation(f"A[{l}] = A[{l - 1}] * mask[{l}] / (1 - {self.rate:g})", shape,
                     f"training only: mask[{l}] is 1 with probability {1 - self.rate:g}, else 0"),
            Equation(f"A[{l}] = A[{l - 1}]", shape, "inference"),
        ]

    def backward_equations(self, l: int, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        shape = format_shape(self.array_shapes(m)["A"])
        if not self.needs_input_gradient:
            return self._passing_down(Equation(""), l)
        return [
            Equation(f"dA[{l - 1}] = dA[{l}] * mask[{l}] / (1 - {self.rate:g})", shape,
                     "training; the same mask as the forward pass"),
            Equation(f"dA[{l - 1}] = dA[{l}]", shape, "inference"),
        ]

    def recorded_forward_arrays(self) -> dict[str, Any]:
        return {"mask": self.mask} if self.training else {}

    def _draw_uniform(self, out: Any) -> None:
        """Fill ``out`` with uniform draws of this layer's NumPy Generator (drawn on the host
        for other backends, so a seed gives the same masks everywhere)."""
        if xp.is_numpy:
            self.rng.random(dtype=out.dtype, out=out)
        else:
            draws = self.rng.random(out.shape, dtype=np.dtype(dtype_name(out)))
            out[...] = xp.from_numpy(draws)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

"""Keras's activation layers ``ReLU``, ``LeakyReLU`` and ``Softmax``.

Each is an :class:`~glassnet.layers.Activation` layer with its function fixed,
``A = g(Z)`` forward and ``dZ = dA * g'(Z)`` backward, so
``Dense(64), LeakyReLU(0.1)`` computes exactly what
``Dense(64, activation=LeakyReLU(alpha=0.1))`` computes. The formulas live in
:mod:`glassnet.activations`; these classes only accept Keras's arguments.
"""

from __future__ import annotations

from typing import Any

from glassnet import activations
from glassnet._validation import check_float, check_int
from glassnet.layers.activation import Activation
from glassnet.layers.base import unique_name


def _keras_name(kwargs: dict[str, Any], base: str) -> dict[str, Any]:
    """Keras's default layer names (``re_lu``, ``leaky_re_lu``) rather than ``re_l_u``."""
    if kwargs.get("name") is None:
        kwargs["name"] = unique_name(base)
    return kwargs


def _base_config(layer: Activation) -> dict[str, Any]:
    """The Layer part of the config (the activation is fixed by the class, not saved)."""
    config = Activation.get_config(layer)
    del config["activation"]
    return config


class ReLU(Activation):
    """Rectified linear unit as a layer: ``A = max(0, Z)``, or with a negative slope
    ``A = Z if Z > 0 else negative_slope · Z`` (leaky ReLU).

    Backward ``dZ = dA · g'(Z)``, ``g'(Z) = 1 if Z > 0 else negative_slope``.
    Shapes are unchanged, ``(m, *input_shape)``.

    Parameters
    ----------
    max_value : float, optional
        Keras's ceiling on the output. Not supported (only ``None``): a clear error.
    negative_slope : float, default 0.0
        The slope for ``Z <= 0``; ``>= 0``.
    threshold : float, default 0.0
        Keras's threshold below which the output is zero. Only ``0.0`` is supported.
    """

    def __init__(
        self,
        max_value: float | None = None,
        negative_slope: float = 0.0,
        threshold: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.negative_slope = check_float("negative_slope", negative_slope, low=0.0)
        if max_value is not None or check_float("threshold", threshold) != 0.0:
            raise ValueError(
                "ReLU supports max_value=None and threshold=0.0 only (with any negative_slope "
                f">= 0); got max_value={max_value!r}, threshold={threshold!r}. "
                "Clip the data, or use Dense(..., activation='relu')"
            )
        self.max_value, self.threshold = None, 0.0
        function = (
            activations.ReLU() if self.negative_slope == 0.0
            else activations.LeakyReLU(alpha=self.negative_slope)
        )
        super().__init__(function, **_keras_name(kwargs, "re_lu"))

    def get_config(self) -> dict[str, Any]:
        return {**_base_config(self), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


class LeakyReLU(Activation):
    """Leaky ReLU as a layer: ``A = Z if Z > 0 else negative_slope · Z``.

    Backward ``dZ = dA · (1 if Z > 0 else negative_slope)``. Shapes unchanged.

    Parameters
    ----------
    negative_slope : float, default 0.3
        The slope for ``Z <= 0`` (Keras 3's layer default, 0.3).
    alpha : float, optional
        Keras 2's name for ``negative_slope`` (``LeakyReLU(alpha=0.1)``); give one of the two.
    """

    def __init__(self, negative_slope: float = 0.3, alpha: float | None = None, **kwargs: Any) -> None:
        if alpha is not None:
            if negative_slope != 0.3:
                raise ValueError(
                    "Give either negative_slope (Keras 3) or alpha (Keras 2), not both; got "
                    f"negative_slope={negative_slope!r} and alpha={alpha!r}"
                )
            negative_slope = check_float("alpha", alpha, low=0.0)
        self.negative_slope = check_float("negative_slope", negative_slope, low=0.0)
        super().__init__(activations.LeakyReLU(alpha=self.negative_slope),
                         **_keras_name(kwargs, "leaky_re_lu"))

    def get_config(self) -> dict[str, Any]:
        return {**_base_config(self), "negative_slope": self.negative_slope}


class Softmax(Activation):
    """Softmax as a layer: ``A_ij = exp(Z_ij) / Σ_k exp(Z_ik)`` along the last axis.

    Backward, the Jacobian-vector product ``dZ = A · (dA − Σ_k dA_k A_k)`` per row.
    As the output layer with categorical cross-entropy, ``dZ = A − Y`` directly,
    as for ``Dense(..., activation='softmax')``.

    Parameters
    ----------
    axis : int, default -1
        Only the last axis (``-1``, or its positive index) is supported.
    """

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        self.axis = check_int("axis", axis, minimum=None)
        super().__init__(activations.Softmax(), **_keras_name(kwargs, "softmax"))

    def build(self, input_shape: tuple[int, ...]) -> None:
        if self.axis not in (-1, len(input_shape)):
            raise ValueError(
                f"Softmax layer {self.name!r} supports the last axis only (axis=-1 or "
                f"axis={len(input_shape)} for examples of shape {tuple(input_shape)}), got axis={self.axis}"
            )
        super().build(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**_base_config(self), "axis": self.axis}

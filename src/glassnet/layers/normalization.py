"""``BatchNormalization`` and ``Normalization``: shift and scale each feature.

Both normalise along the *feature* axis (the last one): every statistic below is
one number per feature, a vector of shape ``(c,)`` where ``c = input_shape[-1]``,
computed over the ``N`` values of that feature in a batch (``N = m`` for tabular
data of shape ``(m, c)``; ``N = m·h·w`` for images of shape ``(m, h, w, c)``).
Their statistics are *non-trainable* parameters: stored and saved with the model,
never moved by the optimizer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet import initializers, regularizers
from glassnet._validation import check_array, check_bool, check_float, check_int
from glassnet.backend import xp
from glassnet.layers.base import Layer

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): Normalization's floor on the standard deviation


def _check_last_axis(layer: Layer, axis: int, input_shape: tuple[int, ...]) -> None:
    """Both layers normalise along the last (feature) axis; Keras counts the batch axis as 0."""
    if axis not in (-1, len(input_shape)):
        raise ValueError(
            f"{type(layer).__name__} layer {layer.name!r} normalises the last axis only (axis=-1, or "
            f"axis={len(input_shape)} for examples of shape {tuple(input_shape)}), got axis={axis}"
        )


class BatchNormalization(Layer):
    r"""Normalise each feature over the batch, then scale and shift it (Ioffe & Szegedy, 2015).

    Training (``training=True``, as in ``fit``), for a batch ``X`` of ``N`` rows
    per feature (shapes: ``X``, ``X̂``, ``Y`` are ``(m, ..., c)``; the rest ``(c,)``)::

        μ   = (1/N) Σ X                        batch mean
        σ²  = (1/N) Σ (X − μ)²                 batch variance (biased, as Keras)
        X̂   = (X − μ) / √(σ² + ε)
        Y   = γ · X̂ + β
        moving_mean     = momentum · moving_mean     + (1 − momentum) · μ
        moving_variance = momentum · moving_variance + (1 − momentum) · σ²

    Inference (``predict``, ``evaluate``) uses the moving statistics instead::

        Y = γ · (X − moving_mean) / √(moving_variance + ε) + β

    Backward, given ``dY`` (glassnet passes each example's ``∂l_i/∂Y_i``; the cost is
    ``J = (1/m) Σ l_i``, so parameter gradients are averaged over the ``m`` examples,
    exactly as Dense's ``dW = A_prevᵀ·dZ / m``)::

        dβ = (1/m) Σ dY                                   (c,)
        dγ = (1/m) Σ dY · X̂                               (c,)
        dX = γ / √(σ² + ε) · (dY − mean(dY) − X̂ · mean(dY · X̂))      (m, ..., c)

    The means in ``dX`` are over the ``N`` rows: ``μ`` and ``σ²`` depend on every row,
    so each row's gradient carries the two correction terms. In inference mode the
    statistics are constants and ``dX = γ / √(moving_variance + ε) · dY``.

    A layer with ``trainable=False`` runs in inference mode even in ``fit`` (as Keras 3 does).
    The weights, in :meth:`get_weights` order as Keras: ``gamma``, ``beta``,
    ``moving_mean``, ``moving_variance`` (``gamma``/``beta`` only when ``scale``/``center``).

    Parameters
    ----------
    axis : int, default -1
        The feature axis; only the last one is supported.
    momentum : float, default 0.99
        Weight of the old value in the moving averages (PyTorch's ``momentum`` is ``1 − this``).
    epsilon : float, default 1e-3
        Added to the variance before the square root.
    center, scale : bool, default True
        Whether to learn ``β`` (else 0) and ``γ`` (else 1).
    beta_initializer, gamma_initializer, moving_mean_initializer, moving_variance_initializer
        Defaults ``'zeros'``, ``'ones'``, ``'zeros'``, ``'ones'``, as in Keras.
    beta_regularizer, gamma_regularizer : optional
        Penalties on ``β`` and ``γ``.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        beta_regularizer: Any = None,
        gamma_regularizer: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.axis = check_int("axis", axis, minimum=None)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = check_float("epsilon", epsilon, low=0.0, low_inclusive=False)
        self.center = check_bool("center", center)
        self.scale = check_bool("scale", scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape: tuple[int, ...]) -> None:
        _check_last_axis(self, self.axis, input_shape)
        features = (input_shape[-1],)
        if self.scale:
            self.add_weight("gamma", features, self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", features, self.beta_initializer, self.beta_regularizer)
        self.add_weight("moving_mean", features, self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", features, self.moving_variance_initializer, trainable=False)
        super().build(input_shape)

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """``Y = γ · X̂ + β`` with batch statistics (training) or moving ones (inference)."""
        axes = tuple(range(A_prev.ndim - 1))          # every axis but the features
        self.training = training and self.trainable
        if self.training:
            mean = xp.mean(A_prev, axis=axes)                                 # μ
            centered = A_prev - mean                                          # X − μ
            variance = xp.mean(centered * centered, axis=axes)                # σ²
            self._update_moving_statistics(mean, variance)
        else:
            centered = A_prev - self.params["moving_mean"]
            variance = self.params["moving_variance"]
        self.inv_std = 1.0 / xp.sqrt(variance + self.epsilon)                # 1 / √(σ² + ε)
        self.X_hat = centered * self.inv_std                                   # X̂
        Y = self.X_hat * self.params["gamma"] if self.scale else xp.copy(self.X_hat)   # γ · X̂
        if self.center:
            Y += self.params["beta"]                                           #   + β
        return Y

    def _update_moving_statistics(self, mean: np.ndarray, variance: np.ndarray) -> None:
        """``moving = momentum · moving + (1 − momentum) · batch``, in place."""
        for name, batch_value in (("moving_mean", mean), ("moving_variance", variance)):
            moving = self.params[name]
            moving *= self.momentum
            moving += (1.0 - self.momentum) * batch_value

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray | None:
        """``dγ``, ``dβ`` into ``self.grads``; returns ``dX`` (see the class docstring)."""
        dY = dZ if dA is None else dA
        if dY is None:
            raise TypeError(f"{self.name}.backward() needs dA")
        axes = tuple(range(dY.ndim - 1))
        m = dY.shape[0]
        if self.center:
            self.grads["beta"][...] = xp.sum(dY, axis=axes) / m                   # dβ = Σ dY / m
        if self.scale:
            self.grads["gamma"][...] = xp.sum(dY * self.X_hat, axis=axes) / m     # dγ = Σ dY·X̂ / m
        self._add_regularization_gradients()
        if not self.needs_input_gradient:
            return None
        scale = self.inv_std * self.params["gamma"] if self.scale else self.inv_std   # γ / √(σ² + ε)
        if not self.training:
            return dY * scale                                                     # dX = γ/√(v+ε) · dY
        mean_dY = xp.mean(dY, axis=axes)
        mean_dY_X_hat = xp.mean(dY * self.X_hat, axis=axes)
        return scale * (dY - mean_dY - self.X_hat * mean_dY_X_hat)              # dX

    def _add_regularization_gradients(self) -> None:
        for name, regularizer in (("gamma", self.gamma_regularizer), ("beta", self.beta_regularizer)):
            if regularizer is not None and name in self.params:
                self.grads[name] += regularizer.gradient(self.params[name])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": self.beta_initializer.get_config(),
            "gamma_initializer": self.gamma_initializer.get_config(),
            "moving_mean_initializer": self.moving_mean_initializer.get_config(),
            "moving_variance_initializer": self.moving_variance_initializer.get_config(),
            "beta_regularizer": regularizers.serialize(self.beta_regularizer),
            "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
        }


class _Values(initializers.Initializer):
    """Start a parameter at given values (Normalization's ``mean=``/``variance=`` or ``adapt``)."""

    name = "values"

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def _draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        return np.broadcast_to(self.values, shape).astype(np.float64)


class Normalization(Layer):
    """Standardise each feature with a fixed mean and variance: ``Y = (X − mean) / √variance``.

    The statistics come from :meth:`adapt` (``mean`` and the biased ``variance`` of
    each feature over the data, as Keras) or from the ``mean=``/``variance=``
    arguments, and are non-trainable parameters saved with the model. The
    standard deviation is floored at ``1e-7`` (Keras's epsilon) so that a constant
    feature gives 0, not a division by zero::

        forward     Y  = (X − mean) / max(√variance, 1e-7)       X, Y (m, ..., c); mean, variance (c,)
        backward    dX = dY / max(√variance, 1e-7)

    With ``invert=True`` the layer undoes that: ``Y = mean + X · max(√variance, 1e-7)``
    (``dX = dY · max(√variance, 1e-7)``), e.g. to map a network's outputs back to units.

    Parameters
    ----------
    axis : int or None, default -1
        ``-1``: one mean and variance per feature (the last axis); ``None``: one
        scalar mean and variance over everything.
    mean, variance : float or array-like of shape (c,), optional
        Give both (instead of calling :meth:`adapt`).
    invert : bool, default False
    """

    def __init__(self, axis: int | None = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = None if axis is None else check_int("axis", axis, minimum=None)
        self.invert = check_bool("invert", invert)
        if (mean is None) != (variance is None):
            raise ValueError("Normalization needs both mean= and variance= (or neither, then call "
                             f"adapt(data)); got mean={mean!r}, variance={variance!r}")
        self.mean: np.ndarray | None = None
        self.variance: np.ndarray | None = None
        if mean is not None:
            self._set_statistics(
                check_array("mean", mean, ndim=(0, 1), dtype=np.float64),
                check_array("variance", variance, ndim=(0, 1), dtype=np.float64),
            )
        self._given = mean is not None

    def _set_statistics(self, mean: np.ndarray, variance: np.ndarray) -> None:
        if (variance < 0).any():
            raise ValueError(f"variance must be >= 0, got {variance.tolist()}")
        self.mean, self.variance = mean, variance
        if "mean" in self.params:  # already part of a built model: write into its buffer
            self.params["mean"][...] = xp.from_numpy(np.broadcast_to(mean, self.params["mean"].shape))
            self.params["variance"][...] = xp.from_numpy(
                np.broadcast_to(variance, self.params["variance"].shape))

    def adapt(self, data: Any) -> None:
        """Set ``mean`` and ``variance`` to those of ``data`` (shape ``(n, *input_shape)``).

        ``mean = (1/N) Σ x``, ``variance = (1/N) Σ (x − mean)²`` per feature (or over
        everything with ``axis=None``), computed in float64.
        """
        values = check_array("data", data, dtype=np.float64)
        if values.ndim < 2:
            raise ValueError(f"data must have one row per example, shape (n_samples, n_features), "
                             f"got shape {values.shape}; use data.reshape(-1, 1) for one feature")
        axes = None if self.axis is None else tuple(range(values.ndim - 1))
        if self.axis is not None:
            _check_last_axis(self, self.axis, values.shape[1:])
        if self.built and self.input_shape != values.shape[1:]:
            raise ValueError(f"data has examples of shape {values.shape[1:]}, but layer "
                             f"{self.name!r} was built for {self.input_shape}")
        if self.declared_input_shape is None and not self.built:
            self.declared_input_shape = tuple(values.shape[1:])
        self._set_statistics(values.mean(axis=axes), values.var(axis=axes))

    def build(self, input_shape: tuple[int, ...]) -> None:
        shape: tuple[int, ...] = (1,)
        if self.axis is not None:
            _check_last_axis(self, self.axis, input_shape)
            shape = (input_shape[-1],)
        for name, value in (("mean", self.mean), ("variance", self.variance)):
            if value is not None and value.size not in (1, math.prod(shape)):
                raise ValueError(f"Normalization layer {self.name!r}: {name} has {value.size} "
                                 f"values, but the inputs have {shape[0]} features")
        self.add_weight("mean", shape, _Values(np.zeros(1) if self.mean is None else self.mean),
                        trainable=False)
        self.add_weight("variance", shape, _Values(np.ones(1) if self.variance is None else self.variance),
                        trainable=False)
        super().build(input_shape)

    def _std(self) -> np.ndarray:
        """``max(√variance, 1e-7)`` per feature."""
        return xp.maximum(xp.sqrt(self.params["variance"]), xp.asarray(_KERAS_EPSILON,
                                                                       dtype=self.params["variance"].dtype))

    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        if self.invert:
            return self.params["mean"] + A_prev * self._std()      # mean + X · std
        return (A_prev - self.params["mean"]) / self._std()        # (X − mean) / std

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray | None:
        dY = dZ if dA is None else dA
        if dY is None:
            raise TypeError(f"{self.name}.backward() needs dA")
        if not self.needs_input_gradient:
            return None
        return dY * self._std() if self.invert else dY / self._std()

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "axis": self.axis, "invert": self.invert}
        if self._given and self.mean is not None and self.variance is not None:
            config.update(mean=self.mean.tolist(), variance=self.variance.tolist())
        return config

"""Weight initializers: how a parameter array gets its first values.

Good starting weights keep the variance of the activations (forward) and of
the gradients (backward) roughly constant from layer to layer, so a deep net
neither explodes nor goes silent. The *variance scaling* family draws weights
with variance ``scale / n``, where ``n`` is the number of inputs of a unit
(``fan_in``), of outputs (``fan_out``) or their average:

==============  =====  =======  ==================================================
initializer     scale  mode     suits
==============  =====  =======  ==================================================
glorot_*        1      fan_avg  tanh, sigmoid, softmax, linear (Keras's default)
he_*            2      fan_in   relu and its family (relu halves the variance)
lecun_*         1      fan_in   selu (self-normalising nets)
==============  =====  =======  ==================================================

Each comes as ``*_uniform`` (on ``[-limit, limit]`` with ``limit = sqrt(3 scale / n)``)
and ``*_normal`` (a normal truncated at two standard deviations, see
:class:`VarianceScaling`). Names, defaults and formulas follow Keras 3.

Usage::

    init = get("he_uniform")
    W = init((n_in, n_out), dtype="float32", rng=make_rng(0))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._validation import check_choice, check_float, check_int, check_positive
from glassnet.config import float_dtype
from glassnet.utils import make_rng

#: Standard deviation of a standard normal truncated to [-2, 2]; dividing by it
#: makes the truncated draws have exactly the requested standard deviation.
TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def compute_fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a parameter of shape ``shape`` (Keras's convention).

    * 2-D kernel ``(n_in, n_out)``: ``fan_in = n_in``, ``fan_out = n_out``;
    * 1-D (a bias ``(n,)``): ``fan_in = fan_out = n``; 0-D: both 1;
    * convolution kernels ``(*window, channels_in, channels_out)``: the window
      size times the channels, ``fan_in = prod(window) * channels_in``.
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_call(shape: Any, dtype: Any, rng: Any) -> tuple[tuple[int, ...], np.dtype, Any]:
    """Validate the arguments of ``Initializer.__call__``."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"shape must be a tuple of non-negative integers, got {shape!r}")
    shape = tuple(check_int(f"shape[{i}]", s, minimum=0) for i, s in enumerate(shape))
    dtype = float_dtype() if dtype is None else np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"dtype must be a floating-point type such as 'float32', got {dtype}")
    return shape, dtype, rng


def _truncated_standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal draws with every value outside [-2, 2] redrawn (rejection sampling).

    About 4.6% of draws fall outside, so the loop ends after a few rounds.
    """
    values = rng.standard_normal(shape)
    flat = values.reshape(-1)
    redraw = np.flatnonzero(np.abs(flat) > 2.0)
    while redraw.size:
        flat[redraw] = rng.standard_normal(redraw.size)
        redraw = redraw[np.abs(flat[redraw]) > 2.0]
    return values


class Initializer:
    """Base class: ``init(shape, dtype, rng)`` returns a new array of that shape.

    Draws are made in float64 and then cast, so the same ``rng`` seed gives the
    same values (up to rounding) whatever the dtype.
    """

    name: str = ""

    def __call__(
        self, shape: tuple[int, ...], dtype: Any = None, rng: Any = None
    ) -> np.ndarray:
        """Return a new array.

        Parameters
        ----------
        shape : tuple of int
            E.g. ``(n_in, n_out)`` for a Dense kernel, ``(n_out,)`` for a bias.
        dtype : float dtype, optional
            Defaults to :func:`glassnet.config.float_dtype`.
        rng : numpy.random.Generator, int or None
            The source of randomness (passed to :func:`glassnet.utils.make_rng`).
        """
        shape, dtype, rng = _check_call(shape, dtype, rng)
        return self._draw(shape, make_rng(rng)).astype(dtype, copy=False)

    def _draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict:
        """``{'name': ..., **parameters}``; :func:`get` rebuilds the initializer from it."""
        return {"name": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Initializer) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))


class Constant(Initializer):
    """Every entry equal to ``value`` (default 0).

    Parameters
    ----------
    value : float
    """

    name = "constant"

    def __init__(self, value: float = 0.0) -> None:
        self.value = check_float("value", value)

    def _draw(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {**super().get_config(), "value": self.value}


class Zeros(Constant):
    """All zeros: the usual bias initializer. (Never for weights: every unit
    would compute the same thing and receive the same gradient, forever.)"""

    name = "zeros"

    def __init__(self) -> None:
        super().__init__(0.0)

    def get_config(self):
        return {"name": self.name}


class Ones(Constant):
    """All ones (e.g. the scale ``gamma`` of batch normalisation)."""

    name = "ones"

    def __init__(self) -> None:
        super().__init__(1.0)

    def get_config(self):
        return {"name": self.name}


class RandomNormal(Initializer):
    """Normal draws: ``w ~ N(mean, stddev^2)``.

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
    """

    name = "random_normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05) -> None:
        self.mean = check_float("mean", mean)
        self.stddev = check_float("stddev", stddev, low=0.0)

    def _draw(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """Normal draws ``N(mean, stddev^2)`` with values farther than ``2 * stddev``
    from the mean redrawn, so ``|w - mean| <= 2 stddev``.

    The truncation shrinks the actual standard deviation to ``0.8796 * stddev``.

    Parameters
    ----------
    mean : float, default 0.0
    stddev : float, default 0.05
    """

    name = "truncated_normal"

    def _draw(self, shape, rng):
        return self.mean + self.stddev * _truncated_standard_normal(rng, shape)


class RandomUniform(Initializer):
    """Uniform draws on ``[minval, maxval)``.

    Parameters
    ----------
    minval : float, default -0.05
    maxval : float, default 0.05
    """

    name = "random_uniform"

    def __init__(self, minval: float = -0.05, maxval: float = 0.05) -> None:
        self.minval = check_float("minval", minval)
        self.maxval = check_float("maxval", maxval)
        if self.maxval < self.minval:
            raise ValueError(
                f"maxval must be >= minval, got minval={self.minval}, maxval={self.maxval}"
            )

    def _draw(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)

    def get_config(self):
        return {**super().get_config(), "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Draws whose variance is ``scale / n`` (He, Glorot and LeCun are special cases).

    With ``(fan_in, fan_out)`` from :func:`compute_fans`,
    ``n = fan_in``, ``fan_out`` or ``(fan_in + fan_out) / 2`` depending on ``mode``
    (``max(1, n)`` is used), and:

    * ``'truncated_normal'``: ``N(0, stddev^2)`` truncated at ``2 stddev`` with
      ``stddev = sqrt(scale / n) / 0.87962566103423978`` (the division undoes the
      truncation's shrinking, so the variance is exactly ``scale / n``);
    * ``'untruncated_normal'``: ``N(0, scale / n)``;
    * ``'uniform'``: ``U[-limit, limit]`` with ``limit = sqrt(3 scale / n)``
      (a uniform on ``[-L, L]`` has variance ``L^2 / 3``).

    Parameters
    ----------
    scale : float, default 1.0
        Positive.
    mode : {'fan_in', 'fan_out', 'fan_avg'}, default 'fan_in'
    distribution : {'truncated_normal', 'untruncated_normal', 'uniform'}, default 'truncated_normal'
        ``'normal'`` is accepted as a synonym of ``'truncated_normal'``, as in Keras.
    """

    name = "variance_scaling"

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"
    ) -> None:
        self.scale = check_positive("scale", scale)
        self.mode = check_choice("mode", mode, ("fan_in", "fan_out", "fan_avg"))
        distribution = check_choice(
            "distribution", distribution, ("truncated_normal", "untruncated_normal", "uniform",
                                           "normal")
        )
        self.distribution = "truncated_normal" if distribution == "normal" else distribution

    def _variance(self, shape: tuple[int, ...]) -> float:
        """``scale / max(1, n)``: the variance of the draws."""
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return self.scale / max(1.0, n)

    def _draw(self, shape, rng):
        variance = self._variance(shape)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        if self.distribution == "untruncated_normal":
            return rng.normal(0.0, math.sqrt(variance), size=shape)
        stddev = math.sqrt(variance) / TRUNCATED_NORMAL_STDDEV
        return stddev * _truncated_standard_normal(rng, shape)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
        }


class _NamedVarianceScaling(VarianceScaling):
    """A VarianceScaling with fixed parameters; its config is just its name."""

    _params: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self) -> None:
        super().__init__(*self._params)

    def get_config(self):
        return {"name": self.name}


class GlorotUniform(_NamedVarianceScaling):
    """Glorot (Xavier) uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / (fan_in + fan_out))``.

    Keras's default kernel initializer; suits tanh, sigmoid and linear layers.
    """

    name = "glorot_uniform"
    _params = (1.0, "fan_avg", "uniform")


class GlorotNormal(_NamedVarianceScaling):
    """Glorot (Xavier) normal: truncated normal with variance ``2 / (fan_in + fan_out)``,
    i.e. ``stddev = sqrt(2 / (fan_in + fan_out)) / 0.8796`` before truncation at 2 stddev."""

    name = "glorot_normal"
    _params = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_NamedVarianceScaling):
    """He (Kaiming) uniform: ``U[-limit, limit]``, ``limit = sqrt(6 / fan_in)``. For ReLU layers."""

    name = "he_uniform"
    _params = (2.0, "fan_in", "uniform")


class HeNormal(_NamedVarianceScaling):
    """He (Kaiming) normal: truncated normal with variance ``2 / fan_in``,
    i.e. ``stddev = sqrt(2 / fan_in) / 0.8796`` before truncation at 2 stddev. For ReLU layers."""

    name = "he_normal"
    _params = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_NamedVarianceScaling):
    """LeCun uniform: ``U[-limit, limit]``, ``limit = sqrt(3 / fan_in)``."""

    name = "lecun_uniform"
    _params = (1.0, "fan_in", "uniform")


class LecunNormal(_NamedVarianceScaling):
    """LeCun normal: truncated normal with variance ``1 / fan_in``,
    i.e. ``stddev = sqrt(1 / fan_in) / 0.8796`` before truncation. Use it with SELU."""

    name = "lecun_normal"
    _params = (1.0, "fan_in", "truncated_normal")


_CLASSES: dict[str, type[Initializer]] = {
    cls.name: cls
    for cls in (
        Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
        GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
    )
}
_ALIASES = {"normal": "random_normal", "uniform": "random_uniform", "zero": "zeros", "one": "ones"}

#: The names of every initializer :func:`get` knows (aliases not included).
ALL: tuple[str, ...] = tuple(_CLASSES)


def get(identifier: Any) -> Initializer:
    """Return an :class:`Initializer` for ``identifier``.

    Parameters
    ----------
    identifier : str, dict or Initializer
        A name from :data:`ALL` (case-insensitive; ``'normal'`` and ``'uniform'``
        mean ``random_normal`` and ``random_uniform``), a config dict such as
        ``{'name': 'random_normal', 'stddev': 0.01}``, or an instance (returned as is).
    """
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        name = check_choice("initializer", identifier, (*_CLASSES, *_ALIASES))
        return _CLASSES[_ALIASES.get(name, name)]()
    if isinstance(identifier, dict):
        if "name" not in identifier:
            raise ValueError(
                f"an initializer config dict needs a 'name' key, got keys {sorted(identifier)}"
            )
        params = {k: v for k, v in identifier.items() if k != "name"}
        name = check_choice("initializer", identifier["name"], (*_CLASSES, *_ALIASES))
        try:
            return _CLASSES[_ALIASES.get(name, name)](**params)
        except TypeError as exc:
            message = f"invalid parameters {params} for initializer {name!r}: {exc}"
            raise TypeError(message) from None
    raise TypeError(
        "initializer must be a name such as 'glorot_uniform', a config dict or an Initializer "
        f"instance, got {identifier!r} ({type(identifier).__name__})"
    )


def serialize(initializer: Any) -> dict:
    """The config dict of ``initializer`` (anything :func:`get` accepts)."""
    return get(initializer).get_config()

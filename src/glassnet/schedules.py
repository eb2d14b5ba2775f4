"""Learning-rate schedules: the step size as a function of the step number.

An optimizer whose ``learning_rate`` is a schedule evaluates it once before
every update, at ``step = optimizer.iterations`` (0 for the first update), as
Keras does. Every schedule here follows the Keras 3 formula of the same name.

A schedule is a plain callable, so it is easy to look at::

    schedule = ExponentialDecay(0.1, decay_steps=100, decay_rate=0.5)
    schedule(0), schedule(100), schedule(200)      # 0.1, 0.05, 0.025
    schedule(np.arange(1000))                      # an array, ready to plot

Schedules are saved as JSON-friendly dicts (:meth:`LearningRateSchedule.get_config`,
whose ``'name'`` key names the class) and rebuilt with :func:`deserialize`.

A schedule computes on the host with NumPy whichever array backend is active
(:mod:`glassnet.backend`): the optimizer asks for one Python float per step.
An array of steps of the active backend is accepted and copied to the host.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet._validation import check_choice, check_float, check_positive
from glassnet.backend import is_backend_array, xp


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
    return bool(value)


class LearningRateSchedule:
    """Base class: a learning rate that depends on the step number.

    Subclasses implement :meth:`_rate`, which receives the step as a float64
    array (so one formula serves a single step and a whole plot), and
    :meth:`get_config`.
    """

    def __call__(self, step: float | np.ndarray) -> float | np.ndarray:
        """The learning rate at ``step`` (a number, or an array of steps).

        Returns a Python float for a scalar step and a float64 NumPy array otherwise.
        """
        if is_backend_array(step) and not isinstance(step, np.ndarray):
            step = xp.to_numpy(step)
        steps = np.asarray(step, dtype=np.float64)
        if np.any(steps < 0) or not np.all(np.isfinite(steps)):
            raise ValueError(f"step must be a finite number >= 0, got {step!r}")
        rate = self._rate(steps)
        return float(rate) if np.ndim(rate) == 0 else np.asarray(rate, dtype=np.float64)

    def _rate(self, step: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, plus ``'name'``: the class name."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        """Rebuild a schedule from :meth:`get_config`'s dict."""
        arguments = dict(config)
        name = arguments.pop("name", cls.__name__)
        if name.lower() != cls.__name__.lower():
            raise ValueError(f"config describes a {name!r} schedule, not a {cls.__name__!r}")
        return cls(**arguments)

    def __repr__(self) -> str:
        config = self.get_config()
        name = config.pop("name")
        arguments = ", ".join(f"{key}={value!r}" for key, value in config.items())
        return f"{name}({arguments})"


class ExponentialDecay(LearningRateSchedule):
    r"""Multiply the rate by ``decay_rate`` every ``decay_steps`` steps.

    .. math::

        \eta(t) = \eta_0 \cdot r^{\,t / T}

    with :math:`\eta_0` = ``initial_learning_rate``, :math:`r` = ``decay_rate``,
    :math:`T` = ``decay_steps``. With ``staircase=True`` the exponent is
    :math:`\lfloor t / T \rfloor`, so the rate drops in steps instead of smoothly.

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0 (>= 0).
    decay_steps : float
        Steps over which the rate is multiplied by ``decay_rate`` once (> 0).
    decay_rate : float
        The factor (> 0; below 1 to decay).
    staircase : bool
        Decay at integer multiples of ``decay_steps`` only.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = check_float(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_positive("decay_rate", decay_rate)
        self.staircase = _check_bool("staircase", staircase)

    def _rate(self, step: np.ndarray) -> np.ndarray:
        exponent = step / self.decay_steps
        if self.staircase:
            exponent = np.floor(exponent)
        return self.initial_learning_rate * self.decay_rate**exponent

    def get_config(self) -> dict[str, Any]:
        return {
            "name": "ExponentialDecay",
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class InverseTimeDecay(LearningRateSchedule):
    r"""Decay the rate like :math:`1/t`.

    .. math::

        \eta(t) = \frac{\eta_0}{1 + r \, t / T}

    with :math:`\eta_0` = ``initial_learning_rate``, :math:`r` = ``decay_rate``,
    :math:`T` = ``decay_steps``; ``staircase=True`` uses :math:`\lfloor t/T \rfloor`.

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0 (>= 0).
    decay_steps : float
        The time scale of the decay (> 0).
    decay_rate : float
        How fast it decays (>= 0).
    staircase : bool
        Decay at integer multiples of ``decay_steps`` only.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        decay_rate: float,
        staircase: bool = False,
    ) -> None:
        self.initial_learning_rate = check_float(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.decay_rate = check_float("decay_rate", decay_rate, low=0.0)
        self.staircase = _check_bool("staircase", staircase)

    def _rate(self, step: np.ndarray) -> np.ndarray:
        progress = step / self.decay_steps
        if self.staircase:
            progress = np.floor(progress)
        return self.initial_learning_rate / (1.0 + self.decay_rate * progress)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": "InverseTimeDecay",
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    r"""A constant rate between boundaries.

    .. math::

        \eta(t) = v_0 \text{ for } t \le b_0, \quad
        v_i \text{ for } b_{i-1} < t \le b_i, \quad
        v_n \text{ for } t > b_{n-1}

    Parameters
    ----------
    boundaries : sequence of float, length n
        Strictly increasing step numbers.
    values : sequence of float, length n + 1
        The rate on each interval (>= 0).

    Examples
    --------
    ``PiecewiseConstantDecay([1000, 2000], [0.1, 0.01, 0.001])`` uses 0.1 for the
    first 1001 steps (0 to 1000), 0.01 up to step 2000, then 0.001.
    """

    def __init__(self, boundaries: Sequence[float], values: Sequence[float]) -> None:
        boundaries = [check_float(f"boundaries[{i}]", b) for i, b in enumerate(boundaries)]
        values = [check_float(f"values[{i}]", v, low=0.0) for i, v in enumerate(values)]
        if len(values) != len(boundaries) + 1:
            raise ValueError(
                "values must have exactly one more element than boundaries, got "
                f"{len(boundaries)} boundaries and {len(values)} values"
            )
        if np.any(np.diff(boundaries) <= 0):
            raise ValueError(f"boundaries must be strictly increasing, got {boundaries}")
        self.boundaries = boundaries
        self.values = values

    def _rate(self, step: np.ndarray) -> np.ndarray:
        # side="left": a step equal to boundary b_i still belongs to interval i.
        interval = np.searchsorted(self.boundaries, step, side="left")
        return np.asarray(self.values)[interval]

    def get_config(self) -> dict[str, Any]:
        return {
            "name": "PiecewiseConstantDecay",
            "boundaries": list(self.boundaries),
            "values": list(self.values),
        }


class CosineDecay(LearningRateSchedule):
    r"""Half a cosine from the start rate down to ``alpha`` times it, with optional warm-up.

    Without warm-up (``warmup_target=None``), for :math:`t' = \min(t, T)`:

    .. math::

        \eta(t) = \eta_0 \left[(1 - \alpha)\, \tfrac12 \left(1 + \cos \frac{\pi t'}{T}\right)
                  + \alpha\right]

    With warm-up, the rate first rises linearly from :math:`\eta_0` to
    :math:`\eta_{target}` over :math:`W` = ``warmup_steps`` steps,
    :math:`\eta(t) = \eta_0 + (\eta_{target} - \eta_0)\, t / W` for :math:`t < W`,
    and then decays from :math:`\eta_{target}` by the formula above with
    :math:`t' = \min(t, W + T) - W`.

    Parameters
    ----------
    initial_learning_rate : float
        The rate at step 0 (>= 0; often 0 with warm-up).
    decay_steps : float
        Length :math:`T` of the cosine part (> 0).
    alpha : float
        The final rate as a fraction of the decay's start rate, in [0, 1].
    warmup_target : float or None
        The rate reached at the end of warm-up; ``None`` means no warm-up.
    warmup_steps : float
        Length :math:`W` of the warm-up (>= 0); needs ``warmup_target``.
    """

    def __init__(
        self,
        initial_learning_rate: float,
        decay_steps: float,
        alpha: float = 0.0,
        warmup_target: float | None = None,
        warmup_steps: float = 0,
    ) -> None:
        self.initial_learning_rate = check_float(
            "initial_learning_rate", initial_learning_rate, low=0.0
        )
        self.decay_steps = check_positive("decay_steps", decay_steps)
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0)
        self.warmup_target = (
            None if warmup_target is None else check_float("warmup_target", warmup_target, low=0.0)
        )
        self.warmup_steps = check_float("warmup_steps", warmup_steps, low=0.0)
        if self.warmup_target is None and self.warmup_steps > 0:
            raise ValueError(
                f"warmup_steps={warmup_steps} has no effect without warmup_target; "
                "pass warmup_target (the rate to reach at the end of warm-up)"
            )

    def _cosine(self, step: np.ndarray, start_rate: float) -> np.ndarray:
        cosine = 0.5 * (1.0 + np.cos(math.pi * step / self.decay_steps))
        return start_rate * ((1.0 - self.alpha) * cosine + self.alpha)

    def _rate(self, step: np.ndarray) -> np.ndarray:
        if self.warmup_target is None:
            return self._cosine(np.minimum(step, self.decay_steps), self.initial_learning_rate)
        step = np.minimum(step, self.warmup_steps + self.decay_steps)
        # Guard the division for warmup_steps == 0; those values are discarded by the where.
        warmup_fraction = step / max(self.warmup_steps, 1e-300)
        warming_up = (
            self.initial_learning_rate
            + (self.warmup_target - self.initial_learning_rate) * warmup_fraction
        )
        decaying = self._cosine(step - self.warmup_steps, self.warmup_target)
        return np.where(step < self.warmup_steps, warming_up, decaying)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": "CosineDecay",
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


_SCHEDULES: dict[str, type[LearningRateSchedule]] = {
    cls.__name__.lower(): cls
    for cls in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, CosineDecay)
}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """A JSON-friendly dict describing ``schedule`` (its ``get_config()``)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedule must be a LearningRateSchedule, got {type(schedule).__name__}")
    return schedule.get_config()


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """Rebuild a schedule from :func:`serialize`'s dict (its ``'name'`` picks the class)."""
    if not isinstance(config, dict) or "name" not in config:
        raise ValueError(
            "a schedule config must be a dict with a 'name' key naming the schedule class, "
            f"got {config!r}"
        )
    key = check_choice("learning-rate schedule", config["name"], _SCHEDULES)
    return _SCHEDULES[key].from_config(config)


def get(identifier: LearningRateSchedule | dict[str, Any]) -> LearningRateSchedule:
    """Return a schedule given a schedule (returned as is) or a config dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(
        "a learning-rate schedule must be a LearningRateSchedule or a config dict, "
        f"got {type(identifier).__name__}"
    )

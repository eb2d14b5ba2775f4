r"""Optimizers: how a gradient becomes a parameter update.

Every optimizer here follows the Keras 3 optimizer of the same name: the same
hyperparameter names, defaults and update equations (including where epsilon
sits, which differs from PyTorch in several of them; each class says how).

The flat-buffer design
----------------------
A model keeps *all* its trainable parameters in one contiguous 1-D buffer
``params`` and all gradients in a buffer ``grads`` of the same size; each
layer's ``W`` and ``b`` are reshaped views into them. So one optimizer step is
a handful of in-place passes over the whole buffer, each writing into a
buffer allocated once in :meth:`Optimizer.build` (``out=`` arguments, no
temporaries, no Python loop over layers). Gradients are recomputed every step,
so the optimizer may use ``grads`` as scratch space.

Backends
--------
Every array operation goes through ``xp``, the namespace of the active array
backend (:mod:`glassnet.backend`): ``params``, ``grads`` and the state buffers
(Adam's ``m`` and ``v``, ...) are arrays of that backend, and on NumPy
``xp.multiply`` *is* ``numpy.multiply``. The scalars that steer an update (the
learning rate, Adam's bias-corrected step size, Nadam's momentum product) are
Python floats computed on the host. :meth:`Optimizer.get_state` and
:meth:`Optimizer.set_state` give and take NumPy arrays whichever backend is
active, so checkpoints are NumPy ``.npy`` files.

Notation in the docstrings: :math:`\theta` the parameters, :math:`g` the
gradient of the loss, :math:`\eta` the learning rate, :math:`t` the step
number starting at 1 (``iterations + 1``). All operations on vectors are
elementwise.

Plain gradient descent, the update :math:`W := W - \alpha\, dW` of the
classic articles, is ``optimizer='sgd'`` with ``batch_size=len(X)`` in
``fit`` (every step sees the whole data set).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np

from glassnet import _fused, schedules
from glassnet._arrays import scalar_array
from glassnet._validation import _describe, check_bool, check_choice, check_float, check_int, check_positive
from glassnet.backend import dtype_name, is_backend_array, to_numpy, xp
from glassnet.equations import to_latex
from glassnet.schedules import LearningRateSchedule


def _check_optional_positive(name: str, value: Any) -> float | None:
    return None if value is None else check_positive(name, value)


def _check_decay(name: str, value: Any) -> float:
    """A decay rate such as beta_1 or rho: a number in [0, 1)."""
    return check_float(name, value, low=0.0, high=1.0, high_inclusive=False)


def _clip_by_norm(values: np.ndarray, max_norm: float) -> None:
    r"""Scale the 1-D array ``values`` in place so that its L2 norm is at most ``max_norm``.

    :math:`g \leftarrow g \cdot c / \max(\lVert g \rVert_2, c)` (Keras).
    """
    norm = math.sqrt(float(xp.vdot(values, values)))  # sqrt(sum of g_i^2)
    if norm > max_norm:
        values *= max_norm / norm


def _clip_by_value(values: np.ndarray, max_value: float) -> None:
    """Clip every element of ``values`` to ``[-max_value, max_value]``, in place."""
    if xp.is_numpy:
        xp.clip(values, -max_value, max_value, out=values)
    else:  # the array API's clip has no out=
        values[...] = xp.clip(values, -max_value, max_value)


#: Every Optimizer subclass by lower-case class name (what ``get`` and saved configs name).
OPTIMIZER_CLASSES: dict[str, type[Optimizer]] = {}


class Optimizer:
    r"""Base class: clipping, learning rate, step counter, state and config.

    Each optimizer states its mathematics: :meth:`update_rule` (the lines a textbook
    prints, θ standing for every parameter and g for its gradient), :meth:`update_rule_latex`,
    :attr:`notation` (which symbol is which hyperparameter or state buffer),
    :attr:`state_names` and :attr:`hyperparameters`. A subclass joins the registry
    :data:`OPTIMIZER_CLASSES` when it is defined.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule
        The step size :math:`\eta` (> 0), or a schedule evaluated at
        ``iterations`` before every step.
    clipnorm : float, optional
        Rescale the gradient of each weight array (each segment given to
        :meth:`build`) whose L2 norm exceeds this value to have this norm.
    clipvalue : float, optional
        Clip every gradient element to ``[-clipvalue, clipvalue]``.
    global_clipnorm : float, optional
        Rescale the whole gradient if its L2 norm (over all arrays) exceeds
        this value. At most one of the three clipping options may be set (Keras).
    name : str, optional
        Defaults to the lower-case class name (``'adam'``, ``'sgd'``, ...).

    Attributes
    ----------
    iterations : int
        The number of steps applied so far.
    built : bool
        Whether :meth:`build` has allocated the state buffers.
    """

    #: What the symbols of :meth:`update_rule` stand for, in the code's names.
    notation = "θ: the parameters, g: their gradient, α = learning_rate"
    #: Whether the update needs a scratch buffer the size of ``params``.
    _needs_scratch = True
    #: Shape, dtype and backend of the parameter buffer; set by :meth:`build`.
    _shape: tuple[int, ...]
    _dtype: Any
    _dtype_name: str
    _backend: str

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule,
        *,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.clipnorm = _check_optional_positive("clipnorm", clipnorm)
        self.clipvalue = _check_optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = _check_optional_positive("global_clipnorm", global_clipnorm)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of clipnorm, clipvalue and global_clipnorm can be set, got "
                f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        if name is None:
            name = type(self).__name__.lower()
        if not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name
        self.iterations = 0
        self.built = False
        # Arrays of params' backend shaped like params (Nadam adds a host scalar).
        self._state: dict[str, np.ndarray] = {}
        self._scratch: np.ndarray | None = None
        self._segments: list[tuple[int, int]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        OPTIMIZER_CLASSES[cls.__name__.lower()] = cls

    # ------------------------------------------------------------ mathematics
    def update_rule(self) -> list[str]:
        """The update, one line per equation as a textbook prints it (``:=`` assigns)."""
        return [f"see the docstring of {type(self).__name__}"]

    def update_rule_latex(self) -> list[str]:
        """:meth:`update_rule` in LaTeX (``:=`` becomes ``\\leftarrow``)."""
        return [to_latex(line) for line in self.update_rule()]

    @property
    def state_names(self) -> tuple[str, ...]:
        """The names of the state buffers (``'momentums'``, ``'velocities'``, ...), as saved."""
        return self._state_names()

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Every setting of :meth:`get_config` but the names: learning rate, betas, clipping, ..."""
        return {key: value for key, value in self.get_config().items() if key not in ("name", "class_name")}

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self) -> float | LearningRateSchedule:
        """The configured learning rate: a float or a schedule (settable)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        if isinstance(value, LearningRateSchedule):
            self._learning_rate: float | LearningRateSchedule = value
        else:
            self._learning_rate = check_positive("learning_rate", value)

    @property
    def current_learning_rate(self) -> float:
        """The learning rate the next step will use (the schedule at ``iterations``)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            # float(): a NumPy float64 scalar would upcast float32 buffers.
            return float(self._learning_rate(self.iterations))
        return self._learning_rate

    # ------------------------------------------------------------------- build
    def _state_names(self) -> tuple[str, ...]:
        """Names of the state buffers this optimizer keeps (each shaped like ``params``)."""
        return ()

    def _initial_state(self, params: np.ndarray) -> dict[str, np.ndarray]:
        """Fresh state buffers on params' backend; zeros unless a subclass says otherwise."""
        return {name: xp.zeros_like(params) for name in self._state_names()}

    def build(
        self, params: np.ndarray, segments: Sequence[tuple[int, int]] | None = None
    ) -> None:
        """Allocate the state buffers for a flat parameter buffer.

        Parameters
        ----------
        params : array of shape (n_params,)
            The model's flat float parameter buffer, an array of the active backend.
        segments : sequence of (start, stop), optional
            Where each weight array lives in ``params`` (``params[start:stop]``);
            ``clipnorm`` clips each segment's gradient norm separately. ``None``
            (the default) means one segment: the whole buffer.

        Notes
        -----
        Building again for a buffer of the same size and dtype keeps the state
        (momentum survives several ``fit`` calls, as in Keras).
        """
        if not is_backend_array(params) or params.ndim != 1:
            raise ValueError(
                f"params must be a 1-D array of the active backend ({xp.name!r}), the flat "
                f"parameter buffer that is updated in place; got {_describe(params)}"
            )
        if not dtype_name(params).startswith("float"):
            raise TypeError(f"params must be a float array, got dtype {dtype_name(params)}")
        size = params.shape[0]
        self._segments = self._check_segments([(0, size)] if segments is None else segments, size)
        if self.built:
            if self._backend != xp.name:
                raise ValueError(
                    f"This optimizer was built on the {self._backend!r} backend and the active "
                    f"backend is {xp.name!r}; create a new optimizer"
                )
            if params.shape != self._shape or params.dtype != self._dtype:
                raise ValueError(
                    f"This optimizer was built for {self._shape[0]} {self._dtype_name} "
                    f"parameters, got {size} {dtype_name(params)} ones; create a new optimizer"
                )
            return
        self._shape = tuple(params.shape)
        self._dtype = params.dtype
        self._dtype_name = dtype_name(params)
        self._backend = xp.name
        self._state = self._initial_state(params)
        self._scratch = xp.empty_like(params) if self._needs_scratch else None
        self.built = True

    @staticmethod
    def _check_segments(segments: Sequence[tuple[int, int]], size: int) -> list[tuple[int, int]]:
        checked = []
        previous_stop = 0
        for index, segment in enumerate(segments):
            try:
                start, stop = segment
            except (TypeError, ValueError):
                raise ValueError(
                    f"segments[{index}] must be a (start, stop) pair, got {segment!r}"
                ) from None
            start = check_int(f"segments[{index}] start", start, minimum=0)
            stop = check_int(f"segments[{index}] stop", stop, minimum=0)
            if not previous_stop <= start < stop <= size:
                raise ValueError(
                    f"segments must be sorted, non-overlapping, non-empty ranges inside "
                    f"[0, {size}], got segments[{index}] = {segment!r}"
                )
            checked.append((start, stop))
            previous_stop = stop
        return checked

    # ------------------------------------------------------------------- apply
    def apply(self, params: np.ndarray, grads: np.ndarray) -> None:
        """Clip ``grads``, then update ``params`` in place; ``iterations += 1``.

        Parameters
        ----------
        params : array of shape (n_params,)
            The flat parameter buffer this optimizer was built for.
        grads : array of shape (n_params,)
            The flat gradient: same backend and dtype. It is overwritten (the
            optimizer uses it as scratch space).

        Notes
        -----
        An optimizer that was never built is built here with the whole buffer
        as one segment.
        """
        if not self.built:
            self.build(params)  # build checks that params is an array of the active backend
        # Once a step: cheap attribute comparisons only (this is the training loop's hot path).
        if params.shape != self._shape or params.dtype != self._dtype:
            raise ValueError(
                f"params must be the {self._shape[0]}-element {self._dtype_name} {self._backend} "
                f"buffer this optimizer was built for, got {_describe(params)}"
            )
        if not isinstance(grads, xp.array_type) or grads.shape != params.shape:
            raise ValueError(
                f"grads must be an array of shape {self._shape} of the active backend "
                f"({xp.name!r}), got {_describe(grads)}"
            )
        if grads.dtype != params.dtype:
            raise TypeError(f"grads must have dtype {self._dtype_name}, got {dtype_name(grads)}")
        self._clip_gradients(grads)
        learning_rate, step = self.current_learning_rate, self.iterations + 1
        # The same rule in one compiled pass, for buffers large enough to pay for numba.
        fused = (params.shape[0] >= _fused.MIN_PARAMS
                 and _fused.update(self, params, grads, learning_rate, step))
        if not fused:
            self._update(params, grads, learning_rate, step)
        self.iterations += 1

    def _clip_gradients(self, grads: np.ndarray) -> None:
        if self.clipnorm is not None:
            for start, stop in self._segments:
                _clip_by_norm(grads[start:stop], self.clipnorm)
        elif self.global_clipnorm is not None:
            _clip_by_norm(grads, self.global_clipnorm)
        elif self.clipvalue is not None:
            _clip_by_value(grads, self.clipvalue)

    def _update(
        self, params: np.ndarray, grads: np.ndarray, learning_rate: float, step: int
    ) -> None:
        """Update ``params`` in place; ``step`` is ``iterations + 1``."""
        raise NotImplementedError

    def _scratch_buffer(self) -> np.ndarray:
        """The work array of ``params``' size that :meth:`build` allocated."""
        if self._scratch is None:
            raise RuntimeError(f"{type(self).__name__} has no scratch buffer; build() allocates it")
        return self._scratch

    # ------------------------------------------------------------ state / config
    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of ``'iterations'`` and every state buffer, for saving and resuming.

        The copies are NumPy arrays whichever backend is active, so a checkpoint
        is a set of ``.npy`` files. Restoring them with :meth:`set_state`
        continues training bitwise identically.
        """
        state = {"iterations": np.array(self.iterations, dtype=np.int64)}
        for name, buffer in self._state.items():
            state[name] = np.array(xp.to_numpy(buffer))  # np.array copies
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`get_state` returned.

        ``state`` maps names to NumPy arrays (arrays of the active backend are
        accepted too); their values are copied into the state buffers on the
        active backend. The optimizer must be built (for a model of the same
        size) unless ``state`` holds only ``'iterations'``.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of arrays, got {type(state).__name__}")
        expected = {"iterations", *self._state}
        if set(state) != expected:
            hint = "" if self.built else " (build the optimizer before restoring its buffers)"
            raise ValueError(
                f"{type(self).__name__} state must have exactly the keys {sorted(expected)}, "
                f"got {sorted(state)}{hint}"
            )
        iterations = to_numpy(state["iterations"])
        if iterations.shape != () or iterations.dtype.kind not in "iu" or iterations < 0:
            raise ValueError(
                f"state['iterations'] must be a non-negative integer scalar, got {iterations!r}"
            )
        values: dict[str, np.ndarray] = {}  # check everything before writing anything
        for name, buffer in self._state.items():
            value = to_numpy(state[name])
            if value.shape != tuple(buffer.shape):
                raise ValueError(
                    f"state[{name!r}] must have shape {tuple(buffer.shape)}, got {value.shape}"
                )
            host_dtype = np.dtype(dtype_name(buffer))
            if not np.can_cast(value.dtype, host_dtype, casting="same_kind"):
                raise TypeError(
                    f"state[{name!r}] must hold {host_dtype} numbers, got dtype {value.dtype}"
                )
            values[name] = value.astype(host_dtype, copy=False)
        for name, buffer in self._state.items():
            if isinstance(buffer, np.ndarray):  # the NumPy backend, or a host scalar
                np.copyto(buffer, values[name])
            else:
                xp.copyto(buffer, xp.from_numpy(values[name]))
        self.iterations = int(iterations)

    def get_config(self) -> dict[str, Any]:
        """A JSON-friendly dict of every hyperparameter.

        ``'name'`` is the optimizer's name (by default the lower-case class name
        that :func:`get` understands) and ``'class_name'`` the class; a schedule
        is stored as its own config dict.
        """
        learning_rate: float | dict[str, Any]
        if isinstance(self._learning_rate, LearningRateSchedule):
            learning_rate = schedules.serialize(self._learning_rate)
        else:
            learning_rate = self._learning_rate
        return {
            "name": self.name,
            "class_name": type(self).__name__,
            "learning_rate": learning_rate,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Optimizer:
        """Rebuild an optimizer (without its state) from :meth:`get_config`'s dict."""
        arguments = dict(config)
        class_name = arguments.pop("class_name", cls.__name__)
        if class_name.lower() != cls.__name__.lower():
            raise ValueError(f"config describes a {class_name!r} optimizer, not a {cls.__name__!r}")
        if isinstance(arguments.get("learning_rate"), dict):
            arguments["learning_rate"] = schedules.deserialize(arguments["learning_rate"])
        return cls(**arguments)

    def __repr__(self) -> str:
        config = self.get_config()
        class_name = config.pop("class_name")
        if config["name"] == class_name.lower():
            del config["name"]
        arguments = ", ".join(
            f"{key}={value!r}" for key, value in config.items() if value is not None
        )
        return f"{class_name}({arguments})"


class SGD(Optimizer):
    r"""Stochastic gradient descent, optionally with (Nesterov) momentum.

    Without momentum: :math:`\theta \leftarrow \theta - \eta\, g`.

    With momentum :math:`\mu`, a velocity :math:`v` (starting at 0) accumulates
    the steps:

    .. math::

        v &\leftarrow \mu\, v - \eta\, g \\
        \theta &\leftarrow \theta + v \qquad
        \text{(Nesterov: } \theta \leftarrow \theta + \mu\, v - \eta\, g \text{)}

    (PyTorch keeps :math:`b = \mu b + g` and steps :math:`-\eta b`; for a
    constant :math:`\eta` that is the same update with :math:`v = -\eta b`.)

    Full-batch gradient descent, :math:`W := W - \alpha\, dW`, is
    ``optimizer='sgd'`` with ``batch_size=len(X)`` in ``fit``.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.01
    momentum : float, default 0.0
        :math:`\mu`, in [0, 1].
    nesterov : bool, default False
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name`` (see :class:`Optimizer`).
    """

    _needs_scratch = False

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0)
        self.nesterov = check_bool("nesterov", nesterov)

    notation = "θ: the parameters, g: their gradient, α = learning_rate, μ = momentum, v = momentums"

    def update_rule(self) -> list[str]:
        if self.momentum == 0:
            return ["θ := θ - α·g"]
        step = "θ := θ + μ·v - α·g" if self.nesterov else "θ := θ + v"
        return ["v := μ·v - α·g", step]

    def _state_names(self) -> tuple[str, ...]:
        return ("momentums",) if self.momentum > 0 else ()

    def _update(self, params, grads, learning_rate, step):
        grads *= learning_rate  # grads now holds eta * g
        if self.momentum == 0:
            params -= grads
            return
        velocity = self._state["momentums"]
        velocity *= self.momentum
        velocity -= grads  # v = mu * v - eta * g
        if self.nesterov:
            params -= grads
            xp.multiply(velocity, self.momentum, out=grads)
            params += grads  # theta += mu * v - eta * g
        else:
            params += velocity

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    r"""Divide the gradient by a running root mean square of recent gradients.

    .. math::

        s &\leftarrow \rho\, s + (1 - \rho)\, g^2 \\
        \Delta &= \frac{\eta\, g}{\sqrt{s + \epsilon}} \qquad
        \text{(centered: } \bar g \leftarrow \rho \bar g + (1-\rho) g,\;
        \Delta = \frac{\eta\, g}{\sqrt{s - \bar g^2 + \epsilon}} \text{)} \\
        \theta &\leftarrow \theta - \Delta \qquad
        \text{(momentum: } b \leftarrow \mu b + \Delta,\; \theta \leftarrow \theta - b \text{)}

    Keras puts :math:`\epsilon` *inside* the square root; PyTorch adds it
    outside, :math:`\sqrt{s} + \epsilon`. Keras's momentum buffer holds
    :math:`\eta` times PyTorch's (the same update for a constant :math:`\eta`).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    rho : float, default 0.9
        Decay of the running averages, in [0, 1).
    momentum : float, default 0.0
        :math:`\mu`, in [0, 1].
    epsilon : float, default 1e-7
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its
        second moment.
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_decay("rho", rho)
        self.momentum = check_float("momentum", momentum, low=0.0, high=1.0)
        self.epsilon = check_positive("epsilon", epsilon)
        self.centered = check_bool("centered", centered)

    notation = ("θ: the parameters, g: their gradient, α = learning_rate, ρ = rho, ε = epsilon, "
                "μ = momentum, s = velocities, ḡ = average_gradients, b = momentums")

    def update_rule(self) -> list[str]:
        rule = ["s := ρ·s + (1 - ρ)·g²"]
        if self.centered:
            rule += ["ḡ := ρ·ḡ + (1 - ρ)·g", "Δ = α·g / √(s - ḡ² + ε)"]
        else:
            rule += ["Δ = α·g / √(s + ε)"]
        return rule + (["b := μ·b + Δ", "θ := θ - b"] if self.momentum > 0 else ["θ := θ - Δ"])

    def _state_names(self) -> tuple[str, ...]:
        names: tuple[str, ...] = ("velocities",)
        if self.momentum > 0:
            names += ("momentums",)
        if self.centered:
            names += ("average_gradients",)
        return names

    def _update(self, params, grads, learning_rate, step):
        rho, scratch = self.rho, self._scratch_buffer()
        square_average = self._state["velocities"]
        square_average *= rho
        xp.multiply(grads, grads, out=scratch)
        scratch *= 1.0 - rho
        square_average += scratch  # s = rho * s + (1 - rho) * g^2
        if self.centered:
            average = self._state["average_gradients"]
            average *= rho
            xp.multiply(grads, 1.0 - rho, out=scratch)
            average += scratch  # g_bar = rho * g_bar + (1 - rho) * g
            xp.multiply(average, average, out=scratch)
            xp.subtract(square_average, scratch, out=scratch)
            scratch += self.epsilon  # s - g_bar^2 + eps
        else:
            xp.add(square_average, self.epsilon, out=scratch)  # s + eps
        xp.sqrt(scratch, out=scratch)
        grads *= learning_rate
        grads /= scratch  # grads now holds the increment Delta
        if self.momentum > 0:
            buffer = self._state["momentums"]
            buffer *= self.momentum
            buffer += grads
            params -= buffer
        else:
            params -= grads

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adagrad(Optimizer):
    r"""Per-parameter step sizes that shrink with the sum of past squared gradients.

    .. math::

        a &\leftarrow a + g^2 \qquad (a \text{ starts at } a_0) \\
        \theta &\leftarrow \theta - \frac{\eta\, g}{\sqrt{a + \epsilon}}

    Keras puts :math:`\epsilon` inside the square root; PyTorch uses
    :math:`\sqrt{a} + \epsilon`.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    initial_accumulator_value : float, default 0.1
        :math:`a_0` (>= 0).
    epsilon : float, default 1e-7
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = check_float(
            "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.epsilon = check_positive("epsilon", epsilon)

    notation = "θ: the parameters, g: their gradient, α = learning_rate, ε = epsilon, a = accumulators"

    def update_rule(self) -> list[str]:
        return ["a := a + g²", "θ := θ - α·g / √(a + ε)"]

    def _state_names(self) -> tuple[str, ...]:
        return ("accumulators",)

    def _initial_state(self, params):
        return {"accumulators": xp.full_like(params, self.initial_accumulator_value)}

    def _update(self, params, grads, learning_rate, step):
        accumulator, scratch = self._state["accumulators"], self._scratch_buffer()
        xp.multiply(grads, grads, out=scratch)
        accumulator += scratch  # a = a + g^2
        xp.add(accumulator, self.epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        grads *= learning_rate
        grads /= scratch
        params -= grads

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


class Adadelta(Optimizer):
    r"""Step sizes from the ratio of running RMS of updates and of gradients.

    .. math::

        s &\leftarrow \rho\, s + (1 - \rho)\, g^2 \\
        \Delta &= -\frac{\sqrt{d + \epsilon}}{\sqrt{s + \epsilon}}\, g \\
        d &\leftarrow \rho\, d + (1 - \rho)\, \Delta^2 \\
        \theta &\leftarrow \theta + \eta\, \Delta

    The same equations as PyTorch's ``Adadelta``; only the default learning
    rate differs (Keras 0.001, PyTorch 1.0, the original paper has none, i.e. 1).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    rho : float, default 0.95
        Decay of the running averages, in [0, 1).
    epsilon : float, default 1e-7
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        rho: float = 0.95,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_decay("rho", rho)
        self.epsilon = check_positive("epsilon", epsilon)

    notation = ("θ: the parameters, g: their gradient, α = learning_rate, ρ = rho, ε = epsilon, "
                "s = accumulated_grads, d = accumulated_delta_vars")

    def update_rule(self) -> list[str]:
        return ["s := ρ·s + (1 - ρ)·g²", "Δ = -√(d + ε) / √(s + ε) · g",
                "d := ρ·d + (1 - ρ)·Δ²", "θ := θ + α·Δ"]

    def _state_names(self) -> tuple[str, ...]:
        return ("accumulated_grads", "accumulated_delta_vars")

    def _update(self, params, grads, learning_rate, step):
        rho, epsilon, scratch = self.rho, self.epsilon, self._scratch_buffer()
        square_grads = self._state["accumulated_grads"]
        square_deltas = self._state["accumulated_delta_vars"]
        square_grads *= rho
        xp.multiply(grads, grads, out=scratch)
        scratch *= 1.0 - rho
        square_grads += scratch  # s = rho * s + (1 - rho) * g^2
        xp.add(square_deltas, epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        grads *= scratch
        xp.add(square_grads, epsilon, out=scratch)
        xp.sqrt(scratch, out=scratch)
        grads /= scratch  # grads now holds -Delta
        square_deltas *= rho
        xp.multiply(grads, grads, out=scratch)
        scratch *= 1.0 - rho
        square_deltas += scratch  # d = rho * d + (1 - rho) * Delta^2
        grads *= learning_rate
        params -= grads

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Adam(Optimizer):
    r"""Adaptive moment estimation: momentum divided by a running RMS.

    .. math::

        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        v &\leftarrow v + (1 - \beta_2)(g^2 - v) \\
        \alpha_t &= \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t} \\
        \theta &\leftarrow \theta - \alpha_t\, \frac{m}{\sqrt{v} + \hat\epsilon}

    With ``amsgrad=True``, :math:`\hat v \leftarrow \max(\hat v, v)` replaces
    :math:`v` in the last line.

    The bias corrections are folded into the step size :math:`\alpha_t`, so
    Keras's :math:`\hat\epsilon` is the "epsilon hat" of Kingma & Ba (just
    before their section 2.1). PyTorch uses
    :math:`\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}
    \frac{m}{\sqrt{v / (1-\beta_2^t)} + \epsilon}`, i.e. the same update with
    :math:`\hat\epsilon = \epsilon \sqrt{1 - \beta_2^t}`; the two agree when
    epsilon is negligible.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float, default 0.9
        Decay of the first-moment average, in [0, 1).
    beta_2 : float, default 0.999
        Decay of the second-moment average, in [0, 1).
    epsilon : float, default 1e-7
    amsgrad : bool, default False
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_decay("beta_1", beta_1)
        self.beta_2 = _check_decay("beta_2", beta_2)
        self.epsilon = check_positive("epsilon", epsilon)
        self.amsgrad = check_bool("amsgrad", amsgrad)

    notation = ("θ: the parameters, g: their gradient, α = learning_rate, β1 = beta_1, β2 = beta_2, "
                "ε = epsilon, m = momentums, v = velocities (running averages of g and g², not the "
                "batch size), v̂ = velocity_hats, t = iterations + 1 (the step number)")

    def update_rule(self) -> list[str]:
        v = "v̂" if self.amsgrad else "v"
        rule = ["m := m + (1 - β1)·(g - m)", "v := v + (1 - β2)·(g² - v)"]
        if self.amsgrad:
            rule.append("v̂ := max(v̂, v)")
        return rule + ["α_t = α·√(1 - β2^t) / (1 - β1^t)", f"θ := θ - α_t·m / (√{v} + ε)"]

    def _state_names(self) -> tuple[str, ...]:
        names = ("momentums", "velocities")
        return names + ("velocity_hats",) if self.amsgrad else names

    def _update(self, params, grads, learning_rate, step):
        beta_1, beta_2, scratch = self.beta_1, self.beta_2, self._scratch_buffer()
        m, v = self._state["momentums"], self._state["velocities"]
        alpha = learning_rate * math.sqrt(1.0 - beta_2**step) / (1.0 - beta_1**step)   # α_t
        one_minus_beta_1, one_minus_beta_2, epsilon, alpha = self._scalars(alpha)

        xp.multiply(grads, grads, out=scratch)
        scratch -= v
        scratch *= one_minus_beta_2
        v += scratch  # v = v + (1 - beta_2) * (g^2 - v)
        xp.subtract(grads, m, out=grads)
        grads *= one_minus_beta_1
        m += grads  # m = m + (1 - beta_1) * (g - m)
        if self.amsgrad:
            v = xp.maximum(self._state["velocity_hats"], v, out=self._state["velocity_hats"])

        xp.multiply(m, alpha, out=grads)
        xp.sqrt(v, out=scratch)
        scratch += epsilon
        grads /= scratch
        params -= grads  # theta = theta - alpha * m / (sqrt(v) + eps)

    def _scalars(self, alpha: float) -> list[Any]:
        """``1 - beta_1``, ``1 - beta_2``, ``epsilon`` and ``alpha`` as 0-d arrays of the buffer's
        dtype (the same values; see :func:`glassnet._arrays.scalar_array` for why)."""
        key = (self.beta_1, self.beta_2, self.epsilon, self._dtype)
        if getattr(self, "_scalars_key", None) != key:
            self._scalars_key = key
            values = (1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon, 0.0)
            self._scalar_arrays = [scalar_array(value, self._dtype) for value in values]
        self._scalar_arrays[3][...] = alpha
        return self._scalar_arrays

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    r"""Adam with decoupled weight decay.

    Before each Adam step (see :class:`Adam`) the parameters shrink towards zero:

    .. math::

        \theta \leftarrow \theta - \eta\, \lambda\, \theta

    with :math:`\lambda` = ``weight_decay`` and :math:`\eta` the current
    learning rate. The decay acts on the parameters directly, not through the
    gradient, so the adaptive denominator does not weaken it (Loshchilov &
    Hutter). Keras and PyTorch both decay first, then take the Adam step, and
    both scale :math:`\lambda` by :math:`\eta`; they differ in Adam's epsilon
    only (see :class:`Adam`). Every parameter is decayed, biases included.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    weight_decay : float, default 0.004
        :math:`\lambda` (>= 0).
    beta_1, beta_2, epsilon, amsgrad
        As in :class:`Adam`.
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, **kwargs)
        self.weight_decay = check_float("weight_decay", weight_decay, low=0.0)

    notation = Adam.notation + ", λ = weight_decay"

    def update_rule(self) -> list[str]:
        return ["θ := θ - α·λ·θ   (decoupled weight decay, first)", *super().update_rule()]

    def _update(self, params, grads, learning_rate, step):
        params *= 1.0 - learning_rate * self.weight_decay   # θ := θ - α·λ·θ
        super()._update(params, grads, learning_rate, step)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "weight_decay": self.weight_decay}


class Adamax(Optimizer):
    r"""Adam with the infinity norm in place of the RMS.

    .. math::

        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        u &\leftarrow \max(\beta_2\, u,\ |g|) \\
        \theta &\leftarrow \theta - \frac{\eta\, m}{(1 - \beta_1^t)(u + \epsilon)}

    PyTorch adds :math:`\epsilon` inside the max, :math:`u \leftarrow
    \max(\beta_2 u, |g| + \epsilon)`, and divides by :math:`u` alone.

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
        Decay of the infinity norm, in [0, 1).
    epsilon : float, default 1e-7
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_decay("beta_1", beta_1)
        self.beta_2 = _check_decay("beta_2", beta_2)
        self.epsilon = check_positive("epsilon", epsilon)

    notation = ("θ: the parameters, g: their gradient, α = learning_rate, β1 = beta_1, β2 = beta_2, "
                "ε = epsilon, m = momentums, u = norms, t = iterations + 1")

    def update_rule(self) -> list[str]:
        return ["m := m + (1 - β1)·(g - m)", "u := max(β2·u, |g|)",
                "θ := θ - α·m / ((1 - β1^t)·(u + ε))"]

    def _state_names(self) -> tuple[str, ...]:
        return ("momentums", "norms")

    def _update(self, params, grads, learning_rate, step):
        beta_1, scratch = self.beta_1, self._scratch_buffer()
        m, u = self._state["momentums"], self._state["norms"]
        xp.subtract(grads, m, out=scratch)
        scratch *= 1.0 - beta_1
        m += scratch  # m = m + (1 - beta_1) * (g - m)
        u *= self.beta_2
        xp.abs(grads, out=grads)
        xp.maximum(u, grads, out=u)  # u = max(beta_2 * u, |g|)
        xp.add(u, self.epsilon, out=scratch)
        scratch *= 1.0 - beta_1**step
        xp.multiply(m, learning_rate, out=grads)
        grads /= scratch
        params -= grads

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Nadam(Optimizer):
    r"""Adam with Nesterov momentum (Dozat), using Keras's momentum schedule.

    The momentum coefficient warms up over the steps,
    :math:`\mu_t = \beta_1 (1 - \tfrac12 \cdot 0.96^{t})`, and
    :math:`\Pi_t = \prod_{i \le t} \mu_i`:

    .. math::

        m &\leftarrow m + (1 - \beta_1)(g - m) \\
        v &\leftarrow v + (1 - \beta_2)(g^2 - v) \\
        \hat m &= \frac{\mu_{t+1}\, m}{1 - \Pi_{t+1}} + \frac{(1 - \mu_t)\, g}{1 - \Pi_t}, \qquad
        \hat v = \frac{v}{1 - \beta_2^t} \\
        \theta &\leftarrow \theta - \frac{\eta\, \hat m}{\sqrt{\hat v} + \epsilon}

    PyTorch's ``NAdam`` is the same with :math:`0.96^{t \psi}` and default
    ``momentum_decay`` :math:`\psi = 0.004` (Dozat's value); with
    ``momentum_decay=1`` it matches Keras exactly. The running product
    :math:`\Pi_t` is part of the saved state (``'u_product'``).

    Parameters
    ----------
    learning_rate : float or LearningRateSchedule, default 0.001
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
    epsilon : float, default 1e-7
    **kwargs
        ``clipnorm``, ``clipvalue``, ``global_clipnorm``, ``name``.
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_decay("beta_1", beta_1)
        self.beta_2 = _check_decay("beta_2", beta_2)
        self.epsilon = check_positive("epsilon", epsilon)

    notation = ("θ: the parameters, g: their gradient, α = learning_rate, β1 = beta_1, β2 = beta_2, "
                "ε = epsilon, m = momentums, v = velocities, Π = u_product, t = iterations + 1")

    def update_rule(self) -> list[str]:
        return ["μ_t = β1·(1 - 0.5·0.96^t)", "Π_t = Π_(t-1)·μ_t",
                "m := m + (1 - β1)·(g - m)", "v := v + (1 - β2)·(g² - v)",
                "m̂ = μ_(t+1)·m / (1 - Π_(t+1)) + (1 - μ_t)·g / (1 - Π_t)", "v̂ = v / (1 - β2^t)",
                "θ := θ - α·m̂ / (√v̂ + ε)"]

    def _state_names(self) -> tuple[str, ...]:
        return ("momentums", "velocities", "u_product")

    def _initial_state(self, params):
        return {
            "momentums": xp.zeros_like(params),
            "velocities": xp.zeros_like(params),
            # Pi_0 = 1. A float64 scalar on the host (NumPy) whatever the backend, like the
            # other scalars of the update: reading it back from a GPU would stall every step.
            "u_product": np.ones((), dtype=np.float64),
        }

    def _update(self, params, grads, learning_rate, step):
        beta_1, beta_2, scratch = self.beta_1, self.beta_2, self._scratch_buffer()
        m, v = self._state["momentums"], self._state["velocities"]
        u_t = beta_1 * (1.0 - 0.5 * 0.96**step)
        u_next = beta_1 * (1.0 - 0.5 * 0.96 ** (step + 1))
        u_product = float(self._state["u_product"]) * u_t
        self._state["u_product"][...] = u_product
        u_product_next = u_product * u_next

        xp.multiply(grads, grads, out=scratch)
        scratch -= v
        scratch *= 1.0 - beta_2
        v += scratch  # v = v + (1 - beta_2) * (g^2 - v)
        xp.subtract(grads, m, out=scratch)
        scratch *= 1.0 - beta_1
        m += scratch  # m = m + (1 - beta_1) * (g - m)

        grads *= (1.0 - u_t) / (1.0 - u_product)
        xp.multiply(m, u_next / (1.0 - u_product_next), out=scratch)
        grads += scratch  # grads now holds m_hat
        xp.divide(v, 1.0 - beta_2**step, out=scratch)
        xp.sqrt(scratch, out=scratch)
        scratch += self.epsilon
        grads *= learning_rate
        grads /= scratch
        params -= grads

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


#: glassnet's own optimizers (the names an unknown name is compared with).
_OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__.lower(): cls
    for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam, Adamax, Nadam, AdamW)
}


def get(identifier: str | Optimizer | dict[str, Any]) -> Optimizer:
    """Return an optimizer from a name, an instance or a config dict.

    Parameters
    ----------
    identifier : str, Optimizer or dict
        A Keras name (case-insensitive): ``'sgd'``, ``'rmsprop'``, ``'adagrad'``,
        ``'adadelta'``, ``'adam'``, ``'adamax'``, ``'nadam'``, ``'adamw'``, giving
        the optimizer with default settings; an :class:`Optimizer` (returned as
        is); or a config dict such as ``{'name': 'adam', 'learning_rate': 0.01}``
        (the class comes from ``'class_name'`` if present, else from ``'name'``).
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        # Every registered optimizer has a default learning rate (only the base class has none).
        optimizer_class = cast("Callable[[], Optimizer]", OPTIMIZER_CLASSES[_optimizer_key(identifier)])
        return optimizer_class()
    if isinstance(identifier, dict):
        class_name = identifier.get("class_name", identifier.get("name"))
        if class_name is None:
            raise ValueError(
                f"an optimizer config needs a 'name' key, one of {sorted(_OPTIMIZERS)}; "
                f"got keys {sorted(identifier)}"
            )
        return OPTIMIZER_CLASSES[_optimizer_key(class_name)].from_config(identifier)
    raise TypeError(
        "optimizer must be a name, an Optimizer or a config dict, got "
        f"{identifier!r} ({type(identifier).__name__})"
    )


def _optimizer_key(name: Any) -> str:
    """The registry key for ``name`` (a subclass defined since counts too), or a ValueError
    that suggests the closest of glassnet's own names."""
    if isinstance(name, str) and name.lower() in OPTIMIZER_CLASSES:
        return name.lower()
    return check_choice("optimizer", name, _OPTIMIZERS)

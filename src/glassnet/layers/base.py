"""The Layer base class: forward(), backward() and the parameters a layer owns.

A layer declares its parameters in :meth:`Layer.build` with :meth:`Layer.add_weight`.
The model then allocates *one* contiguous buffer for the parameters of all layers
(and one for their gradients) and hands each layer its arrays as views into those
buffers (:meth:`Layer.bind`). An optimizer step is then a few in-place passes over
one buffer, and a layer's ``W`` and ``dW`` are ordinary arrays to read (NumPy arrays on
the default backend, see :mod:`glassnet.backend`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet import initializers, regularizers
from glassnet.backend import dtype_name, xp
from glassnet.layers.symbolic import connect, is_symbolic

_name_counts: dict[str, int] = {}


def unique_name(base: str) -> str:
    """``dense``, ``dense_1``, ``dense_2``, ... as Keras names its layers."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass
class ParamSpec:
    """What a layer needs allocated: a name, a shape, how to start and how to regularise."""

    name: str
    shape: tuple[int, ...]
    initializer: Any
    regularizer: Any = None
    trainable: bool = True

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


class Layer:
    """Base class of all layers.

    Subclasses implement :meth:`build` (declare parameters, set ``output_shape``),
    :meth:`forward` and :meth:`backward`. Shapes exclude the batch dimension:
    a Dense layer with 4 units has ``output_shape == (4,)``; its output for a
    batch of ``m`` examples has shape ``(m, 4)``.

    Parameters
    ----------
    name : str, optional
        Defaults to the class name in snake case with a counter (``dense_1``).
    input_shape : tuple of int, optional
        Shape of one example, for the first layer of a model.
    input_dim : int, optional
        Shorthand for ``input_shape=(input_dim,)`` (the articles' Keras code uses it).
    trainable : bool
        Whether ``fit`` updates this layer's parameters.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        input_shape: tuple[int, ...] | None = None,
        input_dim: int | None = None,
        trainable: bool = True,
    ) -> None:
        if input_dim is not None and input_shape is not None:
            raise ValueError(
                f"Give either input_dim or input_shape, not both; got input_dim={input_dim!r} "
                f"and input_shape={input_shape!r}"
            )
        if input_dim is not None:
            from glassnet._validation import check_int

            input_shape = (check_int("input_dim", input_dim),)
        if input_shape is not None:
            input_shape = _check_shape("input_shape", input_shape)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name or unique_name(_snake_case(type(self).__name__))
        from glassnet._validation import check_bool

        self.trainable = check_bool("trainable", trainable)
        self.declared_input_shape = input_shape
        self.input_shape: tuple[int, ...] | None = None
        self.output_shape: tuple[int, ...] | None = None
        self.built = False
        self.param_specs: list[ParamSpec] = []
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        # The first layer of a model need not compute dL/dX (nobody uses it).
        self.needs_input_gradient = True

    # -- construction -------------------------------------------------------------
    def build(self, input_shape: tuple[int, ...]) -> None:
        """Declare parameters for inputs of ``input_shape`` and set ``output_shape``."""
        self.input_shape = tuple(input_shape)
        self.output_shape = tuple(input_shape)
        self.built = True

    def add_weight(
        self,
        name: str,
        shape: tuple[int, ...],
        initializer: Any = "zeros",
        regularizer: Any = None,
        trainable: bool = True,
    ) -> None:
        """Declare a parameter array; the model allocates it (see :meth:`bind`).

        ``trainable=False`` declares a parameter that the optimizer never updates but
        that is saved and loaded with the others (BatchNormalization's moving statistics).
        """
        self.param_specs.append(
            ParamSpec(
                name,
                tuple(int(s) for s in shape),
                initializers.get(initializer),
                regularizers.get(regularizer),
                trainable,
            )
        )

    def bind(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        """Receive the parameter and gradient arrays (views into the model's buffers)."""
        self.params = params
        self.grads = grads

    # -- computation --------------------------------------------------------------
    def forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        """Compute this layer's output for a batch ``A_prev`` of shape ``(m, *input_shape)``."""
        raise NotImplementedError

    def backward(self, dA: np.ndarray) -> np.ndarray | None:
        """Given ``dA = dL/dA`` (shape of the output), fill ``self.grads`` and return ``dL/dA_prev``."""
        raise NotImplementedError

    def __call__(self, A_prev: Any, training: bool = False) -> Any:
        """``layer(A_prev)`` runs :meth:`forward`; on ``Input(...)`` or another layer's symbolic
        output it records the chain for ``Model(inputs, outputs)`` (see glassnet.functional)."""
        if is_symbolic(A_prev):
            return connect(self, A_prev)
        return self.forward(A_prev, training=training)

    # -- bookkeeping --------------------------------------------------------------
    def regularization_penalty(self) -> float:
        """Sum of this layer's regularisation terms (added to the loss)."""
        return sum(
            float(spec.regularizer(self.params[spec.name]))
            for spec in self.param_specs
            if spec.regularizer is not None
        )

    def count_params(self) -> int:
        return sum(spec.size for spec in self.param_specs)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the parameter arrays as NumPy arrays, in declaration order (Keras: kernel, bias)."""
        return [np.array(xp.to_numpy(self.params[spec.name])) for spec in self.param_specs]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Copy ``weights`` into the parameter arrays (shapes must match)."""
        if len(weights) != len(self.param_specs):
            raise ValueError(
                f"Layer {self.name!r} expects {len(self.param_specs)} weight arrays "
                f"({[s.name for s in self.param_specs]}), got {len(weights)}"
            )
        for spec, value in zip(self.param_specs, weights, strict=True):
            value = np.asarray(value)
            if value.shape != spec.shape:
                raise ValueError(
                    f"Layer {self.name!r}: weight {spec.name!r} must have shape {spec.shape}, "
                    f"got {value.shape}"
                )
            if not np.isfinite(value).all():
                raise ValueError(f"Layer {self.name!r}: weight {spec.name!r} contains NaN or inf")
            target = self.params[spec.name]
            if xp.is_numpy:
                target[...] = value
            else:
                target[...] = xp.from_numpy(value.astype(dtype_name(target)))

    def get_config(self) -> dict[str, Any]:
        """Constructor arguments, JSON-serialisable (used by ``model.save``)."""
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        config = dict(config)
        if "input_shape" in config:
            config["input_shape"] = tuple(config["input_shape"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} output_shape={self.output_shape}>"


def _check_shape(name: str, shape: Any) -> tuple[int, ...]:
    from glassnet._validation import check_int

    if isinstance(shape, int | np.integer) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple | list) or len(shape) == 0:
        raise TypeError(f"{name} must be a non-empty tuple of positive ints, got {shape!r}")
    return tuple(check_int(f"{name}[{i}]", s) for i, s in enumerate(shape))


def stores_examples_as_columns(m: int, shape: tuple[int, ...]) -> bool:
    """Whether a work array of ``m`` examples of ``shape`` keeps its examples as columns.

    Every array is *indexed* ``(m, n)``, one example per row. In memory, a narrow layer
    (fewer than 32 units) on a large batch (128 rows or more) stores the transpose,
    ``(n, m)`` with one example per column, as the articles write ``Z = W·A + b``: then
    ``Z += b`` runs along rows of ``m`` numbers instead of ``m`` rows of ``n`` numbers,
    which on the articles' 2-4-6-6-4-1 network at 1000 rows makes a training step
    about 1.5x faster. Wide layers and small batches keep examples in rows.
    """
    return len(shape) == 1 and shape[0] < 32 and m >= 128


class Workspace:
    """Arrays a layer writes into with ``out=``, allocated once per batch size.

    Training uses the same batch size step after step (plus one smaller last batch),
    so the arrays are made once and reused; no allocation happens in the hot loop.
    The memory layout of each array follows :func:`stores_examples_as_columns`.
    """

    def __init__(self, max_sizes: int = 3) -> None:
        self._by_size: dict[tuple[int, Any], dict[str, np.ndarray]] = {}
        self._max_sizes = max_sizes

    def get(self, m: int, dtype: Any, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
        key = (m, dtype)
        arrays = self._by_size.get(key)
        if arrays is None:
            if len(self._by_size) >= self._max_sizes:
                self._by_size.pop(next(iter(self._by_size)))
            arrays = {
                name: xp.empty((shape[0], m), dtype=dtype).T if stores_examples_as_columns(m, shape)
                else xp.empty((m, *shape), dtype=dtype)
                for name, shape in shapes.items()
            }
            self._by_size[key] = arrays
        return arrays

    def clear(self) -> None:
        self._by_size.clear()

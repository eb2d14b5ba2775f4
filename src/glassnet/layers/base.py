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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from glassnet import initializers, regularizers
from glassnet._validation import check_bool, check_int
from glassnet.backend import dtype_name, xp
from glassnet.equations import Equation, format_shape
from glassnet.layers.symbolic import connect, is_symbolic

if TYPE_CHECKING:
    from glassnet.activations import Activation

_name_counts: dict[str, int] = {}

#: Every Layer subclass by class name; a class joins when it is defined (model files name it).
LAYER_CLASSES: dict[str, type[Layer]] = {}


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
    :meth:`forward` and :meth:`backward`, and state their mathematics in
    :meth:`forward_equations` and :meth:`backward_equations` (the defaults describe any
    layer in general terms). Shapes exclude the batch dimension: a Dense layer with 4
    units has ``output_shape == (4,)``; its output for a batch of ``m`` examples has
    shape ``(m, 4)``.

    A subclass joins the registry :data:`LAYER_CLASSES` when it is defined, so a saved
    model that names it loads in any process where the class is defined.

    With ``layer.record = True`` (or inside :func:`recording`) every forward and
    backward pass keeps copies of its numbers in :attr:`recorded`; see :attr:`record`.

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
            input_shape = (check_int("input_dim", input_dim),)
        if input_shape is not None:
            input_shape = _check_shape("input_shape", input_shape)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {name!r}")
        self.name = name or unique_name(_snake_case(type(self).__name__))
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

    #: The activation ``g`` of layers that compute ``A = g(Z)`` (Dense, Activation), else None.
    activation: Activation | None = None
    #: ``Z`` and ``dZ`` of the last passes of a layer with an activation (set by forward/backward).
    Z: np.ndarray
    dZ: np.ndarray
    #: How each parameter is written in the equations: Dense's ``kernel`` is ``W``.
    param_symbols: ClassVar[dict[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        LAYER_CLASSES[cls.__name__] = cls

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

    def backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> np.ndarray | None:
        """Given ``dA = ∂L/∂A`` (shape of the output), fill ``self.grads`` and return ``∂L/∂A_prev``.

        An output layer whose loss fuses with its activation (``loss.fuses_with``) gets
        ``dZ = ∂L/∂Z`` instead; layers without an activation treat ``dZ`` as ``dA``. Returns
        None when :attr:`needs_input_gradient` is False (nothing below needs it).
        """
        raise NotImplementedError

    def __call__(self, A_prev: Any, training: bool = False) -> Any:
        """``layer(A_prev)`` runs :meth:`forward`; on ``Input(...)`` or another layer's symbolic
        output it records the chain for ``Model(inputs, outputs)`` (see glassnet.functional)."""
        if is_symbolic(A_prev):
            return connect(self, A_prev)
        return self.forward(A_prev, training=training)

    # -- mathematics --------------------------------------------------------------
    def symbol(self, param_name: str) -> str:
        """How parameter ``param_name`` is written in the equations (``'kernel'`` -> ``'W'``)."""
        return self.param_symbols.get(param_name, param_name)

    def array_shapes(self, m: Any = "m") -> dict[str, tuple[Any, ...]]:
        """The shape of every array of a forward pass over a batch of ``m`` examples.

        ``A_prev``, the parameters by symbol (``W``, ``b``), ``Z`` (for layers with an
        activation) and ``A``, in the order the forward pass meets them.
        """
        assert self.input_shape is not None and self.output_shape is not None, "built"
        shapes: dict[str, tuple[Any, ...]] = {"A_prev": (m, *self.input_shape)}
        shapes.update({self.symbol(spec.name): spec.shape for spec in self.param_specs})
        if self.activation is not None:
            shapes["Z"] = (m, *self.output_shape)
        shapes["A"] = (m, *self.output_shape)
        return shapes

    def forward_equations(self, l: int, m: Any = "m") -> list[Equation]:
        """The forward pass of this layer as layer ``l`` of a model, for a batch of ``m``.

        The default, for a layer that states nothing more, names the layer as a function.
        """
        shapes = self.array_shapes(m)
        return [Equation(f"A[{l}] = {self.name}(A[{l - 1}])",
                         f"{format_shape(shapes['A_prev'])} -> {format_shape(shapes['A'])}")]

    def backward_equations(self, l: int, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        """The backward pass of layer ``l`` for a batch of ``m``, as :meth:`backward` runs it.

        ``given`` is ``'dA'`` (the usual chain rule) or ``'dZ'`` (an output layer whose loss
        fuses with its activation: ``dZ`` arrives ready). The default writes each
        parameter's gradient and the gradient passed down as partial derivatives.
        """
        shapes = self.array_shapes(m)
        equations = self._chain_rule(l, m) if given == "dA" else []
        for spec in self.param_specs:
            p = self.symbol(spec.name)
            equations.append(Equation(f"d{p}[{l}] = ∂L/∂{p}[{l}]", format_shape(spec.shape)))
        return equations + self._passing_down(
            Equation(f"dA[{l - 1}] = ∂L/∂A[{l - 1}]", format_shape(shapes["A_prev"])), l)

    def equations(self, l: int = 1, m: Any = "m", *, given: str = "dA") -> list[Equation]:
        """:meth:`forward_equations` then :meth:`backward_equations`."""
        return self.forward_equations(l, m) + self.backward_equations(l, m, given=given)

    def column_notation(self, l: int, m: Any = "m") -> list[Equation]:
        """The forward pass in the articles' notation (examples as columns), where it differs."""
        return []

    def written_out(self, l: int, record: dict[str, Any], number: Any, max_terms: int = 8) -> list[str]:
        """Lines that write out the arithmetic of one recorded example (trace shows them).

        ``record`` holds the recorded forward arrays (``A_prev``, parameters, ``Z``, ``A``;
        the example is row 0), ``number`` formats one value, and at most ``max_terms``
        terms fit on a line. Default: nothing.
        """
        return []

    def _chain_rule(self, l: int, m: Any) -> list[Equation]:
        """``dZ = dA * g'(Z)`` as this layer's activation states it (nothing without one)."""
        if self.activation is None:
            return []
        g = self.activation
        math = g.backward_formula.replace("g'", f"{g.name}'")
        math = _INDEXED.sub(lambda match: f"{match.group(1)}[{l}]", math)
        shape = format_shape(self.array_shapes(m)["A"])
        return [Equation(math, shape, g.derivative_formula)]

    def _passing_down(self, equation: Equation, l: int) -> list[Equation]:
        """``equation`` for ``dA[l-1]``, or the remark that nothing below needs it."""
        if self.needs_input_gradient:
            return [equation]
        return [Equation(f"dA[{l - 1}] is not computed", "",
                         "nothing below needs it: the input is data, not a parameter")]

    # -- record mode --------------------------------------------------------------
    @property
    def record(self) -> bool:
        """Whether forward and backward keep copies of their numbers in :attr:`recorded`.

        ``recorded['forward']`` holds ``A_prev``, the parameters (by symbol), ``Z`` (with an
        activation) and ``A``; ``recorded['backward']`` holds ``dA`` (None when ``dZ`` was
        given), ``dZ``, the parameters' gradients (``dW``, ``db``) and ``dA_prev`` (None when
        not computed): NumPy copies of the arrays of the real pass. Turning it on puts two
        recording wrappers on this instance; the class's methods, which training runs, stay
        as they are, so training pays nothing for this.
        """
        return "forward" in self.__dict__

    @record.setter
    def record(self, value: bool) -> None:
        if check_bool("record", value) and not self.record:
            self.recorded: dict[str, dict[str, Any]] = {}
            self.forward = self._recording_forward  # type: ignore[method-assign]
            self.backward = self._recording_backward  # type: ignore[method-assign]
        elif not value and self.record:
            del self.forward, self.backward

    def recorded_forward_arrays(self) -> dict[str, Any]:
        """The arrays the last forward pass made besides its output: ``Z`` where ``A = g(Z)``."""
        return {"Z": self.Z} if self.activation is not None else {}

    def recorded_backward_arrays(self) -> dict[str, Any]:
        """The arrays the last backward pass made besides the gradients: ``dZ`` where ``A = g(Z)``."""
        return {"dZ": self.dZ} if self.activation is not None else {}

    def _recording_forward(self, A_prev: np.ndarray, training: bool = False) -> np.ndarray:
        A = type(self).forward(self, A_prev, training=training)
        record = {"A_prev": _host_copy(A_prev)}
        record.update({self.symbol(name): _host_copy(value) for name, value in self.params.items()})
        record.update({name: _host_copy(value) for name, value in self.recorded_forward_arrays().items()})
        record["A"] = _host_copy(A)
        self.recorded = {"forward": record}
        return A

    def _recording_backward(self, dA: np.ndarray | None = None, *, dZ: np.ndarray | None = None) -> Any:
        record = {"dA": None if dA is None else _host_copy(dA)}   # backward may overwrite dA
        if dZ is None:
            dA_prev = type(self).backward(self, dA)
        else:
            record["dZ"] = _host_copy(dZ)
            dA_prev = type(self).backward(self, dZ=dZ)
        record.update({name: _host_copy(value) for name, value in self.recorded_backward_arrays().items()})
        record.update({f"d{self.symbol(name)}": _host_copy(value) for name, value in self.grads.items()})
        record["dA_prev"] = None if dA_prev is None else _host_copy(dA_prev)
        self.recorded["backward"] = record
        return dA_prev

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
            target = self.params[spec.name]
            with np.errstate(over="ignore", invalid="ignore"):
                cast = value.astype(dtype_name(target), copy=False)   # checked as it will be stored
            if not np.isfinite(cast).all():
                problem = "contains NaN or inf" if not np.isfinite(value).all() else (
                    f"holds values beyond the range of {dtype_name(target)} (they would be infinite)")
                raise ValueError(f"Layer {self.name!r}: weight {spec.name!r} {problem}")
            target[...] = cast if xp.is_numpy else xp.from_numpy(cast)

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


_INDEXED = re.compile(r"(?<![\w\[])(dA|dZ|A|Z)(?=_k\b|[^\w\[]|$)")


def _host_copy(array: Any) -> np.ndarray:
    return np.array(xp.to_numpy(array))


@contextmanager
def recording(layers: Iterable[Layer]) -> Iterator[None]:
    """Inside ``with recording(model.layers):`` every layer keeps the numbers of its passes
    (:attr:`Layer.recorded`); afterwards the layers are as before."""
    layers = list(layers)
    before = [layer.record for layer in layers]
    for layer in layers:
        layer.record = True
    try:
        yield
    finally:
        for layer, was_recording in zip(layers, before, strict=True):
            layer.record = was_recording


def _check_shape(name: str, shape: Any) -> tuple[int, ...]:
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


def matmul_into(out: np.ndarray, a: np.ndarray, b: np.ndarray, columns: bool) -> np.ndarray:
    """``out = a · b`` written into the work array ``out``, which is returned.

    NumPy writes a product only into C-ordered arrays; when ``out`` stores its examples
    as columns (``columns``, see :func:`stores_examples_as_columns`) it receives the
    transposed product ``outᵀ = bᵀ · aᵀ`` instead.
    """
    if columns:
        xp.matmul(b.T, a.T, out=out.T)
    else:
        xp.matmul(a, b, out=out)
    return out


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

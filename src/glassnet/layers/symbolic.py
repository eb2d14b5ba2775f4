"""Symbolic tensors: what ``layer(Input(...))`` returns, for the functional API.

Calling a layer on ``Input(...)`` (or on what such a call returned) computes nothing:
it builds the layer for the tensor's shape and returns a :class:`SymbolicTensor` that
remembers the chain of layers from the input. ``glassnet.functional.Model(inputs,
outputs)`` turns that chain into a model. Only chains: each layer takes one tensor,
and each tensor feeds one layer.
"""

from __future__ import annotations

import weakref
from typing import Any

CHAINS_ONLY = (
    "glassnet's functional API builds chains: each layer is called on one tensor, and each "
    "tensor is used by one layer (Input -> layer -> layer -> ... -> outputs). Branches, merges "
    "(Concatenate, Add), several inputs or several outputs are not supported"
)


class SymbolicTensor:
    """The shape of a layer's output in a chain being built (without the batch dimension).

    Attributes
    ----------
    parent : SymbolicTensor or None
        The tensor the last layer was called on; ``None`` for the chain's start, ``Input``.
    input : SymbolicTensor
        Where the chain starts (an ``Input``).
    layers : tuple of Layer
        The layers from ``input`` to this tensor, in order.
    shape : tuple of int
        The shape of one example.
    """

    def __init__(self, parent: SymbolicTensor | None, layer: Any, shape: tuple[int, ...]) -> None:
        self.parent = parent
        self.input: SymbolicTensor = self if parent is None else parent.input
        self.layers: tuple[Any, ...] = () if parent is None else (*parent.layers, layer)
        self.shape = shape

    def __repr__(self) -> str:
        last = self.layers[-1].name if self.layers else getattr(self.input, "name", "input")
        return f"<SymbolicTensor shape={(None, *self.shape)} from {last!r}>"


def is_symbolic(value: Any) -> bool:
    """Whether ``value`` is (or is a list holding) a symbolic tensor (``Input(...)`` included)."""
    if isinstance(value, list | tuple):
        return any(isinstance(item, SymbolicTensor) for item in value)
    return isinstance(value, SymbolicTensor)


#: The layers each tensor was given to: a second one is a branch.
consumers: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def connect(layer: Any, tensor: Any) -> SymbolicTensor:
    """``layer(tensor)`` for a symbolic ``tensor``: the chain grows by ``layer``.

    The layer is built for the tensor's shape, so the returned tensor knows its
    own shape (and a wrong shape fails here, at the line that made it).
    """
    if isinstance(tensor, list | tuple):
        raise ValueError(f"Layer {layer.name!r} was called on {len(tensor)} tensors. {CHAINS_ONLY}")
    if any(existing is layer for existing in tensor.layers):
        raise ValueError(f"Layer {layer.name!r} is already in this chain (shared layers are not "
                         f"supported). {CHAINS_ONLY}")
    layer.param_specs = []
    layer.build(tensor.shape)
    consumers.setdefault(tensor, []).append(layer)
    assert layer.output_shape is not None, "build() sets output_shape"
    return SymbolicTensor(tensor, layer, tuple(layer.output_shape))

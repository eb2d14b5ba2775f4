"""Layers: each has ``forward()`` and ``backward()`` written as the equations."""

from glassnet.layers.activation import Activation
from glassnet.layers.base import LAYER_CLASSES, Layer
from glassnet.layers.dense import Dense
from glassnet.layers.dropout import Dropout
from glassnet.layers.flatten import Flatten
from glassnet.layers.input import Input

__all__ = ["Activation", "Dense", "Dropout", "Flatten", "Input", "Layer", "get"]

_LAYERS = {cls.__name__: cls for cls in (Activation, Dense, Dropout, Flatten)}


def get(class_name: str) -> type[Layer]:
    """The layer class saved under ``class_name`` in a model file (any defined Layer subclass)."""
    from glassnet._validation import check_choice

    lookup = {name.lower(): cls for name, cls in {**LAYER_CLASSES, **_LAYERS}.items()}
    return lookup[check_choice("layer class", class_name, lookup)]

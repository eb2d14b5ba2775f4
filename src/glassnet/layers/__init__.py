"""Layers: each has ``forward()`` and ``backward()`` written as the equations."""

from glassnet.layers.activation import Activation
from glassnet.layers.advanced_activations import LeakyReLU, ReLU, Softmax
from glassnet.layers.base import LAYER_CLASSES, Layer
from glassnet.layers.dense import Dense
from glassnet.layers.dropout import Dropout
from glassnet.layers.flatten import Flatten
from glassnet.layers.input import Input
from glassnet.layers.input_layer import InputLayer
from glassnet.layers.normalization import BatchNormalization, Normalization

__all__ = [
    "Activation", "BatchNormalization", "Dense", "Dropout", "Flatten", "Input", "InputLayer", "Layer",
    "LeakyReLU", "Normalization", "ReLU", "Softmax", "get",
]

_LAYERS = {
    cls.__name__: cls
    for cls in (Activation, BatchNormalization, Dense, Dropout, Flatten, LeakyReLU, Normalization, ReLU,
                Softmax)
}


def get(class_name: str) -> type[Layer]:
    """The layer class saved under ``class_name`` in a model file (any defined Layer subclass)."""
    from glassnet._validation import check_choice

    lookup = {name.lower(): cls for name, cls in {**LAYER_CLASSES, **_LAYERS}.items()}
    return lookup[check_choice("layer class", class_name, lookup)]

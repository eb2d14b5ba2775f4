"""Keras's functional API, for chains of layers: ``Model(inputs, outputs)``.

::

    inputs = Input(shape=(784,))
    x = Dense(64, activation='relu')(inputs)
    outputs = Dense(10, activation='softmax')(x)
    model = Model(inputs, outputs)

Calling a layer on ``Input(...)`` (or on what another such call returned) computes
nothing: it returns a :class:`SymbolicTensor` that remembers the chain of layers
from the input. ``Model(inputs, outputs)`` is then the :class:`~glassnet.models.Sequential`
model of that chain, the same network with the same equations. Calling a layer on
an array still runs its forward pass.

Only chains are supported: each layer takes one tensor, and each tensor feeds one
layer. Branches (a tensor used twice) and merges (a layer given several inputs)
raise an error that says so.

:func:`model_from_json` rebuilds a model from :meth:`Sequential.to_json`'s text
through the same layer registry as ``load_model`` (``glassnet.layers.get``), with
``json.loads``: no code is executed.
"""

from __future__ import annotations

import json
from typing import Any

from glassnet._validation import _describe
from glassnet.layers import Input
from glassnet.layers.symbolic import CHAINS_ONLY, SymbolicTensor, consumers
from glassnet.sequential import Sequential


def _single(name: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value`` itself, or the only element of a one-element list (Keras accepts both)."""
    if isinstance(value, list | tuple):
        if len(value) != 1:
            raise ValueError(f"Model got {len(value)} {name}. {CHAINS_ONLY}")
        value = value[0]
    if not isinstance(value, kind):
        raise TypeError(f"Model {name} must be what Input(shape=...) returns (inputs) or what a layer "
                        f"called on it returns (outputs), got {_describe(value)}")
    return value


class Model(Sequential):
    """A model made by the functional API: ``Model(inputs, outputs)``.

    ``inputs`` is what ``Input(shape=...)`` returned and ``outputs`` what the last
    layer of the chain returned. The model is the :class:`~glassnet.models.Sequential`
    stack of the chain's layers (``model.layers``), with every method of Sequential:
    ``compile``, ``fit``, ``evaluate``, ``predict``, ``save``, ``summary``, ...

    Parameters
    ----------
    inputs : Input, or a list of one
    outputs : SymbolicTensor, or a list of one
    name : str, optional
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: str | None = None) -> None:
        if inputs is None or outputs is None:
            raise TypeError(
                "Model needs inputs and outputs: inputs = Input(shape=(n_features,)); "
                "x = Dense(...)(inputs); outputs = Dense(...)(x); model = Model(inputs, outputs). "
                "Subclassing Model with a call() method is not supported; use Sequential([...])"
            )
        source = _single("inputs", inputs, Input)
        result = _single("outputs", outputs, SymbolicTensor)
        if result.input is not source:
            raise ValueError(f"The outputs are not computed from these inputs ({source!r}): "
                             f"they start at {result.input!r}. {CHAINS_ONLY}")
        if not result.layers:
            raise TypeError("Model outputs must be what a layer called on the inputs returns, got "
                            f"{_describe(result)}")
        _check_chain(result)
        super().__init__([source, *result.layers], name=name or "functional")
        self.inputs, self.outputs = [source], [result]
        self.build()

    def __repr__(self) -> str:
        return f"<Model name={self.name!r} layers={len(self.layers)} built={self.built}>"


def _check_chain(result: SymbolicTensor) -> None:
    """Refuse branches: each tensor on the way from the input to ``result`` feeds one layer."""
    tensor = result
    while tensor.parent is not None:
        parent, layer = tensor.parent, tensor.layers[-1]
        others = [user.name for user in consumers.get(parent, []) if user is not layer]
        if others:
            where = "the Input" if parent.parent is None else f"the output of {parent.layers[-1].name!r}"
            raise ValueError(f"{where} is used by {len(others) + 1} layers ({layer.name!r}, "
                             f"{', '.join(repr(name) for name in others)}): a branch. {CHAINS_ONLY}")
        tensor = parent


def model_from_config(config: Any) -> Sequential:
    """A model from ``{'class_name': 'Sequential' or 'Model', 'config': {...}}`` (see model_from_json)."""
    from glassnet import layers
    from glassnet.layers.base import _check_shape

    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError("model config must be an object {'class_name': ..., 'config': {...}}, "
                         f"got {_describe(config)}")
    class_name = config.get("class_name")
    if class_name not in ("Sequential", "Model", "Functional"):
        raise ValueError(f"model class_name must be 'Sequential' or 'Model', got {class_name!r}")
    spec = config["config"]
    entries = spec.get("layers")
    if not isinstance(entries, list) or not entries:
        raise ValueError("model config has no 'layers' list")
    chain = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str) \
                or not isinstance(entry.get("config"), dict):
            raise ValueError(f"layers[{i}] must be an object {{'class_name': str, 'config': {{...}}}}")
        cls = layers.get(entry["class_name"])
        try:
            chain.append(cls.from_config(entry["config"]))
        except TypeError as exc:
            raise ValueError(f"layers[{i}] ({entry['class_name']}): invalid config ({exc})") from None
    name = spec.get("name")
    name = name if isinstance(name, str) else None
    input_shape = spec.get("input_shape")
    if class_name == "Sequential" or input_shape is None:
        model = Sequential(name=name)
        if input_shape is not None:
            model.add(Input(shape=_check_shape("input_shape", input_shape)))
        for layer in chain:
            model.add(layer)
        return model
    inputs = Input(shape=_check_shape("input_shape", input_shape))
    x: Any = inputs
    for layer in chain:
        x = layer(x)
    return Model(inputs, x, name=name)


def model_from_json(json_string: str) -> Sequential:
    """Rebuild a model (its architecture, with fresh weights) from :meth:`Sequential.to_json`.

    The text is parsed with ``json.loads`` and each layer made through the layer
    registry (``glassnet.layers.get``), as ``load_model`` does: no code is executed.
    """
    if not isinstance(json_string, str | bytes):
        raise TypeError(f"json_string must be a str, got {_describe(json_string)}")
    try:
        config = json.loads(json_string)
    except ValueError as exc:
        raise ValueError(f"json_string is not valid JSON ({exc})") from None
    return model_from_config(config)

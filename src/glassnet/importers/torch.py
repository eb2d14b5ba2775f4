"""PyTorch and glassnet: ``from_torch(module)`` and ``to_torch(model)`` for dense networks.

A ``torch.nn.Linear`` computes ``Z = A·Wᵀ + b`` with ``W`` of shape ``(out, in)``; glassnet's
``Dense`` computes ``Z = A·W + b`` with ``W`` of shape ``(in, out)``: the kernel is the
transpose of PyTorch's weight, the same numbers. An activation module right after a
``Linear`` becomes that Dense layer's activation ``A = g(Z)``; anywhere else, an
``Activation`` layer.

================================  ======================================
PyTorch module                    glassnet
================================  ======================================
Linear(in, out, bias)             Dense(out, use_bias=bias)
ReLU, Sigmoid, Tanh               relu, sigmoid, tanh
LeakyReLU(negative_slope)         leaky_relu(alpha=negative_slope)
Softmax(dim=-1 or 1)              softmax
GELU(approximate='none'/'tanh')   gelu(approximate=False/True)
SiLU                              swish
ELU(alpha), SELU                  elu(alpha), selu
Softplus(beta=1, threshold>=20)   softplus (PyTorch returns z itself above the
                                  threshold: a difference below 2e-9)
Softsign, Hardsigmoid             softsign, hard_sigmoid
Dropout(p)                        Dropout(p)
Flatten(1, -1)                    Flatten
Identity                          nothing
nested Sequential                 its modules, in order
================================  ======================================

Anything else (convolutions, custom modules, subclasses of these) is refused, all of it
in one message. ``torch`` is imported only when these functions are called.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import _describe
from glassnet.importers._common import Problems, assemble
from glassnet.layers import Activation, Dense, Dropout, Flatten
from glassnet.layers.base import Layer, _check_shape

__all__ = ["from_torch", "to_torch"]

#: PyTorch's Softplus switches to the identity above this threshold; glassnet's softplus
#: differs from z there by log(1 + exp(-z)) < 2.1e-9, below float32 resolution.
_SOFTPLUS_MIN_THRESHOLD = 20.0


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this needs PyTorch: pip install 'glassnet[torch]'") from exc
    return torch


def _activation_from_module(module: Any) -> dict[str, Any] | str | None:
    """The glassnet activation config of ``module``; a string says why it has none;
    None: ``module`` is not an activation module."""
    nn = _import_torch().nn
    kind = type(module)
    simple = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.SiLU: "swish",
              nn.SELU: "selu", nn.Softsign: "softsign", nn.Hardsigmoid: "hard_sigmoid"}
    if kind in simple:
        return {"name": simple[kind]}
    if kind is nn.LeakyReLU:
        if module.negative_slope < 0:
            return f"negative_slope={module.negative_slope} (glassnet's leaky_relu needs alpha >= 0)"
        return {"name": "leaky_relu", "alpha": float(module.negative_slope)}
    if kind is nn.ELU:
        return {"name": "elu", "alpha": float(module.alpha)}
    if kind is nn.GELU:
        return {"name": "gelu", "approximate": module.approximate == "tanh"}
    if kind is nn.Softmax:
        if module.dim not in (-1, 1):
            return f"dim={module.dim} (glassnet's softmax normalises each example: dim=-1)"
        return {"name": "softmax"}
    if kind is nn.Softplus:
        if module.beta != 1 or module.threshold < _SOFTPLUS_MIN_THRESHOLD:
            return (f"beta={module.beta}, threshold={module.threshold} (glassnet's softplus is "
                    f"beta=1 with threshold >= {_SOFTPLUS_MIN_THRESHOLD:g})")
        return {"name": "softplus"}
    return None


def _flat_modules(module: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted name, module) of every module of ``module``, nested Sequentials opened."""
    nn = _import_torch().nn
    result = []
    for name, child in module.named_children():
        path = f"{prefix}{name}"
        if type(child) is nn.Sequential:
            result.extend(_flat_modules(child, f"{path}."))
        else:
            result.append((path, child))
    return result


class _Plan:
    """The layers to build, collected module by module."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.weights: list[list[np.ndarray]] = []
        self.arrays: list[Any] = []          # the torch parameters, for their dtype
        self.pending: Any = None             # a Linear still waiting for its activation

    def flush(self, activation: Any = None) -> None:
        """Turn the waiting Linear into a Dense layer with ``activation``."""
        linear, self.pending = self.pending, None
        if linear is None:
            return
        W = linear.weight.detach().cpu().numpy().T              # (in, out): Wᵀ of PyTorch
        group = [W]
        if linear.bias is not None:
            group.append(linear.bias.detach().cpu().numpy())
        self.layers.append(Dense(linear.out_features, activation=activation,
                                 use_bias=linear.bias is not None))
        self.weights.append(group)
        self.arrays.extend(group)

    def add(self, layer: Layer) -> None:
        self.flush()
        self.layers.append(layer)
        self.weights.append([])


def _plan_module(plan: _Plan, path: str, module: Any, problems: Problems) -> None:
    nn = _import_torch().nn
    where = f"module {path!r} ({type(module).__name__})"
    activation = _activation_from_module(module)
    if isinstance(activation, str):
        problems.add(where, activation)
    elif activation is not None:
        if plan.pending is not None:
            plan.flush(activation)                                 # Linear + g: one Dense layer
        else:
            plan.add(Activation(activation))
    elif type(module) is nn.Linear:
        plan.flush()
        plan.pending = module
    elif type(module) is nn.Dropout:
        plan.add(Dropout(float(module.p)))
    elif type(module) is nn.Flatten:
        if (module.start_dim, module.end_dim) != (1, -1):
            problems.add(where, f"start_dim={module.start_dim}, end_dim={module.end_dim} "
                                "(glassnet flattens each example whole: 1, -1)")
        else:
            plan.add(Flatten())
    elif type(module) is not nn.Identity:
        problems.add(where, "not a module glassnet can express (it reads Linear, activation "
                            "modules, Dropout, Flatten and Identity)")


def from_torch(module: Any, input_shape: Any = None, *, name: str | None = None) -> Any:
    """The glassnet ``Sequential`` computing what the PyTorch ``module`` computes.

    Parameters
    ----------
    module : torch.nn.Sequential
        Of the modules in the table of :mod:`glassnet.importers.torch`. Its weights are
        copied; later changes to either model do not affect the other.
    input_shape : tuple of int, optional
        The shape of one example. Needed only when the module starts with ``Flatten``
        (images, say ``(28, 28)``); else the first ``Linear``'s ``in_features``.
    name : str, optional
        The glassnet model's name.

    Returns
    -------
    glassnet.models.Sequential
        float64 when the module's parameters are float64, else float32.

    Raises
    ------
    ValueError
        Listing every module glassnet cannot express, with its name.
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Sequential):
        raise TypeError(f"from_torch expects a torch.nn.Sequential, got {_describe(module)}")
    problems = Problems()
    plan = _Plan()
    first_linear = None
    for path, child in _flat_modules(module):
        if first_linear is None and type(child) is torch.nn.Linear:
            first_linear = child
        _plan_module(plan, path, child, problems)
    plan.flush()
    if problems:
        raise ValueError(problems.message("Cannot convert the PyTorch module: glassnet cannot "
                                          "express every part of it"))
    if not plan.layers:
        raise ValueError("Cannot convert the PyTorch module: it has no modules")
    if input_shape is not None:
        shape = _check_shape("input_shape", input_shape)
    elif first_linear is not None:
        shape = _input_shape_from(plan, first_linear)
    else:
        raise ValueError("from_torch needs input_shape=(...): the module has no Linear layer "
                         "to tell the number of input features")
    dtype = "float64" if plan.arrays and all(a.dtype == np.float64 for a in plan.arrays) else "float32"
    return assemble(plan.layers, plan.weights, shape, name=name, dtype=dtype,
                    error=lambda message: ValueError(f"Cannot convert the PyTorch module: {message}"))


def _input_shape_from(plan: _Plan, first_linear: Any) -> tuple[int, ...]:
    """``(in_features,)`` of the first Linear, unless a Flatten comes before it."""
    for layer in plan.layers:
        if isinstance(layer, Flatten):
            raise ValueError(
                "from_torch needs input_shape=(...): the module flattens its input before the "
                "first Linear, so the shape of one example (e.g. (28, 28)) is not in the module"
            )
        if isinstance(layer, Dense):
            break
    return (int(first_linear.in_features),)


def _activation_module(activation: Any) -> Any:
    """The PyTorch module computing glassnet's ``activation``; None for linear."""
    nn = _import_torch().nn
    name = activation.name
    simple = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "swish": nn.SiLU,
              "selu": nn.SELU, "softsign": nn.Softsign, "hard_sigmoid": nn.Hardsigmoid,
              "softplus": nn.Softplus}
    if name == "linear":
        return None
    if name in simple:
        return simple[name]()
    if name == "leaky_relu":
        return nn.LeakyReLU(activation.alpha)
    if name == "elu":
        return nn.ELU(activation.alpha)
    if name == "gelu":
        return nn.GELU(approximate="tanh" if activation.approximate else "none")
    if name == "softmax":
        return nn.Softmax(dim=-1)
    raise ValueError(f"activation {name!r} has no PyTorch module")


def to_torch(model: Any) -> Any:
    """The ``torch.nn.Sequential`` computing what the glassnet ``model`` computes.

    Dense becomes ``Linear`` (weight ``Wᵀ``, bias ``b``) followed by its activation's module
    (the table of :mod:`glassnet.importers.torch`), Activation its module, Dropout
    ``Dropout``, Flatten ``Flatten``. The parameters are copies, float64 for a float64 model,
    else float32. ``binary_step`` (no gradient, no PyTorch module) is refused.
    """
    from glassnet.sequential import Sequential

    torch = _import_torch()
    if not isinstance(model, Sequential):
        raise TypeError(f"to_torch expects a glassnet Sequential model, got {_describe(model)}")
    model._require_built("convert to PyTorch")
    dtype = torch.float64 if model.dtype == "float64" else torch.float32
    modules: list[Any] = []
    problems = Problems()
    for layer in model.layers:
        where = f"layer {layer.name!r} ({type(layer).__name__})"
        try:
            modules.extend(_torch_modules(layer, dtype))
        except ValueError as exc:
            problems.add(where, str(exc))
    if problems:
        raise ValueError(problems.message(f"Cannot convert model {model.name!r} to PyTorch"))
    return torch.nn.Sequential(*modules)


def _torch_modules(layer: Layer, dtype: Any) -> list[Any]:
    torch = _import_torch()
    nn = torch.nn
    if isinstance(layer, Dense):
        assert layer.input_shape is not None, "the model is built"
        linear = nn.Linear(layer.input_shape[0], layer.units, bias=layer.use_bias, dtype=dtype)
        weights = layer.get_weights()
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(weights[0].T)))  # Wᵀ
            if layer.use_bias:
                linear.bias.copy_(torch.from_numpy(weights[1]))
        activation = _activation_module(layer.activation)
        return [linear] if activation is None else [linear, activation]
    if isinstance(layer, Activation):
        activation = _activation_module(layer.activation)
        return [] if activation is None else [activation]
    if isinstance(layer, Dropout):
        return [nn.Dropout(layer.rate)]
    if isinstance(layer, Flatten):
        return [nn.Flatten()]
    raise ValueError("glassnet converts Dense, Activation, Dropout and Flatten layers to PyTorch")

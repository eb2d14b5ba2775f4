"""Export a trained model to ONNX, to run it anywhere (onnxruntime, browsers, C++, ...),
and read ONNX files of dense networks back (:func:`load`).

The exported graph computes exactly what ``model.predict`` computes::

    input   float32 [batch, *input_shape]      ("batch" is a symbolic dimension)
    Flatten                                    -> Flatten(axis=1)
    Dense   Z = A·W + b                        -> Gemm(A, W, b)   (MatMul without bias)
            A = g(Z)                           -> g's ONNX operator(s), see below
    Dropout (the identity at inference)        -> nothing
    output  float32 [batch, n_outputs]

=============  ==========================================================
activation     ONNX operators
=============  ==========================================================
linear         none
relu           Relu
leaky_relu     LeakyRelu(alpha)
sigmoid        Sigmoid
tanh           Tanh
softmax        Softmax(axis=-1)
binary_step    Cast(GreaterOrEqual(z, 0), to=float)
elu            Elu(alpha)
selu           Selu(alpha=1.67326..., gamma=1.05070...) (Keras's constants)
softplus       Softplus
softsign       Softsign
swish          z * Sigmoid(z)                      (Sigmoid, Mul)
gelu           opset >= 20: Gelu(approximate='none' or 'tanh'); else the formula,
               z/2 * (1 + Erf(z/sqrt 2)), or the tanh form for approximate=True
hard_sigmoid   HardSigmoid(alpha=1/6, beta=1/2)
=============  ==========================================================

The default opset is 17, which every current runtime reads. Requires the ``onnx``
package (``pip install glassnet[onnx]``); ``onnxruntime`` only to run the result.

Examples
--------
>>> from glassnet.onnx import export
>>> export(model, "model.onnx")                         # doctest: +SKIP
>>> import onnxruntime as ort                           # doctest: +SKIP
>>> ort.InferenceSession("model.onnx").run(None, {"input": X.astype("float32")})[0]
... # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import sys
from typing import Any

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "glassnet.onnx needs the onnx package: pip install 'glassnet[onnx]'"
    ) from exc

import glassnet
from glassnet._validation import _describe, check_int
from glassnet.importers.onnx import GELU_CUBIC as _GELU_CUBIC
from glassnet.importers.onnx import SIMPLE_OPERATORS as _SIMPLE
from glassnet.importers.onnx import load
from glassnet.layers import Activation, Dense, Dropout, Flatten
from glassnet.layers.base import Layer

__all__ = ["DEFAULT_OPSET", "MIN_OPSET", "export", "export_command", "load", "to_onnx"]

#: The opset written when none is asked for: read by every current runtime.
DEFAULT_OPSET = 17
#: The oldest opset supported (Softmax along one axis needs 13).
MIN_OPSET = 13
#: The first opset with a Gelu operator.
GELU_OPSET = 20

INPUT_NAME = "input"
OUTPUT_NAME = "output"


class _GraphBuilder:
    """Collects nodes and initializers; every tensor gets a readable, unique name."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._constants: dict[float, str] = {}

    def node(self, op_type: str, inputs: list[str], output: str, **attributes: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output

    def weight(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(array, np.float32), name))
        return name

    def constant(self, value: float) -> str:
        """A float32 scalar initializer, shared by every node that needs ``value``."""
        if value not in self._constants:
            self._constants[value] = self.weight(f"const_{len(self._constants)}",
                                                 np.array(value, dtype=np.float32))
        return self._constants[value]


#: Every activation name the exporter knows.
EXPORTABLE_ACTIVATIONS = (*_SIMPLE, "linear", "leaky_relu", "softmax", "elu", "selu",
                          "hard_sigmoid", "binary_step", "swish", "gelu")


def _export_activation(
    graph: _GraphBuilder, layer: Dense | Activation, z: str, prefix: str
) -> str:
    """Append the nodes of the layer's ``A = g(Z)``; return the name of ``A``."""
    # Any: which attributes are read (alpha, scale, approximate) depends on the name.
    activation: Any = layer.activation
    name = activation.name
    out = f"{prefix}/{name}"
    if name == "linear":
        return z
    if name in _SIMPLE:
        return graph.node(_SIMPLE[name], [z], out)
    if name == "leaky_relu":
        return graph.node("LeakyRelu", [z], out, alpha=float(activation.alpha))
    if name == "softmax":
        return graph.node("Softmax", [z], out, axis=-1)
    if name == "elu":
        return graph.node("Elu", [z], out, alpha=float(activation.alpha))
    if name == "selu":
        return graph.node("Selu", [z], out, alpha=float(activation.alpha),
                          gamma=float(activation.scale))
    if name == "hard_sigmoid":               # clip(z/6 + 1/2, 0, 1)
        return graph.node("HardSigmoid", [z], out, alpha=1.0 / 6.0, beta=0.5)
    if name == "binary_step":                # 1.0 where z >= 0, else 0.0
        mask = graph.node("GreaterOrEqual", [z, graph.constant(0.0)], f"{out}/mask")
        return graph.node("Cast", [mask], out, to=TensorProto.FLOAT)
    if name == "swish":                      # z * sigmoid(z)
        s = graph.node("Sigmoid", [z], f"{out}/sigmoid")
        return graph.node("Mul", [z, s], out)
    if name == "gelu":
        return _export_gelu(graph, bool(activation.approximate), z, out)
    raise ValueError(
        f"cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: its activation "
        f"{name!r} has no ONNX equivalent known to glassnet (known: "
        f"{', '.join(sorted(EXPORTABLE_ACTIVATIONS))})"
    )


def _export_gelu(graph: _GraphBuilder, approximate: bool, z: str, out: str) -> str:
    if graph.opset >= GELU_OPSET:
        return graph.node("Gelu", [z], out, approximate="tanh" if approximate else "none")
    if approximate:   # z/2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))
        z2 = graph.node("Mul", [z, z], f"{out}/z2")
        z3 = graph.node("Mul", [z2, z], f"{out}/z3")
        cubic = graph.node("Mul", [z3, graph.constant(_GELU_CUBIC)], f"{out}/cubic")
        inner = graph.node("Add", [z, cubic], f"{out}/inner")
        scaled = graph.node("Mul", [inner, graph.constant(math.sqrt(2.0 / math.pi))],
                            f"{out}/scaled")
        cdf2 = graph.node("Tanh", [scaled], f"{out}/tanh")
    else:             # z/2 * (1 + erf(z / sqrt 2))
        scaled = graph.node("Mul", [z, graph.constant(math.sqrt(0.5))], f"{out}/scaled")
        cdf2 = graph.node("Erf", [scaled], f"{out}/erf")
    one_plus = graph.node("Add", [cdf2, graph.constant(1.0)], f"{out}/one_plus")
    half_z = graph.node("Mul", [z, graph.constant(0.5)], f"{out}/half_z")
    return graph.node("Mul", [half_z, one_plus], out)


def _export_layer(graph: _GraphBuilder, layer: Layer, a: str, prefix: str) -> str:
    """Append the nodes of one layer applied to tensor ``a``; return its output's name.

    ``prefix`` (the layer's name) starts the names of its tensors and weights.
    """
    if isinstance(layer, Dense):
        w = graph.weight(f"{prefix}/W", layer.W)           # (n_in, n_out)
        if layer.use_bias:
            z = graph.node("Gemm", [a, w, graph.weight(f"{prefix}/b", layer.b)], f"{prefix}/Z")
        else:
            z = graph.node("MatMul", [a, w], f"{prefix}/Z")
        return _export_activation(graph, layer, z, prefix)
    if isinstance(layer, Activation):
        return _export_activation(graph, layer, a, prefix)
    if isinstance(layer, Dropout):                          # the identity at inference
        return a
    if isinstance(layer, Flatten):
        assert layer.input_shape is not None, "the model is built before it is exported"
        if len(layer.input_shape) == 1:
            return a
        return graph.node("Flatten", [a], f"{prefix}/flat", axis=1)
    raise ValueError(
        f"cannot export layer {layer.name!r} ({type(layer).__name__}) to ONNX: glassnet "
        "exports Dense, Activation, Dropout and Flatten layers"
    )


def to_onnx(model: Any, *, opset: int | None = None) -> onnx.ModelProto:
    """The ONNX graph of ``model`` (checked with ``onnx.checker``), without writing it.

    Parameters
    ----------
    model : Sequential
        A built model (trained or not).
    opset : int, optional
        ONNX operator-set version, from :data:`MIN_OPSET` to the newest the installed
        ``onnx`` knows; default :data:`DEFAULT_OPSET`.

    Returns
    -------
    onnx.ModelProto
    """
    from glassnet.models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"export expects a glassnet Sequential model, got {_describe(model)}")
    newest = onnx.defs.onnx_opset_version()
    opset = DEFAULT_OPSET if opset is None else check_int("opset", opset)
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(
            f"opset must be an integer from {MIN_OPSET} to {newest} (the newest the installed "
            f"onnx {onnx.__version__} knows), got {opset}"
        )
    model._require_built("export")
    input_shape, output_shape = model.input_shape, model.output_shape
    assert input_shape is not None and output_shape is not None, "a built model knows its shapes"

    graph = _GraphBuilder(opset)
    names = [layer.name for layer in model.layers]
    tensor = INPUT_NAME
    for index, layer in enumerate(model.layers):
        # tensor names must be unique: number the layers that share a name
        prefix = layer.name if names.count(layer.name) == 1 else f"{layer.name}_{index}"
        tensor = _export_layer(graph, layer, tensor, prefix)
    if graph.nodes and graph.nodes[-1].output[0] == tensor:
        graph.nodes[-1].output[0] = OUTPUT_NAME             # the last node writes "output"
        graph.nodes[-1].name = OUTPUT_NAME
    else:                                                   # no operator at all (Dropout only)
        graph.node("Identity", [tensor], OUTPUT_NAME)

    batch_shape: list[str | int] = ["batch", *input_shape]
    graph_proto = helper.make_graph(
        graph.nodes,
        model.name,
        inputs=[helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, batch_shape)],
        outputs=[helper.make_tensor_value_info(
            OUTPUT_NAME, TensorProto.FLOAT, ["batch", *output_shape])],
        initializer=graph.initializers,
    )
    opset_imports = [helper.make_opsetid("", opset)]
    proto = helper.make_model(
        graph_proto,
        opset_imports=opset_imports,
        producer_name="glassnet",
        producer_version=glassnet.__version__,
        doc_string=f"glassnet Sequential model {model.name!r}",
        # The oldest IR version that can hold this opset, so older runtimes load it.
        ir_version=helper.find_min_ir_version_for(opset_imports),
    )
    onnx.checker.check_model(proto, full_check=True)
    return proto


def export(model: Any, path: str | os.PathLike, *, opset: int | None = None) -> onnx.ModelProto:
    """Write ``model`` to ``path`` as an ONNX file and return the ``ModelProto``.

    The input is called ``input`` (float32, shape ``[batch, *input_shape]``), the
    output ``output``. Raises ``ValueError`` naming the layer when a layer or an
    activation has no ONNX equivalent. See :func:`to_onnx` for ``opset``.
    """
    from glassnet.saving import atomic_write

    proto = to_onnx(model, opset=opset)
    with atomic_write(path) as handle:
        handle.write(proto.SerializeToString())
    return proto


def export_command(model_path: str | os.PathLike, onnx_path: str | os.PathLike,
                   opset: int | None = None) -> int:
    """``glassnet export model.glassnet model.onnx``: convert a saved model; 0 on success.

    The model may also be a Keras file (``.keras``, ``.h5``), read by
    :func:`glassnet.importers.load_any`. Problems (no such file, a damaged file, a layer
    ONNX cannot express, h5py missing for a Keras file) are printed on stderr and give
    exit status 1.
    """
    from glassnet.importers import load_any

    try:
        export(load_any(model_path, compile=False), onnx_path, opset=opset)
    except (OSError, ValueError, TypeError, ImportError) as exc:
        print(f"glassnet export: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {os.fspath(onnx_path)}")
    return 0

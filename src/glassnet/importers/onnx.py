"""Reading ONNX files back into glassnet models (``glassnet.onnx.load`` is this ``load``).

The graph must be one chain of dense layers and activations, as :func:`glassnet.onnx.export`
and ``torch.onnx.export`` write them; see :func:`load`. Files are parsed by ``onnx``'s
protobuf reader (external data files are not followed); nothing in them is executed.
"""

from __future__ import annotations

import itertools
import math
import os
from typing import Any

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("reading ONNX files needs the onnx package: pip install 'glassnet[onnx]'") from exc

from glassnet.errors import ModelFileError
from glassnet.fileformat import check_path
from glassnet.layers import Activation, Dense, Flatten
from glassnet.layers.base import Layer

__all__ = ["GELU_CUBIC", "IMPORTABLE_OPERATORS", "MAX_ONNX_BYTES", "SIMPLE_OPERATORS", "load"]

#: Activations whose ONNX operator has the same meaning and no attributes (the exporter's
#: table too).
SIMPLE_OPERATORS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "softplus": "Softplus",
                    "softsign": "Softsign"}
#: The cubic coefficient of GELU's tanh form.
GELU_CUBIC = 0.044715


#: The largest ``.onnx`` file read (a protobuf message cannot exceed 2 GiB anyway).
MAX_ONNX_BYTES = 2**31 - 1

#: Single operators and the activation they compute (the export table read backwards).
_SIMPLE_OPERATORS = {operator: name for name, operator in SIMPLE_OPERATORS.items()}
#: Operators that pass their input through at inference.
_IDENTITY_OPERATORS = ("Identity", "Dropout")
#: Every operator the importer understands somewhere in a pattern.
IMPORTABLE_OPERATORS = frozenset((
    *_SIMPLE_OPERATORS, *_IDENTITY_OPERATORS, "Gemm", "MatMul", "Add", "Flatten", "Reshape",
    "LeakyRelu", "Elu", "Selu", "HardSigmoid", "Softmax", "Gelu", "Mul", "Div", "Abs", "Erf",
    "Greater", "GreaterOrEqual", "Where", "Cast", "Constant", "Pow",
))


def _equal(value: float) -> Any:
    """A pattern input: a constant scalar equal to ``value`` (to float32 precision)."""
    return lambda x: math.isclose(x, value, rel_tol=1e-6, abs_tol=1e-7)


def _at_least(value: float) -> Any:
    return lambda x: x >= value


# Activations that ONNX writes as several operators: (activation, [(operator, inputs, output)]).
# "z" is the activation's input, "out" its output; other names are the pattern's own tensors;
# functions match constant scalars. Add and Mul match their inputs in either order.
_PATTERNS: list[tuple[dict[str, Any], list[tuple[str, list[Any], str]]]] = [
    ({"name": "swish"}, [("Sigmoid", ["z"], "s"), ("Mul", ["z", "s"], "out")]),
    ({"name": "binary_step"}, [("GreaterOrEqual", ["z", _equal(0.0)], "mask"),
                               ("Cast", ["mask"], "out")]),
    # PyTorch's Softplus returns z itself above its threshold of 20 (a difference < 2.1e-9)
    ({"name": "softplus"}, [("Softplus", ["z"], "s"), ("Greater", ["z", _at_least(20.0)], "big"),
                            ("Where", ["big", "z", "s"], "out")]),
    # PyTorch's (legacy exporter's) Softsign: z / (|z| + 1)
    ({"name": "softsign"}, [("Abs", ["z"], "abs"), ("Add", ["abs", _equal(1.0)], "den"),
                            ("Div", ["z", "den"], "out")]),
]


def _gelu_patterns() -> list[tuple[dict[str, Any], list[tuple[str, list[Any], str]]]]:
    """GELU written out below opset 20, ``z/2 * (1 + erf(z / sqrt 2))`` or the tanh form
    ``z/2 * (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3)))``, in the orders glassnet and
    PyTorch's two exporters write them."""
    erf = [[("Mul", ["z", _equal(math.sqrt(0.5))], "scaled")],
           [("Div", ["z", _equal(math.sqrt(2.0))], "scaled")]]
    cubes = [[("Mul", ["z", "z"], "z2"), ("Mul", ["z2", "z"], "z3")],
             [("Pow", ["z", _equal(3.0)], "z3")]]
    tanh = [[*cube, ("Mul", ["z3", _equal(GELU_CUBIC)], "cubic"), ("Add", ["z", "cubic"], "inner"),
             ("Mul", ["inner", _equal(math.sqrt(2.0 / math.pi))], "scaled")] for cube in cubes]
    halves = [[("Mul", ["z", _equal(0.5)], "half_z"), ("Mul", ["half_z", "one_plus"], "out")],
              [("Mul", ["z", "one_plus"], "product"), ("Mul", ["product", _equal(0.5)], "out")],
              [("Mul", ["one_plus", _equal(0.5)], "half"), ("Mul", ["z", "half"], "out")]]
    patterns = []
    for approximate, heads, function in ((False, erf, "Erf"), (True, tanh, "Tanh")):
        for head, half in itertools.product(heads, halves):
            nodes = [*head, (function, ["scaled"], "cdf2"), ("Add", ["cdf2", _equal(1.0)], "one_plus"),
                     *half]
            patterns.append(({"name": "gelu", "approximate": approximate}, nodes))
    return patterns


_PATTERNS += _gelu_patterns()


def load(path: str | os.PathLike) -> Any:
    """Read an ONNX file as a glassnet ``Sequential`` model.

    The graph must be one chain from its input to its output of

    - ``Gemm(A, W, b)`` (any ``transB``, ``alpha``, ``beta``) or ``MatMul(A, W)`` optionally
      followed by ``Add(·, b)``, with constant ``W`` and ``b``: a Dense layer;
    - the activation operators of the export table (and the operator groups that
      glassnet and ``torch.onnx.export`` write for swish, GELU, softsign, softplus and the
      binary step): the Dense layer's activation, or an Activation layer;
    - ``Flatten(axis=1)`` or a ``Reshape`` to ``(batch, -1)``: a Flatten layer;
    - ``Identity`` and ``Dropout`` (the identity at inference): nothing.

    Files written by :func:`export` and by ``torch.onnx.export`` of such networks qualify.
    The file is parsed by ``onnx``'s protobuf reader (external data files are not
    followed); nothing in it is executed.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    glassnet.models.Sequential
        Not compiled; float32 (float64 for a graph whose input is double).

    Raises
    ------
    glassnet.saving.ModelFileError
        A damaged file, or a graph glassnet cannot express: one message lists every
        operator that is not part of such a chain, with its node's name.
    FileNotFoundError
        No file at ``path``.
    """
    filename = check_path("path", path)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"No ONNX file at {filename!r}")
    size = os.path.getsize(filename)
    if size > MAX_ONNX_BYTES:
        raise ModelFileError(f"Cannot load {filename!r}: the file is implausibly large ({size} bytes)")
    try:
        proto = onnx.load(filename, load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, truncated files, ...
        raise ModelFileError(
            f"Cannot load {filename!r}: not a readable ONNX file ({type(exc).__name__}: {exc})"
        ) from None
    return _GraphReader(proto, filename).model()


class _Step:
    """One piece of the chain: a Dense, an activation, a Flatten or nothing (identity)."""

    def __init__(self, kind: str, output: str, shape: tuple[int, ...] | None, prefix: str,
                 **payload: Any) -> None:
        self.kind, self.output, self.shape, self.prefix = kind, output, shape, prefix
        self.payload = payload


class _GraphReader:
    """Walks an ONNX graph from its input to its output, matching the patterns above."""

    def __init__(self, proto: onnx.ModelProto, path: str) -> None:
        from glassnet.importers._common import Problems

        self.path = path
        self.graph = proto.graph
        self.problems = Problems()
        self.from_glassnet = proto.producer_name == "glassnet"
        self.opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)
        self.constants: dict[str, Any] = {t.name: t for t in self.graph.initializer}
        self.nodes = []
        for node in self.graph.node:
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and len(node.attribute) == 1:
                self.constants[node.output[0]] = helper.get_attribute_value(node.attribute[0])
            else:
                self.nodes.append(node)
        self.consumers: dict[str, list[int]] = {}
        for index, node in enumerate(self.nodes):
            for name in node.input:
                self.consumers.setdefault(name, []).append(index)
        self.used: set[int] = set()
        self._arrays: dict[str, np.ndarray | None] = {}

    def error(self, problem: str) -> Exception:

        return ModelFileError(f"Cannot load {self.path!r}: {problem}")

    def where(self, index: int) -> str:
        node = self.nodes[index]
        return f"node {node.name!r} ({node.op_type})" if node.name else f"node #{index} ({node.op_type})"

    # -- constants -----------------------------------------------------------------------
    def array(self, name: str) -> np.ndarray | None:
        """The constant called ``name`` as an array (sizes checked first), or None."""
        if name not in self._arrays:
            self._arrays[name] = self._read_constant(name)
        return self._arrays[name]

    def _read_constant(self, name: str) -> np.ndarray | None:
        from glassnet.importers._common import MAX_PARAMETERS

        value = self.constants.get(name)
        if value is None or not isinstance(value, onnx.TensorProto | float | int | list):
            return None
        if not isinstance(value, onnx.TensorProto):
            return np.asarray(value)
        if value.data_location == TensorProto.EXTERNAL:
            raise self.error(f"tensor {name!r} is stored in an external file, which glassnet "
                             "does not read")
        count = math.prod(value.dims)
        if any(d < 0 for d in value.dims) or count > MAX_PARAMETERS:
            raise self.error(f"tensor {name!r} declares the implausible shape {list(value.dims)}")
        if value.data_type not in (TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64,
                                   TensorProto.INT32):
            return None
        stored = len(value.raw_data) // np.dtype(helper.tensor_dtype_to_np_dtype(value.data_type)).itemsize \
            if value.raw_data else len(value.float_data) + len(value.double_data) + \
            len(value.int64_data) + len(value.int32_data)
        if stored != count:
            raise self.error(f"tensor {name!r} declares shape {list(value.dims)} ({count} numbers) "
                             f"but holds {stored}")
        return numpy_helper.to_array(value)

    def scalar(self, name: str) -> float | None:
        value = self.array(name)
        return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None

    # -- the walk --------------------------------------------------------------------------
    def model(self) -> Any:
        from glassnet.importers._common import assemble

        start, shape, dtype = self._input()
        end = self._output()
        steps = self._walk(start, end, shape) if start and end else []
        for index in range(len(self.nodes)):
            if index not in self.used:
                op = self.nodes[index].op_type
                self.problems.add(self.where(index), "not part of a chain glassnet can express"
                                  if op in IMPORTABLE_OPERATORS else
                                  f"the operator {op} is not one glassnet reads")
        if self.problems:
            raise self.error(self.problems.message(
                "glassnet cannot express this graph (it reads chains of Gemm or MatMul+Add, "
                "Flatten and activation operators)"))
        assert shape is not None, "a graph without an input shape is a problem"
        layers, weights = _layers_from(steps, self.from_glassnet)
        if not layers:
            raise self.error("the graph computes nothing glassnet can hold (no layers)")
        name = self.graph.name if self.from_glassnet and self.graph.name else None
        return assemble(layers, weights, shape, name=name, dtype=dtype, error=self.error)

    def _input(self) -> tuple[str, tuple[int, ...] | None, str]:
        inputs = [i for i in self.graph.input if i.name not in self.constants]
        if len(inputs) != 1:
            self.problems.add("the graph", f"has {len(inputs)} inputs (glassnet reads one)")
            return "", None, "float32"
        tensor = inputs[0].type.tensor_type
        dtype = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}.get(tensor.elem_type)
        dims = list(tensor.shape.dim)
        shape = tuple(d.dim_value for d in dims[1:])
        if dtype is None or len(dims) < 2 or not all(n > 0 for n in shape):
            self.problems.add(f"input {inputs[0].name!r}", "glassnet reads a float input of shape "
                              "(batch, n1, ...) with fixed sizes after the batch")
            return "", None, "float32"
        return inputs[0].name, shape, dtype

    def _output(self) -> str:
        if len(self.graph.output) != 1:
            self.problems.add("the graph", f"has {len(self.graph.output)} outputs (glassnet reads one)")
            return ""
        return self.graph.output[0].name

    def _walk(self, current: str, end: str, shape: tuple[int, ...] | None) -> list[_Step]:
        steps = []
        while current != end:
            step = self._match(current, shape)
            if step is not None:
                steps.append(step)
                current, shape = step.output, step.shape
                continue
            following = sorted({i for i in self.consumers.get(current, []) if i not in self.used})
            for index in following:
                self.problems.add(self.where(index), self._why_not(index, len(following)))
                self.used.add(index)
            if len(following) != 1 or not self.nodes[following[0]].output:
                if not following:
                    self.problems.add(f"tensor {current!r}", "does not lead to the graph's output")
                return steps
            current, shape = self.nodes[following[0]].output[0], None   # go on, to list the rest
        return steps

    def _why_not(self, index: int, siblings: int) -> str:
        op = self.nodes[index].op_type
        if op not in IMPORTABLE_OPERATORS:
            return f"the operator {op} is not one glassnet reads"
        if siblings > 1:
            return f"one of {siblings} operators reading the same tensor (a branch)"
        return f"this use of {op} is not one glassnet reads"

    def _match(self, current: str, shape: tuple[int, ...] | None) -> _Step | None:
        for activation, pattern in _PATTERNS:
            matched = self._match_pattern(current, pattern)
            if matched is not None:
                output, indices = matched
                self.used.update(indices)
                return _Step("activation", output, shape, self._prefix(indices[-1]),
                             activation=dict(activation))
        following = sorted({i for i in self.consumers.get(current, []) if i not in self.used})
        if len(following) != 1:
            return None
        index = following[0]
        node = self.nodes[index]
        if node.domain not in ("", "ai.onnx") or not node.output or node.input[0] != current \
                or any(self.consumers.get(extra) for extra in node.output[1:]):
            return None
        step = self._match_node(index, current, shape)
        if step is not None:
            self.used.add(index)
        return step

    def _prefix(self, index: int) -> str:
        """The glassnet layer name in a node name ``'<layer>/...'`` (files from :func:`export`;
        the last node is renamed ``output`` there, so its weight or input tells the layer)."""
        if not self.from_glassnet:
            return ""
        node = self.nodes[index]
        candidates = [node.name, node.input[1] if node.op_type in ("Gemm", "MatMul") else node.input[0]]
        return next((name.split("/")[0] for name in candidates if "/" in name), "")

    def _match_node(self, index: int, current: str, shape: tuple[int, ...] | None) -> _Step | None:
        node = self.nodes[index]
        op, output, prefix = node.op_type, node.output[0], self._prefix(index)
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if op in ("Gemm", "MatMul"):
            return self._match_dense(index, attributes)
        if op in _IDENTITY_OPERATORS:
            return _Step("identity", output, shape, prefix)
        if op in ("Flatten", "Reshape") and shape is not None and self._flattens(node, attributes, shape):
            return _Step("flatten", output, (math.prod(shape),), prefix, input_shape=shape)
        activation = _activation_of(op, attributes, self.opset, shape)
        if activation is None:
            return None
        if isinstance(activation, str):
            self.problems.add(self.where(index), activation)
            activation = {"name": "linear"}
        return _Step("activation", output, shape, prefix, activation=activation)

    def _flattens(self, node: Any, attributes: dict[str, Any], shape: tuple[int, ...]) -> bool:
        """Whether a Flatten or Reshape node makes each example one vector."""
        if node.op_type == "Flatten":
            return attributes.get("axis", 1) == 1
        target = self.array(node.input[1]) if len(node.input) > 1 else None
        if target is None or target.shape != (2,):
            return False
        batch, features = (int(n) for n in target)
        return batch in (0, -1) and (features == math.prod(shape) or (features == -1 and batch == 0))

    def _match_dense(self, index: int, attributes: dict[str, Any]) -> _Step | None:
        """``Gemm(A, W, b)`` or ``MatMul(A, W)`` [+ ``Add(·, b)``] with constant W and b."""
        node = self.nodes[index]
        W = self.array(node.input[1]) if len(node.input) > 1 else None
        if W is None or W.ndim != 2 or attributes.get("transA", 0):
            return None
        if attributes.get("transB", 0):
            W = W.T                                      # PyTorch stores (out, in)
        W = W * attributes.get("alpha", 1.0)
        output, b = node.output[0], None
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2]:
            b = self.array(node.input[2])
            if b is None:
                return None
            b = b * attributes.get("beta", 1.0)
        elif node.op_type == "MatMul":
            output, b = self._bias_after(output)
        if b is not None and b.size != W.shape[1]:
            self.problems.add(self.where(index), f"its bias has {b.size} numbers for "
                                                 f"{W.shape[1]} outputs")
            b = None
        bias = None if b is None else b.reshape(-1)
        return _Step("dense", output, (W.shape[1],), self._prefix(index), W=W, b=bias)

    def _bias_after(self, product: str) -> tuple[str, np.ndarray | None]:
        """``Add(product, b)`` (either order) right after a MatMul: its output and ``b``."""
        following = self.consumers.get(product, [])
        if len(following) == 1 and self.nodes[following[0]].op_type == "Add":
            add = self.nodes[following[0]]
            other = [name for name in add.input if name != product]
            b = self.array(other[0]) if len(other) == 1 else None
            if b is not None and b.ndim <= 2:
                self.used.add(following[0])
                return add.output[0], b
        return product, None

    def _match_pattern(self, current: str, pattern: list[tuple[str, list[Any], str]]
                       ) -> tuple[str, list[int]] | None:
        """Find the nodes of ``pattern`` applied to ``current``: (output, node indices) or None.

        Every tensor inside the pattern must be read only by the pattern's own nodes.
        """
        bound = {"z": current}
        indices: list[int] = []
        for op, inputs, output in pattern:
            symbols = [bound[s] for s in inputs if isinstance(s, str) and s in bound]
            candidates = {i for name in symbols for i in self.consumers.get(name, [])}
            found = next((i for i in sorted(candidates) if i not in self.used and i not in indices
                          and self.nodes[i].op_type == op
                          and self._inputs_match(self.nodes[i], inputs, bound)), None)
            if found is None:
                return None
            indices.append(found)
            bound[output] = self.nodes[found].output[0]
        if self.nodes[indices[-1]].op_type == "Cast" and \
                self.nodes[indices[-1]].attribute[0].i not in (TensorProto.FLOAT, TensorProto.DOUBLE):
            return None
        for symbol, tensor in bound.items():
            if symbol != "out" and not set(self.consumers.get(tensor, [])) <= set(indices):
                return None
        return bound["out"], indices

    def _inputs_match(self, node: Any, inputs: list[Any], bound: dict[str, str]) -> bool:
        orders = [inputs, inputs[::-1]] if node.op_type in ("Add", "Mul") else [inputs]
        for order in orders:
            if len(node.input) == len(order) and all(
                    node.input[k] == bound.get(spec) if isinstance(spec, str)
                    else (value := self.scalar(node.input[k])) is not None and spec(value)
                    for k, spec in enumerate(order)):
                return True
        return False


def _float32_value(value: float) -> float:
    """A float attribute as written (0.1 stored in float32 reads 0.10000000149; this gives 0.1)."""
    return float(str(np.float32(value)))


def _activation_of(op: str, attributes: dict[str, Any], opset: int,
                   shape: tuple[int, ...] | None) -> dict[str, Any] | str | None:
    """The activation of one operator node; a string says why not; None: not an activation."""
    if op in _SIMPLE_OPERATORS:
        return {"name": _SIMPLE_OPERATORS[op]}
    if op == "LeakyRelu":
        return {"name": "leaky_relu", "alpha": _float32_value(attributes.get("alpha", 0.01))}
    if op == "Elu":
        return {"name": "elu", "alpha": _float32_value(attributes.get("alpha", 1.0))}
    if op == "Selu":
        from glassnet.activations import SELU

        alpha, gamma = attributes.get("alpha", SELU.alpha), attributes.get("gamma", SELU.scale)
        if not (math.isclose(alpha, SELU.alpha, rel_tol=1e-6)
                and math.isclose(gamma, SELU.scale, rel_tol=1e-6)):
            return f"Selu(alpha={alpha}, gamma={gamma}) is not selu's alpha={SELU.alpha}, scale={SELU.scale}"
        return {"name": "selu"}
    if op == "HardSigmoid":
        alpha, beta = attributes.get("alpha", 0.2), attributes.get("beta", 0.5)
        if not (math.isclose(alpha, 1 / 6, rel_tol=1e-6) and beta == 0.5):
            return (f"HardSigmoid(alpha={alpha}, beta={beta}); glassnet's hard_sigmoid is "
                    "alpha=1/6, beta=1/2 (as Keras 3 and PyTorch)")
        return {"name": "hard_sigmoid"}
    if op == "Softmax":
        axis = attributes.get("axis", -1 if opset >= 13 else 1)
        if shape is not None and axis not in (-1, len(shape)):
            return f"Softmax(axis={axis}); glassnet's softmax is along the last axis"
        return {"name": "softmax"}
    if op == "Gelu":
        approximate = attributes.get("approximate", b"none")
        return {"name": "gelu", "approximate": approximate in (b"tanh", "tanh")}
    return None


def _layers_from(steps: list[_Step], from_glassnet: bool) -> tuple[list[Layer], list[list[np.ndarray]]]:
    """glassnet layers from the matched steps: an activation right after a linear Dense
    becomes its ``g`` (in glassnet's own files, only where the names say so)."""
    layers: list[Layer] = []
    weights: list[list[np.ndarray]] = []
    pending: _Step | None = None

    def flush(activation: Any = None) -> None:
        nonlocal pending
        if pending is not None:
            W, b = pending.payload["W"], pending.payload["b"]
            layers.append(Dense(W.shape[1], activation=activation, use_bias=b is not None,
                                **_name(pending.prefix)))
            weights.append([W] if b is None else [W, b])
        pending = None

    for step in steps:
        if step.kind == "dense":
            flush()
            pending = step
        elif step.kind == "activation":
            if pending is not None and (not from_glassnet or step.prefix == pending.prefix):
                flush(step.payload["activation"])
                continue
            flush()
            layers.append(Activation(step.payload["activation"], **_name(step.prefix)))
            weights.append([])
        elif step.kind == "flatten":
            flush()
            layers.append(Flatten(**_name(step.prefix)))
            weights.append([])
    flush()
    return layers, weights


def _name(prefix: str) -> dict[str, Any]:
    return {"name": prefix} if prefix else {}

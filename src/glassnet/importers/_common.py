"""What every importer shares: collect the problems, check the sizes, then build the model.

An importer turns a foreign description (a Keras config, a PyTorch module, an ONNX
graph) into a list of glassnet layers and, for each layer, its weight arrays in the
order the layer declares them. :func:`assemble` then

1. declares every layer's parameters for the shape flowing into it, *without allocating
   them* (``layer.build`` only records ``ParamSpec`` s);
2. compares each stored array's shape with the declared one, and the total with
   :data:`MAX_PARAMETERS`;
3. only then reads the arrays (an ``h5py.Dataset`` is read here, not before) and builds
   the model.

Every problem found on the way goes into one :class:`Problems` list and is reported
in one message: a model is loaded completely or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import glassnet
from glassnet import layers as glassnet_layers
from glassnet.layers import Input
from glassnet.layers.base import Layer
from glassnet.sequential import Sequential

#: The most parameters an imported model may declare (4 bytes each in float32, and
#: glassnet allocates a gradient of the same size): a file declaring more is refused
#: before anything is allocated.
MAX_PARAMETERS = 100_000_000

#: The largest JSON description (Keras's config.json) read into memory.
MAX_JSON_BYTES = 16 * 1024 * 1024

#: The first bytes of an HDF5 file (legacy Keras) and of a zip archive (.keras, .glassnet).
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"

#: Something with a ``shape`` and a ``dtype`` that ``np.asarray`` reads: a NumPy array,
#: an ``h5py.Dataset`` (read only when :func:`assemble` has checked its shape).
ArrayLike = Any


class Problems:
    """The list of what cannot be imported, each entry naming where it is."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str) -> None:
        self.items.append(f"{where}: {what}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def message(self, summary: str) -> str:
        """``summary`` followed by one line per problem."""
        count = len(self.items)
        lines = "\n".join(f"  - {item}" for item in self.items)
        return f"{summary} ({count} problem{'s' if count != 1 else ''}):\n{lines}"


def assemble(
    layers: Sequence[Layer],
    weights: Sequence[Sequence[ArrayLike]],
    input_shape: tuple[int, ...],
    *,
    name: str | None,
    dtype: str,
    error: Callable[[str], Exception],
) -> Any:
    """The glassnet ``Sequential`` of ``layers`` with ``weights``, or ``error(message)``.

    Parameters
    ----------
    layers : list of Layer
        Unbuilt glassnet layers, in order.
    weights : list of list of array-like
        ``weights[i]`` are layer ``i``'s arrays, in the order of its ``param_specs``
        (Dense: kernel ``(n_in, n_out)``, bias ``(n_out,)``).
    input_shape : tuple of int
        The shape of one example.
    name : str or None
        The model's name.
    dtype : {'float32', 'float64'}
        The float type of the model.
    error : callable
        Makes the exception raised for a problem from its message (a
        :class:`~glassnet.saving.ModelFileError` naming the file, for a file).
    """
    problems = Problems()
    total = _check_shapes(layers, weights, input_shape, problems)
    if problems:
        raise error(problems.message("the layers and their weights do not fit together"))
    if total > MAX_PARAMETERS:
        raise error(
            f"the model declares {total:,} parameters, more than glassnet imports "
            f"({MAX_PARAMETERS:,}); nothing was allocated"
        )
    arrays = [_read_array(layer, array, error) for layer, group in zip(layers, weights, strict=True)
              for array in group]
    model = Sequential([Input(shape=input_shape), *layers], name=name, dtype=dtype)
    model.build()
    model.set_weights(arrays)
    return model


def _check_shapes(layers: Sequence[Layer], weights: Sequence[Sequence[ArrayLike]],
                  input_shape: tuple[int, ...], problems: Problems) -> int:
    """Declare each layer's parameters (nothing allocated) and compare the stored shapes;
    return the number of parameters declared."""
    total = 0
    shape = input_shape
    for layer, group in zip(layers, weights, strict=True):
        where = f"layer {layer.name!r} ({type(layer).__name__})"
        layer.param_specs = []
        try:
            layer.build(shape)
        except (ValueError, TypeError) as exc:
            problems.add(where, f"cannot take inputs of shape {shape}: {exc}")
            return total
        specs = layer.param_specs
        total += sum(math.prod(spec.shape) for spec in specs)
        if len(group) != len(specs):
            problems.add(where, f"expects {len(specs)} weight arrays "
                                f"({', '.join(s.name for s in specs) or 'none'}), found {len(group)}")
        for spec, array in zip(specs, group, strict=False):
            stored = tuple(int(n) for n in array.shape)
            if stored != spec.shape:
                problems.add(where, f"its {spec.name} has shape {stored} in the file, but the layer "
                                    f"declares {spec.shape}")
        assert layer.output_shape is not None, "build() sets output_shape"
        shape = layer.output_shape
    return total


def _read_array(layer: Layer, array: ArrayLike, error: Callable[[str], Exception]) -> np.ndarray:
    """Read one checked array; refuse non-float data, NaN and infinity."""
    if np.dtype(array.dtype).kind not in "fiu":
        raise error(f"layer {layer.name!r}: a weight array has dtype {array.dtype}, expected numbers")
    try:
        values = np.asarray(array)
    except Exception as exc:  # h5py: a damaged dataset
        raise error(f"layer {layer.name!r}: a weight array cannot be read ({exc})") from None
    if not np.isfinite(values).all():
        raise error(f"layer {layer.name!r}: a weight array contains NaN or infinite values")
    return values


def layer_class(name: str) -> Any:
    """The class ``glassnet.layers.<name>``, or None in a glassnet without that layer
    (typed Any: its constructor's arguments are those of a layer not every glassnet has)."""
    cls = getattr(glassnet_layers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, Layer) else None


def missing_layer(name: str) -> str:
    """The problem to report when :func:`layer_class` found nothing."""
    return (f"needs the layer glassnet.layers.{name}, which glassnet {glassnet.__version__} "
            "does not have yet: update glassnet to a version with it")


def float_dtype_of(arrays: Sequence[ArrayLike]) -> str:
    """'float64' when every array is float64 (a float64 model), else 'float32'."""
    kinds = {np.dtype(a.dtype) for a in arrays}
    return "float64" if kinds == {np.dtype(np.float64)} else "float32"

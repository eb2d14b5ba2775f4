"""Read Keras models (``.keras`` and legacy ``.h5``) as glassnet models, without Keras.

A Keras 3 ``.keras`` file is a zip archive of ``config.json`` (the architecture, plain
JSON) and ``model.weights.h5`` (the arrays, HDF5); a legacy ``.h5`` file is one HDF5 file
whose ``model_config`` attribute holds the JSON and whose ``model_weights`` group the
arrays. Both are read with :mod:`json` and ``h5py`` (``pip install 'glassnet[keras]'``):
Keras and TensorFlow are never imported, nothing is unpickled and no code from the file
runs. A ``Lambda`` layer (Python bytecode) or a custom object (code that lives outside
the file) is refused.

=======================  =================================================
Keras layer              glassnet layer
=======================  =================================================
InputLayer / Input       the model's input shape
Dense                    Dense (same kernel ``(n_in, n_out)``, bias, activation,
                         L1/L2 regularizers)
Activation               Activation
Dropout                  Dropout
Flatten                  Flatten
BatchNormalization       BatchNormalization (gamma, beta, moving mean and variance)
ReLU, LeakyReLU, Softmax ReLU, LeakyReLU, Softmax
=======================  =================================================

Activations (in Dense and Activation): linear, relu, sigmoid, tanh, softmax, elu, selu,
softplus, softsign, swish/silu, gelu, leaky_relu and hard_sigmoid (Keras 3's
``relu6(x + 3) / 6``; Keras 2 files, whose hard_sigmoid was ``0.2 x + 0.5``, are refused).

Sequential models and functional models that are a single chain are read; whatever
glassnet cannot express (convolutions, branches, merges, unknown layers or activations) is
refused in one message listing every such layer. Sizes are checked before anything is
allocated: every HDF5 dataset's shape is compared with the shape the configuration
declares before it is read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import zipfile
from collections.abc import Iterator
from typing import Any

from glassnet.errors import ModelFileError
from glassnet.fileformat import check_path
from glassnet.importers._common import (
    HDF5_SIGNATURE,
    MAX_JSON_BYTES,
    ZIP_SIGNATURE,
    Problems,
    assemble,
    float_dtype_of,
    layer_class,
    missing_layer,
)
from glassnet.layers import Activation, Dense, Dropout, Flatten
from glassnet.layers.base import Layer

__all__ = ["load_keras"]

#: Keras activation names glassnet computes identically (silu is Keras's name for swish).
KERAS_ACTIVATIONS = {name: name for name in (
    "linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu", "softplus", "softsign",
    "swish", "gelu", "leaky_relu", "hard_sigmoid")} | {"silu": "swish"}
#: Keras layers glassnet reads (the table of the module docstring).
KERAS_LAYERS = ("InputLayer", "Dense", "Activation", "Dropout", "Flatten", "BatchNormalization",
                "ReLU", "LeakyReLU", "Softmax")


def _import_h5py() -> Any:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("reading Keras files needs h5py: pip install 'glassnet[keras]'") from exc
    return h5py


def load_keras(filepath: str | os.PathLike) -> Any:
    """The glassnet ``Sequential`` stored in a Keras ``.keras`` or legacy ``.h5`` file.

    The kind of file is told by its first bytes (a zip archive or HDF5), not its name.

    Parameters
    ----------
    filepath : str or path-like

    Returns
    -------
    glassnet.models.Sequential
        Not compiled; float64 when the file's weights are float64, else float32.

    Raises
    ------
    glassnet.saving.ModelFileError
        A damaged file, or a model glassnet cannot express (listing every such layer).
    FileNotFoundError
        No file at ``filepath``.
    """
    path = check_path("filepath", filepath)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No model file at {path!r}")
    with open(path, "rb") as handle:
        signature = handle.read(8)
    if signature.startswith(ZIP_SIGNATURE):
        opener = _open_keras_zip
    elif signature == HDF5_SIGNATURE:
        opener = _open_legacy_h5
    else:
        raise _error(path, "not a Keras model file (neither a .keras zip archive nor an HDF5 file)")
    with opener(path) as source:
        return _build(source)


def _error(path: str, problem: str) -> ModelFileError:
    return ModelFileError(f"Cannot load {path!r}: {problem}")


class _Source:
    """An open Keras file: its JSON configuration and, per layer, its weight datasets."""

    def __init__(self, path: str, config: Any, keras_version: str, weights_root: Any) -> None:
        self.path = path
        self.config = config
        self.keras_version = keras_version
        self.weights_root = weights_root
        self._used_names: dict[str, int] = {}

    def error(self, problem: str) -> ModelFileError:
        return _error(self.path, problem)

    def weights(self, entry: dict) -> list[Any]:
        """The HDF5 datasets of one layer, in the layer's order (nothing read yet)."""
        raise NotImplementedError


class _KerasZipSource(_Source):
    """Keras 3: ``model.weights.h5`` keeps layer ``i``'s variables in
    ``layers/<class name in snake case, numbered per class>/vars/<0, 1, ...>``."""

    def weights(self, entry: dict) -> list[Any]:
        base = _snake_case(str(entry.get("class_name")))
        count = self._used_names.get(base)
        self._used_names[base] = 0 if count is None else count + 1
        group_name = base if count is None else f"{base}_{count + 1}"
        group = self.weights_root.get(f"layers/{group_name}/vars")
        if group is None:
            return []
        return [_dataset(self, group, str(i), group_name) for i in range(len(group))]


class _LegacyH5Source(_Source):
    """Legacy Keras: ``model_weights/<layer name>`` lists its arrays in ``weight_names``."""

    def weights(self, entry: dict) -> list[Any]:
        name = _layer_name(entry)
        group = self.weights_root.get(name)
        if group is None:
            return []
        names = [_text(n) for n in group.attrs.get("weight_names", [])]
        return [_dataset(self, group, n, name) for n in names]


def _dataset(source: _Source, group: Any, name: str, layer: str) -> Any:
    """The dataset ``name`` of ``group``, refused unless its numbers are inside this file: an
    HDF5 file may link to other files or keep a dataset's data in any file on the disk."""
    h5py = _import_h5py()
    outside = isinstance(group.get(name, getlink=True), h5py.ExternalLink)
    item: Any = None if outside else group.get(name)
    if not outside and not isinstance(item, h5py.Dataset):
        raise source.error(f"the weights of layer {layer!r} are damaged: {name!r} is not an array")
    if outside or item.file != source.weights_root.file or item.external or item.is_virtual:
        raise source.error(f"the weights of layer {layer!r} refer to data outside the file "
                           f"({name!r}), which glassnet does not read")
    return item


def _snake_case(name: str) -> str:
    """Keras's ``to_snake_case``: ``BatchNormalization`` -> ``batch_normalization``,
    ``ReLU`` -> ``re_lu`` (the names of the groups in ``model.weights.h5``)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _parse_json(path: str, raw: bytes | str, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _error(path, f"{what} is not valid JSON ({type(exc).__name__}: {exc})") from None


@contextlib.contextmanager
def _open_keras_zip(path: str) -> Iterator[_Source]:
    h5py = _import_h5py()
    try:
        archive = zipfile.ZipFile(path)
    except Exception as exc:  # BadZipFile, truncation, OSError
        raise _error(path, f"not a readable .keras archive ({type(exc).__name__}: {exc})") from None
    with archive:
        config = _parse_json(path, _member(path, archive, "config.json", MAX_JSON_BYTES), "config.json")
        if "model.weights.h5" not in archive.namelist():
            raise _error(path, "member 'model.weights.h5' is missing (glassnet reads unsharded "
                               ".keras files of Keras 3)")
        try:
            with archive.open("model.weights.h5") as member, h5py.File(member, "r") as weights:
                yield _KerasZipSource(path, config, "3", weights)
        except ModelFileError:
            raise
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise _error(path, f"model.weights.h5 is damaged ({type(exc).__name__}: {exc})") from None


def _member(path: str, archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise _error(path, f"member {name!r} is missing") from None
    if info.file_size > limit:
        raise _error(path, f"member {name!r} is implausibly large ({info.file_size} bytes)")
    try:
        return archive.read(name)
    except Exception as exc:  # CRC errors, truncation, bad compressed data
        raise _error(path, f"member {name!r} is damaged ({type(exc).__name__}: {exc})") from None


@contextlib.contextmanager
def _open_legacy_h5(path: str) -> Iterator[_Source]:
    h5py = _import_h5py()
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise _error(path, f"not a readable HDF5 file ({exc})") from None
    with handle:
        raw = handle.attrs.get("model_config")
        if raw is None:
            raise _error(path, "an HDF5 file without a model_config: weights only, not a model "
                               "(glassnet needs the architecture too)")
        raw = _text(raw)
        if len(raw) > MAX_JSON_BYTES:
            raise _error(path, f"model_config is implausibly large ({len(raw)} characters)")
        config = _parse_json(path, raw, "model_config")
        weights = handle.get("model_weights", handle)
        try:
            yield _LegacyH5Source(path, config, _text(handle.attrs.get("keras_version", "")), weights)
        except (OSError, KeyError) as exc:
            raise _error(path, f"the weights are damaged ({type(exc).__name__}: {exc})") from None


# --------------------------------------------------------------------------------------
# the architecture: the chain of layer entries


def _build(source: _Source) -> Any:
    problems = Problems()
    model_config = source.config
    if not isinstance(model_config, dict) or not isinstance(model_config.get("config"), dict | list):
        raise source.error("the configuration does not describe a Keras model")
    entries = _chain(model_config, problems)
    input_shape = _input_shape(model_config, entries, problems)
    layers: list[Layer] = []
    kept: list[dict] = []
    for entry in entries:
        layer = _convert(entry, source.keras_version, problems)
        if layer is not None:
            layers.append(layer)
            kept.append(entry)
    if not problems and not layers:
        problems.add("the model", "has no layers")
    if problems:
        raise source.error(problems.message("glassnet cannot express this model"))
    assert input_shape is not None, "a missing input shape is a problem"
    weights = [source.weights(entry) for entry in kept]
    name = model_config["config"].get("name") if isinstance(model_config["config"], dict) else None
    return assemble(layers, weights, input_shape, name=name if isinstance(name, str) else None,
                    dtype=float_dtype_of([w for group in weights for w in group]),
                    error=source.error)


def _layer_name(entry: dict) -> str:
    config = entry.get("config")
    name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
    return str(name) if name is not None else "?"


def _chain(model_config: dict, problems: Problems) -> list[dict]:
    """The layer entries in the order data flows through them (including InputLayer)."""
    kind = model_config.get("class_name")
    config = model_config["config"]
    layers = config if isinstance(config, list) else config.get("layers")   # Keras < 2.2: a list
    if not isinstance(layers, list) or not all(isinstance(e, dict) for e in layers):
        problems.add("the model", "its configuration has no list of layers")
        return []
    if kind == "Sequential":
        return layers
    if kind in ("Functional", "Model"):
        return _functional_chain(config, layers, problems)
    problems.add("the model", f"a {kind!r} model: glassnet reads Sequential and functional models")
    return []


def _inbound_names(entry: dict) -> list[list[str]]:
    """For each call of the layer, the names of the layers whose outputs it takes."""
    calls = []
    for node in entry.get("inbound_nodes") or []:
        names: list[str] = []
        _collect_history(node, names)
        calls.append(names)
    return calls


def _collect_history(value: Any, names: list[str]) -> None:
    """Keras 3 tensors carry ``keras_history: [layer, node, tensor]``; Keras 2 nodes are
    lists ``[layer, node, tensor, kwargs]``."""
    if isinstance(value, dict):
        history = value.get("config", {}).get("keras_history") if isinstance(value.get("config"), dict) \
            else None
        if isinstance(history, list) and history and isinstance(history[0], str):
            names.append(history[0])
            return
        for item in value.values():
            _collect_history(item, names)
    elif isinstance(value, list):
        if len(value) >= 3 and isinstance(value[0], str) and isinstance(value[1], int):
            names.append(value[0])
            return
        for item in value:
            _collect_history(item, names)


def _functional_chain(config: dict, layers: list[dict], problems: Problems) -> list[dict]:
    """The layers of a functional model from its input to its output, if they form one chain."""
    by_name = {_layer_name(entry): entry for entry in layers}
    inputs = _endpoints(config.get("input_layers"))
    outputs = _endpoints(config.get("output_layers"))
    if len(inputs) != 1 or len(outputs) != 1:
        problems.add("the model", f"has {len(inputs)} inputs and {len(outputs)} outputs "
                                  "(glassnet reads one input and one output)")
        return []
    inbound = {}
    for name, entry in by_name.items():
        calls = _inbound_names(entry)
        if len(calls) > 1:
            problems.add(f"layer {name!r}", f"is called {len(calls)} times (a shared layer)")
        if calls and len(calls[0]) > 1:
            problems.add(f"layer {name!r}", f"takes {len(calls[0])} inputs {calls[0]} (a merge of branches)")
        inbound[name] = {n for call in calls for n in call}
    order, current = [by_name[inputs[0]]] if inputs[0] in by_name else [], inputs[0]
    while current != outputs[0]:
        following = [name for name, sources in inbound.items() if current in sources]
        if len(following) != 1:
            problems.add(f"layer {current!r}", f"its output feeds {len(following)} layers "
                                               f"{following} (glassnet reads one chain of layers)")
            return order
        current = following[0]
        order.append(by_name[current])
    for name in by_name.keys() - {_layer_name(e) for e in order}:
        problems.add(f"layer {name!r}", "is not on the path from the input to the output")
    return order


def _endpoints(value: Any) -> list[str]:
    """``[['x', 0, 0]]`` or ``['x', 0, 0]`` (one endpoint) -> ``['x']``."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        return [value[0]]
    if isinstance(value, list):
        return [item[0] for item in value if isinstance(item, list) and item and isinstance(item[0], str)]
    return []


def _input_shape(model_config: dict, entries: list[dict], problems: Problems) -> tuple[int, ...] | None:
    """The shape of one example: from the InputLayer, the first layer's ``batch_input_shape``
    (Keras 2) or ``build_config`` (Keras 3), or the model's ``build_input_shape``."""
    candidates: list[Any] = []
    if entries:
        first = entries[0]
        config: dict = first["config"] if isinstance(first.get("config"), dict) else {}
        candidates += [config.get("batch_shape"), config.get("batch_input_shape"),
                       (first.get("build_config") or {}).get("input_shape")]
    if isinstance(model_config["config"], dict):
        candidates.append(model_config["config"].get("build_input_shape"))
    shape = next((c for c in candidates if c is not None), None)
    if shape is None:
        problems.add("the model", "its input shape is not in the file (build the Keras model, or "
                                  "start it with keras.Input, before saving)")
        return None
    dims = shape[1:] if isinstance(shape, list) else None
    if not dims or not all(type(d) is int and d > 0 for d in dims):
        problems.add("the model", f"its input shape {shape} is not a batch of examples of fixed "
                                  "positive sizes")
        return None
    return tuple(dims)


# --------------------------------------------------------------------------------------
# one layer


def _convert(entry: dict, keras_version: str, problems: Problems) -> Layer | None:
    """The glassnet layer for one Keras layer entry (None for InputLayer or a problem)."""
    kind = entry.get("class_name")
    name = _layer_name(entry)
    where = f"layer {name!r} ({kind})"
    config = entry.get("config")
    if not isinstance(kind, str) or not isinstance(config, dict):
        problems.add(where, "the layer entry is malformed")
        return None
    custom = _custom_object(entry)
    if custom:
        problems.add(where, custom)
        return None
    if kind == "Lambda":
        problems.add(where, "a Lambda layer holds Python code (bytecode), which glassnet never runs")
        return None
    if kind == "InputLayer":
        return None
    if kind not in KERAS_LAYERS:
        problems.add(where, f"an unknown layer (glassnet reads {', '.join(KERAS_LAYERS)})")
        return None
    try:
        return _LAYER_CONVERTERS[kind](config, name, keras_version, where, problems)
    except (ValueError, TypeError) as exc:
        problems.add(where, f"its configuration is invalid ({exc})")
        return None


def _custom_object(entry: dict) -> str:
    """Why ``entry`` is a custom object (code outside the file), or ''."""
    module = entry.get("module")
    registered = entry.get("registered_name")
    if registered is not None or (module is not None and not str(module).startswith("keras")):
        return (f"a custom object ({registered or module}): its code is not in the file, and "
                "glassnet never runs code from a file")
    return ""


def _common(config: dict, name: str) -> dict[str, Any]:
    return {"name": name, "trainable": bool(config.get("trainable", True))}


def _dense(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    activation = _activation(config.get("activation"), version, where, problems)
    for option in ("lora_rank", "quantization_config"):
        if config.get(option):
            problems.add(where, f"{option}={config[option]!r} is not supported")
    if activation is None or config.get("lora_rank") or config.get("quantization_config"):
        return None
    units: Any = config.get("units")          # checked by Dense
    return Dense(units, activation=activation, use_bias=config.get("use_bias", True),
                 kernel_regularizer=_regularizer(config.get("kernel_regularizer")),
                 bias_regularizer=_regularizer(config.get("bias_regularizer")), **_common(config, name))


def _activation_layer(config: dict, name: str, version: str, where: str,
                      problems: Problems) -> Layer | None:
    activation = _activation(config.get("activation"), version, where, problems)
    return None if activation is None else Activation(activation, **_common(config, name))


def _dropout(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    if config.get("noise_shape") is not None:
        problems.add(where, "noise_shape is not supported")
        return None
    seed: Any = config.get("seed")
    rate: Any = config.get("rate")            # checked by Dropout
    return Dropout(rate, seed=seed if type(seed) is int else None, **_common(config, name))


def _flatten(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    if config.get("data_format", "channels_last") != "channels_last":
        problems.add(where, f"data_format={config['data_format']!r} (glassnet flattens channels_last)")
        return None
    return Flatten(**_common(config, name))


def _batch_normalization(config: dict, name: str, version: str, where: str,
                         problems: Problems) -> Layer | None:
    cls = layer_class("BatchNormalization")
    if cls is None:
        problems.add(where, missing_layer("BatchNormalization"))
        return None
    if config.get("renorm"):
        problems.add(where, "renorm=True is not supported")
        return None
    axis = config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    return cls(axis=axis, momentum=config.get("momentum", 0.99), epsilon=config.get("epsilon", 1e-3),
               center=config.get("center", True), scale=config.get("scale", True),
               **_common(config, name))


def _relu(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    cls = layer_class("ReLU")
    if cls is None:
        problems.add(where, missing_layer("ReLU"))
        return None
    options = {key: config[key] for key in ("max_value", "negative_slope", "threshold") if key in config}
    return cls(**options, **_common(config, name))     # the layer refuses what it cannot compute


def _leaky_relu(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    cls = layer_class("LeakyReLU")
    if cls is None:
        problems.add(where, missing_layer("LeakyReLU"))
        return None
    slope = config.get("negative_slope", config.get("alpha", 0.3))    # Keras 2 called it alpha
    return cls(negative_slope=slope, **_common(config, name))


def _softmax(config: dict, name: str, version: str, where: str, problems: Problems) -> Layer | None:
    cls = layer_class("Softmax")
    if cls is None:
        problems.add(where, missing_layer("Softmax"))
        return None
    axis = config.get("axis", -1)
    axis = axis[0] if isinstance(axis, list) and len(axis) == 1 else axis
    return cls(axis=axis, **_common(config, name))     # its build() checks the axis


_LAYER_CONVERTERS = {
    "Dense": _dense, "Activation": _activation_layer, "Dropout": _dropout, "Flatten": _flatten,
    "BatchNormalization": _batch_normalization, "ReLU": _relu, "LeakyReLU": _leaky_relu,
    "Softmax": _softmax,
}


def _activation(value: Any, version: str, where: str, problems: Problems) -> str | None:
    """glassnet's name for a Keras activation, or None after recording the problem."""
    if isinstance(value, dict) and str(value.get("module", "")).startswith("keras") \
            and isinstance(value.get("config"), str):
        value = value["config"]            # {"module": "keras.activations", "config": "relu", ...}
    if value is None:
        return "linear"
    if not isinstance(value, str):
        problems.add(where, "its activation is a custom function (code is never loaded from a file)")
        return None
    if value == "hard_sigmoid" and version and not version.startswith("3"):
        problems.add(where, f"hard_sigmoid of Keras {version} is clip(0.2 z + 0.5, 0, 1); glassnet's "
                            "(Keras 3's) is clip(z/6 + 1/2, 0, 1)")
        return None
    if value not in KERAS_ACTIVATIONS:
        problems.add(where, f"activation {value!r} has no glassnet equivalent (glassnet has "
                            f"{', '.join(sorted(KERAS_ACTIVATIONS))})")
        return None
    return KERAS_ACTIVATIONS[value]


def _regularizer(value: Any) -> dict | None:
    """Keras's ``{"class_name": "L2", "config": {"l2": 0.01}}`` as glassnet's config."""
    if not isinstance(value, dict):
        return None
    names = {"L1": "l1", "L2": "l2", "L1L2": "l1_l2", "l1": "l1", "l2": "l2", "l1_l2": "l1_l2"}
    name = names.get(str(value.get("class_name")))
    if name is None:
        raise ValueError(f"regularizer {value.get('class_name')!r} is not one of L1, L2, L1L2")
    config: dict = value["config"] if isinstance(value.get("config"), dict) else {}
    return {"name": name, **{k: float(v) for k, v in config.items() if k in ("l1", "l2")}}

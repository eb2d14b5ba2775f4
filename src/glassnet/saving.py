"""Saving and loading models: ``model.save(path)`` and ``load_model(path)``.

A saved model is one zip file of JSON and ``.npy`` arrays, never a pickle; nothing in
a file is ever executed, and every problem with a file raises :class:`ModelFileError`
naming the file and the problem. :mod:`glassnet.fileformat` writes and reads the file
(atomically, bounded and checked, see docs/reliability.md); this module turns what it
reads back into a :class:`~glassnet.sequential.Sequential` model.
"""

from __future__ import annotations

from typing import Any

from glassnet import layers
from glassnet.errors import ModelFileError
from glassnet.fileformat import (
    FORMAT_NAME,
    FORMAT_VERSION,
    MAX_MODEL_BYTES,
    Reader,
    atomic_write,
    check_numbers_fit,
    check_save_path,
    load_weights,
    read_weights,
    refuse_same_file,
    restore_optimizer_state,
    restore_training_state,
    save_model,
    save_weights,
)
from glassnet.layers.base import _check_shape
from glassnet.sequential import Sequential

__all__ = [
    "FORMAT_NAME", "FORMAT_VERSION", "MAX_MODEL_BYTES", "ModelFileError", "atomic_write",
    "check_save_path", "load_model", "load_weights", "refuse_same_file", "save_model", "save_weights",
]


def load_model(filepath: Any, compile: bool = True) -> Sequential:
    """Rebuild a model from a file written by :func:`save_model`.

    The result predicts identically and, with ``compile=True``, continues training
    exactly where it stopped (optimizer state, epoch count and random states restored).
    """
    reader = Reader(filepath)
    try:
        return _build_from(reader, compile)
    except ModelFileError:
        raise
    except Exception as exc:  # a config that passed JSON parsing but describes nonsense
        raise reader.error(f"the model description is invalid ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()


def _build_from(reader: Reader, compile: bool) -> Sequential:
    """The model the file describes, in the float type it was saved in; then its weights,
    training state and (with ``compile``) its optimizer and state."""
    manifest = reader.manifest
    spec = manifest["model"]
    if not isinstance(spec.get("layers"), list) or not spec["layers"]:
        raise reader.error("the model has no layers")
    floatx = manifest.get("floatx", "float32")
    if floatx not in ("float32", "float64"):
        raise reader.error(f"unsupported floatx {floatx!r}")
    check_numbers_fit(reader, {"model": spec, "compile": manifest.get("compile")}, floatx)
    model = Sequential(name=str(spec.get("name", "sequential")), dtype=floatx)
    for entry in spec["layers"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise reader.error("a layer entry is malformed")
        class_name = entry.get("class_name")
        if not isinstance(class_name, str):
            raise reader.error("a layer entry is malformed")
        model.add(layers.get(class_name).from_config(entry["config"]))
    if spec.get("input_shape") is None:
        raise reader.error("the model's input shape is missing")
    input_shape = _check_shape("input_shape", spec["input_shape"])
    # Read and check the stored arrays *before* the model allocates its buffers:
    # a tampered 'units': 10**9 must fail here, not exhaust the memory.
    weights = read_weights(reader, model.layers, input_shape, floatx)
    model.build(input_shape)
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise reader.error(str(exc)) from None
    restore_training_state(reader, model, manifest["training"])
    compile_config = manifest.get("compile")
    if compile and compile_config:
        model.compile(
            optimizer=compile_config["optimizer"],
            loss=compile_config["loss"],
            metrics=compile_config.get("metrics") or [],
        )
        assert model.optimizer is not None, "compile() sets the optimizer"
        restore_optimizer_state(reader, model.optimizer, floatx)
    return model

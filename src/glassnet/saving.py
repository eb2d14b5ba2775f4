"""Saving and loading models: one zip file of JSON and ``.npy`` arrays, no pickle.

The format is documented in ``docs/file-format.md``. In short, ``model.glassnet``
is a zip archive holding

- ``glassnet.json``: format name and version, the architecture (each layer's
  class and constructor arguments), the compile settings, the training state
  (epochs completed and random-number-generator states) and, for every array
  file, its size in bytes and SHA-256;
- ``weights/<i>.npy``: the parameter arrays, in ``model.get_weights()`` order;
- ``optimizer/<name>.npy``: the optimizer's state (moments, step count).

Arrays are read with ``allow_pickle=False``; nothing in a file is ever executed.
Every problem with a file (truncated, corrupted, tampered, wrong version)
raises :class:`ModelFileError` naming the file and the problem.
Writes are atomic: the file is written beside its destination under a temporary
name, flushed to disk and renamed over the destination only when complete.
A model whose weights hold NaN or infinity (a diverged run) is refused at save time.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np

import glassnet
from glassnet.backend import xp

FORMAT_NAME = "glassnet-model"
FORMAT_VERSION = 1
_MAX_JSON_BYTES = 16 * 1024 * 1024


class ModelFileError(ValueError):
    """A model or weights file cannot be read: truncated, corrupted, tampered or unsupported."""


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[io.BufferedWriter]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    A crash, a full disk or an exception mid-write leaves the previous file intact
    (and no temporary file behind). The new file gets the permissions an ordinary
    ``open(path, 'wb')`` would give it (the old file's, else ``0o666`` less the umask),
    not the owner-only ``0o600`` of a temporary file.
    """
    path = _check_path("filepath", path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {path!r}: the folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _permissions_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def _permissions_for(path: str) -> int:
    """The mode bits a plain ``open(path, 'w')`` would leave: the existing file's, or
    ``0o666`` without the bits of the process umask."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        umask = os.umask(0)  # reading the umask means setting it; put it straight back
        os.umask(umask)
        return 0o666 & ~umask


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    if os.name != "posix":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    with contextlib.suppress(OSError):
        os.fsync(fd)
    os.close(fd)


def _check_path(name: str, filepath: Any) -> str:
    if not isinstance(filepath, str | os.PathLike):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {filepath!r}")
    return os.fspath(filepath)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)  # keeps 0-d arrays 0-d
    return buffer.getvalue()


def _serialise_metrics(identifiers: list) -> list:
    """Metric names and configs that :func:`glassnet.metrics.get` can rebuild.

    A plain Python function (or a metric wrapping one) cannot be stored without
    pickle; it is left out with a warning, to be passed to ``compile`` again.
    """
    from glassnet import metrics

    stored: list[str | dict[str, Any]] = []
    for metric in identifiers:
        if isinstance(metric, str):
            stored.append(metric)
            continue
        config = metric.get_config() if isinstance(metric, metrics.Metric) else None
        if config is not None:
            try:
                metrics.get(config)
            except Exception:
                config = None  # a metric wrapping a function cannot be rebuilt from its config
        if config is None:
            name = getattr(metric, "name", getattr(metric, "__name__", repr(metric)))
            warnings.warn(
                f"metric {name!r} is Python code and is not saved in the model file; "
                "pass it to compile() again after loading",
                stacklevel=4,
            )
            continue
        stored.append(config)
    return stored


def save_model(model: Any, filepath: Any, include_optimizer: bool = True) -> None:
    """Write ``model`` to ``filepath`` (see the module docstring for the format)."""
    from glassnet.models import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"save_model expects a Sequential model, got {type(model).__name__}")
    model._require_built("save")
    _require_finite(model, "save")
    files: dict[str, bytes] = {}
    for i, array in enumerate(model.get_weights()):
        files[f"weights/{i}.npy"] = _npy_bytes(array)
    compile_config = None
    if model.compiled:
        loss, optimizer = model.loss, model.optimizer
        assert loss is not None and optimizer is not None, "compile() sets loss and optimizer"
        compile_config = {
            "loss": loss.get_config(),
            "optimizer": optimizer.get_config(),
            "metrics": _serialise_metrics(model._metric_identifiers),
        }
        if include_optimizer and getattr(optimizer, "built", True):
            for name, value in optimizer.get_state().items():
                files[f"optimizer/{name}.npy"] = _npy_bytes(np.asarray(xp.to_numpy(value)))
    layer_rngs = {}
    for i, layer in enumerate(model.layers):
        rng = getattr(layer, "rng", None)  # layers that draw random numbers (Dropout) have one
        if isinstance(rng, np.random.Generator):
            layer_rngs[str(i)] = rng.bit_generator.state
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "glassnet_version": glassnet.__version__,
        "floatx": model.dtype,
        "model": model.get_config(),
        "compile": compile_config,
        "training": {
            "epoch": int(model._epoch),
            "shuffle_rng": model._rng.bit_generator.state,
            "layer_rngs": layer_rngs,
        },
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in files.items()
        },
    }
    with atomic_write(filepath) as handle, zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("glassnet.json", json.dumps(manifest, indent=1, default=_json_default))
        for name, data in files.items():
            zf.writestr(name, data)


def _require_finite(model: Any, what: str) -> None:
    """Refuse to write NaN or infinite weights: such a file could never be loaded back."""
    for layer in model.layers:
        for name, array in layer.params.items():
            if not np.isfinite(array).all():
                raise ValueError(
                    f"Cannot {what}: weight {name!r} of layer {layer.name!r} contains NaN or "
                    "infinite values (training diverged); a file holding them could not be loaded"
                )


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise TypeError(f"cannot store {type(value).__name__} in a model file")


class _Reader:
    """Reads and verifies the members of a model file; every failure is a ModelFileError."""

    def __init__(self, filepath: Any) -> None:
        self.path = _check_path("filepath", filepath)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"No model file at {self.path!r}")
        try:
            self.zip = zipfile.ZipFile(self.path)
        except Exception as exc:  # BadZipFile, OSError, EOFError, struct errors, ...
            raise self.error(f"not a glassnet model file (not a readable zip archive: {exc})") from None
        try:
            self.manifest = self._read_manifest()
        except BaseException:
            self.zip.close()
            raise

    def error(self, problem: str) -> ModelFileError:
        return ModelFileError(f"Cannot load {self.path!r}: {problem}")

    def _raw(self, name: str, limit: int) -> bytes:
        try:
            info = self.zip.getinfo(name)
        except KeyError:
            raise self.error(f"member {name!r} is missing") from None
        if info.file_size > limit:
            raise self.error(f"member {name!r} is implausibly large ({info.file_size} bytes)")
        try:
            return self.zip.read(name)
        except Exception as exc:  # CRC errors, truncation, bad compression data
            raise self.error(f"member {name!r} is corrupted ({type(exc).__name__}: {exc})") from None

    def _read_manifest(self) -> dict:
        raw = self._raw("glassnet.json", _MAX_JSON_BYTES)
        try:
            manifest = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, 5000-digit numbers, nesting
            raise self.error(f"glassnet.json is not valid JSON ({type(exc).__name__}: {exc})") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
            raise self.error("glassnet.json does not describe a glassnet model")
        version = manifest.get("format_version")
        if type(version) is not int or version != FORMAT_VERSION:
            raise self.error(
                f"file format version {version!r} is not supported by glassnet "
                f"{glassnet.__version__} (which reads version {FORMAT_VERSION})"
            )
        for key, kind in (("model", dict), ("files", dict), ("training", dict)):
            if not isinstance(manifest.get(key), kind):
                raise self.error(f"glassnet.json: {key!r} is missing or not a {kind.__name__}")
        return manifest

    def array(self, name: str) -> np.ndarray:
        entry = self.manifest["files"].get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("bytes"), int):
            raise self.error(f"{name!r} is not listed in glassnet.json")
        data = self._raw(name, entry["bytes"])
        if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
            raise self.error(f"{name!r} does not match its checksum (the file was modified or damaged)")
        try:
            array = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as exc:
            raise self.error(f"{name!r} is not a valid array ({exc})") from None
        if array.dtype.kind not in "fiu":
            raise self.error(f"{name!r} has dtype {array.dtype}, expected numbers")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise self.error(f"{name!r} contains NaN or infinite values")
        return array

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.manifest["files"] if n.startswith(prefix))

    def close(self) -> None:
        self.zip.close()


def load_model(filepath: Any, compile: bool = True) -> Any:
    """Rebuild a model from a file written by :func:`save_model`.

    The result predicts identically and, with ``compile=True``, continues training
    exactly where it stopped (optimizer state, epoch count and random states restored).
    """
    reader = _Reader(filepath)
    try:
        return _build_from(reader, compile)
    except ModelFileError:
        raise
    except Exception as exc:  # a config that passed JSON parsing but describes nonsense
        raise reader.error(f"the model description is invalid ({type(exc).__name__}: {exc})") from None
    finally:
        reader.close()


def _build_from(reader: _Reader, compile: bool) -> Any:
    from glassnet import config, layers
    from glassnet.layers.base import _check_shape
    from glassnet.models import Sequential

    manifest = reader.manifest
    spec = manifest["model"]
    if not isinstance(spec.get("layers"), list) or not spec["layers"]:
        raise reader.error("the model has no layers")
    previous_floatx = config.floatx()
    floatx = manifest.get("floatx", "float32")
    if floatx not in ("float32", "float64"):
        raise reader.error(f"unsupported floatx {floatx!r}")
    config.set_floatx(floatx)
    try:
        model = Sequential(name=str(spec.get("name", "sequential")))
        for entry in spec["layers"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
                raise reader.error("a layer entry is malformed")
            class_name = entry.get("class_name")
            if not isinstance(class_name, str):
                raise reader.error("a layer entry is malformed")
            cls = layers.get(class_name)
            model.add(cls.from_config(entry["config"]))
        if spec.get("input_shape") is None:
            raise reader.error("the model's input shape is missing")
        input_shape = _check_shape("input_shape", spec["input_shape"])
        # Read and check the stored arrays *before* the model allocates its buffers:
        # a tampered 'units': 10**9 must fail here, not exhaust the memory.
        weights = _read_weights(reader, model.layers, input_shape)
        model.build(input_shape)
        try:
            model.set_weights(weights)
        except ValueError as exc:
            raise reader.error(str(exc)) from None
        _restore_training_state(reader, model, manifest["training"])
        compile_config = manifest.get("compile")
        if compile and compile_config:
            model.compile(
                optimizer=compile_config["optimizer"],
                loss=compile_config["loss"],
                metrics=compile_config.get("metrics") or [],
            )
            state_names = reader.names("optimizer/")
            if state_names:
                state = {
                    name[len("optimizer/"):-len(".npy")]: reader.array(name) for name in state_names
                }
                assert model.optimizer is not None, "compile() sets the optimizer"
                try:
                    model.optimizer.set_state(state)
                except (ValueError, KeyError, TypeError) as exc:
                    raise reader.error(f"optimizer state does not fit the model ({exc})") from None
    finally:
        config.set_floatx(previous_floatx)
    return model


def _read_weights(reader: _Reader, model_layers: list, input_shape: tuple[int, ...]) -> list:
    """The stored weight arrays, each checked against the shape its layer declares.

    Each layer is built (which only *declares* its parameters) for the shape coming
    out of the layer before it; nothing is allocated until every shape matches.
    """
    specs: list[tuple[Any, Any]] = []  # (layer, its ParamSpec)
    shape = input_shape
    for layer in model_layers:
        layer.param_specs = []
        layer.build(shape)
        specs.extend((layer, param) for param in layer.param_specs)
        shape = layer.output_shape
    stored = reader.names("weights/")
    if len(stored) != len(specs):
        raise reader.error(f"expected {len(specs)} weight arrays, found {len(stored)}")
    weights = []
    for i, (layer, param) in enumerate(specs):
        array = reader.array(f"weights/{i}.npy")
        if array.shape != param.shape:
            raise reader.error(
                f"'weights/{i}.npy' has shape {array.shape}, but layer {layer.name!r} "
                f"declares its {param.name!r} with shape {param.shape}"
            )
        weights.append(array)
    return weights


def _restore_training_state(reader: _Reader, model: Any, training: dict) -> None:
    """Epochs completed and the random generators of ``fit`` (shuffling) and of each layer."""
    epoch = training.get("epoch", 0)
    if type(epoch) is not int or epoch < 0:
        raise reader.error(f"training.epoch must be a non-negative integer, got {epoch!r}")
    model._epoch = epoch
    _restore_rng(reader, model._rng, training.get("shuffle_rng"))
    layer_rngs = training.get("layer_rngs") or {}
    if not isinstance(layer_rngs, dict):
        raise reader.error(f"training.layer_rngs must be an object, got {layer_rngs!r}")
    for index, state in layer_rngs.items():
        layer = model.layers[int(index)] if index.isdigit() and int(index) < len(model.layers) else None
        rng = getattr(layer, "rng", None)
        if not isinstance(rng, np.random.Generator):
            raise reader.error(f"training.layer_rngs names layer {index!r}, which has no random generator")
        _restore_rng(reader, rng, state)


def _restore_rng(reader: _Reader, rng: np.random.Generator, state: Any) -> None:
    if state is None:
        return
    try:
        rng.bit_generator.state = state
    except Exception as exc:
        raise reader.error(f"invalid random-generator state ({exc})") from None


def save_weights(model: Any, filepath: Any) -> None:
    """Write only the weights, as an ``.npz`` of plain arrays (``allow_pickle=False`` to read)."""
    model._require_built("save_weights")
    _require_finite(model, "save_weights")
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    with atomic_write(filepath) as handle:
        handle.write(buffer.getvalue())


def load_weights(model: Any, filepath: Any) -> None:
    """Read weights written by :func:`save_weights` (or from a full model file)."""
    path = _check_path("filepath", filepath)
    model._require_built("load_weights")
    try:
        with zipfile.ZipFile(path) as zf:
            if "glassnet.json" in zf.namelist():
                zf.close()
                source = load_model(path, compile=False)
                model.set_weights(source.get_weights())
                return
        with np.load(path, allow_pickle=False) as data:
            weights = [data[f"w{i}"] for i in range(len(data.files))]
    except ModelFileError:
        raise
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ModelFileError(f"Cannot load weights from {path!r}: {exc}") from None
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise ModelFileError(f"Cannot load weights from {path!r}: {exc}") from None

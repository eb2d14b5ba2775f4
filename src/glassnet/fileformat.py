"""The ``.glassnet`` file format: one zip file of JSON and ``.npy`` arrays, no pickle.

This module writes a model's description and arrays and reads them back, checked and
bounded; :mod:`glassnet.saving` turns what it reads into a model. The format is documented
in ``docs/file-format.md``. In short, ``model.glassnet``
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
name, flushed to disk and renamed over the destination only when complete
(through a symbolic link, onto the file it points to; a folder, FIFO or device is
refused). A model whose weights hold NaN or infinity (a diverged run) is refused at
save time.

Reading is bounded by sizes the loader derives itself, never by sizes the file
claims: each array's ``.npy`` header must give the shape the model's own layers
declare, and decompression stops at the first byte past that size (a "zip bomb"
costs a few kilobytes of reading, not gigabytes of memory). See docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import stat
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

import glassnet
from glassnet.backend import xp
from glassnet.errors import ModelFileError

FORMAT_NAME = "glassnet-model"
FORMAT_VERSION = 1
_MAX_JSON_BYTES = 16 * 1024 * 1024
#: The hard cap on a model's weights, whatever its description says (a billion float32
#: weights): a file describing a larger model is refused before any array is read.
MAX_MODEL_BYTES = 4 * 1024**3
_MAX_NPY_HEADER_BYTES = 10_000  # NumPy's own default limit for np.load
_READ_CHUNK_BYTES = 1024 * 1024
#: File name endings of other libraries' formats; saving to them warns that the file is glassnet's own.
_FOREIGN_SUFFIXES = (".h5", ".hdf5", ".keras")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[io.BufferedWriter]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    A crash, a full disk or an exception mid-write leaves the previous file intact
    (and no temporary file behind). The new file gets the permissions an ordinary
    ``open(path, 'wb')`` would give it (the old file's, else ``0o666`` less the umask),
    not the owner-only ``0o600`` of a temporary file.

    A symbolic link stays a link: the file it points to is replaced, atomically, from a
    temporary file in *that* file's folder. A folder, FIFO, device or socket at ``path``
    is refused, never replaced by a regular file. Temporary files of the same target
    left by a killed process (``.<name>.<pid>.<random>.tmp`` whose process is gone) are
    removed.
    """
    target = check_save_path("filepath", path)
    folder, name = os.path.split(target)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write {os.fspath(path)!r}: the folder {folder!r} does not exist")
    _remove_stale_temporaries(folder, name)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.{os.getpid()}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, _permissions_for(target))
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


_SPECIAL_FILES = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
)


def check_save_path(name: str, path: Any) -> str:
    """The absolute path a save to ``path`` replaces: symbolic links followed to their
    target (which need not exist yet).

    Raises ``ValueError`` for an empty path or a FIFO, device or socket, and
    ``IsADirectoryError`` for a folder, each naming the parameter ``name``.
    """
    path = check_path(name, path)
    if not path:
        raise ValueError(f"{name} must name a file, got an empty path ''")
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return target
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{name} {path!r} is a folder; give the path of a file inside it, "
                                f"e.g. {os.path.join(path, 'model.glassnet')!r}")
    if not stat.S_ISREG(mode):
        kind = next((kind for test, kind in _SPECIAL_FILES if test(mode)), "not a regular file")
        shown = path if target == os.path.abspath(path) else f"{path} (-> {target})"
        raise ValueError(f"{name} {shown!r} is {kind}; a model can only be saved to a regular file, "
                         "which replaces it atomically")
    return target


def _remove_stale_temporaries(folder: str, name: str) -> None:
    """Delete ``.<name>.<pid>.<random>.tmp`` files whose writing process no longer runs
    (it was killed mid-save); temporary files of live processes are left alone."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[A-Za-z0-9_]+\.tmp")
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            match = pattern.fullmatch(entry.name)
            if match and not _process_is_running(int(match.group(1))):
                with contextlib.suppress(OSError):
                    os.remove(entry.path)


def _process_is_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (always ``True`` where that
    cannot be asked safely: off POSIX, ``os.kill(pid, 0)`` is not a harmless probe)."""
    if pid == os.getpid() or os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or a pid beyond the platform's range)
    return True


def refuse_same_file(source_name: str, source: Any, target_name: str, target: Any) -> None:
    """Raise ``ValueError`` when writing ``target`` would overwrite the file ``source``.

    Compares the files themselves (device and inode, after following symbolic links),
    so ``a.glassnet``, ``./a.glassnet``, a symbolic link and a hard link to it all count
    as the same file. Use it in every command that reads one file and writes another.
    """
    source_path, target_path = check_path(source_name, source), check_path(target_name, target)
    try:
        same = os.path.samefile(source_path, target_path)
    except OSError:  # one of them does not exist (yet): they cannot be the same file
        return
    if same:
        raise ValueError(
            f"{target_name} {target_path!r} is the same file as {source_name} {source_path!r}; "
            "writing it would destroy the file being read. Choose another output path"
        )


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


def check_path(name: str, filepath: Any) -> str:
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
    if not callable(getattr(model, "get_weights", None)) or not hasattr(model, "layers"):
        raise TypeError(f"save_model expects a Sequential model, got {type(model).__name__}")
    model._require_built("save")
    _require_finite(model, "save")
    _warn_if_foreign_suffix(filepath)
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


def _refuse_special_file(path: str, error: Callable[[str], ModelFileError]) -> None:
    """A FIFO or device is not a model file, and opening or reading it may never return."""
    mode = os.stat(path).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a folder fails as "not a zip archive"
        kind = next((kind for test, kind in _SPECIAL_FILES if test(mode)), "not a regular file")
        raise error(f"it is {kind}, not a model file")


class Reader:
    """Reads and verifies the members of a model file; every failure is a ModelFileError."""

    def __init__(self, filepath: Any) -> None:
        self.path = check_path("filepath", filepath)
        if not os.path.exists(self.path):
            raise FileNotFoundError(f"No model file at {self.path!r}")
        _refuse_special_file(self.path, self.error)
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

    def array(self, name: str, shape: tuple[int, ...], owner: str, floatx: str | None) -> np.ndarray:
        """The checked array ``name``: of ``shape`` (what ``owner`` declares), its
        checksum streamed, finite once cast to ``floatx`` (returned cast; ``None``: as stored)."""
        entry = self.manifest["files"].get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise self.error(f"{name!r} is not listed in glassnet.json")
        array = read_npy_member(self.zip, name, shape, owner, self.error, sha256=entry["sha256"])
        return _cast_finite(array, floatx, _member_error(self.error, name))

    def names(self, prefix: str) -> list[str]:
        return sorted(n for n in self.manifest["files"] if n.startswith(prefix))

    def close(self) -> None:
        self.zip.close()


class _BoundedStream:
    """A member's bytes as they decompress: hashed as they pass, and refused at the
    first byte past ``limit`` (which the reader tightens once it knows the array size)."""

    def __init__(self, raw: Any, limit: int, overflow: Exception) -> None:
        self.raw, self.limit, self.overflow = raw, limit, overflow
        self.count = 0
        self.sha256 = hashlib.sha256()

    def read(self, size: int | None = -1) -> bytes:
        allowed = self.limit - self.count + 1  # one byte past the bound proves the overflow
        data = self.raw.read(allowed if size is None or size < 0 else min(size, allowed))
        self.count += len(data)
        self.sha256.update(data)
        if self.count > self.limit:
            raise self.overflow
        return data


def read_npy_member(
    zf: zipfile.ZipFile, name: str, shape: tuple[int, ...], owner: str,
    error: Callable[[str], ModelFileError], sha256: str | None = None,
) -> np.ndarray:
    """Read the ``.npy`` member ``name`` of ``zf``, which must hold an array of ``shape``.

    The bound comes from the caller (the shape ``owner`` declares), never from the file:
    a member larger than that array can be is refused before decompressing anything;
    the header is checked (numbers only, the expected shape) before any data is read;
    ``owner`` names what the array fills, e.g. "the 'kernel' of layer 'dense'";
    reading stops at the first byte past the array. ``sha256``, when given, is checked
    on the bytes as they stream past. Every problem is ``error(problem)``.
    """
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise error(f"member {name!r} is missing") from None
    largest = _MAX_NPY_HEADER_BYTES + 12 + math.prod(shape) * 8  # 8: the widest dtype read
    if info.file_size > largest:
        raise error(f"member {name!r} is {info.file_size} bytes, more than {owner} (shape {shape}) "
                    f"can take: at most {largest}")
    overflow = error(f"member {name!r} holds more bytes than its array")
    try:
        with zf.open(info) as raw:
            stream = _BoundedStream(raw, _MAX_NPY_HEADER_BYTES + 12, overflow)
            stored_shape, fortran_order, dtype = _npy_header(stream, name, error)
            if stored_shape != shape:
                raise error(f"{name!r} has shape {stored_shape}, but {owner} has shape {shape}")
            stream.limit = stream.count + math.prod(shape) * dtype.itemsize
            if info.file_size != stream.limit:
                raise error(f"member {name!r} is {info.file_size} bytes; its header describes "
                            f"{stream.limit}")
            array = _npy_data(stream, shape, fortran_order, dtype, name, error)
            if stream.read(1):
                raise overflow
    except ModelFileError:  # what error() made, the overflow included
        raise
    except Exception as exc:  # CRC errors, truncation, bad compression data, encrypted members
        raise error(f"member {name!r} is corrupted ({type(exc).__name__}: {exc})") from None
    if sha256 is not None and stream.sha256.hexdigest() != sha256:
        raise error(f"{name!r} does not match its checksum (the file was modified or damaged)")
    return array


def _npy_header(stream: _BoundedStream, name: str, error: Callable[[str], ModelFileError]) -> tuple:
    """``(shape, fortran_order, dtype)`` from an ``.npy`` header; numbers only, never objects."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise ValueError(f"unsupported .npy version {version}")
        shape, fortran_order, dtype = read_header(stream, max_header_size=_MAX_NPY_HEADER_BYTES)
    except (ValueError, TypeError, SyntaxError) as exc:
        raise error(f"{name!r} is not a valid array ({exc})") from None
    if dtype.hasobject or dtype.kind not in "fiu" or dtype.itemsize > 8:
        raise error(f"{name!r} is not a valid array: it holds {dtype}, and only numbers "
                    "(never Python objects) are read")
    return shape, fortran_order, dtype


def _npy_data(
    stream: _BoundedStream, shape: tuple[int, ...], fortran_order: bool, dtype: np.dtype,
    name: str, error: Callable[[str], ModelFileError],
) -> np.ndarray:
    """The array data after the header, read in chunks into a buffer of exactly its size."""
    size = math.prod(shape) * dtype.itemsize
    buffer = np.empty(size, dtype=np.uint8)
    filled = 0
    while filled < size:
        chunk = stream.read(min(_READ_CHUNK_BYTES, size - filled))
        if not chunk:
            raise error(f"{name!r} is truncated ({filled} of {size} bytes)")
        buffer[filled:filled + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
        filled += len(chunk)
    return buffer.view(dtype).reshape(shape, order="F" if fortran_order else "C")


def _cast_finite(array: np.ndarray, dtype: str | None, error: Callable[[str], ModelFileError]) -> np.ndarray:
    """``array`` cast to ``dtype`` (``None``: kept as stored), refused unless every value is
    finite *after* the cast: 1e300 is a fine float64 but infinite as float32."""
    with np.errstate(over="ignore", invalid="ignore"):
        cast = array if dtype is None else array.astype(dtype)
    if cast.dtype.kind == "f" and not np.isfinite(cast).all():
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(cast))[0])
        value = array[first]
        if not np.isfinite(value):
            raise error(f"contains NaN or infinite values (first at {first}: {value})")
        raise error(f"holds {value:g} (first at {first}), beyond the range of {cast.dtype} (whose "
                    f"largest value is {np.finfo(cast.dtype).max:g}): it would load as infinity")
    return cast


def check_numbers_fit(reader: Reader, description: Any, floatx: str, where: str = "") -> None:
    """Every real number in the model and compile description (an activation's ``alpha``,
    a rate, a learning rate) must be finite in the model's dtype, as its weights must:
    ``alpha = 1e308`` is a float64 number but infinity in a float32 model."""
    if isinstance(description, dict):
        items: Any = description.items()
    elif isinstance(description, list):
        items = enumerate(description)
    else:
        if isinstance(description, float) and not abs(description) <= float(np.finfo(floatx).max):
            raise reader.error(f"{where} = {description!r} is not a finite {floatx} number "
                               f"(the largest is {np.finfo(floatx).max:g}); the model would compute "
                               "with infinity or NaN")
        return
    for key, value in items:
        check_numbers_fit(reader, value, floatx, f"{where}.{key}" if where else str(key))


def read_weights(reader: Reader, model_layers: list, input_shape: tuple[int, ...], floatx: str) -> list:
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
    declared = sum(math.prod(param.shape) for _, param in specs) * np.dtype(floatx).itemsize
    if declared > MAX_MODEL_BYTES:
        layer, param = max(specs, key=lambda spec: math.prod(spec[1].shape))
        raise reader.error(
            f"the model declares {declared} bytes of {floatx} weights (the largest, {param.name!r} of "
            f"layer {layer.name!r}, has shape {param.shape}), more than the loader reads "
            f"({MAX_MODEL_BYTES} bytes, glassnet.saving.MAX_MODEL_BYTES)"
        )
    return read_stored_arrays(reader, specs, floatx)


def read_stored_arrays(reader: Reader, specs: list[tuple[Any, Any]], floatx: str) -> list:
    """``weights/<i>.npy`` for each ``(layer, ParamSpec)``, each bounded by the spec's shape."""
    stored = reader.names("weights/")
    if len(stored) != len(specs):
        raise reader.error(f"expected {len(specs)} weight arrays, found {len(stored)}")
    return [
        reader.array(f"weights/{i}.npy", param.shape,
                     f"the {param.name!r} of layer {layer.name!r}", floatx)
        for i, (layer, param) in enumerate(specs)
    ]


def restore_optimizer_state(reader: Reader, optimizer: Any, floatx: str) -> None:
    """The optimizer's stored buffers, each bounded by the shape of the buffer it restores."""
    stored = reader.names("optimizer/")
    if not stored:
        return
    expected = {f"optimizer/{name}.npy": np.shape(value) for name, value in optimizer.get_state().items()}
    if set(stored) != set(expected):
        raise reader.error(f"optimizer state does not fit the model: the file holds {stored}, "
                           f"{type(optimizer).__name__} keeps {sorted(expected)}")
    state = {
        name[len("optimizer/"):-len(".npy")]: reader.array(
            name, expected[name], f"{type(optimizer).__name__}'s state buffer",
            None if name == "optimizer/iterations.npy" else floatx,
        )
        for name in stored
    }
    try:
        optimizer.set_state(state)
    except (ValueError, KeyError, TypeError) as exc:
        raise reader.error(f"optimizer state does not fit the model ({exc})") from None


def restore_training_state(reader: Reader, model: Any, training: dict) -> None:
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


def _restore_rng(reader: Reader, rng: np.random.Generator, state: Any) -> None:
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
    _warn_if_foreign_suffix(filepath)
    buffer = io.BytesIO()
    np.savez(buffer, **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    with atomic_write(filepath) as handle:
        handle.write(buffer.getvalue())


def load_weights(model: Any, filepath: Any) -> None:
    """Read weights written by :func:`save_weights` (or from a full model file).

    The ``.npz`` must hold exactly ``w0.npy`` ... ``w<k-1>.npy`` for the model's ``k``
    weight arrays; the names are checked before any array is read, and each array is
    read bounded by the shape of the weight it fills (see :func:`read_npy_member`).
    """
    path = check_path("filepath", filepath)
    model._require_built("load_weights")

    def error(problem: str) -> ModelFileError:
        return ModelFileError(f"Cannot load weights from {path!r}: {problem}")

    if os.path.exists(path):
        _refuse_special_file(path, error)
    try:
        zf = zipfile.ZipFile(path)
    except (FileNotFoundError, ModelFileError):
        raise
    except Exception as exc:  # BadZipFile, IsADirectoryError, truncation, ...
        raise error(f"not a weights file (not a readable zip archive: {exc})") from None
    with zf:
        full_model_file = "glassnet.json" in zf.namelist()
        if not full_model_file:
            weights = _read_npz_weights(zf, model, error)
    if full_model_file:  # a file from model.save: its weights, bounded by this model's shapes
        reader = Reader(path)
        try:
            specs = [(layer, param) for layer in model.layers for param in layer.param_specs]
            weights = read_stored_arrays(reader, specs, model.dtype)
        finally:
            reader.close()
    try:
        model.set_weights(weights)
    except ValueError as exc:
        raise error(str(exc)) from None


def _read_npz_weights(zf: zipfile.ZipFile, model: Any, error: Callable[[str], ModelFileError]) -> list:
    """``w0.npy`` ... from a :func:`save_weights` file, each of the shape of the weight it fills."""
    specs = [(layer, param) for layer in model.layers for param in layer.param_specs]
    expected = [f"w{i}.npy" for i in range(len(specs))]
    found = zf.namelist()
    if sorted(found) != sorted(expected):
        shown = found if len(found) <= 6 else [*found[:6], f"... ({len(found)} in all)"]
        raise error(f"this model has {len(specs)} weight arrays, so the file must hold "
                    f"{expected[0] if expected else ''}...w{len(specs) - 1}.npy; it holds {shown}")
    weights = []
    for name, (layer, param) in zip(expected, specs, strict=True):
        owner = f"the {param.name!r} of layer {layer.name!r}"
        array = read_npy_member(zf, name, param.shape, owner, error)
        weights.append(_cast_finite(array, model.dtype, _member_error(error, name)))
    return weights


def _member_error(error: Callable[[str], ModelFileError], name: str) -> Callable[[str], ModelFileError]:
    """``error`` for problems of the member ``name``: its name leads the message."""
    return lambda problem: error(f"{name!r} {problem}")


def _warn_if_foreign_suffix(filepath: Any) -> None:
    """A Keras script saving to ``model.h5`` gets glassnet's zip format: say so once."""
    path = os.fspath(filepath) if isinstance(filepath, str | os.PathLike) else ""
    if isinstance(path, str) and path.lower().endswith(_FOREIGN_SUFFIXES):
        warnings.warn(
            f"{path!r} is written in glassnet's own format (a zip of JSON and .npy arrays, see "
            "docs/file-format.md), not HDF5 or Keras's format: read it back with "
            "glassnet.models.load_model (Keras cannot); a '.glassnet' name avoids the confusion",
            UserWarning, stacklevel=4,
        )

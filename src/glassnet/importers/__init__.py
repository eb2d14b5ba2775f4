"""Open models made elsewhere (Keras, PyTorch, ONNX) as glassnet models, to see inside them.

>>> from glassnet.importers import load_any
>>> model = load_any("model.keras")      # doctest: +SKIP
>>> model.explain()                      # doctest: +SKIP

=================  ====================================================
source             function
=================  ====================================================
``.glassnet``      :func:`glassnet.saving.load_model`
``.keras``, .h5    :func:`glassnet.importers.keras.load_keras` (needs ``h5py``)
``.onnx``          :func:`glassnet.onnx.load` (needs ``onnx``)
torch.nn module    :func:`glassnet.importers.torch.from_torch` (needs ``torch``)
=================  ====================================================

The result is an ordinary glassnet ``Sequential``: predict, evaluate, explain, trace,
diagnose, fine-tune with fit, save. Nothing from a file is ever executed and nothing is
unpickled; what glassnet cannot express is refused in one message listing every part.
Each format's module is imported only when used.
"""

from __future__ import annotations

import os
import zipfile
from typing import Any

from glassnet.importers._common import HDF5_SIGNATURE, ZIP_SIGNATURE

__all__ = ["SUPPORTED_EXTENSIONS", "from_torch", "load_any", "to_torch"]

#: The file extensions :func:`load_any` opens, and what reads each.
SUPPORTED_EXTENSIONS = (".glassnet", ".keras", ".h5", ".hdf5", ".onnx")


def load_any(filepath: str | os.PathLike, *, compile: bool = True) -> Any:
    """Open a model file, choosing the reader by the file's first bytes, else its extension.

    A zip archive holding ``glassnet.json`` is a glassnet file (whatever its name), another
    zip archive or an HDF5 file a Keras file, and an ``.onnx`` file an ONNX model.

    Parameters
    ----------
    filepath : str or path-like
        ``.glassnet`` (glassnet's own format), ``.keras`` (Keras 3), ``.h5``/``.hdf5``
        (legacy Keras) or ``.onnx``.
    compile : bool
        For glassnet files: restore the compile settings and optimizer state
        (imported models are never compiled: call ``compile`` to train them).

    Returns
    -------
    glassnet.models.Sequential

    Raises
    ------
    ValueError
        A file of none of these kinds. :class:`glassnet.saving.ModelFileError` (a
        ValueError) for a damaged file or a model glassnet cannot express, naming the file.
    FileNotFoundError
        No file at ``filepath``.
    ImportError
        The reader's optional dependency (``h5py``, ``onnx``) is not installed.
    """
    from glassnet.fileformat import check_path

    filename = check_path("filepath", filepath)
    kind = _kind(filename)
    if kind == "glassnet":
        from glassnet.saving import load_model

        return load_model(filename, compile=compile)
    if kind == "keras":
        from glassnet.importers.keras import load_keras

        return load_keras(filename)
    if kind == "onnx":
        from glassnet.importers.onnx import load

        return load(filename)
    raise ValueError(
        f"Cannot open {filename!r}: unknown model file extension {os.path.splitext(filename)[1]!r} "
        f"and not a glassnet or Keras file; glassnet opens {', '.join(SUPPORTED_EXTENSIONS)}"
    )


def _kind(filename: str) -> str:
    """'glassnet', 'keras', 'onnx' or '' for the file ``filename``: by its first bytes (a
    glassnet file keeps its format under any name, ``model.h5`` included), else by extension."""
    by_extension = {".glassnet": "glassnet", ".keras": "keras", ".h5": "keras", ".hdf5": "keras",
                    ".onnx": "onnx"}.get(os.path.splitext(filename)[1].lower(), "")
    if not os.path.exists(filename):
        raise FileNotFoundError(f"No model file at {filename!r}")
    if not os.path.isfile(filename):
        return "glassnet"   # a folder, FIFO or device: glassnet's reader names the problem
    with open(filename, "rb") as handle:
        signature = handle.read(8)
    if signature == HDF5_SIGNATURE:
        return "keras"
    if signature.startswith(ZIP_SIGNATURE):
        try:
            with zipfile.ZipFile(filename) as archive:
                return "glassnet" if "glassnet.json" in archive.namelist() else (by_extension or "keras")
        except Exception:  # a damaged zip (BadZipFile, NotImplementedError, ...): its reader says so
            return by_extension or "glassnet"
    return by_extension or ("glassnet" if not signature else "")


def from_torch(module: Any, input_shape: Any = None, *, name: str | None = None) -> Any:
    """See :func:`glassnet.importers.torch.from_torch`."""
    from glassnet.importers.torch import from_torch as convert

    return convert(module, input_shape, name=name)


def to_torch(model: Any) -> Any:
    """See :func:`glassnet.importers.torch.to_torch`."""
    from glassnet.importers.torch import to_torch as convert

    return convert(model)

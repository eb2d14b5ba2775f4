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
from typing import Any

__all__ = ["SUPPORTED_EXTENSIONS", "from_torch", "load_any", "to_torch"]

#: The file extensions :func:`load_any` opens, and what reads each.
SUPPORTED_EXTENSIONS = (".glassnet", ".keras", ".h5", ".hdf5", ".onnx")


def load_any(path: str | os.PathLike, *, compile: bool = True) -> Any:
    """Open a model file, choosing the reader by the file's extension.

    Parameters
    ----------
    path : str or path-like
        ``.glassnet`` (glassnet's own format), ``.keras`` (Keras 3), ``.h5``/``.hdf5``
        (legacy Keras) or ``.onnx``.
    compile : bool
        For ``.glassnet`` files: restore the compile settings and optimizer state
        (imported models are never compiled: call ``compile`` to train them).

    Returns
    -------
    glassnet.models.Sequential

    Raises
    ------
    ValueError
        An unknown extension. :class:`glassnet.saving.ModelFileError` (a ValueError)
        for a damaged file or a model glassnet cannot express, naming the file.
    FileNotFoundError
        No file at ``path``.
    """
    from glassnet.saving import _check_path

    extension = os.path.splitext(_check_path("path", path))[1].lower()
    if extension == ".glassnet":
        from glassnet.saving import load_model

        return load_model(path, compile=compile)
    if extension in (".keras", ".h5", ".hdf5"):
        from glassnet.importers.keras import load_keras

        return load_keras(path)
    if extension == ".onnx":
        from glassnet.onnx import load

        return load(path)
    raise ValueError(
        f"Cannot open {os.fspath(path)!r}: unknown model file extension {extension!r}; "
        f"glassnet opens {', '.join(SUPPORTED_EXTENSIONS)}"
    )


def from_torch(module: Any, input_shape: Any = None, *, name: str | None = None) -> Any:
    """See :func:`glassnet.importers.torch.from_torch`."""
    from glassnet.importers.torch import from_torch as convert

    return convert(module, input_shape, name=name)


def to_torch(model: Any) -> Any:
    """See :func:`glassnet.importers.torch.to_torch`."""
    from glassnet.importers.torch import to_torch as convert

    return convert(model)

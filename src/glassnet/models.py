"""Keras's ``models`` module: the model classes and how to load them.

* :class:`~glassnet.sequential.Sequential`: a stack of layers to compile, fit, evaluate,
  predict and save (defined in :mod:`glassnet.sequential`; its training loop is
  :mod:`glassnet.training`);
* :class:`~glassnet.functional.Model`: the same network built with the functional API,
  ``Model(inputs, outputs)`` (:mod:`glassnet.functional`);
* :func:`load_model` (glassnet's own files, and Keras and ONNX files through
  :mod:`glassnet.importers`), :func:`model_from_json`.
"""

from __future__ import annotations

from typing import Any

from glassnet.errors import NotBuiltError, NotCompiledError
from glassnet.functional import Model, model_from_json
from glassnet.importers import load_any
from glassnet.sequential import Sequential

__all__ = ["Model", "NotBuiltError", "NotCompiledError", "Sequential", "load_model", "model_from_json"]


def load_model(filepath: Any, compile: bool = True) -> Sequential:
    """Open a saved model: glassnet's ``.glassnet`` file, or a Keras or ONNX file.

    A ``.glassnet`` file comes back exactly as it was saved (weights, compile settings,
    optimizer state, epochs trained: training continues where it stopped). A Keras 3
    ``.keras``, legacy Keras ``.h5`` or ``.onnx`` file of a dense network comes back as
    the same network, uncompiled (see :mod:`glassnet.importers`; needs ``glassnet[keras]``
    or ``glassnet[onnx]``). Nothing in any file is executed.
    """
    return load_any(filepath, compile=compile)

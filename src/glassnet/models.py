"""Keras's ``models`` module: the model classes and how to load them.

* :class:`~glassnet.sequential.Sequential`: a stack of layers to compile, fit, evaluate,
  predict and save (defined in :mod:`glassnet.sequential`; its training loop is
  :mod:`glassnet.training`);
* :class:`~glassnet.functional.Model`: the same network built with the functional API,
  ``Model(inputs, outputs)`` (:mod:`glassnet.functional`);
* :func:`load_model`, :func:`model_from_json`.
"""

from __future__ import annotations

from glassnet.errors import NotBuiltError, NotCompiledError
from glassnet.functional import Model, model_from_json
from glassnet.saving import load_model
from glassnet.sequential import Sequential

__all__ = ["Model", "NotBuiltError", "NotCompiledError", "Sequential", "load_model", "model_from_json"]

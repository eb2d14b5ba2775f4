"""glassnet: a small, fast, readable neural-network library on NumPy.

>>> from glassnet.models import Sequential
>>> from glassnet.layers import Dense

Submodules (``glassnet.layers``, ``glassnet.viz``, ...) load on first use, so
``import glassnet`` needs only NumPy.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "activations", "backend", "callbacks", "config", "datasets", "demos", "diagnostics",
    "distributed", "errors", "explain", "fileformat", "functional", "importers", "initializers", "layers",
    "losses", "metrics", "models", "onnx", "optimizers", "regularizers", "saving", "schedules",
    "sequential", "sklearn", "training", "utils", "viz",
}
_FUNCTIONS = {
    "gradient_check": "glassnet.diagnostics",
    "diagnose": "glassnet.diagnostics",
    "DiagnosticsMonitor": "glassnet.diagnostics",
    "set_random_seed": "glassnet.utils",
    "Sequential": "glassnet.models",
    "Model": "glassnet.functional",
    "Input": "glassnet.layers",
    "load_model": "glassnet.models",
    "from_torch": "glassnet.importers",
    "to_torch": "glassnet.importers",
}

__all__ = sorted(_SUBMODULES | set(_FUNCTIONS))


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        return getattr(importlib.import_module(_FUNCTIONS[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"glassnet.{name}")
    raise AttributeError(f"module 'glassnet' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

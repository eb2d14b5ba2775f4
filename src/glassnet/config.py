"""Global settings: the floating-point type of parameters and computations, and the array backend.

``float32`` is the default (as in Keras): half the memory traffic of ``float64``
and twice the BLAS throughput. Use ``float64`` for gradient checks.
"""

from __future__ import annotations

import numpy as np

from glassnet._validation import check_choice
from glassnet.backend import BackendError, get_backend, set_backend, use_backend

__all__ = ["BackendError", "float_dtype", "floatx", "get_backend", "set_backend", "set_floatx", "use_backend"]

_FLOATX = "float32"


def floatx() -> str:
    """The name of the default float type, ``'float32'`` or ``'float64'``."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the float type used by models built from now on.

    Parameters
    ----------
    value : {'float32', 'float64'}
    """
    global _FLOATX
    _FLOATX = check_choice("floatx", value, ("float32", "float64"))


def float_dtype() -> np.dtype:
    """The default float type as a NumPy dtype."""
    return np.dtype(_FLOATX)

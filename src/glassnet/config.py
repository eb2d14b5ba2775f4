"""Global settings: the floating-point type of parameters and computations, and the array backend.

``float32`` is the default (as in Keras): half the memory traffic of ``float64``
and twice the BLAS throughput. Use ``float64`` for gradient checks.
"""

from __future__ import annotations

from glassnet.backend import (
    BackendError,
    float_dtype,
    floatx,
    get_backend,
    set_backend,
    set_floatx,
    use_backend,
)

__all__ = ["BackendError", "float_dtype", "floatx", "get_backend", "set_backend", "set_floatx", "use_backend"]

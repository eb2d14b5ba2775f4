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

__all__ = ["BackendError", "float_dtype", "floatx", "fused_kernels", "get_backend", "set_backend",
           "set_floatx", "set_fused_kernels", "use_backend"]

_FUSED_KERNELS = True


def fused_kernels() -> bool:
    """Whether optimizers may use the fused numba kernels of ``glassnet._fused`` (default True).

    They apply only when numba is installed (``pip install glassnet[fast]``) and the model is
    large enough to earn back numba's import; they give bitwise the same results.
    """
    return _FUSED_KERNELS


def set_fused_kernels(enabled: bool) -> None:
    """Allow (True) or forbid (False) the fused optimizer kernels; False: NumPy passes only."""
    global _FUSED_KERNELS
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r} ({type(enabled).__name__})")
    _FUSED_KERNELS = bool(enabled)

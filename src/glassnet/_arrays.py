"""Small array helpers of the numerical core: the input conversion every component shares,
and the scalar trick of the hot loops (kept here, below the equations that use it)."""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet import backend, config
from glassnet.backend import dtype_name, xp


def as_float_array(values: Any) -> Any:
    """``values`` as a float array of the active backend.

    An array of the backend that is already float is returned as it is; lists and NumPy
    data are copied to the backend; integers and booleans become the configured float
    type (:func:`glassnet.config.floatx`).
    """
    if isinstance(values, xp.array_type):
        # dtype.kind is the fast test on NumPy; dtype_name works for every backend
        is_float = values.dtype.kind == "f" if xp.is_numpy else dtype_name(values).startswith("float")
        return values if is_float else xp.astype(values, backend.float_dtype())
    host = np.asarray(values)
    if host.dtype.kind != "f":
        host = host.astype(config.float_dtype())
    return xp.from_numpy(host)


def scalar_array(value: float, dtype: Any) -> Any:
    """``value`` as a 0-d array of ``dtype`` (an array of the active backend).

    The same number, but NumPy multiplies an array by a 0-d array of its own dtype in
    about half the time it needs for a Python float, which it converts at every call
    (about 0.4 µs per operation: a third of a small layer's backward pass, 1.6 µs of a
    5.6 µs Adam update of the articles' circles network).
    """
    return xp.asarray(value, dtype=dtype)

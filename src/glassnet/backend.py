"""Array backends: where a model's arrays live and which library computes on them.

glassnet's numerical core (layers, activations, losses, optimizers, metrics and the
training loop) never calls NumPy by name. It calls ``xp``, the namespace of the active
backend, with NumPy's names and signatures, including ``out=``::

    from glassnet.backend import xp

    xp.matmul(A_prev, W, out=Z)          # Z = A_prev · W, written into Z
    xp.maximum(Z, 0.0, out=A)            # A = relu(Z)

Backends
--------
``'numpy'`` (the default)
    ``xp.multiply`` *is* ``numpy.multiply`` and ``xp.matmul`` is ``numpy.dot``: the
    fast path has no layer in between, and every result is written in place.
``'array_api_strict'``
    The `array-api-strict <https://data-apis.org/array-api-strict/>`_ library: a
    minimal implementation of the Python array API standard that rejects anything the
    standard does not define. glassnet's test suite runs its core a second time on it,
    which proves that the core uses only the standard (and so also runs on CuPy,
    PyTorch or JAX arrays through ``array-api-compat``).
``'cupy'``
    NVIDIA/AMD GPUs through `CuPy <https://cupy.dev>`_ (``pip install cupy-cuda12x``).
    Selecting it where no GPU is usable raises :class:`BackendError`.

The array API standard has no ``out=`` argument. For backends other than NumPy,
``xp.f(..., out=o)`` computes ``f(...)`` into a new array and copies it into ``o``
(``o[...] = result``): the same results, one allocation more per operation.

What stays NumPy
----------------
Random numbers (initial weights, dropout masks, shuffling) are drawn on the host by
NumPy's Generator and copied to the backend, so a seed gives the same model on every
backend. Public methods accept NumPy arrays and return NumPy arrays (``predict``,
``evaluate``, ``get_weights``), as Keras does for all its backends; ``model.save``
writes NumPy ``.npy`` files whichever backend trained the model.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from glassnet._validation import check_choice
from glassnet.errors import BackendError

BACKENDS = ("numpy", "array_api_strict", "cupy")


class Namespace:
    """The active backend's functions, with NumPy's names and ``out=`` arguments.

    One instance, :data:`xp`, exists; :func:`set_backend` replaces its attributes, so
    ``from glassnet.backend import xp`` stays valid across backend changes.

    Attributes
    ----------
    name : str
        ``'numpy'``, ``'array_api_strict'`` or ``'cupy'``.
    module : module
        The underlying namespace (``numpy``, ``array_api_strict``, ``array_api_compat.cupy``).
    is_numpy : bool
        True for the NumPy backend (NumPy-only fast paths test it).
    array_type : type
        The backend's array class (``numpy.ndarray``, ...).
    """

    name: str
    module: Any
    is_numpy: bool
    array_type: type

    def __repr__(self) -> str:
        return f"<glassnet.backend.xp: {self.name}>"


xp: Any = Namespace()

# Functions whose NumPy and array-API names and positional arguments agree.
_ELEMENTWISE = (
    "abs", "add", "subtract", "multiply", "divide", "negative", "maximum", "minimum", "exp", "expm1",
    "log", "log1p", "tanh", "sqrt", "square", "sign", "greater", "greater_equal", "less",
    "less_equal", "equal", "not_equal", "logaddexp", "isfinite", "isnan", "logical_and",
    "logical_or", "logical_not", "floor", "round", "sin", "cos",
)
_REDUCTIONS = ("sum", "max", "min", "mean", "prod", "any", "all")
_PLAIN = (
    "asarray", "empty", "zeros", "ones", "full", "empty_like", "zeros_like", "ones_like", "full_like",
    "arange", "reshape", "stack", "where", "finfo", "argsort", "searchsorted", "count_nonzero",
    "float32", "float64", "int64", "int32", "bool",
)


def _zero_maker(asarray: Callable) -> Callable:
    """``zero(dtype)``: 0 as a 0-d array of ``dtype``, made once per dtype.

    NumPy compares with, or takes a maximum against, a 0-d array of the operand's own dtype
    about 0.3 µs faster than a Python ``0``, which it converts at every call.
    """
    zeros: dict[Any, Any] = {}

    def zero(dtype: Any) -> Any:
        value = zeros.get(dtype)
        if value is None:
            value = zeros[dtype] = asarray(0.0, dtype=dtype)
        return value

    return zero


def _numpy_functions() -> dict[str, Any]:
    functions: dict[str, Any] = {name: getattr(np, name) for name in (*_ELEMENTWISE, *_PLAIN)}
    # Reductions, take and astype are the array methods themselves: np.sum, np.take, ... are
    # Python wrappers around them (about 1 µs a call on small arrays, paid several times a step).
    functions.update({name: getattr(np.ndarray, name) for name in (*_REDUCTIONS, "argmax")})
    functions.update(
        matmul=np.dot,  # for 2-D and 1-D operands; several µs faster than np.matmul on small arrays
        concatenate=np.concatenate,
        clip=np.clip,
        copy=np.copy,
        cumsum=np.cumsum,
        vdot=np.vdot,  # Σ a_i b_i of two 1-D arrays
        astype=np.ndarray.astype,
        native_dtype=np.dtype,
        reciprocal=np.reciprocal,
        take=np.ndarray.take,
        copyto=np.copyto,
        errstate=np.errstate,
        may_share_memory=np.may_share_memory,
        to_numpy=np.asarray,
        from_numpy=np.asarray,
        zero=_zero_maker(np.asarray),
    )
    return functions


def _into(out: Any, result: Any) -> Any:
    """The array API has no ``out=``: copy the fresh ``result`` into ``out``.

    As NumPy's ``out=`` does, a result of another dtype (``greater(a, b, out=float_array)``)
    is cast to the dtype of ``out``.
    """
    if out is None:
        return result
    if result.dtype != out.dtype:
        result = xp.astype(result, out.dtype)
    out[...] = result
    return out


def _elementwise(function: Callable) -> Callable:
    def with_out(*args: Any, out: Any = None) -> Any:
        return _into(out, function(*args))

    with_out.__name__ = function.__name__
    return with_out


def _reduction(function: Callable) -> Callable:
    def with_out(x: Any, axis: Any = None, out: Any = None, keepdims: bool = False) -> Any:
        return _into(out, function(x, axis=axis, keepdims=keepdims))

    with_out.__name__ = function.__name__
    return with_out


def _array_api_functions(module: Any, to_numpy: Callable, from_numpy: Callable) -> dict[str, Any]:
    functions: dict[str, Any] = {name: _elementwise(getattr(module, name)) for name in _ELEMENTWISE}
    for name in _REDUCTIONS:
        functions[name] = _reduction(getattr(module, name))
    functions.update({name: getattr(module, name) for name in _PLAIN})

    def argmax(x: Any, axis: int | None = None, out: Any = None) -> Any:
        return _into(out, module.argmax(x, axis=axis))

    def matmul(a: Any, b: Any, out: Any = None) -> Any:
        return _into(out, module.matmul(a, b))

    def reciprocal(x: Any, out: Any = None) -> Any:
        return _into(out, 1.0 / x)

    def take(a: Any, indices: Any, axis: int | None = None, out: Any = None, mode: str | None = None) -> Any:
        if not hasattr(indices, "dtype") or isinstance(indices, np.ndarray):
            indices = module.asarray(np.asarray(indices, dtype=np.int64))
        return _into(out, module.take(a, indices, axis=axis))

    def copyto(dst: Any, src: Any) -> None:
        dst[...] = src

    def native_dtype(dtype: Any) -> Any:
        """The backend's dtype object for a NumPy dtype (or name)."""
        if not isinstance(dtype, np.dtype | str | type):
            return dtype  # already the backend's
        return getattr(module, np.dtype(dtype).name)

    def astype(x: Any, dtype: Any, copy: bool = True) -> Any:
        return module.astype(x, native_dtype(dtype), copy=copy)

    def vdot(a: Any, b: Any) -> Any:
        return module.sum(a * b)

    functions.update(
        clip=_elementwise(module.clip),
        concatenate=module.concat,
        copy=lambda x: module.asarray(x, copy=True),
        cumsum=lambda x, axis=None: module.cumulative_sum(x, axis=axis),
        vdot=vdot,
        astype=astype,
        native_dtype=native_dtype,
        argmax=argmax,
        matmul=matmul,
        reciprocal=reciprocal,
        take=take,
        copyto=copyto,
        # NumPy's floating-point error state: it governs array-api-strict (NumPy underneath)
        # and is harmless elsewhere.
        errstate=np.errstate,
        # Computing into a fresh array and then copying makes overlap harmless.
        may_share_memory=lambda a, b: False,
        to_numpy=to_numpy,
        from_numpy=from_numpy,
        zero=_zero_maker(module.asarray),
    )
    return functions


def _import(module_name: str, backend: str, need: str) -> Any:
    """Import ``module_name``, or raise a BackendError that says what to install."""
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise BackendError(f"backend {backend!r} needs {need}") from error


def _load(name: str) -> tuple[Any, dict[str, Any]]:
    if name == "numpy":
        return np, _numpy_functions()
    if name == "array_api_strict":
        module = _import("array_api_strict", name,
                         "the array-api-strict package: pip install array-api-strict")
        return module, _array_api_functions(module, to_numpy=np.asarray, from_numpy=module.asarray)
    cupy = _import("cupy", name, "CuPy and an NVIDIA or AMD GPU: pip install cupy-cuda12x "
                                 "(see https://docs.cupy.dev/en/stable/install.html)")
    if not cupy.cuda.is_available():
        raise BackendError(
            "backend 'cupy': CuPy is installed but no GPU is usable here "
            "(cupy.cuda.is_available() is False); use set_backend('numpy')"
        )
    compat = _import("array_api_compat.cupy", name, "the array-api-compat package: pip install "
                                                     "array-api-compat (or pip install 'glassnet[gpu]')")
    return compat, _array_api_functions(compat, to_numpy=cupy.asnumpy, from_numpy=cupy.asarray)


def set_backend(name: str) -> None:
    """Select the library that holds and computes the arrays of models built from now on.

    Parameters
    ----------
    name : {'numpy', 'array_api_strict', 'cupy'}

    Raises
    ------
    BackendError
        If the library is not installed, or for ``'cupy'`` when no GPU is usable.
    """
    name = check_choice("backend", name, BACKENDS)
    module, functions = _load(name)
    xp.__dict__.clear()
    xp.__dict__.update(
        functions,
        name=name,
        module=module,
        is_numpy=name == "numpy",
        array_type=type(module.zeros(1)),
    )


def get_backend() -> str:
    """The name of the active backend."""
    return xp.name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run a block with another backend and restore the previous one afterwards."""
    previous = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


_FLOATX = "float32"


def floatx() -> str:
    """The name of the default float type, ``'float32'`` or ``'float64'``."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the float type of models built from now on (``Sequential(dtype=...)`` sets one
    model's without changing this default).

    Parameters
    ----------
    value : {'float32', 'float64'}
    """
    global _FLOATX
    _FLOATX = check_choice("floatx", value, ("float32", "float64"))


def float_dtype() -> np.dtype:
    """The default float type as a NumPy dtype (``xp.native_dtype`` gives the backend's own)."""
    return np.dtype(_FLOATX)


def dtype_name(array: Any) -> str:
    """``'float32'``, ``'float64'``, ``'int64'``, ... for an array of any backend."""
    dtype = array.dtype
    return dtype.name if isinstance(dtype, np.dtype) else str(dtype).rsplit(".", 1)[-1]


def on_backend(array: Any) -> Any:
    """``array`` as an array of the active backend: NumPy data and lists are copied to it;
    an array of the backend (or ``None``) is returned as it is."""
    if array is None or isinstance(array, xp.array_type):
        return array
    return xp.from_numpy(np.asarray(array))


def to_numpy(array: Any) -> np.ndarray:
    """An array of the active backend (or NumPy data) as a NumPy array; no copy on NumPy."""
    return np.asarray(xp.to_numpy(array))


def is_backend_array(value: Any) -> bool:
    """Whether ``value`` is an array of the active backend."""
    return isinstance(value, xp.array_type)


def require_numpy_model(model: Any, feature: str) -> None:
    """Raise :class:`BackendError` unless ``model`` was built, and is used, on NumPy.

    The tools outside the numerical core (traces, gradient checks, diagnoses, some
    pictures) read a model's arrays with NumPy.
    """
    built_with = getattr(model, "_backend", "numpy")
    if built_with != "numpy" or not xp.is_numpy:
        raise BackendError(
            f"{feature} works on models built with the 'numpy' backend; this one was built with "
            f"{built_with!r} (active backend: {xp.name!r}). Save it with model.save(path) and load it "
            "under glassnet.config.set_backend('numpy') with glassnet.load_model(path)"
        )


set_backend("numpy")

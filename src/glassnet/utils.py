"""Random numbers and small helpers (``to_categorical``, ``normalize``, as in ``keras.utils``).

glassnet never touches NumPy's global random state. Every random draw
(initial weights, dropout masks, shuffling) comes from a
:class:`numpy.random.Generator` that is either passed in (``seed=`` or
``random_state=``) or derived from glassnet's own global seed, which
:func:`set_random_seed` sets. Two runs after the same ``set_random_seed(s)``
are bitwise identical.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from glassnet._validation import check_array, check_int

__all__ = ["make_rng", "normalize", "rng_state", "set_random_seed", "set_rng_state", "to_categorical"]

_seed_sequence = np.random.SeedSequence()


def set_random_seed(seed: int) -> None:
    """Make everything glassnet draws from now on reproducible.

    Parameters
    ----------
    seed : int
        A non-negative integer.
    """
    global _seed_sequence
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _seed_sequence = np.random.SeedSequence(int(seed))


def make_rng(seed: Any = None) -> np.random.Generator:
    """Return a Generator for one consumer (a layer, an initializer, ``fit``).

    Parameters
    ----------
    seed : None, int or numpy.random.Generator
        ``None`` spawns a fresh child of glassnet's global seed (see
        :func:`set_random_seed`); an int seeds a new Generator; a Generator
        is returned as is.
    """
    if seed is None:
        return np.random.default_rng(_seed_sequence.spawn(1)[0])
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"seed/random_state must be None, a non-negative integer or a numpy Generator, got {seed!r}"
        )
    return np.random.default_rng(int(seed))


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-serialisable state of a Generator (for checkpoints)."""
    return dict(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: dict) -> None:
    """Restore a state saved with :func:`rng_state`."""
    rng.bit_generator.state = state


# --------------------------------------------------------------------------- array helpers
def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float32") -> np.ndarray:
    """Integer class labels to one-hot rows (Keras' ``to_categorical``).

    ``out[..., k] = 1`` if ``y[...] == k`` else ``0``. Integer-valued floats are
    accepted (``2.0`` is class 2); a trailing axis of length 1 is dropped, so
    ``(n, 1)`` labels give ``(n, num_classes)`` like ``(n,)`` labels.

    Parameters
    ----------
    y : array-like of int, shape (n,) or any shape
        Labels in ``0 .. num_classes - 1``.
    num_classes : int, optional
        Number of classes; default ``max(y) + 1``.
    dtype : dtype, default 'float32'

    Returns
    -------
    ndarray of shape ``y.shape + (num_classes,)``
    """
    labels = check_array("y", y, allow_empty=True)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.dtype.kind == "f":
        if not np.all(labels == np.round(labels)):
            bad = labels[labels != np.round(labels)].ravel()[:5]
            raise ValueError(
                f"y must contain integer class labels, got non-integer values {bad.tolist()}"
            )
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        bad = np.unique(labels[labels < 0])[:5]
        raise ValueError(f"y must contain class labels >= 0, got negative labels {bad.tolist()}")
    if num_classes is None:
        if labels.size == 0:
            raise ValueError("y is empty: pass num_classes to say how many columns to make")
        num_classes = int(labels.max()) + 1
    else:
        num_classes = check_int("num_classes", num_classes, minimum=1)
        if labels.size and labels.max() >= num_classes:
            bad = np.unique(labels[labels >= num_classes])[:5]
            raise ValueError(
                f"y contains labels {bad.tolist()} >= num_classes={num_classes}; "
                f"labels must lie in 0 .. {num_classes - 1}"
            )
    one_hot = np.zeros(labels.shape + (num_classes,), dtype=dtype)
    # Put a 1 in column y[i] of every row i.
    np.put_along_axis(one_hot, labels[..., np.newaxis], 1, axis=-1)
    return one_hot


def normalize(x: Any, axis: int = -1, order: int = 2) -> np.ndarray:
    """Scale ``x`` to unit norm along ``axis`` (Keras' ``normalize``).

    ``out = x / ‖x‖_order`` with the norm taken along ``axis`` (``order=2``: the
    Euclidean length ``√Σ x²``; ``order=1``: ``Σ |x|``). A slice whose norm is 0
    is returned unchanged (divided by 1), as in Keras.

    Parameters
    ----------
    x : array-like of float, any shape
    axis : int, default -1
        The axis along which each vector lies (default: each row of a table).
    order : int, default 2
        The norm: 1, 2, ... as :func:`numpy.linalg.norm` understands it.

    Returns
    -------
    ndarray of the shape of ``x`` (float; the dtype of ``x`` when it is a float array)
    """
    values = check_array("x", x, ndim=None)
    if values.dtype.kind != "f":
        values = values.astype(np.float64)
    axis = check_int("axis", axis, minimum=None)
    if not -values.ndim <= axis < max(values.ndim, 1):
        raise ValueError(f"axis must be in [-{values.ndim}, {values.ndim}) for an array of "
                         f"{values.ndim} dimensions, got {axis}")
    order = check_int("order", order, minimum=1)
    norm = np.linalg.norm(values, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return values / norm

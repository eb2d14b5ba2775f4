"""Argument checks used at every public boundary.

Every message names the parameter, what was expected and what was given, so a
user never has to read a NumPy traceback to find out what went wrong.
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    if hasattr(value, "shape") and hasattr(value, "dtype"):  # an array of any library
        dtype = getattr(value.dtype, "name", str(value.dtype).rsplit(".", 1)[-1])
        return f"an array of shape {tuple(value.shape)} and dtype {dtype}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def check_int(name: str, value: Any, *, minimum: int | None = 1) -> int:
    """Return ``value`` as an int, or raise a clear error.

    ``minimum`` is inclusive; ``None`` means no lower bound.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        bound = f" >= {minimum}" if minimum is not None else ""
        raise TypeError(f"{name} must be an integer{bound}, got {_describe(value)}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool; only ``True``/``False`` (or NumPy bools) are accepted,
    so that ``trainable='no'`` is an error rather than ``True``."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_describe(value)}")
    return bool(value)


def check_float(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Return ``value`` as a finite float inside the given interval, or raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {_describe(value)}")
    value = float(value)
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    interval = f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
    bad = not np.isfinite(value)
    if low is not None:
        bad |= value < low if low_inclusive else value <= low
    if high is not None:
        bad |= value > high if high_inclusive else value >= high
    if bad:
        raise ValueError(f"{name} must be a finite number in {interval}, got {value}")
    return value


def check_positive(name: str, value: Any) -> float:
    """A finite float > 0 (learning rates, epsilons, ...)."""
    return check_float(name, value, low=0.0, low_inclusive=False)


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise list them and suggest one."""
    options = sorted(choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {options}, got {_describe(value)}")
    key = value.lower()
    if key in options:
        return key
    close = closest_name(key, options)
    hint = f" Did you mean {close!r}?" if close else ""
    raise ValueError(f"Unknown {name} {value!r}. Valid values: {', '.join(options)}.{hint}")


def closest_name(name: str, options: Iterable[str]) -> str | None:
    """The option a typo most likely meant: fewest edits (swaps count as one, so
    'adma' -> 'adam', not 'adamax'), else difflib's closest match, else None."""
    options = sorted(options)
    if not options:
        return None
    distances = {option: edit_distance(name, option) for option in options}
    best = min(options, key=distances.__getitem__)
    if distances[best] <= max(2, len(name) // 3):
        return best
    close = difflib.get_close_matches(name, options, n=1)
    return close[0] if close else None


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of neighbours turning ``a`` into ``b``."""
    previous_row: list[int] = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        before, previous_row, row = previous_row, row, [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(previous_row[j] + 1, row[j - 1] + 1, previous_row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], before[j - 2] + 1)
    return row[len(b)]


def check_array(
    name: str,
    value: Any,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: Any = None,
    allow_empty: bool = False,
    finite: bool = True,
) -> np.ndarray:
    """Convert ``value`` to a numeric ndarray and check its shape and contents.

    Parameters
    ----------
    name : str
        The parameter name used in error messages.
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions.
    dtype : dtype, optional
        Cast to this dtype (no copy when it already matches).
    allow_empty : bool
        Whether an array with zero rows is acceptable.
    finite : bool
        Reject NaN and infinity.
    """
    if value is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and similar
        raise TypeError(f"{name} must be a numeric array, got {_describe(value)}: {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must contain numbers (bool, int or float), got dtype {array.dtype}"
            + (" (strings or objects)" if array.dtype.kind in "OUS" else "")
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if array.ndim not in allowed:
            expected = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {expected}, got a {array.ndim}-D array of shape {array.shape}")
    if array.ndim == 0 and not allow_empty:
        raise ValueError(f"{name} must be an array with one row per example, got the scalar {value!r}")
    if not allow_empty and (array.shape[0] == 0 or array.size == 0):
        raise ValueError(f"{name} must not be empty, got shape {array.shape}")
    original = array
    if dtype is not None and array.dtype != dtype:
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, with the reason
            array = array.astype(dtype)
    if finite and array.dtype.kind == "f":
        _check_finite(name, array, original)
    return array


def _check_finite(name: str, array: np.ndarray, original: np.ndarray) -> None:
    """Raise if ``array`` holds NaN or infinity, saying where and why."""
    if array.size <= 4096:  # small (a batch, one row): the direct test is cheapest
        finite = np.isfinite(array)
        if finite.all():
            return
    else:
        # One pass and no temporary array: a finite sum means every element is finite
        # (NaN and inf propagate); a sum that overflows only sends us to the full check.
        with np.errstate(over="ignore", invalid="ignore"):
            total = array.sum()
        if math.isfinite(float(total)):
            return
        finite = np.isfinite(array)
    if finite.all():
        return
    bad = int(finite.size - np.count_nonzero(finite))
    where = np.unravel_index(int(np.argmin(finite.reshape(-1))), array.shape)
    index = tuple(int(i) for i in where) if array.ndim > 1 else int(where[0])
    value = float(original[where])
    if np.isfinite(value):  # finite before the cast to array.dtype, infinite after it
        raise ValueError(
            f"{name} contains {bad} value(s) too large for {array.dtype} (first at {index}: "
            f"{value!r}; the largest is {np.finfo(array.dtype).max:.3g}); rescale it"
        )
    raise ValueError(
        f"{name} contains {bad} NaN or infinite value(s) (first at {index}: {value!r}); "
        "clean or impute them first"
    )


def check_same_length(**arrays: np.ndarray | None) -> None:
    """All given arrays have the same number of rows."""
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"All arrays must have the same number of samples (rows): {detail}")

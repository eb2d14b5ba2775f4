"""Weight penalties added to the loss to discourage large weights.

With a regularizer ``R`` on a weight array ``W`` the training loss becomes
``L_total = L_data + R(W)``, so its gradient gains ``dR/dW``:

* L2 (weight decay): ``R(W) = l2 * sum(W^2)``, ``dR/dW = 2 * l2 * W``;
  shrinks every weight in proportion to its size;
* L1: ``R(W) = l1 * sum(|W|)``, ``dR/dW = l1 * sign(W)``;
  pushes weights by a constant amount, driving many exactly to 0 (sparse models).

Keras semantics: there is no factor 1/2 in the L2 penalty, and the string
identifiers ``'l1'``, ``'l2'`` and ``'l1_l2'`` mean a factor of 0.01 (each).
A regularizer only computes; the layer adds ``gradient(W)`` to ``dW``.

The arrays are those of the active backend (:mod:`glassnet.backend`); NumPy
arrays and nested lists are accepted too, and converted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_choice, check_float
from glassnet.backend import xp


def _as_array(w: Any) -> np.ndarray:
    """``w`` (a NumPy array, list, ...) as an array of the active backend.

    The callers test ``isinstance(w, xp.array_type)`` themselves first, so that a layer's
    own weights pass with no function call.
    """
    return xp.from_numpy(np.asarray(w))


class Regularizer:
    """Base class: ``R(w)`` returns the penalty, ``R.gradient(w)`` its gradient ``dR/dw``."""

    name: str = ""

    def __call__(self, w: np.ndarray) -> float:
        """The penalty, a Python float, for a weight array ``w`` of any shape."""
        raise NotImplementedError

    def gradient(self, w: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``dR/dw``, an array of the active backend shaped like ``w``; written into
        ``out`` (an array of that backend, not ``w``) if given."""
        raise NotImplementedError

    def get_config(self) -> dict:
        """``{'name': ..., **factors}``; :func:`get` rebuilds the regularizer from it."""
        return {"name": self.name}

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regularizer) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_config().items())))


class L1(Regularizer):
    """L1 penalty ``R(w) = l1 * sum(|w|)``; gradient ``l1 * sign(w)`` (0 at w = 0).

    Parameters
    ----------
    l1 : float, default 0.01
        Non-negative factor.
    """

    name = "l1"

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = check_float("l1", l1, low=0.0)

    def __call__(self, w):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        absolute = xp.abs(w)
        return self.l1 * float(xp.sum(absolute))

    def gradient(self, w, out=None):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        out = xp.sign(w, out=out)
        out *= self.l1
        return out

    def get_config(self):
        return {**super().get_config(), "l1": self.l1}


class L2(Regularizer):
    """L2 penalty (weight decay) ``R(w) = l2 * sum(w^2)``; gradient ``2 * l2 * w``.

    Parameters
    ----------
    l2 : float, default 0.01
        Non-negative factor.
    """

    name = "l2"

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = check_float("l2", l2, low=0.0)

    def __call__(self, w):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        return self.l2 * float(xp.vdot(w, w))  # vdot flattens: sum of w_i * w_i

    def gradient(self, w, out=None):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        return xp.multiply(w, 2.0 * self.l2, out=out)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


class L1L2(Regularizer):
    """Both penalties: ``R(w) = l1 * sum(|w|) + l2 * sum(w^2)``;
    gradient ``l1 * sign(w) + 2 * l2 * w``.

    Parameters
    ----------
    l1, l2 : float, default 0.0
        Non-negative factors. (The string ``'l1_l2'`` gives 0.01 for both.)
    """

    name = "l1_l2"

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = check_float("l1", l1, low=0.0)
        self.l2 = check_float("l2", l2, low=0.0)

    def __call__(self, w):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        absolute = xp.abs(w)
        sum_of_absolute_values = float(xp.sum(absolute))
        return self.l1 * sum_of_absolute_values + self.l2 * float(xp.vdot(w, w))

    def gradient(self, w, out=None):
        if not isinstance(w, xp.array_type):
            w = _as_array(w)
        out = xp.sign(w, out=out)
        out *= self.l1
        out += xp.multiply(w, 2.0 * self.l2)
        return out

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}


_CLASSES: dict[str, type[Regularizer]] = {cls.name: cls for cls in (L1, L2, L1L2)}

#: The names :func:`get` accepts.
ALL: tuple[str, ...] = tuple(_CLASSES)


def get(identifier: Any) -> Regularizer | None:
    """Return a :class:`Regularizer` (or ``None``, meaning no penalty) for ``identifier``.

    Parameters
    ----------
    identifier : None, str, dict or Regularizer
        ``None``; ``'l1'``, ``'l2'`` or ``'l1_l2'`` (factor 0.01 each, as in
        Keras); a config dict such as ``{'name': 'l2', 'l2': 1e-4}``; or an
        instance, returned as is.
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        name = check_choice("regularizer", identifier, _CLASSES)
        return L1L2(l1=0.01, l2=0.01) if name == "l1_l2" else _CLASSES[name]()
    if isinstance(identifier, dict):
        if "name" not in identifier:
            raise ValueError(
                f"a regularizer config dict needs a 'name' key, got keys {sorted(identifier)}"
            )
        params = {k: v for k, v in identifier.items() if k != "name"}
        name = check_choice("regularizer", identifier["name"], _CLASSES)
        try:
            return _CLASSES[name](**params)
        except TypeError as exc:
            message = f"invalid parameters {params} for regularizer {name!r}: {exc}"
            raise TypeError(message) from None
    raise TypeError(
        "regularizer must be None, 'l1', 'l2', 'l1_l2', a config dict or a Regularizer "
        f"instance, got {identifier!r} ({type(identifier).__name__})"
    )


def serialize(regularizer: Any) -> dict | None:
    """The config dict of ``regularizer`` (``None`` for no regularizer)."""
    regularizer = get(regularizer)
    return None if regularizer is None else regularizer.get_config()


# The lowercase names Keras scripts call: ``kernel_regularizer=regularizers.l2(0.001)``.
def l1(l1: float = 0.01) -> L1:
    """``L1(l1)``: the penalty ``l1 · Σ|w|`` (Keras' ``regularizers.l1``)."""
    return L1(l1=l1)


def l2(l2: float = 0.01) -> L2:
    """``L2(l2)``: the penalty ``l2 · Σ w²`` (Keras' ``regularizers.l2``)."""
    return L2(l2=l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    """``L1L2(l1, l2)``: ``l1 · Σ|w| + l2 · Σ w²`` (Keras' ``regularizers.l1_l2``).

    Without arguments both factors are 0.01, as Keras 2's ``l1_l2()`` and the string
    ``'l1_l2'`` give (Keras 3's class ``L1L2()`` alone defaults to 0).
    """
    return L1L2(l1=l1, l2=l2)

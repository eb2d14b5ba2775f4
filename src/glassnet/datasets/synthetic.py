"""Small 2-D toy problems that a few neurons can learn, and that you can draw.

Every generator returns ``(X, y)``: ``X`` float64 of shape ``(n_samples, n_features)``
and ``y`` int64 class labels of shape ``(n_samples,)``, like scikit-learn's
``make_*`` functions. ``random_state`` (None, an int or a
``numpy.random.Generator``) makes the draw reproducible; the same seed gives
identical arrays.

* :func:`make_circles` -- a circle inside a circle (the article's example).
* :func:`make_moons` -- two interleaving half circles.
* :func:`make_spirals` -- CS231n's ``K`` arms of a spiral.
* :func:`make_xor` -- points in the four quadrants, labelled by XOR of the signs.
* :func:`make_gaussians` -- isotropic Gaussian blobs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_float, check_int
from glassnet.utils import make_rng

__all__ = ["make_circles", "make_gaussians", "make_moons", "make_spirals", "make_xor"]


def _two_counts(n_samples: Any) -> tuple[int, int]:
    """``n_samples`` as (n_class_0, n_class_1): an int is split n // 2 and the rest."""
    if isinstance(n_samples, tuple | list):
        if len(n_samples) != 2:
            raise ValueError(
                f"n_samples must be an int or a tuple of two ints (n_class_0, n_class_1), "
                f"got a sequence of length {len(n_samples)}"
            )
        return (check_int("n_samples[0]", n_samples[0], minimum=0),
                check_int("n_samples[1]", n_samples[1], minimum=0))
    total = check_int("n_samples", n_samples, minimum=0)
    return total // 2, total - total // 2


def _balanced_counts(n_samples: int, n_groups: int) -> np.ndarray:
    """Split ``n_samples`` into ``n_groups`` sizes differing by at most one (first ones larger)."""
    return n_samples // n_groups + (np.arange(n_groups) < n_samples % n_groups)


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, shuffle: bool, noise: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Optionally shuffle the rows, then add Gaussian noise of standard deviation ``noise``."""
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    if noise is not None:
        X = X + rng.normal(scale=noise, size=X.shape)
    return X.astype(np.float64, copy=False), y.astype(np.int64, copy=False)


def _check_noise(noise: Any) -> float | None:
    return None if noise is None else check_float("noise", noise, low=0.0)


def make_circles(
    n_samples: int | tuple[int, int] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: Any = None,
    factor: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    r"""A large circle (label 0) around a smaller circle (label 1), as scikit-learn.

    Points sit at equally spaced angles :math:`\theta_k = 2\pi k / m`
    (:math:`k = 0 .. m-1`) on the unit circle (outer, label 0) and on the
    circle of radius ``factor`` (inner, label 1):

    .. math:: x = r(\cos\theta, \sin\theta) + \varepsilon,\qquad
              \varepsilon \sim \mathcal N(0, \text{noise}^2 I_2)

    Parameters
    ----------
    n_samples : int or tuple (n_outer, n_inner), default 100
        An int is split as ``n // 2`` outer and the rest inner points (so the
        inner circle gets the extra point when ``n`` is odd).
    shuffle : bool, default True
        Shuffle the rows (otherwise all outer points come first).
    noise : float, optional
        Standard deviation of the Gaussian noise added to every coordinate.
    random_state : None, int or numpy.random.Generator
    factor : float in [0, 1), default 0.8
        Radius of the inner circle relative to the outer one.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    """
    n_outer, n_inner = _two_counts(n_samples)
    noise = _check_noise(noise)
    factor = check_float("factor", factor, low=0.0, high=1.0, high_inclusive=False)
    rng = make_rng(random_state)
    # endpoint=False so the first and the last point do not coincide.
    angle_outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    angle_inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    X = np.concatenate([
        np.column_stack([np.cos(angle_outer), np.sin(angle_outer)]),
        factor * np.column_stack([np.cos(angle_inner), np.sin(angle_inner)]),
    ])
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])
    return _finish(X, y, rng, shuffle, noise)


def make_moons(
    n_samples: int | tuple[int, int] = 100,
    *,
    shuffle: bool = True,
    noise: float | None = None,
    random_state: Any = None,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Two interleaving half circles, as scikit-learn.

    With :math:`\theta` equally spaced in :math:`[0, \pi]` (end points included):

    .. math::

        \text{upper moon (label 0)}: (\cos\theta,\ \sin\theta) \qquad
        \text{lower moon (label 1)}: (1 - \cos\theta,\ \tfrac12 - \sin\theta)

    plus Gaussian noise of standard deviation ``noise``.

    Parameters
    ----------
    n_samples : int or tuple (n_upper, n_lower), default 100
        An int is split as ``n // 2`` upper and the rest lower points.
    shuffle : bool, default True
    noise : float, optional
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    """
    n_upper, n_lower = _two_counts(n_samples)
    noise = _check_noise(noise)
    rng = make_rng(random_state)
    angle_upper = np.linspace(0, np.pi, n_upper)
    angle_lower = np.linspace(0, np.pi, n_lower)
    X = np.concatenate([
        np.column_stack([np.cos(angle_upper), np.sin(angle_upper)]),
        np.column_stack([1 - np.cos(angle_lower), 0.5 - np.sin(angle_lower)]),
    ])
    y = np.concatenate([np.zeros(n_upper, np.int64), np.ones(n_lower, np.int64)])
    return _finish(X, y, rng, shuffle, noise)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    random_state: Any = None,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""CS231n's spiral: ``n_classes`` arms winding out of the origin.

    Arm ``j`` has ``m`` points, ``k = 0 .. m-1``, with radius and angle

    .. math::

        r_k = \frac{k}{m-1}, \qquad
        t_k = 4j + 4\frac{k}{m-1} + \text{noise}\cdot z_k,\quad z_k \sim \mathcal N(0, 1)

    and position :math:`(r_k \sin t_k,\ r_k \cos t_k)`. The noise is on the
    angle, so the arms blur sideways. Not linearly separable: a linear
    softmax classifier fits about 50 % of the points, a ReLU network with one
    hidden layer of 100 units about 99 %.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points, split as evenly as possible between the arms.
    n_classes : int, default 3
    noise : float, default 0.2
        Standard deviation of the angle noise (radians).
    random_state : None, int or numpy.random.Generator
    shuffle : bool, default True
        Shuffle the rows (otherwise arm 0 comes first, as in CS231n).

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64, inside the unit disc
    y : ndarray of shape (n_samples,), int64 in 0 .. n_classes - 1
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    n_classes = check_int("n_classes", n_classes, minimum=1)
    noise = check_float("noise", noise, low=0.0)
    rng = make_rng(random_state)
    X_parts, y_parts = [], []
    for arm, n_arm in enumerate(_balanced_counts(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, n_arm)
        angle = np.linspace(4.0 * arm, 4.0 * (arm + 1), n_arm) + noise * rng.standard_normal(n_arm)
        X_parts.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        y_parts.append(np.full(n_arm, arm, dtype=np.int64))
    return _finish(np.concatenate(X_parts), np.concatenate(y_parts), rng, shuffle, None)


def make_xor(
    n_samples: int = 200,
    noise: float = 0.1,
    random_state: Any = None,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Points in the four quadrants, labelled by the XOR of the signs of their coordinates.

    Each point is first drawn uniformly from the square :math:`[0.1, 1]^2` of
    one quadrant (the quadrants get equal shares), then Gaussian noise of
    standard deviation ``noise`` is added. Its label comes from the quadrant:

    .. math:: y = [x_1 > 0] \oplus [x_2 > 0]

    so (+, +) and (-, -) are class 0, (-, +) and (+, -) class 1. No single
    line separates the classes: the smallest problem that needs a hidden layer.

    Parameters
    ----------
    n_samples : int, default 200
    noise : float, default 0.1
        With ``noise`` above about 0.1 some points cross into the
        neighbouring quadrant and keep their label (label noise).
    random_state : None, int or numpy.random.Generator
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of shape (n_samples, 2), float64
    y : ndarray of shape (n_samples,), int64 in {0, 1}
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    noise = check_float("noise", noise, low=0.0)
    rng = make_rng(random_state)
    quadrant_signs = np.array([[1, 1], [-1, 1], [-1, -1], [1, -1]], dtype=np.float64)
    quadrant = np.repeat(np.arange(4), _balanced_counts(n_samples, 4))
    X = quadrant_signs[quadrant] * rng.uniform(0.1, 1.0, size=(n_samples, 2))
    y = ((quadrant_signs[quadrant, 0] > 0) ^ (quadrant_signs[quadrant, 1] > 0)).astype(np.int64)
    return _finish(X, y, rng, shuffle, noise)


def make_gaussians(
    n_samples: int = 300,
    n_classes: int = 3,
    n_features: int = 2,
    cluster_std: float = 1.0,
    random_state: Any = None,
    *,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Isotropic Gaussian blobs, one per class (like scikit-learn's ``make_blobs``).

    The centres :math:`\mu_c` are drawn uniformly from the box
    :math:`[-10, 10]^{d}`; then class :math:`c` gets points
    :math:`x = \mu_c + \sigma z,\ z \sim \mathcal N(0, I_d)` with
    :math:`\sigma` = ``cluster_std``. The classes get equal shares of
    ``n_samples`` (up to one point).

    Parameters
    ----------
    n_samples : int, default 300
    n_classes : int, default 3
    n_features : int, default 2
    cluster_std : float, default 1.0
    random_state : None, int or numpy.random.Generator
    shuffle : bool, default True

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int64 in 0 .. n_classes - 1
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    n_classes = check_int("n_classes", n_classes, minimum=1)
    n_features = check_int("n_features", n_features, minimum=1)
    cluster_std = check_float("cluster_std", cluster_std, low=0.0)
    rng = make_rng(random_state)
    centres = rng.uniform(-10.0, 10.0, size=(n_classes, n_features))
    y = np.repeat(np.arange(n_classes), _balanced_counts(n_samples, n_classes))
    X = centres[y] + cluster_std * rng.standard_normal((n_samples, n_features))
    return _finish(X, y, rng, shuffle, None)

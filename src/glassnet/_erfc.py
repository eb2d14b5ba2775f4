"""The complementary error function ``erfc``, for GELU, without SciPy.

W. J. Cody's rational Chebyshev approximations to erf and erfc (Math. Comp. 23, 1969,
as in his SPECFUN routine CALERF); relative error below 1e-15 in float64 over the
range GELU uses. Only :func:`erfc` is meant to be used; it works on arrays of any
backend through ``xp``.
"""

from __future__ import annotations

import math
from typing import Any

from glassnet.backend import xp

Array = Any

_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)


def _rational(t: Array, num_coefs: tuple, den_coefs: tuple, lead: float) -> Array:
    """``P(t) / Q(t)`` by Horner's rule, in place on two work arrays.

    ``P(t) = ((lead t + p0) t + p1) t + ... + p_last`` and
    ``Q(t) = ((t + q0) t + q1) t + ... + q_last`` (Q's leading coefficient is 1).
    """
    num = t * lead
    num += num_coefs[0]
    den = t + den_coefs[0]
    for p, q in zip(num_coefs[1:], den_coefs[1:], strict=True):
        num *= t
        num += p
        den *= t
        den += q
    num /= den
    return num


def erfc(x: Array) -> Array:
    """The complementary error function ``erfc(x) = 1 - erf(x)``, elementwise.

    Cody's algorithm uses three regions of ``y = |x|``:

    * ``y <= 0.46875``: ``erf(x) = x * P(x^2) / Q(x^2)`` and ``erfc = 1 - erf``;
    * ``0.46875 < y <= 4``: ``erfc(y) = exp(-y^2) * P(y) / Q(y)``;
    * ``y > 4``: ``erfc(y) = exp(-y^2) / y * (1/sqrt(pi) - R(1/y^2) / y^2)``;

    and ``erfc(-y) = 2 - erfc(y)``. The first two are evaluated on the whole
    array (with clipped arguments) and blended with 0/1 masks, because selecting
    a random half of an array with a boolean index is several times slower than
    the arithmetic; the rare ``y > 4`` entries are fixed up by indexing.
    Computed in the dtype of ``x``; relative error about ``1e-15 * max(1, y^2)`` in float64.
    """
    y = xp.abs(x)

    # middle region, erfc(y) = exp(-y^2) P(y) / Q(y)
    t = xp.clip(y, 0.46875, 4.0)
    result = _rational(t, _ERFC_C[:-1], _ERFC_D, lead=_ERFC_C[-1])
    xp.square(t, out=t)
    xp.negative(t, out=t)
    result *= xp.exp(t, out=t)

    # large region, erfc(y) = exp(-y^2) / y * (1/sqrt(pi) - R(1/y^2) / y^2), rare: by indexing
    large = y > 4.0
    if xp.any(large):
        yl = y[large]
        inv_sq = 1.0 / (yl * yl)
        tail = inv_sq * _rational(inv_sq, _ERFC_P[:-1], _ERFC_Q, lead=_ERFC_P[-1])
        result[large] = xp.exp(-yl * yl) * (_ONE_OVER_SQRT_PI - tail) / yl

    # erfc(-y) = 2 - erfc(y): result += [x < 0] * (2 - 2 result)
    xp.multiply(result, -2.0, out=t)
    t += 2.0
    t *= xp.astype(x < 0, t.dtype)
    result += t

    # small region, erfc(x) = 1 - x P(x^2) / Q(x^2), blended in where |x| <= 0.46875
    small_x = xp.clip(x, -0.46875, 0.46875)
    xp.square(small_x, out=t)
    erfc_small = _rational(t, _ERF_A[:-1], _ERF_B, lead=_ERF_A[-1])
    erfc_small *= small_x
    xp.subtract(1.0, erfc_small, out=erfc_small)
    erfc_small -= result
    erfc_small *= xp.astype(y <= 0.46875, t.dtype)
    result += erfc_small
    return result

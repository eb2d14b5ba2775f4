"""Random numbers and small helpers.

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

"""The Boston Housing prices (StatLib, 1978), split as Keras splits them.

506 districts, 13 attributes each, and the median house value in k$. Keras warns,
and so does glassnet, that one attribute ("B") encodes a racial assumption: use the
data set to discuss that problem, not as a neutral benchmark.
"""

from __future__ import annotations

import os

import numpy as np

from glassnet._validation import check_float, check_int
from glassnet.datasets.download import KERAS_DATASETS_URL, get_file, read_npz

__all__ = ["BOSTON_HOUSING_SHA256", "load_data"]

#: SHA-256 of Keras's ``boston_housing.npz`` (keras/src/datasets/boston_housing.py).
BOSTON_HOUSING_SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"

Split = tuple[np.ndarray, np.ndarray]


def load_data(
    path: str = "boston_housing.npz",
    test_split: float = 0.2,
    seed: int = 113,
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str = KERAS_DATASETS_URL,
    file_hash: str = BOSTON_HOUSING_SHA256,
) -> tuple[Split, Split]:
    """Boston Housing as Keras returns it: ``(x_train, y_train), (x_test, y_test)``.

    The rows are shuffled with ``numpy.random.RandomState(seed)`` (Keras's generator,
    so the same ``seed`` gives Keras's split), then the first ``1 − test_split`` of
    them are the training set: 404 training and 102 test rows by default.

    Parameters
    ----------
    path : str
        The file's name in the caches (``~/.glassnet/datasets``, then ``~/.keras/datasets``).
    test_split : float in [0, 1)
    seed : int
    cache_dir, base_url, file_hash
        As for :func:`glassnet.datasets.mnist.load_data`.

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x``: float64 of shape (n, 13); ``y``: float64 of shape (n,), prices in k$.
    """
    test_split = check_float("test_split", test_split, low=0.0, high=1.0, high_inclusive=False)
    seed = check_int("seed", seed, minimum=0)
    arrays = read_npz(get_file(path, base_url + "boston_housing.npz", file_hash, cache_dir=cache_dir),
                      ("x", "y"))
    x, y = arrays["x"], arrays["y"]
    order = np.arange(len(x))
    np.random.RandomState(seed).shuffle(order)
    x, y = x[order], y[order]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])

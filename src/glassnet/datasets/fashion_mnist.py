"""Fashion-MNIST (Zalando): 70,000 28x28 grayscale images of 10 kinds of clothing, as Keras loads it.

Labels: 0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt,
7 Sneaker, 8 Bag, 9 Ankle boot. License: MIT, copyright Zalando SE.
"""

from __future__ import annotations

import os

import numpy as np

from glassnet.datasets.download import KERAS_DATASETS_URL, get_file
from glassnet.datasets.mnist import _read_idx_pair

__all__ = ["CLASS_NAMES", "FILE_HASHES", "load_data"]

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: SHA-256 of each file (keras/src/datasets/fashion_mnist.py).
FILE_HASHES = {
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
}

Split = tuple[np.ndarray, np.ndarray]


def load_data(
    *,
    cache_dir: str | os.PathLike | None = None,
    base_url: str = KERAS_DATASETS_URL,
    file_hashes: dict[str, str] | None = None,
) -> tuple[Split, Split]:
    """Fashion-MNIST as Keras returns it: ``(x_train, y_train), (x_test, y_test)``.

    Four gzip IDX files (30 MB) in ``fashion-mnist/`` under glassnet's cache, else
    Keras's (``~/.keras/datasets/fashion-mnist/``), else downloaded from Keras's URL,
    each checked against its SHA-256 (see :func:`glassnet.datasets.download.get_file`).

    Parameters
    ----------
    cache_dir : path, optional
        glassnet's data-set folder (default ``$GLASSNET_HOME/datasets``, ``~/.glassnet/datasets``).
    base_url : str
        Where the four files are (for a mirror).
    file_hashes : dict, optional
        The SHA-256 of each file name (default :data:`FILE_HASHES`).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x``: uint8 pixels of shape (60000, 28, 28) and (10000, 28, 28); ``y``: uint8
        labels 0..9 (see :data:`CLASS_NAMES`) of shape (60000,) and (10000,).
    """
    hashes = FILE_HASHES if file_hashes is None else file_hashes
    splits = []
    for part in ("train", "t10k"):
        images, labels = (
            get_file(name, base_url + name, hashes[name], cache_subdir="fashion-mnist", cache_dir=cache_dir)
            for name in (f"{part}-images-idx3-ubyte.gz", f"{part}-labels-idx1-ubyte.gz")
        )
        splits.append(_read_idx_pair(images, labels))
    return splits[0], splits[1]

"""Data sets and the helpers that get them ready for a network.

Everything here needs only NumPy. The toy problems are generated, the fruit
table is simulated, and a 3,000-image MNIST slice ships with the package;
``mnist.load_data()``, ``fashion_mnist.load_data()`` and
``boston_housing.load_data()`` return Keras's full data sets, downloaded once
into a cache (see :mod:`glassnet.datasets.download`).

>>> from glassnet.datasets import make_circles, load_mnist, train_test_split, to_categorical
>>> X, y = make_circles(1000, noise=0.05, factor=0.5, random_state=0)
>>> X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
"""

from glassnet.datasets import boston_housing, download, fashion_mnist, mnist
from glassnet.datasets.fruit import FRUIT_CATEGORIES, Bunch, load_fruit_features, make_fruit
from glassnet.datasets.mnist import load_mnist, read_idx, write_idx
from glassnet.datasets.preprocessing import (
    OneHotEncoder,
    StandardScaler,
    to_categorical,
    train_test_split,
)
from glassnet.datasets.synthetic import (
    make_circles,
    make_gaussians,
    make_moons,
    make_spirals,
    make_xor,
)

__all__ = [
    "FRUIT_CATEGORIES",
    "Bunch",
    "boston_housing",
    "download",
    "fashion_mnist",
    "mnist",
    "OneHotEncoder",
    "StandardScaler",
    "load_fruit_features",
    "load_mnist",
    "make_circles",
    "make_fruit",
    "make_gaussians",
    "make_moons",
    "make_spirals",
    "make_xor",
    "read_idx",
    "to_categorical",
    "train_test_split",
    "write_idx",
]

"""The farmer's fruit: sort Apples, Bananas and Oranges from four measurements.

The article's example: a farmer sorts fruit by weight (grams), colour
(red, yellow, orange, green), texture (smooth, rough) and size (small, medium,
large). This module simulates such a harvest. One numeric and three
categorical columns make it the smallest realistic "tabular" problem: the
categorical columns must be one-hot encoded and the weight standardised
before a Dense network can use them, which :func:`load_fruit_features` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_int
from glassnet.config import float_dtype
from glassnet.datasets.preprocessing import OneHotEncoder, StandardScaler
from glassnet.utils import make_rng

__all__ = ["FRUIT_CATEGORIES", "Bunch", "load_fruit_features", "make_fruit"]


class Bunch(dict):
    """A dict whose keys are also attributes: ``bunch.data is bunch["data"]``."""

    def __getattr__(self, key: str) -> Any:
        try:
            return self[key]
        except KeyError:
            raise AttributeError(f"Bunch has no field {key!r}; fields: {list(self)}") from None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self))


TARGET_NAMES = ("apple", "banana", "orange")
FEATURE_NAMES = ("weight", "colour", "texture", "size")
#: The possible values of each categorical column, in the order of the one-hot columns.
FRUIT_CATEGORIES = {
    "colour": ("green", "orange", "red", "yellow"),
    "texture": ("rough", "smooth"),
    "size": ("large", "medium", "small"),
}

# How each fruit is generated: weight ~ Normal(mean, std) in grams (at least 40 g),
# and each categorical value drawn with the listed probabilities (in FRUIT_CATEGORIES order).
_FRUIT_MODEL = {
    "apple": {
        "weight": (175.0, 12.0),
        "colour": (0.35, 0.00, 0.62, 0.03),
        "texture": (0.02, 0.98),
        "size": (0.10, 0.80, 0.10),
    },
    "banana": {
        "weight": (120.0, 10.0),
        "colour": (0.25, 0.00, 0.00, 0.75),
        "texture": (0.03, 0.97),
        "size": (0.45, 0.50, 0.05),
    },
    "orange": {
        "weight": (190.0, 30.0),
        "colour": (0.03, 0.95, 0.00, 0.02),
        "texture": (0.95, 0.05),
        "size": (0.20, 0.70, 0.10),
    },
}

_DESCRIPTION = """\
Simulated fruit harvest (glassnet.datasets.make_fruit)

Classes: apple (0), banana (1), orange (2), equal shares, shuffled.
Features:
  weight   float, grams.  apple ~ N(175, 12), banana ~ N(120, 10), orange ~ N(190, 30)
  colour   str.  apple: red 62 %, green 35 %, yellow 3 %;  banana: yellow 75 %, green 25 %;
                 orange: orange 95 %, green 3 %, yellow 2 %
  texture  str.  apple 98 % and banana 97 % smooth, orange 95 % rough
  size     str.  mostly medium; bananas large 45 % of the time
The classes overlap a little (green apples vs green bananas near 150 g, smooth
oranges), so about 99 % is the best any classifier can do.
"""


def make_fruit(n_samples: int = 600, random_state: Any = None, as_frame: bool = False) -> Bunch:
    """Simulate ``n_samples`` fruits with their weight, colour, texture and size.

    Parameters
    ----------
    n_samples : int, default 600
        Split as evenly as possible between the three classes.
    random_state : None, int or numpy.random.Generator
    as_frame : bool, default False
        Also return the table as a pandas DataFrame (needs pandas, which
        glassnet itself does not).

    Returns
    -------
    Bunch with fields

    data : dict of str -> ndarray of shape (n_samples,)
        ``weight`` (float64 grams) and ``colour``, ``texture``, ``size`` (str).
        With ``as_frame=True``: a pandas DataFrame with these columns.
    target : ndarray of shape (n_samples,), int64
        0 = apple, 1 = banana, 2 = orange.
    target_names : list of str
        ``['apple', 'banana', 'orange']``
    feature_names : list of str
        ``['weight', 'colour', 'texture', 'size']``
    categorical_features : list of str
        ``['colour', 'texture', 'size']``
    frame : pandas.DataFrame or None
        Features plus a ``target`` column (``as_frame=True`` only).
    DESCR : str
        How the data were generated.
    """
    n_samples = check_int("n_samples", n_samples, minimum=0)
    rng = make_rng(random_state)
    counts = n_samples // 3 + (np.arange(3) < n_samples % 3)
    target = rng.permutation(np.repeat(np.arange(3), counts))

    weight = np.empty(n_samples, dtype=np.float64)
    columns = {name: np.empty(n_samples, dtype=f"<U{max(map(len, values))}")
               for name, values in FRUIT_CATEGORIES.items()}
    for label, fruit in enumerate(TARGET_NAMES):
        rows = np.flatnonzero(target == label)
        mean, std = _FRUIT_MODEL[fruit]["weight"]
        weight[rows] = np.maximum(rng.normal(mean, std, size=len(rows)), 40.0)
        for name, values in FRUIT_CATEGORIES.items():
            probabilities = _FRUIT_MODEL[fruit][name]
            columns[name][rows] = rng.choice(values, size=len(rows), p=probabilities)

    data = {"weight": weight, **columns}
    frame = None
    if as_frame:
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(
                "make_fruit(as_frame=True) needs pandas (pip install pandas); "
                "as_frame=False returns the columns as NumPy arrays"
            ) from None
        data = pd.DataFrame(data)
        frame = data.assign(target=target)
    return Bunch(
        data=data,
        target=target,
        target_names=list(TARGET_NAMES),
        feature_names=list(FEATURE_NAMES),
        categorical_features=list(FRUIT_CATEGORIES),
        frame=frame,
        DESCR=_DESCRIPTION,
    )


def load_fruit_features(
    n_samples: int = 600, random_state: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """The fruit data as numbers a Dense network can take: ``(X, y)``.

    This is the whole recipe (use it on your own tables too)::

        fruit = make_fruit(n_samples, random_state)
        categorical = np.column_stack([fruit.data[c] for c in fruit.categorical_features])
        encoder = OneHotEncoder(categories=list(FRUIT_CATEGORIES.values()))
        one_hot = encoder.fit_transform(categorical)
        weight = StandardScaler().fit_transform(fruit.data["weight"].reshape(-1, 1))
        X = np.hstack([weight, one_hot])

    The one-hot columns are already 0/1, so only the weight is standardised,
    ``z = (w - mean(w)) / std(w)``. The scaler sees all rows; to keep every
    trace of the test set out of training, split :func:`make_fruit`'s
    output first and fit the scaler on the training part only.

    Parameters
    ----------
    n_samples : int, default 600
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : ndarray of shape (n_samples, 10), ``glassnet.config.float_dtype()``
        Columns: ``weight, colour_green, colour_orange, colour_red,
        colour_yellow, texture_rough, texture_smooth, size_large, size_medium,
        size_small``.
    y : ndarray of shape (n_samples,), int64
        0 = apple, 1 = banana, 2 = orange.
    """
    fruit = make_fruit(n_samples, random_state)
    categorical = np.column_stack([fruit.data[name] for name in fruit.categorical_features])
    encoder = OneHotEncoder(categories=list(FRUIT_CATEGORIES.values()), dtype=float_dtype())
    one_hot = encoder.fit_transform(categorical)
    weight = StandardScaler().fit_transform(fruit.data["weight"].reshape(-1, 1))
    X = np.hstack([weight.astype(float_dtype()), one_hot])
    return X, fruit.target

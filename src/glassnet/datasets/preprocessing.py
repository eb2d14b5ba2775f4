"""Getting data ready for a network: splitting, one-hot labels, scaling, encoding.

These are NumPy versions of the scikit-learn / Keras helpers of the same names,
with the same meaning, so code written against either reads the same here:

* :func:`train_test_split` -- hold out a test set (optionally stratified).
* :func:`to_categorical` -- integer labels ``y`` of shape ``(n,)`` to one-hot
  rows of shape ``(n, num_classes)`` for a softmax output.
* :class:`StandardScaler` -- ``z = (x - mean) / std`` per column.
* :class:`OneHotEncoder` -- categorical columns (strings) to 0/1 columns.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet._validation import (
    check_array,
    check_choice,
    check_float,
    check_int,
    check_same_length,
)
from glassnet.config import float_dtype
from glassnet.utils import make_rng, to_categorical

__all__ = ["OneHotEncoder", "StandardScaler", "to_categorical", "train_test_split"]


# --------------------------------------------------------------------------- splitting


def _number_of_test_samples(test_size: Any, n_samples: int) -> int:
    """``test_size`` as a count: a float is a fraction (rounded up), an int a count."""
    if isinstance(test_size, numbers.Integral) and not isinstance(test_size, bool):
        n_test = check_int("test_size", test_size, minimum=1)
        if n_test >= n_samples:
            raise ValueError(
                f"test_size={n_test} must be smaller than the number of samples ({n_samples}) "
                "so that the training set is not empty"
            )
        return n_test
    fraction = check_float("test_size", test_size, low=0.0, high=1.0,
                           low_inclusive=False, high_inclusive=False)
    n_test = math.ceil(fraction * n_samples)
    if n_test >= n_samples:
        raise ValueError(
            f"test_size={fraction} leaves no training samples out of {n_samples}; "
            "use a smaller fraction"
        )
    return n_test


def _stratified_test_counts(
    counts: np.ndarray, n_test: int, rng: np.random.Generator
) -> np.ndarray:
    """How many test samples to take from each class, proportional to its size.

    Class ``c`` ideally gets ``n_test * counts[c] / n``. Each class first gets the
    floor of that; the few samples still missing go to the classes with the
    largest fractional parts (ties broken at random), so the counts sum to
    ``n_test`` exactly (the "largest remainder" method).
    """
    ideal = n_test * counts / counts.sum()
    per_class = np.floor(ideal).astype(np.int64)
    missing = n_test - int(per_class.sum())
    remainder = ideal - per_class
    # Sort by remainder (largest first), random tie-breaking: lexsort uses the last key first.
    order = np.lexsort((rng.random(len(counts)), -remainder))
    per_class[order[:missing]] += 1
    return per_class


def train_test_split(
    *arrays: Any,
    test_size: float | int = 0.25,
    shuffle: bool = True,
    stratify: Any = None,
    random_state: Any = None,
) -> list[np.ndarray]:
    """Split arrays into random train and test subsets (scikit-learn's meaning).

    Parameters
    ----------
    *arrays : array-likes with the same first dimension ``n``
        For example ``X`` of shape ``(n, d)`` and ``y`` of shape ``(n,)``.
    test_size : float in (0, 1) or int, default 0.25
        A float is the fraction of samples that go to the test set,
        ``n_test = ceil(test_size * n)``; an int is the number of test samples.
    shuffle : bool, default True
        Shuffle before splitting. With ``shuffle=False`` the last ``n_test``
        rows are the test set (and ``stratify`` must be None).
    stratify : array-like of shape (n,), optional
        Class labels. Each class then has (up to rounding) the same proportion
        in the train and the test set as in the whole data set.
    random_state : None, int or numpy.random.Generator
        Seed for the shuffle (see :func:`glassnet.utils.make_rng`).

    Returns
    -------
    list of ndarray
        ``[a_train, a_test, b_train, b_test, ...]``, two per input array, in order.

    Examples
    --------
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y)
    """
    if not arrays:
        raise ValueError("train_test_split needs at least one array to split")
    arrays = tuple(np.asarray(a) for a in arrays)
    for position, array in enumerate(arrays):
        if array.ndim == 0:
            raise ValueError(
                f"array {position} is a scalar ({array!r}); expected an array of samples"
            )
    check_same_length(**{f"array {position}": a for position, a in enumerate(arrays)})
    n_samples = len(arrays[0])
    if n_samples < 2:
        raise ValueError(f"Need at least 2 samples to make a train and a test set, got {n_samples}")
    n_test = _number_of_test_samples(test_size, n_samples)
    n_train = n_samples - n_test

    if not shuffle:
        if stratify is not None:
            raise ValueError("stratify needs shuffle=True (a stratified split draws samples)")
        train_index, test_index = np.arange(n_train), np.arange(n_train, n_samples)
    else:
        rng = make_rng(random_state)
        if stratify is None:
            permutation = rng.permutation(n_samples)
            test_index, train_index = permutation[:n_test], permutation[n_test:]
        else:
            train_index, test_index = _stratified_indices(stratify, n_samples, n_test, rng)

    result = []
    for array in arrays:
        result += [array[train_index], array[test_index]]
    return result


def _stratified_indices(
    stratify: Any, n_samples: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    labels = np.asarray(stratify)
    if labels.ndim != 1 or len(labels) != n_samples:
        raise ValueError(
            f"stratify must be a 1-D array of {n_samples} labels, got shape {labels.shape}"
        )
    classes, label_codes, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        rare_class = classes[counts.argmin()].tolist()
        raise ValueError(
            f"stratify: class {rare_class!r} has only 1 member; every class needs at least 2 "
            "to appear in both the train and the test set"
        )
    n_classes = len(classes)
    if n_test < n_classes or n_samples - n_test < n_classes:
        raise ValueError(
            f"stratify: with {n_classes} classes both sets need at least {n_classes} samples, "
            f"got {n_samples - n_test} train and {n_test} test samples"
        )
    test_per_class = _stratified_test_counts(counts, n_test, rng)
    train_parts, test_parts = [], []
    for code, n_class_test in enumerate(test_per_class):
        members = rng.permutation(np.flatnonzero(label_codes == code))
        test_parts.append(members[:n_class_test])
        train_parts.append(members[n_class_test:])
    # Shuffle again so the classes are mixed inside each set.
    return rng.permutation(np.concatenate(train_parts)), rng.permutation(np.concatenate(test_parts))


# --------------------------------------------------------------------------- shared checks


def _check_table(name: str, X: Any, *, numeric: bool) -> np.ndarray:
    """A 2-D table of shape (n_samples, n_features), with a hint for 1-D input."""
    if numeric:
        table = check_array(name, X, ndim=(1, 2))
    else:
        if X is None:
            raise TypeError(f"{name} must be a 2-D array-like, got None")
        table = np.asarray(X)
        if table.size == 0:
            raise ValueError(f"{name} must not be empty, got shape {table.shape}")
    if table.ndim == 1:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got a 1-D array of shape "
            f"{table.shape}. Use X.reshape(-1, 1) for a single feature or X.reshape(1, -1) "
            "for a single sample."
        )
    if table.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {table.shape}"
        )
    return table


def _check_fitted(estimator: Any, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        name = type(estimator).__name__
        raise ValueError(f"This {name} is not fitted yet: call fit(X) before using it")


def _check_n_features(estimator: Any, table: np.ndarray) -> None:
    if table.shape[1] != estimator.n_features_in_:
        raise ValueError(
            f"X has {table.shape[1]} features (columns), but {type(estimator).__name__} "
            f"was fitted with {estimator.n_features_in_}"
        )


# --------------------------------------------------------------------------- scaling


class StandardScaler:
    r"""Standardise each column to zero mean and unit variance.

    .. math::

        \mu_j = \frac{1}{n}\sum_i x_{ij}, \qquad
        \sigma_j = \sqrt{\frac{1}{n}\sum_i (x_{ij} - \mu_j)^2}, \qquad
        z_{ij} = \frac{x_{ij} - \mu_j}{\sigma_j}

    (the population standard deviation, as in scikit-learn). A constant column
    has :math:`\sigma_j = 0`; its scale is set to 1 so it becomes all zeros
    instead of NaN.

    Parameters
    ----------
    with_mean : bool, default True
        Subtract :math:`\mu_j`.
    with_std : bool, default True
        Divide by :math:`\sigma_j`.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,) or None
    var_ : ndarray of shape (n_features,) or None
    scale_ : ndarray of shape (n_features,) or None
        :math:`\sigma_j`, with 1 for constant columns.
    n_features_in_ : int
    n_samples_seen_ : int
    """

    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = bool(with_mean)
        self.with_std = bool(with_std)

    def fit(self, X: Any, y: Any = None) -> StandardScaler:
        """Compute the per-column mean and standard deviation of ``X`` (n_samples, n_features)."""
        table = _check_table("X", X, numeric=True).astype(np.float64, copy=False)
        mean = table.mean(axis=0)
        var = table.var(axis=0)
        self.n_features_in_ = table.shape[1]
        self.n_samples_seen_ = table.shape[0]
        self.mean_ = mean if self.with_mean else None
        self.var_ = var if self.with_std else None
        if self.with_std:
            scale = np.sqrt(var)
            constant = np.ptp(table, axis=0) == 0
            scale[constant] = 1.0
            self.scale_ = scale
        else:
            self.scale_ = None
        return self

    def _prepare(self, X: Any) -> np.ndarray:
        _check_fitted(self, "n_features_in_")
        table = _check_table("X", X, numeric=True)
        _check_n_features(self, table)
        # Keep float32 as float32; integers and bools become float64 (as in scikit-learn).
        return table if table.dtype.kind == "f" else table.astype(np.float64)

    def transform(self, X: Any) -> np.ndarray:
        """``z = (X - mean_) / scale_``, same shape as ``X``."""
        table = self._prepare(X)
        result = table.copy()
        if self.with_mean:
            assert self.mean_ is not None, "fit() with with_mean=True sets mean_"
            result -= self.mean_.astype(table.dtype)
        if self.with_std:
            assert self.scale_ is not None, "fit() with with_std=True sets scale_"
            result /= self.scale_.astype(table.dtype)
        return result

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: Any) -> np.ndarray:
        """``X = Z * scale_ + mean_``, undoing :meth:`transform`."""
        table = self._prepare(Z)
        result = table.copy()
        if self.with_std:
            assert self.scale_ is not None, "fit() with with_std=True sets scale_"
            result *= self.scale_.astype(table.dtype)
        if self.with_mean:
            assert self.mean_ is not None, "fit() with with_mean=True sets mean_"
            result += self.mean_.astype(table.dtype)
        return result


# --------------------------------------------------------------------------- categorical columns


class OneHotEncoder:
    """Encode categorical columns as one-hot (0/1) columns.

    A column with categories ``[c_1, ..., c_k]`` becomes ``k`` columns; the
    value ``c_m`` becomes ``e_m``, the row with a 1 in position ``m``. The output
    stacks the blocks of all input columns side by side::

        colour  size          colour_green colour_red size_large size_small
        red     small   ->    0            1          0          1
        green   large         1            0          1          0

    Parameters
    ----------
    categories : 'auto' or list of sequences
        ``'auto'``: the sorted unique values seen in ``fit``. Otherwise
        ``categories[j]`` lists the categories of column ``j`` in the order of
        its output columns (useful to keep the columns fixed even when a sample
        lacks a category).
    handle_unknown : {'error', 'ignore'}, default 'error'
        A value not seen in ``fit`` raises a ValueError (``'error'``) or is
        encoded as all zeros in its block (``'ignore'``).
    dtype : dtype, optional
        Output dtype; default ``glassnet.config.float_dtype()``.

    Attributes
    ----------
    categories_ : list of ndarray
        ``categories_[j]`` are the categories of column ``j``.
    n_features_in_ : int
    """

    def __init__(
        self,
        *,
        categories: str | Sequence[Sequence[Any]] = "auto",
        handle_unknown: str = "error",
        dtype: Any = None,
    ) -> None:
        self.categories = categories
        self.handle_unknown = check_choice("handle_unknown", handle_unknown, ("error", "ignore"))
        self.dtype = dtype

    def fit(self, X: Any, y: Any = None) -> OneHotEncoder:
        """Learn the categories of each column of ``X`` (n_samples, n_features)."""
        table = _check_table("X", X, numeric=False)
        n_features = table.shape[1]
        if isinstance(self.categories, str):
            check_choice("categories", self.categories, ("auto",))
            categories = [np.unique(table[:, j]) for j in range(n_features)]
        else:
            if len(self.categories) != n_features:
                raise ValueError(
                    f"categories has {len(self.categories)} lists but X has {n_features} columns"
                )
            categories = [np.asarray(list(c)) for c in self.categories]
            for j, column_categories in enumerate(categories):
                if len(np.unique(column_categories)) != len(column_categories):
                    raise ValueError(
                        f"categories[{j}] contains duplicates: {column_categories.tolist()}"
                    )
                if self.handle_unknown == "error":
                    self._codes(table[:, j], j, column_categories)  # raises on unknown values
        self.categories_ = categories
        self.n_features_in_ = n_features
        return self

    def _codes(self, column: np.ndarray, j: int, categories: np.ndarray) -> np.ndarray:
        """The position of each value of ``column`` in ``categories`` (-1 when unknown)."""
        position = {category: m for m, category in enumerate(categories.tolist())}
        codes = np.array([position.get(value, -1) for value in column.tolist()], dtype=np.int64)
        if self.handle_unknown == "error" and (codes < 0).any():
            unknown = sorted({str(v) for v in column[codes < 0].tolist()})
            raise ValueError(
                f"Found unknown categories {unknown[:5]} in column {j} during transform; "
                f"known categories: {categories.tolist()}. Use handle_unknown='ignore' to encode "
                "them as all zeros."
            )
        return codes

    def transform(self, X: Any) -> np.ndarray:
        """One-hot encode ``X``: shape (n_samples, sum of the numbers of categories)."""
        _check_fitted(self, "categories_")
        table = _check_table("X", X, numeric=False)
        _check_n_features(self, table)
        dtype = float_dtype() if self.dtype is None else np.dtype(self.dtype)
        blocks = []
        for j, categories in enumerate(self.categories_):
            codes = self._codes(table[:, j], j, categories)
            block = np.zeros((len(codes), len(categories)), dtype=dtype)
            known = codes >= 0
            block[np.flatnonzero(known), codes[known]] = 1
            blocks.append(block)
        return np.hstack(blocks)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        """Output column names ``f"{feature}_{category}"`` (features default to x0, x1, ...)."""
        _check_fitted(self, "categories_")
        if input_features is None:
            input_features = [f"x{j}" for j in range(self.n_features_in_)]
        elif len(input_features) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(input_features)} names but the encoder was fitted "
                f"with {self.n_features_in_} columns"
            )
        names = [
            f"{feature}_{category}"
            for feature, categories in zip(input_features, self.categories_, strict=True)
            for category in categories.tolist()
        ]
        return np.asarray(names, dtype=object)

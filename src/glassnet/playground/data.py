"""The playground's data: the 2-D problems, the input features, a user's own points.

Points live in the square ``[-DOMAIN, DOMAIN]²`` (TensorFlow Playground's ``[-6, 6]``,
where ``sin x₁`` has a few periods to offer). The classification sets come from
:mod:`glassnet.datasets` (drawn in the unit square, scaled by ``SCALE``); the
regression sets are functions of the position. Labels are 0/1 (binary), 0/1/2
(three classes) or a value in [-1, 1] (regression).

This module needs only NumPy and glassnet: an exported script imports
:func:`make_dataset` from here to get exactly the page's points.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from glassnet.datasets import make_circles, make_moons, make_spirals, make_xor, train_test_split

DOMAIN = 6.0
SCALE = 5.0


def _disc_and_ring(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """TF Playground's 'circle': a disc (label 1) inside a ring (label 0)."""
    y = (np.arange(n) % 2).astype(np.int64)
    radius = np.where(y == 1, rng.uniform(0.0, 0.5, n), rng.uniform(0.7, 1.0, n))
    angle = rng.uniform(0.0, 2 * np.pi, n)
    X = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    return X + noise * rng.standard_normal((n, 2)), y


def _blobs(n: int, noise: float, rng: np.random.Generator,
           centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One Gaussian blob per centre (standard deviation 0.1 + noise, in unit coordinates)."""
    y = (np.arange(n) % len(centres)).astype(np.int64)
    X = centres[y] + (0.1 + noise) * rng.standard_normal((n, 2))
    return X, y


def _regression(n: int, noise: float, rng: np.random.Generator, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """'plane': ``y = (x₁ + x₂)/2``; 'multigaussian': four bumps of height ±1 (both in [-1, 1])."""
    X = rng.uniform(-1.0, 1.0, (n, 2))
    if kind == "plane":
        y = (X[:, 0] + X[:, 1]) / 2
    else:
        centres = np.array([[-0.5, 0.5], [0.5, 0.5], [-0.5, -0.5], [0.5, -0.5]])
        signs = np.array([1.0, -1.0, -1.0, 1.0])
        distance2 = ((X[:, None, :] - centres[None]) ** 2).sum(axis=2)
        y = (signs * np.exp(-distance2 / (2 * 0.2**2))).sum(axis=1)
    y = np.clip(y + noise * rng.standard_normal(n), -1.0, 1.0)
    return X, y


def _unit_points(name: str, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if name == "circle":
        return _disc_and_ring(n, noise, rng)
    if name == "circles":           # the articles' data set
        return make_circles(n, noise=noise, factor=0.3, random_state=seed)
    if name == "moons":
        X, y = make_moons(n, noise=noise, random_state=seed)
        return (X - [0.5, 0.25]) / 1.5, y
    if name == "xor":
        return make_xor(n, noise=noise, random_state=seed)
    if name in ("spiral", "spiral3"):
        return make_spirals(n, n_classes=2 if name == "spiral" else 3, noise=noise * 4, random_state=seed)
    if name == "gaussian":
        return _blobs(n, noise, rng, np.array([[0.4, 0.4], [-0.4, -0.4]]))
    if name == "gaussian3":
        return _blobs(n, noise, rng, np.array([[0.0, 0.5], [-0.45, -0.3], [0.45, -0.3]]))
    if name in ("plane", "multigaussian"):
        return _regression(n, noise, rng, name)
    raise ValueError(f"dataset must be one of the playground's data sets, got {name!r}")


def make_dataset(name: str, n_points: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The page's points: ``X`` of shape (n_points, 2) in ``[-DOMAIN, DOMAIN]²`` and labels ``y``.

    Parameters
    ----------
    name : str
        'circle', 'circles', 'moons', 'xor', 'spiral', 'gaussian' (two classes),
        'spiral3', 'gaussian3' (three), 'plane', 'multigaussian' (regression).
    n_points : int
    noise : float
        Standard deviation of the noise, in units of the unit square (0 .. 0.5).
    seed : int
    """
    X, y = _unit_points(name, n_points, noise, seed)
    return np.clip(SCALE * np.asarray(X, dtype=np.float64), -DOMAIN, DOMAIN), np.asarray(y)


def split(X: np.ndarray, y: np.ndarray, train_ratio: float, seed: int, classify: bool
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Train/test split (stratified for classes); returns X_train, X_test, y_train, y_test."""
    stratify = y if classify and len(np.unique(y)) > 1 and np.bincount(y).min() >= 2 else None
    parts = train_test_split(X, y, test_size=1.0 - train_ratio, random_state=seed, stratify=stratify)
    return parts[0], parts[1], parts[2], parts[3]


# The input features: each a function of the point (x₁, x₂).
FEATURE_FUNCTIONS = {
    "x1": lambda X: X[:, 0],
    "x2": lambda X: X[:, 1],
    "x1^2": lambda X: X[:, 0] ** 2,
    "x2^2": lambda X: X[:, 1] ** 2,
    "x1x2": lambda X: X[:, 0] * X[:, 1],
    "sin_x1": lambda X: np.sin(X[:, 0]),
    "sin_x2": lambda X: np.sin(X[:, 1]),
}
FEATURE_LATEX = {"x1": "x_1", "x2": "x_2", "x1^2": "x_1^2", "x2^2": "x_2^2", "x1x2": "x_1 x_2",
                 "sin_x1": r"\sin x_1", "sin_x2": r"\sin x_2"}


def features(X: np.ndarray, names: tuple[str, ...] | list[str]) -> np.ndarray:
    """The network's input: one column per chosen feature, shape (n, len(names))."""
    return np.column_stack([FEATURE_FUNCTIONS[name](X) for name in names])


def grid(size: int) -> np.ndarray:
    """``size × size`` points covering the domain, row by row from the top (x₂ = +DOMAIN) down."""
    ticks = np.linspace(-DOMAIN, DOMAIN, size)
    x1, x2 = np.meshgrid(ticks, ticks[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


def parse_csv(text: str, max_points: int, regression: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points from a CSV of three columns ``x1, x2, label`` (a header line is allowed).

    Labels are 0, 1 (or 2) for classification, numbers in [-1, 1] for regression;
    coordinates must lie in the domain. Raises ValueError naming the line at fault.
    """
    rows = [row for row in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in row)]
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]                                   # a header line
    if not rows:
        raise ValueError("the CSV has no data rows; expected lines 'x1,x2,label'")
    if len(rows) > max_points:
        raise ValueError(f"the CSV may hold at most {max_points} points, got {len(rows)}")
    values = np.empty((len(rows), 3))
    for number, row in enumerate(rows, start=1):
        if len(row) != 3 or not all(_is_number(cell) for cell in row):
            raise ValueError(f"CSV data row {number} must be three numbers 'x1,x2,label', got {row[:4]}")
        values[number - 1] = [float(cell) for cell in row]
    if not np.isfinite(values).all():
        raise ValueError("the CSV holds a value that is not a finite number")
    if np.abs(values[:, :2]).max() > DOMAIN:
        raise ValueError(f"CSV coordinates must lie in [-{DOMAIN:g}, {DOMAIN:g}]")
    labels = values[:, 2]
    if regression:
        if np.abs(labels).max() > 1:
            raise ValueError("CSV labels of a regression must lie in [-1, 1]")
        return values[:, :2], labels
    if not np.isin(labels, (0.0, 1.0, 2.0)).all():
        raise ValueError("CSV labels must be 0, 1 or 2 (the class of the point)")
    return values[:, :2], labels.astype(np.int64)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

"""Measure how often the README's quick start reaches its accuracy, seed by seed.

Runs the README's quick-start script (the articles' circles network, 50 epochs of
Adam on ``make_circles(..., random_state=0)``) once for each training seed
``set_random_seed(s)``, ``s`` in ``0 .. N-1``, and prints how many runs reach a test
accuracy of at least 0.97, and the worst runs with their seeds.

Usage::

    python scripts/quickstart_success_rate.py [--seeds 1000]
"""

from __future__ import annotations

import argparse

import numpy as np

from glassnet.datasets import make_circles, train_test_split
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.utils import set_random_seed

TARGET = 0.97


def quick_start(seed: int, data: tuple[np.ndarray, ...]) -> float:
    """The README's quick start after ``set_random_seed(seed)``: its test accuracy."""
    X_train, X_test, y_train, y_test = data
    set_random_seed(seed)
    model = Sequential()
    model.add(Dense(4, input_dim=2, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(4, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=50, verbose=0)
    _, accuracy = model.evaluate(X_test, y_test, verbose=0)
    return float(accuracy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=1000, help="seeds 0 .. N-1 (default 1000)")
    args = parser.parse_args()
    X, y = make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=0)
    data = train_test_split(X, y, test_size=0.1, random_state=0)
    accuracy = np.array([quick_start(seed, data) for seed in range(args.seeds)])
    reached = int(np.count_nonzero(accuracy >= TARGET))
    print(f"{reached} of {args.seeds} seeds reach a test accuracy >= {TARGET}")
    worst = np.argsort(accuracy, kind="stable")[:5]
    print("worst: " + ", ".join(f"seed {s}: {accuracy[s]:.2f}" for s in worst))


if __name__ == "__main__":
    main()

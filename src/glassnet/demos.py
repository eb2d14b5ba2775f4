"""The articles' three worked examples, each a function and a ``glassnet demo`` command.

- :func:`circles`: two rings of points separated by a 2-4-6-6-4-1 network
  (ReLU hidden layers, sigmoid output, binary cross-entropy, Adam), the exact
  Keras script from the article.
- :func:`digit9`: "is this digit a 9?", one sigmoid unit on 784 MNIST pixels
  (logistic regression trained by gradient descent).
- :func:`fruit`: a farmer's apples, bananas and oranges by weight, colour,
  texture and size; two ReLU hidden layers and a softmax output.

Each prints the model summary and the training progress and ends with the line
``test accuracy: <value>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from glassnet import datasets
from glassnet.callbacks import History
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.utils import set_random_seed


@dataclass
class DemoResult:
    """What a demo trained and how well it did."""

    model: Sequential
    history: History
    test_accuracy: float
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    baseline_accuracy: float | None = None
    input_names: list[str] | None = None    # a name per input column, for the pictures
    output_names: list[str] | None = None   # a name per class


def circles(seed: int = 0, epochs: int = 50, verbose: Any = "auto") -> DemoResult:
    """The article's circles network, trained with its exact Keras script.

    Data: ``make_circles(n_samples=1000, factor=0.3, noise=0.1)``, 10% held out.
    """
    set_random_seed(seed)
    X, y = datasets.make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=0.1, random_state=seed
    )
    model = Sequential()
    model.add(Dense(4, input_dim=2, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(4, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    if verbose:
        model.summary()
    history = model.fit(X_train, y_train, epochs=epochs, verbose=verbose)
    # With one metric, evaluate returns [loss, accuracy].
    _, accuracy = cast("list[float]", model.evaluate(X_test, y_test, verbose=0))
    return DemoResult(model, history, float(accuracy), X_train, y_train, X_test, y_test)


def digit9(seed: int = 0, epochs: int = 20, path: Any = None, verbose: Any = "auto") -> DemoResult:
    """The article's "is it a 9?" network: ``a = σ(x·w + b)`` over 784 pixels.

    Trained by plain mini-batch gradient descent (``'sgd'``) on the MNIST slice
    shipped with glassnet (or the files at ``path``). Reports the accuracy of
    always answering "not a 9" next to it: about 0.9, since 9s are a tenth of
    the digits, so accuracy alone flatters a lazy model.
    """
    from glassnet.optimizers import SGD

    set_random_seed(seed)
    X, y = datasets.load_mnist(path, binary_digit=9)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=seed
    )
    model = Sequential([Dense(1, input_dim=X.shape[1], activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(learning_rate=0.1),
                  metrics=["accuracy"])
    if verbose:
        model.summary()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=32, verbose=verbose)
    # With one metric, evaluate returns [loss, accuracy].
    _, accuracy = cast("list[float]", model.evaluate(X_test, y_test, verbose=0))
    baseline = float(np.mean(y_test == 0))
    return DemoResult(model, history, float(accuracy), X_train, y_train, X_test, y_test, baseline)


def fruit(seed: int = 0, epochs: int = 60, verbose: Any = "auto") -> DemoResult:
    """The farmer's fruit classifier: 10 input columns, two ReLU layers, softmax over 3 fruits."""
    set_random_seed(seed)
    X, y = datasets.load_fruit_features(n_samples=600, random_state=seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=seed
    )
    model = Sequential([
        Dense(8, input_dim=X.shape[1], activation="relu"),
        Dense(8, activation="relu"),
        Dense(3, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    if verbose:
        model.summary()
    history = model.fit(X_train, y_train, epochs=epochs, batch_size=16, verbose=verbose)
    # With one metric, evaluate returns [loss, accuracy].
    _, accuracy = cast("list[float]", model.evaluate(X_test, y_test, verbose=0))
    columns = ["weight", *(f"{name}_{value}" for name, values in datasets.FRUIT_CATEGORIES.items()
                           for value in values)]   # load_fruit_features' column order
    return DemoResult(model, history, float(accuracy), X_train, y_train, X_test, y_test,
                      input_names=columns, output_names=["apple", "banana", "orange"])


DEMOS: dict[str, Callable[..., DemoResult]] = {"circles": circles, "digit9": digit9, "fruit": fruit}

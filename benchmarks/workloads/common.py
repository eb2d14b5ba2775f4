"""The networks and training loops every workload shares, for each library.

Each peer is written the way a competent user of that library would write it
(no tricks that a glassnet user could not also use):

* **glassnet**: ``Sequential`` + ``compile`` + ``fit(..., verbose=0, shuffle=True)``.
* **PyTorch eager**: ``nn.Sequential``, a ``torch.randperm`` shuffle per epoch,
  ``X[idx]`` batch gather, ``zero_grad / loss.backward() / step()``, and
  ``loss.item()`` each step (``fit`` also computes every batch loss).
* **scikit-learn**: ``MLPClassifier(solver='adam', alpha=0)`` on float32 input,
  one epoch per ``partial_fit`` call.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

MNIST_LAYERS = (784, 256, 128, 10)
CIRCLES_LAYERS = (2, 4, 6, 6, 4, 1)


@dataclass
class Settings:
    """What ``run.py`` passes to every workload."""

    quick: bool
    repeats: int
    peak_gflops: float | None
    mnist_path: str | None
    threads: int


# ------------------------------------------------------------------ data
def random_mnist_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``X`` float32 ``(n, 784)`` uniform in [0, 1) like scaled pixels; ``y`` int64 class ids.

    The labels come from a fixed random *teacher* network (784-64-10, tanh), so there is
    something to learn and the loss falls, as on real data. Random labels are not a fair
    workload: on them the MLP dies within an epoch (every hidden ReLU off, loss stuck at
    ln 10) and most of Adam's moments end as subnormal floats, which slows some updates.
    """
    rng = np.random.default_rng(seed)
    X = rng.random((n, 784), dtype=np.float32)
    return X, teacher_labels(X)


def teacher_labels(X: np.ndarray, classes: int = 10, seed: int = 1234) -> np.ndarray:
    """``argmax(tanh((X - 0.5)·W1)·W2)`` of a fixed random network: learnable, balanced classes."""
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((X.shape[1], 64)) / np.sqrt(X.shape[1] / 12.0)
    W2 = rng.standard_normal((64, classes))
    return np.argmax(np.tanh((X - 0.5) @ W1) @ W2, axis=1).astype(np.int64)


def circles(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The articles' data: two rings, ``factor=0.3``, ``noise=0.1``; float32 ``X``, 0/1 ``y``."""
    from glassnet.datasets import make_circles

    X, y = make_circles(n_samples=n, factor=0.3, noise=0.1, random_state=seed)
    return X.astype(np.float32), y.astype(np.float32)


def gemm_flops_per_sample(layers: tuple[int, ...]) -> int:
    """FLOPs of the matrix products of one training example through a Dense stack.

    Forward ``Z = A·W`` costs ``2·n_in·n_out`` per example and layer; backward
    ``dW = Aᵀ·dZ`` the same again, and ``dA_prev = dZ·Wᵀ`` the same for every layer
    but the first (nobody needs the gradient with respect to the input). Biases,
    activations and the optimizer are not counted.
    """
    sizes = [n_in * n_out for n_in, n_out in zip(layers[:-1], layers[1:], strict=True)]
    return 2 * sum(sizes) + 2 * sum(sizes) + 2 * sum(sizes[1:])


# ------------------------------------------------------------------ glassnet
def glassnet_model(layers: tuple[int, ...], output: str, optimizer: Any, seed: int,
                   metrics: list[str] | None = None):
    """A compiled glassnet ``Sequential`` of ReLU Dense layers ending in ``output``."""
    from glassnet.layers import Dense
    from glassnet.models import Sequential
    from glassnet.utils import set_random_seed

    set_random_seed(seed)
    model = Sequential()
    model.add(Dense(layers[1], input_dim=layers[0], activation="relu"))
    for units in layers[2:-1]:
        model.add(Dense(units, activation="relu"))
    model.add(Dense(layers[-1], activation=output))
    loss = "sparse_categorical_crossentropy" if output == "softmax" else "binary_crossentropy"
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    return model


def glassnet_optimizer(name: str, learning_rate: float):
    from glassnet import optimizers

    return optimizers.Adam(learning_rate) if name == "adam" else optimizers.SGD(learning_rate)


# ------------------------------------------------------------------ PyTorch
def torch_model(layers: tuple[int, ...], output: str, seed: int):
    """``nn.Sequential`` of Linear+ReLU; the output is raw scores for softmax (the loss
    applies log-softmax) and ``Sigmoid`` for a binary output."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    modules: list[nn.Module] = []
    for n_in, n_out in zip(layers[:-2], layers[1:-1], strict=True):
        modules += [nn.Linear(n_in, n_out), nn.ReLU()]
    modules.append(nn.Linear(layers[-2], layers[-1]))
    if output == "sigmoid":
        modules.append(nn.Sigmoid())
    return nn.Sequential(*modules)


def torch_optimizer(model, name: str, learning_rate: float, fused: bool = False):
    import torch

    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=learning_rate, fused=fused or None)
    return torch.optim.SGD(model.parameters(), lr=learning_rate)


class TorchTrainer:
    """The PyTorch training loop, one epoch per call (or one step on a fixed batch)."""

    def __init__(self, model, optimizer, X: np.ndarray, y: np.ndarray, batch_size: int,
                 output: str, accuracy: bool = False) -> None:
        import torch
        from torch import nn

        self.torch = torch
        self.model, self.optimizer = model, optimizer
        self.X = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
        if output == "softmax":
            self.y = torch.from_numpy(np.asarray(y, dtype=np.int64))
            self.loss_fn: Any = nn.CrossEntropyLoss()
        else:
            self.y = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1, 1))
            self.loss_fn = nn.BCELoss()
        self.batch_size = batch_size
        self.accuracy = accuracy
        self.output = output

    def step(self, xb, yb) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(xb)
        loss = self.loss_fn(out, yb)
        loss.backward()
        self.optimizer.step()
        if self.accuracy:
            with self.torch.no_grad():
                if self.output == "softmax":
                    self.correct += int((out.argmax(dim=1) == yb).sum())
                else:
                    self.correct += int(((out > 0.5) == (yb > 0.5)).sum())
        return loss.item()

    def epoch(self) -> float:
        """One shuffled pass; returns the mean batch loss (as ``fit`` reports it)."""
        n = len(self.X)
        order = self.torch.randperm(n)
        total = 0.0
        self.correct = 0
        for start in range(0, n, self.batch_size):
            index = order[start:start + self.batch_size]
            total += self.step(self.X[index], self.y[index]) * len(index)
        return total / n


# ------------------------------------------------------------------ scikit-learn
def sklearn_model(batch_size: int, seed: int, epochs: int = 1):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=(256, 128), activation="relu", solver="adam", alpha=0.0,
        batch_size=batch_size, learning_rate_init=1e-3, max_iter=epochs, shuffle=True,
        random_state=seed,
    )


def quietly(function, *args, **kwargs):
    """Call ``function`` with scikit-learn's ConvergenceWarning (max_iter reached) silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return function(*args, **kwargs)

"""D. Real data: the MNIST test set (10,000 digits), split 8,000 train / 2,000 held out.

Each library trains 784-256-128-10 (ReLU, softmax cross-entropy, Adam 1e-3,
batch 128) for the same number of epochs from its own default initialisation,
then classifies the 2,000 held-out digits. Every round uses a new seed for
every library, so the spread of the accuracies is the noise a reader should
compare the differences with.

The files are looked for in ``--mnist PATH``, else in ``../shared/data/mnist``
beside the checkout; without them the workload is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Case, Target, log, summary

from workloads import common

DEFAULT_PATH = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist"


def find_mnist(path: str | None) -> Path | None:
    candidate = Path(path) if path else DEFAULT_PATH
    return candidate.resolve() if candidate.exists() else None


def _glassnet(X_train, y_train, X_test, y_test, epochs: int, seed: int) -> float:
    model = common.glassnet_model(common.MNIST_LAYERS, "softmax",
                                  common.glassnet_optimizer("adam", 1e-3), seed)
    model.fit(X_train, y_train, batch_size=128, epochs=epochs, verbose=0, shuffle=True)
    return float(np.mean(model.predict(X_test).argmax(axis=1) == y_test))


def _torch(X_train, y_train, X_test, y_test, epochs: int, seed: int) -> float:
    import torch

    net = common.torch_model(common.MNIST_LAYERS, "softmax", seed)
    trainer = common.TorchTrainer(net, common.torch_optimizer(net, "adam", 1e-3), X_train,
                                  y_train, 128, "softmax")
    for _ in range(epochs):
        trainer.epoch()
    with torch.no_grad():
        predicted = net(torch.from_numpy(X_test)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y_test))


def _sklearn(X_train, y_train, X_test, y_test, epochs: int, seed: int) -> float:
    classifier = common.sklearn_model(128, seed, epochs=epochs)
    common.quietly(classifier.fit, X_train, y_train)
    return float(np.mean(classifier.predict(X_test) == y_test))


def run(settings: common.Settings) -> dict[str, Any]:
    path = find_mnist(settings.mnist_path)
    if path is None:
        message = (f"D: skipped: no MNIST files at {settings.mnist_path or DEFAULT_PATH} "
                   "(give --mnist PATH)")
        log(message)
        return {"title": "D. Real MNIST", "skipped": message, "cases": [], "targets": []}
    from glassnet.datasets import load_mnist

    X, y = load_mnist(path)
    X = X.astype(np.float32)
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:8000], order[8000:10000]
    X_train, y_train, X_test, y_test = X[train], y[train], X[test], y[test]
    epochs = 1 if settings.quick else 5
    trainers = {"glassnet": _glassnet}
    for name, module, function in (("torch", "torch", _torch), ("sklearn", "sklearn", _sklearn)):
        try:
            __import__(module)
            trainers[name] = function
        except ImportError:
            log(f"D: {module} not installed; skipping it")
    rounds = max(3, settings.repeats if not settings.quick else 2)
    seconds: dict[str, list[float]] = {who: [] for who in trainers}
    accuracy: dict[str, list[float]] = {who: [] for who in trainers}
    log(f"D: {len(X_train)} train / {len(X_test)} test digits from {path}, {epochs} epoch(s), "
        f"{rounds} seeds")
    names = list(trainers)
    for round_index in range(rounds):
        for who in names if round_index % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            accuracy[who].append(trainers[who](X_train, y_train, X_test, y_test, epochs,
                                               round_index))
            seconds[who].append(time.perf_counter() - start)
    case = Case(f"train {epochs} epoch{'s' if epochs != 1 else ''} + predict", "s/run", seconds)
    case.extra["accuracy"] = {who: summary(values) for who, values in accuracy.items()}
    case.extra["notes"] = {
        who: f"accuracy {np.median(v):.4f} ({min(v):.4f}..{max(v):.4f})"
        for who, v in accuracy.items()
    }
    result = case.to_json()
    targets = []
    ours = np.median(accuracy["glassnet"])
    for peer in names[1:]:
        targets.append(Target("D", f"accuracy minus {peer}'s (median over seeds)",
                              float(ours - np.median(accuracy[peer])), -0.01, unit=""))
    return {"title": "D. Real MNIST (8k train / 2k test from the 10k test set)",
            "data": str(path), "cases": [result], "targets": targets}

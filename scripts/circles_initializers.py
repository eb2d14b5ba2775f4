"""Measure how often the articles' circles script gets stuck, per initialiser choice.

Writes one line per candidate: runs reaching test accuracy >= 0.97, out of the total,
and the worst run. The numbers are in docs/keras-differences.md.

    python scripts/circles_initializers.py [--runs-per-seed 30]
"""

import argparse

from glassnet import datasets, initializers
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.utils import set_random_seed

CANDIDATES = {
    "glorot_uniform / zeros (Keras)": ("glorot_uniform", "zeros"),
    "he_uniform / 0.1": ("he_uniform", initializers.Constant(0.1)),
    "glorot_uniform / 0.1 (glassnet)": ("glorot_uniform", initializers.Constant(0.1)),
}


def test_accuracy(data_seed: int, init_seed: int, kernel, bias) -> float:
    set_random_seed(init_seed)
    X, y = datasets.make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=data_seed)
    X_train, X_test, y_train, y_test = datasets.train_test_split(
        X, y, test_size=0.1, random_state=data_seed
    )
    model = Sequential()
    kw = {"kernel_initializer": kernel, "bias_initializer": bias}
    model.add(Dense(4, input_dim=2, activation="relu", **kw))
    model.add(Dense(6, activation="relu", **kw))
    model.add(Dense(6, activation="relu", **kw))
    model.add(Dense(4, activation="relu", **kw))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=50, verbose=0)
    return model.evaluate(X_test, y_test, verbose=0)[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs-per-seed", type=int, default=30)
    args = parser.parse_args()
    for name, (kernel, bias) in CANDIDATES.items():
        accuracies = [
            test_accuracy(data_seed, 1000 + run * 10 + data_seed, kernel, bias)
            for run in range(args.runs_per_seed)
            for data_seed in range(10)
        ]
        good = sum(a >= 0.97 for a in accuracies)
        print(f"{name:34s} {good} / {len(accuracies)}  worst {min(accuracies):.2f}", flush=True)


if __name__ == "__main__":
    main()

"""Callbacks: the articles' stopping criteria and Keras's usual helpers."""

import csv

import numpy as np
import pytest

from glassnet.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    LearningRateScheduler,
    ReduceLROnPlateau,
    StopAtTarget,
    TerminateOnNaN,
    TimeLimit,
)
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.optimizers import SGD

pytestmark = pytest.mark.usefixtures("array_backend")


def regression(lr=0.01):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=64)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer=SGD(learning_rate=lr), loss="mse")
    return model, X, y


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append("train_begin")

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(f"epoch_begin {epoch}")

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(f"batch_end {batch} {logs['loss'] > 0}")

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(f"epoch_end {epoch} {sorted(logs)}")

    def on_train_end(self, logs=None):
        self.calls.append("train_end")


def test_hooks_are_called_in_keras_order():
    model, X, y = regression()
    recorder = Recorder()
    model.fit(X, y, epochs=2, batch_size=32, callbacks=[recorder], verbose=0)
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 0", "batch_end 0 True", "batch_end 1 True", "epoch_end 0 ['loss']",
        "epoch_begin 1", "batch_end 0 True", "batch_end 1 True", "epoch_end 1 ['loss']",
        "train_end",
    ]
    assert recorder.model is model and recorder.params["epochs"] == 2


def test_early_stopping_stops_and_says_why(capsys):
    model, X, y = regression(lr=1e-9)  # nothing improves meaningfully
    stop = EarlyStopping(monitor="loss", min_delta=1.0, patience=2)
    history = model.fit(X, y, epochs=20, callbacks=[stop], verbose=0)
    assert len(history.epoch) == 3
    out = capsys.readouterr().out
    assert "Epoch 3: early stopping" in out
    assert history.stopped_reason.startswith("Epoch 3: early stopping")


def test_restore_best_weights_even_without_stopping():
    model, X, y = regression(lr=0.05)
    snapshots = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: snapshots.append(
        (logs["loss"], model.get_weights())))
    # An increasing learning rate makes the last epochs worse than the best one.
    grow = LearningRateScheduler(lambda epoch, lr: 0.05 if epoch < 3 else 1.5)
    stop = EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    model.fit(X, y, epochs=6, callbacks=[grow, keep, stop], verbose=0)
    best_loss, best_weights = min(snapshots, key=lambda item: item[0])
    assert snapshots[-1][0] > best_loss
    for a, b in zip(model.get_weights(), best_weights, strict=True):
        np.testing.assert_array_equal(a, b)


def test_time_limit_stops_within_a_batch(capsys):
    model, X, y = regression()
    history = model.fit(X, y, epochs=10_000, batch_size=1, callbacks=[TimeLimit(0.2)], verbose=0)
    assert len(history.epoch) < 10_000
    assert "time limit of 0.2 s reached" in capsys.readouterr().out


def test_stop_at_target_is_the_optimal_solution_criterion(capsys):
    model, X, y = regression(lr=0.05)
    history = model.fit(X, y, epochs=500, callbacks=[StopAtTarget("loss", 0.05)], verbose=0)
    assert history.history["loss"][-1] <= 0.05
    assert all(value > 0.05 for value in history.history["loss"][:-1])
    assert "target reached" in capsys.readouterr().out


def test_terminate_on_nan_and_divergence_is_reported(capsys):
    model, X, y = regression(lr=1e6)
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = model.fit(X * 1e3, y, epochs=5, callbacks=[TerminateOnNaN()], verbose=0)
    assert len(history.epoch) < 5  # stopped at the first non-finite batch loss
    assert not np.isfinite(history.history["loss"][-1])
    assert "invalid loss" in capsys.readouterr().out


def test_csv_logger(tmp_path):
    model, X, y = regression()
    path = tmp_path / "log.csv"
    model.fit(X, y, epochs=3, validation_split=0.25, callbacks=[CSVLogger(path)], verbose=0)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "loss", "val_loss"]
    assert [row[0] for row in rows[1:]] == ["0", "1", "2"]


def test_reduce_lr_on_plateau():
    model, X, y = regression(lr=1e-9)
    reduce = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=1.0)
    history = model.fit(X, y, epochs=4, callbacks=[reduce], verbose=0)
    assert history.history["learning_rate"][-1] < 1e-9


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(ValueError, match="on_epoch_end"):
        LambdaCallback(on_epoch_ends=lambda epoch, logs: None)


def test_lambda_callback_batch_hooks_are_called():
    model, X, y = regression()
    seen = []
    hook = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append((batch, logs["loss"])))
    model.fit(X, y, epochs=1, batch_size=16, callbacks=[hook], verbose=0)
    assert [batch for batch, _ in seen] == [0, 1, 2, 3]
    assert all(loss > 0 for _, loss in seen)

"""Checkpoint and resume, and Ctrl-C during fit.

The resume tests prove that a run interrupted after epoch ``k`` and resumed from its
checkpoint (``load_model`` then ``fit(..., initial_epoch=model.epochs_trained)``) ends
with *bitwise* the same weights as a run that was never interrupted. The model uses
Adam (moments and step count), ``shuffle=True`` (the shuffling generator) and Dropout
(the mask generator), so every piece of saved training state has to be restored
exactly for the weights to match.
"""

import os
import signal

import numpy as np
import pytest

from glassnet.callbacks import Callback, ModelCheckpoint
from glassnet.layers import Dense, Dropout
from glassnet.models import Sequential, load_model
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")

EPOCHS = 6
FIT = {"batch_size": 16, "shuffle": True, "verbose": 0}


def _data():
    rng = np.random.default_rng(42)
    X = rng.normal(size=(100, 4)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1)
    return X, y


def _model(optimizer="adam"):
    set_random_seed(2024)
    model = Sequential([
        Dense(16, input_dim=4, activation="relu"),
        Dropout(0.3),
        Dense(8, activation="tanh"),
        Dropout(0.1),
        Dense(3, activation="softmax"),
    ])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


def _uninterrupted(optimizer="adam", **fit_args):
    X, y = _data()
    model = _model(optimizer)
    history = model.fit(X, y, epochs=EPOCHS, **FIT, **fit_args)
    return model, history


class StopAfterEpoch(Callback):
    """Ends the run cleanly after ``epochs`` epochs (as EarlyStopping would)."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.model.stop_training = True


class CrashAfterEpoch(StopAfterEpoch):
    """Simulates the process dying after ``epochs`` epochs (after the checkpoint)."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            raise SystemExit("power cut")


def _assert_bitwise_equal(model, reference):
    for got, expected in zip(model.get_weights(), reference.get_weights(), strict=True):
        assert got.dtype == expected.dtype
        assert np.array_equal(got, expected), np.abs(got - expected).max()


@pytest.mark.parametrize("k", [1, 3, 5])
def test_resume_after_a_clean_stop_is_bitwise_identical(tmp_path, k):
    reference, reference_history = _uninterrupted()
    X, y = _data()
    path = tmp_path / "ckpt.glassnet"
    first = _model()
    first.fit(X, y, epochs=EPOCHS, **FIT,
              callbacks=[ModelCheckpoint(path, monitor="loss"), StopAfterEpoch(k)])
    assert first.epochs_trained == k
    del first

    resumed = load_model(path)
    assert resumed.epochs_trained == k
    history = resumed.fit(X, y, epochs=EPOCHS, initial_epoch=resumed.epochs_trained, **FIT)
    _assert_bitwise_equal(resumed, reference)
    assert resumed.epochs_trained == EPOCHS
    assert history.epoch == list(range(k, EPOCHS))
    assert history.history["loss"] == reference_history.history["loss"][k:]
    assert history.history["accuracy"] == reference_history.history["accuracy"][k:]


def test_resume_after_a_crash_with_validation_split(tmp_path):
    fit_args = {"validation_split": 0.2}
    reference, reference_history = _uninterrupted(**fit_args)
    X, y = _data()
    path = tmp_path / "ckpt-{epoch:02d}.glassnet"
    with pytest.raises(SystemExit):
        _model().fit(X, y, epochs=EPOCHS, **FIT, **fit_args,
                     callbacks=[ModelCheckpoint(path, monitor="loss"), CrashAfterEpoch(2)])
    assert sorted(os.listdir(tmp_path)) == ["ckpt-01.glassnet", "ckpt-02.glassnet"]
    resumed = load_model(tmp_path / "ckpt-02.glassnet")
    history = resumed.fit(X, y, epochs=EPOCHS, initial_epoch=resumed.epochs_trained, **FIT, **fit_args)
    _assert_bitwise_equal(resumed, reference)
    assert history.history["val_loss"] == reference_history.history["val_loss"][2:]


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "nadam", "adamw"])
def test_resume_is_bitwise_for_other_optimizers(tmp_path, optimizer):
    reference, _ = _uninterrupted(optimizer)
    X, y = _data()
    path = tmp_path / "ckpt.glassnet"
    _model(optimizer).fit(X, y, epochs=EPOCHS, **FIT,
                          callbacks=[ModelCheckpoint(path), StopAfterEpoch(2)])
    resumed = load_model(path)
    resumed.fit(X, y, epochs=EPOCHS, initial_epoch=resumed.epochs_trained, **FIT)
    _assert_bitwise_equal(resumed, reference)


def test_resuming_in_the_same_process_is_bitwise_too():
    reference, _ = _uninterrupted()
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=EPOCHS, **FIT, callbacks=[StopAfterEpoch(2)])
    model.fit(X, y, epochs=EPOCHS, initial_epoch=model.epochs_trained, **FIT)
    _assert_bitwise_equal(model, reference)


def test_the_resume_test_would_notice_a_lost_optimizer_state(tmp_path):
    """A control: resuming *without* the optimizer state must not match, so the
    bitwise tests above are able to fail."""
    reference, _ = _uninterrupted()
    X, y = _data()
    path = tmp_path / "ckpt.glassnet"
    first = _model()
    first.fit(X, y, epochs=EPOCHS, **FIT, callbacks=[StopAfterEpoch(2)])
    first.save(path, include_optimizer=False)
    resumed = load_model(path)
    resumed.fit(X, y, epochs=EPOCHS, initial_epoch=resumed.epochs_trained, **FIT)
    assert not np.array_equal(resumed.get_weights()[0], reference.get_weights()[0])


# --------------------------------------------------------------------------- Ctrl-C
class CtrlCAtBatch(Callback):
    """Sends SIGINT to this process, as Ctrl-C in a terminal does, after batch number ``at``
    (counted over the whole run, from 1)."""

    def __init__(self, at):
        super().__init__()
        self.at = at
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if self.batches == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def _ctrl_c_run(at, **fit_args):
    X, y = _data()
    model = _model()
    ctrl_c = CtrlCAtBatch(at)
    handler_before = signal.getsignal(signal.SIGINT)
    history = model.fit(X, y, epochs=EPOCHS, batch_size=16, verbose=0, callbacks=[ctrl_c], **fit_args)
    assert signal.getsignal(signal.SIGINT) is handler_before  # fit puts the handler back
    return model, history, ctrl_c


def test_ctrl_c_stops_after_the_current_batch_and_keeps_weights_and_history(capsys):
    steps = 7  # ceil(100 / 16)
    model, history, ctrl_c = _ctrl_c_run(at=steps + 3)  # during the second epoch
    assert ctrl_c.batches == steps + 3  # not one batch more
    out = capsys.readouterr().out
    assert "Interrupted (Ctrl-C) during epoch 2" in out
    assert "the weights and the history so far are kept" in out
    assert history.stopped_reason.startswith("Interrupted (Ctrl-C)")
    assert history.epoch == [0, 1]
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert np.isfinite(model.parameters).all()
    # The model is usable: it predicts and trains on.
    X, y = _data()
    assert np.isfinite(model.predict(X)).all()
    model.fit(X, y, epochs=1, verbose=0)


def test_ctrl_c_leaves_epochs_trained_counting_only_complete_epochs():
    """Epoch 2 was cut short, so only one epoch is complete; resuming with
    initial_epoch=model.epochs_trained must run epoch 2 again, not skip it."""
    model, _, _ = _ctrl_c_run(at=7 + 3)
    assert model.epochs_trained == 1


def test_ctrl_c_at_the_last_batch_of_an_epoch_keeps_that_epoch(capsys):
    model, history, _ = _ctrl_c_run(at=7)
    assert history.epoch == [0]
    assert model.epochs_trained == 1
    assert "Interrupted (Ctrl-C) during epoch 1" in capsys.readouterr().out


def test_ctrl_c_history_keeps_every_key_the_same_length():
    """With validation, the interrupted epoch must not leave 'val_loss' one entry
    shorter than 'loss' (plots and DataFrames of the history would break)."""
    _, history, _ = _ctrl_c_run(at=5 + 3, validation_split=0.2)  # 5 steps per epoch
    lengths = {key: len(values) for key, values in history.history.items()}
    assert len(set(lengths.values())) == 1, lengths

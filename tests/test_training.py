"""The training loop (glassnet.training): hooks, stopping, Ctrl-C, divergence, class weights,
dtypes and rebuilding the optimizer, as a Keras user meets them."""

import math
import os
import signal
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from glassnet import config, optimizers
from glassnet.callbacks import Callback, ModelCheckpoint, ReduceLROnPlateau
from glassnet.layers import Dense, Dropout
from glassnet.models import Sequential, load_model
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.numpy_only("fit's loop and its signals are backend-independent code")


def _data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(float)
    return X, y


def _model(seed=0, optimizer="adam"):
    set_random_seed(seed)
    model = Sequential([Dense(8, input_dim=4, activation="tanh"), Dropout(0.2, seed=1),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizer, metrics=["accuracy"])
    return model


# --------------------------------------------------------------------------- hooks
def test_on_gradients_runs_between_backward_and_the_update():
    """With plain SGD the update is θ := θ - α·∂J/∂θ, so the gradient the hook sees must be
    exactly what the optimizer then used."""
    X, y = _data()
    model = _model(optimizer=optimizers.SGD(learning_rate=0.1))
    seen = []

    class Watch(Callback):
        def on_gradients(self, batch, logs=None):
            seen.append((batch, self.model.parameters.copy(), self.model.gradients.copy()))

        def on_train_batch_end(self, batch, logs=None):
            _, before, gradient = seen[-1]
            np.testing.assert_allclose(self.model.parameters, before - np.float32(0.1) * gradient,
                                       rtol=1e-6, atol=1e-7)

    model.fit(X, y, epochs=2, batch_size=32, verbose=0, callbacks=[Watch()])
    assert [batch for batch, _, _ in seen] == [0, 1, 2, 3] * 2
    assert all(np.abs(gradient).max() > 0 for _, _, gradient in seen)


def test_evaluate_and_predict_fire_keras_test_and_predict_hooks():
    X, y = _data(n=3000)
    model = _model()
    calls = []

    class Record(Callback):
        def __getattribute__(self, name):
            if name.startswith(("on_test", "on_predict")):
                return lambda *args: calls.append(name)
            return super().__getattribute__(name)

    model.evaluate(X, y, verbose=0, batch_size=1024, callbacks=[Record()])
    assert calls == ["on_test_begin"] + ["on_test_batch_begin", "on_test_batch_end"] * 3 + ["on_test_end"]
    calls.clear()
    out = model.predict(X, batch_size=2000, callbacks=[Record()])
    assert out.shape == (3000, 1)
    assert calls == ["on_predict_begin"] + ["on_predict_batch_begin", "on_predict_batch_end"] * 2 + [
        "on_predict_end"]
    calls.clear()
    model.fit(X[:100], y[:100], epochs=1, verbose=0, validation_split=0.2, callbacks=[Record()])
    assert calls[0] == "on_test_begin" and calls[-1] == "on_test_end"  # validation is a test


def test_a_callback_stops_training_through_the_public_api():
    X, y = _data()
    model = _model()

    class StopAtBatch3(Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                self.model.request_stop("enough after three batches")

    history = model.fit(X, y, epochs=5, batch_size=16, verbose=0, callbacks=[StopAtBatch3()])
    assert history.stopped_reason == "enough after three batches" == model.stop_reason
    assert model.stop_training and history.epoch == [0]


# --------------------------------------------------------------------------- Ctrl-C
class CtrlC(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_mid_epoch_then_fit_again_continues_exactly(tmp_path, capsys):
    """SIGINT at batch 5 of epoch 3: nothing is checkpointed as epoch 3, and fitting again
    from model.epochs_trained gives bitwise the weights of a run never interrupted."""
    X, y = _data()
    fit = dict(epochs=5, batch_size=16, verbose=0)
    reference = _model()
    reference.fit(X, y, **fit)

    model = _model()
    checkpoint = ModelCheckpoint(str(tmp_path / "ck-{epoch}.glassnet"), verbose=1)
    model.fit(X, y, callbacks=[CtrlC(epoch=2, batch=4), checkpoint], **fit)
    out = capsys.readouterr().out
    assert "stopped after batch 5 of 8" in out and "not saving" in out
    assert model.epochs_trained == 2 and model.interrupted_epoch == 2
    assert sorted(os.listdir(tmp_path)) == ["ck-1.glassnet", "ck-2.glassnet"]

    history = model.fit(X, y, initial_epoch=model.epochs_trained, **fit)
    assert history.epoch == [2, 3, 4] and model.epochs_trained == 5
    assert np.array_equal(model.parameters, reference.parameters)
    np.testing.assert_allclose(history.history["loss"], reference.history.history["loss"][2:], rtol=1e-6)

    # and the checkpoint of the last whole epoch resumes exactly too
    resumed = load_model(tmp_path / "ck-2.glassnet")
    resumed.fit(X, y, initial_epoch=resumed.epochs_trained, **fit)
    assert np.array_equal(resumed.parameters, reference.parameters)


def test_a_partial_epoch_never_replaces_the_best_checkpoint(tmp_path):
    X, y = _data()
    model = _model()
    best = tmp_path / "best.glassnet"
    checkpoint = ModelCheckpoint(str(best), monitor="loss", save_best_only=True)
    model.fit(X, y, epochs=4, batch_size=16, verbose=0, callbacks=[CtrlC(epoch=3, batch=0), checkpoint])
    assert load_model(best).epochs_trained == 3


def test_saving_a_model_stopped_mid_epoch_says_what_the_file_holds(tmp_path):
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[CtrlC(epoch=1, batch=2)])
    with pytest.warns(RuntimeWarning, match="part-way through epoch 2"):
        model.save(tmp_path / "m.glassnet")


# --------------------------------------------------------------------------- divergence
def test_a_diverged_run_is_reported_once_and_stops_and_callbacks_keep_calm(tmp_path):
    """SGD at lr=1e6 with ModelCheckpoint and ReduceLROnPlateau: one 'diverged' warning, at most
    one checkpoint warning, no 29 epochs trained on NaN, and the learning rate left alone."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)) * 100
    y = X @ np.array([1.0, -2.0, 3.0])
    model = Sequential([Dense(8, input_dim=3, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=1e6))
    callbacks = [ModelCheckpoint(str(tmp_path / "ck-{epoch}.glassnet")),
                 ReduceLROnPlateau(monitor="loss", patience=0)]
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        history = model.fit(X, y, epochs=30, verbose=0, callbacks=callbacks)
    messages = [str(w.message) for w in caught]
    assert sum("training has diverged" in m for m in messages) == 1
    assert sum("ModelCheckpoint is not saving" in m for m in messages) <= 1
    assert len(history.epoch) < 30
    assert "training stops here" in history.stopped_reason and "TerminateOnNaN()" in history.stopped_reason
    assert model.optimizer.current_learning_rate == pytest.approx(1e6)


# --------------------------------------------------------------------------- class_weight
def test_class_weight_keys_must_be_classes_of_the_model():
    X, y = _data()
    model = _model()
    for key in (10**10, 10**8, 2):
        with pytest.raises(ValueError, match=r"class_weight has a key .*not a class of y.*0\.\.1"):
            model.fit(X, y, epochs=1, verbose=0, class_weight={key: 1.0})


def test_class_weight_weighs_each_example_by_its_class(float64):
    X, y = _data()
    weighted, repeated = _model(), _model()
    weighted.compile(loss="binary_crossentropy", optimizer="sgd")
    repeated.compile(loss="binary_crossentropy", optimizer="sgd")
    w = np.where(y == 1, 3.0, 1.0)
    weighted.fit(X, y, epochs=1, batch_size=len(X), verbose=0, class_weight={1: 3.0})
    repeated.fit(X, y, epochs=1, batch_size=len(X), verbose=0, sample_weight=w)
    np.testing.assert_allclose(weighted.parameters, repeated.parameters, rtol=1e-12)


def test_class_weight_for_softmax_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = rng.integers(0, 3, size=60)
    model = Sequential([Dense(3, input_dim=4, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    model.fit(X, y, epochs=1, verbose=0, class_weight={0: 1.0, 2: 5.0})
    with pytest.raises(ValueError, match="class_weight has a key 3"):
        model.fit(X, y, epochs=1, verbose=0, class_weight={3: 1.0})


# --------------------------------------------------------------------------- optimizer, dtype
def test_adding_a_layer_after_fit_rebuilds_an_optimizer_given_by_name():
    X, y = _data()
    model = Sequential([Dense(8, input_dim=4, activation="relu")])
    model.compile(loss="mse", optimizer="adam")
    model.fit(X, np.repeat(y[:, None], 8, axis=1), epochs=1, verbose=0)
    model.add(Dense(1))
    model.fit(X, y, epochs=1, verbose=0)
    assert model.optimizer.iterations == 4  # a fresh Adam: 4 steps of the second fit


def test_adding_a_layer_after_fit_with_an_optimizer_instance_says_what_to_do():
    X, y = _data()
    model = Sequential([Dense(8, input_dim=4, activation="relu")])
    model.compile(loss="mse", optimizer=optimizers.Adam())
    model.fit(X, np.repeat(y[:, None], 8, axis=1), epochs=1, verbose=0)
    model.add(Dense(1))
    with pytest.raises(ValueError, match=r"now has 49 trainable parameters.*holds state for 40.*"
                                         r"Compile again.*optimizer='adam'"):
        model.fit(X, y, epochs=1, verbose=0)


def test_a_model_builds_in_its_own_dtype_without_changing_the_default():
    assert config.floatx() == "float32"
    model = Sequential([Dense(3, input_dim=2, activation="tanh")], dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    model.fit(np.ones((4, 2), dtype=np.float32), np.zeros((4, 3)), verbose=0)
    assert model.dtype == "float64" and model.parameters.dtype == np.float64
    assert config.floatx() == "float32"
    twin = model.copy(dtype="float32")
    assert twin.dtype == "float32" and twin is not model
    np.testing.assert_allclose(twin.parameters, model.parameters, rtol=1e-6)
    twin.parameters[...] = 0
    assert np.abs(model.parameters).max() > 0
    with pytest.raises(ValueError, match="Unknown dtype 'int8'. Valid values: float32, float64"):
        Sequential(dtype="int8")


# --------------------------------------------------------------------------- terminal
def test_progress_shows_the_loss_on_a_terminal_that_reports_zero_columns(tmp_path):
    """mpirun and `script -c` give a terminal of 0 columns: the bar must still show the loss."""
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import shutil, numpy as np
        shutil.get_terminal_size = lambda fallback=(80, 24): __import__("os").terminal_size((0, 0))
        from glassnet.models import Sequential
        from glassnet.layers import Dense
        model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(np.ones((64, 2)), np.ones(64), epochs=2, verbose=1)
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "COLUMNS": "0"}).stdout
    assert "Epoch 2/2" in out
    assert out.count("loss: ") >= 2, out


def test_fit_still_reaches_097_on_the_articles_network_after_the_split():
    """A smoke test of the whole loop through the public API (the seeds test is in test_models)."""
    from glassnet.datasets import make_circles

    X, y = make_circles(n_samples=500, factor=0.3, noise=0.1, random_state=0)
    set_random_seed(0)
    model = Sequential([Dense(4, input_dim=2, activation="relu"), Dense(6, activation="relu"),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(X, y, epochs=60, verbose=0)
    assert history.history["accuracy"][-1] >= 0.97
    assert math.isfinite(history.history["loss"][-1])


def test_restore_best_weights_restores_batch_normalization_statistics_too():
    from glassnet.callbacks import EarlyStopping
    from glassnet.layers import BatchNormalization

    X, y = _data()
    set_random_seed(0)
    model = Sequential([Dense(8, input_dim=4), BatchNormalization(), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=optimizers.SGD(learning_rate=0.5))
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch] = (logs["val_loss"], self.model.parameters.copy())

    stopper = EarlyStopping(monitor="val_loss", patience=50, restore_best_weights=True, verbose=0)
    model.fit(X, y, epochs=6, verbose=0, validation_split=0.3, callbacks=[Snapshot(), stopper])
    best = min(snapshots.values(), key=lambda item: item[0])[1]
    assert np.array_equal(model.parameters, best)   # moving mean and variance included


def test_set_weights_refuses_values_that_overflow_the_model_dtype():
    model = Sequential([Dense(1, input_dim=2)])
    model.build()
    weights = [np.array([[1e300], [0.0]]), np.zeros(1)]
    with pytest.raises(ValueError, match="beyond the range of float32"):
        model.set_weights(weights)
    assert np.isfinite(model.parameters).all()


def test_model_checkpoint_says_which_value_improved(tmp_path, capsys):
    X, y = _data()
    model = _model()
    checkpoint = ModelCheckpoint(str(tmp_path / "best.glassnet"), monitor="val_acc", save_best_only=True,
                                 verbose=1)
    model.fit(X, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[checkpoint])
    lines = [line for line in capsys.readouterr().out.splitlines() if "saving model" in line]
    assert lines[0].startswith("Epoch 1: val_acc improved from -inf to ")
    assert all(" improved from " in line for line in lines) and (tmp_path / "best.glassnet").exists()

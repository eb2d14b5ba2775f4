"""Numerics at the level of a whole network, and what a diverging run reports.

test_activations / test_losses check each function on extreme inputs; here a complete
network (several hidden activations, a sigmoid or softmax output, the matching
cross-entropy) runs forward, loss and backward on float32 inputs anywhere in ±1e4,
and the loss and every gradient must be finite.
"""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from _helpers import to_numpy
from glassnet import optimizers
from glassnet.callbacks import Callback, LearningRateScheduler, TerminateOnNaN
from glassnet.layers import Activation, Dense, Dropout
from glassnet.models import Sequential
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")

HIDDEN = ["relu", "tanh", "sigmoid", "elu", "selu", "softplus", "gelu", "swish", "leaky_relu", "linear"]
OUTPUTS = [
    ("sigmoid", "binary_crossentropy", 1),
    ("sigmoid", "binary_crossentropy", 3),  # multi-label
    ("softmax", "categorical_crossentropy", 4),
    ("softmax", "sparse_categorical_crossentropy", 4),
]

# float32 inputs anywhere in [-1e4, 1e4], with the extremes and zero over-represented.
extreme_floats = st.one_of(
    st.floats(min_value=-1e4, max_value=1e4, width=32),
    st.sampled_from([-1e4, 1e4, 0.0, -9999.5, 1e-30]),
)


def _targets(loss, n_outputs, m, rng):
    if loss == "sparse_categorical_crossentropy":
        return rng.integers(0, n_outputs, size=m)
    if loss == "categorical_crossentropy":
        return np.eye(n_outputs)[rng.integers(0, n_outputs, size=m)]
    return rng.integers(0, 2, size=(m, n_outputs)).astype(float)


def _finite_forward_backward(model, X, y):
    """Loss (as evaluate computes it, from the logits) and all gradients (as fit computes them)."""
    loss = model.evaluate(X, y, verbose=0)
    Y = model.loss.prepare_targets(y, model.output_shape[0])
    model._refresh_step_settings()
    A = model.forward(X, training=True)
    model.backward(Y, A)
    return loss, A, model.gradients


@settings(max_examples=80, deadline=None)
@given(
    X=hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.just(5)), elements=extreme_floats),
    hidden=st.lists(st.sampled_from(HIDDEN), min_size=1, max_size=3),
    output=st.sampled_from(OUTPUTS),
    weight_scale=st.sampled_from([1.0, 10.0, 100.0]),
    seed=st.integers(0, 2**16),
)
def test_network_on_extreme_inputs_has_finite_loss_and_gradients(X, hidden, output, weight_scale, seed):
    activation, loss_name, n_outputs = output
    set_random_seed(seed)
    layers = [Dense(8, input_dim=5, activation=hidden[0])]
    layers += [Dense(8, activation=name) for name in hidden[1:]]
    layers += [Dropout(0.2), Dense(n_outputs, activation=activation)]
    model = Sequential(layers)
    model.compile(loss=loss_name, optimizer="sgd")
    model.build()
    model.parameters *= weight_scale  # large weights push the logits further out
    y = _targets(loss_name, n_outputs, len(X), np.random.default_rng(seed))

    loss, A, gradients = _finite_forward_backward(model, X, y)
    assert math.isfinite(loss) and loss >= 0
    A, gradients = to_numpy(A), to_numpy(gradients)
    assert np.isfinite(A).all() and (A >= 0).all() and (A <= 1).all()
    assert np.isfinite(gradients).all()
    # One training step keeps every parameter finite.
    step_loss = model.train_on_batch(X, y)
    assert math.isfinite(step_loss)
    assert np.isfinite(model.parameters).all()


@settings(max_examples=40, deadline=None)
@given(
    X=hnp.arrays(np.float32, st.tuples(st.integers(1, 6), st.just(3)), elements=extreme_floats),
    loss_and_units=st.sampled_from([
        ("binary_crossentropy", 1), ("categorical_crossentropy", 3),
        ("sparse_categorical_crossentropy", 3),
    ]),
    seed=st.integers(0, 2**16),
)
def test_separate_activation_layer_output_is_finite_too(X, loss_and_units, seed):
    """The output activation as its own layer (Dense(k) then Activation(...))."""
    loss_name, units = loss_and_units
    set_random_seed(seed)
    activation = "sigmoid" if loss_name == "binary_crossentropy" else "softmax"
    model = Sequential([Dense(16, input_dim=3, activation="relu"), Dense(units), Activation(activation)])
    model.compile(loss=loss_name, optimizer="adam")
    model.build()
    model.parameters *= 30.0
    y = _targets(loss_name, units, len(X), np.random.default_rng(seed))
    loss, A, gradients = _finite_forward_backward(model, X, y)
    assert math.isfinite(loss)
    assert np.isfinite(gradients).all()


def test_saturated_but_correct_predictions_have_a_tiny_finite_loss():
    """Logits of ±1e4 that are right give loss ~0 (not nan from 0·log 0); wrong ones
    give a large finite loss (not inf from log 0)."""
    model = Sequential([Dense(2, input_dim=2, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
    model.set_weights([np.array([[1.0, -1.0], [0.0, 0.0]]), np.zeros(2)])
    X = np.array([[1e4, 0.0], [-1e4, 0.0]], dtype=np.float32)
    right = model.evaluate(X, np.array([0, 1]), verbose=0)
    wrong = model.evaluate(X, np.array([1, 0]), verbose=0)
    assert 0 <= right < 1e-6
    assert math.isfinite(wrong) and wrong == pytest.approx(2e4, rel=1e-6)


# --------------------------------------------------------------------------- divergence
def _unscaled_regression():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)) * 1000.0
    y = X @ np.array([1.0, -2.0, 3.0, 0.5]) + 5000.0
    return X, y


def _diverging_model():
    set_random_seed(0)
    model = Sequential([Dense(8, input_dim=4, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=1e6))
    return model


def test_a_diverging_run_says_so_in_warnings_progress_and_history(capsys):
    X, y = _unscaled_regression()
    model = _diverging_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with np.errstate(all="ignore"):
            history = model.fit(X, y, epochs=3, batch_size=32, verbose=2)
    diverged = [w for w in caught if "training has diverged" in str(w.message)]
    assert len(diverged) == 1  # once, not once per epoch
    assert issubclass(diverged[0].category, RuntimeWarning)
    assert "Epoch 1" in str(diverged[0].message) and "smaller learning rate" in str(diverged[0].message)
    assert "training has diverged" in history.stopped_reason
    assert not math.isfinite(history.history["loss"][0])
    progress = capsys.readouterr().out
    assert "loss: inf" in progress or "loss: nan" in progress


def test_terminate_on_nan_stops_a_diverging_run_at_once(capsys):
    X, y = _unscaled_regression()
    model = _diverging_model()
    batches = []

    class CountBatches(Callback):
        def on_train_batch_end(self, batch, logs=None):
            batches.append(logs["loss"])

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        history = model.fit(X, y, epochs=50, batch_size=8, verbose=0,
                            callbacks=[CountBatches(), TerminateOnNaN()])
    first_bad = next(i for i, loss in enumerate(batches) if not math.isfinite(loss))
    assert len(batches) == first_bad + 1  # no batch after the first invalid loss
    assert history.epoch == [0]
    assert "invalid loss" in history.stopped_reason and "diverged" in history.stopped_reason
    assert "terminating training" in capsys.readouterr().out


def test_a_run_that_diverges_later_is_reported_at_the_right_epoch():
    X, y = _unscaled_regression()
    X, y = X / 1000.0, y / 1000.0  # well scaled: stable at a small learning rate
    set_random_seed(0)
    model = Sequential([Dense(8, input_dim=4, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer=optimizers.SGD(learning_rate=0.01))
    boost = LearningRateScheduler(lambda epoch, lr: 0.01 if epoch < 2 else 1e8)
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        history = model.fit(X, y, epochs=4, verbose=0, callbacks=[boost])
    losses = history.history["loss"]
    first_bad = next(i for i, loss in enumerate(losses) if not math.isfinite(loss))
    assert first_bad >= 2  # the first two epochs were healthy
    assert history.stopped_reason.startswith(f"Epoch {first_bad + 1}: the loss is")
    assert sum("training has diverged" in str(w.message) for w in caught) == 1


def test_a_healthy_run_reports_no_divergence():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 4))
    y = (X[:, 0] > 0).astype(float)
    set_random_seed(0)
    model = Sequential([Dense(8, input_dim=4, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        history = model.fit(X, y, epochs=3, verbose=0)
    assert history.stopped_reason is None

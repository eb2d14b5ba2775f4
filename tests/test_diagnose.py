"""gradient_check, diagnose and DiagnosticsMonitor on healthy and broken networks."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
import warnings

import numpy as np
import pytest

from glassnet import datasets, demos, optimizers
from glassnet.diagnostics import (
    DiagnosticsMonitor,
    DiagnosticWarning,
    diagnose,
    float64_copy,
    gradient_check,
)
from glassnet.layers import Dense, Dropout
from glassnet.layers.dense import Dense as DenseClass
from glassnet.losses import BinaryCrossentropy
from glassnet.models import Sequential
from glassnet.optimizers import SGD
from glassnet.utils import make_rng, set_random_seed

RNG = make_rng(0)
X_SMALL = RNG.normal(size=(10, 3))
LABELS = RNG.integers(0, 2, size=10)
CLASS_IDS = RNG.integers(0, 4, size=10)
TARGETS = RNG.normal(size=(10, 4))
WEIGHTS = np.linspace(0.5, 1.5, 10)


def small_network(hidden: str, output: str, units: int, loss, seed: int = 1) -> Sequential:
    set_random_seed(seed)
    model = Sequential([
        Dense(5, input_dim=3, activation=hidden, kernel_regularizer="l2"),
        Dropout(0.3),
        Dense(4, activation=hidden, bias_regularizer="l1"),
        Dense(units, activation=output),
    ])
    model.compile(loss=loss, optimizer="adam")
    return model


# ----------------------------------------------------------------------------- gradient_check
HIDDEN = ["relu", "leaky_relu", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign",
          "swish", "gelu", "hard_sigmoid", "linear"]
OUTPUTS = [  # (output activation, units, loss, targets)
    ("sigmoid", 1, "binary_crossentropy", LABELS),
    ("linear", 1, BinaryCrossentropy(from_logits=True), LABELS),
    ("softmax", 4, "sparse_categorical_crossentropy", CLASS_IDS),
    ("softmax", 4, "categorical_crossentropy", np.eye(4)[CLASS_IDS]),
    ("softmax", 4, "mse", np.eye(4)[CLASS_IDS]),
    ("linear", 4, "mse", TARGETS),
    ("tanh", 4, "huber", TARGETS),
    ("linear", 4, "log_cosh", TARGETS),
    ("linear", 4, "mae", TARGETS),
]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_check_passes_for_every_hidden_activation(float64, hidden):
    model = small_network(hidden, "sigmoid", 1, "binary_crossentropy")
    report = gradient_check(model, X_SMALL, LABELS, sample_weight=WEIGHTS)
    assert report.ok, str(report)
    assert report.max_relative_error < 1e-6
    assert [(r.layer, r.parameter) for r in report.results] == [
        (layer.name, name) for layer in model.layers if layer.param_specs
        for name in ("kernel", "bias")]


@pytest.mark.parametrize(("output", "units", "loss", "targets"), OUTPUTS)
def test_gradient_check_passes_for_every_output_and_loss(float64, output, units, loss, targets):
    model = small_network("tanh", output, units, loss)
    report = gradient_check(model, X_SMALL, targets)
    assert report.ok, str(report)
    assert report.max_relative_error < 1e-6


def test_gradient_check_fails_when_a_backward_pass_is_broken(float64, monkeypatch):
    model = small_network("tanh", "softmax", 4, "sparse_categorical_crossentropy")
    original = DenseClass.backward

    def broken_backward(self, dA=None, *, dZ=None):
        dA_prev = original(self, dA, dZ=dZ)
        if self is model.layers[2]:
            self.db *= 1.5          # a wrong bias gradient in the middle layer
        return dA_prev

    monkeypatch.setattr(DenseClass, "backward", broken_backward)
    report = gradient_check(model, X_SMALL, CLASS_IDS)
    assert not report.ok
    failed = [(r.layer, r.parameter) for r in report.results if not r.ok]
    assert failed == [(model.layers[2].name, "bias")]
    assert 0.1 < report.max_relative_error < 0.3       # |1.5 g - g| / (1.5|g| + |g|) = 0.2
    assert "FAIL" in str(report)


def test_gradient_check_in_float32_warns_and_uses_a_loose_threshold():
    model = small_network("tanh", "sigmoid", 1, "binary_crossentropy")
    with pytest.warns(UserWarning, match="float64"):
        report = gradient_check(model, X_SMALL, LABELS)
    assert report.dtype == "float32" and report.threshold == 1e-2
    assert report.ok, str(report)
    assert report.max_relative_error > 1e-9        # float32 cannot do better than this


def test_gradient_check_of_a_float64_copy_leaves_the_model_alone():
    model = small_network("relu", "softmax", 4, "categorical_crossentropy")
    model.fit(X_SMALL, np.eye(4)[CLASS_IDS], epochs=2, verbose=0)
    weights, gradients = model.parameters.copy(), model.gradients.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no float32 warning for the float64 copy
        report = gradient_check(model, X_SMALL, np.eye(4)[CLASS_IDS], float64=True,
                                max_checks_per_array=6, seed=3)
    assert report.dtype == "float64" and report.ok, str(report)
    assert [r.n_checked for r in report.results] == [6, 5, 6, 4, 6, 4]
    assert model.parameters.dtype == np.float32
    np.testing.assert_array_equal(model.parameters, weights)
    np.testing.assert_array_equal(model.gradients, gradients)
    twin = float64_copy(model)
    np.testing.assert_array_equal(twin.parameters, weights.astype(np.float64))
    twin.fit(X_SMALL, np.eye(4)[CLASS_IDS], epochs=1, verbose=0)   # the copy can train
    np.testing.assert_array_equal(model.parameters, weights)


def test_gradient_check_checks_its_arguments(float64):
    model = small_network("tanh", "sigmoid", 1, "binary_crossentropy")
    with pytest.raises(ValueError, match="epsilon"):
        gradient_check(model, X_SMALL, LABELS, epsilon=0.0)
    with pytest.raises(ValueError, match="same number of samples"):
        gradient_check(model, X_SMALL, LABELS[:5])
    with pytest.raises(ValueError, match="max_checks_per_array"):
        gradient_check(model, X_SMALL, LABELS, max_checks_per_array=0)


# ----------------------------------------------------------------------------- diagnose
def keras_default_circles(seed: int):
    """The articles' 2-4-6-6-4-1 circles network with Keras's initialisation."""
    set_random_seed(seed)
    X, y = datasets.make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=seed)
    keras = {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}
    model = Sequential([
        Dense(4, input_dim=2, activation="relu", **keras),
        Dense(6, activation="relu", **keras),
        Dense(6, activation="relu", **keras),
        Dense(4, activation="relu", **keras),
        Dense(1, activation="sigmoid", **keras),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, X, y


# Seed 87 (found by searching seeds 0..229; 32, 53, 57, 87, 156, 171 and 227 get stuck too):
# glorot_uniform + zero biases leave all 4 units of the fourth layer negative for every
# input from the start, so nothing ever trains and accuracy stays near 0.5.
STUCK_SEED = 87


def test_diagnose_names_the_dead_units_of_a_stuck_circles_network():
    model, X, y = keras_default_circles(STUCK_SEED)
    history = model.fit(X, y, epochs=50, verbose=0)
    assert history.history["accuracy"][-1] < 0.55          # stuck, as in the articles
    diagnosis = diagnose(model, X, y)
    dead_layer = model.layers[3].name
    errors = [f for f in diagnosis.findings if f.severity == "error"]
    assert [f.kind for f in errors] == ["dead_relu", "stuck_at_majority"]
    assert errors[0].layer == dead_layer
    assert (f"layer {dead_layer!r}: 4 of 4 ReLU units are dead (output 0 for every training "
            "example)") in errors[0].message
    assert diagnosis.accuracy == pytest.approx(diagnosis.majority_rate, abs=0.02)
    assert not diagnosis.ok
    # the zero gradients below the dead layer are its doing, not "vanishing gradients"
    assert diagnosis.of_kind("vanishing_gradient") == []
    text = str(diagnosis)
    assert "4 of 4 ReLU units are dead" in text and "leaky_relu" in text


def test_diagnose_finds_nothing_alarming_in_a_healthy_circles_model():
    result = demos.circles(seed=0, verbose=0)
    assert result.test_accuracy > 0.95
    diagnosis = diagnose(result.model, result.X_train, result.y_train)
    assert diagnosis.ok, str(diagnosis)
    assert diagnosis.accuracy > 0.95
    assert [stats["name"] for stats in diagnosis.layer_stats] == [
        layer.name for layer in result.model.layers]
    assert "no problems found" in str(diagnosis)


def test_diagnose_a_layer_made_dead_by_hand():
    X, y = datasets.make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    model = Sequential([Dense(8, input_dim=2, activation="relu"),
                        Dense(6, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.build()
    model.layers[1].b[:5] = -100.0                   # 5 of 6 units can never fire
    diagnosis = diagnose(model, X, y)
    finding = diagnosis.of_kind("dead_relu")[0]
    assert finding.severity == "warning" and finding.layer == model.layers[1].name
    assert "5 of 6 ReLU units are dead" in finding.message
    model.layers[1].b[:] = -100.0                    # now all of them
    finding = diagnose(model, X, y).of_kind("dead_relu")[0]
    assert finding.severity == "error" and "6 of 6" in finding.message


def test_diagnose_vanishing_gradients_in_a_deep_sigmoid_network():
    X, y = datasets.make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    set_random_seed(0)
    model = Sequential([Dense(16, input_dim=2, activation="sigmoid")]
                       + [Dense(16, activation="sigmoid") for _ in range(8)]
                       + [Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(0.1))
    finding = diagnose(model, X, y).of_kind("vanishing_gradient")[0]
    assert finding.layer == model.layers[0].name
    norms = finding.details["norms"]
    assert max(norms.values()) < 1e-4 * finding.details["largest"]


def test_diagnose_exploding_gradients_and_saturated_units():
    X, y = datasets.make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    big = {"name": "random_normal", "stddev": 3.0}
    set_random_seed(0)
    model = Sequential([Dense(32, input_dim=2, activation="relu", kernel_initializer=big)]
                       + [Dense(32, activation="relu", kernel_initializer=big) for _ in range(4)]
                       + [Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    assert diagnose(model, X, y).of_kind("exploding_gradient")
    saturated = Sequential([Dense(6, input_dim=2, activation="tanh",
                                  kernel_initializer={"name": "constant", "value": 20.0}),
                            Dense(1, activation="sigmoid")])
    saturated.compile(loss="binary_crossentropy", optimizer="sgd")
    finding = diagnose(saturated, X * 10, y).of_kind("saturated_units")[0]
    assert finding.severity == "warning" and "6 of 6 tanh units are saturated" in finding.message


def test_diagnose_reads_the_loss_curve():
    result = demos.circles(seed=0, epochs=2, verbose=0)
    model, X, y = result.model, result.X_train, result.y_train
    oscillating = {"loss": [0.7, 0.4, 0.9, 0.3, 1.0, 0.35, 0.95, 0.4, 0.9, 0.5]}
    finding = diagnose(model, X, y, history=oscillating).of_kind("oscillating_loss")[0]
    assert finding.severity == "warning" and "Lower the learning rate" in finding.remedies[0]
    diverged = diagnose(model, X, y, history={"loss": [0.7, 3.0, float("nan")]})
    assert diverged.of_kind("diverged")[0].details == {"epoch": 3}
    rising = diagnose(model, X, y, history={"loss": [0.5, 0.9, 1.4, 2.0]})
    assert rising.of_kind("loss_increasing")
    assert diagnose(model, X, y, history={"loss": [0.7, 0.5, 0.3, 0.2, 0.1]}).ok


# ----------------------------------------------------------------------------- the callback
def test_monitor_warns_once_per_problem_and_records_norms():
    model, X, y = keras_default_circles(STUCK_SEED)
    monitor = DiagnosticsMonitor(X[:300], y[:300])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, y, epochs=20, verbose=0, callbacks=[monitor])
    messages = [str(w.message) for w in caught if issubclass(w.category, DiagnosticWarning)]
    dead_layer = model.layers[3].name
    assert len([m for m in messages if "ReLU units are dead" in m]) == 1
    assert len([m for m in messages if "stopped improving" in m]) == 1
    assert messages[0].startswith("Epoch 1:") and dead_layer in messages[0]
    assert [finding.kind for _, finding in monitor.findings] == ["dead_relu", "stuck_at_majority"]
    for layer in model.layers:
        assert len(history.history[f"grad_norm/{layer.name}"]) == 20
        assert len(history.history[f"weight_norm/{layer.name}"]) == 20
    assert history.history[f"grad_norm/{model.layers[0].name}"] == [0.0] * 20
    assert "backward" not in vars(model)           # the wrapper is gone after fit


def test_monitor_is_quiet_on_a_healthy_run():
    set_random_seed(0)
    X, y = datasets.make_circles(n_samples=300, factor=0.3, noise=0.1, random_state=0)
    model = Sequential([Dense(8, input_dim=2, activation="relu"),
                        Dense(8, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    monitor = DiagnosticsMonitor(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DiagnosticWarning)
        history = model.fit(X, y, epochs=15, verbose=0, callbacks=[monitor])
    norms = history.history[f"grad_norm/{model.layers[0].name}"]
    assert len(norms) == 15 and all(value > 0 for value in norms)
    # the recorded norm is the mean over the epoch's batches of ‖gradient‖, positive and finite
    weights = history.history[f"weight_norm/{model.layers[2].name}"]
    assert weights[-1] == pytest.approx(np.sqrt(sum(
        float((w.astype(np.float64) ** 2).sum()) for w in model.layers[2].get_weights())), rel=1e-5)


def test_monitor_without_data_still_watches_the_loss():
    set_random_seed(0)
    X, y = datasets.make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    model = Sequential([Dense(16, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer=SGD(1e4), metrics=["accuracy"])
    monitor = DiagnosticsMonitor(warn=False, record_norms=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        history = model.fit(X, y, epochs=8, verbose=0, callbacks=[monitor])
    assert not any(key.startswith("grad_norm/") for key in history.history)
    assert {finding.kind for _, finding in monitor.findings} & {
        "diverged", "loss_increasing", "oscillating_loss"}


def test_monitor_checks_its_arguments():
    with pytest.raises(ValueError, match="X and y together"):
        DiagnosticsMonitor(X=X_SMALL)
    with pytest.raises(ValueError, match="every"):
        DiagnosticsMonitor(every=0)


# ----------------------------------------------------------------------------- stuck runs
# Each test trains a real stuck run (small, seeded), checks that diagnose names the cause and
# the layer or column, then applies the remedy it gives and checks that the run then learns.
CIRCLES_X, CIRCLES_Y = datasets.make_circles(n_samples=400, factor=0.3, noise=0.1, random_state=0)


def two_layer_run(output, units, loss, X, y, *, epochs=30, optimizer="adam", hidden="relu",
                  hidden_units=8, seed=0):
    set_random_seed(seed)
    model = Sequential([Dense(hidden_units, input_dim=X.shape[1], activation=hidden),
                        Dense(units, activation=output)])
    model.compile(loss=loss, optimizer=optimizer, metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)     # a diverging run overflows
        history = model.fit(X, y, epochs=epochs, batch_size=32, verbose=0)
    return model, history.history


def code_in(remedy: str) -> str:
    """The ``Dense(...)`` call a remedy writes out."""
    start = remedy.index("Dense(")
    depth = 0
    for end, char in enumerate(remedy[start:], start):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == ")" and depth == 0:
            return remedy[start:end + 1]
    raise AssertionError(f"no complete Dense(...) call in {remedy!r}")


def test_softmax_on_one_unit_gives_exactly_zero_gradients():
    model, history = two_layer_run("softmax", 1, "binary_crossentropy", CIRCLES_X, CIRCLES_Y,
                                   epochs=10)
    assert history["loss"][0] == pytest.approx(history["loss"][-1]) == pytest.approx(7.97, abs=0.01)
    assert history["accuracy"][-1] == 0.5
    diagnosis = diagnose(model, CIRCLES_X, CIRCLES_Y, show=False)
    output = model.layers[-1].name
    mismatch = diagnosis.of_kind("output_mismatch")[0]
    assert mismatch.severity == "error" and mismatch.layer == output
    assert f"the output layer {output!r} applies softmax to 1 unit: it outputs 1" in mismatch.message
    assert mismatch.remedies[0] == ("Make the output fit binary_crossentropy: "
                                    "Dense(1, activation='sigmoid').")
    zero = diagnosis.of_kind("zero_gradient")[0]
    assert zero.severity == "error"
    assert zero.details == {"layers": [layer.name for layer in model.layers], "blocked_by": output}
    assert "every gradient is exactly 0" in zero.message
    assert diagnosis.of_kind("vanishing_gradient") == []
    assert diagnosis.of_kind("stuck_at_majority")[0].details["baseline_loss"] == pytest.approx(
        np.log(2), abs=1e-4)
    fixed, fixed_history = two_layer_run(mismatch.details["suggested_activation"], 1,
                                         "binary_crossentropy", CIRCLES_X, CIRCLES_Y)
    assert fixed_history["loss"][-1] < 0.9 * fixed_history["loss"][0]
    assert fixed_history["loss"][-1] < np.log(2) < history["loss"][-1]


def test_sigmoid_output_with_categorical_crossentropy():
    X, labels = datasets.make_gaussians(n_samples=500, n_classes=4, cluster_std=2.0,
                                        random_state=0)
    X, Y = X / 5, np.eye(4)[labels]
    model, history = two_layer_run("sigmoid", 4, "categorical_crossentropy", X, Y,
                                   optimizer=optimizers.Adam(0.01), hidden_units=16)
    assert history["loss"][-1] < 1e-3 and history["accuracy"][-1] < 0.45   # all outputs near 1
    diagnosis = diagnose(model, X, Y, show=False)
    mismatch = diagnosis.problems[0]
    assert mismatch.kind == "output_mismatch" and mismatch.layer == model.layers[-1].name
    assert ("uses activation 'sigmoid', but categorical_crossentropy is written for softmax "
            "outputs") in mismatch.message
    assert "each row adds up to" in mismatch.message
    assert code_in(mismatch.remedies[0]) == "Dense(4, activation='softmax')"
    _, fixed = two_layer_run("softmax", 4, "categorical_crossentropy", X, Y,
                             optimizer=optimizers.Adam(0.01), hidden_units=16)
    assert fixed["accuracy"][-1] > 0.9


def test_linear_output_with_binary_crossentropy():
    X = CIRCLES_X * 3
    model, history = two_layer_run("linear", 1, "binary_crossentropy", X, CIRCLES_Y)
    assert history["loss"][-1] > 2.5 and history["accuracy"][-1] < 0.5
    diagnosis = diagnose(model, X, CIRCLES_Y, show=False)
    mismatch = diagnosis.problems[0]
    assert mismatch.kind == "output_mismatch" and mismatch.severity == "error"
    assert "uses activation 'linear', but binary_crossentropy is written for sigmoid" in (
        mismatch.message)
    assert mismatch.remedies == [
        "Make the output fit binary_crossentropy: Dense(1, activation='sigmoid').",
        "Or keep the linear output and tell the loss that it gets logits z: "
        "loss=BinaryCrossentropy(from_logits=True).",
    ]
    _, sigmoid = two_layer_run("sigmoid", 1, "binary_crossentropy", X, CIRCLES_Y)
    _, logits = two_layer_run("linear", 1, BinaryCrossentropy(from_logits=True), X, CIRCLES_Y)
    for fixed in (sigmoid, logits):
        assert fixed["loss"][-1] < np.log(2) < history["loss"][-1]
        assert fixed["loss"][-1] < fixed["loss"][0]


PIMA_COLUMNS = ["pregnancies", "glucose", "blood_pressure", "skin_thickness", "insulin", "bmi",
                "pedigree", "age"]


def pima_style(n=768, seed=0):
    """Synthetic data on the scales of the Pima diabetes table (0-17, 0-200, 0-122, 0-99,
    0-846, 0-67, 0.08-2.4, 21-81); about a third positive, driven by glucose, BMI, age."""
    rng = make_rng(seed)
    X = np.stack([
        np.clip(rng.poisson(3.8, n), 0, 17),
        np.clip(rng.normal(121, 31, n), 0, 199),
        np.clip(rng.normal(69, 19, n), 0, 122),
        np.clip(rng.normal(21, 16, n), 0, 99),
        np.clip(rng.exponential(80, n), 0, 846),
        np.clip(rng.normal(32, 7.9, n), 0, 67),
        np.clip(rng.gamma(2.0, 0.23, n), 0.078, 2.42),
        np.clip(21 + rng.exponential(12, n), 21, 81),
    ], axis=1).astype(np.float64)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    logit = 1.6 * Z[:, 1] + 0.8 * Z[:, 5] + 0.5 * Z[:, 7] + 0.4 * Z[:, 6] + 0.3 * Z[:, 0] - 0.9
    return X, (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def pima_run(X, y):
    set_random_seed(1)
    model = Sequential([Dense(12, input_dim=8, activation="relu"), Dense(8, activation="relu"),
                        Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X, y, epochs=20, batch_size=32, verbose=0)
    return model


def test_unscaled_inputs_keep_a_pima_style_run_at_the_majority_baseline():
    X, y = pima_style()
    majority = 1 - y.mean()
    model = pima_run(X, y)
    loss, accuracy = model.evaluate(X, y, verbose=0)
    assert accuracy <= majority + 0.02                       # stuck at the baseline
    diagnosis = diagnose(model, X, y, feature_names=PIMA_COLUMNS, show=False)
    scale = diagnosis.of_kind("input_scale")[0]
    assert scale.severity == "warning"
    assert scale.details["columns"] == ["glucose", "blood_pressure", "skin_thickness", "insulin",
                                        "bmi", "age"]
    assert "insulin: 0.0112 to 554" in scale.message and "against pedigree" in scale.message
    assert "glassnet.datasets.StandardScaler()" in scale.remedies[0]
    stuck = diagnosis.of_kind("stuck_at_majority")[0]
    p = y.mean()
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))      # the loss of predicting p always
    assert stuck.details["baseline_loss"] == pytest.approx(entropy, rel=1e-4)
    assert diagnosis.baseline_loss == pytest.approx(entropy, rel=1e-4)
    assert f"no lower than {entropy:.4g}, the loss of always predicting the class" in stuck.message
    assert stuck.details["majority_rate"] == pytest.approx(majority)
    assert stuck.remedies[0] == scale.remedies[0]
    # the remedy: standardised inputs beat the baseline clearly
    X_scaled = datasets.StandardScaler().fit_transform(X)
    _, scaled_accuracy = pima_run(X_scaled, y).evaluate(X_scaled, y, verbose=0)
    assert scaled_accuracy > majority + 0.1
    assert diagnose(pima_run(X_scaled, y), X_scaled, y, show=False).ok


def test_a_diverged_run_and_its_remedies():
    rng = make_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=200)
    model, history = two_layer_run("linear", 1, "mse", X, y, optimizer=SGD(0.5), hidden="tanh",
                                   hidden_units=16, epochs=20)
    assert not np.isfinite(history["loss"][-1])
    diagnosis = diagnose(model, X, y, show=False)
    diverged = diagnosis.problems[0]
    assert diverged.kind == "diverged" and diverged.severity == "error"
    assert diverged.details["layers"] == [layer.name for layer in model.layers]
    assert f"the weights of layers {model.layers[0].name!r}" in diverged.message
    assert diverged.remedies[:2] == [
        "Lower the learning rate (now 0.5): optimizer=SGD(learning_rate=0.05).",
        "Clip the gradient, so that no single step can be huge: "
        "optimizer=SGD(learning_rate=0.5, clipnorm=1.0).",
    ]
    _, slower = two_layer_run("linear", 1, "mse", X, y, optimizer=SGD(learning_rate=0.05),
                              hidden="tanh", hidden_units=16, epochs=20)
    _, clipped = two_layer_run("linear", 1, "mse", X, y, hidden="tanh", hidden_units=16,
                               optimizer=SGD(learning_rate=0.5, clipnorm=1.0), epochs=20)
    assert slower["loss"][-1] < 0.02 * np.var(y)             # converges
    assert np.isfinite(clipped["loss"]).all() and clipped["loss"][-1] < 0.2 * np.var(y)


def test_vanishing_gradients_without_relus_get_no_relu_advice_first():
    X, y = CIRCLES_X[:200], CIRCLES_Y[:200]

    def deep(activation, **init):
        set_random_seed(0)
        model = Sequential([Dense(16, input_dim=2, activation=activation, **init)]
                           + [Dense(16, activation=activation, **init) for _ in range(8)]
                           + [Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer=SGD(0.1))
        return model

    model = deep("sigmoid")
    finding = diagnose(model, X, y, show=False).of_kind("vanishing_gradient")[0]
    assert finding.remedies[0].startswith("Use ReLU in the hidden layers 'dense")
    assert code_in(finding.remedies[0]) == ("Dense(16, activation='relu', "
                                            "kernel_initializer='he_uniform')")
    assert "sigmoid's at most 0.25" in finding.remedies[0]
    assert not any("dead" in remedy for remedy in finding.remedies)
    assert "optimizer='adam'" in " ".join(finding.remedies)
    # the remedy works: with ReLU and He initialisation no layer's gradient vanishes
    fixed = diagnose(deep("relu", kernel_initializer="he_uniform"), X, y, show=False)
    assert fixed.of_kind("vanishing_gradient") == []


def test_dead_relu_remedies_name_real_options_and_work():
    model, X, y = keras_default_circles(STUCK_SEED)
    model.fit(X, y, epochs=50, verbose=0)
    dead = diagnose(model, X, y, show=False).of_kind("dead_relu")[0]
    assert dead.remedies[0] == (
        "Initialise for ReLU: Dense(4, activation='relu', kernel_initializer='he_uniform') and "
        "leave bias_initializer out: its default 'auto' starts ReLU biases at 0.1, so every unit "
        "fires at first (now it is 'zeros').")
    assert code_in(dead.remedies[1]) == "Dense(4, activation='leaky_relu')"
    for remedy in dead.remedies[:2]:      # the code in each remedy runs, and the run then learns
        set_random_seed(STUCK_SEED)
        keras = {"kernel_initializer": "glorot_uniform", "bias_initializer": "zeros"}
        fourth = eval(code_in(remedy), {"Dense": Dense})  # noqa: S307 - our own remedy text
        fixed = Sequential([Dense(4, input_dim=2, activation="relu", **keras),
                            Dense(6, activation="relu", **keras),
                            Dense(6, activation="relu", **keras), fourth,
                            Dense(1, activation="sigmoid", **keras)])
        fixed.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        assert fixed.fit(X, y, epochs=50, verbose=0).history["accuracy"][-1] > 0.95


def test_every_initializer_a_remedy_names_exists():
    from glassnet import initializers

    runs = [keras_default_circles(STUCK_SEED)]
    saturated = Sequential([Dense(6, input_dim=2, activation="tanh",
                                  kernel_initializer={"name": "constant", "value": 20.0}),
                            Dense(1, activation="sigmoid")])
    saturated.compile(loss="binary_crossentropy", optimizer="sgd")
    runs.append((saturated, CIRCLES_X * 10, CIRCLES_Y))
    text = " ".join(remedy for model, X, y in runs
                    for finding in diagnose(model, X, y, show=False) for remedy in finding.remedies)
    named = set(re.findall(r"kernel_initializer='(\w+)'", text))
    assert named and named <= set(initializers.ALL)
    assert "'auto'" not in text.replace("default 'auto' starts ReLU biases", "")


# ----------------------------------------------------------------------------- printing
def test_diagnose_and_gradient_check_print_in_a_script_and_return_the_report(capsys, monkeypatch,
                                                                              float64):
    model = small_network("tanh", "sigmoid", 1, "binary_crossentropy")
    monkeypatch.delattr(sys, "ps1", raising=False)
    diagnosis = diagnose(model, X_SMALL, LABELS)
    report = gradient_check(model, X_SMALL, LABELS)
    assert capsys.readouterr().out == f"{diagnosis}\n{report}\n"
    diagnose(model, X_SMALL, LABELS, show=False)
    gradient_check(model, X_SMALL, LABELS, show=False)
    assert capsys.readouterr().out == ""
    monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)    # a Python prompt shows the repr
    assert repr(diagnose(model, X_SMALL, LABELS)) == str(diagnosis)
    assert capsys.readouterr().out == ""
    with pytest.raises(TypeError, match="show must be True or False"):
        diagnose(model, X_SMALL, LABELS, show="yes")


def test_nothing_is_printed_twice_under_ipython(capsys, monkeypatch):
    shell = types.ModuleType("IPython")
    shell.get_ipython = lambda: object()
    monkeypatch.setitem(sys.modules, "IPython", shell)
    model = small_network("tanh", "sigmoid", 1, "binary_crossentropy")
    diagnosis = diagnose(model, X_SMALL, LABELS)
    assert capsys.readouterr().out == "" and "Diagnosis of model" in repr(diagnosis)


def test_a_script_prints_the_diagnosis(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import glassnet\n"
        "from glassnet.layers import Dense\n"
        "model = glassnet.models.Sequential([Dense(3, input_dim=2, activation='relu'), "
        "Dense(1, activation='sigmoid')])\n"
        "model.compile(loss='binary_crossentropy', optimizer='adam')\n"
        "glassnet.diagnose(model, [[0.0, 1.0], [1.0, 0.0]], [0, 1])\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            env=env, timeout=120, check=True)
    assert result.stdout.startswith("Diagnosis of model ")
    assert "layer" in result.stdout and result.stdout.count("Diagnosis of model") == 1

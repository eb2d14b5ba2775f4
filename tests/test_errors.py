"""Bad input gets a clear error where it enters.

Every case in ``BAD_INPUTS`` is one wrong argument to a public function or
constructor. The test checks the exception type *and* that the message names the
parameter and shows the value that was given (the strings in ``mentions``), so a
user can fix the call without reading a NumPy traceback. The remaining tests check
that unknown names list the valid ones and suggest the closest, that ``y`` of shape
``(n,)`` is accepted where ``(n, 1)`` is meant, and that a model used after a failed
``fit`` is still consistent.

Counts (see docs/reliability.md): ``len(BAD_INPUTS)`` table cases plus
``len(UNKNOWN_NAMES)`` unknown-name cases plus ``len(FAILED_FITS)`` failed fits.
"""

import math
import signal
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from glassnet import callbacks, initializers, losses, metrics, optimizers, regularizers
from glassnet.callbacks import Callback
from glassnet.layers import Activation, Dense, Dropout, Flatten, Input
from glassnet.models import NotBuiltError, NotCompiledError, Sequential
from glassnet.saving import ModelFileError, load_model
from glassnet.utils import make_rng, set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(10, 3)).astype(np.float32)
Y_BINARY = (X[:, 0] > 0).astype(np.float32)
Y_IDS = np.array([0, 1, 2, 1, 0, 2, 1, 0, 2, 1])
Y_ONEHOT = np.eye(3)[Y_IDS]
Y_ONEHOT_ROW_SUMS_TO_2 = Y_ONEHOT.copy()
Y_ONEHOT_ROW_SUMS_TO_2[1] = [1.0, 1.0, 0.0]


def binary_model():
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    return model


def softmax_model(loss="sparse_categorical_crossentropy"):
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(3, activation="softmax")])
    model.compile(loss=loss, optimizer="adam")
    return model


def regression_model():
    model = Sequential([Dense(4, input_dim=3, activation="relu"), Dense(1)])
    model.compile(loss="mse", optimizer="sgd")
    return model


def hinge_model():
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(loss="hinge", optimizer="sgd")
    return model


def compiled_without_layers():
    model = Sequential()
    model.compile(loss="mse")
    return model


def fit(model=None, x=X, y=Y_BINARY, **kwargs):
    model = binary_model() if model is None else model
    return model.fit(x, y, verbose=0, **kwargs)


def with_value(array, index, value):
    array = np.array(array, dtype=np.float64)
    array[index] = value
    return array


@dataclass
class Case:
    id: str
    call: Any
    error: type
    mentions: tuple[str, ...]


BAD_INPUTS = [
    # --- shapes and lengths of x and y --------------------------------------------
    Case("x-y-different-lengths", lambda: fit(y=Y_BINARY[:9]), ValueError, ("x has 10", "y has 9")),
    Case("x-1d-for-dense", lambda: fit(x=X[:, 0]), ValueError, ("x", "1-D", "(10,)", "reshape")),
    Case("x-3d-for-dense", lambda: fit(x=X[:, :, None]), ValueError, ("x", "(3, 1)", "3")),
    Case("x-wrong-feature-count", lambda: fit(x=X[:, :2]), ValueError, ("x", "(10, 2)", "3")),
    Case("x-empty", lambda: fit(x=np.empty((0, 3)), y=np.empty(0)), ValueError, ("x", "empty", "(0, 3)")),
    Case("x-no-features", lambda: fit(x=np.empty((10, 0))), ValueError, ("x", "(10, 0)")),
    Case("x-scalar", lambda: binary_model().predict(5.0), ValueError, ("x", "scalar 5.0")),
    Case("x-none", lambda: fit(x=None), TypeError, ("x", "None")),
    Case("y-none", lambda: fit(y=None), TypeError, ("y", "required")),
    Case("y-2-columns-for-1-output", lambda: fit(y=np.c_[Y_BINARY, Y_BINARY]), ValueError,
         ("(m, 1)", "(10, 2)")),
    Case("predict-x-1d", lambda: binary_model().predict(X[0]), ValueError, ("x", "1-D", "(3,)")),
    Case("predict-wrong-features", lambda: binary_model().predict(X[:, :2]), ValueError,
         ("x", "(10, 2)", "3")),
    Case("evaluate-lengths", lambda: binary_model().evaluate(X, Y_BINARY[:5], verbose=0), ValueError,
         ("x has 10", "y has 5")),
    Case("validation-x-wrong-features", lambda: fit(validation_data=(X[:, :2], Y_BINARY)), ValueError,
         ("x_val", "(10, 2)")),
    Case("validation-lengths", lambda: fit(validation_data=(X, Y_BINARY[:3])), ValueError,
         ("x_val has 10", "y_val has 3")),
    Case("validation-data-not-a-tuple", lambda: fit(validation_data=X), TypeError,
         ("validation_data", "(10, 3)")),
    Case("sample-weight-length", lambda: fit(sample_weight=np.ones(5)), ValueError,
         ("sample_weight", "10", "5")),
    Case("sample-weight-2d", lambda: fit(sample_weight=np.ones((10, 1))), ValueError,
         ("sample_weight", "1-D", "(10, 1)")),
    # --- values in x and y --------------------------------------------------------
    Case("x-nan", lambda: fit(x=with_value(X, (2, 1), np.nan)), ValueError, ("x", "NaN", "(2, 1)", "nan")),
    Case("x-inf", lambda: fit(x=with_value(X, (4, 0), np.inf)), ValueError, ("x", "(4, 0)", "inf")),
    Case("x-minus-inf-predict", lambda: binary_model().predict(with_value(X, (0, 0), -np.inf)),
         ValueError, ("x", "-inf")),
    Case("x-too-large-for-float32", lambda: fit(x=with_value(X, (3, 2), 1e39)), ValueError,
         ("x", "1e+39", "float32")),
    Case("y-nan", lambda: fit(y=with_value(Y_BINARY, 0, np.nan)), ValueError, ("y", "NaN", "nan")),
    Case("y-inf-regression", lambda: fit(regression_model(), y=with_value(Y_BINARY, 7, np.inf)),
         ValueError, ("y", "inf", "7")),
    Case("y-too-large-for-float32", lambda: fit(regression_model(), y=with_value(Y_BINARY, 1, -1e39)),
         ValueError, ("y", "-1e+39", "float32")),
    Case("x-strings", lambda: fit(x=np.array([["a", "b", "c"]] * 10)), TypeError, ("x", "<U1", "strings")),
    Case("x-objects", lambda: fit(x=np.array([[1, None, 3]] * 10, dtype=object)), TypeError,
         ("x", "object")),
    Case("x-ragged-list", lambda: fit(x=[[1, 2, 3], [1, 2]], y=[0, 1]), TypeError,
         ("x", "[[1, 2, 3], [1, 2]]")),
    Case("x-complex", lambda: fit(x=X + 1j), TypeError, ("x", "complex")),
    Case("y-strings", lambda: fit(y=np.array(["yes"] * 10)), TypeError, ("y", "<U3")),
    Case("sample-weight-nan", lambda: fit(sample_weight=with_value(np.ones(10), 3, np.nan)), ValueError,
         ("sample_weight", "nan")),
    Case("sample-weight-negative", lambda: fit(sample_weight=with_value(np.ones(10), 2, -1.0)), ValueError,
         ("sample_weight", "-1")),
    # --- labels that do not fit the loss ------------------------------------------
    Case("bce-label-3", lambda: fit(y=with_value(Y_BINARY, 0, 3)), ValueError,
         ("binary_crossentropy", "[0, 1]", "3", "sparse_categorical_crossentropy")),
    Case("bce-label-minus-1", lambda: fit(y=with_value(Y_BINARY, 0, -1)), ValueError,
         ("binary_crossentropy", "-1")),
    Case("cce-row-sums-to-2",
         lambda: fit(softmax_model("categorical_crossentropy"), y=Y_ONEHOT_ROW_SUMS_TO_2), ValueError,
         ("categorical_crossentropy", "row 1", "sums to 2")),
    Case("cce-negative", lambda: fit(softmax_model("categorical_crossentropy"),
                                     y=np.tile([2.0, -1.0, 0.0], (10, 1))),
         ValueError, ("categorical_crossentropy", "-1")),
    Case("cce-class-ids", lambda: fit(softmax_model("categorical_crossentropy"), y=Y_IDS), ValueError,
         ("(m, 3)", "(10,)", "sparse_categorical_crossentropy")),
    Case("scce-id-equals-outputs", lambda: fit(softmax_model(), y=with_value(Y_IDS, 4, 3)), ValueError,
         ("[0, 2]", "3 output units", "3")),
    Case("scce-id-negative", lambda: fit(softmax_model(), y=with_value(Y_IDS, 4, -1)), ValueError,
         ("[0, 2]", "-1")),
    Case("scce-fractional-id", lambda: fit(softmax_model(), y=with_value(Y_IDS, 4, 1.5)), ValueError,
         ("integer class ids", "1.5")),
    Case("scce-one-hot", lambda: fit(softmax_model(), y=Y_ONEHOT), ValueError,
         ("(10, 3)", "categorical_crossentropy")),
    Case("hinge-label-2", lambda: fit(hinge_model(), y=with_value(Y_BINARY, 0, 2)), ValueError,
         ("hinge", "{-1, 1}", "2")),
    Case("validation-labels-name-y_val", lambda: fit(validation_data=(X, with_value(Y_BINARY, 0, 3))),
         ValueError, ("y_val", "3")),
    # --- numbers that must be positive / in range ---------------------------------
    Case("units-0", lambda: Dense(0), ValueError, ("units", "0")),
    Case("units-negative", lambda: Dense(-3), ValueError, ("units", "-3")),
    Case("units-float", lambda: Dense(2.5), TypeError, ("units", "2.5")),
    Case("units-string", lambda: Dense("3"), TypeError, ("units", "'3'")),
    Case("units-bool", lambda: Dense(True), TypeError, ("units", "True")),
    Case("input-dim-negative", lambda: Dense(3, input_dim=-1), ValueError, ("input_dim", "-1")),
    Case("input-shape-zero", lambda: Dense(3, input_shape=(3, 0)), ValueError, ("input_shape[1]", "0")),
    Case("input-shape-string", lambda: Dense(3, input_shape="ab"), TypeError, ("input_shape", "'ab'")),
    Case("input-dim-and-shape", lambda: Dense(3, input_dim=2, input_shape=(2,)), ValueError,
         ("input_dim=2", "input_shape=(2,)")),
    Case("Input-shape-zero", lambda: Input(shape=(0,)), ValueError, ("shape[0]", "0")),
    Case("Input-shape-float", lambda: Input(shape=(3.0,)), TypeError, ("shape[0]", "3.0")),
    Case("build-shape-zero", lambda: Sequential([Dense(1)]).build((0,)), ValueError, ("input_shape[0]", "0")),
    Case("learning-rate-0", lambda: optimizers.SGD(learning_rate=0), ValueError, ("learning_rate", "0.0")),
    Case("learning-rate-negative", lambda: optimizers.Adam(learning_rate=-1), ValueError,
         ("learning_rate", "-1.0")),
    Case("learning-rate-nan", lambda: optimizers.RMSprop(learning_rate=float("nan")), ValueError,
         ("learning_rate", "nan")),
    Case("learning-rate-inf", lambda: optimizers.SGD(learning_rate=float("inf")), ValueError,
         ("learning_rate", "inf")),
    Case("learning-rate-string", lambda: optimizers.SGD(learning_rate="0.1"), TypeError,
         ("learning_rate", "'0.1'")),
    Case("learning-rate-in-config", lambda: optimizers.get({"name": "adam", "learning_rate": -1}),
         ValueError, ("learning_rate", "-1")),
    Case("beta-1-too-large", lambda: optimizers.Adam(beta_1=1.5), ValueError, ("beta_1", "1.5")),
    Case("momentum-negative", lambda: optimizers.SGD(momentum=-1), ValueError, ("momentum", "-1")),
    Case("clipnorm-0", lambda: optimizers.Adam(clipnorm=0), ValueError, ("clipnorm", "0")),
    Case("batch-size-0", lambda: fit(batch_size=0), ValueError, ("batch_size", "0")),
    Case("batch-size-negative", lambda: fit(batch_size=-1), ValueError, ("batch_size", "-1")),
    Case("batch-size-float", lambda: fit(batch_size=2.0), TypeError, ("batch_size", "2.0")),
    Case("batch-size-bool", lambda: fit(batch_size=True), TypeError, ("batch_size", "True")),
    Case("predict-batch-size-0", lambda: binary_model().predict(X, batch_size=0), ValueError,
         ("batch_size", "0")),
    Case("evaluate-batch-size-negative", lambda: binary_model().evaluate(X, Y_BINARY, batch_size=-4),
         ValueError, ("batch_size", "-4")),
    Case("epochs-0", lambda: fit(epochs=0), ValueError, ("epochs", "0")),
    Case("epochs-negative", lambda: fit(epochs=-1), ValueError, ("epochs", "-1")),
    Case("epochs-float", lambda: fit(epochs=1.5), TypeError, ("epochs", "1.5")),
    Case("initial-epoch-negative", lambda: fit(initial_epoch=-1), ValueError, ("initial_epoch", "-1")),
    Case("initial-epoch-after-epochs", lambda: fit(epochs=2, initial_epoch=5), ValueError,
         ("initial_epoch", "5", "epochs", "2")),
    Case("dropout-1", lambda: Dropout(1.0), ValueError, ("rate", "1.0", "[0.0, 1.0)")),
    Case("dropout-negative", lambda: Dropout(-0.1), ValueError, ("rate", "-0.1")),
    Case("dropout-1.5", lambda: Dropout(1.5), ValueError, ("rate", "1.5")),
    Case("dropout-string", lambda: Dropout("0.5"), TypeError, ("rate", "'0.5'")),
    Case("dropout-seed-negative", lambda: Dropout(0.5, seed=-1), ValueError, ("seed", "-1")),
    Case("validation-split-1", lambda: fit(validation_split=1.0), ValueError, ("validation_split", "1.0")),
    Case("validation-split-negative", lambda: fit(validation_split=-0.1), ValueError,
         ("validation_split", "-0.1")),
    Case("validation-split-nan", lambda: fit(validation_split=float("nan")), ValueError,
         ("validation_split", "nan")),
    Case("validation-split-leaves-no-training", lambda: fit(validation_split=0.95), ValueError,
         ("validation_split=0.95", "no training", "10")),
    Case("class-weight-negative", lambda: fit(class_weight={0: -1.0}), ValueError,
         ("class_weight[0]", "-1.0")),
    Case("class-weight-list", lambda: fit(class_weight=[1, 2]), TypeError, ("class_weight", "[1, 2]")),
    Case("class-weight-key", lambda: fit(class_weight={"a": 1.0}), TypeError, ("class_weight key", "'a'")),
    Case("huber-delta-0", lambda: losses.Huber(delta=0), ValueError, ("delta", "0")),
    Case("verbose-3", lambda: binary_model().fit(X, Y_BINARY, verbose=3), ValueError, ("verbose", "3")),
    Case("patience-negative", lambda: callbacks.EarlyStopping(patience=-1), ValueError, ("patience", "-1")),
    Case("time-limit-0", lambda: callbacks.TimeLimit(0), ValueError, ("seconds", "0")),
    Case("reduce-lr-factor-1", lambda: callbacks.ReduceLROnPlateau(factor=1), ValueError, ("factor", "1")),
    Case("seed-negative", lambda: make_rng(-1), ValueError, ("seed", "-1")),
    Case("set-random-seed-negative", lambda: set_random_seed(-5), ValueError, ("seed", "-5")),
    # --- wrong types of argument --------------------------------------------------
    Case("activation-int", lambda: Dense(3, activation=5), TypeError, ("activation", "5")),
    Case("initializer-int", lambda: Dense(3, kernel_initializer=5), TypeError, ("initializer", "5")),
    Case("optimizer-int", lambda: Sequential([Dense(1, input_dim=2)]).compile(loss="mse", optimizer=5),
         TypeError, ("optimizer", "5")),
    Case("loss-int", lambda: Sequential([Dense(1, input_dim=2)]).compile(loss=5), TypeError, ("loss", "5")),
    Case("loss-missing", lambda: Sequential([Dense(1, input_dim=2)]).compile(optimizer="adam"), ValueError,
         ("loss",)),
    Case("metric-int", lambda: binary_model().compile(loss="mse", metrics=[5]), TypeError, ("metric", "5")),
    Case("layer-name-int", lambda: Flatten(name=5), TypeError, ("name", "5")),
    Case("trainable-string", lambda: Dense(3, trainable="no"), TypeError, ("trainable", "'no'")),
    Case("use-bias-string", lambda: Dense(3, use_bias="no"), TypeError, ("use_bias", "'no'")),
    Case("shuffle-string", lambda: fit(shuffle="yes"), TypeError, ("shuffle", "'yes'")),
    Case("add-a-string", lambda: Sequential().add("dense"), TypeError, ("'dense'", "layer")),
    Case("Sequential-layers-int", lambda: Sequential(5), TypeError, ("layers", "5")),
    Case("Sequential-name-int", lambda: Sequential(name=5), TypeError, ("name", "5")),
    Case("callbacks-not-a-list", lambda: fit(callbacks=callbacks.TerminateOnNaN()), TypeError,
         ("callbacks", "TerminateOnNaN")),
    Case("callbacks-item", lambda: fit(callbacks=[1]), TypeError, ("callbacks", "1")),
    Case("checkpoint-path-none", lambda: callbacks.ModelCheckpoint(None), TypeError, ("filepath", "None")),
    Case("checkpoint-mode", lambda: callbacks.ModelCheckpoint("m.glassnet", mode="mn"), ValueError,
         ("mode", "'mn'", "'min'")),
    Case("early-stopping-restore-string", lambda: callbacks.EarlyStopping(restore_best_weights="yes"),
         TypeError, ("restore_best_weights", "'yes'")),
    Case("csv-logger-path-int", lambda: callbacks.CSVLogger(5), TypeError, ("filename", "5")),
    Case("schedule-not-callable", lambda: callbacks.LearningRateScheduler(5), TypeError, ("schedule", "5")),
    Case("get-layer-unknown-name", lambda: binary_model().get_layer("nope"), ValueError, ("'nope'",)),
    Case("get-layer-index-out-of-range", lambda: binary_model().get_layer(index=9), ValueError,
         ("index", "9")),
    Case("set-weights-shape", lambda: binary_model().set_weights([np.zeros((2, 2))] * 4), ValueError,
         ("kernel", "(3, 4)", "(2, 2)")),
    Case("set-weights-count", lambda: binary_model().set_weights([]), ValueError, ("4", "0")),
    Case("load-model-path-none", lambda: load_model(None), TypeError, ("filepath", "None")),
    # --- order of calls -----------------------------------------------------------
    Case("fit-before-compile", lambda: Sequential([Dense(1, input_dim=3)]).fit(X, Y_BINARY, verbose=0),
         NotCompiledError, ("compile",)),
    Case("evaluate-before-compile", lambda: Sequential([Dense(1, input_dim=3)]).evaluate(X, Y_BINARY),
         NotCompiledError, ("compile",)),
    Case("train-on-batch-before-compile",
         lambda: Sequential([Dense(1, input_dim=3)]).train_on_batch(X, Y_BINARY), NotCompiledError,
         ("compile",)),
    Case("predict-before-input-shape", lambda: Sequential([Dense(1)]).predict(X), NotBuiltError,
         ("predict", "input shape", "input_shape=")),
    Case("get-weights-before-input-shape", lambda: Sequential([Dense(1)]).get_weights(), NotBuiltError,
         ("get_weights", "input shape")),
    Case("save-before-input-shape", lambda: Sequential([Dense(1)]).save("never.glassnet"), NotBuiltError,
         ("save", "input shape")),
    Case("count-params-before-input-shape", lambda: Sequential([Dense(1)]).count_params(), NotBuiltError,
         ("not built",)),
    Case("build-without-shape", lambda: Sequential([Dense(1)]).build(), NotBuiltError, ("input_shape=",)),
    Case("fit-with-no-layers", lambda: fit(compiled_without_layers()), ValueError, ("no layers",)),
    Case("Input-after-a-layer", lambda: Sequential([Dense(1), Input(shape=(3,))]), ValueError, ("Input",)),
]



def test_every_case_has_a_unique_id():
    ids = [case.id for case in BAD_INPUTS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", BAD_INPUTS, ids=[case.id for case in BAD_INPUTS])
def test_bad_input_gets_a_clear_error(case):
    with pytest.raises(case.error) as info:
        case.call()
    message = str(info.value)
    for text in case.mentions:
        assert text in message, f"{text!r} not in message: {message}"


# --------------------------------------------------------------------------- unknown names
UNKNOWN_NAMES = [
    ("activation", lambda: Dense(3, activation="rleu"), "'rleu'", "relu", ("sigmoid", "softmax", "tanh")),
    ("activation-layer", lambda: Activation("softmx"), "'softmx'", "softmax", ("relu",)),
    ("loss", lambda: binary_model().compile(loss="binary_crossentropi"), "'binary_crossentropi'",
     "binary_crossentropy", ("mse", "categorical_crossentropy", "hinge")),
    ("loss-2", lambda: binary_model().compile(loss="sparse_categorical"), "'sparse_categorical'",
     "sparse_categorical_crossentropy", ("mse",)),
    ("optimizer", lambda: binary_model().compile(loss="mse", optimizer="adma"), "'adma'", "adam",
     ("sgd", "rmsprop", "adamw")),
    ("optimizer-2", lambda: binary_model().compile(loss="mse", optimizer="rmsprp"), "'rmsprp'", "rmsprop",
     ("adam",)),
    ("initializer", lambda: Dense(3, kernel_initializer="glorot_unifrom"), "'glorot_unifrom'",
     "glorot_uniform", ("he_normal", "zeros")),
    ("initializer-2", lambda: initializers.get("he_nromal"), "'he_nromal'", "he_normal", ("ones",)),
    ("metric", lambda: binary_model().compile(loss="mse", metrics=["acuracy"]), "'acuracy'", "accuracy",
     ("auc", "precision", "mse")),
    ("metric-unbuilt-model", lambda: Sequential([Dense(1)]).compile(loss="mse", metrics=["presicion"]),
     "'presicion'", "precision", ("recall",)),
    ("regularizer", lambda: Dense(3, kernel_regularizer="l3"), "'l3'", "l1", ("l2", "l1_l2")),
    ("metric-module", lambda: metrics.get("recal"), "'recal'", "recall", ("auc",)),
    ("loss-module", lambda: losses.get("maee"), "'maee'", "mae", ("huber",)),
    ("regularizer-module", lambda: regularizers.get("L2x"), "'L2x'", "l2", ("l1",)),
]


@pytest.mark.parametrize(
    "call, given, suggestion, others", [case[1:] for case in UNKNOWN_NAMES],
    ids=[case[0] for case in UNKNOWN_NAMES],
)
def test_unknown_names_list_the_valid_ones_and_suggest_the_closest(call, given, suggestion, others):
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert given in message
    assert f"Did you mean {suggestion!r}?" in message
    for valid in others:
        assert valid in message


# --------------------------------------------------------------------------- accepted shapes
@pytest.mark.parametrize("make_model", [binary_model, regression_model], ids=["bce", "mse"])
def test_y_of_shape_n_is_read_as_n_by_1(make_model):
    """As in Keras: y of shape (n,) for a model with one output trains exactly like (n, 1)."""
    results = []
    for y in (Y_BINARY, Y_BINARY[:, None]):
        set_random_seed(5)
        model = make_model()
        history = model.fit(X, y, epochs=2, batch_size=4, verbose=0)
        results.append((history.history["loss"], model.get_weights()))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1], strict=True):
        assert np.array_equal(a, b)


def test_sparse_ids_of_shape_n_by_1_are_accepted():
    history = softmax_model().fit(X, Y_IDS[:, None], verbose=0)
    assert math.isfinite(history.history["loss"][0])


def test_lists_ints_and_bools_are_accepted_as_x():
    model = binary_model()
    for x in (X.tolist(), (X * 10).astype(np.int64), X > 0):
        assert math.isfinite(model.fit(x, Y_BINARY.tolist(), verbose=0).history["loss"][0])


# --------------------------------------------------------------------------- failed fits
def _snapshot(model):
    return {
        "weights": [w.copy() for w in model.get_weights()],
        "optimizer": {k: np.copy(v) for k, v in model.optimizer.get_state().items()},
        "epochs_trained": model.epochs_trained,
        "history": model.history,
        "shuffle_rng": model._rng.bit_generator.state,
        "sigint": signal.getsignal(signal.SIGINT),
    }


def _assert_unchanged(model, before):
    after = _snapshot(model)
    for a, b in zip(after["weights"], before["weights"], strict=True):
        assert np.array_equal(a, b)
    assert after["optimizer"].keys() == before["optimizer"].keys()
    for key in before["optimizer"]:
        assert np.array_equal(after["optimizer"][key], before["optimizer"][key])
    assert after["epochs_trained"] == before["epochs_trained"]
    assert after["history"] is before["history"]
    assert after["shuffle_rng"] == before["shuffle_rng"]
    assert after["sigint"] == before["sigint"]


FAILED_FITS = {
    "nan-in-x": {"x": with_value(X, (0, 0), np.nan)},
    "label-3": {"y": with_value(Y_BINARY, 0, 3)},
    "wrong-features": {"x": X[:, :2]},
    "lengths": {"y": Y_BINARY[:4]},
    "bad-validation": {"validation_data": (X, Y_BINARY[:2])},
    "bad-batch-size": {"batch_size": 0},
    "bad-class-weight": {"class_weight": {0: -2.0}},
    "bad-sample-weight": {"sample_weight": -np.ones(10)},
    "bad-callback": {"callbacks": ["not a callback"]},
    "bad-verbose": {"verbose": 7},
}


@pytest.mark.parametrize("arguments", FAILED_FITS.values(), ids=FAILED_FITS.keys())
def test_a_fit_that_fails_validation_changes_nothing(arguments):
    model = binary_model()
    model.fit(X, Y_BINARY, epochs=2, verbose=0)
    before = _snapshot(model)
    arguments = {"x": X, "y": Y_BINARY, "verbose": 0, **arguments}
    with pytest.raises((ValueError, TypeError)):
        model.fit(**arguments)
    _assert_unchanged(model, before)
    history = model.fit(X, Y_BINARY, epochs=1, verbose=0)  # and it still trains
    assert math.isfinite(history.history["loss"][0])


class FailAtBatch(Callback):
    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch = epoch, batch
        self.current_epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.current_epoch, batch) == (self.epoch, self.batch):
            raise RuntimeError("callback failed")


def test_a_fit_that_raises_in_a_callback_mid_epoch_leaves_a_usable_model():
    model = binary_model()
    sigint = signal.getsignal(signal.SIGINT)
    with pytest.raises(RuntimeError, match="callback failed"):
        model.fit(X, Y_BINARY, epochs=3, batch_size=2, verbose=0, callbacks=[FailAtBatch(1, 2)])
    assert signal.getsignal(signal.SIGINT) is sigint
    assert np.isfinite(model.parameters).all()
    assert model.epochs_trained == 1
    assert model.optimizer.iterations == 5 + 3  # one full epoch of 5 steps, then 3 steps
    history = model.fit(X, Y_BINARY, epochs=2, batch_size=2, verbose=0)
    assert history.epoch == [0, 1] and all(math.isfinite(v) for v in history.history["loss"])
    assert model.stop_training is False


def test_a_fit_that_fails_on_a_broken_checkpoint_path_leaves_a_usable_model(tmp_path):
    model = binary_model()
    target = tmp_path / "missing-folder" / "ckpt.glassnet"
    with pytest.raises(FileNotFoundError, match="missing-folder"):
        model.fit(X, Y_BINARY, epochs=2, verbose=0, callbacks=[callbacks.ModelCheckpoint(target)])
    assert np.isfinite(model.parameters).all()
    assert model.epochs_trained == 1
    model.fit(X, Y_BINARY, epochs=1, verbose=0)


def test_loading_a_bad_file_does_not_change_the_float_type(tmp_path):
    from glassnet import config

    path = tmp_path / "bad.glassnet"
    path.write_bytes(b"junk")
    with pytest.raises(ModelFileError):
        load_model(path)
    assert config.floatx() == "float32"


def test_case_counts_for_the_report():
    """Keeps docs/reliability.md honest: the numbers there are these."""
    assert len(BAD_INPUTS) >= 100
    assert len(UNKNOWN_NAMES) >= 10
    assert len(FAILED_FITS) >= 10

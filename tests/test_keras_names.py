"""The names Keras scripts type: utils, regularizers, activation layers, InputLayer, the
functional API, metrics_names, to_json / model_from_json, and the older 'acc' / 'val_acc'."""

import json

import numpy as np
import pytest

import glassnet
from glassnet import datasets, regularizers, utils
from glassnet.callbacks import EarlyStopping, ModelCheckpoint
from glassnet.layers import (
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Input,
    InputLayer,
    LeakyReLU,
    ReLU,
    Softmax,
)
from glassnet.models import Model, Sequential, load_model, model_from_json


# ------------------------------------------------------------------------------- utils
def test_to_categorical_has_one_implementation():
    assert utils.to_categorical is datasets.to_categorical
    np.testing.assert_array_equal(utils.to_categorical([2, 0], num_classes=3), [[0, 0, 1], [1, 0, 0]])


def test_normalize_matches_keras():
    x = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])
    np.testing.assert_allclose(utils.normalize(x), [[0.6, 0.8], [0.0, 0.0], [2**-0.5, -(2**-0.5)]])
    np.testing.assert_allclose(utils.normalize(x, axis=0, order=1), x / np.array([4.0, 5.0]))
    np.testing.assert_allclose(utils.normalize([[1, 1]]), [[2**-0.5, 2**-0.5]])   # ints become float
    with pytest.raises(ValueError, match="axis must be in"):
        utils.normalize(x, axis=2)
    with pytest.raises(ValueError, match="order"):
        utils.normalize(x, order=0)


# ------------------------------------------------------------------------------- regularizers
def test_lowercase_regularizers_return_instances():
    small = regularizers.l2(0.001)
    assert isinstance(small, regularizers.L2) and small.l2 == 0.001
    assert isinstance(regularizers.l1(), regularizers.L1) and regularizers.l1().l1 == 0.01
    both = regularizers.l1_l2(l1=1e-5, l2=1e-4)
    assert isinstance(both, regularizers.L1L2) and (both.l1, both.l2) == (1e-5, 1e-4)
    assert (regularizers.l1_l2().l1, regularizers.l1_l2().l2) == (0.01, 0.01)     # as the string 'l1_l2'
    w = np.array([[1.0, -2.0]])
    assert regularizers.l2(0.5)(w) == pytest.approx(0.5 * 5.0)
    layer = Dense(3, kernel_regularizer=regularizers.l2(0.001))
    assert layer.kernel_regularizer.l2 == 0.001
    with pytest.raises(ValueError, match="l2"):
        regularizers.l2(-1.0)


# ------------------------------------------------------------------------------- activation layers
@pytest.mark.parametrize("layer, activation", [
    (ReLU(), "relu"),
    (ReLU(negative_slope=0.1), {"name": "leaky_relu", "alpha": 0.1}),
    (LeakyReLU(), {"name": "leaky_relu", "alpha": 0.3}),
    (LeakyReLU(alpha=0.2), {"name": "leaky_relu", "alpha": 0.2}),
    (LeakyReLU(negative_slope=0.05), {"name": "leaky_relu", "alpha": 0.05}),
    (Softmax(), "softmax"),
])
def test_activation_layers_compute_what_the_activation_layer_computes(layer, activation):
    X = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    theirs = Activation(activation)
    for one in (layer, theirs):
        Sequential([Input(shape=(4,)), one]).build()
    np.testing.assert_array_equal(layer.forward(X).copy(), theirs.forward(X))
    dA = np.random.default_rng(1).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(layer.backward(dA.copy()), theirs.backward(dA.copy()))


def test_activation_layers_keras_names_configs_and_errors():
    assert ReLU().name.startswith("re_lu") and LeakyReLU().name.startswith("leaky_re_lu")
    assert ReLU(negative_slope=0.2).get_config()["negative_slope"] == 0.2
    rebuilt = LeakyReLU.from_config(LeakyReLU(alpha=0.1, name="lr").get_config())
    assert (rebuilt.name, rebuilt.negative_slope) == ("lr", 0.1)
    with pytest.raises(ValueError, match="max_value=None and threshold=0.0 only"):
        ReLU(max_value=6.0)
    with pytest.raises(ValueError, match="max_value=None and threshold=0.0 only"):
        ReLU(threshold=0.5)
    with pytest.raises(ValueError, match="negative_slope"):
        ReLU(negative_slope=-1)
    with pytest.raises(ValueError, match="not both"):
        LeakyReLU(negative_slope=0.1, alpha=0.2)
    with pytest.raises(ValueError, match="last axis only"):
        Sequential([Input(shape=(3, 4)), Softmax(axis=1)]).build()


def test_softmax_layer_as_output_fuses_with_cross_entropy():
    X = np.random.default_rng(2).normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)
    model = Sequential([Input(shape=(4,)), Dense(8), LeakyReLU(), Dense(3), Softmax()])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(X, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    np.testing.assert_allclose(model.predict(X).sum(axis=1), 1.0, rtol=1e-5)


# ------------------------------------------------------------------------------- Input, InputLayer
def test_input_and_input_layer():
    assert glassnet.Input is Input
    for first in (InputLayer(shape=(3,)), InputLayer(input_shape=(3,)), Input(shape=(3,))):
        model = Sequential([first, Dense(2)])
        model.build()
        assert model.input_shape == (3,) and len(model.layers) == 1
    with pytest.raises(ValueError, match="exactly one of them"):
        InputLayer()
    with pytest.raises(ValueError, match="exactly one of them"):
        InputLayer(shape=(2,), input_shape=(2,))


# ------------------------------------------------------------------------------- functional API
def _chain():
    inputs = Input(shape=(784,))
    x = Dense(64, activation="relu")(inputs)
    outputs = Dense(10, activation="softmax")(x)
    return inputs, x, outputs


def test_functional_chain_builds_the_same_network_as_sequential():
    assert glassnet.Model is Model
    inputs, x, outputs = _chain()
    assert x.shape == (64,) and outputs.shape == (10,)
    model = Model(inputs, outputs)
    twin = Sequential([Input(shape=(784,)), Dense(64, activation="relu"), Dense(10, activation="softmax")])
    twin.build()
    assert [type(layer) for layer in model.layers] == [type(layer) for layer in twin.layers]
    assert model.count_params() == twin.count_params() == 50890
    twin.set_weights(model.get_weights())
    X = np.random.default_rng(3).random((5, 784)).astype("float32")
    np.testing.assert_array_equal(model.predict(X), twin.predict(X))
    # calling a layer on an array still runs it
    np.testing.assert_array_equal(model.layers[0](X), twin.layers[0].forward(X))


def test_functional_model_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(80, 3)), rng.integers(0, 2, 80)
    inputs = Input(shape=(3,))
    x = Dense(8)(inputs)
    x = BatchNormalization()(x)
    x = ReLU()(x)
    x = Dropout(0.1)(x)
    outputs = Dense(1, activation="sigmoid")(x)
    model = Model(inputs=[inputs], outputs=[outputs], name="tiny")
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "f.glassnet")
    np.testing.assert_array_equal(load_model(tmp_path / "f.glassnet").predict(X), model.predict(X))


def test_functional_branches_merges_and_misuse_are_clear_errors():
    inputs, x, outputs = _chain()
    Dense(3)(x)                                               # a second use of x: a branch
    with pytest.raises(ValueError, match="the output of 'dense.*' is used by 2 layers.*builds chains"):
        Model(inputs, outputs)
    with pytest.raises(ValueError, match="called on 2 tensors.*merges"):
        Dense(1)([outputs, outputs])
    with pytest.raises(ValueError, match="2 outputs.*several outputs are not supported"):
        Model(inputs, [outputs, x])
    other = Input(shape=(784,))
    with pytest.raises(ValueError, match="not computed from these inputs"):
        Model(other, outputs)
    with pytest.raises(TypeError, match="Model needs inputs and outputs"):
        Model()
    with pytest.raises(TypeError, match="outputs must be"):
        Model(other, other)
    dense = Dense(4)
    y = dense(Input(shape=(4,)))
    with pytest.raises(ValueError, match="shared layers are not supported"):
        dense(y)
    with pytest.raises(ValueError, match="Flatten"):
        Dense(2)(Input(shape=(2, 2)))                          # a wrong shape fails at the call


# ------------------------------------------------------------------------------- metrics_names, JSON
def test_metrics_names():
    model = Sequential([Dense(3, input_dim=2, activation="softmax")])
    assert model.metrics_names == []
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["acc", "mse"])
    assert model.metrics_names == ["loss", "acc", "mse"]
    X, y = np.zeros((4, 2)), np.eye(3)[[0, 1, 2, 0]]
    assert len(model.evaluate(X, y, verbose=0)) == len(model.metrics_names)


@pytest.mark.parametrize("functional", [False, True])
def test_to_json_and_model_from_json_round_trip(functional):
    if functional:
        inputs = Input(shape=(4,))
        model = Model(inputs, Dense(2, activation="softmax")(LeakyReLU(0.1)(Dense(8)(inputs))))
    else:
        model = Sequential([Input(shape=(4,)), Dense(8, kernel_regularizer=regularizers.l2(1e-3)),
                            BatchNormalization(momentum=0.9), LeakyReLU(0.1), Dense(2, activation="softmax")])
    text = model.to_json()
    assert json.loads(text)["class_name"] == type(model).__name__
    rebuilt = model_from_json(text)
    assert type(rebuilt) is type(model)
    rebuilt.build()
    assert [layer.get_config() for layer in rebuilt.layers] == [layer.get_config() for layer in model.layers]
    rebuilt.set_weights(model.get_weights())
    X = np.random.default_rng(5).normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(rebuilt.predict(X), model.predict(X))


def test_model_from_json_rejects_bad_input_without_running_it():
    with pytest.raises(ValueError, match="not valid JSON"):
        model_from_json("{not json")
    with pytest.raises(ValueError, match="class_name must be"):
        model_from_json('{"class_name": "os.system", "config": {}}')
    with pytest.raises(ValueError, match="layer class"):
        model_from_json('{"class_name": "Sequential", "config": {"layers": '
                        '[{"class_name": "Lambda", "config": {}}]}}')
    with pytest.raises(ValueError, match=r"layers\[0\] \(Dense\): invalid config"):
        model_from_json('{"class_name": "Sequential", "config": {"layers": '
                        '[{"class_name": "Dense", "config": {"units": 2, "evil": 1}}]}}')
    with pytest.raises(TypeError, match="json_string must be a str"):
        model_from_json(None)


# ------------------------------------------------------------------------------- 'acc', 'val_acc'
def test_keras2_tutorial_checkpoint_on_val_acc(tmp_path):
    """The tutorial: metrics=['accuracy'], ModelCheckpoint(monitor='val_acc', save_best_only=True),
    then load the best model. Keras >= 2.3 logs 'val_accuracy'; 'val_acc' finds it."""
    rng = np.random.default_rng(6)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int)
    model = Sequential([Dense(8, input_dim=4, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    path = str(tmp_path / "best_model.glassnet")
    checkpoint = ModelCheckpoint(path, monitor="val_acc", save_best_only=True, mode="max")
    stopper = EarlyStopping(monitor="val_acc", patience=50)
    history = model.fit(X, y, validation_split=0.2, epochs=15, batch_size=32,
                        callbacks=[checkpoint, stopper], verbose=0)
    best_epoch = int(np.argmax(history.history["val_accuracy"]))
    assert checkpoint.best == pytest.approx(history.history["val_accuracy"][best_epoch])
    best = load_model(path)
    assert best.epochs_trained == best_epoch + 1
    loss, accuracy = best.evaluate(X[160:], y[160:], verbose=0)
    assert accuracy == pytest.approx(history.history["val_accuracy"][best_epoch])


def test_acc_is_logged_under_the_name_given():
    X, y = np.random.default_rng(7).normal(size=(40, 2)), np.arange(40) % 2
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=["acc"])
    history = model.fit(X, y, validation_split=0.25, epochs=1, verbose=0)
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]
    checkpoint = ModelCheckpoint("unused", monitor="val_accuracy")   # the newer spelling finds 'val_acc'
    from glassnet.callbacks import _monitored
    assert _monitored({"val_acc": 0.75}, checkpoint.monitor, "test") == 0.75
    assert glassnet.metrics.log_key("val_loss", {"val_acc": 1.0}) == "val_loss"

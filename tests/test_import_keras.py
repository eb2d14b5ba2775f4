"""Keras files (.keras and legacy .h5) opened by glassnet, against Keras's own predictions.

Keras 3 runs on its PyTorch backend here (a test dependency); glassnet reads the files
with json and h5py only.
"""

from __future__ import annotations

import io
import json
import os
import tracemalloc
import zipfile

os.environ["KERAS_BACKEND"] = "torch"   # before keras is imported

import numpy as np
import pytest

keras = pytest.importorskip("keras")
h5py = pytest.importorskip("h5py")

from glassnet import layers as glassnet_layers  # noqa: E402
from glassnet.importers import load_any  # noqa: E402
from glassnet.importers.keras import load_keras  # noqa: E402
from glassnet.saving import ModelFileError  # noqa: E402

TOLERANCE = 1e-5
BATCH_SIZES = (1, 64)
KERAS_ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "elu", "selu", "softplus", "softsign",
                     "swish", "silu", "gelu", "leaky_relu", "hard_sigmoid"]
NEW_LAYERS = ("BatchNormalization", "ReLU", "LeakyReLU", "Softmax")
L = keras.layers
# Keras's own NumPy-2 deprecation notices, not glassnet's
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def circles():
    model = keras.Sequential([keras.Input((2,)), L.Dense(4, activation="relu"), L.Dense(6, activation="relu"),
                              L.Dense(6, activation="relu"), L.Dense(4, activation="relu"),
                              L.Dense(1, activation="sigmoid")])
    return model, "binary_crossentropy", (2,), 1


def every_activation():
    model = keras.Sequential([keras.Input((3,)), *[L.Dense(5, activation=a) for a in KERAS_ACTIVATIONS],
                              L.Dense(3, activation="softmax")])
    return model, "categorical_crossentropy", (3,), 3


def images():
    model = keras.Sequential([keras.Input((4, 5)), L.Flatten(), L.Dense(8, activation="relu"),
                              L.Dropout(0.3), L.Dense(3, activation="softmax")])
    return model, "categorical_crossentropy", (4, 5), 3


def functional():
    x = keras.Input((4,), name="features")
    h = L.Dense(6, activation="gelu", name="hidden")(x)
    h = L.Activation("tanh")(h)
    h = L.Dense(3, use_bias=False, kernel_regularizer=keras.regularizers.L2(1e-3))(h)
    return keras.Model(x, L.Activation("softsign")(h)), "mse", (4,), 3


def built_by_fit():
    model = keras.Sequential([L.Dense(3, activation="elu"), L.Dense(2, trainable=False)])
    return model, "mse", (5,), 2


def keras_layers():
    model = keras.Sequential([
        keras.Input((5,)), L.Dense(6), L.BatchNormalization(momentum=0.5), L.ReLU(), L.Dense(4),
        L.LeakyReLU(0.2), L.Dense(4), L.ReLU(negative_slope=0.05), L.Dense(3),
        L.BatchNormalization(center=False, momentum=0.5), L.Softmax()])
    return model, "categorical_crossentropy", (5,), 3


ARCHITECTURES = {f.__name__: f for f in (circles, every_activation, images, functional, built_by_fit,
                                          keras_layers)}


def _targets(loss: str, n: int, n_out: int, rng: np.random.Generator) -> np.ndarray:
    if loss == "categorical_crossentropy":
        return np.eye(n_out, dtype=np.float32)[rng.integers(0, n_out, n)]
    if loss == "binary_crossentropy":
        return (rng.random((n, n_out)) > 0.5).astype(np.float32)
    return rng.standard_normal((n, n_out)).astype(np.float32)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Each architecture built, trained for a few steps and saved as .keras and .h5."""
    folder = tmp_path_factory.mktemp("keras")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    result = {}
    for name, build in ARCHITECTURES.items():
        model, loss, input_shape, n_out = build()
        model.compile(optimizer="adam", loss=loss)
        X = rng.standard_normal((48, *input_shape)).astype(np.float32)
        model.fit(X, _targets(loss, 48, n_out, rng), epochs=2, batch_size=16, verbose=0)
        paths = {"keras": folder / f"{name}.keras", "h5": folder / f"{name}.h5"}
        model.save(paths["keras"])
        model.save(paths["h5"])
        result[name] = (model, paths)
    return result


def keras_predict(model, X: np.ndarray) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(model(X, training=False)))


def _skip_without_new_layers(name: str) -> None:
    missing = [cls for cls in NEW_LAYERS if not hasattr(glassnet_layers, cls)]
    if name == "keras_layers" and missing:
        pytest.skip(f"this glassnet has no {', '.join(missing)} layer")


@pytest.mark.parametrize("file_format", ["keras", "h5"])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_glassnet_predicts_what_keras_predicts(saved, name, file_format):
    _skip_without_new_layers(name)
    keras_model, paths = saved[name]
    model = load_keras(paths[file_format])
    expected_layers = [layer for layer in keras_model.layers if type(layer).__name__ != "InputLayer"]
    assert [layer.name for layer in model.layers] == [layer.name for layer in expected_layers]
    assert [type(layer).__name__ for layer in model.layers] == [type(x).__name__ for x in expected_layers]
    for mine, theirs in zip(model.layers, expected_layers, strict=True):
        assert mine.trainable == theirs.trainable
        for weight, variable in zip(mine.get_weights(), theirs.weights, strict=True):
            np.testing.assert_array_equal(weight, keras.ops.convert_to_numpy(variable))
    assert model.dtype == "float32" and not model.compiled
    rng = np.random.default_rng(1)
    for n in BATCH_SIZES:
        X = (2 * rng.standard_normal((n, *model.input_shape))).astype(np.float32)
        np.testing.assert_allclose(model.predict(X), keras_predict(keras_model, X), rtol=0, atol=TOLERANCE)


def test_activations_and_regularizers_are_mapped(saved):
    model = load_keras(saved["every_activation"][1]["keras"])
    names = [layer.activation.name for layer in model.layers]
    assert names == [*[{"silu": "swish"}.get(a, a) for a in KERAS_ACTIVATIONS], "softmax"]
    functional_model = load_keras(saved["functional"][1]["h5"])
    assert functional_model.layers[2].kernel_regularizer.get_config() == pytest.approx(
        {"name": "l2", "l2": 1e-3})
    assert not functional_model.layers[2].use_bias


def test_a_loaded_model_is_an_ordinary_glassnet_model(saved, tmp_path):
    keras_model, paths = saved["circles"]
    model = load_any(paths["keras"])
    explanation = str(model.explain())
    assert "FORWARD PROPAGATION" in explanation and "Z[5] = W[5]·A[4] + b[5]" in explanation
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    x, y = np.array([0.3, -1.2], dtype=np.float32), 1.0
    assert "dZ" in str(model.trace(x, y))
    before = model.get_weights()[0].copy()
    rng = np.random.default_rng(2)
    X = rng.standard_normal((32, 2)).astype(np.float32)
    model.fit(X, (X[:, 0] > 0).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.get_weights()[0], before)
    model.save(tmp_path / "circles.glassnet")
    again = load_any(tmp_path / "circles.glassnet")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


def test_load_any_reads_both_keras_formats(saved, tmp_path):
    _, paths = saved["images"]
    for path in paths.values():
        assert [type(layer).__name__ for layer in load_any(str(path)).layers] == [
            "Flatten", "Dense", "Dropout", "Dense"]
    renamed = tmp_path / "model.hdf5"
    renamed.write_bytes(paths["h5"].read_bytes())
    assert load_any(renamed).input_shape == (4, 5)
    # other names: told by the first bytes
    for source, name in ((paths["keras"], "model.bin"), (paths["h5"], "model")):
        (tmp_path / name).write_bytes(source.read_bytes())
        assert load_any(tmp_path / name).input_shape == (4, 5)
    own = load_any(paths["keras"])
    own.save(tmp_path / "saved_without_extension")
    assert load_any(tmp_path / "saved_without_extension").input_shape == (4, 5)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"unknown model file extension '\.txt'"):
        load_any(tmp_path / "notes.txt")


def test_glassnet_export_converts_a_keras_file_to_onnx(saved, tmp_path, capsys):
    from glassnet.onnx import export_command, load

    keras_model, paths = saved["functional"]
    assert export_command(paths["keras"], tmp_path / "model.onnx") == 0
    X = np.random.default_rng(4).standard_normal((64, 4)).astype(np.float32)
    np.testing.assert_allclose(load(tmp_path / "model.onnx").predict(X), keras_predict(keras_model, X),
                               rtol=0, atol=TOLERANCE)
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 broken")
    assert export_command(broken, tmp_path / "other.onnx") == 1
    assert "broken.keras" in capsys.readouterr().err


def test_a_keras_2_file_written_without_keras(tmp_path):
    """A legacy file as TensorFlow's Keras 2 writes it: Keras 2 config keys, ':0' weight names."""
    rng = np.random.default_rng(3)
    W1, b1 = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    W2, b2 = rng.standard_normal((4, 1)).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 3], "name": "dense_input"}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 4, "activation": "relu",
                                           "use_bias": True, "kernel_regularizer": None}},
        {"class_name": "LeakyReLU", "config": {"name": "leaky", "alpha": 0.1}},
        {"class_name": "Dense", "config": {"name": "dense_1", "units": 1, "activation": "sigmoid"}}]}}
    path = tmp_path / "keras2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["keras_version"] = "2.15.0"
        weights = f.create_group("model_weights")
        for name, arrays in (("dense", (W1, b1)), ("leaky", ()), ("dense_1", (W2, b2))):
            group = weights.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{kind}:0".encode() for kind in ("kernel", "bias")][
                : len(arrays)]
            for kind, array in zip(("kernel", "bias"), arrays, strict=False):
                group.create_dataset(f"{name}/{kind}:0", data=array)
    if not hasattr(glassnet_layers, "LeakyReLU"):
        with pytest.raises(ModelFileError, match="glassnet.layers.LeakyReLU"):
            load_keras(path)
        return
    model = load_keras(path)
    X = rng.standard_normal((5, 3)).astype(np.float32)
    hidden = np.maximum(X @ W1 + b1, 0)
    expected = 1 / (1 + np.exp(-(np.where(hidden > 0, hidden, 0.1 * hidden) @ W2 + b2)))
    np.testing.assert_allclose(model.predict(X), expected, rtol=0, atol=TOLERANCE)


# --------------------------------------------------------------------------------------
# what cannot be expressed, damaged and hostile files


def rewrite(source, target, edit_config=None, edit_weights=None) -> None:
    """Copy a .keras file, changing its config.json and/or its model.weights.h5."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    if edit_config is not None:
        config = json.loads(members["config.json"])
        edit_config(config)
        members["config.json"] = json.dumps(config).encode()
    if edit_weights is not None:
        buffer = io.BytesIO(members["model.weights.h5"])
        with h5py.File(buffer, "r+") as weights:
            edit_weights(weights)
        members["model.weights.h5"] = buffer.getvalue()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load_keras(path)
    message = str(info.value)
    assert repr(str(path)) in message            # every error names the file
    return message


def test_truncated_and_garbage_files(saved, tmp_path):
    for file_format in ("keras", "h5"):
        data = saved["circles"][1][file_format].read_bytes()
        for cut in (len(data) // 2, 30, len(data) - 100):
            path = tmp_path / f"cut.{file_format}"
            path.write_bytes(data[:cut])
            message = _error(path)
            assert "damaged" in message or "not a" in message
    garbage = tmp_path / "garbage.keras"
    garbage.write_bytes(b"not a model at all")
    assert "neither a .keras zip archive nor an HDF5 file" in _error(garbage)
    with pytest.raises(FileNotFoundError, match="missing.keras"):
        load_keras(tmp_path / "missing.keras")
    with pytest.raises(TypeError, match="filepath"):
        load_keras(3)


def test_unsupported_layers_are_all_listed_at_once(saved, tmp_path):
    def edit(config):
        layers = config["config"]["layers"]
        layers[1]["class_name"] = "Conv2D"
        layers[2]["config"]["activation"] = "relu6"
        layers[3]["class_name"] = "LSTM"
    path = tmp_path / "unknown.keras"
    rewrite(saved["circles"][1]["keras"], path, edit_config=edit)
    message = _error(path)
    assert "(3 problems)" in message
    assert "layer 'dense' (Conv2D): an unknown layer" in message
    assert "layer 'dense_1' (Dense): activation 'relu6' has no glassnet equivalent" in message
    assert "layer 'dense_2' (LSTM)" in message


def test_a_real_convolutional_model_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(2, 3, name="conv"), L.Flatten(),
                              L.Dense(1, activation="mish", name="out")])
    path = tmp_path / "conv.keras"
    model.save(path)
    message = _error(path)
    assert "(2 problems)" in message and "'conv' (Conv2D)" in message and "'mish'" in message


def test_lambda_layers_custom_objects_and_custom_activations_are_refused(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Doubler(L.Layer):
        def call(self, x):
            return 2 * x

    def cube(x):
        return x ** 3

    model = keras.Sequential([keras.Input((3,)), L.Lambda(lambda x: x + 1, name="plus_one"),
                              Doubler(name="doubler"), L.Dense(2, activation=cube, name="cubic")])
    path = tmp_path / "code.keras"
    model.save(path)
    message = _error(path)
    assert "(3 problems)" in message
    assert "'plus_one' (Lambda): a Lambda layer holds Python code" in message
    assert "'doubler' (Doubler): a custom object (tests>Doubler)" in message
    assert "'cubic' (Dense): its activation is a custom function" in message


def test_branches_are_refused(tmp_path):
    x = keras.Input((3,))
    left, right = L.Dense(2, name="left")(x), L.Dense(2, name="right")(x)
    model = keras.Model(x, L.Add(name="merge")([left, right]))
    path = tmp_path / "branches.keras"
    model.save(path)
    message = _error(path)
    assert "takes 2 inputs" in message and "feeds 2 layers" in message


def test_weights_of_the_wrong_shape(saved, tmp_path):
    def edit(weights):
        del weights["layers/dense_1/vars/0"]
        weights["layers/dense_1/vars"].create_dataset("0", data=np.zeros((3, 5), np.float32))
        del weights["layers/dense_2/vars/1"]
    path = tmp_path / "shapes.keras"
    rewrite(saved["circles"][1]["keras"], path, edit_weights=edit)
    message = _error(path)
    assert "layer 'dense_1' (Dense): its kernel has shape (3, 5) in the file, but the layer declares (4, 6)" \
        in message
    assert "layer 'dense_2' (Dense): expects 2 weight arrays (kernel, bias), found 1" in message


def test_huge_declared_sizes_are_refused_before_anything_is_allocated(saved, tmp_path):
    units = 60_000_000                       # a (2, 6e7) kernel: 480 MB of float32 if read

    def edit_config(config):
        config["config"]["layers"] = config["config"]["layers"][:2]
        config["config"]["layers"][1]["config"]["units"] = units

    def edit_weights(weights):
        group = weights["layers/dense/vars"]
        for name in ("0", "1"):
            del group[name]
        # chunked and never written: HDF5 stores no data for them, the file stays small
        group.create_dataset("0", shape=(2, units), dtype="f4", chunks=(1, 4096))
        group.create_dataset("1", shape=(units,), dtype="f4", chunks=(4096,))
    huge = tmp_path / "huge.keras"
    rewrite(saved["circles"][1]["keras"], huge, edit_config=edit_config, edit_weights=edit_weights)
    assert huge.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        message = _error(huge)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "declares 180,000,000 parameters" in message
    assert peak < 20_000_000

    mismatch = tmp_path / "mismatch.keras"        # the config says huge, the weights do not
    rewrite(saved["circles"][1]["keras"], mismatch,
            edit_config=lambda c: c["config"]["layers"][1]["config"].update(units=10**12))
    assert "declares (2, 1000000000000)" in _error(mismatch)


def test_a_huge_config_json_is_not_read(saved, tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", b" " * (17 * 1024 * 1024))
    assert "'config.json' is implausibly large" in _error(path)


def test_other_damaged_configurations(saved, tmp_path):
    cases = {
        "not json": (b"{", "config.json is not valid JSON"),
        "no model": (b"[1, 2]", "does not describe a Keras model"),
        "no layers": (b'{"class_name": "Sequential", "config": {"layers": 3}}', "no list of layers"),
        "subclassed": (b'{"class_name": "MyModel", "config": {"layers": []}}', "'MyModel' model"),
        "no input": (b'{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", '
                     b'"config": {"units": 2}}]}}', "input shape is not in the file"),
        "bad units": (b'{"class_name": "Sequential", "config": {"layers": [{"class_name": "Dense", '
                      b'"config": {"units": -2, "batch_input_shape": [null, 3]}}]}}', "units"),
    }
    source = saved["circles"][1]["keras"]
    for case, (config, expected) in cases.items():
        path = tmp_path / f"{case}.keras"
        with zipfile.ZipFile(source) as archive:
            weights = archive.read("model.weights.h5")
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", config)
            archive.writestr("model.weights.h5", weights)
        assert expected in _error(path), case


def test_legacy_specific_problems(saved, tmp_path):
    weights_only = tmp_path / "only.weights.h5"
    saved["circles"][0].save_weights(weights_only)
    assert "without a model_config" in _error(weights_only)

    model = keras.Sequential([keras.Input((2,)), L.Dense(2, activation="hard_sigmoid")])
    old = tmp_path / "old.h5"
    model.save(old)
    with h5py.File(old, "r+") as f:
        f.attrs["keras_version"] = "2.15.0"
    assert "hard_sigmoid of Keras 2.15.0 is clip(0.2 z + 0.5, 0, 1)" in _error(old)


def test_a_float64_keras_model_opens_as_float64(tmp_path):
    model = keras.Sequential([keras.Input((3,), dtype="float64"),
                              L.Dense(4, activation="tanh", dtype="float64"), L.Dense(2, dtype="float64")])
    path = tmp_path / "f64.keras"
    model.save(path)
    loaded = load_keras(path)
    assert loaded.dtype == "float64"
    X = np.random.default_rng(5).standard_normal((8, 3))
    W1, b1, W2, b2 = (keras.ops.convert_to_numpy(v) for v in model.weights)
    assert W1.dtype == np.float64
    np.testing.assert_allclose(loaded.predict(X), np.tanh(X @ W1 + b1) @ W2 + b2, rtol=0, atol=1e-14)


def test_weights_stored_outside_the_file_are_not_read(saved, tmp_path):
    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.arange(24, dtype=np.float32).tobytes())
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("kernel", data=np.ones((2, 4), np.float32))

    def external_storage(weights):
        del weights["layers/dense/vars/0"]
        weights["layers/dense/vars"].create_dataset("0", shape=(2, 4), dtype="f4",
                                                    external=[(str(secret), 0, 32)])

    def external_link(weights):
        del weights["layers/dense/vars/0"]
        weights["layers/dense/vars/0"] = h5py.ExternalLink(str(other), "/kernel")

    for edit in (external_storage, external_link):
        path = tmp_path / f"{edit.__name__}.keras"
        rewrite(saved["circles"][1]["keras"], path, edit_weights=edit)
        assert "refer to data outside the file ('0')" in _error(path)


def test_a_relu_layer_with_a_ceiling_is_refused(tmp_path):
    _skip_without_new_layers("keras_layers")
    model = keras.Sequential([keras.Input((3,)), L.Dense(2), L.ReLU(max_value=6.0, name="relu6")])
    path = tmp_path / "relu6.keras"
    model.save(path)
    assert "layer 'relu6' (ReLU): its configuration is invalid" in _error(path)


def test_glassnet_load_model_opens_keras_files_as_keras_users_write_it(saved, tmp_path):
    """``glassnet.models.load_model('model.keras')`` (and ``glassnet.load_model``) as in Keras;
    a glassnet file saved under a Keras name still opens as glassnet's own format."""
    import glassnet
    from glassnet.models import load_model

    keras_model, paths = saved["circles"]
    X = np.random.default_rng(5).standard_normal((64, 2)).astype(np.float32)
    for path in (paths["keras"], paths["h5"]):
        for loader in (load_model, glassnet.load_model):
            np.testing.assert_allclose(loader(path).predict(X), keras_model.predict(X, verbose=0),
                                       atol=1e-5)
    own = load_model(paths["keras"])
    own.compile(optimizer="adam", loss="binary_crossentropy")
    with pytest.warns(UserWarning, match="glassnet's own format"):
        own.save(tmp_path / "model.h5")
    assert load_model(tmp_path / "model.h5").compiled

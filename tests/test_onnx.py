"""ONNX export: every activation and layer, run in onnxruntime, against model.predict."""

from __future__ import annotations

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime is imported

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from glassnet import activations
from glassnet.activations import Activation as ActivationFunction
from glassnet.layers import Activation, Dense, Dropout, Flatten, Input, Layer
from glassnet.models import Sequential
from glassnet.onnx import DEFAULT_OPSET, export, export_command, to_onnx

BATCH_SIZES = (1, 7, 64)
TOLERANCE = 1e-5

# one config per activation, with non-default parameters where it has them; binary_step
# has its own test (its output jumps at z = 0)
SPECIAL = ("leaky_relu", "elu", "gelu", "binary_step")
ACTIVATIONS = [
    *[name for name in activations.ALL if name not in SPECIAL],
    {"name": "leaky_relu", "alpha": 0.1},
    {"name": "elu", "alpha": 0.7},
    {"name": "gelu", "approximate": False},
    {"name": "gelu", "approximate": True},
]


def _id(activation) -> str:
    if isinstance(activation, str):
        return activation
    return "-".join(f"{value}" for value in activation.values())


def run_onnx(path, X: np.ndarray) -> np.ndarray:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"input": X})[0]


def assert_same_as_predict(model: Sequential, path, seed: int = 0, scale: float = 2.0) -> None:
    rng = np.random.default_rng(seed)
    for n in BATCH_SIZES:
        X = (scale * rng.standard_normal((n, *model.input_shape))).astype(np.float32)
        expected = model.predict(X)
        got = run_onnx(path, X)
        assert got.dtype == np.float32
        assert got.shape == expected.shape == (n, *model.output_shape)
        np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=_id)
@pytest.mark.parametrize("opset", [DEFAULT_OPSET, 20])
def test_every_activation_matches_predict(activation, opset, tmp_path):
    model = Sequential([Input(shape=(6,)), Dense(16, activation=activation),
                        Dense(4, activation=activation)])
    model.build()
    path = tmp_path / "model.onnx"
    export(model, path, opset=opset)
    assert_same_as_predict(model, path)


def test_activation_operators(tmp_path):
    def op_types(activation, opset=DEFAULT_OPSET):
        model = Sequential([Input(shape=(3,)), Dense(2, activation=activation)])
        model.build()
        return [node.op_type for node in to_onnx(model, opset=opset).graph.node]

    assert op_types("linear") == ["Gemm"]
    assert op_types("relu") == ["Gemm", "Relu"]
    assert op_types("swish") == ["Gemm", "Sigmoid", "Mul"]
    assert op_types("binary_step") == ["Gemm", "GreaterOrEqual", "Cast"]
    assert "Erf" in op_types("gelu") and "Gelu" not in op_types("gelu")   # opset 17
    assert op_types("gelu", opset=20) == ["Gemm", "Gelu"]
    selu = next(n for n in to_onnx(_single("selu")).graph.node if n.op_type == "Selu")
    attributes = {a.name: a.f for a in selu.attribute}
    assert attributes["alpha"] == pytest.approx(activations.SELU.alpha, rel=1e-7)
    assert attributes["gamma"] == pytest.approx(activations.SELU.scale, rel=1e-7)
    hard = next(n for n in to_onnx(_single("hard_sigmoid")).graph.node
                if n.op_type == "HardSigmoid")
    assert {a.name: a.f for a in hard.attribute} == pytest.approx({"alpha": 1 / 6, "beta": 0.5})


def _single(activation) -> Sequential:
    model = Sequential([Input(shape=(3,)), Dense(2, activation=activation)])
    model.build()
    return model


def test_binary_step(tmp_path):
    model = Sequential([Input(shape=(5,)), Dense(8, activation="binary_step"), Dense(3)])
    model.build()
    path = tmp_path / "step.onnx"
    export(model, path)
    rng = np.random.default_rng(1)
    for n in BATCH_SIZES:
        X = rng.standard_normal((n, 5)).astype(np.float32)
        Z = X @ model.layers[0].W + model.layers[0].b
        # away from the jump at z = 0, where float rounding could decide either way
        assert np.abs(Z).min() > 1e-4
        np.testing.assert_allclose(run_onnx(path, X), model.predict(X), rtol=0, atol=TOLERANCE)
    # exactly at z = 0 the step is 1, as in glassnet (g(z) = 1 if z >= 0)
    at_zero = Sequential([Input(shape=(3,)), Activation("binary_step")])
    at_zero.build()
    export(at_zero, path)
    X = np.array([[-1.0, 0.0, 2.0]], dtype=np.float32)
    np.testing.assert_array_equal(run_onnx(path, X), [[0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(at_zero.predict(X), [[0.0, 1.0, 1.0]])


def test_trained_multilayer_network_with_flatten_and_dropout(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((64, 4, 5)).astype(np.float32)
    y = (X.reshape(64, -1).sum(axis=1) > 0).astype(np.float32)
    model = Sequential([
        Input(shape=(4, 5)), Flatten(), Dense(12, activation="relu"), Dropout(0.5),
        Dense(8, activation="tanh"), Activation("swish"), Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, y, epochs=3, batch_size=16, verbose=0)
    path = tmp_path / "trained.onnx"
    proto = export(model, path)
    assert [node.op_type for node in proto.graph.node] == [
        "Flatten", "Gemm", "Relu", "Gemm", "Tanh", "Sigmoid", "Mul", "Gemm", "Sigmoid"]
    assert_same_as_predict(model, path)


def test_softmax_classifier_and_bias_free_dense(tmp_path):
    model = Sequential([Input(shape=(7,)), Dense(9, activation="elu", use_bias=False),
                        Dense(5, activation="softmax")])
    model.build()
    path = tmp_path / "softmax.onnx"
    proto = export(model, path)
    assert [node.op_type for node in proto.graph.node] == ["MatMul", "Elu", "Gemm", "Softmax"]
    assert_same_as_predict(model, path)


def test_graph_interface(tmp_path):
    model = Sequential([Input(shape=(2, 3)), Flatten(), Dense(4)], name="tiny")
    model.build()
    path = tmp_path / "tiny.onnx"
    returned = export(model, path)
    loaded = onnx.load(path)
    onnx.checker.check_model(loaded, full_check=True)
    assert loaded == returned
    assert loaded.graph.name == "tiny"
    assert loaded.producer_name == "glassnet"
    assert [op.version for op in loaded.opset_import] == [DEFAULT_OPSET]
    (graph_input,) = loaded.graph.input
    assert graph_input.name == "input"
    dims = graph_input.type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch"
    assert [d.dim_value for d in dims[1:]] == [2, 3]
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    (graph_output,) = loaded.graph.output
    assert graph_output.name == "output"
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in loaded.graph.initializer}
    np.testing.assert_array_equal(weights[f"{model.layers[1].name}/W"], model.layers[1].W)


def test_layers_with_the_same_name(tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(4, activation="tanh", name="same"),
                        Dense(2, name="same")])
    model.build()
    path = tmp_path / "same.onnx"
    export(model, path)
    assert_same_as_predict(model, path)


def test_model_without_operators_gets_an_identity(tmp_path):
    model = Sequential([Input(shape=(3,)), Dropout(0.2)])
    model.build()
    path = tmp_path / "identity.onnx"
    assert [node.op_type for node in export(model, path).graph.node] == ["Identity"]
    X = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(run_onnx(path, X), X)


def test_float64_model_exports_float32(tmp_path, float64):
    model = Sequential([Input(shape=(4,)), Dense(6, activation="gelu"), Dense(2)])
    model.build()
    path = tmp_path / "f64.onnx"
    export(model, path)
    assert_same_as_predict(model, path)


class Doubler(Layer):
    def forward(self, A_prev, training=False):
        return 2 * A_prev


class Cube(ActivationFunction):
    name = "cube"

    def forward(self, z, out=None):
        return np.power(z, 3, out=out)


def test_unknown_layer_or_activation_is_a_clear_error(tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(2), Doubler(name="doubler")])
    model.build()
    with pytest.raises(ValueError, match=r"layer 'doubler' \(Doubler\).*Dense, Activation"):
        export(model, tmp_path / "x.onnx")
    model = Sequential([Input(shape=(3,)), Dense(2, activation=Cube(), name="cubic")])
    model.build()
    with pytest.raises(ValueError, match=r"layer 'cubic' \(Dense\).*activation 'cube'"):
        export(model, tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_bad_arguments(tmp_path):
    model = _single("relu")
    with pytest.raises(ValueError, match="opset must be an integer from 13"):
        export(model, tmp_path / "x.onnx", opset=9)
    with pytest.raises(TypeError, match="opset"):
        export(model, tmp_path / "x.onnx", opset="17")
    with pytest.raises(TypeError, match="Sequential"):
        export("model", tmp_path / "x.onnx")
    unbuilt = Sequential([Dense(2)])
    with pytest.raises(RuntimeError, match="input shape"):
        export(unbuilt, tmp_path / "x.onnx")


def test_export_command(tmp_path, capsys):
    model = Sequential([Input(shape=(3,)), Dense(5, activation="selu"), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    saved = tmp_path / "model.glassnet"
    model.save(saved)
    target = tmp_path / "model.onnx"
    assert export_command(saved, target) == 0
    assert str(target) in capsys.readouterr().out
    assert_same_as_predict(model, target)
    assert export_command(saved, tmp_path / "g.onnx", opset=20) == 0
    assert onnx.load(tmp_path / "g.onnx").opset_import[0].version == 20

    assert export_command(tmp_path / "missing.glassnet", target) == 1
    assert "missing.glassnet" in capsys.readouterr().err
    assert export_command(saved, tmp_path / "old.onnx", opset=5) == 1
    assert "opset" in capsys.readouterr().err

"""glassnet.onnx.load: glassnet's own exports and torch.onnx.export files back into glassnet."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from glassnet import activations
from glassnet.importers import load_any
from glassnet.layers import Activation, Dense, Dropout, Flatten, Input
from glassnet.models import Sequential
from glassnet.onnx import export, load, to_onnx
from glassnet.saving import ModelFileError

TOLERANCE = 1e-5
BATCH_SIZES = (1, 64)
ACTIVATIONS = [*activations.ALL, {"name": "leaky_relu", "alpha": 0.1}, {"name": "elu", "alpha": 0.7},
               {"name": "gelu", "approximate": True}]


def _id(activation) -> str:
    return activation if isinstance(activation, str) else "-".join(str(v) for v in activation.values())


@pytest.mark.parametrize("activation", ACTIVATIONS, ids=_id)
@pytest.mark.parametrize("opset", [17, 20])
def test_glassnet_export_then_import_is_identical(activation, opset, tmp_path):
    model = Sequential([Input(shape=(2, 3)), Flatten(), Dense(5, activation=activation, name="first"),
                        Activation("tanh"), Dense(4, use_bias=False), Activation(activation),
                        Dropout(0.3), Dense(2, name="last")], name="round_trip")
    model.build()
    path = tmp_path / "model.onnx"
    proto = export(model, path, opset=opset)
    loaded = load(path)
    assert loaded.name == "round_trip"
    # Dropout and a linear Activation layer compute nothing at inference: ONNX has no trace of them
    assert [layer.name for layer in loaded.layers] == [
        layer.name for layer in model.layers if not isinstance(layer, Dropout)
        and not (isinstance(layer, Activation) and layer.activation.name == "linear")]
    assert loaded.layers[1].activation == model.layers[1].activation
    rng = np.random.default_rng(0)
    for n in BATCH_SIZES:
        X = (2 * rng.standard_normal((n, 2, 3))).astype(np.float32)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert to_onnx(loaded, opset=opset).graph == proto.graph      # exported again: the same graph


def every_module() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(6, 5), nn.SiLU(), nn.Linear(5, 5, bias=False), nn.ELU(0.5), nn.Dropout(0.2),
        nn.Linear(5, 5), nn.Hardsigmoid(), nn.Linear(5, 5), nn.Softplus(), nn.Linear(5, 5), nn.Softsign(),
        nn.SELU(), nn.LeakyReLU(0.1), nn.Tanh(), nn.Sigmoid(), nn.ReLU(), nn.Linear(5, 5), nn.GELU(),
        nn.Linear(5, 4), nn.GELU(approximate="tanh"), nn.Linear(4, 3), nn.Softmax(dim=-1),
    ).eval()


@pytest.mark.parametrize("exporter, opset", [("legacy", 17), ("legacy", 20), ("dynamo", None)])
def test_torch_onnx_export_files(exporter, opset, tmp_path):
    module = every_module()
    example = torch.randn(2, 2, 3)
    path = tmp_path / "torch.onnx"
    options: dict = {"input_names": ["x"], "output_names": ["y"]}
    if exporter == "legacy":
        options.update(dynamo=False, opset_version=opset, dynamic_axes={"x": {0: "batch"}})
    else:
        pytest.importorskip("onnxscript")
        options.update(dynamo=True, dynamic_shapes=({0: torch.export.Dim("batch")},))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (example,), path, **options)
    model = load(path)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Flatten", "Dense", "Dense", "Dense", "Dense", "Dense", "Activation", "Activation", "Activation",
        "Activation", "Activation", "Dense", "Dense", "Dense"]
    assert [getattr(layer, "activation", None) and layer.activation.name for layer in model.layers] == [
        None, "swish", "elu", "hard_sigmoid", "softplus", "softsign", "selu", "leaky_relu", "tanh",
        "sigmoid", "relu", "gelu", "gelu", "softmax"]
    assert model.layers[7].activation.alpha == 0.1 and model.layers[12].activation.approximate
    rng = np.random.default_rng(1)
    for n in BATCH_SIZES:
        X = (2 * rng.standard_normal((n, 2, 3))).astype(np.float32)
        with torch.no_grad():
            expected = module(torch.from_numpy(X)).numpy()
        np.testing.assert_allclose(model.predict(X), expected, rtol=0, atol=TOLERANCE)


def test_a_loaded_onnx_model_can_be_fine_tuned_and_saved(tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(1, activation="sigmoid")])
    model.build()
    export(model, tmp_path / "m.onnx")
    loaded = load_any(tmp_path / "m.onnx")
    loaded.compile(optimizer="adam", loss="binary_crossentropy")
    X = np.random.default_rng(2).standard_normal((32, 3)).astype(np.float32)
    loaded.fit(X, (X[:, 0] > 0).astype(np.float32), epochs=2, verbose=0)
    loaded.save(tmp_path / "m.glassnet")
    np.testing.assert_array_equal(load_any(str(tmp_path / "m.glassnet")).predict(X), loaded.predict(X))


def test_load_any_chooses_by_extension(tmp_path):
    (tmp_path / "model.pt").write_bytes(b"\x80\x02 a pickle, never opened")
    with pytest.raises(ValueError, match=r"unknown model file extension '\.pt'.*\.keras"):
        load_any(tmp_path / "model.pt")
    with pytest.raises(FileNotFoundError):
        load_any(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="path"):
        load_any(None)
    with pytest.raises(FileNotFoundError):
        load_any(tmp_path / "missing.onnx")


# --------------------------------------------------------------------------------------
# what cannot be expressed, damaged and hostile files


def _save(graph: onnx.GraphProto, path, opset: int = 17) -> None:
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset),
                                                    helper.make_opsetid("custom.domain", 1)])
    onnx.save(model, path)


def _weight(name: str, shape: tuple[int, ...]) -> TensorProto:
    return numpy_helper.from_array(np.ones(shape, dtype=np.float32), name)


def _io(name: str, n: int) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", n])


def _error(path) -> str:
    with pytest.raises(ModelFileError) as info:
        load(path)
    message = str(info.value)
    assert repr(str(path)) in message
    return message


def test_every_unsupported_operator_is_listed_at_once(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "W1", "b1"], ["z1"], name="dense1"),
             helper.make_node("Conv", ["z1", "K"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("Magic", ["r"], ["m"], name="magic", domain="custom.domain"),
             helper.make_node("Gemm", ["m", "W2"], ["y"], name="dense2")]
    graph = helper.make_graph(nodes, "g", [_io("x", 3)], [_io("y", 2)],
                              [_weight("W1", (3, 4)), _weight("b1", (4,)), _weight("K", (1, 1, 1)),
                               _weight("W2", (4, 2))])
    path = tmp_path / "conv.onnx"
    _save(graph, path)
    message = _error(path)
    assert "(2 problems)" in message
    assert "node 'conv' (Conv): the operator Conv is not one glassnet reads" in message
    assert "node 'magic' (Magic): the operator Magic is not one glassnet reads" in message


def test_branches_are_refused(tmp_path):
    nodes = [helper.make_node("Gemm", ["x", "W"], ["left"], name="left"),
             helper.make_node("Gemm", ["x", "W"], ["right"], name="right"),
             helper.make_node("Add", ["left", "right"], ["y"], name="merge")]
    graph = helper.make_graph(nodes, "g", [_io("x", 3)], [_io("y", 3)], [_weight("W", (3, 3))])
    path = tmp_path / "branch.onnx"
    _save(graph, path)
    message = _error(path)
    assert "node 'left' (Gemm): one of 2 operators reading the same tensor (a branch)" in message
    assert "node 'merge' (Add): not part of a chain" in message


def test_activation_parameters_glassnet_does_not_have_are_refused(tmp_path):
    nodes = [helper.make_node("HardSigmoid", ["x"], ["h"], name="keras2"),
             helper.make_node("Softmax", ["h"], ["y"], name="columns", axis=0)]
    graph = helper.make_graph(nodes, "g", [_io("x", 3)], [_io("y", 3)])
    path = tmp_path / "params.onnx"
    _save(graph, path)
    message = _error(path)
    assert "node 'keras2' (HardSigmoid): HardSigmoid(alpha=0.2" in message
    assert "node 'columns' (Softmax): Softmax(axis=0)" in message


def test_damaged_files(tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(4, activation="relu"), Dense(2)])
    model.build()
    data = to_onnx(model).SerializeToString()
    for cut in (len(data) // 2, len(data) - 7):
        path = tmp_path / "cut.onnx"
        path.write_bytes(data[:cut])
        _error(path)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\xff" * 100)
    assert "not a readable ONNX file" in _error(garbage)
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        load(tmp_path / "missing.onnx")


def test_hostile_tensors_are_refused_before_allocation(tmp_path):
    huge = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1_000_000, 1_000_000],
                       raw_data=b"\0\0\0\0")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                              [_io("x", 1_000_000)], [_io("y", 1_000_000)], [huge])
    path = tmp_path / "huge.onnx"
    _save(graph, path)
    assert "tensor 'W' declares the implausible shape [1000000, 1000000]" in _error(path)

    short = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[3, 4], raw_data=b"\0" * 8)
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "W"], ["y"])], "g",
                              [_io("x", 3)], [_io("y", 4)], [short])
    _save(graph, path)
    assert "declares shape [3, 4] (12 numbers) but holds 2" in _error(path)


def test_external_data_is_not_followed(tmp_path):
    model = Sequential([Input(shape=(3,)), Dense(4)])
    model.build()
    proto = to_onnx(model)
    path = tmp_path / "external.onnx"
    onnx.save(proto, path, save_as_external_data=True, all_tensors_to_one_file=True,
              location="weights.bin", size_threshold=0)
    assert "stored in an external file" in _error(path)


def test_graphs_without_one_float_input_and_one_output(tmp_path):
    nodes = [helper.make_node("Add", ["a", "b"], ["y"])]
    graph = helper.make_graph(nodes, "g", [_io("a", 3), _io("b", 3)], [_io("y", 3)])
    path = tmp_path / "two.onnx"
    _save(graph, path)
    assert "has 2 inputs" in _error(path)
    ints = helper.make_tensor_value_info("x", TensorProto.INT64, ["batch", 3])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [ints], [_io("y", 3)])
    _save(graph, path)
    assert "glassnet reads a float input" in _error(path)

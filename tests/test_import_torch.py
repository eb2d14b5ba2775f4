"""PyTorch nn.Sequential <-> glassnet: the same predictions, the same gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from glassnet.importers import from_torch, to_torch
from glassnet.layers import Activation, Dense, Dropout, Flatten, Input
from glassnet.models import Sequential

TOLERANCE = 1e-5
BATCH_SIZES = (1, 64)

# every activation module, with non-default parameters where it has them
ACTIVATION_MODULES = [
    (nn.ReLU, {"name": "relu"}), (lambda: nn.LeakyReLU(0.05), {"name": "leaky_relu", "alpha": 0.05}),
    (nn.Sigmoid, {"name": "sigmoid"}), (nn.Tanh, {"name": "tanh"}),
    (lambda: nn.Softmax(dim=-1), {"name": "softmax"}),
    (nn.GELU, {"name": "gelu", "approximate": False}),
    (lambda: nn.GELU(approximate="tanh"), {"name": "gelu", "approximate": True}),
    (nn.SiLU, {"name": "swish"}), (lambda: nn.ELU(0.7), {"name": "elu", "alpha": 0.7}),
    (nn.SELU, {"name": "selu"}), (nn.Softplus, {"name": "softplus"}),
    (nn.Softsign, {"name": "softsign"}), (nn.Hardsigmoid, {"name": "hard_sigmoid"}),
]


IDS = ["-".join(str(value) for value in config.values()) for _, config in ACTIVATION_MODULES]


def torch_predict(module: nn.Module, X: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.eval()(torch.from_numpy(X)).numpy()


def assert_same_predictions(model: Sequential, module: nn.Module, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for n in BATCH_SIZES:
        X = (2 * rng.standard_normal((n, *model.input_shape))).astype(model.dtype)
        np.testing.assert_allclose(model.predict(X), torch_predict(module, X), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("make, config", ACTIVATION_MODULES, ids=IDS)
def test_every_activation_module_from_torch(make, config):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(5, 7), make(), nn.Linear(7, 4), make())
    model = from_torch(module)
    assert [type(layer) for layer in model.layers] == [Dense, Dense]   # g folded into Dense
    assert model.layers[0].activation.get_config() == config
    assert model.input_shape == (5,) and model.dtype == "float32"
    np.testing.assert_array_equal(model.layers[0].W, module[0].weight.detach().numpy().T)
    assert_same_predictions(model, module)


@pytest.mark.parametrize("make, config", ACTIVATION_MODULES, ids=IDS)
def test_every_activation_to_torch(make, config):
    model = Sequential([Input(shape=(5,)), Dense(7, activation=config), Activation(config),
                        Dense(3, activation=config)])
    model.build()
    module = to_torch(model)
    assert type(module[1]) is type(make())
    assert_same_predictions(model, module)


def test_a_network_with_every_kind_of_module_both_ways():
    torch.manual_seed(1)
    module = nn.Sequential(
        nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Sigmoid(), nn.Dropout(0.25),
        nn.Sequential(nn.Linear(8, 8, bias=False), nn.Identity(), nn.ELU()),
        nn.Linear(8, 3), nn.Softmax(dim=1),
    )
    model = from_torch(module, input_shape=(3, 4))
    kinds = [(type(layer).__name__, getattr(layer, "activation", None) and layer.activation.name)
             for layer in model.layers]
    assert kinds == [("Flatten", None), ("Dense", "tanh"), ("Activation", "sigmoid"), ("Dropout", None),
                     ("Dense", "elu"), ("Dense", "softmax")]
    assert not model.layers[4].use_bias and model.layers[3].rate == 0.25
    assert_same_predictions(model, module)
    back = to_torch(model)
    assert [type(m).__name__ for m in back] == [
        "Flatten", "Linear", "Tanh", "Sigmoid", "Dropout", "Linear", "ELU", "Linear", "Softmax"]
    assert_same_predictions(model, back)


def test_the_weights_are_copies():
    module = nn.Sequential(nn.Linear(2, 2))
    model = from_torch(module)
    with torch.no_grad():
        module[0].weight.zero_()
    assert np.abs(model.layers[0].W).sum() > 0
    back = to_torch(model)
    model.layers[0].W[...] = 0
    assert back[0].weight.abs().sum() > 0


def _float64_pair(seed: int, last: nn.Module) -> tuple[nn.Sequential, Sequential]:
    torch.manual_seed(seed)
    module = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 5), nn.GELU(),
                           nn.Linear(5, 3), last).double()
    model = from_torch(module)
    assert model.dtype == "float64"
    return module, model


@pytest.mark.parametrize("loss", ["mse", "binary_crossentropy", "categorical_crossentropy"])
def test_one_training_step_gives_the_same_gradients(loss):
    last, torch_loss = {
        "mse": (nn.Softplus(), nn.MSELoss()),
        "binary_crossentropy": (nn.Sigmoid(), nn.BCELoss()),
        "categorical_crossentropy": (nn.Softmax(dim=-1), None),
    }[loss]
    module, model = _float64_pair(2, last)
    rng = np.random.default_rng(3)
    X = rng.standard_normal((16, 4))
    Y = rng.random((16, 3)) if loss != "categorical_crossentropy" else np.eye(3)[rng.integers(0, 3, 16)]
    if loss == "binary_crossentropy":
        Y = (Y > 0.5).astype(np.float64)
    model.compile(optimizer="sgd", loss=loss)
    A = model.forward(X, training=True)
    model.backward(Y, A)

    output = module(torch.from_numpy(X))
    target = torch.from_numpy(Y)
    cost = torch_loss(output, target) if torch_loss is not None else \
        -(target * torch.log(output)).sum(dim=1).mean()
    cost.backward()
    linears = [m for m in module if isinstance(m, nn.Linear)]
    for layer, linear in zip(model.layers, linears, strict=True):
        np.testing.assert_allclose(layer.grads["kernel"], linear.weight.grad.numpy().T, rtol=0, atol=1e-10)
        np.testing.assert_allclose(layer.grads["bias"], linear.bias.grad.numpy(), rtol=0, atol=1e-10)

    # and the SGD update that follows (learning rate 0.01, Keras's default) lands on the same weights
    model.optimizer.apply(model._layout.trainable_params, model._layout.trainable_grads)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter -= 0.01 * parameter.grad
    for layer, linear in zip(model.layers, linears, strict=True):
        np.testing.assert_allclose(layer.W, linear.weight.detach().numpy().T, rtol=0, atol=1e-12)


def test_gradients_of_a_glassnet_model_converted_to_torch(float64):
    model = Sequential([Input(shape=(3,)), Dense(5, activation="swish"), Dense(2, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    module = to_torch(model)
    assert module[0].weight.dtype == torch.float64
    rng = np.random.default_rng(4)
    X, Y = rng.standard_normal((8, 3)), (rng.random((8, 2)) > 0.5).astype(np.float64)
    model.backward(Y, model.forward(X, training=True))
    nn.BCELoss()(module(torch.from_numpy(X)), torch.from_numpy(Y)).backward()
    np.testing.assert_allclose(model.layers[0].grads["kernel"], module[0].weight.grad.numpy().T,
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[1].grads["bias"], module[2].bias.grad.numpy(),
                               rtol=0, atol=1e-10)


def test_what_glassnet_cannot_express_is_listed_in_one_message():
    class MyReLU(nn.ReLU):          # a subclass may compute anything: refused
        pass

    module = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 4), MyReLU(),
                           nn.Softmax(dim=0), nn.LeakyReLU(-0.1), nn.Flatten(2), nn.Linear(4, 1))
    with pytest.raises(ValueError) as info:
        from_torch(module)
    message = str(info.value)
    assert "(5 problems)" in message
    for piece in ("'0' (Conv2d)", "'3' (MyReLU)", "'4' (Softmax): dim=0", "'5' (LeakyReLU)",
                  "'6' (Flatten): start_dim=2"):
        assert piece in message


def test_bad_arguments():
    with pytest.raises(TypeError, match="torch.nn.Sequential"):
        from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))
    with pytest.raises(ValueError, match="input_shape"):
        from_torch(nn.Sequential(nn.ReLU()))
    assert from_torch(nn.Sequential(nn.ReLU()), input_shape=(3,)).output_shape == (3,)
    with pytest.raises(ValueError, match=r"declares \(7, 4\)"):
        from_torch(nn.Sequential(nn.Linear(4, 4)), input_shape=(7,))
    with pytest.raises(TypeError, match="glassnet Sequential"):
        to_torch(nn.Sequential())
    step = Sequential([Input(shape=(2,)), Dense(2, activation="binary_step"), Dropout(0.1), Flatten()])
    step.build()
    with pytest.raises(ValueError, match=r"layer 'dense\w*' \(Dense\): activation 'binary_step'"):
        to_torch(step)


def test_the_top_level_names():
    import glassnet.importers as importers

    assert importers.from_torch is from_torch and importers.to_torch is to_torch

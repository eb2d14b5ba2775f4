"""From settings to a glassnet model, and to the Python script that builds the same model.

One description, :func:`layer_specs`, feeds both: the server builds the network from it
and the exported script is written from it, so the script cannot drift from the page.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from glassnet import optimizers, regularizers
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.playground.settings import Settings
from glassnet.utils import set_random_seed

# glassnet draws the initial weights and the shuffling order from its global seed at the
# moment a model is created; sessions in other threads must not interleave there.
_SEED_LOCK = threading.Lock()

OPTIMIZER_CODE = {
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adagrad": ("Adagrad", {}),
    "nadam": ("Nadam", {}),
}


def output_units_and_activation(settings: Settings) -> tuple[int, str]:
    """Binary: 1 sigmoid unit; three classes: 3 softmax units; regression: 1 linear unit."""
    return {"binary": (1, "sigmoid"), "multiclass": (3, "softmax"),
            "regression": (1, "linear")}[settings.task]


def layer_specs(settings: Settings) -> list[dict[str, Any]]:
    """The Dense layers, in order: name, units, activation, initializer, regularizer (or None)."""
    regularizer = None
    if settings.regularization != "none":
        regularizer = (settings.regularization.upper(), settings.regularization_rate)
    units, activation = output_units_and_activation(settings)
    hidden = [(f"hidden_{i + 1}", n, name)
              for i, (n, name) in enumerate(zip(settings.layers, settings.activations, strict=True))]
    return [{"name": name, "units": n, "activation": act, "initializer": settings.initializer,
             "regularizer": regularizer}
            for name, n, act in [*hidden, ("output", units, activation)]]


def build_model(settings: Settings) -> Sequential:
    """The page's network, compiled, with the initial weights of ``settings.seed``."""
    layers = []
    for position, spec in enumerate(layer_specs(settings)):
        regularizer = None
        if spec["regularizer"] is not None:
            kind, rate = spec["regularizer"]
            regularizer = getattr(regularizers, kind)(rate)
        layers.append(Dense(spec["units"], activation=spec["activation"], name=spec["name"],
                            kernel_initializer=spec["initializer"], kernel_regularizer=regularizer,
                            input_dim=len(settings.features) if position == 0 else None))
    class_name, options = OPTIMIZER_CODE[settings.optimizer]
    optimizer = getattr(optimizers, class_name)(learning_rate=settings.learning_rate, **options)
    metrics = [] if settings.task == "regression" else ["accuracy"]
    with _SEED_LOCK:
        set_random_seed(settings.seed)
        model = Sequential(layers, name="playground")
    model.compile(optimizer=optimizer, loss=settings.loss, metrics=metrics)
    return model


def targets(settings: Settings, y: np.ndarray) -> np.ndarray:
    """Labels as the loss wants them: one-hot rows for three classes, else a column."""
    if settings.task == "multiclass":
        return np.eye(3)[y.astype(np.int64)]
    return y.reshape(-1, 1).astype(np.float64)


def _layer_code(spec: dict[str, Any], first: bool, n_features: int) -> str:
    args = [str(spec["units"]), f"activation={spec['activation']!r}", f"name={spec['name']!r}",
            f"kernel_initializer={spec['initializer']!r}"]
    if spec["regularizer"] is not None:
        kind, rate = spec["regularizer"]
        args.append(f"kernel_regularizer=regularizers.{kind}({rate!r})")
    if first:
        args.append(f"input_dim={n_features}")
    return f"    Dense({', '.join(args)}),"


def _data_code(settings: Settings, custom: tuple[np.ndarray, np.ndarray] | None) -> list[str]:
    if settings.dataset == "custom":
        assert custom is not None, "a custom data set comes with its points"
        X, y = custom
        return [
            "# The points you added on the page (x1, x2) and their labels.",
            f"X = np.array({np.round(X, 6).tolist()!r})",
            f"y = np.array({y.tolist()!r})",
        ]
    return [
        "# The same generator and seed as the page (glassnet.playground.data needs only NumPy).",
        f"X, y = make_dataset({settings.dataset!r}, n_points={settings.n_points}, "
        f"noise={settings.noise!r}, seed={settings.seed})",
    ]


def script(settings: Settings, epochs: int, custom: tuple[np.ndarray, np.ndarray] | None = None,
           edited: bool = False) -> str:
    """A runnable Python script that trains the page's network on the page's data for ``epochs``."""
    class_name, options = OPTIMIZER_CODE[settings.optimizer]
    option_code = "".join(f", {key}={value!r}" for key, value in options.items())
    specs = layer_specs(settings)
    classify = settings.task != "regression"
    lines = [
        '"""Exported from the glassnet playground: the same data, network and training as the page."""',
        "import numpy as np",
        "",
        "from glassnet import optimizers, regularizers",
        "from glassnet.layers import Dense",
        "from glassnet.models import Sequential",
        "from glassnet.playground.data import features, make_dataset, split",
        "from glassnet.playground.recipe import targets",
        "from glassnet.playground.settings import Settings",
        "from glassnet.utils import set_random_seed",
        "",
        f"settings = Settings(**{settings.to_dict()!r})",
        *_data_code(settings, custom),
        f"X_train, X_test, y_train, y_test = split(X, y, train_ratio={settings.train_ratio!r}, "
        f"seed={settings.seed}, classify={classify})",
        f"inputs = {list(settings.features)!r}   # the input features",
        "A0_train, A0_test = features(X_train, inputs), features(X_test, inputs)",
        "",
        f"set_random_seed({settings.seed})   # the initial weights and the shuffling order",
        "model = Sequential([",
        *[_layer_code(spec, i == 0, len(settings.features)) for i, spec in enumerate(specs)],
        "], name='playground')",
        f"model.compile(optimizer=optimizers.{class_name}(learning_rate={settings.learning_rate!r}"
        f"{option_code}),",
        f"              loss={settings.loss!r}, metrics={['accuracy'] if classify else []!r})",
        f"model.fit(A0_train, targets(settings, y_train), batch_size={settings.batch_size}, "
        f"epochs={epochs}, verbose=0)",
        "",
        "results = model.evaluate(A0_test, targets(settings, y_test), verbose=0, return_dict=True)",
        "print(f\"epochs: {model.epochs_trained}  test loss: {results['loss']:.6f}\")",
    ]
    if classify:
        lines.append("print(f\"test accuracy: {results['accuracy']:.6f}\")")
    if edited:
        lines.insert(1, "# Note: weights edited by hand on the page are not replayed here.")
    lines += ["model.explain(batch_size=" + str(settings.batch_size) + ")   # prints the equations"]
    return "\n".join(lines) + "\n"

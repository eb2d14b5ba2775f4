"""What the page may ask for, checked like any public input.

Every message from the browser is untrusted: it is JSON (never pickle, never code),
and every field is checked for its name, type and range before anything is built.
A bad message raises :class:`MessageError` with one line that names the field, what
was expected and what was given; the server sends that line back to the page.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from glassnet import activations, initializers
from glassnet._validation import check_bool, check_choice, check_float, check_int


class MessageError(ValueError):
    """A message from the browser that the playground refuses, with the reason in words."""


@dataclass(frozen=True)
class Limits:
    """How much one session may ask for (the server's ``--max-*`` settings)."""

    max_layers: int = 8
    max_units: int = 16
    max_points: int = 2000
    max_upload_bytes: int = 200_000
    max_sessions: int = 16
    max_message_bytes: int = 300_000


CLASSIFICATION = ("circle", "xor", "gaussian", "spiral", "circles", "moons")
THREE_CLASS = ("spiral3", "gaussian3")
REGRESSION = ("plane", "multigaussian")
DATASETS = (*CLASSIFICATION, *THREE_CLASS, *REGRESSION, "custom")
FEATURES = ("x1", "x2", "x1^2", "x2^2", "x1x2", "sin_x1", "sin_x2")
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adagrad", "nadam")
LOSSES = ("binary_crossentropy", "mean_squared_error", "categorical_crossentropy")
REGULARIZATIONS = ("none", "l1", "l2")


@dataclass(frozen=True)
class Settings:
    """One run: the data, the network and how it is trained (all of it goes in the URL)."""

    dataset: str = "circles"
    noise: float = 0.05
    train_ratio: float = 0.5
    n_points: int = 500
    features: tuple[str, ...] = ("x1", "x2")
    layers: tuple[int, ...] = (4, 6, 6, 4)
    activations: tuple[str, ...] = ("relu", "relu", "relu", "relu")
    loss: str = "binary_crossentropy"
    optimizer: str = "adam"
    learning_rate: float = 0.03
    batch_size: int = 10
    regularization: str = "none"
    regularization_rate: float = 0.0
    initializer: str = "glorot_uniform"
    seed: int = 0
    n_classes: int = field(default=2)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = list(self.features)
        data["layers"] = list(self.layers)
        data["activations"] = list(self.activations)
        return data

    @property
    def task(self) -> str:
        """'binary', 'multiclass' or 'regression', from the data set (custom: from n_classes)."""
        if self.dataset in REGRESSION:
            return "regression"
        if self.dataset in THREE_CLASS or (self.dataset == "custom" and self.n_classes == 3):
            return "multiclass"
        return "binary"


def _list_of(name: str, value: Any, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise MessageError(f"{name} must be a list, got {type(value).__name__}")
    if len(value) > limit:
        raise MessageError(f"{name} may hold at most {limit} entries, got {len(value)}")
    return value


def _checked(check: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one of glassnet's ``check_*`` helpers; its TypeError/ValueError becomes a MessageError."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as error:
        raise MessageError(str(error)) from None


def _check_architecture(data: dict[str, Any], limits: Limits) -> tuple[tuple[int, ...], tuple[str, ...]]:
    layers = _list_of("settings.layers", data["layers"], limits.max_layers)
    units = tuple(_checked(check_int, f"settings.layers[{i}]", n) for i, n in enumerate(layers))
    for i, n in enumerate(units):
        if n > limits.max_units:
            raise MessageError(f"settings.layers[{i}] must be at most {limits.max_units} units, got {n}")
    names = _list_of("settings.activations", data["activations"], limits.max_layers)
    if len(names) != len(units):
        raise MessageError(f"settings.activations must name one activation per hidden layer "
                           f"({len(units)}), got {len(names)}")
    chosen = tuple(_checked(check_choice, f"settings.activations[{i}]", name, activations.ALL)
                   for i, name in enumerate(names))
    return units, chosen


def _check_features(value: Any) -> tuple[str, ...]:
    names = _list_of("settings.features", value, len(FEATURES))
    chosen = [_checked(check_choice, "settings.features", name, FEATURES) for name in names]
    if not chosen:
        raise MessageError("settings.features must name at least one input feature, got none")
    if len(set(chosen)) != len(chosen):
        raise MessageError(f"settings.features must not repeat a feature, got {names}")
    return tuple(name for name in FEATURES if name in chosen)   # the canonical order


def parse_settings(data: Any, limits: Limits) -> Settings:
    """Check a ``settings`` object from the page; unknown or missing fields are errors.

    Raises
    ------
    MessageError
        Naming the first field that is wrong.
    """
    if not isinstance(data, dict):
        raise MessageError(f"settings must be an object, got {type(data).__name__}")
    known = set(Settings.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise MessageError(f"settings has unknown field(s) {unknown}; known: {sorted(known)}")
    missing = sorted(known - set(data))
    if missing:
        raise MessageError(f"settings is missing field(s) {missing}")
    units, hidden_activations = _check_architecture(data, limits)
    settings = Settings(
        dataset=_checked(check_choice, "settings.dataset", data["dataset"], DATASETS),
        noise=_checked(check_float, "settings.noise", data["noise"], low=0.0, high=0.5),
        train_ratio=_checked(check_float, "settings.train_ratio", data["train_ratio"], low=0.1, high=0.9),
        n_points=_checked(check_int, "settings.n_points", data["n_points"], minimum=20),
        features=_check_features(data["features"]),
        layers=units,
        activations=hidden_activations,
        loss=_checked(check_choice, "settings.loss", data["loss"], LOSSES),
        optimizer=_checked(check_choice, "settings.optimizer", data["optimizer"], OPTIMIZERS),
        learning_rate=_checked(check_float, "settings.learning_rate", data["learning_rate"],
                               low=0.0, high=10.0, low_inclusive=False),
        batch_size=_checked(check_int, "settings.batch_size", data["batch_size"]),
        regularization=_checked(check_choice, "settings.regularization", data["regularization"],
                                REGULARIZATIONS),
        regularization_rate=_checked(check_float, "settings.regularization_rate",
                                     data["regularization_rate"], low=0.0, high=10.0),
        initializer=_checked(check_choice, "settings.initializer", data["initializer"],
                             initializers.ALL),
        seed=_checked(check_int, "settings.seed", data["seed"], minimum=0),
        n_classes=_checked(check_int, "settings.n_classes", data["n_classes"], minimum=2),
    )
    return _check_consistency(settings, limits)


def _check_consistency(settings: Settings, limits: Limits) -> Settings:
    if settings.n_points > limits.max_points:
        raise MessageError(f"settings.n_points must be at most {limits.max_points}, got {settings.n_points}")
    if settings.batch_size > limits.max_points:
        raise MessageError(f"settings.batch_size must be at most {limits.max_points}, "
                           f"got {settings.batch_size}")
    if settings.seed >= 2**32:
        raise MessageError(f"settings.seed must be below 2**32, got {settings.seed}")
    if settings.n_classes > 3:
        raise MessageError(f"settings.n_classes must be 2 or 3, got {settings.n_classes}")
    allowed = {"binary": ("binary_crossentropy", "mean_squared_error"),
               "multiclass": ("categorical_crossentropy",),
               "regression": ("mean_squared_error",)}[settings.task]
    if settings.loss not in allowed:
        raise MessageError(f"settings.loss must be one of {list(allowed)} for the {settings.task} "
                           f"data set {settings.dataset!r}, got {settings.loss!r}")
    return settings


def check_fields(message: dict[str, Any], required: dict[str, type | tuple[type, ...]]) -> None:
    """A message has exactly the fields ``type`` plus ``required``, each of the given JSON type."""
    unknown = sorted(set(message) - set(required) - {"type"})
    if unknown:
        raise MessageError(f"message {message.get('type')!r} has unknown field(s) {unknown}")
    for name, kind in required.items():
        if name not in message:
            raise MessageError(f"message {message.get('type')!r} needs the field {name!r}")
        value = message[name]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise MessageError(f"{name} must be {_kind_name(kind)}, got {value!r}")
        if not isinstance(value, kind):
            raise MessageError(f"{name} must be {_kind_name(kind)}, got {type(value).__name__}")


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    words = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object",
             bool: "true or false"}
    return " or ".join(words.get(k, k.__name__) for k in kinds)


def check_index(name: str, value: int, size: int) -> int:
    """An index into something of length ``size``."""
    if not 0 <= value < size:
        raise MessageError(f"{name} must be in 0..{size - 1}, got {value}")
    return value


def check_flag(name: str, value: Any) -> bool:
    return bool(_checked(check_bool, name, value))

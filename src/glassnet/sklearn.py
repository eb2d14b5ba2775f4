"""scikit-learn estimators backed by a glassnet network.

:class:`GlassnetClassifier` and :class:`GlassnetRegressor` look and behave like
``MLPClassifier`` and ``MLPRegressor``: they take hyper-parameters in the
constructor, learn in ``fit(X, y)`` and work inside ``Pipeline``,
``GridSearchCV`` and ``cross_val_score``. Underneath, ``fit`` builds and trains a
:class:`~glassnet.models.Sequential` model, kept as ``model_`` so you can look at
its weights (``model_.layers[0].W``), call ``model_.summary()`` or save it.

The default network for ``hidden_layer_sizes=(h1, h2)`` is::

    X (n, n_features) -> Dense(h1, activation) -> Dense(h2, activation) -> Dense(k, output)

with the output layer and loss chosen from the targets:

=====================  ==========================  ===============================
task                   output layer                loss
=====================  ==========================  ===============================
binary                 1 sigmoid unit              binary_crossentropy
multi-class (K > 2)    K softmax units             sparse_categorical_crossentropy
multi-label (K labels) K sigmoid units             binary_crossentropy
regression (k outputs) k linear units              mse
=====================  ==========================  ===============================

Each gradient step minimises the batch's (weighted) mean loss plus scikit-learn's
L2 penalty ``alpha / (2 * sum of the batch's sample weights) * sum ||W||^2`` on the
kernels (not the biases), so ``alpha`` means what it means in ``MLPClassifier``.
Sample weights act like repetition counts: weight 2 is the sample twice, weight 0
removes it.

The network computes in the float type of ``X``, as ``MLPClassifier`` does:
float32 input trains a float32 network, anything else (float64, integers) a
float64 one. ``predict_proba`` and regression predictions are returned as float64.

Two ways to bring your own network: ``model_fn(n_features, n_outputs, **kwargs)``
(glassnet's own, with :func:`make_mlp`'s keyword arguments), or scikeras's
convention ``model=build`` where ``build(**routed)`` returns a compiled model and
every estimator argument ``model__name=value`` reaches it as ``name=value``
(``GridSearchCV`` can tune them); ``build`` also gets ``meta`` (the data's shapes)
and ``compile_kwargs`` (the estimator's optimizer and loss) when it accepts them.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        column_or_1d,
        validate_data,
    )
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "glassnet.sklearn needs scikit-learn >= 1.6: pip install 'glassnet[sklearn]'"
    ) from exc

from glassnet import activations, config, losses, optimizers
from glassnet._validation import _describe, check_float, check_int
from glassnet.backend import xp
from glassnet.callbacks import EarlyStopping
from glassnet.layers import Dense, Input
from glassnet.models import Sequential
from glassnet.regularizers import L2
from glassnet.utils import make_rng

__all__ = ["EXPECTED_FAILED_CHECKS", "GlassnetClassifier", "GlassnetRegressor", "make_mlp"]

#: ``batch_size='auto'`` means ``min(AUTO_BATCH_SIZE, n_samples)``, as in MLPClassifier.
AUTO_BATCH_SIZE = 200

#: scikit-learn's estimator checks that these estimators fail, and why: none since they
#: compute in the input's float type (the checks give float64 data). Kept so that
#: ``check_estimator(..., expected_failed_checks=EXPECTED_FAILED_CHECKS)`` keeps working.
EXPECTED_FAILED_CHECKS: dict[str, str] = {}

#: The prefix of the estimator arguments routed to ``model=`` (scikeras's convention).
MODEL_PREFIX = "model__"


#: ``dtype=`` for ``validate_data``: float32 stays float32, anything else becomes float64.
_FLOAT_TYPES = [np.float64, np.float32]


def make_mlp(
    n_features: int,
    n_outputs: int,
    *,
    hidden_layer_sizes: tuple[int, ...] = (100,),
    activation: str = "relu",
    output_activation: str = "linear",
    loss: Any = "mse",
    optimizer: str = "adam",
    learning_rate: float = 0.001,
    l2: float = 0.0,
) -> Sequential:
    """The network the estimators build by default: a compiled multi-layer perceptron.

    A custom ``model_fn`` is called with the same arguments, so it can start as a
    copy of this function.

    Parameters
    ----------
    n_features : int
        Number of input columns.
    n_outputs : int
        Number of output units ``k``.
    hidden_layer_sizes : tuple of int
        Units of each hidden layer; ``()`` gives a linear (logistic) model.
    activation : str
        Activation of the hidden layers.
    output_activation : str
        Activation of the output layer (``sigmoid``, ``softmax`` or ``linear``).
    loss : str or Loss
    optimizer : str
        A glassnet optimizer name (``'adam'``, ``'sgd'``, ...).
    learning_rate : float
    l2 : float
        Factor of the L2 penalty ``l2 * ||W||^2`` on every kernel ``W``; the estimators
        pass ``alpha / (2 * batch_size * mean sample weight)``.

    Returns
    -------
    Sequential
        Compiled; ``fit`` draws its initial weights again from ``random_state``.
    """
    regularizer = L2(l2) if l2 > 0 else None
    model = Sequential([Input(shape=(n_features,))])
    for index, units in enumerate(hidden_layer_sizes):
        model.add(Dense(units, activation=activation, kernel_regularizer=regularizer,
                        name=f"hidden_{index + 1}"))
    model.add(Dense(n_outputs, activation=output_activation, kernel_regularizer=regularizer,
                    name="output"))
    chosen = optimizers.get(optimizer)
    chosen.learning_rate = learning_rate
    model.compile(optimizer=chosen, loss=loss)
    return model


@dataclass
class _Settings:
    """The hyper-parameters, checked once at the start of ``fit``."""

    hidden_layer_sizes: tuple[int, ...]
    batch_size: int | str
    epochs: int
    early_stopping: bool
    validation_fraction: float
    n_iter_no_change: int
    tol: float
    alpha: float


class _GlassnetEstimator(BaseEstimator):
    """What the classifier and the regressor share: hyper-parameters, ``fit``, pickling."""

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: str = "relu",
        *,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int | str = "auto",
        epochs: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        alpha: float = 0.0001,
        loss: Any = None,
        model: Callable[..., Sequential] | None = None,
        model_fn: Callable[..., Sequential] | None = None,
        random_state: Any = None,
        verbose: int = 0,
        **model_params: Any,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.alpha = alpha
        self.loss = loss
        self.model = model
        self.model_fn = model_fn
        self.random_state = random_state
        self.verbose = verbose
        self.__dict__.update(model_params)

    # ------------------------------------------------------------------ parameters
    # scikit-learn validates in fit, not in __init__ or set_params: the keyword
    # arguments beyond the listed ones are kept as given, and fit refuses any that
    # is not model__<name>.
    def _keyword_params(self) -> dict[str, Any]:
        """The constructor's ``**model_params``: attributes that are neither listed
        parameters nor fitted (``name_``) or private (``_name``) ones."""
        listed = set(self._get_param_names())
        return {
            key: value for key, value in vars(self).items()
            if key.startswith(MODEL_PREFIX)
            or not (key in listed or key.endswith("_") or key.startswith("_"))
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters, and the ``model__<name>`` ones routed to ``model``."""
        params = super().get_params(deep=deep)
        params.update(self._keyword_params())
        return params

    def set_params(self, **params: Any) -> _GlassnetEstimator:
        """Set parameters; ``model__<name>`` ones are stored for ``model`` (not nested
        estimator parameters, as ``model`` is a function)."""
        extra = self._keyword_params()
        keyword = {key: params.pop(key) for key in list(params)
                   if key.startswith(MODEL_PREFIX) or key in extra}
        self.__dict__.update(keyword)
        if params:
            super().set_params(**params)
        return self

    def _routed_params(self, *, prefixed: bool) -> dict[str, Any]:
        """The ``model__<name>`` parameters, as ``model__<name>`` or as ``<name>``."""
        routed = {}
        for key, value in self._keyword_params().items():
            if not key.startswith(MODEL_PREFIX):
                raise TypeError(
                    f"{type(self).__name__} got an unexpected keyword argument {key!r}: beyond "
                    f"its listed parameters it takes only {MODEL_PREFIX}<name>=... (routed to model=)"
                )
            routed[key if prefixed else key[len(MODEL_PREFIX):]] = value
        return routed

    # ------------------------------------------------------------------ checks
    def _check_settings(self) -> _Settings:
        sizes = self.hidden_layer_sizes
        if not isinstance(sizes, tuple | list):
            sizes = (sizes,)
        sizes = tuple(check_int(f"hidden_layer_sizes[{i}]", s) for i, s in enumerate(sizes))
        activations.get(self.activation)            # raises for an unknown name
        if not isinstance(self.optimizer, str):
            raise TypeError(
                "optimizer must be a glassnet optimizer name such as 'adam' or 'sgd' (use "
                f"model_fn for anything else), got {_describe(self.optimizer)}"
            )
        optimizers.get(self.optimizer)              # raises for an unknown name
        check_float("learning_rate", self.learning_rate, low=0.0, low_inclusive=False)
        batch_size = self.batch_size
        if batch_size != "auto":
            batch_size = check_int("batch_size", batch_size)
        if not isinstance(self.early_stopping, bool | np.bool_):
            raise TypeError(
                f"early_stopping must be True or False, got {_describe(self.early_stopping)}"
            )
        if self.model_fn is not None and not callable(self.model_fn):
            raise TypeError(
                "model_fn must be None or a callable model_fn(n_features, n_outputs, **kwargs) "
                f"returning a compiled Sequential, got {_describe(self.model_fn)}"
            )
        if self.model is not None and not callable(self.model):
            raise TypeError(
                "model must be None or a function returning a compiled Sequential (scikeras's "
                f"model=build_fn, called with the model__<name> arguments), got {_describe(self.model)}"
            )
        if self.model is not None and self.model_fn is not None:
            raise ValueError("give model= or model_fn=, not both: they are two ways to build the network")
        routed = sorted(self._routed_params(prefixed=True))
        if routed and self.model is None and self.model_fn is None:
            raise ValueError(
                f"{routed[0]} is routed to model=, but no model= was given: pass "
                "model=build_fn (a function returning a compiled Sequential) or drop it"
            )
        if self.loss is not None:
            losses.get(self.loss)                   # raises for an unknown name
        return _Settings(
            hidden_layer_sizes=sizes,
            batch_size=batch_size,
            epochs=check_int("epochs", self.epochs),
            early_stopping=bool(self.early_stopping),
            validation_fraction=check_float("validation_fraction", self.validation_fraction,
                                            low=0.0, high=1.0, low_inclusive=False,
                                            high_inclusive=False),
            n_iter_no_change=check_int("n_iter_no_change", self.n_iter_no_change),
            tol=check_float("tol", self.tol, low=0.0),
            alpha=check_float("alpha", self.alpha, low=0.0),
        )

    def _random_generator(self) -> np.random.Generator:
        """A Generator from ``random_state`` (None, int, RandomState or Generator)."""
        state = self.random_state
        if isinstance(state, np.random.RandomState):
            state = int(state.randint(np.iinfo(np.int32).max))
        return make_rng(state)

    # ------------------------------------------------------------------ training
    def _fit(self, X: np.ndarray, targets: np.ndarray, sample_weight: Any, **kwargs: Any) -> None:
        """Build the network and train it in the float type of ``X`` (see :meth:`_fit_network`)."""
        self._fit_network(X, targets, sample_weight, **kwargs)

    def _fit_network(
        self,
        X: np.ndarray,
        targets: np.ndarray,
        sample_weight: Any,
        *,
        n_outputs: int,
        output_activation: str,
        default_loss: str,
        encode: Callable[[np.ndarray, losses.Loss], np.ndarray],
        meta: dict[str, Any],
        stratify: np.ndarray | None = None,
    ) -> None:
        """Build the network, train it on ``(X, encode(targets))`` and store the results.

        ``targets`` is indexed by rows (class ids, an indicator matrix or real values);
        ``encode`` turns a selection of it into what the model's loss expects; ``meta``
        describes the targets to a scikeras-style ``model``.
        """
        settings = self._check_settings()
        rng = self._random_generator()
        # One seed per consumer, always drawn in this order, so that a change of
        # one setting (early_stopping) does not change the others' random numbers.
        init_seed, shuffle_seed, split_seed, layer_seed = rng.integers(0, 2**31, size=4)

        rows = np.arange(len(X))
        weights, mean_weight = None, 1.0
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                           ensure_non_negative=True)
            rows = rows[weights > 0]                # a weight of 0 leaves the sample out
            mean_weight = float(weights[rows].mean())
            if np.ptp(weights[rows]) == 0:
                weights = None                      # all equal: the same as no weights
            else:                                   # mean 1: only relative weights matter
                weights = weights / mean_weight

        validation_rows = None
        if settings.early_stopping:
            rows, validation_rows = self._split(rows, settings.validation_fraction,
                                                int(split_seed), stratify)

        n_train = len(rows)
        if settings.batch_size == "auto":
            batch_size = min(AUTO_BATCH_SIZE, n_train)
        else:
            batch_size = min(int(settings.batch_size), n_train)

        loss = default_loss if self.loss is None else self.loss
        model = self._build_network(
            X, n_outputs, meta,
            hidden_layer_sizes=settings.hidden_layer_sizes, activation=self.activation,
            output_activation=output_activation, loss=loss, optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            # sklearn's penalty alpha / (2 * sum of the batch's sample weights)
            l2=settings.alpha / (2.0 * batch_size * mean_weight),
        )
        compiled_loss = model.loss
        assert compiled_loss is not None, "a compiled model has a loss"
        model.build((X.shape[1],))
        _reseed(model, init_seed, shuffle_seed, layer_seed)
        if model.output_shape != (n_outputs,):
            raise ValueError(
                f"{self._builder_name()} returned a model with output shape {model.output_shape}; "
                f"this task needs ({n_outputs},)"
            )

        validation_data: tuple[np.ndarray, ...] | None = None
        if validation_rows is not None:
            validation_data = (X[validation_rows], encode(targets[validation_rows], compiled_loss))
            if weights is not None:
                validation_data += (weights[validation_rows],)
        stopper = EarlyStopping(
            verbose=self.verbose,
            monitor="val_loss" if settings.early_stopping else "loss",
            min_delta=settings.tol,
            patience=settings.n_iter_no_change,
            restore_best_weights=settings.early_stopping,
        )
        history = model.fit(
            X[rows], encode(targets[rows], compiled_loss),
            batch_size=batch_size, epochs=settings.epochs, verbose=self.verbose,
            callbacks=[stopper], validation_data=validation_data,
            sample_weight=None if weights is None else weights[rows],
        )
        self.model_ = model
        self.history_ = {key: list(values) for key, values in history.history.items()}
        self.loss_curve_ = self.history_["loss"]
        self.n_iter_ = model.epochs_trained
        self.n_outputs_ = n_outputs
        if stopper.stopped_epoch == 0 and self.n_iter_ == settings.epochs:
            warnings.warn(
                f"{type(self).__name__}: the {settings.epochs} epochs ran out and the "
                f"{stopper.monitor} was still improving by more than tol={settings.tol}. "
                "Increase epochs (or learning_rate) to train further.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _builder_name(self) -> str:
        return "model" if self.model is not None else "model_fn"

    def _build_network(self, X: np.ndarray, n_outputs: int, meta: dict[str, Any],
                       **mlp_kwargs: Any) -> Sequential:
        """Call ``model`` (scikeras style), ``model_fn`` or :func:`make_mlp`; check what came back.

        ``model(**routed)`` gets the ``model__<name>`` arguments, plus ``meta`` and
        ``compile_kwargs`` when its signature accepts them (as in scikeras).
        """
        routed = self._routed_params(prefixed=False)
        if self.model is not None:
            accepted = inspect.signature(self.model).parameters
            takes_any = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
            if takes_any or "meta" in accepted:
                routed["meta"] = {"n_features_in_": X.shape[1], "X_shape_": X.shape,
                                  "X_dtype_": X.dtype, "n_outputs_expected_": n_outputs, **meta}
            if takes_any or "compile_kwargs" in accepted:
                chosen = optimizers.get(self.optimizer)
                chosen.learning_rate = self.learning_rate
                routed["compile_kwargs"] = {"optimizer": chosen, "loss": mlp_kwargs["loss"]}
            model = self.model(**routed)
        else:
            model = (self.model_fn or make_mlp)(X.shape[1], n_outputs, **mlp_kwargs, **routed)
        name = self._builder_name()
        if not isinstance(model, Sequential):
            raise TypeError(f"{name} must return a glassnet Sequential, got {_describe(model)}")
        if not model.compiled:
            raise ValueError(
                f"{name} must return a compiled model: call model.compile(optimizer=..., "
                "loss=...) before returning it"
            )
        if not model.built:
            model.build((X.shape[1],))
        # Compute in the float type of the data, as scikit-learn's MLP does.
        return model if model.dtype == X.dtype.name else model.copy(dtype=X.dtype.name)

    @staticmethod
    def _split(rows: np.ndarray, fraction: float, seed: int, stratify: np.ndarray | None):
        """Hold out ``fraction`` of ``rows`` for early stopping (stratified when possible)."""
        if stratify is not None:
            try:
                return train_test_split(rows, test_size=fraction, random_state=seed,
                                        stratify=stratify[rows])
            except ValueError:
                pass    # a class too rare to be in both parts: split without stratifying
        return train_test_split(rows, test_size=fraction, random_state=seed)

    def _network_output(self, X: Any) -> np.ndarray:
        """``model_.predict`` on checked ``X``: shape (n_samples, n_outputs_)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=self.model_.dtype)
        return self.model_.predict(X)

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        # The model's weights are views into one parameter buffer; pickle would copy
        # them apart. Store the model in glassnet's own file format instead.
        state = dict(super().__getstate__())
        if isinstance(state.get("model_"), Sequential):
            state["model_"] = _model_to_bytes(state["model_"])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _model_from_bytes(state["model_"])}
        super().__setstate__(state)


def _reseed(model: Sequential, init_seed: int, shuffle_seed: int, layer_seed: int) -> None:
    """Start the model's randomness again from ``random_state``'s seeds.

    The model drew its random generators from glassnet's global seed when it was
    created (and may have been built, so initialised, by compile): fresh initial
    weights, shuffling and dropout generators make a fit depend on ``random_state`` only.
    """
    _initialize_weights(model, np.random.default_rng(init_seed))
    model._rng = np.random.default_rng(shuffle_seed)
    layer: Any  # a layer that draws random numbers (Dropout) owns a Generator `rng`
    for index, layer in enumerate(model.layers):
        if isinstance(getattr(layer, "rng", None), np.random.Generator) and (
            getattr(layer, "seed", None) is None
        ):
            layer.rng = np.random.default_rng([int(layer_seed), index])


def _initialize_weights(model: Sequential, rng: np.random.Generator) -> None:
    """Draw every parameter afresh from its layer's initializer, layer by layer."""
    dtype = np.dtype(model.dtype)
    for layer in model.layers:
        for spec in layer.param_specs:
            layer.params[spec.name][...] = xp.from_numpy(spec.initializer(spec.shape, dtype, rng))


def _model_to_bytes(model: Sequential) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.glassnet")
        model.save(path)
        with open(path, "rb") as handle:
            return handle.read()


def _model_from_bytes(data: bytes) -> Sequential:
    from glassnet.models import load_model

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.glassnet")
        with open(path, "wb") as handle:
            handle.write(data)
        return load_model(path)


class GlassnetClassifier(ClassifierMixin, _GlassnetEstimator):
    """A neural-network classifier with scikit-learn's interface.

    Binary targets get one sigmoid output unit, ``K > 2`` classes get ``K``
    softmax units, and a 0/1 indicator matrix (multi-label) gets one sigmoid unit
    per label. Labels may be any values (strings too); ``classes_`` lists them.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden layer.
    activation : str, default 'relu'
        Activation of the hidden layers (any name in ``glassnet.activations.ALL``).
    optimizer : str, default 'adam'
        A glassnet optimizer name.
    learning_rate : float, default 0.001
    batch_size : int or 'auto', default 'auto'
        Samples per gradient step; ``'auto'`` is ``min(200, n_samples)`` (MLPClassifier's rule).
    epochs : int, default 200
        The most passes over the training data.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data (stratified), stop when its loss
        has not improved by ``tol`` for ``n_iter_no_change`` epochs and keep the best
        weights. When False, training stops when the *training* loss stops improving
        in the same way (as MLPClassifier does).
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
    alpha : float, default 0.0001
        L2 penalty ``alpha / (2 * batch_size) * ||W||^2`` on every kernel, as in
        MLPClassifier (with sample weights: ``batch_size * mean weight``).
    loss : str or Loss, optional
        Default: ``binary_crossentropy`` (binary, multi-label) or
        ``sparse_categorical_crossentropy`` (multi-class).
    model_fn : callable, optional
        ``model_fn(n_features, n_outputs, **kwargs) -> compiled Sequential`` for any
        other network; ``kwargs`` are those of :func:`make_mlp` and the ``model__<name>``
        arguments. Its output layer must have ``n_outputs`` units with a sigmoid (binary,
        multi-label) or softmax activation.
    model : callable, optional
        scikeras's convention: ``model(**routed) -> compiled Sequential``, where
        ``routed`` holds every ``model__<name>=value`` argument of the estimator as
        ``name=value``, plus ``meta`` (``n_features_in_``, ``n_outputs_expected_``,
        ``classes_``, ...) and ``compile_kwargs`` (``optimizer``, ``loss``) if ``model``
        accepts them. Not together with ``model_fn``.
    random_state : int, RandomState, Generator or None
        Seeds the initial weights, the shuffling, the validation split and dropout.
        With an int, two fits give bitwise identical models.
    verbose : int, default 0
        ``Sequential.fit``'s verbosity (0 silent, 1 progress bar, 2 one line per epoch).
    **model_params
        ``model__<name>=value`` arguments for ``model`` (or ``model_fn``).

    Attributes
    ----------
    model_ : Sequential
        The trained network, in the float type of the training ``X`` (float32 input
        gives float32, anything else float64).
    classes_ : ndarray of shape (n_classes,)
        The class labels (for multi-label data, ``0 .. n_labels - 1``).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` was a DataFrame with string column names.
    n_outputs_ : int
        Output units of the network.
    history_ : dict
        ``model_.fit``'s history: ``{'loss': [...], 'val_loss': [...]}``.
    loss_curve_ : list of float
        The training loss after each epoch.
    n_iter_ : int
        Epochs run.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from glassnet.sklearn import GlassnetClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = GlassnetClassifier(hidden_layer_sizes=(16,), learning_rate=0.01,
    ...                          random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GlassnetClassifier:
        """Train on ``X`` of shape (n_samples, n_features) and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a 0/1 indicator matrix for multi-label data.
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative; rescaled to mean 1. A weight of 0 leaves the sample out.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, multi_output=True, dtype=_FLOAT_TYPES)
        check_classification_targets(y)
        target_type = type_of_target(y)
        if target_type == "multilabel-indicator":
            self._multilabel = True
            self._label_dtype = y.dtype
            self.classes_ = np.arange(y.shape[1])
            targets, n_outputs, output_activation = y, y.shape[1], "sigmoid"
            default_loss, stratify = "binary_crossentropy", None
        elif target_type in ("binary", "multiclass"):
            self._multilabel = False
            y = column_or_1d(y, warn=True)
            self.classes_, targets = np.unique(y, return_inverse=True)
            n_classes = len(self.classes_)
            if n_classes < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, "
                    f"got 1 class ({self.classes_[0]!r})"
                )
            binary = n_classes == 2
            n_outputs = 1 if binary else n_classes
            output_activation = "sigmoid" if binary else "softmax"
            default_loss = "binary_crossentropy" if binary else "sparse_categorical_crossentropy"
            stratify = targets
        else:
            raise ValueError(
                f"{type(self).__name__} supports binary, multi-class and multi-label "
                f"(indicator matrix) targets, got {target_type!r} targets"
            )
        meta = {"target_type_": target_type, "classes_": self.classes_,
                "n_classes_": len(self.classes_)}
        self._fit(X, targets, sample_weight, n_outputs=n_outputs,
                  output_activation=output_activation, default_loss=default_loss,
                  encode=self._encode, meta=meta, stratify=stratify)
        return self

    def _encode(self, targets: np.ndarray, loss: losses.Loss) -> np.ndarray:
        """Class ids (or an indicator matrix) in the form ``loss`` expects."""
        dtype = config.float_dtype()  # the input's, while _fit trains
        if self._multilabel or len(self.classes_) == 2:
            return targets.astype(dtype)                        # 0/1 per output unit
        if isinstance(loss, losses.SparseCategoricalCrossentropy):
            return targets                                      # class ids
        return np.eye(len(self.classes_), dtype=dtype)[targets]  # one-hot rows

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape (n_samples, n_classes), as float64.

        Binary: the two columns ``1 - p`` and ``p``. Multi-class: the softmax rows.
        Multi-label: each label's sigmoid (rows need not sum to 1).
        """
        output = self._network_output(X).astype(np.float64)
        if self._multilabel:
            return output
        if len(self.classes_) == 2:
            return np.hstack([1.0 - output, output])
        return output / output.sum(axis=1, keepdims=True)   # rows sum to 1 in float64

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample (multi-label: every label with p > 0.5)."""
        probabilities = self.predict_proba(X)
        if self._multilabel:
            return (probabilities > 0.5).astype(self._label_dtype)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class GlassnetRegressor(RegressorMixin, _GlassnetEstimator):
    """A neural-network regressor with scikit-learn's interface.

    ``k`` linear output units for targets of shape ``(n_samples, k)`` (one for 1-D
    ``y``), trained on the mean squared error by default. Parameters and attributes
    are those of :class:`GlassnetClassifier` (no ``classes_``); ``loss`` defaults
    to ``'mse'`` (``'mae'``, ``'huber'``, ``'log_cosh'`` also work).

    Targets are used as given: standardise them (``TransformedTargetRegressor``) when
    they are far from unit scale.

    Examples
    --------
    >>> import numpy as np
    >>> from glassnet.sklearn import GlassnetRegressor
    >>> X = np.linspace(-1, 1, 50).reshape(-1, 1)
    >>> reg = GlassnetRegressor(hidden_layer_sizes=(16,), learning_rate=0.01,
    ...                         random_state=0).fit(X, X[:, 0] ** 2)
    >>> reg.predict(X[:3]).shape
    (3,)
    """

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GlassnetRegressor:
        """Train on ``X`` of shape (n_samples, n_features) and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative; rescaled to mean 1. A weight of 0 leaves the sample out.

        Returns
        -------
        self
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True, dtype=_FLOAT_TYPES)
        self._y_is_1d = y.ndim == 1
        targets = y.reshape(len(y), -1)
        meta = {"target_type_": "continuous" if self._y_is_1d else "continuous-multioutput"}
        self._fit(X, targets, sample_weight, n_outputs=targets.shape[1],
                  output_activation="linear", default_loss="mse",
                  encode=lambda rows, loss: rows.astype(X.dtype), meta=meta)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predictions as float64, shape (n_samples,) for 1-D ``y``, else (n_samples, n_outputs)."""
        output = self._network_output(X).astype(np.float64)
        return output[:, 0] if self._y_is_1d else output

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

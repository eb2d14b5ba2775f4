"""``Sequential``: a stack of layers you can compile, fit, evaluate, predict and save.

Training is the articles' loop, one mini-batch at a time::

    A = X                                   forward propagation, layer by layer
    for each layer:  Z = A·W + b ;  A = g(Z)
    L = loss(Y, A)                          how far we are from the targets
    dZ = A - Y  (sigmoid/softmax output)    backward propagation, layer by layer
    for each layer, last first:
        dW = A_prevᵀ·dZ / m ;  db = Σ dZ / m ;  dA_prev = dZ·Wᵀ ;  dZ_prev = dA_prev * g'(Z_prev)
    W := W - α·dW ;  b := b - α·db          (or Adam, RMSprop, ... : the optimizer)

All parameters live in one contiguous buffer (``model.parameters``) and all
gradients in another (``model.gradients``); each layer's ``W``, ``b``, ``dW``,
``db`` are views into them. The optimizer updates the whole buffer in a few
in-place passes.

The arrays belong to the backend that was active when the model was built
(:mod:`glassnet.backend`; NumPy by default). Inputs are checked on the host and
copied to the backend once per call of ``fit``/``evaluate``/``predict``; what
``predict``, ``evaluate`` and ``get_weights`` return is NumPy, as in Keras.
"""

from __future__ import annotations

import copy
import json
import math
import time
import warnings
from collections.abc import Iterable
from typing import Any, TypeVar, cast

import numpy as np

from glassnet import callbacks as callbacks_module
from glassnet import config, fileformat, losses, optimizers, training
from glassnet import metrics as metrics_module
from glassnet._console import present, resolve_verbose
from glassnet._validation import (
    _describe,
    check_array,
    check_choice,
    check_float,
    check_int,
    check_same_length,
)
from glassnet.backend import on_backend, to_numpy, xp
from glassnet.errors import BackendError, NotBuiltError, NotCompiledError
from glassnet.explain import explain, trace
from glassnet.layers.base import Layer
from glassnet.layers.input import Input
from glassnet.summary import summary_html, summary_text
from glassnet.utils import make_rng

_T = TypeVar("_T")


_sequential_count = 0


class Sequential:
    """A linear stack of layers.

    Parameters
    ----------
    layers : list of Layer, optional
        May start with :class:`~glassnet.layers.Input`.
    name : str, optional

    Examples
    --------
    >>> from glassnet.models import Sequential
    >>> from glassnet.layers import Dense
    >>> model = Sequential([Dense(4, input_dim=2, activation='relu'),
    ...                     Dense(1, activation='sigmoid')])
    >>> model.compile(loss='binary_crossentropy', optimizer='adam', metrics=['accuracy'])
    """

    def __init__(self, layers: Iterable[Layer | Input] | None = None, name: str | None = None,
                 dtype: str | None = None):
        global _sequential_count
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {_describe(name)}")
        not_a_list = isinstance(layers, str | Layer | Input) or not isinstance(layers, Iterable)
        if layers is not None and not_a_list:
            raise TypeError(f"layers must be a list of layers, got {_describe(layers)}")
        self.name = name or ("sequential" if _sequential_count == 0 else f"sequential_{_sequential_count}")
        _sequential_count += 1
        # None: the default float type (glassnet.config.floatx()) at the time the model is built.
        self._requested_dtype = _check_float_dtype(dtype)
        self.layers: list[Layer] = []
        self.input_shape: tuple[int, ...] | None = None
        self.built = False
        self.compiled = False
        self.optimizer: optimizers.Optimizer | None = None
        self._optimizer_identifier: Any = None   # what compile was given, to rebuild by name
        self.loss: losses.Loss | None = None
        self.metrics: list[metrics_module.Metric] = []
        self._metric_identifiers: list[Any] = []
        self.history: callbacks_module.History | None = None
        self.stop_training = False
        self.stop_reason: str | None = None      # why the last fit stopped (callbacks set it)
        self.interrupted_epoch: int | None = None  # an epoch of the last fit cut short by Ctrl-C
        self._unfinished_epoch: training.UnfinishedEpoch | None = None
        self._rng = make_rng()          # shuffling in fit
        self._init_rng = make_rng()     # initial weights
        self._epoch = 0                 # epochs completed, for resuming
        self._is_chief = True           # the process that prints (see glassnet.distributed)
        self._host_dtype = self._requested_dtype or config.float_dtype()
        self._backend = xp.name
        self.parameters = np.empty(0, dtype=self._host_dtype)
        self.gradients = np.empty(0, dtype=self._host_dtype)
        self.segments: list[tuple[int, int]] = []  # where each weight array lives in the buffers
        self._layout = _BufferLayout(self, 0)
        self._dA_buffer: Any = None
        self._step_penalty = 0.0
        self._loss_uses_z = False
        self._has_regularizers = False
        for layer in layers or []:
            self.add(layer)

    # ------------------------------------------------------------------ construction
    def add(self, layer: Layer | Input) -> None:
        """Append a layer (or, first, an :class:`Input`)."""
        if isinstance(layer, Input):
            if self.layers:
                raise ValueError("Input(...) must come before any layer")
            self.input_shape = layer.shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a glassnet layer, got {_describe(layer)}")
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"Layer {layer.name!r} is already in this model")
        if not self.layers and self.input_shape is None and layer.declared_input_shape:
            self.input_shape = layer.declared_input_shape
        elif self.layers and layer.declared_input_shape is not None:
            warnings.warn(
                f"input_shape given to layer {layer.name!r}, which is not the first layer; ignored",
                stacklevel=2,
            )
        self.layers.append(layer)
        self.built = False
        self.metrics = []  # re-resolved for the new output shape

    def build(self, input_shape: tuple[int, ...] | None = None) -> None:
        """Create every layer's parameters for examples of ``input_shape``.

        Parameters are allocated in one contiguous buffer and initialised.
        """
        if input_shape is not None:
            input_shape = tuple(check_int(f"input_shape[{i}]", s) for i, s in enumerate(input_shape))
            self.input_shape = input_shape
        if self.input_shape is None:
            raise NotBuiltError(
                "The model does not know the shape of its input: give the first layer "
                "input_shape=(n_features,) or input_dim=n_features, start with Input(shape=...), "
                "call model.build((n_features,)), or call fit(X, y) first"
            )
        if not self.layers:
            raise ValueError("The model has no layers: add some with model.add(Dense(...))")
        shape = self.input_shape
        for layer in self.layers:
            if not layer.built or layer.input_shape != shape:
                layer.param_specs = []
                layer.build(shape)
            shape = cast(tuple[int, ...], layer.output_shape)  # set by build()
        self._allocate_parameters()
        self.built = True

    def _allocate_parameters(self) -> None:
        """Lay out every parameter in one flat buffer (trainable ones first), and every
        gradient in another; keep values already there, initialise the rest."""
        self._host_dtype = self._requested_dtype or config.float_dtype()
        old = {(id(layer), name): xp.copy(array) for layer in self.layers
               for name, array in layer.params.items()}
        specs = [(layer, spec) for layer in self.layers for spec in layer.param_specs]
        trainable = [(layer, spec) for layer, spec in specs if layer.trainable and spec.trainable]
        frozen = [(layer, spec) for layer, spec in specs if not (layer.trainable and spec.trainable)]
        n_trainable = sum(spec.size for _, spec in trainable)
        n_total = n_trainable + sum(spec.size for _, spec in frozen)
        dtype = xp.native_dtype(self._host_dtype)
        self.parameters = xp.zeros(n_total, dtype=dtype)
        self.gradients = xp.zeros(n_total, dtype=dtype)
        self._backend = xp.name
        self.segments = []
        offset = 0
        views: dict[int, tuple[dict, dict]] = {id(layer): ({}, {}) for layer in self.layers}
        for layer, spec in trainable + frozen:
            stop = offset + spec.size
            params, grads = views[id(layer)]
            params[spec.name] = xp.reshape(self.parameters[offset:stop], spec.shape)
            grads[spec.name] = xp.reshape(self.gradients[offset:stop], spec.shape)
            key = (id(layer), spec.name)
            if key in old and old[key].shape == spec.shape:
                params[spec.name][...] = old[key]
            else:  # drawn on the host, so that a seed gives the same weights on every backend
                initial = spec.initializer(spec.shape, self._host_dtype, self._init_rng)
                params[spec.name][...] = xp.from_numpy(initial)
            if stop <= n_trainable:
                self.segments.append((offset, stop))
            offset = stop
        for layer in self.layers:
            layer.bind(*views[id(layer)])
        self._layout = _BufferLayout(self, n_trainable)
        if self.optimizer is not None and self.compiled:
            self._build_optimizer()

    def _build_optimizer(self) -> None:
        """Give the optimizer the trainable buffer. After the model's parameters changed (a
        layer added after compile), an optimizer given by name starts afresh; an instance
        that holds state for other parameters is the user's to replace."""
        optimizer = self._compiled(self.optimizer)
        buffer = self._trainable_buffer()
        held = getattr(optimizer, "_shape", buffer.shape)[0] if optimizer.built else buffer.shape[0]
        size_changed = held != buffer.shape[0]
        if size_changed and isinstance(self._optimizer_identifier, str | dict):
            optimizer = self.optimizer = optimizers.get(self._optimizer_identifier)
        elif size_changed:
            raise ValueError(
                f"The model now has {buffer.shape[0]} trainable parameters (a layer was added or "
                f"unfrozen after compile), but the {type(optimizer).__name__} instance passed to "
                f"compile holds state for {held}. Compile again with a new "
                f"optimizer: model.compile(optimizer={type(optimizer).__name__}(...), loss=...), "
                "or pass it by name, e.g. optimizer='adam', to have it rebuilt automatically"
            )
        optimizer.build(buffer, self.segments)

    def _n_outputs(self) -> int:
        return math.prod(cast(tuple[int, ...], self.output_shape))

    def _compiled(self, part: _T | None) -> _T:
        """``self.loss`` or ``self.optimizer``, which exist once the model is compiled."""
        if part is None:
            raise NotCompiledError("The model must be compiled first: model.compile(loss=..., optimizer=...)")
        return part

    def _trainable_buffer(self) -> np.ndarray:
        return self._layout.trainable_params

    @property
    def _first_backward_layer(self) -> int:
        return self._layout.first_backward_layer

    @property
    def _n_trainable(self) -> int:
        return self._layout.n_trainable

    @property
    def dtype(self) -> str:
        """The float type of the parameters and computations: ``'float32'`` or ``'float64'``."""
        return self._host_dtype.name

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.layers[-1].output_shape if self.built else None

    def count_params(self) -> int:
        if not self.built:
            raise NotBuiltError("The model is not built yet, so it has no parameters to count")
        return int(self.parameters.shape[0])

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every layer's parameter arrays (kernel, bias, ...), layer by layer."""
        self._require_built("get_weights")
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: list[np.ndarray]) -> None:
        """Set every parameter array, in the order :meth:`get_weights` returns them."""
        self._require_built("set_weights")
        expected = sum(len(layer.param_specs) for layer in self.layers)
        weights = list(weights)
        if len(weights) != expected:
            raise ValueError(f"set_weights expects {expected} arrays, got {len(weights)}")
        position = 0
        for layer in self.layers:
            count = len(layer.param_specs)
            layer.set_weights(weights[position: position + count])
            position += count

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            index = check_int("index", index, minimum=None)
            if not -len(self.layers) <= index < len(self.layers):
                raise ValueError(f"index must be in [0, {len(self.layers)}) for a model of "
                                 f"{len(self.layers)} layers, got {index}")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No layer named {name!r}; layers: {[layer.name for layer in self.layers]}")

    # ------------------------------------------------------------------ compile
    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = None,
        metrics: Iterable[Any] | None = None,
    ) -> None:
        """Choose the loss to minimise, the optimizer that minimises it, and metrics to report.

        Parameters
        ----------
        optimizer : str or Optimizer
            ``'sgd'``, ``'adam'``, ... (Keras names and defaults) or an instance.
        loss : str or Loss
            ``'binary_crossentropy'``, ``'categorical_crossentropy'``,
            ``'sparse_categorical_crossentropy'``, ``'mse'``, ...
        metrics : list of str or Metric
            ``'accuracy'`` resolves to binary, categorical or sparse accuracy from the loss.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='binary_crossentropy' or loss='mse'")
        self.loss = losses.get(loss)
        self.optimizer = optimizers.get(optimizer)
        self._optimizer_identifier = optimizer
        if isinstance(metrics, str):
            metrics = [metrics]
        self._metric_identifiers = list(metrics or [])
        for identifier in self._metric_identifiers:  # unknown names fail here, not in fit
            metrics_module.get(identifier, loss=self.loss)
        self.metrics = []
        self.compiled = True
        if not self.built and self.input_shape is not None and self.layers:
            self.build()
        if self.built:
            self._resolve_metrics()
            self._build_optimizer()

    def _resolve_metrics(self) -> None:
        n_outputs = self._n_outputs()
        self.metrics = [
            metrics_module.get(identifier, loss=self.loss, n_outputs=n_outputs)
            for identifier in self._metric_identifiers
        ]

    # ------------------------------------------------------------------ forward / backward
    def forward(self, X: np.ndarray, training: bool = False) -> np.ndarray:
        """Forward propagation: ``A⁰ = X``; ``Aˡ = layerˡ(Aˡ⁻¹)``. Returns the last ``A``."""
        if not self.built:
            self._require_built("run forward")
        if not xp.is_numpy:
            X = on_backend(X)
        if X.dtype != self.parameters.dtype:  # e.g. float32 data into a float64 model
            X = xp.astype(X, self.parameters.dtype)
        A = X
        for layer in self.layers:
            A = layer.forward(A, training=training)
        return A

    def backward(self, Y: np.ndarray, A: np.ndarray, sample_weight: np.ndarray | None = None) -> None:
        """Backward propagation: fill ``model.gradients`` with ``∂J/∂θ`` for the batch.

        For sigmoid + binary cross-entropy and softmax + categorical cross-entropy the
        output layer's ``dZ = A - Y`` directly (the two derivatives cancel); otherwise
        ``dA = ∂L/∂A`` from the loss and each layer applies its own ``g'``.
        """
        last = self.layers[-1]
        loss = self._compiled(self.loss)
        if not xp.is_numpy:
            Y, sample_weight = on_backend(Y), on_backend(sample_weight)
        buffer = self._output_gradient_buffer(A)
        dZ = None
        if last.activation is not None:  # dZ = (A - Y) / k straight away where loss.fuses_with(g)
            dZ = loss.output_gradient(Y, A, last.Z, last.activation.name, out=buffer)
        if dZ is None:
            dA = loss.gradient(Y, A, out=buffer)                      # dA = ∂l/∂A
            if sample_weight is not None:
                dA *= xp.reshape(sample_weight, (-1, 1))
            grad = last.backward(dA)
        else:
            if sample_weight is not None:
                dZ *= xp.reshape(sample_weight, (-1, 1))
            grad = last.backward(dZ=dZ)
        for layer in self._layout.hidden_layers_last_first:
            grad = layer.backward(grad)

    def _output_gradient_buffer(self, A: np.ndarray) -> np.ndarray:
        """The work array for the output gradient, made once per batch size."""
        buffer = self._dA_buffer
        if buffer is None or buffer.shape != A.shape or buffer.dtype != A.dtype:
            buffer = self._dA_buffer = xp.empty_like(A)
        return buffer

    def _loss_sum(self, Y: np.ndarray, A: np.ndarray, Z: np.ndarray | None,
                  sample_weight: np.ndarray | None) -> float:
        """``Σ_i w_i·l_i`` over the rows of a batch (``w = 1`` without sample weights)."""
        z = Z if self._loss_uses_z else None
        return self._compiled(self.loss).weighted_sum(Y, A, z=z, sample_weight=sample_weight)

    def _regularization_penalty(self) -> float:
        return sum(layer.regularization_penalty() for layer in self.layers) if self._has_regularizers else 0.0

    def objective(self, Y: np.ndarray, A: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """The cost of one batch at the current weights: ``J = Σ_i w_i·l_i / m + R``.

        ``A`` (shape ``(m, k)``) is the output of the last forward pass, ``Y`` the targets
        in the loss's form (``loss.prepare_targets``), ``w`` the sample weights (1 without
        them) and ``R`` the regularisation penalty of the current weights. With a fused
        output (``loss.fuses_with``) the loss is computed from the last layer's logits ``Z``.
        """
        self._refresh_step_settings()
        Z = getattr(self.layers[-1], "Z", None)
        return self._loss_sum(Y, A, Z, sample_weight) / A.shape[0] + self._regularization_penalty()

    def _step(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None,
              on_gradients: Any = None) -> np.ndarray:
        """Forward propagation, backward propagation, one optimizer update. Returns ``A``
        (computed before the update); ``self._step_penalty`` is the regularisation then.
        ``on_gradients()``, if given, runs between the backward pass and the update."""
        A = self.forward(X, training=True)
        self.backward(Y, A, sample_weight)
        self._step_penalty = self._regularization_penalty()
        if on_gradients is not None:
            on_gradients()
        layout = self._layout
        self._compiled(self.optimizer).apply(layout.trainable_params, layout.trainable_grads)  # W -= α·dW
        return A

    def train_step(self, X: np.ndarray, Y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
        """One step of gradient descent on one batch; returns the batch loss (before the step)
        and adds the batch to the metrics."""
        A = self._step(X, Y, sample_weight)
        loss = self._loss_sum(Y, A, getattr(self.layers[-1], "Z", None), sample_weight) / A.shape[0]
        for metric in self.metrics:
            metric.update_state(Y, A, sample_weight)
        return loss + self._step_penalty

    def request_stop(self, reason: str) -> None:
        """Stop ``fit`` after the current batch, and record why (``history.stopped_reason``).

        Callbacks call it (Keras's ``model.stop_training = True`` works too, without a reason).
        """
        self.stop_training = True
        self.stop_reason = reason

    # ------------------------------------------------------------------ data checks
    def _check_x(self, x: Any, name: str = "x") -> np.ndarray:
        dtype = self._host_dtype if self.built else self._requested_dtype or config.float_dtype()
        X = check_array(name, x, ndim=None, dtype=dtype)
        if X.ndim < 2:
            raise ValueError(
                f"{name} must have one row per example: shape (n_samples, n_features), got a "
                f"1-D array of shape {X.shape}. Use {name}.reshape(-1, 1) for a single feature "
                f"or {name}.reshape(1, -1) for a single example"
            )
        if self.input_shape is not None and X.shape[1:] != self.input_shape:
            given = f"{X.shape[1]} features" if X.ndim == 2 else f"examples of shape {X.shape[1:]}"
            expected = (
                f"{self.input_shape[0]} features" if len(self.input_shape) == 1
                else f"examples of shape {self.input_shape}"
            )
            raise ValueError(f"{name} has {given} (shape {X.shape}), but the model expects {expected}")
        return X if X.flags.c_contiguous else np.ascontiguousarray(X)

    def _check_sample_weight(self, sample_weight: Any, n: int) -> np.ndarray | None:
        if sample_weight is None:
            return None
        weights = check_array("sample_weight", sample_weight, ndim=1, dtype=self._host_dtype)
        if len(weights) != n:
            raise ValueError(f"sample_weight must have one weight per example ({n}), got {len(weights)}")
        if (weights < 0).any():
            first = int(np.argmax(weights < 0))
            raise ValueError(f"sample_weight must be non-negative, got {weights[first]:g} at index {first}")
        return weights

    def _class_weight_to_sample_weight(self, class_weight: Any, Y: np.ndarray) -> np.ndarray:
        """Each example's weight from its class: ``w_i = class_weight[class of example i]``.

        The classes are the model's: ``0 .. k-1`` for ``k`` output units, ``0`` and ``1`` for
        one unit. Classes not named keep weight 1.
        """
        if not isinstance(class_weight, dict) or not class_weight:
            raise TypeError(
                f"class_weight must be a dict {{class_id: weight}}, got {_describe(class_weight)}")
        n_classes = max(Y.shape[1], 2) if Y.ndim == 2 else self._n_outputs()
        table = np.ones(n_classes, dtype=self._host_dtype)
        for key, weight in class_weight.items():
            key = check_int("class_weight key", key, minimum=0)
            if key >= n_classes:
                raise ValueError(
                    f"class_weight has a key {key}, which is not a class of y: this model's classes "
                    f"are 0..{n_classes - 1} ({self._n_outputs()} output unit(s))"
                )
            table[key] = check_float(f"class_weight[{key}]", weight, low=0.0)
        if Y.ndim == 1:
            ids = Y.astype(np.int64)
        elif Y.shape[1] == 1:
            ids = (Y[:, 0] > 0.5).astype(np.int64)
        else:
            ids = Y.argmax(axis=1)
        return table[ids]

    def _check_backend(self) -> None:
        if self.built and self._backend != xp.name:
            raise BackendError(
                f"This model's arrays were made with the {self._backend!r} backend, but the active "
                f"backend is {xp.name!r}; call glassnet.config.set_backend({self._backend!r}) to use "
                "it, or save it and load it under the other backend"
            )

    def _prepare(self, x: Any, y: Any, sample_weight: Any = None, names: tuple[str, str] = ("x", "y"),
                 class_weight: dict | None = None):
        """Check ``x``, ``y`` and the weights on the host; return them as arrays of the backend."""
        self._check_backend()
        X = self._check_x(x, names[0])
        if not self.built:
            self.build(X.shape[1:])
        if not self.compiled:
            raise NotCompiledError(
                "The model must be compiled before training or evaluation: "
                "model.compile(loss='...', optimizer='...', metrics=[...])"
            )
        if not self.metrics and self._metric_identifiers:
            self._resolve_metrics()
        if y is None:
            raise TypeError(f"{names[1]} is required: the targets to learn")
        y_arr = check_array(names[1], y, ndim=None)
        if y_arr.dtype.kind == "f":  # values beyond the float type's range become inf
            check_array(names[1], y_arr, dtype=self._host_dtype)
        check_same_length(**{names[0]: X, names[1]: y_arr})
        try:
            Y = self._compiled(self.loss).prepare_targets(y_arr, self._n_outputs(), self._host_dtype)
        except ValueError as exc:
            if names[1] == "y":
                raise
            raise ValueError(f"{names[1]}: {exc}") from None
        Y = np.asarray(xp.to_numpy(Y))
        weights = self._check_sample_weight(sample_weight, len(X))
        if class_weight is not None:
            per_class = self._class_weight_to_sample_weight(class_weight, Y)
            weights = per_class if weights is None else weights * per_class
        return on_backend(X), on_backend(Y), on_backend(weights)

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = 32,
        epochs: int = 1,
        verbose: int | str = "auto",
        callbacks: list[callbacks_module.Callback] | None = None,
        validation_split: float = 0.0,
        validation_data: tuple | None = None,
        shuffle: bool = True,
        class_weight: dict | None = None,
        sample_weight: Any = None,
        initial_epoch: int = 0,
    ) -> callbacks_module.History:
        """Train for ``epochs`` passes over the data, one mini-batch step at a time.

        Parameters
        ----------
        x : array of shape (n_samples, *input_shape)
        y : array of shape (n_samples,) or (n_samples, n_outputs)
            Targets; ``(n,)`` is read as ``(n, 1)`` where the loss needs that.
        batch_size : int, default 32
            Examples per gradient step. ``batch_size=len(x)`` with ``optimizer='sgd'``
            is the articles' plain (full-batch) gradient descent.
        epochs : int
            Index of the last epoch (training runs epochs ``initial_epoch .. epochs-1``).
        verbose : 'auto', 0, 1 or 2
            0 silent; 1 a live progress bar; 2 one line per epoch. ``'auto'`` is 1 in a
            terminal or notebook and 2 when output goes to a file or pipe.
        callbacks : list of Callback
        validation_split : float in [0, 1)
            Hold out the *last* fraction of ``x``/``y`` (before shuffling, as Keras
            does) and report ``val_`` loss and metrics on it after each epoch.
        validation_data : (x_val, y_val) or (x_val, y_val, sample_weight_val)
            Overrides ``validation_split``.
        shuffle : bool
            Shuffle the training examples before each epoch.
        class_weight : dict {class_id: weight}
            Multiply each example's loss by the weight of its class.
        sample_weight : array of shape (n_samples,)
            Multiply each example's loss by its weight.
        initial_epoch : int
            Epoch to start from (to resume a run saved by ModelCheckpoint).

        Returns
        -------
        History
            ``history.history['loss']``, ``['accuracy']``, ``['val_loss']``, ...
        """
        verbose = resolve_verbose(verbose)
        callback_list = training.check_callbacks(callbacks)
        train = self._prepare(x, y, sample_weight, class_weight=class_weight)
        if validation_data is not None:
            validation = self._prepare_validation(validation_data)
        else:
            train, validation = training.split_validation(train, validation_split)
        plan = training.plan_fit(train[0].shape[0], batch_size, epochs, initial_epoch, shuffle, verbose)
        self._refresh_step_settings()
        return training.Trainer(self, train, validation, plan, callback_list).run()

    def _refresh_step_settings(self) -> None:
        """Facts the per-batch code needs, worked out once per call of fit/evaluate."""
        # With a sigmoid/softmax output and the matching cross-entropy, the loss is
        # computed from the logits Z (exact, no clipping of log(0)).
        self._loss_uses_z = self._compiled(self.loss).fuses_with(self._last_activation_name())
        self._has_regularizers = any(
            spec.regularizer is not None for layer in self.layers for spec in layer.param_specs
        )

    def _last_activation_name(self) -> str:
        activation = getattr(self.layers[-1], "activation", None)
        return activation.name if activation is not None else "linear"

    def _prepare_validation(self, validation_data: Any):
        if not isinstance(validation_data, tuple | list) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val), "
                f"got {_describe(validation_data)}"
            )
        weights = validation_data[2] if len(validation_data) == 3 else None
        return self._prepare(validation_data[0], validation_data[1], weights, names=("x_val", "y_val"))

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_arrays(self, X: Any, Y: Any, weights: Any, batch_size: int,
                         hooks: callbacks_module.CallbackList | None = None) -> dict[str, float]:
        """Loss and metrics over ``X`` in chunks, firing the ``on_test_*`` hooks."""
        for metric in self.metrics:
            metric.reset_state()
        total, count = 0.0, 0
        self._refresh_step_settings()
        chunk = max(batch_size, 1024)
        if hooks is not None:
            hooks.call("on_test_begin", {})
        for batch, start in enumerate(range(0, X.shape[0], chunk)):
            if hooks is not None:
                hooks.call("on_test_batch_begin", batch, {})
            stop = min(start + chunk, X.shape[0])
            w = None if weights is None else weights[start:stop]
            A = self.forward(X[start:stop, ...], training=False)
            m = A.shape[0]
            total += self.objective(Y[start:stop, ...], A, w) * m
            count += m
            for metric in self.metrics:
                metric.update_state(Y[start:stop, ...], A, w)
            if hooks is not None:
                hooks.call("on_test_batch_end", batch, {"loss": total / count})
        logs = {"loss": total / count}
        for metric in self.metrics:
            logs[metric.name] = float(metric.result())
        if hooks is not None:
            hooks.call("on_test_end", logs)
        return logs

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = 32,
        verbose: int | str = "auto",
        sample_weight: Any = None,
        return_dict: bool = False,
        callbacks: list[callbacks_module.Callback] | None = None,
    ) -> float | list[float] | dict[str, float]:
        """Loss and metrics on ``(x, y)``, as ``fit`` reports them.

        Returns the loss alone when there are no metrics, else ``[loss, metric, ...]``
        (or a dict with ``return_dict=True``).
        """
        X, Y, weights = self._prepare(x, y, sample_weight)
        batch_size = X.shape[0] if batch_size is None else check_int("batch_size", batch_size)
        verbose = resolve_verbose(verbose)
        start = time.perf_counter()
        hooks = callbacks_module.CallbackList(training.check_callbacks(callbacks), self, {"verbose": verbose})
        logs = self._evaluate_arrays(X, Y, weights, batch_size, hooks)
        if verbose:
            steps = math.ceil(X.shape[0] / batch_size)
            elapsed = time.perf_counter() - start
            print(
                f"{steps}/{steps} - {callbacks_module.format_duration(elapsed)} - "
                f"{callbacks_module.format_per_step(elapsed / steps)}"
                f"{callbacks_module.format_logs(logs)}",
                flush=True,
            )
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: int | str = 0,
                callbacks: list[callbacks_module.Callback] | None = None) -> np.ndarray:
        """The network's output ``A`` for each row of ``x`` (probabilities for sigmoid/softmax).

        Parameters
        ----------
        x : array of shape (n_samples, *input_shape)
        batch_size : int, optional
            Rows per forward pass; only memory depends on it. Default: 4096.
        verbose : 'auto', 0, 1 or 2
            Accepted for Keras compatibility; ``predict`` prints nothing.
        callbacks : list of Callback, optional
            Their ``on_predict_*`` hooks run around each chunk of rows.

        Returns
        -------
        ndarray of shape (n_samples, *output_shape)
        """
        self._require_built("predict")
        self._check_backend()
        if verbose != 0:      # only checked: predict prints nothing
            resolve_verbose(verbose)
        X = on_backend(self._check_x(x))
        chunk = 4096 if batch_size is None else check_int("batch_size", batch_size)
        if callbacks is None and X.shape[0] <= chunk:
            return _to_host(self.forward(X, training=False))
        hooks = callbacks_module.CallbackList(training.check_callbacks(callbacks), self, {})
        hooks.call("on_predict_begin", {})
        out = np.empty((X.shape[0], *cast(tuple[int, ...], self.output_shape)), dtype=self._host_dtype)
        for batch, start in enumerate(range(0, X.shape[0], chunk)):
            hooks.call("on_predict_batch_begin", batch, {})
            stop = min(start + chunk, X.shape[0])
            out[start:stop] = xp.to_numpy(self.forward(X[start:stop, ...], training=False))
            hooks.call("on_predict_batch_end", batch, {"outputs": out[start:stop]})
        hooks.call("on_predict_end", {})
        return out

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """``predict`` for one batch (a single forward pass)."""
        self._require_built("predict_on_batch")
        self._check_backend()
        return _to_host(self.forward(on_backend(self._check_x(x)), training=False))

    def train_on_batch(
        self, x: Any, y: Any, sample_weight: Any = None, class_weight: dict | None = None,
        return_dict: bool = False,
    ) -> float | list[float] | dict[str, float]:
        """One gradient step on exactly this batch; returns the loss (and metrics) before the step."""
        X, Y, weights = self._prepare(x, y, sample_weight, class_weight=class_weight)
        self._refresh_step_settings()
        for metric in self.metrics:
            metric.reset_state()
        loss = self.train_step(X, Y, weights)
        logs = {"loss": loss, **{metric.name: float(metric.result()) for metric in self.metrics}}
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def test_on_batch(self, x: Any, y: Any, sample_weight: Any = None, return_dict: bool = False):
        """Loss and metrics on exactly this batch."""
        X, Y, weights = self._prepare(x, y, sample_weight)
        logs = self._evaluate_arrays(X, Y, weights, X.shape[0])
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def _require_built(self, what: str) -> None:
        if not self.built:
            if self.input_shape is not None and self.layers:
                self.build()
                return
            raise NotBuiltError(
                f"Cannot {what}: the model does not know its input shape, so its weights do not "
                "exist yet. Give the first layer input_shape=(n_features,) (or input_dim=), start "
                "with Input(shape=...), or fit the model first"
            )

    # ------------------------------------------------------------------ summary, saving
    def summary(self, print_fn: Any = None, line_length: int | None = None) -> None:
        """Print the Keras table: layer (type), output shape, parameter count, totals."""
        text = summary_text(self)
        (print_fn or print)(text)

    def explain(self, batch_size: int | None = None, latex: bool = False, show: bool | None = None) -> Any:
        """Per layer: the shapes of ``W``, ``b``, ``Z``, ``A`` and the equations (see glassnet.explain).

        Printed when run in a script (as ``summary()`` is; ``show=False``: never, ``True``:
        always) and returned."""
        return present(explain(self, batch_size=batch_size, latex=latex), show)

    def trace(self, x: Any, y: Any, show: bool | None = None, **kwargs: Any) -> Any:
        """One example's forward and backward pass with every number (see glassnet.explain).

        Printed when run in a script (``show`` as in :meth:`explain`) and returned."""
        return present(trace(self, x, y, **kwargs), show)

    def _repr_html_(self) -> str:
        return summary_html(self)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "input_shape": None if self.input_shape is None else list(self.input_shape),
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self.layers
            ],
        }

    @property
    def epochs_trained(self) -> int:
        """Epochs completed so far; resume with ``fit(..., initial_epoch=model.epochs_trained)``."""
        return self._epoch

    def save(self, filepath: Any, include_optimizer: bool = True) -> None:
        """Save architecture, weights, compile settings and optimizer state in one file.

        The file is a zip of JSON and ``.npy`` arrays (no pickle); see docs/file-format.md.
        The write is atomic: a crash never leaves a half-written file in place.
        """
        if self._unfinished_epoch is not None:
            epoch = self._unfinished_epoch.epoch + 1
            warnings.warn(
                f"This model stopped part-way through epoch {epoch} (Ctrl-C): the file records "
                f"{self._epoch} complete epoch(s) and the weights as they are now, so resuming from "
                f"the file runs epoch {epoch} again from these weights. In this session, "
                "fit(..., initial_epoch=model.epochs_trained) continues the epoch exactly instead",
                RuntimeWarning,
                stacklevel=2,
            )
        fileformat.save_model(self, filepath, include_optimizer=include_optimizer)

    def copy(self, dtype: str | None = None) -> Sequential:
        """An independent copy with the same layers and weights, in ``dtype`` if given.

        The copy is compiled like this model (loss, metrics, a fresh optimizer of the same
        configuration: the optimizer's state is not copied). Nothing global changes:
        ``model.copy('float64')`` is how gradient checks get a float64 twin.
        """
        self._require_built("copy")
        layers = [type(layer).from_config(layer.get_config()) for layer in self.layers]
        twin = Sequential(layers, name=self.name, dtype=dtype or self.dtype)
        twin.build(self.input_shape)
        twin.set_weights(self.get_weights())
        if self.compiled:
            optimizer = self._compiled(self.optimizer)
            twin.compile(optimizer=optimizers.get(optimizer.get_config()),
                         loss=copy.deepcopy(self.loss), metrics=list(self._metric_identifiers))
        return twin

    def save_weights(self, filepath: Any) -> None:
        """Save only the weights (an ``.npz`` file of plain arrays), atomically."""
        fileformat.save_weights(self, filepath)

    def load_weights(self, filepath: Any) -> None:
        fileformat.load_weights(self, filepath)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name!r} layers={len(self.layers)} built={self.built}>"

    # ------------------------------------------------------------------ Keras names
    @property
    def metrics_names(self) -> list[str]:
        """The names of what ``evaluate`` returns: ``['loss', 'accuracy', ...]`` (``[]`` before compile)."""
        if not self.compiled:
            return []
        if self.metrics:
            return ["loss", *(metric.name for metric in self.metrics)]
        return ["loss", *(metrics_module.get(identifier, loss=self.loss).name
                          for identifier in self._metric_identifiers)]

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON text (no weights); :func:`model_from_json` rebuilds it.

        ``kwargs`` go to :func:`json.dumps` (e.g. ``indent=2``).
        """

        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


class _BufferLayout:
    """What the training step needs to know of a built model, worked out once per build:
    the trainable part of the buffers (the optimizer's), and which layers backpropagate."""

    def __init__(self, model: Sequential, n_trainable: int) -> None:
        layers = model.layers
        self.n_trainable = n_trainable
        self.trainable_params = model.parameters[:n_trainable]
        self.trainable_grads = model.gradients[:n_trainable]
        first_trainable = next(
            (i for i, layer in enumerate(layers) if any(spec.trainable for spec in layer.param_specs)),
            len(layers))
        # Gradients with respect to the network's input are never needed.
        for i, layer in enumerate(layers):
            layer.needs_input_gradient = i > first_trainable
        self.first_backward_layer = max(min(first_trainable, len(layers) - 1), 0)
        self.hidden_layers_last_first = list(reversed(layers[self.first_backward_layer:-1]))


def _check_float_dtype(dtype: Any) -> np.dtype | None:
    """``None``, or the NumPy dtype of ``'float32'``/``'float64'`` (names or dtypes)."""
    if dtype is None:
        return None
    try:
        name = np.dtype(dtype).name
    except TypeError:
        name = repr(dtype)
    return np.dtype(check_choice("dtype", name, ("float32", "float64")))


def _to_host(array: Any) -> np.ndarray:
    """A NumPy copy of a backend array (a work array that the next call overwrites)."""
    return array.copy() if xp.is_numpy else np.array(to_numpy(array))

"""The training loop behind :meth:`Sequential.fit`, in named steps.

One epoch is the articles' gradient descent over mini-batches::

    for each mini-batch (X_b, Y_b) of the shuffled training set:       run_batch
        A = model.forward(X_b)            forward:  Z = A_prev·W + b ;  A = g(Z)
        model.backward(Y_b, A)            backward: dZ, dW = A_prevᵀ·dZ / m, db, dA_prev
        callbacks.on_gradients(...)       ∂J/∂θ is in model.gradients, not yet used
        optimizer.apply(θ, ∂J/∂θ)         the update, e.g. W := W - α·dW
    logs = loss and metrics of the epoch (+ the validation data's)   epoch_logs

and :class:`Trainer` repeats it for ``epochs`` epochs, telling the callbacks at each
step. The pieces around the loop are small and named: :class:`EpochOutputs` counts the
epoch's loss and metrics, :class:`Interruption` turns Ctrl-C into "stop after this
batch", :func:`divergence_message` reports a run whose loss became NaN or infinite, and
:class:`UnfinishedEpoch` remembers where an interrupted epoch stopped so that the next
``fit(..., initial_epoch=model.epochs_trained)`` continues it exactly.
"""

from __future__ import annotations

import math
import signal
import threading
import warnings
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from glassnet import callbacks as callbacks_module
from glassnet._validation import _describe, check_bool, check_float, check_int
from glassnet.backend import xp


@dataclass
class FitPlan:
    """The checked settings of one call of ``fit``."""

    epochs: int
    initial_epoch: int
    batch_size: int
    steps: int
    shuffle_rows: bool
    verbose: int


def plan_fit(n: int, batch_size: int | None, epochs: Any, initial_epoch: Any, shuffle: Any,
             verbose: int) -> FitPlan:
    """Check ``fit``'s settings for ``n`` training examples."""
    epochs = check_int("epochs", epochs)
    initial_epoch = check_int("initial_epoch", initial_epoch, minimum=0)
    if initial_epoch > epochs:
        raise ValueError(f"initial_epoch must be <= epochs, got initial_epoch={initial_epoch} "
                         f"and epochs={epochs}")
    shuffle = check_bool("shuffle", shuffle)
    batch_size = n if batch_size is None else min(check_int("batch_size", batch_size), n)
    steps = math.ceil(n / batch_size)
    # With one batch per epoch, shuffling would only change the order of a sum.
    return FitPlan(epochs, initial_epoch, batch_size, steps, shuffle and steps > 1, verbose)


def split_validation(data: tuple, validation_split: Any) -> tuple[tuple, tuple | None]:
    """Hold out the *last* ``validation_split`` of the rows (before shuffling, as Keras does)."""
    validation_split = check_float("validation_split", validation_split, low=0.0, high=1.0,
                                   high_inclusive=False)
    if validation_split == 0:
        return data, None
    X, Y, weights = data
    split = int(X.shape[0] * (1 - validation_split))
    if split == 0 or split == X.shape[0]:
        raise ValueError(
            f"validation_split={validation_split} leaves "
            f"{'no training' if split == 0 else 'no validation'} examples out of {X.shape[0]}"
        )
    head = (X[:split, ...], Y[:split, ...], None if weights is None else weights[:split])
    tail = (X[split:, ...], Y[split:, ...], None if weights is None else weights[split:])
    return head, tail


class EpochOutputs:
    """The network's output for every example of the epoch so far, in training order.

    ``fit`` reports Keras's running averages of the loss and the metrics. Rather
    than computing them with a dozen small NumPy calls after every step, each step
    only copies its output ``A`` (and ``Z``) here, and the loss ``Σ w·l / m`` and
    the metrics are computed over all rows not yet counted, in a few large passes,
    whenever someone asks (the progress bar, the end of the epoch). The numbers
    are the same: each row's output was computed by the weights of its own step.
    """

    def __init__(self, model: Any, n: int, A_dtype: Any) -> None:
        self.model = model
        shape = (n, *cast(tuple[int, ...], model.output_shape))
        self.A = xp.empty(shape, dtype=A_dtype)
        self.Z = xp.empty(shape, dtype=A_dtype) if model._loss_uses_z else None
        self.penalty = np.zeros(n) if model._has_regularizers else None

    def start_epoch(self, Y: Any, weights: Any, order: Any) -> None:
        """Put the targets (and weights) in this epoch's order (``None``: as given), one
        gather per epoch."""
        if order is None:
            self.Y, self.weights = Y, weights
        else:
            self.Y = xp.take(Y, order, axis=0)
            self.weights = None if weights is None else xp.take(weights, order, axis=0)
        self.stored = 0
        self.recount()

    def recount(self) -> None:
        """Forget what was counted (the metrics may have been used meanwhile); the rows
        stored so far are counted again when someone asks."""
        self.counted = 0
        self.loss_sum = 0.0
        for metric in self.model.metrics:
            metric.reset_state()

    def targets(self, start: int, stop: int) -> tuple[Any, Any]:
        return self.Y[start:stop, ...], None if self.weights is None else self.weights[start:stop]

    def store(self, start: int, stop: int, A: Any, output_layer: Any, penalty: float) -> None:
        """Keep the step's output ``A`` (and, where the loss is computed from logits, the
        output layer's ``Z``) and regularisation penalty for rows ``start:stop``."""
        self.A[start:stop, ...] = A
        if self.Z is not None:
            self.Z[start:stop, ...] = output_layer.Z
        if self.penalty is not None:
            self.penalty[start:stop] = penalty
        self.stored = stop

    def _rows(self, start: int, stop: int) -> tuple[Any, Any, Any, Any]:
        Z = None if self.Z is None else self.Z[start:stop, ...]
        w = None if self.weights is None else self.weights[start:stop]
        return self.Y[start:stop, ...], self.A[start:stop, ...], Z, w

    def _count(self) -> None:
        """Add the rows stored since the last call to the loss and the metrics."""
        start, stop = self.counted, self.stored
        if stop == start:
            return
        Y, A, Z, w = self._rows(start, stop)
        self.loss_sum += self.model._loss_sum(Y, A, Z, w)
        if self.penalty is not None:
            self.loss_sum += float(self.penalty[start:stop].sum())
        for metric in self.model.metrics:
            metric.update_state(Y, A, w)
        self.counted = stop

    def batch_loss(self, start: int, stop: int) -> float:
        """The loss of the batch in rows ``start:stop`` alone (for per-batch callbacks)."""
        self._count()
        Y, A, Z, w = self._rows(start, stop)
        penalty = 0.0 if self.penalty is None else float(self.penalty[start])
        return self.model._loss_sum(Y, A, Z, w) / (stop - start) + penalty

    def logs(self) -> dict[str, float]:
        self._count()
        logs = {"loss": self.loss_sum / max(self.counted, 1)}
        for metric in self.model.metrics:
            logs[metric.name] = float(metric.result())
        return logs


@dataclass
class UnfinishedEpoch:
    """Where an interrupted epoch stopped: ``fit`` continues it from here, in the same order."""

    epoch: int
    next_step: int
    order: Any
    outputs: EpochOutputs
    n: int
    batch_size: int

    def continues(self, epoch: int, n: int, plan: FitPlan) -> bool:
        """Whether a ``fit`` starting at ``epoch`` on ``n`` rows continues this epoch."""
        return (epoch, n, plan.batch_size, plan.shuffle_rows) == (
            self.epoch, self.n, self.batch_size, self.order is not None)


class Interruption:
    """While active, Ctrl-C asks ``fit`` to stop after the current batch instead of
    raising mid-update (which could leave weights half-updated). A second Ctrl-C
    raises at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> Interruption:
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not allowed here (e.g. some embedded interpreters)
                self._previous = None
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def interruption_message(epoch: int, step: int, steps: int) -> str:
    """What ``fit`` says when Ctrl-C stopped it after batch ``step`` (0-based) of ``epoch``."""
    if step == steps - 1:
        return (f"Interrupted (Ctrl-C) during epoch {epoch + 1}: stopped after its last batch; "
                "the weights and the history so far are kept")
    return (
        f"Interrupted (Ctrl-C) during epoch {epoch + 1}: stopped after batch {step + 1} of {steps}; "
        "the weights and the history so far are kept. The epoch is unfinished: it is not "
        "checkpointed and not counted in model.epochs_trained, and "
        "fit(..., initial_epoch=model.epochs_trained) continues it exactly where it stopped"
    )


def divergence_message(epoch: int, loss: float, weights_finite: bool) -> str:
    """What ``fit`` says, once, when the loss of an epoch is NaN or infinite."""
    message = f"Epoch {epoch + 1}: the loss is {loss} - training has diverged. "
    if not weights_finite:
        message += ("The weights are no longer finite numbers, so no later epoch can change "
                    "them: training stops here. ")
    return message + (
        "Try a smaller learning rate, clipnorm=1.0, or standardised inputs; "
        "TerminateOnNaN() stops such a run at the first bad batch."
    )


class Trainer:
    """Runs ``fit``'s epochs: see the module docstring for the loop it runs."""

    def __init__(self, model: Any, train: tuple, validation: tuple | None, plan: FitPlan,
                 callbacks: list[callbacks_module.Callback]) -> None:
        self.model, self.plan = model, plan
        self.X, self.Y, self.weights = train
        self.validation = validation
        self.n = self.X.shape[0]
        self.history = callbacks_module.History()
        callback_list = list(callbacks)
        if plan.verbose:
            running_logs = lambda: self.outputs.logs()  # noqa: E731 - outputs change on resume
            callback_list.append(callbacks_module.ProgbarLogger(plan.verbose, running_logs))
        callback_list.append(self.history)
        params = {"epochs": plan.epochs, "steps": plan.steps, "verbose": plan.verbose,
                  "batch_size": plan.batch_size, "samples": self.n}
        self.hooks = callbacks_module.CallbackList(callback_list, model, params)
        self.wants_batch_logs = any(
            not isinstance(c, callbacks_module.ProgbarLogger) for c in self.hooks.batch_end)
        self.batch_X: Any = None
        if plan.shuffle_rows:
            self.batch_X = xp.empty((plan.batch_size, *self.X.shape[1:]), dtype=self.X.dtype)
        self.outputs: EpochOutputs = EpochOutputs(model, self.n, A_dtype=self.X.dtype)
        self.last_layer = model.layers[-1]
        self.order: Any = None
        self.interruption = Interruption()
        self.diverged = False

    # ------------------------------------------------------------------ the loop
    def run(self) -> callbacks_module.History:
        model, plan = self.model, self.plan
        model.history = self.history
        model.stop_training, model.stop_reason = False, None
        logs: dict[str, float] = {}
        self.hooks.call("on_train_begin", {})
        # A diverging run overflows; it is reported once, clearly (divergence_message),
        # instead of as a stream of NumPy overflow warnings.
        with self.interruption, xp.errstate(over="ignore", invalid="ignore"):
            for epoch in range(plan.initial_epoch, plan.epochs):
                logs = self.run_epoch(epoch)
                if model.stop_training or self.interruption.requested:
                    break
        self.history.stopped_reason = model.stop_reason
        self.hooks.call("on_train_end", logs if model.epochs_trained > plan.initial_epoch else {})
        return self.history

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over the training data; returns the epoch's logs."""
        self.hooks.call("on_epoch_begin", epoch, {})
        step = first_step = self.start_epoch(epoch)
        for step in range(first_step, self.plan.steps):
            self.run_batch(step)
            if self.model.stop_training or self.interruption.requested:
                break
        complete = step == self.plan.steps - 1
        self.model._unfinished_epoch = None
        if complete:
            self.model._epoch = epoch + 1
        elif self.interruption.requested:
            self.model._unfinished_epoch = UnfinishedEpoch(
                epoch, step + 1, self.order, self.outputs, self.n, self.plan.batch_size)
        logs = self.epoch_logs()
        self.check_divergence(epoch, logs)
        self.model.interrupted_epoch = None if complete else epoch
        self.hooks.call("on_epoch_end", epoch, logs)
        if self.interruption.requested:
            self.model.request_stop(interruption_message(epoch, step, self.plan.steps))
            print(self.model.stop_reason, flush=True)
        return logs

    def start_epoch(self, epoch: int) -> int:
        """Draw this epoch's order of the rows; returns the first step to run (0, or where
        an interrupted run of this epoch stopped)."""
        unfinished = self.model._unfinished_epoch
        if unfinished is not None and unfinished.continues(epoch, self.n, self.plan):
            self.order, self.outputs = unfinished.order, unfinished.outputs
            self.outputs.recount()
            return unfinished.next_step
        shuffled = self.plan.shuffle_rows
        self.order = xp.from_numpy(self.model._rng.permutation(self.n)) if shuffled else None
        self.outputs.start_epoch(self.Y, self.weights, self.order)
        return 0

    def run_batch(self, step: int) -> None:
        """Forward, backward, the gradient hook and the update, on mini-batch ``step``."""
        for callback in self.hooks.batch_begin:
            callback.on_train_batch_begin(step, {})
        start, stop = step * self.plan.batch_size, min((step + 1) * self.plan.batch_size, self.n)
        xb = self.mini_batch(start, stop)
        yb, wb = self.outputs.targets(start, stop)
        on_gradients = self.gradient_hook(step) if self.hooks.gradients else None
        A = self.model._step(xb, yb, wb, on_gradients)
        self.outputs.store(start, stop, A, self.last_layer, self.model._step_penalty)
        if self.hooks.batch_end:
            logs = None
            if self.wants_batch_logs:
                logs = self.outputs.logs()
                logs["loss"] = self.outputs.batch_loss(start, stop)
            for callback in self.hooks.batch_end:
                callback.on_train_batch_end(step, logs)

    def mini_batch(self, start: int, stop: int) -> Any:
        """Rows ``start:stop`` of this epoch's order of ``X`` (a view when not shuffled)."""
        if self.order is None:
            return self.X[start:stop, ...]
        xb = self.batch_X[: stop - start, ...]
        xp.take(self.X, self.order[start:stop], axis=0, out=xb, mode="clip")
        return xb

    def gradient_hook(self, step: int) -> Any:
        """``on_gradients`` of every callback that has it, for batch ``step``."""
        gradient_callbacks = self.hooks.gradients

        def on_gradients() -> None:
            for callback in gradient_callbacks:
                callback.on_gradients(step, None)

        return on_gradients

    # ------------------------------------------------------------------ around the loop
    def epoch_logs(self) -> dict[str, float]:
        """The epoch's loss and metrics, and the validation data's as ``val_...``."""
        logs = self.outputs.logs()
        if self.validation is None:
            return logs
        if self.interruption.requested:  # no validation, but keep the history's keys aligned
            logs.update({f"val_{key}": math.nan for key in list(logs)})
            return logs
        X, Y, weights = self.validation
        val_logs = self.model._evaluate_arrays(X, Y, weights, self.plan.batch_size, self.hooks)
        logs.update({f"val_{key}": value for key, value in val_logs.items()})
        return logs

    def check_divergence(self, epoch: int, logs: dict[str, float]) -> None:
        """Report a NaN or infinite loss once; stop when the weights themselves are lost."""
        if math.isfinite(logs["loss"]) or self.diverged:
            return
        self.diverged = True
        weights_finite = bool(xp.all(xp.isfinite(self.model.parameters)))
        message = divergence_message(epoch, logs["loss"], weights_finite)
        warnings.warn(message, RuntimeWarning, stacklevel=4)
        if self.model.stop_training:   # a callback (TerminateOnNaN) stopped it first, and said why
            return
        if weights_finite:
            self.model.stop_reason = message  # reported; training goes on
        else:
            self.model.request_stop(message)


def check_callbacks(callbacks: Any) -> list[callbacks_module.Callback]:
    if callbacks is not None and not isinstance(callbacks, list | tuple):
        raise TypeError(f"callbacks must be a list of Callback instances, got {_describe(callbacks)}")
    return list(callbacks or [])

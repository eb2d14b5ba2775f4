"""Callbacks: code that runs at the start and end of training, epochs and batches.

The hook names are Keras's, so callbacks written for Keras read the same here.
The articles' stopping criteria are callbacks too: non-improving iterations
(:class:`EarlyStopping`), execution time (:class:`TimeLimit`), an optimal
solution found (:class:`StopAtTarget`), and a diverged loss (:class:`TerminateOnNaN`).
Each prints one line saying why training stopped.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from glassnet._console import in_notebook, terminal_columns
from glassnet._validation import check_bool, check_choice, check_float, check_int
from glassnet.backend import xp


class Callback:
    """Base class. Override any of the hooks; ``self.model`` is the model being trained.

    ``logs`` holds the running (within an epoch) or final (at epoch end) values of
    ``loss``, each metric and, at epoch end, the ``val_`` values.
    """

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict | None = None) -> None: ...
    def on_train_end(self, logs: dict | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_gradients(self, batch: int, logs: dict | None = None) -> None:
        """After the backward pass of training batch ``batch``, before the optimizer uses it:
        ``self.model.gradients`` holds ``∂J/∂θ`` of the batch (read it; changing it changes
        the update)."""
    def on_test_begin(self, logs: dict | None = None) -> None: ...
    def on_test_end(self, logs: dict | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_begin(self, logs: dict | None = None) -> None: ...
    def on_predict_end(self, logs: dict | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: dict | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: dict | None = None) -> None: ...

    def _stop(self, reason: str) -> None:
        """Stop training after this batch, record why, and say it."""
        self.model.request_stop(reason)
        self._say(reason)

    def _say(self, message: str) -> None:
        """Print a message unless ``verbose=0`` (and only on the process that reports,
        see glassnet.distributed)."""
        if getattr(self, "verbose", 1) and getattr(self.model, "_is_chief", True):
            print(message, file=sys.stdout, flush=True)


def _overrides(callback: Callback, hook: str) -> bool:
    """Whether ``callback`` defines ``hook`` itself (in its class or, as LambdaCallback
    does, on the instance)."""
    return hook in vars(callback) or getattr(type(callback), hook) is not getattr(Callback, hook)


class CallbackList:
    """Calls a hook on every callback. Batch hooks go only to callbacks that define them,
    so an unused hook costs nothing in the training loop."""

    def __init__(self, callbacks: list[Callback], model: Any, params: dict[str, Any]) -> None:
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be glassnet.callbacks.Callback instances, got {callback!r}"
                )
            callback.set_model(model)
            callback.set_params(params)
        self.batch_begin = [c for c in self.callbacks if _overrides(c, "on_train_batch_begin")]
        self.batch_end = [c for c in self.callbacks if _overrides(c, "on_train_batch_end")]
        self.gradients = [c for c in self.callbacks if _overrides(c, "on_gradients")]

    def call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


class History(Callback):
    """Records the epoch-end logs. ``fit`` returns it; ``model.history`` is the same object.

    Attributes
    ----------
    history : dict[str, list[float]]
        ``{'loss': [...], 'accuracy': [...], 'val_loss': [...], ...}``, one value per epoch.
    epoch : list[int]
        The epoch indices that ran.
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stopped_reason: str | None = None

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))

    def to_dict(self) -> dict[str, Any]:
        return {"history": self.history, "epoch": self.epoch, "params": self.params}


def format_number(value: float) -> str:
    """Keras's metric format: 4 decimals, scientific notation for tiny values."""
    if value != 0 and abs(value) < 1e-3 or not math.isfinite(value):
        return f"{value:.4e}"
    return f"{value:.4f}"


def format_logs(logs: dict[str, float]) -> str:
    return "".join(f" - {key}: {format_number(value)}" for key, value in logs.items())


def format_duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class ProgbarLogger(Callback):
    """Keras's progress output.

    ``verbose=1``: a live bar per epoch (drawn by tqdm, which also renders as a
    widget in Jupyter) with the step counter, the ETA while running and the elapsed
    time at the end, the time per step and the running metrics::

        Epoch 1/2
         29/29 ━━━━━━━━━━━━━━━━━━━━ 0s 52us/step - accuracy: 0.9000 - loss: 0.2500

    ``verbose=2``: one line per epoch, for log files and pipes. Without tqdm
    installed, ``verbose=1`` falls back to the one-line form.
    """

    def __init__(self, verbose: int = 1, running_logs: Callable[[], dict[str, float]] | None = None) -> None:
        super().__init__()
        self.verbose = verbose
        self._bar: Any = None
        # The epoch's loss and metrics so far, computed only when the bar is redrawn.
        self.running_logs = running_logs or (lambda: {})

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch_start = time.perf_counter()
        self.steps = self.params.get("steps", 0)
        epochs = self.params.get("epochs", 1)
        if epochs > 1:
            self._say(f"Epoch {epoch + 1}/{epochs}")
        self._bar = None
        if self.verbose == 1 and self.steps:
            tqdm = _tqdm()
            if tqdm is not None and getattr(self.model, "_is_chief", True):
                self._bar = tqdm(
                    total=self.steps,
                    bar_format=f" {{n:>{len(str(self.steps))}}}/{{total}} {{bar:20}}{{desc}}",
                    ascii=" ━",
                    leave=True,
                    mininterval=0.1,
                    file=sys.stdout,
                    dynamic_ncols=False,
                    ncols=terminal_columns(),
                )
                self._next_refresh = 0.0

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self._bar is None:
            return
        now = time.perf_counter()
        if now < self._next_refresh and batch + 1 < self.steps:
            self._bar.n = batch + 1  # counted, drawn at the next refresh
            return
        self._next_refresh = now + 0.1
        elapsed = now - self.epoch_start
        eta = elapsed / (batch + 1) * (self.steps - batch - 1)
        self._bar.set_description_str(
            f" {format_duration(eta)} {format_per_step(elapsed / (batch + 1))}"
            f"{format_logs(self.running_logs())}",
            refresh=False,
        )
        self._bar.update(batch + 1 - self._bar.n)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        elapsed = time.perf_counter() - self.epoch_start
        per_step = format_per_step(elapsed / max(self.steps, 1))
        logs = logs or {}
        if self._bar is not None:
            self._bar.n = self.steps
            self._bar.set_description_str(
                f" {format_duration(elapsed)} {per_step}{format_logs(logs)}", refresh=False
            )
            self._bar.close()  # draws the final state once and leaves it on screen
            self._bar = None
        else:
            self._say(
                f"{self.steps}/{self.steps} - {format_duration(elapsed)} - {per_step}{format_logs(logs)}"
            )

    def on_train_end(self, logs: dict | None = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _tqdm() -> Any:
    """tqdm's notebook widget in Jupyter (when ipywidgets is installed), else the text bar."""
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover - tqdm is an optional extra
        return None
    if in_notebook():
        try:
            import ipywidgets  # noqa: F401
            from tqdm.notebook import tqdm as notebook_tqdm
        except ImportError:
            return tqdm
        return notebook_tqdm
    return tqdm


# -- stopping criteria ------------------------------------------------------------------
def _resolve_mode(mode: str, monitor: str) -> str:
    mode = check_choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        higher_is_better = any(word in monitor for word in ("acc", "auc", "precision", "recall"))
        mode = "max" if higher_is_better else "min"
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs (non-improving iterations).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. ``'val_loss'`` or ``'accuracy'``.
    min_delta : float
        A change smaller than this is not an improvement.
    patience : int
        Epochs without improvement before stopping.
    mode : {'auto', 'min', 'max'}
        Whether lower or higher is better; ``'auto'`` decides from the name.
    baseline : float, optional
        Stop if the monitored value does not beat this within ``patience`` epochs.
    restore_best_weights : bool
        At the end of training, put back the weights of the best epoch, whether or
        not training was stopped early.
    verbose : int
        1 (the default; Keras's is 0) prints one line saying why training stopped
        and which weights were restored; 0 is silent.
    start_from_epoch : int
        Epochs to wait before watching.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 1,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(check_float("min_delta", min_delta))
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor)
        self.baseline = baseline
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)
        self.start_from_epoch = check_int("start_from_epoch", start_from_epoch, minimum=0)

    def _improved(self, value: float, reference: float) -> bool:
        if self.mode == "min":
            return value < reference - self.min_delta
        return value > reference + self.min_delta

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: np.ndarray | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = _monitored(logs, self.monitor, type(self).__name__)
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        if self._improved(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = xp.copy(self.model.parameters)
            if self.baseline is None or self._improved(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self._stop(
                f"Epoch {epoch + 1}: early stopping ({self.monitor} did not improve "
                f"for {self.wait} epochs; best {format_number(self.best)} at epoch {self.best_epoch + 1})"
            )

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.parameters[...] = self.best_weights
            self._say(
                f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}."
            )


class TimeLimit(Callback):
    """Stop once training has run for ``seconds`` (the 'execution time' criterion).

    Checked after every batch, so training stops within one batch of the limit.
    """

    def __init__(self, seconds: float, verbose: int = 1) -> None:
        super().__init__()
        self.verbose = verbose
        self.seconds = check_float("seconds", seconds, low=0.0, low_inclusive=False)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start = time.perf_counter()
        self.stopped = False

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        elapsed = time.perf_counter() - self.start
        if elapsed >= self.seconds and not self.stopped:
            self.stopped = True
            self._stop(f"Stopping: time limit of {self.seconds:g} s reached after {elapsed:.2f} s")


class StopAtTarget(Callback):
    """Stop once ``monitor`` reaches ``target`` (the 'optimal solution found' criterion).

    Parameters
    ----------
    monitor : str
        A key of the epoch logs, e.g. ``'accuracy'`` or ``'loss'``.
    target : float
        The bound: a lower bound for losses (``mode='min'``), an upper bound for accuracies.
    """

    def __init__(
        self, monitor: str = "loss", target: float = 0.0, mode: str = "auto", verbose: int = 1
    ) -> None:
        super().__init__()
        self.verbose = verbose
        self.monitor = monitor
        self.target = check_float("target", target)
        self.mode = _resolve_mode(mode, monitor)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = _monitored(logs, self.monitor, type(self).__name__)
        if value is None:
            return
        reached = value <= self.target if self.mode == "min" else value >= self.target
        if reached:
            self._stop(
                f"Epoch {epoch + 1}: target reached ({self.monitor} = {format_number(value)}, "
                f"target {format_number(self.target)})"
            )


class TerminateOnNaN(Callback):
    """Stop as soon as the loss of a batch is NaN or infinite (the run has diverged)."""

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self._stop(
                f"Batch {batch}: invalid loss {loss}, terminating training "
                "(the run diverged: try a smaller learning rate or clipnorm)"
            )


def _monitored(logs: dict | None, monitor: str, who: str) -> float | None:
    from glassnet.metrics import log_key  # 'val_acc' finds 'val_accuracy' (Keras 2 scripts)

    logs = logs or {}
    monitor = log_key(monitor, logs)
    if monitor not in logs:
        import warnings

        warnings.warn(
            f"{who} is monitoring {monitor!r}, which is not in the logs; available: "
            f"{sorted(logs)}. Nothing will happen.",
            stacklevel=3,
        )
        return None
    return float(logs[monitor])


# -- other callbacks ---------------------------------------------------------------------
class ModelCheckpoint(Callback):
    """Save the model (weights, optimizer state, epoch, random state) during training.

    ``filepath`` may contain format fields from the epoch logs, e.g.
    ``'ckpt-{epoch:02d}-{val_loss:.3f}.glassnet'`` (``epoch`` counts from 1).
    Every save is atomic: a crash mid-save never replaces a good file with a
    half-written one. A file saved here resumes bitwise: see ``fit(initial_epoch=)``.

    Parameters
    ----------
    monitor : str
        Used with ``save_best_only``.
    save_best_only : bool
        Save only when ``monitor`` improves.
    save_weights_only : bool
        Save weights only (:meth:`Sequential.save_weights`).
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
    ) -> None:
        super().__init__()
        if not isinstance(filepath, str | os.PathLike):
            raise TypeError(f"filepath must be a path (str or os.PathLike), got {filepath!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = check_bool("save_best_only", save_best_only)
        self.save_weights_only = check_bool("save_weights_only", save_weights_only)
        self.mode = _resolve_mode(mode, monitor)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._warned_not_finite = False

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if not getattr(self.model, "_is_chief", True):
            return
        if self.model.interrupted_epoch == epoch:
            # An epoch cut short by Ctrl-C is not an epoch: a file named after it would hold
            # part of it, and resuming from that file would skip the rest.
            self._say(f"Epoch {epoch + 1}: not saving to {self.filepath}: the epoch was interrupted")
            return
        improvement = self._improvement(logs)
        if self.save_best_only and improvement is None:
            return
        path = self._path(epoch, logs)
        if not self._weights_are_finite(epoch, path):
            return
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            self._say(f"Epoch {epoch + 1}: {improvement + ', ' if improvement else ''}saving model to {path}")

    def _improvement(self, logs: dict) -> str | None:
        """With ``save_best_only``: ``'val_loss improved from 0.5000 to 0.4000'`` when the
        monitored value improved (and remember it), else ``None``."""
        if not self.save_best_only:
            return None
        value = _monitored(logs, self.monitor, type(self).__name__)
        if value is None or not math.isfinite(value):
            return None
        better = value < self.best if self.mode == "min" else value > self.best
        if not better:
            return None
        text = f"{self.monitor} improved from {format_number(self.best)} to {format_number(value)}"
        self.best = value
        return text

    def _path(self, epoch: int, logs: dict) -> str:
        try:
            return self.filepath.format(epoch=epoch + 1, **logs)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"ModelCheckpoint filepath {self.filepath!r} cannot be filled in from the epoch "
                f"logs ({type(exc).__name__}: {exc}); available fields: epoch, {', '.join(logs)}"
            ) from None

    def _weights_are_finite(self, epoch: int, path: str) -> bool:
        """A diverged model must not overwrite the last good checkpoint (and could not be
        loaded back); said once per ``fit``, whatever ``verbose`` says."""
        if bool(xp.all(xp.isfinite(self.model.parameters))):
            return True
        if not self._warned_not_finite:
            self._warned_not_finite = True
            warnings.warn(
                f"Epoch {epoch + 1}: ModelCheckpoint is not saving to {path}: the weights contain "
                "NaN or infinite values (training diverged); the previous checkpoint is kept, and "
                "no later epoch of this run is saved",
                RuntimeWarning,
                stacklevel=3,
            )
        return False


class CSVLogger(Callback):
    """Write each epoch's logs as one CSV row (``epoch`` first)."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False):
        super().__init__()
        if not isinstance(filename, str | os.PathLike):
            raise TypeError(f"filename must be a path (str or os.PathLike), got {filename!r}")
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = check_bool("append", append)

    def on_train_begin(self, logs: dict | None = None) -> None:
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")  # noqa: SIM115
        self._writer: Any = None
        self._header_written = exists

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs or {}
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._header_written:
                self._writer.writerow(["epoch", *logs.keys()])
        self._writer.writerow([epoch, *(f"{v:.10g}" for v in logs.values())])
        self._file.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        self._file.close()


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    def __init__(self, **hooks: Callable[..., Any]) -> None:
        super().__init__()
        valid = [name for name in dir(Callback) if name.startswith("on_")]
        for name, function in hooks.items():
            if name not in valid:
                check_choice("LambdaCallback hook", name, valid)
            setattr(self, name, function)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch: ``lr = schedule(epoch, lr)``."""

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"schedule must be callable (epoch, lr) -> lr, got {schedule!r}")
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        optimizer = self.model.optimizer
        lr = self.schedule(epoch, float(optimizer.current_learning_rate))
        optimizer.learning_rate = check_float("learning rate from schedule", lr, low=0.0,
                                              low_inclusive=False)
        if self.verbose:
            self._say(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr:g}.")

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.current_learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
    ) -> None:
        super().__init__()
        self.monitor = monitor
        self.factor = check_float("factor", factor, low=0.0, high=1.0, low_inclusive=False,
                                  high_inclusive=False)
        self.patience = check_int("patience", patience, minimum=0)
        self.verbose = verbose
        self.mode = _resolve_mode(mode, monitor)
        self.min_delta = min_delta
        self.cooldown = check_int("cooldown", cooldown, minimum=0)
        self.min_lr = check_float("min_lr", min_lr, low=0.0)

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.wait = 0
        self.cooldown_counter = 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = _monitored(logs, self.monitor, type(self).__name__)
        if value is None or not math.isfinite(value):  # a diverged run is not rescued by a smaller step
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        improved = (
            value < self.best - self.min_delta if self.mode == "min"
            else value > self.best + self.min_delta
        )
        if improved:
            self.best, self.wait = value, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                optimizer = self.model.optimizer
                old = float(optimizer.current_learning_rate)
                new = max(old * self.factor, self.min_lr)
                if new < old:
                    optimizer.learning_rate = new
                    if self.verbose:
                        self._say(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:g}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.current_learning_rate)

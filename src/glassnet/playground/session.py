"""One browser tab's playground: its data, its network, and the thread that trains it.

Training runs in the session's own worker thread, one epoch at a time, never on the
server's event loop. After each epoch the thread computes a frame (the heatmaps and
weights) and leaves it in a one-frame slot: if the browser is slower than training,
the older frame is simply replaced, so only the newest one is ever sent. Everything
else the page must see (the model's equations, a trace, a diagnosis, errors) goes
through an ordered outbox.

All the mathematics shown comes from glassnet itself: ``explain`` for the equations,
``trace`` for a clicked point, ``diagnose`` for the findings; the playground only
lays them out.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any, cast

import numpy as np

from glassnet.diagnostics import diagnose
from glassnet.explain import explain, format_shape
from glassnet.playground import frames
from glassnet.playground.data import DOMAIN, FEATURE_LATEX, features, make_dataset, parse_csv, split
from glassnet.playground.recipe import build_model, layer_specs, script, targets
from glassnet.playground.settings import (
    Limits,
    MessageError,
    Settings,
    check_fields,
    check_index,
    parse_settings,
)

# fit warns when the loss diverges; the page says so itself (the "stopped" message), in words.
warnings.filterwarnings("ignore", message=r"Epoch \d+: the loss is .*diverged", category=RuntimeWarning,
                        module=__name__)

FRAME_INTERVAL = 1 / 60          # at most 60 epochs (and frames) a second: training you can watch
DIAGNOSE_INTERVAL = 0.5          # seconds between diagnoses while training
MIN_POINTS = 4


def _plain(value: Any) -> Any:
    """NumPy values in a trace step as JSON-friendly lists and floats (NaN as None)."""
    if isinstance(value, np.ndarray):
        return np.where(np.isfinite(value), value, np.nan).astype(object).tolist() if value.size else []
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _json_lists(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return [_json_lists(v) for v in value] if value.ndim else _plain(value.item())
    if isinstance(value, dict):
        return {str(key): _json_lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_lists(item) for item in value]
    return _plain(value)


def _equation(equation: Any) -> dict[str, Any]:
    """One of explain's equations for the page; a remark without '=' stays plain text."""
    if "=" not in equation.math:
        return {"text": equation.math, "shapes": equation.shapes}
    return {"latex": equation.latex, "shapes": equation.shapes}


class Session:
    """The state of one tab: settings, data, model, training thread and what to send."""

    def __init__(self, limits: Limits, notify: Callable[[], None]) -> None:
        self.token = secrets.token_urlsafe(16)
        self.limits = limits
        self._notify = notify
        self._lock = threading.Condition(threading.RLock())
        self._outbox: deque[dict[str, Any]] = deque()
        self._frame: bytes | None = None
        self._running = False
        self._steps_wanted = 0
        self._closed = False
        self._edited = False
        self.custom_X = np.empty((0, 2))
        self.custom_y = np.empty(0, dtype=np.int64)
        self.settings = Settings()
        self._rebuild(self.settings)
        self._thread = threading.Thread(target=self._train_loop, name=f"playground-{self.token[:6]}",
                                        daemon=True)
        self._thread.start()

    # ------------------------------------------------------------------ building
    def _data(self, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
        if settings.dataset == "custom":
            return self.custom_X, self.custom_y
        return make_dataset(settings.dataset, settings.n_points, settings.noise, settings.seed)

    def _rebuild(self, settings: Settings) -> None:
        """New data split and a freshly initialised network; epoch 0."""
        X, y = self._data(settings)
        if len(X) >= MIN_POINTS:
            X_train, X_test, y_train, y_test = split(X, y, settings.train_ratio, settings.seed,
                                                     classify=settings.task != "regression")
        else:   # too few points to split: train and test on what there is (play refuses)
            X_train, X_test, y_train, y_test = X, X, y, y
        self.settings = settings
        self.X_train, self.X_test, self.y_train, self.y_test = X_train, X_test, y_train, y_test
        self.A0_train = features(X_train, settings.features)
        self.A0_test = features(X_test, settings.features)
        self.Y_train, self.Y_test = targets(settings, y_train), targets(settings, y_test)
        self.model = build_model(settings)
        self.grid_inputs = frames.GridInputs(settings.features)
        self.epoch = 0
        self.history: dict[str, list[float | None]] = {"loss": [], "test_loss": []}
        self.metrics: dict[str, float | None] = {}
        self._running = False
        self._edited = False
        self._last_diagnosis = 0.0
        if len(self.X_train):
            self._measure()
        self._send(self._model_message())
        self._make_frame()

    def _model_message(self) -> dict[str, Any]:
        """The architecture, the points, and glassnet's own equations for this batch size."""
        model, settings = self.model, self.settings
        explanation = explain(model, batch_size=min(settings.batch_size, max(len(self.X_train), 1)))
        layers = [{
            "index": info.index, "name": info.name, "activation": info.activation,
            "shapes": {key: format_shape(shape) for key, shape in info.shapes.items()},
            "forward": [_equation(eq) for eq in info.forward],
            "backward": [_equation(eq) for eq in info.backward],
        } for info in explanation.layers]
        return {
            "type": "model", "token": self.token, "settings": settings.to_dict(), "task": settings.task,
            "layerSizes": [len(settings.features), *[spec["units"] for spec in layer_specs(settings)]],
            "featureLatex": [FEATURE_LATEX[name] for name in settings.features],
            "explanation": {"layers": layers, "latex": explanation.to_latex(),
                            "batchSize": explanation.batch_size},
            "train": {"x": np.round(self.X_train, 4).tolist(), "y": self.y_train.tolist()},
            "test": {"x": np.round(self.X_test, 4).tolist(), "y": self.y_test.tolist()},
            "customPoints": len(self.custom_X),
        }

    # ------------------------------------------------------------------ outgoing
    def _send(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._outbox.append(message)
        self._notify()

    def take(self) -> tuple[list[dict[str, Any]], bytes | None]:
        """Everything queued for the page, and the newest frame (each only once)."""
        with self._lock:
            messages = list(self._outbox)
            self._outbox.clear()
            frame, self._frame = self._frame, None
        return messages, frame

    def _measure(self) -> None:
        """Loss and accuracy on the whole training and test sets (as evaluate computes them)."""
        model = self.model
        train = cast("dict[str, float]", model.evaluate(self.A0_train, self.Y_train, verbose=0,
                                                        batch_size=len(self.A0_train), return_dict=True))
        test = cast("dict[str, float]", model.evaluate(self.A0_test, self.Y_test, verbose=0,
                                                       batch_size=len(self.A0_test), return_dict=True))
        self.metrics = {"trainLoss": frames.finite_or_none(train["loss"]),
                        "testLoss": frames.finite_or_none(test["loss"]),
                        "trainAccuracy": train.get("accuracy"), "testAccuracy": test.get("accuracy")}

    def _make_frame(self) -> None:
        with self._lock:
            nodes, output = frames.node_maps(self.model, self.grid_inputs)
            header = {"type": "frame", "epoch": self.epoch, "running": self._running, **self.metrics}
            frame = frames.encode(header, frames.output_bytes(output, self.settings.task), nodes,
                                  self.model.get_weights())
            self._frame = frame
        self._notify()

    # ------------------------------------------------------------------ training
    def _train_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and not self._running and self._steps_wanted == 0:
                    self._lock.wait()
                if self._closed:
                    return
                started = time.perf_counter()
                self._steps_wanted = max(self._steps_wanted - 1, 0)
                self._train_one_epoch()
                self._make_frame()
                if not self._running or started - self._last_diagnosis > DIAGNOSE_INTERVAL:
                    self._last_diagnosis = started
                    self._send(self._diagnosis_message())
                # Waiting on the condition (not sleeping) lets a pause or a close through at once.
                self._lock.wait(max(FRAME_INTERVAL - (time.perf_counter() - started), 0.0))

    def _train_one_epoch(self) -> None:
        settings = self.settings
        self.model.fit(self.A0_train, self.Y_train, batch_size=settings.batch_size, epochs=self.epoch + 1,
                       initial_epoch=self.epoch, verbose=0)
        self.epoch += 1
        self._measure()
        self.history["loss"].append(self.metrics["trainLoss"])
        self.history["test_loss"].append(self.metrics["testLoss"])
        loss = self.metrics["trainLoss"]
        if loss is None or loss > 1e6:
            self._running = False
            what = "not a number (NaN or infinite)" if loss is None else "above a million"
            self._send({"type": "stopped", "epoch": self.epoch, "reason": (
                f"Training stopped at epoch {self.epoch}: the training loss is {what}"
                " - the run has diverged. The steps were too large for this network: lower the "
                "learning rate (or pick Adam), add regularisation, or remove features with large values.")})

    def _diagnosis_message(self) -> dict[str, Any]:
        """glassnet's diagnose on the training data, and which units its findings are about."""
        losses = [value if value is not None else math.nan for value in self.history["loss"]]
        try:
            with np.errstate(all="ignore"):
                diagnosis = diagnose(self.model, self.A0_train, self.Y_train, history={"loss": losses},
                                     show=False)
        except (ValueError, FloatingPointError) as error:   # e.g. weights that are no longer finite
            return {"type": "diagnosis", "findings": [{"severity": "error", "kind": "diverged",
                                                       "message": str(error), "remedies": [], "layer": None}],
                    "marks": {}}
        findings = [{"severity": f.severity, "kind": f.kind, "message": f.message, "remedies": f.remedies,
                     "layer": f.layer} for f in diagnosis]
        flagged = {f.layer: f.kind for f in diagnosis
                   if f.kind in ("dead_relu", "saturated_units") and f.layer}
        return {"type": "diagnosis", "epoch": self.epoch, "findings": findings,
                "marks": self._unit_marks(flagged), "majorityRate": diagnosis.majority_rate}

    def _unit_marks(self, flagged: dict[str, str]) -> dict[str, dict[str, list[int]]]:
        """For each layer a finding names: the units that are dead (0 on every training example)
        or saturated (|z| > 5 on more than 90% of them), as diagnose counts them."""
        marks: dict[str, dict[str, list[int]]] = {}
        A = self.A0_train.astype(self.model.dtype)
        for layer in self.model.layers:
            A = layer.forward(A, training=False)
            kind = flagged.get(layer.name)
            if kind == "dead_relu":
                marks[layer.name] = {"dead": np.flatnonzero((np.asarray(A) <= 0).all(axis=0)).tolist()}
            elif kind == "saturated_units":
                Z = np.asarray(getattr(layer, "Z", A))
                marks[layer.name] = {"saturated": np.flatnonzero((np.abs(Z) > 5).mean(axis=0) > 0.9).tolist()}
        return marks

    # ------------------------------------------------------------------ incoming
    def reject(self, reason: str) -> None:
        """Tell the page that its message was refused, and why."""
        self._send({"type": "error", "message": reason})

    def handle(self, message: Any) -> None:
        """Act on one message from the page; a bad one is answered with an error, nothing else."""
        try:
            self._dispatch(message)
        except MessageError as error:
            self.reject(str(error))

    def _dispatch(self, message: Any) -> None:
        if not isinstance(message, dict):
            raise MessageError(f"a message must be a JSON object, got {type(message).__name__}")
        kind = message.get("type")
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "configure": self._on_configure, "play": self._on_play, "pause": self._on_pause,
            "step": self._on_step, "reset": self._on_reset, "trace": self._on_trace,
            "set_weight": self._on_set_weight, "add_point": self._on_add_point,
            "clear_points": self._on_clear_points, "upload_csv": self._on_upload_csv,
            "diagnose": self._on_diagnose,
        }
        if not isinstance(kind, str) or kind not in handlers:
            raise MessageError(f"message type must be one of {sorted(handlers)}, got {kind!r}")
        handlers[kind](message)

    def _on_configure(self, message: dict[str, Any]) -> None:
        check_fields(message, {"settings": dict})
        settings = parse_settings(message["settings"], self.limits)
        with self._lock:
            self._rebuild(settings)

    def _on_play(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        if len(self.X_train) < MIN_POINTS or len(self.X_test) == 0:
            raise MessageError(f"add at least {MIN_POINTS} points (of two classes) before training")
        with self._lock:
            self._running = True
            self._lock.notify_all()

    def _on_pause(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        with self._lock:
            self._running = False
            self._lock.notify_all()
        self._make_frame()

    def _on_step(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        if len(self.X_train) < MIN_POINTS:
            raise MessageError(f"add at least {MIN_POINTS} points before training")
        with self._lock:
            self._running = False
            self._steps_wanted += 1
            self._lock.notify_all()

    def _on_reset(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        with self._lock:
            self._steps_wanted = 0
            self._rebuild(self.settings)

    def _on_diagnose(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        with self._lock:
            self._send(self._diagnosis_message())

    def _on_trace(self, message: dict[str, Any]) -> None:
        """Every number of one point's forward and backward pass, from ``model.trace``."""
        check_fields(message, {"set": str, "index": int})
        if message["set"] not in ("train", "test"):
            raise MessageError(f"set must be 'train' or 'test', got {message['set']!r}")
        with self._lock:
            train = message["set"] == "train"
            A0, Y = (self.A0_train, self.Y_train) if train else (self.A0_test, self.Y_test)
            index = check_index("index", message["index"], len(A0))
            trace = self.model.trace(A0[index], Y[index], show=False, max_values=16)
            steps = [{key: _json_lists(value) for key, value in step.items()} for step in trace.steps]
            point = (self.X_train if message["set"] == "train" else self.X_test)[index]
            optimizer = self.model.optimizer
            self._send({"type": "trace", "set": message["set"], "index": index,
                        "point": point.tolist(), "steps": steps, "loss": _plain(trace.loss),
                        "text": trace.to_text(), "optimizer": type(optimizer).__name__,
                        "learningRate": self.settings.learning_rate})

    def _on_set_weight(self, message: dict[str, Any]) -> None:
        check_fields(message, {"layer": int, "param": str, "row": int, "column": int, "value": (int, float)})
        value = float(message["value"])
        if not math.isfinite(value) or abs(value) > 100:
            raise MessageError(f"value must be a number in [-100, 100], got {message['value']!r}")
        with self._lock:
            layer_index = check_index("layer", message["layer"] - 1, len(self.model.layers))
            layer = self.model.layers[layer_index]
            weights = layer.get_weights()
            if message["param"] not in ("W", "b"):
                raise MessageError(f"param must be 'W' or 'b', got {message['param']!r}")
            array = weights[0 if message["param"] == "W" else 1]
            if message["param"] == "W":
                row = check_index("row", message["row"], array.shape[0])
                column = check_index("column", message["column"], array.shape[1])
                array[row, column] = value
            else:
                array[check_index("column", message["column"], array.shape[0])] = value
            layer.set_weights(weights)
            self._edited = True
            self._measure()
        self._make_frame()

    def _custom_changed(self) -> None:
        with self._lock:
            self._rebuild(self.settings)

    def _require_custom(self) -> None:
        if self.settings.dataset != "custom":
            raise MessageError("choose the data set 'your own data' (custom) before adding points")

    def _on_add_point(self, message: dict[str, Any]) -> None:
        check_fields(message, {"x1": (int, float), "x2": (int, float), "label": int})
        self._require_custom()
        x1, x2, label = float(message["x1"]), float(message["x2"]), message["label"]
        if not (abs(x1) <= DOMAIN and abs(x2) <= DOMAIN):
            raise MessageError(f"x1 and x2 must lie in the plot's domain, got ({x1}, {x2})")
        check_index("label", label, self.settings.n_classes)
        if len(self.custom_X) >= self.limits.max_points:
            raise MessageError(f"at most {self.limits.max_points} points may be added")
        self.custom_X = np.vstack([self.custom_X, [[x1, x2]]])
        self.custom_y = np.append(self.custom_y, np.int64(label))
        self._custom_changed()

    def _on_clear_points(self, message: dict[str, Any]) -> None:
        check_fields(message, {})
        self._require_custom()
        self.custom_X, self.custom_y = np.empty((0, 2)), np.empty(0, dtype=np.int64)
        self._custom_changed()

    def _on_upload_csv(self, message: dict[str, Any]) -> None:
        check_fields(message, {"text": str})
        self._require_custom()
        if len(message["text"].encode()) > self.limits.max_upload_bytes:
            raise MessageError(f"the CSV may be at most {self.limits.max_upload_bytes:,} bytes, "
                               f"got {len(message['text'].encode()):,}")
        try:
            X, y = parse_csv(message["text"], self.limits.max_points, regression=False)
        except ValueError as error:
            raise MessageError(str(error)) from None
        if y.max() >= self.settings.n_classes:
            self.settings = replace(self.settings, n_classes=3,
                                    loss="categorical_crossentropy")
        self.custom_X, self.custom_y = X, y
        self._custom_changed()

    # ------------------------------------------------------------------ downloads and closing
    def export_script(self) -> str:
        with self._lock:
            custom = (self.custom_X, self.custom_y) if self.settings.dataset == "custom" else None
            return script(self.settings, self.epoch, custom, edited=self._edited)

    def save_model(self, path: str) -> None:
        with self._lock:
            self.model.save(path)

    def export_onnx(self, path: str) -> None:
        from glassnet.onnx import export

        with self._lock:
            export(self.model, path)

    def close(self) -> None:
        """Stop the training thread and let the model go (the tab has closed)."""
        with self._lock:
            self._closed = True
            self._running = False
            self._lock.notify_all()
        self._thread.join(timeout=5)
        self.model = None  # type: ignore[assignment]

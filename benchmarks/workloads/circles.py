"""B. The articles' circles network 2-4-6-6-4-1 (ReLU, sigmoid, binary cross-entropy).

At this size nothing is arithmetic: a step is ~30 tiny array operations, so this
measures the fixed cost per step of each library (Python, dispatch, allocation).

* µs per training step through ``fit`` (an epoch over 1000 points divided by its
  steps) at batch 32 and full batch, SGD and Adam, against the same PyTorch loop;
* µs per raw ``model.train_step`` on a fixed batch (no shuffling, no gather, no
  per-epoch bookkeeping) against one PyTorch step;
* the articles' whole script (build, compile with ``metrics=['accuracy']``,
  ``fit(epochs=50, batch 32, verbose=0)`` on 900 points) against Keras 3 on its
  PyTorch backend, in a worker subprocess (``KERAS_BACKEND=torch``), when Keras
  is installed.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _harness import Target, compare, compare_external, log

from workloads import common, peers

LEARNING_RATES = {"sgd": 0.01, "adam": 0.001}  # the Keras defaults
WORKER = Path(__file__).with_name("keras_worker.py")


def _glassnet(optimizer: str, metrics: list[str] | None = None, seed: int = 0):
    return common.glassnet_model(
        common.CIRCLES_LAYERS, "sigmoid",
        common.glassnet_optimizer(optimizer, LEARNING_RATES[optimizer]), seed, metrics,
    )


def _torch_trainer(X, y, batch_size: int, optimizer: str, accuracy: bool = False, seed: int = 0):
    net = common.torch_model(common.CIRCLES_LAYERS, "sigmoid", seed)
    return common.TorchTrainer(
        net, common.torch_optimizer(net, optimizer, LEARNING_RATES[optimizer]), X, y,
        batch_size, "sigmoid", accuracy=accuracy,
    )


def _per_step(case, steps: int, unit: str) -> None:
    case.seconds = {who: [t / steps for t in times] for who, times in case.seconds.items()}
    case.unit = unit


def fit_cases(X, y, settings: common.Settings, has_torch: bool) -> list[Any]:
    cases = []
    n = len(X)
    for batch_size, label in ((32, "32"), (n, "full")):
        steps = math.ceil(n / batch_size)
        # Each timed call runs about 300 steps (10 epochs at batch 32, 300 at full batch), so
        # that fit's per-call setup and a cold cache after the other contestant are amortised
        # alike for both; 10 one-step epochs (1 ms) were dominated by them.
        epochs_per_call = 2 if settings.quick else max(10, math.ceil(300 / steps))
        variants: list[tuple[str, list[str] | None]] = [("sgd", None), ("adam", None)]
        if batch_size == 32:
            variants.append(("adam", ["accuracy"]))
        for optimizer, metrics in variants:
            model = _glassnet(optimizer, metrics)
            runners: dict[str, Any] = {
                "glassnet": lambda model=model, b=batch_size, e=epochs_per_call: model.fit(
                    X, y, batch_size=b, epochs=e, verbose=0, shuffle=True),
            }
            if has_torch:
                trainer = _torch_trainer(X, y, batch_size, optimizer, accuracy=bool(metrics))

                def torch_epochs(trainer=trainer, epochs=epochs_per_call) -> None:
                    for _ in range(epochs):
                        trainer.epoch()

                runners["torch"] = torch_epochs
            if optimizer == "adam" and not metrics:
                runners.update(_compiled_peers(X, y, batch_size, epochs_per_call, settings))
            name = f"fit, batch {label}, {optimizer.upper() if optimizer == 'sgd' else 'Adam'}"
            if metrics:
                name += " + accuracy metric"
            log(f"B: {name}")
            case = compare(name, runners, settings.repeats)
            case.extra["notes"] = {
                who: f"compiled in {COMPILE_SECONDS[f'batch {batch_size}, {who}']:.1f} s"
                for who in runners if f"batch {batch_size}, {who}" in COMPILE_SECONDS}
            _per_step(case, steps * epochs_per_call, "s/step")
            cases.append(case.to_json())
    return cases


def _compiled_peers(X, y, batch_size: int, epochs: int, settings: common.Settings) -> dict:
    """JAX jit loop, JAX lax.scan and (not with --quick: it compiles for seconds)
    torch.compile, each running ``epochs`` epochs per call; compile times are logged and
    kept in ``COMPILE_SECONDS``."""
    trainers: dict[str, Any] = {}
    if peers.have("jax") and peers.have("optax"):
        for name, scan in (("JAX jit loop", False), ("JAX lax.scan", True)):
            trainers[name] = peers.JaxTrainer(common.CIRCLES_LAYERS, "sigmoid", X, y, batch_size,
                                              LEARNING_RATES["adam"], scan)
    if peers.have("torch") and not settings.quick:
        trainers["torch.compile"] = peers.TorchCompiledTrainer(
            common.CIRCLES_LAYERS, "sigmoid", X, y, batch_size, LEARNING_RATES["adam"])
    runners = {}
    for name, trainer in trainers.items():
        COMPILE_SECONDS[f"batch {batch_size}, {name}"] = trainer.compile_seconds
        log(f"B: {name} at batch {batch_size} compiled in {trainer.compile_seconds:.1f} s")

        def run_epochs(trainer=trainer) -> None:
            for _ in range(epochs):
                trainer.epoch()

        runners[name] = run_epochs
    return runners


COMPILE_SECONDS: dict[str, float] = {}


def train_step_cases(X, y, settings: common.Settings, has_torch: bool) -> list[Any]:
    cases = []
    number = 200 if settings.quick else 2000
    for batch_size, label in ((32, "32"), (len(X), "full")):
        xb = np.ascontiguousarray(X[:batch_size])
        for optimizer in ("sgd", "adam"):
            model = _glassnet(optimizer)
            model.fit(xb, y[:batch_size], batch_size=batch_size, epochs=1, verbose=0)
            yb = model.loss.prepare_targets(y[:batch_size], 1)
            runners: dict[str, Any] = {"glassnet": lambda m=model, xb=xb, yb=yb: m.train_step(xb, yb)}
            if has_torch:
                trainer = _torch_trainer(xb, y[:batch_size], batch_size, optimizer)
                runners["torch"] = lambda t=trainer: t.step(t.X, t.y)
            name = f"train_step, batch {label}, {'SGD' if optimizer == 'sgd' else 'Adam'}"
            log(f"B: {name}")
            case = compare(name, runners, settings.repeats, number=number)
            _per_step(case, 1, "s/step")
            cases.append(case.to_json())
    return cases


# ------------------------------------------------------------------ the whole script
def glassnet_script(X_train: np.ndarray, y_train: np.ndarray, epochs: int) -> None:
    """The articles' Keras script, word for word, with glassnet."""
    from glassnet.layers import Dense
    from glassnet.models import Sequential

    model = Sequential()
    model.add(Dense(4, input_dim=2, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(6, activation="relu"))
    model.add(Dense(4, activation="relu"))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.fit(X_train, y_train, epochs=epochs, verbose=0)


class KerasWorker:
    """A subprocess with Keras 3 on the PyTorch backend that runs the script on request.

    One process for all rounds, so the rounds interleave with glassnet's and
    Keras's import time (reported separately) is paid once.
    """

    def __init__(self, data_path: Path, epochs: int, threads: int) -> None:
        env = dict(os.environ, KERAS_BACKEND="torch")
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), str(data_path), str(epochs), str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env,
        )
        self.hello = self._read()

    def _read(self) -> dict[str, Any]:
        line = self.process.stdout.readline()
        if not line:
            error = self.process.stderr.read()
            raise RuntimeError(f"keras worker failed: {error.strip()[-2000:]}")
        return json.loads(line)

    def run(self) -> float:
        self.process.stdin.write("run\n")
        self.process.stdin.flush()
        return float(self._read()["seconds"])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.flush()
            self.process.wait(timeout=30)


def keras_status() -> str | None:
    """Keras's version, or None when it is not installed (checked without importing it)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("keras")
    except PackageNotFoundError:
        return None


def script_case(settings: common.Settings) -> tuple[dict[str, Any], float | None]:
    X, y = common.circles(1000, seed=0)
    X_train, y_train = X[:900], y[:900]
    epochs = 5 if settings.quick else 50
    runners: dict[str, Any] = {}

    def glassnet_run() -> float:
        start = time.perf_counter()
        glassnet_script(X_train, y_train, epochs)
        return time.perf_counter() - start

    runners["glassnet"] = glassnet_run
    extra: dict[str, Any] = {"epochs": epochs, "rows": 900, "batch_size": 32}
    worker = None
    keras_version = keras_status()
    if keras_version is None:
        log("B: keras: not installed (pip install keras); the script runs without it")
        extra["keras"] = "not installed"
    else:
        temp = Path(tempfile.mkdtemp(prefix="glassnet-bench-"))
        data_path = temp / "circles.npz"
        np.savez(data_path, X=X_train, y=y_train)
        try:
            worker = KerasWorker(data_path, epochs, settings.threads)
            extra["keras"] = worker.hello
            runners["keras (torch backend)"] = worker.run
        except (RuntimeError, OSError, json.JSONDecodeError) as error:
            log(f"B: keras worker could not start: {error}")
            extra["keras"] = f"failed to start: {error}"
    name = f"whole articles' script ({epochs} epochs)"
    log(f"B: {name}")
    try:
        repeats = settings.repeats if worker is None else max(3, min(settings.repeats, 5))
        case = compare_external(name, runners, repeats, unit="s/script")
    finally:
        if worker is not None:
            worker.close()
    case.extra = extra
    result = case.to_json()
    ratio = result["speedup"].get("keras (torch backend)")
    return result, None if ratio is None else ratio["median"]


def run(settings: common.Settings) -> dict[str, Any]:
    X, y = common.circles(1000, seed=0)
    try:
        import torch  # noqa: F401

        has_torch = True
    except ImportError:
        has_torch = False
        log("B: torch not installed; glassnet only")
    cases = fit_cases(X, y, settings, has_torch)
    cases += train_step_cases(X, y, settings, has_torch)
    script, keras_speedup = script_case(settings)
    cases.append(script)

    def find(name: str) -> dict[str, Any]:
        return next(case for case in cases if case["name"] == name)

    adam32 = find("fit, batch 32, Adam")
    targets = [
        Target("B", "fit batch 32 Adam: µs/step", adam32["results"]["glassnet"]["median"] * 1e6,
               50.0, higher_is_better=False, unit=" µs"),
        Target("B", "fit batch 32 Adam: speedup vs torch",
               adam32["speedup"].get("torch", {}).get("median"), 5.0, unit="x"),
    ]
    for optimizer in ("SGD", "Adam"):
        full = find(f"fit, batch full, {optimizer}")
        targets.append(Target("B", f"fit full batch {optimizer}: µs/step",
                              full["results"]["glassnet"]["median"] * 1e6, 120.0,
                              higher_is_better=False, unit=" µs"))
    for label in ("32", "full"):
        ratio = find(f"fit, batch {label}, Adam")["speedup"].get("JAX jit loop")
        targets.append(Target("B", f"fit batch {label} Adam: speedup vs JAX jit loop",
                              None if ratio is None else ratio["median"], 1.5, unit="x"))
    targets.append(Target("B", "whole script: speedup vs Keras (torch backend)", keras_speedup,
                          50.0, unit="x"))
    return {"title": "B. Circles network 2-4-6-6-4-1 on 1000 points", "cases": cases,
            "targets": targets, "compile_seconds": dict(COMPILE_SECONDS)}

"""The fused numba kernels (glassnet._fused) give bitwise the NumPy path's results.

Every optimizer and setting runs the same steps twice on the same data, once with the
kernels switched off (the NumPy reference) and once with them on and the size threshold
lowered, and the parameters and every state buffer must be equal bit for bit (compared
as unsigned integers, so -0.0 vs 0.0 or a different NaN would fail too).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassnet import _fused, config, optimizers, schedules
from glassnet.optimizers import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop

pytest.importorskip("numba")  # part of the test extra (glassnet[fast])

SEGMENTS = [(0, 600), (600, 640), (640, 1640), (1640, 1650)]
SIZE = SEGMENTS[-1][1]
STEPS = 7


def _schedule() -> schedules.LearningRateSchedule:
    return schedules.ExponentialDecay(0.01, decay_steps=2, decay_rate=0.5)


CASES = {
    "sgd": lambda: SGD(0.1),
    "sgd momentum": lambda: SGD(0.1, momentum=0.9),
    "sgd nesterov clipnorm": lambda: SGD(0.1, momentum=0.9, nesterov=True, clipnorm=0.5),
    "sgd schedule": lambda: SGD(_schedule(), momentum=0.5),
    "rmsprop": lambda: RMSprop(0.01),
    "rmsprop centered momentum": lambda: RMSprop(0.01, momentum=0.9, centered=True),
    "rmsprop momentum clipvalue": lambda: RMSprop(0.01, momentum=0.5, clipvalue=0.1),
    "adagrad": lambda: Adagrad(0.05),
    "adadelta": lambda: Adadelta(1.0),
    "adam": lambda: Adam(0.01),
    "adam amsgrad global_clipnorm": lambda: Adam(0.01, amsgrad=True, global_clipnorm=1.0),
    "adam schedule": lambda: Adam(_schedule(), beta_1=0.8, epsilon=1e-3),
    "adamw": lambda: AdamW(0.01, weight_decay=0.1),
    "adamw amsgrad clipnorm": lambda: AdamW(_schedule(), weight_decay=0.05, amsgrad=True,
                                            clipnorm=0.3),
    "adamax": lambda: Adamax(0.01),
    "adamax clipvalue": lambda: Adamax(0.02, clipvalue=0.05),
    "nadam": lambda: Nadam(0.01),
    "nadam schedule": lambda: Nadam(_schedule(), clipnorm=0.2),
}


def _problem(dtype: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Parameters with zeros, tiny and large values; a gradient per step, some exactly 0."""
    rng = np.random.default_rng(3)
    params = (rng.standard_normal(SIZE) * rng.choice([1e-30, 1e-3, 1.0, 50.0], SIZE)).astype(dtype)
    params[::97] = 0.0
    grads = []
    for _ in range(STEPS):
        g = (rng.standard_normal(SIZE) * rng.choice([1e-20, 1e-4, 1.0, 30.0], SIZE)).astype(dtype)
        g[:50] = 0.0  # dead units: their moments decay towards subnormals
        grads.append(g)
    return params, grads


def _train(make, dtype: str, fused: bool, monkeypatch) -> tuple[np.ndarray, dict]:
    monkeypatch.setattr(_fused, "MIN_PARAMS", 0)
    config.set_fused_kernels(fused)
    used = []
    original = _fused.update
    monkeypatch.setattr(_fused, "update", lambda *a: used.append(original(*a)) or used[-1])
    try:
        params, grads = _problem(dtype)
        optimizer = make()
        optimizer.build(params, SEGMENTS)
        for g in grads:
            optimizer.apply(params, g.copy())
    finally:
        config.set_fused_kernels(True)
    assert used == [fused] * STEPS  # the path asked for is the path that ran
    return params, optimizer.get_state()


def _bits(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    return array.view(f"u{array.dtype.itemsize}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fused_kernel_is_bitwise_the_numpy_update(case, dtype, monkeypatch):
    reference, reference_state = _train(CASES[case], dtype, False, monkeypatch)
    fused, fused_state = _train(CASES[case], dtype, True, monkeypatch)
    assert not np.array_equal(reference, _problem(dtype)[0])  # the steps did something
    np.testing.assert_array_equal(_bits(fused), _bits(reference))
    assert set(fused_state) == set(reference_state)
    for name, value in reference_state.items():
        assert fused_state[name].dtype == value.dtype, name
        np.testing.assert_array_equal(_bits(fused_state[name]), _bits(value), err_msg=name)


def test_every_glassnet_optimizer_has_a_kernel():
    registered = {cls.__name__ for cls in optimizers._OPTIMIZERS.values()}
    assert registered == set(_fused._kernels())


def test_kernels_stay_off_below_the_threshold_when_switched_off_and_for_subclasses():
    params = np.zeros(_fused.MIN_PARAMS, dtype=np.float32)
    grads = np.ones_like(params)
    adam = Adam()
    adam.build(params)
    assert _fused.update(adam, params, grads, 0.001, 1)
    assert not _fused.update(adam, params[:-1], grads[:-1], 0.001, 1)  # below MIN_PARAMS

    class MyAdam(Adam):  # a subclass may change the rule: never fused
        pass

    mine = MyAdam()
    mine.build(params)
    assert not _fused.update(mine, params, grads, 0.001, 1)
    config.set_fused_kernels(False)
    try:
        assert not config.fused_kernels()
        assert not _fused.update(adam, params, grads, 0.001, 1)
    finally:
        config.set_fused_kernels(True)
    with pytest.raises(TypeError, match="enabled must be True or False"):
        config.set_fused_kernels("yes")  # type: ignore[arg-type]


def test_without_numba_the_numpy_path_runs(monkeypatch):
    monkeypatch.setattr(_fused, "_NUMBA_FOUND", False)
    params = np.zeros(_fused.MIN_PARAMS, dtype=np.float32)
    adam = Adam()
    adam.build(params)
    assert not _fused.update(adam, params, np.ones_like(params), 0.001, 1)


def test_a_numba_that_fails_to_import_falls_back_with_a_warning(monkeypatch):
    def broken() -> None:
        raise ImportError("Numba needs NumPy 2.3 or less")

    monkeypatch.setattr(_fused, "_NUMBA_FOUND", True)
    monkeypatch.setattr(_fused, "_KERNELS", None)
    monkeypatch.setattr(_fused, "_compile", broken)
    params = np.zeros(_fused.MIN_PARAMS, dtype=np.float32)
    adam = Adam()
    with pytest.warns(RuntimeWarning, match="numba could not be imported.*NumPy 2.3"):
        adam.apply(params, np.ones_like(params))  # the NumPy path ran
    assert adam.iterations == 1 and params[0] < 0
    assert not _fused.update(adam, params, np.ones_like(params), 0.001, 2)  # and stays off


def test_float16_buffers_take_the_numpy_path():
    params = np.zeros(_fused.MIN_PARAMS, dtype=np.float16)
    adam = Adam()
    adam.build(params)
    assert not _fused.update(adam, params, np.ones_like(params), 0.001, 1)


def test_fit_with_kernels_equals_fit_without(monkeypatch):
    from glassnet.layers import Dense
    from glassnet.models import Sequential
    from glassnet.utils import set_random_seed

    monkeypatch.setattr(_fused, "MIN_PARAMS", 0)
    rng = np.random.default_rng(0)
    X = rng.random((96, 20), dtype=np.float32)
    y = rng.integers(0, 3, 96)
    weights = []
    for fused in (False, True):
        config.set_fused_kernels(fused)
        try:
            set_random_seed(1)
            model = Sequential([Dense(16, input_dim=20, activation="relu"),
                                Dense(3, activation="softmax")])
            model.compile(optimizer=Adam(0.01, amsgrad=True), loss="sparse_categorical_crossentropy")
            model.fit(X, y, batch_size=16, epochs=3, verbose=0)
            weights.append(model.get_weights())
        finally:
            config.set_fused_kernels(True)
    for reference, fused_weights in zip(*weights, strict=True):
        np.testing.assert_array_equal(_bits(fused_weights), _bits(reference))


def test_a_small_network_never_imports_numba():
    src = Path(__file__).resolve().parents[1] / "src"
    script = (
        f"import sys; sys.path.insert(0, {str(src)!r})\n"
        "from glassnet.datasets import make_circles\n"
        "from glassnet.layers import Dense\n"
        "from glassnet.models import Sequential\n"
        "X, y = make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)\n"
        "model = Sequential([Dense(4, input_dim=2, activation='relu'), Dense(1, activation='sigmoid')])\n"
        "model.compile(loss='binary_crossentropy', optimizer='adam')\n"
        "model.fit(X, y, epochs=2, verbose=0)\n"
        "print('numba' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "False"

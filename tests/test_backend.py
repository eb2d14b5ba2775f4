"""Selecting array backends: errors, isolation of models, results equal across backends."""

import sys
import types

import numpy as np
import pytest

import glassnet
from glassnet import backend, config
from glassnet.backend import BackendError, xp
from glassnet.datasets import make_circles
from glassnet.layers import Dense, Dropout
from glassnet.models import Sequential


def test_numpy_is_the_default_and_its_functions_are_numpy_itself():
    assert config.get_backend() == "numpy"
    # No layer between the core and NumPy on the default backend: the fast path is NumPy's.
    assert xp.multiply is np.multiply and xp.matmul is np.dot and xp.take is np.ndarray.take


def test_unknown_backend_names_the_choices_and_suggests_one():
    with pytest.raises(ValueError, match=r"backend.*'cuppy'.*array_api_strict, cupy, numpy.*'cupy'"):
        config.set_backend("cuppy")
    assert config.get_backend() == "numpy"


def test_cupy_missing_gives_an_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy raises ImportError
    with pytest.raises(BackendError, match="backend 'cupy' needs CuPy.*pip install cupy"):
        config.set_backend("cupy")
    assert config.get_backend() == "numpy"


def test_cupy_without_a_usable_gpu_is_refused(monkeypatch):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    with pytest.raises(BackendError, match=r"no GPU is usable.*is_available\(\) is False"):
        config.set_backend("cupy")
    assert config.get_backend() == "numpy"  # the failed switch changed nothing


def test_cupy_with_a_gpu_but_without_array_api_compat_says_what_to_install(monkeypatch):
    fake = types.ModuleType("cupy")
    fake.cuda = types.SimpleNamespace(is_available=lambda: True)
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", None)
    with pytest.raises(BackendError, match="array-api-compat.*glassnet\\[gpu\\]"):
        config.set_backend("cupy")
    assert config.get_backend() == "numpy"


def test_use_backend_restores_the_previous_backend_after_an_error():
    with pytest.raises(RuntimeError, match="inside"), config.use_backend("array_api_strict"):
        assert xp.name == "array_api_strict"
        raise RuntimeError("inside")
    assert xp.name == "numpy" and xp.is_numpy


def test_out_is_emulated_with_the_numpy_meaning():
    with config.use_backend("array_api_strict"):
        a = xp.from_numpy(np.array([[1.0, -2.0], [3.0, -4.0]], dtype=np.float32))
        out = xp.empty((2, 2), dtype=xp.float32)
        result = xp.maximum(a, 0.0, out=out)
        assert result is out
        np.testing.assert_array_equal(xp.to_numpy(out), [[1, 0], [3, 0]])
        xp.greater(a, 0.0, out=out)  # a bool result is cast to out's dtype, as NumPy does
        np.testing.assert_array_equal(xp.to_numpy(out), [[1, 0], [1, 0]])
        xp.matmul(a, a, out=out)
        np.testing.assert_allclose(xp.to_numpy(out), np.array([[1, -2], [3, -4]]) @ [[1, -2], [3, -4]])


def test_a_model_refuses_to_run_under_another_backend():
    model = Sequential([Dense(3, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.predict(np.zeros((1, 2)))
    with config.use_backend("array_api_strict"):
        expected = "made with the 'numpy' backend.*active backend is 'array_api_strict'"
        with pytest.raises(BackendError, match=expected):
            model.predict(np.zeros((1, 2)))
        with pytest.raises(BackendError, match="set_backend\\('numpy'\\)"):
            model.fit(np.zeros((4, 2)), np.zeros(4), verbose=0)


def _train(backend_name, seed=0):
    X, y = make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    with config.use_backend(backend_name):
        glassnet.set_random_seed(seed)
        model = Sequential([
            Dense(8, input_dim=2, activation="relu"),
            Dropout(0.1, seed=1),
            Dense(6, activation="tanh"),
            Dense(1, activation="sigmoid"),
        ])
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        history = model.fit(X, y, epochs=5, batch_size=32, verbose=0)
        return model.get_weights(), history.history, model.predict(X[:5]), model.evaluate(X, y, verbose=0)


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_a_seed_trains_the_same_model_on_numpy_and_on_the_array_api(floatx):
    config.set_floatx(floatx)
    weights_np, history_np, predictions_np, evaluation_np = _train("numpy")
    weights_aa, history_aa, predictions_aa, evaluation_aa = _train("array_api_strict")
    # Same initial weights, dropout masks and batch order (all drawn on the host); only the
    # rounding of the matrix products may differ (np.dot vs np.matmul kernels).
    rtol = 1e-4 if floatx == "float32" else 1e-10
    assert isinstance(predictions_aa, np.ndarray) and predictions_aa.dtype == np.dtype(floatx)
    for w_np, w_aa in zip(weights_np, weights_aa, strict=True):
        assert isinstance(w_aa, np.ndarray)
        np.testing.assert_allclose(w_aa, w_np, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(history_aa["loss"], history_np["loss"], rtol=rtol)
    assert history_aa["accuracy"] == pytest.approx(history_np["accuracy"], abs=0.01)
    np.testing.assert_allclose(predictions_aa, predictions_np, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(evaluation_aa, evaluation_np, rtol=rtol)


def test_a_model_saved_under_one_backend_loads_under_the_other(tmp_path):
    X, y = make_circles(n_samples=100, factor=0.3, noise=0.1, random_state=0)
    with config.use_backend("array_api_strict"):
        model = Sequential([Dense(4, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(X, y, epochs=2, verbose=0)
        model.save(tmp_path / "m.glassnet")
        expected = model.predict(X)
    loaded = glassnet.load_model(tmp_path / "m.glassnet")
    assert isinstance(loaded.parameters, np.ndarray)
    np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-6)
    loaded.fit(X, y, epochs=1, verbose=0)  # the optimizer state came along


def test_dtype_name_and_backend_float_dtype():
    """One float-dtype function (a NumPy dtype); ``xp.native_dtype`` gives the backend's own."""
    assert backend.dtype_name(np.zeros(2, dtype=np.float64)) == "float64"
    assert config.float_dtype is backend.float_dtype
    with config.use_backend("array_api_strict"):
        config.set_floatx("float64")
        assert backend.float_dtype() == np.dtype("float64")
        assert xp.native_dtype(backend.float_dtype()) == xp.float64
        assert backend.dtype_name(xp.zeros(2, dtype=xp.native_dtype(backend.float_dtype()))) == "float64"
        assert backend.dtype_name(xp.astype(xp.zeros(2), np.dtype("float32"))) == "float32"


def test_tools_outside_the_core_name_the_backend_and_the_way_back(tmp_path):
    from glassnet import viz

    X, y = make_circles(n_samples=40, factor=0.3, noise=0.1, random_state=0)
    with config.use_backend("array_api_strict"):
        model = Sequential([Dense(3, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer="adam")
        model.fit(X, y, epochs=1, verbose=0)
        for feature, call in [
            ("glassnet.explain.trace", lambda: model.trace(X[0], y[0])),
            ("glassnet.gradient_check", lambda: glassnet.gradient_check(model, X[:4], y[:4])),
            ("glassnet.diagnose", lambda: glassnet.diagnose(model, X, y)),
            ("glassnet.viz.plot_neuron_maps", lambda: viz.plot_neuron_maps(model, X, y)),
        ]:
            with pytest.raises(BackendError, match=f"{feature} works on models built with the 'numpy' "
                                                   "backend.*'array_api_strict'.*load_model"):
                call()
        # What does work on any backend: predictions, the summary, the equations, pictures
        # drawn from predict.
        model.summary(print_fn=lambda text: None)
        assert "Z[1]" in str(model.explain())
        viz.plot_decision_boundary(model, X, y)
        model.save(tmp_path / "m.glassnet")
    loaded = glassnet.load_model(tmp_path / "m.glassnet")
    assert "forward" in str(loaded.trace(X[0], y[0])).lower()


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_zero_is_a_cached_0d_array_of_the_dtype(name):
    with config.use_backend(name):
        for dtype in (xp.float32, xp.float64):
            zero = xp.zero(dtype)
            assert zero.shape == () and zero.dtype == dtype and float(zero) == 0.0
            assert xp.zero(dtype) is zero  # made once per dtype and backend


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # 20 epochs on purpose
def test_the_scikit_learn_estimators_work_on_the_array_api_backend():
    from glassnet.sklearn import GlassnetClassifier

    X, y = make_circles(n_samples=200, factor=0.3, noise=0.1, random_state=0)
    labels = np.where(y == 1, "inner", "outer")
    fitted = {}
    for name in ("numpy", "array_api_strict"):
        with config.use_backend(name):
            clf = GlassnetClassifier(hidden_layer_sizes=(8,), epochs=20, random_state=0).fit(X, labels)
            fitted[name] = (clf.predict_proba(X), clf.predict(X))
    assert isinstance(fitted["array_api_strict"][0], np.ndarray)
    np.testing.assert_allclose(fitted["array_api_strict"][0], fitted["numpy"][0], rtol=1e-4, atol=1e-5)
    assert (fitted["array_api_strict"][1] == fitted["numpy"][1]).mean() > 0.99

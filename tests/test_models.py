"""Sequential: the Keras API end to end."""

import numpy as np
import pytest

from glassnet import config
from glassnet.datasets import make_circles
from glassnet.layers import Dense, Dropout, Input
from glassnet.models import NotBuiltError, NotCompiledError, Sequential
from glassnet.utils import set_random_seed

pytestmark = pytest.mark.usefixtures("array_backend")


def circles_model(**dense_kwargs):
    model = Sequential()
    model.add(Dense(4, input_dim=2, activation="relu", **dense_kwargs))
    model.add(Dense(6, activation="relu", **dense_kwargs))
    model.add(Dense(6, activation="relu", **dense_kwargs))
    model.add(Dense(4, activation="relu", **dense_kwargs))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model


def test_the_articles_script_reaches_097(circles_data):
    X_train, X_test, y_train, y_test = circles_data
    model = circles_model()
    history = model.fit(X_train, y_train, epochs=50, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert len(history.history["loss"]) == 50
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(X_test, y_test, verbose=0)
    assert accuracy >= 0.97
    assert model.history is history


@pytest.mark.numpy_only(reason="500 epochs in all; array-api-strict costs ~20x per call; "
                        "test_the_articles_script_reaches_097 and test_backend.py cover that path")
def test_the_articles_script_on_ten_seeds():
    """The issue's bar: >= 0.97 on at least 9 of the seeds 0..9, with default settings."""
    from glassnet.datasets import train_test_split

    accuracies = []
    for seed in range(10):
        set_random_seed(seed)
        X, y = make_circles(n_samples=1000, factor=0.3, noise=0.1, random_state=seed)
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.1, random_state=seed)
        model = circles_model()
        model.fit(X_train, y_train, epochs=50, verbose=0)
        accuracies.append(model.evaluate(X_test, y_test, verbose=0)[1])
    assert sum(a >= 0.97 for a in accuracies) >= 9, accuracies


def test_summary_is_the_keras_table(capsys):
    model = circles_model()
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "' in text
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    assert "(Dense)" in text and "(None, 4)" in text and "(None, 1)" in text
    # 2*4+4, 4*6+6, 6*6+6, 6*4+4, 4*1+1
    assert " Total params: 117 (468.00 B)" in text
    assert " Trainable params: 117 (468.00 B)" in text
    assert " Non-trainable params: 0 (0.00 B)" in text
    assert model.count_params() == 117


def test_construction_styles_are_equivalent():
    set_random_seed(5)
    a = Sequential([Input(shape=(3,)), Dense(2, activation="tanh")])
    set_random_seed(5)
    b = Sequential([Dense(2, input_shape=(3,), activation="tanh")])
    set_random_seed(5)
    c = Sequential()
    c.add(Dense(2, input_dim=3, activation="tanh"))
    for model in (a, b, c):
        model.build()
    for w_b, w_c in zip(b.get_weights(), c.get_weights(), strict=True):
        np.testing.assert_array_equal(w_b, w_c)
    assert a.output_shape == b.output_shape == (2,)


def test_predict_evaluate_and_batches():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    model = Sequential([Dense(8, input_dim=3, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "auc"])
    model.fit(X, y, epochs=2, verbose=0)
    p = model.predict(X)
    assert p.shape == (50, 1) and p.dtype == np.float32
    assert ((p > 0) & (p < 1)).all()
    np.testing.assert_allclose(model.predict_on_batch(X[:5]), p[:5], rtol=1e-6)
    np.testing.assert_allclose(model.predict(X, batch_size=7), p, rtol=1e-6)
    loss, acc, auc = model.evaluate(X, y, verbose=0)
    logs = model.evaluate(X, y, verbose=0, return_dict=True)
    assert logs == {"loss": loss, "accuracy": acc, "auc": auc}
    assert acc == pytest.approx(np.mean((p[:, 0] > 0.5) == y))
    before = model.get_weights()
    result = model.train_on_batch(X[:10], y[:10])
    assert isinstance(result, list) and len(result) == 3
    assert any(not np.array_equal(w0, w1) for w0, w1 in zip(before, model.get_weights(), strict=True))


def test_predict_returns_a_copy():
    model = Sequential([Dense(2, input_dim=2)])
    model.build()
    model.set_weights([np.ones((2, 2)), np.zeros(2)])
    first = model.predict(np.ones((3, 2)))
    model.predict(np.zeros((3, 2)))
    np.testing.assert_array_equal(first, 2.0)  # not overwritten by the second call


def test_get_and_set_weights_round_trip():
    model = circles_model()
    weights = [w + 1 for w in model.get_weights()]
    model.set_weights(weights)
    for w_set, w_got in zip(weights, model.get_weights(), strict=True):
        np.testing.assert_array_equal(w_set, w_got)
    with pytest.raises(ValueError, match="expects 10 arrays"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((3, 3))] + weights[1:])


def test_validation_split_takes_the_last_fraction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = rng.normal(size=(100, 1))
    model = Sequential([Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(X, y, epochs=1, validation_split=0.2, verbose=0)
    assert history.params["samples"] == 80
    val_loss = model.evaluate(X[80:], y[80:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(val_loss, rel=1e-5)


def test_validation_data_and_metrics_names():
    X, y = make_circles(200, noise=0.1, factor=0.4, random_state=0)
    model = circles_model()
    history = model.fit(X[:150], y[:150], validation_data=(X[150:], y[150:]), epochs=2, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_sample_weight_zero_equals_leaving_examples_out(float64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = rng.normal(size=(40, 1))
    weights = np.ones(40)
    weights[30:] = 0.0

    def train(X, y, sample_weight):
        set_random_seed(0)
        model = Sequential([Dense(4, input_dim=3, activation="tanh"), Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(X, y, batch_size=len(X), epochs=5, shuffle=False, verbose=0,
                  sample_weight=sample_weight)
        return model.get_weights()

    weighted = train(X, y, weights)
    # The weighted loss is sum(w*l)/m with m = 40, so the 30 kept examples count 30/40.
    plain = train(X[:30], y[:30] * 1.0, None)
    assert not np.allclose(weighted[0], plain[0])  # different scale, as in Keras
    scaled = train(X, y, weights * 40 / 30)
    for a, b in zip(scaled, plain, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_class_weight_scales_each_class():
    X = np.array([[0.0], [1.0]] * 10)
    y = np.array([0, 1] * 10)
    model = Sequential([Dense(1, input_dim=1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.build()
    W0 = model.get_weights()
    model.fit(X, y, class_weight={0: 1.0, 1: 0.0}, epochs=1, batch_size=20, shuffle=False, verbose=0)
    # Only class 0 (x = 0) contributes, and its x is 0: the kernel cannot move.
    np.testing.assert_allclose(model.get_weights()[0], W0[0])
    assert not np.allclose(model.get_weights()[1], W0[1])


def test_same_seed_gives_bitwise_identical_runs():
    X, y = make_circles(300, noise=0.1, factor=0.4, random_state=0)

    def run():
        set_random_seed(42)
        model = circles_model()
        model.add(Dropout(0.1))
        model.add(Dense(1, activation="sigmoid"))
        model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
        model.fit(X, y, epochs=3, verbose=0)
        return model.get_weights()

    state = np.random.get_state()  # noqa: NPY002 - checking the legacy global state
    first, second = run(), run()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # glassnet never touches NumPy's global random state
    after = np.random.get_state()  # noqa: NPY002
    assert state[0] == after[0] and np.array_equal(state[1], after[1])


def test_float64_is_selectable():
    config.set_floatx("float64")
    model = circles_model()
    assert model.dtype == "float64"
    X, y = make_circles(64, random_state=0)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.predict(X).dtype == np.float64


def test_fit_before_compile_and_predict_before_build():
    model = Sequential([Dense(1, input_dim=2)])
    with pytest.raises(NotCompiledError, match="compile"):
        model.fit(np.ones((4, 2)), np.ones(4), verbose=0)
    unknown = Sequential([Dense(1)])
    with pytest.raises(NotBuiltError, match="input shape"):
        unknown.predict(np.ones((4, 2)))


def test_fit_builds_from_the_data_when_no_input_shape_was_given():
    model = Sequential([Dense(3, activation="relu"), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 5)), np.ones(8), verbose=0)
    assert model.layers[0].W.shape == (5, 3)


def test_verbose_2_prints_one_line_per_epoch(capsys):
    X, y = make_circles(64, random_state=0)
    model = circles_model()
    model.fit(X, y, epochs=2, verbose=2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("2/2 - ") and "/step - loss: " in lines[1]
    assert " - accuracy: " in lines[1]


def test_verbose_1_draws_the_keras_bar(capsys):
    X, y = make_circles(64, random_state=0)
    model = circles_model()
    model.fit(X, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" not in out  # only shown for more than one epoch, as in Keras
    final = out.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith(" 2/2 ━━━━━━━━━━━━━━━━━━━━ ")
    assert "/step - loss: " in final and " - accuracy: " in final


def test_verbose_auto_is_quiet_per_batch_when_piped(capsys):
    X, y = make_circles(64, random_state=0)
    model = circles_model()
    model.fit(X, y, epochs=1)  # capsys stdout is not a terminal: one line per epoch
    out = capsys.readouterr().out
    assert "━" not in out and out.strip().startswith("2/2 - ")


def test_plain_gradient_descent_is_sgd_with_the_whole_batch(float64):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    y = X @ np.array([[2.0], [-1.0]]) + 0.5
    model = Sequential([Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.zeros((2, 1)), np.zeros(1)])
    model.fit(X, y, batch_size=len(X), epochs=1, verbose=0)
    # one step of W := W - α·dW with dW = Xᵀ·(2(A - Y)/1)/m at W = 0
    expected = -0.01 * X.T @ (2 * (0 - y)) / len(X)
    np.testing.assert_allclose(model.get_weights()[0], expected, rtol=1e-10)


def test_trainable_false_freezes_a_layer():
    model = Sequential([Dense(4, input_dim=2, activation="relu"), Dense(1)])
    model.layers[0].trainable = False
    model.compile(optimizer="adam", loss="mse")
    frozen = model.get_weights()[:2]
    model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0)
    for a, b in zip(frozen, model.get_weights()[:2], strict=True):
        np.testing.assert_array_equal(a, b)
    assert model._n_trainable == 5


def test_learning_rate_schedule_in_fit():
    from glassnet.optimizers import SGD
    from glassnet.schedules import ExponentialDecay

    schedule = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = Sequential([Dense(1, input_dim=1)])
    model.compile(optimizer=SGD(learning_rate=schedule), loss="mse")
    model.fit(np.ones((4, 1)), np.ones(4), batch_size=1, epochs=1, verbose=0)
    assert model.optimizer.iterations == 4
    assert model.optimizer.current_learning_rate == pytest.approx(0.1 * 0.5**4)


def test_fit_reports_the_running_average_of_the_batch_losses(float64):
    """fit's epoch loss and accuracy are Keras's running averages of each step's values."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(70, 3))
    y = (X[:, 0] + 0.3 * rng.normal(size=70) > 0).astype(int)
    weights = rng.uniform(0.5, 2.0, size=70)

    def fresh():
        set_random_seed(3)
        model = Sequential([Dense(5, input_dim=3, activation="relu", kernel_regularizer="l2"),
                            Dense(1, activation="sigmoid")])
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        return model

    fitted = fresh()
    history = fitted.fit(X, y, batch_size=16, epochs=1, shuffle=False, sample_weight=weights,
                         verbose=0)
    stepped = fresh()
    losses, correct, total = [], 0.0, 0.0
    for start in range(0, 70, 16):
        xb, yb, wb = X[start:start + 16], y[start:start + 16], weights[start:start + 16]
        before = stepped.predict(xb)[:, 0]
        losses.append(stepped.train_on_batch(xb, yb, sample_weight=wb)[0] * len(xb))
        correct += np.sum(wb * ((before > 0.5) == yb))
        total += wb.sum()
    assert history.history["loss"][0] == pytest.approx(sum(losses) / 70, rel=1e-10)
    assert history.history["accuracy"][0] == pytest.approx(correct / total, rel=1e-10)
    for a, b in zip(fitted.get_weights(), stepped.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_model_may_end_with_dropout_or_an_activation_layer():
    from glassnet.layers import Activation

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    for last in (Dropout(0.2), Activation("softmax")):
        head = [Dense(3, input_dim=3)] if isinstance(last, Activation) else [
            Dense(3, input_dim=3, activation="softmax")]
        model = Sequential([*head, last])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        history = model.fit(X, y, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        assert model.predict(X).shape == (40, 3)

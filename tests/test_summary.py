"""model.summary(): real shapes and parameter counts as soon as the input shape is known."""

from __future__ import annotations

import numpy as np
import pytest

from glassnet.layers import Dense, Dropout, Input
from glassnet.models import Sequential
from glassnet.utils import set_random_seed


def mnist_mlp(first: Dense | None = None, start: list | None = None) -> Sequential:
    """Keras's mnist_mlp.py tutorial network (669,706 parameters)."""
    return Sequential([*(start or []),
                       first or Dense(512, activation="relu", input_shape=(784,)),
                       Dropout(0.2), Dense(512, activation="relu"), Dropout(0.2),
                       Dense(10, activation="softmax")])


@pytest.mark.parametrize("how", ["input_shape", "input_dim", "Input"])
def test_summary_before_compile_shows_shapes_and_params(how, capsys):
    if how == "input_shape":
        model = mnist_mlp()
    elif how == "input_dim":
        model = mnist_mlp(Dense(512, activation="relu", input_dim=784))
    else:
        model = mnist_mlp(Dense(512, activation="relu"), start=[Input(shape=(784,))])
    model.summary()
    text = capsys.readouterr().out
    assert "Total params: 669,706" in text
    assert "(None, 512)" in text and "(None, 10)" in text
    assert "unbuilt" not in text and "?" not in text
    assert "669,706" in model._repr_html_()


def test_summary_without_an_input_shape_still_says_unbuilt(capsys):
    model = Sequential([Dense(4), Dense(1)])
    model.summary()
    text = capsys.readouterr().out
    assert "0 (unbuilt)" in text and "Total params: 0" in text
    assert not model.built


def test_summary_first_draws_the_same_weights_as_compile_first():
    X = np.random.default_rng(0).standard_normal((32, 784)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 32)
    results = []
    for call_summary in (True, False):
        set_random_seed(7)
        model = mnist_mlp()
        if call_summary:
            model.summary(print_fn=lambda text: None)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        model.fit(X, y, epochs=1, verbose=0)
        results.append(model.predict(X, verbose=0))
    np.testing.assert_array_equal(*results)

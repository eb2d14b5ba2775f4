"""The pictures of a demo run, written to files: ``glassnet demo circles --plots DIR``.

For a demo called ``<name>`` it writes, into ``DIR``:

* ``<name>-history.png``: the learning curves (:func:`plot_history`), with the
  accuracy of always answering the majority class when the demo reports it
  (``DemoResult.baseline_accuracy``: 0.900 for digit9);
* ``<name>-network.png``: the network and its weights (:func:`plot_network`), its
  inputs and outputs named by ``DemoResult.input_names`` / ``output_names`` when
  the demo gives them (fruit), its dead units ringed;
* for 2-D inputs, ``<name>-boundary.png`` (:func:`plot_decision_boundary`) and
  ``<name>-training.gif``: the same network trained again from the same seed,
  filmed epoch by epoch (:class:`TrainingAnimation`);
* for image inputs (784 = 28 x 28 pixels, ...), ``<name>-weights.png``: the first
  layer's weights as pictures (:func:`plot_first_layer_weights`).

Everything is drawn off screen (Agg), so it works without a display.
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from glassnet._validation import check_int
from glassnet.viz._common import image_shape_of
from glassnet.viz.animation import TrainingAnimation
from glassnet.viz.boundary import plot_decision_boundary
from glassnet.viz.history import plot_history
from glassnet.viz.network import plot_network
from glassnet.viz.weights import plot_first_layer_weights

#: The most frames a demo animation gets (spread evenly over the epochs).
MAX_FRAMES = 100


def fresh_copy(model: Any, seed: int) -> Any:
    """A new, untrained model with ``model``'s layers and compile settings, seeded by ``seed``.

    The copy is rebuilt from ``model.get_config()`` right after
    ``set_random_seed(seed)``, as the demos build theirs, so it starts from the
    same initial weights and shuffles the data the same way. (This resets
    glassnet's global seed.)
    """
    from glassnet import layers
    from glassnet.models import Sequential
    from glassnet.utils import set_random_seed

    config = model.get_config()
    set_random_seed(seed)
    copy = Sequential(name=config["name"])
    if config.get("input_shape") is not None:
        copy.add(layers.Input(shape=tuple(config["input_shape"])))
    for entry in config["layers"]:
        copy.add(layers.get(entry["class_name"]).from_config(entry["config"]))
    if model.compiled:
        copy.compile(optimizer=model.optimizer.get_config(), loss=model.loss.get_config(),
                     metrics=list(getattr(model, "_metric_identifiers", [])))
    return copy


def _save(figure: Any, path: pathlib.Path, written: list[pathlib.Path]) -> None:
    figure.savefig(path, dpi=figure.dpi)
    written.append(path)


def write_demo_plots(
    result: Any, directory: Any, name: str, *, seed: int = 0, fps: float = 10
) -> list[pathlib.Path]:
    """Write a demo's pictures into ``directory`` (created if needed).

    Parameters
    ----------
    result : glassnet.demos.DemoResult
        The trained model, its history and the train/test data.
    directory : str or Path
    name : str
        The demo's name; the files are ``<name>-history.png``, ...
    seed : int
        The demo's seed, used to train the animated copy from the same start.
    fps : float
        Frames per second of the animation.

    Returns
    -------
    list of pathlib.Path
        The files written, in order.
    """
    if not isinstance(name, str) or not name or any(c in name for c in "/\\"):
        raise ValueError(f"name must be a plain file-name prefix such as 'circles', got {name!r}")
    seed = check_int("seed", seed, minimum=0)
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = result.model
    written: list[pathlib.Path] = []

    baseline = getattr(result, "baseline_accuracy", None)
    _save(plot_history(result.history, title=f"{name}: learning curves", baseline=baseline,
                       baseline_label="always the majority class"),
          directory / f"{name}-history.png", written)
    input_names = getattr(result, "input_names", None)
    output_names = getattr(result, "output_names", None)
    _save(plot_network(model, input_names=input_names, output_names=output_names,
                       X=np.asarray(result.X_train)),
          directory / f"{name}-network.png", written)

    input_shape = tuple(model.input_shape)
    if input_shape == (2,):
        _save(plot_decision_boundary(model, result.X_train, result.y_train,
                                     X_test=result.X_test, y_test=result.y_test,
                                     title=f"{name}: decision boundary", class_names=output_names),
              directory / f"{name}-boundary.png", written)
        written.append(_animate(result, directory / f"{name}-training.gif", seed, fps))
    else:
        image_shape = image_shape_of(input_shape)
        if image_shape is not None:
            _save(plot_first_layer_weights(model, image_shape), directory / f"{name}-weights.png",
                  written)
    return written


def _animate(result: Any, path: pathlib.Path, seed: int, fps: float) -> pathlib.Path:
    """Train a fresh copy of the demo's model as the demo did, filming each epoch."""
    params = getattr(result.history, "params", {}) or {}
    epochs = int(params.get("epochs") or len(result.history.epoch) or 1)
    batch_size = params.get("batch_size", 32)
    animation = TrainingAnimation(
        result.X_train, result.y_train, path, frames=min(epochs, MAX_FRAMES), fps=fps,
        X_test=result.X_test, y_test=result.y_test,
    )
    copy = fresh_copy(result.model, seed)
    copy.fit(np.asarray(result.X_train), np.asarray(result.y_train), epochs=epochs,
             batch_size=batch_size, verbose=0, callbacks=[animation])
    return path

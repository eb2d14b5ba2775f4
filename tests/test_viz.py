"""glassnet.viz: the files are valid pictures, and the pictures show what they claim to show."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from glassnet import demos
from glassnet.callbacks import Callback, History
from glassnet.layers import Dense
from glassnet.models import Sequential
from glassnet.viz import (
    ParameterPath,
    TrainingAnimation,
    animate_gradient_descent_1d,
    animate_training,
    gradient_descent_path,
    loss_surface,
    plot_activations,
    plot_decision_boundary,
    plot_first_layer_weights,
    plot_gradient_descent_1d,
    plot_gradient_norms,
    plot_history,
    plot_loss_surface,
    plot_network,
    plot_neuron_maps,
    write_demo_plots,
)
from glassnet.viz.gradient_descent import parabola_derivative
from glassnet.viz.report import fresh_copy


@pytest.fixture(scope="module")
def circles():
    """The article's circles network, trained 50 epochs (about a second)."""
    return demos.circles(verbose=0, epochs=50)


def save_png(figure: Figure, path: pathlib.Path) -> np.ndarray:
    """Save without cropping (so data -> pixel mapping holds), reopen, return RGB pixels."""
    figure.savefig(path, dpi=figure.dpi)
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = figure.get_size_inches() * figure.dpi
        assert image.size == (round(width), round(height))
        return np.asarray(image.convert("RGB"), dtype=np.int64)


def pixel_at(ax, pixels: np.ndarray, x: float, y: float, half: int = 2) -> np.ndarray:
    """Median RGB of a small patch around data point (x, y) of ``ax`` in a saved image."""
    px, py = ax.transData.transform((x, y))
    row, col = int(round(pixels.shape[0] - py)), int(round(px))
    patch = pixels[row - half: row + half + 1, col - half: col + half + 1].reshape(-1, 3)
    return np.median(patch, axis=0)


# -- decision boundary ----------------------------------------------------------------
def test_boundary_colours_follow_the_classes(circles, tmp_path):
    r = circles
    figure = plot_decision_boundary(r.model, r.X_train, r.y_train, X_test=r.X_test,
                                    y_test=r.y_test, resolution=60)
    assert isinstance(figure, Figure)
    pixels = save_png(figure, tmp_path / "boundary.png")
    ax = figure.axes[0]
    radius = np.hypot(*r.X_train.T)
    inner_class = round(r.y_train[radius < 0.4].mean())
    outer_class = round(r.y_train[radius > 0.8].mean())
    assert inner_class != outer_class
    centre = pixel_at(ax, pixels, 0.0, 0.0)
    ring = pixel_at(ax, pixels, 0.0, -1.0)
    redness = {"centre": centre[0] - centre[2], "ring": ring[0] - ring[2]}
    # class 1 is painted red (P -> 1), class 0 blue (P -> 0)
    for where, cls in (("centre", inner_class), ("ring", outer_class)):
        assert (redness[where] > 40) if cls == 1 else (redness[where] < -40), (where, redness)
    # the 0.5 contour exists and lies between the two rings
    contour = [c for c in ax.collections if type(c).__name__.endswith("ContourSet")]
    assert len(contour) == 1
    vertices = np.concatenate([p.vertices for p in contour[0].get_paths()])
    assert 0.3 < np.median(np.hypot(*vertices.T)) < 0.85


def test_boundary_softmax_paints_argmax_regions(tmp_path):
    model = Sequential([Dense(3, input_dim=2, activation="softmax")])
    model.build()
    # z_0 = 5 x1, z_1 = 5 x2, z_2 = -5 (x1 + x2): three wedges around the origin
    model.set_weights([5.0 * np.array([[1, 0, -1], [0, 1, -1]], dtype=np.float32),
                       np.zeros(3, dtype=np.float32)])
    X = np.array([[3.0, 3.0], [-3.0, -3.0], [3.0, -3.0], [-3.0, 3.0]])
    y = np.array([0, 2, 0, 1])
    figure = plot_decision_boundary(model, X, y, resolution=50, point_size=0)
    pixels = save_png(figure, tmp_path / "softmax.png") / 255.0
    ax = figure.axes[0]
    from glassnet.viz._common import CLASS_COLORS
    from glassnet.viz.boundary import _hex_to_rgb

    directions = np.array([1 - _hex_to_rgb(CLASS_COLORS[c]) for c in range(3)])
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    for (x, yy), expected in (((2.5, 0.0), 0), ((0.0, 2.5), 1), ((-2.0, -2.0), 2)):
        tint = 1 - pixel_at(ax, pixels, x, yy)
        assert np.linalg.norm(tint) > 0.2
        assert np.argmax(directions @ tint) == expected


def test_boundary_rejects_inputs_that_are_not_2d(circles):
    with pytest.raises(ValueError, match="2 columns"):
        plot_decision_boundary(circles.model, np.zeros((5, 3)), np.zeros(5))
    with pytest.raises(ValueError, match="both X_test and y_test"):
        plot_decision_boundary(circles.model, circles.X_train, circles.y_train,
                               X_test=circles.X_test)


# -- training animation ---------------------------------------------------------------
def small_circles_model():
    from glassnet.datasets import make_circles

    X, y = make_circles(n_samples=120, factor=0.3, noise=0.1, random_state=1)
    model = Sequential([Dense(6, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    return model, X, y


def test_animate_training_writes_one_gif_frame_per_epoch(tmp_path):
    model, X, y = small_circles_model()
    path = tmp_path / "train.gif"
    history = animate_training(model, X, y, epochs=6, path=path, fps=5, size=(4, 2), dpi=50,
                               resolution=30, X_test=X[:10], y_test=y[:10])
    assert isinstance(history, History) and len(history.epoch) == 6
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        assert gif.size == (200, 100)
        assert gif.n_frames == 6
        assert gif.info["duration"] == 200
        gif.seek(0)
        first = np.asarray(gif.convert("RGB"), dtype=np.int64)
        gif.seek(5)
        last = np.asarray(gif.convert("RGB"), dtype=np.int64)
    assert np.abs(first - last).sum() > 0   # the boundary and the curves moved


def test_training_animation_frames_and_early_stop(tmp_path):
    model, X, y = small_circles_model()
    spaced = TrainingAnimation(X, y, tmp_path / "spaced.gif", frames=3, size=(3, 2), dpi=40,
                               resolution=20)
    model.fit(X, y, epochs=7, verbose=0, callbacks=[spaced])
    assert spaced.frame_epochs == [1, 4, 7]
    with Image.open(tmp_path / "spaced.gif") as gif:
        assert gif.n_frames == 3

    class StopAfterThree(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 2:
                self.model.stop_training = True

    stopped = TrainingAnimation(X, y, every=5, size=(3, 2), dpi=40, resolution=20)
    model.fit(X, y, epochs=20, verbose=0, callbacks=[StopAfterThree(), stopped])
    assert stopped.frame_epochs == [1, 3]          # epoch 1, then where it stopped
    assert stopped.frames[0].shape == (80, 120, 3)
    written = stopped.save(tmp_path / "stopped.gif")
    with Image.open(written) as gif:
        assert gif.n_frames == 2


def test_animation_paths_are_checked_before_training(tmp_path):
    model, X, y = small_circles_model()
    with pytest.raises(ValueError, match=r"\.gif or \.mp4"):
        animate_training(model, X, y, epochs=2, path=tmp_path / "train.avi")
    if shutil.which("ffmpeg") is None:
        with pytest.raises(RuntimeError, match="ffmpeg"):
            animate_training(model, X, y, epochs=2, path=tmp_path / "train.mp4")
        assert model.epochs_trained == 0     # refused before any training
    else:
        animate_training(model, X, y, epochs=2, path=tmp_path / "train.mp4", size=(3, 2),
                         dpi=40, resolution=20)
        assert (tmp_path / "train.mp4").stat().st_size > 0


# -- history and gradient norms -------------------------------------------------------
def test_plot_history_draws_every_quantity():
    history = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6],
               "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.4, 0.7, 0.8],
               "auc": [0.6, 0.7, 0.8], "grad_norm/dense": [1.0, 0.5, 0.2]}
    figure = plot_history(history)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["loss", "accuracy", "auc"]
    loss_ax = figure.axes[0]
    assert [list(line.get_ydata()) for line in loss_ax.lines] == [history["loss"],
                                                                  history["val_loss"]]
    assert list(loss_ax.lines[0].get_xdata()) == [1, 2, 3]
    with pytest.raises(ValueError, match="empty"):
        plot_history({})


def test_plot_history_reads_a_fit_history(circles, tmp_path):
    figure = plot_history(circles.history)
    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy"]
    assert np.allclose(figure.axes[1].lines[0].get_ydata(), circles.history.history["accuracy"])
    save_png(figure, tmp_path / "history.png")


def test_plot_gradient_norms():
    with pytest.raises(ValueError, match="grad_norm/<layer>"):
        plot_gradient_norms({"loss": [1.0, 0.5]})
    history = {"loss": [1, 0.5], "grad_norm/dense": [0.1, 0.01], "grad_norm/dense_1": [1, 2],
               "weight_norm/dense": [3.0, 3.1]}
    figure = plot_gradient_norms(history)
    grads, weights = figure.axes[:2]
    assert [line.get_label() for line in grads.lines] == ["dense", "dense_1"]
    assert list(grads.lines[0].get_ydata()) == [0.1, 0.01]
    assert grads.get_yscale() == "log"
    assert [line.get_label() for line in weights.lines] == ["dense"]


# -- gradient descent in 1-D -----------------------------------------------------------
def test_gradient_descent_rates_converge_crawl_and_diverge():
    steps = 20
    small, good, large = (gradient_descent_path(parabola_derivative, 8.0, rate, steps)
                          for rate in (0.01, 0.1, 1.05))
    k = np.arange(steps + 1)
    for path, rate in ((small, 0.01), (good, 0.1), (large, 1.05)):
        assert np.allclose(path, 8.0 * (1 - 2 * rate) ** k)   # x_k = (1 - 2α)^k x_0
    assert abs(good[-1]) < 0.1                                 # converged
    assert abs(small[-1]) > 5                                  # barely moved
    assert abs(large[-1]) > 8 * 1.1 ** 19                      # diverged ...
    assert np.all(np.sign(large[1:]) != np.sign(large[:-1]))   # ... jumping across the valley

    figure = plot_gradient_descent_1d(steps=steps)
    assert len(figure.axes) == 3
    for ax, path, word in zip(figure.axes, (small, good, large),
                              ("too small", "good", "too large"), strict=True):
        assert word in ax.get_title()
        assert np.allclose(ax.lines[1].get_xdata(), path)      # the drawn steps are the path
    assert "diverges" in figure.axes[2].get_title()


def test_gradient_descent_other_function_and_animation(tmp_path):
    path = gradient_descent_path(lambda x: 2 * (x - 3), 0.0, 0.25, 10)
    assert abs(path[-1] - 3) < 1e-2
    figure = plot_gradient_descent_1d(lambda x: (x - 3) ** 2, x0=0.0, learning_rates=[0.25],
                                      steps=10)
    assert np.allclose(figure.axes[0].lines[1].get_xdata(), path, atol=1e-6)  # df estimated
    with pytest.raises(ValueError, match="give f"):
        plot_gradient_descent_1d(df=lambda x: 2 * x)
    out = animate_gradient_descent_1d(steps=4, path=tmp_path / "gd.gif", size=(6, 2), dpi=40)
    with Image.open(out) as gif:
        assert gif.n_frames == 5 and gif.size == (240, 80)


# -- loss surface -----------------------------------------------------------------------
def test_loss_surface_and_parameter_path():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = Sequential([Dense(1, input_dim=2, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", optimizer="sgd")
    params = ((0, "kernel", (0, 0)), (0, "kernel", (1, 0)))
    recorder = ParameterPath(params)
    model.fit(X, y, epochs=3, batch_size=16, verbose=0, callbacks=[recorder])
    assert recorder.values.shape == (1 + 3 * 4, 2)            # start + one per batch
    W = model.layers[0].W
    assert np.allclose(recorder.values[-1], [W[0, 0], W[1, 0]])
    assert not np.allclose(recorder.values[0], recorder.values[-1])

    before = model.get_weights()
    values_a, values_b = np.array([-1.0, float(W[0, 0]), 2.0]), np.array([float(W[1, 0]), 3.0])
    surface = loss_surface(model, X, y, params, values_a, values_b)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    assert np.isclose(surface[0, 1], model.evaluate(X, y, verbose=0), rtol=1e-5)
    model.layers[0].W[0, 0], model.layers[0].W[1, 0] = 2.0, 3.0
    assert np.isclose(surface[1, 2], model.evaluate(X, y, verbose=0), rtol=1e-5)
    model.set_weights(before)
    # with both weights positive (the true direction) the loss is lower than with w_00 < 0
    assert surface[1, 2] < surface[1, 0]

    figure = plot_loss_surface(model, X, y, params, resolution=6, path_history=recorder)
    ax = figure.axes[0]
    assert ax.get_xlabel() == "W1[0, 0]" and ax.get_ylabel() == "W1[1, 0]"
    path_line = ax.lines[0]
    assert np.allclose(path_line.get_xdata(), recorder.values[:, 0])
    with pytest.raises(ValueError, match="outside"):
        plot_loss_surface(model, X, y, ((0, "kernel", (5, 0)), (0, "bias", 0)))


# -- the network diagram -------------------------------------------------------------------
def test_plot_network_line_widths_follow_weights(circles, tmp_path):
    model = circles.model
    figure = plot_network(model)
    save_png(figure, tmp_path / "network.png")      # drawn: colours are mapped now
    collections = {c.get_gid(): c for c in figure.axes[0].collections
                   if (c.get_gid() or "").startswith("weights/")}
    assert len(collections) == len(model.layers)
    for layer in model.layers:
        lines = collections[f"weights/{layer.name}"]
        drawn = np.asarray(lines.get_array())
        widths = np.asarray(lines.get_linewidths())
        assert np.allclose(np.sort(drawn), np.sort(layer.W.ravel()))   # every weight drawn
        order = np.argsort(np.abs(drawn))
        assert np.all(np.diff(widths[order]) >= 0)                      # width grows with |w|
        slope, offset = np.polyfit(np.abs(drawn), widths, 1)
        assert slope > 0 and np.allclose(widths, slope * np.abs(drawn) + offset)  # ∝ |w|
        colors = lines.get_colors()
        assert np.all(colors[drawn > 0, 0] > colors[drawn > 0, 2])     # w > 0: red
        assert np.all(colors[drawn < 0, 2] > colors[drawn < 0, 0])     # w < 0: blue
    texts = " ".join(t.get_text() for t in figure.axes[0].texts)
    assert "2 inputs" in texts and "1 unit\nsigmoid" in texts and "relu" in texts


def gid_collections(ax, prefix):
    return {c.get_gid(): c for c in ax.collections if (c.get_gid() or "").startswith(prefix)}


def n_drawn_neurons(ax, column):
    neurons = gid_collections(ax, "neurons/").get(f"neurons/{column}")
    return 0 if neurons is None else len(neurons.get_paths())


@pytest.fixture(scope="module")
def digit9():
    """The "is it a 9?" demo on the MNIST slice shipped with glassnet, briefly trained."""
    return demos.digit9(verbose=0, epochs=2)


def test_plot_network_draws_784_pixels_as_the_weight_image(digit9):
    """No 784 circles with invisible lines: the weights as the 28 x 28 picture instead."""
    model = digit9.model
    figure = plot_network(model, X=digit9.X_train)
    ax = figure.axes[0]
    assert n_drawn_neurons(ax, 0) == 0                      # no input circles at all
    (image,) = [i for i in ax.images if i.get_gid() == "inputs/image"]
    W = model.layers[0].W
    shown = image.get_array()
    assert np.allclose(shown.data, W[:, 0].reshape(28, 28))
    never_lit = ~np.any(digit9.X_train != 0, axis=0).reshape(28, 28)
    assert never_lit[0, 0] and np.array_equal(np.ma.getmaskarray(shown), never_lit)  # grey
    low, high = image.get_clim()
    assert low == -high == -np.abs(W).max()                 # signed, centred at 0
    (lines,) = gid_collections(ax, "weights/").values()
    assert len(lines.get_paths()) == 1                      # one line to the one unit
    assert min(lines.get_linewidths()) >= 1.0               # and it can be seen
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "784 pixels (28 × 28)" in texts and "w of each pixel" in texts
    assert "grey: 0 in every example" in texts

    several = Sequential([Dense(32, input_dim=784, activation="relu"),
                          Dense(1, activation="sigmoid")])
    several.build()
    ax = plot_network(several, max_neurons=10, max_connections=50).axes[0]
    (image,) = ax.images
    assert np.allclose(np.asarray(image.get_array()),
                       np.linalg.norm(several.layers[0].W, axis=1).reshape(28, 28))
    assert n_drawn_neurons(ax, 0) == 0 and n_drawn_neurons(ax, 1) == 10


def test_plot_network_shows_the_most_important_of_many_inputs():
    rng = np.random.default_rng(0)
    model = Sequential([Dense(3, input_dim=50, activation="relu"), Dense(1, activation="sigmoid")])
    model.build()
    X = rng.normal(size=(40, 50))
    X[:, :45] = 0.0                  # only inputs 45-49 ever carry a value
    figure = plot_network(model, X=X, max_neurons=5, input_names=[f"f{i}" for i in range(50)])
    ax = figure.axes[0]
    assert n_drawn_neurons(ax, 0) == 5
    names = sorted(t.get_text() for t in ax.texts if t.get_gid() == "names/0")
    assert names == ["f45", "f46", "f47", "f48", "f49"]
    assert "⋮" in [t.get_text() for t in ax.texts]
    with pytest.raises(ValueError, match="input_names must have one name per input"):
        plot_network(model, input_names=["a", "b"])
    with pytest.raises(ValueError, match="X must have 50 columns"):
        plot_network(model, X=np.zeros((3, 4)))


def test_fruit_network_names_its_inputs_and_outputs():
    result = demos.fruit(verbose=0, epochs=2)
    assert result.output_names == ["apple", "banana", "orange"]
    figure = plot_network(result.model, input_names=result.input_names,
                          output_names=result.output_names)
    ax = figure.axes[0]
    inputs = [t.get_text() for t in ax.texts if t.get_gid() == "names/0"]
    outputs = [t.get_text() for t in ax.texts if t.get_gid() == "names/3"]
    assert inputs[:3] == ["weight", "colour_green", "colour_orange"] and len(inputs) == 10
    assert {"texture_rough", "size_small"} <= set(inputs)
    assert outputs == ["apple", "banana", "orange"]
    # the names are the data's own: load_fruit_features' columns, make_fruit's classes
    from glassnet.datasets import make_fruit

    assert make_fruit(3).target_names == result.output_names


def test_dead_units_are_marked_in_the_network_and_the_neuron_maps():
    model = Sequential([Dense(3, input_dim=2, activation="relu"), Dense(1, activation="sigmoid")])
    model.build()
    W = np.array([[1.0, 0.0, -1.0], [0.0, 1.0, -1.0]], dtype=np.float32)
    b = np.array([0.0, 0.0, -10.0], dtype=np.float32)    # unit 2: z < 0 for every x here
    model.layers[0].set_weights([W, b])
    X = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    ax = plot_network(model, X=X).axes[0]
    (rings,) = gid_collections(ax, "dead").values()
    assert len(rings.get_paths()) == 1

    def centre(path):
        return (path.vertices.min(axis=0) + path.vertices.max(axis=0)) / 2

    hidden = gid_collections(ax, "neurons/")["neurons/1"].get_paths()
    assert np.allclose(centre(rings.get_paths()[0]), centre(hidden[2]))   # unit 2 is ringed
    assert "dead unit" in figure_text(ax.figure)
    assert not gid_collections(plot_network(model).axes[0], "dead")   # no X: nothing marked
    maps = plot_neuron_maps(model, X, resolution=8)
    titles = [a.get_title() for a in maps.axes if a.images]
    assert titles[:3] == ["neuron 0", "neuron 1", "neuron 2 (dead)"]


def figure_text(figure):
    return " ".join(t.get_text() for t in figure.texts) + " ".join(
        t.get_text() for ax in figure.axes for t in ax.texts)


def test_history_has_a_title_and_the_digit9_baseline(digit9):
    figure = plot_history(digit9.history, baseline=digit9.baseline_accuracy)
    assert figure._suptitle is not None and figure._suptitle.get_text() == "Learning curves"
    panels = {ax.get_title(): ax for ax in figure.axes}
    assert set(panels) == {"loss", "accuracy"}
    (line,) = [ln for ln in panels["accuracy"].get_lines() if ln.get_gid() == "baseline"]
    assert digit9.baseline_accuracy == pytest.approx(0.9, abs=0.005)
    assert np.allclose(line.get_ydata(), digit9.baseline_accuracy)        # horizontal, at 0.9
    assert "0.900" in line.get_label()
    assert not [ln for ln in panels["loss"].get_lines() if ln.get_gid() == "baseline"]
    assert plot_history(digit9.history, title=None)._suptitle is None
    with pytest.raises(ValueError, match="baseline"):
        plot_history(digit9.history, baseline=1.5)


def test_demo_report_draws_the_baseline_and_the_names(tmp_path, monkeypatch):
    """write_demo_plots passes the demo's baseline and names to the pictures."""
    from glassnet.viz import report

    drawn = {}
    original_history, original_network = report.plot_history, report.plot_network

    def spy_history(*args, **kwargs):
        drawn["history"] = kwargs
        return original_history(*args, **kwargs)

    def spy_network(*args, **kwargs):
        drawn["network"] = kwargs
        return original_network(*args, **kwargs)

    monkeypatch.setattr(report, "plot_history", spy_history)
    monkeypatch.setattr(report, "plot_network", spy_network)
    write_demo_plots(demos.fruit(verbose=0, epochs=1), tmp_path, "fruit")
    assert drawn["network"]["output_names"] == ["apple", "banana", "orange"]
    assert drawn["history"]["baseline"] is None and drawn["history"]["title"]
    write_demo_plots(demos.digit9(verbose=0, epochs=1), tmp_path, "digit9")
    assert drawn["history"]["baseline"] == pytest.approx(0.9, abs=0.005)


def colorbar_axes(figure):
    """The Axes that matplotlib made for colour bars."""
    return [ax for ax in figure.axes if getattr(ax, "_colorbar", None) is not None]


def test_boundary_maps_have_colour_bars(circles):
    r = circles
    figure = plot_decision_boundary(r.model, r.X_train, r.y_train, resolution=20,
                                    class_names=["outer", "inner"])
    (bar,) = colorbar_axes(figure)
    assert bar.get_ylabel() == "P(inner)" and bar.get_ylim() == (0.0, 1.0)
    softmax = Sequential([Dense(3, input_dim=2, activation="softmax")])
    softmax.build()
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    figure = plot_decision_boundary(softmax, X, [0, 1, 2], resolution=10,
                                    class_names=["apple", "banana", "orange"])
    (bar,) = colorbar_axes(figure)
    assert [t.get_text() for t in bar.get_yticklabels()] == ["apple", "banana", "orange"]
    with pytest.raises(ValueError, match="class_names must name each of the 3 classes"):
        plot_decision_boundary(softmax, X, [0, 1, 2], class_names=["apple"])


def test_neuron_maps_have_a_colour_bar_per_layer(circles):
    model = circles.model
    figure = plot_neuron_maps(model, circles.X_train, resolution=8)
    bars = colorbar_axes(figure)
    assert len(bars) == len(model.layers)
    assert [bar.get_ylabel() for bar in bars] == [f"a = {layer.activation.name}(z)"
                                                  for layer in model.layers]
    images = [ax.images[0] for ax in figure.axes if ax.images]
    assert len({im.get_clim() for im in images[:4]}) == 1      # a layer shares one scale


def test_points_stay_visible_on_every_frame_of_the_animation():
    """Each frame draws the training and test points above the map, and the map under
    them is far from their own colour, even where the network is sure."""
    from matplotlib.colors import to_rgb

    from glassnet.viz._common import CLASS_COLORS

    model, X, y = small_circles_model()
    X_test, y_test = X[:20], y[:20]
    animation = TrainingAnimation(X[20:], y[20:], frames=3, X_test=X_test, y_test=y_test,
                                  resolution=20)
    model.fit(X[20:], y[20:], epochs=30, verbose=0, callbacks=[animation])
    panel = animation.panel
    artists = animation._animated_artists()
    points = [c for c in panel.ax.collections
              if c in artists and type(c).__name__ == "PathCollection" and len(c.get_offsets())]
    assert sum(len(c.get_offsets()) for c in points) == len(X)      # every point, every frame
    assert all(c.get_visible() and c.get_zorder() > panel.image.get_zorder() for c in points)
    assert colorbar_axes(animation.figure)                           # the map's scale
    image = panel.image
    white = np.ones(3)
    for p, cls in ((0.0, 0), (1.0, 1)):                             # the surest map colours
        under = image.get_alpha() * np.array(image.cmap(image.norm(p))[:3]) + (
            1 - image.get_alpha()) * white
        assert np.linalg.norm(under - np.array(to_rgb(CLASS_COLORS[cls]))) > 0.4, (p, under)
    assert len(animation.frames) == 3


# -- activations, neurons, weights ----------------------------------------------------------
def lines_by_label(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def test_plot_activations_draws_function_and_derivative():
    figure = plot_activations()
    from glassnet.activations import ALL

    assert len(figure.axes) == len(ALL) - 1                   # softmax left out
    titles = [ax.get_title().split("\n")[0] for ax in figure.axes]
    relu = lines_by_label(figure.axes[titles.index("relu")])
    z = relu["g(z)"].get_xdata()
    assert np.allclose(relu["g(z)"].get_ydata(), np.maximum(z, 0))
    assert np.allclose(relu["g'(z)"].get_ydata(), z > 0)
    step = lines_by_label(figure.axes[titles.index("binary_step")])
    assert np.all(step["g'(z)"].get_ydata() == 0)
    sigmoid = lines_by_label(figure.axes[titles.index("sigmoid")])
    assert np.isclose(sigmoid["g'(z)"].get_ydata().max(), 0.25, atol=1e-4)

    special = plot_activations(["softmax"])
    curves = lines_by_label(special.axes[0])
    z = curves["g(z)"].get_xdata()
    assert np.allclose(curves["g(z)"].get_ydata(), 1 / (1 + np.exp(-z)), atol=1e-6)


def test_neuron_maps_show_each_neurons_activation(circles):
    model = circles.model
    resolution = 12
    figure = plot_neuron_maps(model, circles.X_train, circles.y_train, resolution=resolution)
    images = [ax.images[0] for ax in figure.axes if ax.images]
    assert len(images) == sum(layer.units for layer in model.layers)   # 4 + 6 + 6 + 4 + 1
    from glassnet.viz._common import grid_over

    _, _, grid = grid_over(np.asarray(circles.X_train, dtype=np.float64), resolution)
    first = model.layers[0]
    for j in range(first.units):
        by_hand = np.maximum(grid @ first.W[:, j] + first.b[j], 0)     # relu(x·w_j + b_j)
        shown = np.asarray(images[j].get_array())
        assert np.allclose(shown, by_hand.reshape(resolution, resolution), atol=1e-5)
    output = np.asarray(images[-1].get_array()).ravel()
    assert np.allclose(output, model.predict(grid).ravel(), atol=1e-5)


def test_first_layer_weights_image_equals_reshaped_weights(tmp_path):
    model = Sequential([Dense(1, input_dim=784, activation="sigmoid")])
    model.build()
    W = np.zeros((28, 28), dtype=np.float32)
    W[:, :14] = np.linspace(0.1, 1.0, 14)            # left half positive, right negative
    W[:, 14:] = -np.linspace(0.1, 1.0, 14)[::-1] / 2
    model.set_weights([W.reshape(784, 1), np.zeros(1, dtype=np.float32)])
    figure = plot_first_layer_weights(model)
    image = figure.axes[0].images[0]
    assert np.array_equal(np.asarray(image.get_array()), W)
    assert image.get_clim() == (-1.0, 1.0)             # centred at 0
    pixels = save_png(figure, tmp_path / "weights.png")
    ax = figure.axes[0]
    red, blue, white = (pixel_at(ax, pixels, col, 14, half=1) for col in (13, 14, 0))
    assert red[0] - red[2] > 50 and blue[2] - blue[0] > 40
    assert np.all(white > 200)                          # w = 0.1 is nearly white

    many = Sequential([Dense(10, input_dim=784, activation="relu")])
    many.build()
    grid = plot_first_layer_weights(many)
    shown = [ax.images[0] for ax in grid.axes if ax.images]
    assert len(shown) == 10
    assert np.array_equal(np.asarray(shown[7].get_array()), many.layers[0].W[:, 7].reshape(28, 28))
    with pytest.raises(ValueError, match="784 inputs"):
        plot_first_layer_weights(many, image_shape=(20, 20))


# -- demo report ----------------------------------------------------------------------------
def test_write_demo_plots_for_circles(tmp_path):
    result = demos.circles(verbose=0, epochs=4)
    out = tmp_path / "plots" / "nested"
    paths = write_demo_plots(result, out, "circles")
    names = ["circles-history.png", "circles-network.png", "circles-boundary.png",
             "circles-training.gif"]
    assert [p.name for p in paths] == names
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for path in paths:
        with Image.open(path) as image:
            image.verify()
    with Image.open(out / "circles-training.gif") as gif:
        assert gif.n_frames == 4
    # the animated copy starts from the same seed: it retraces the demo's run exactly
    copy = fresh_copy(result.model, 0)
    copy.fit(result.X_train, result.y_train, epochs=4, verbose=0)
    assert all(np.array_equal(a, b)
               for a, b in zip(copy.get_weights(), result.model.get_weights(), strict=True))


def test_write_demo_plots_for_images_and_the_cli(tmp_path, monkeypatch, capsys):
    result = demos.digit9(verbose=0, epochs=1)
    paths = write_demo_plots(result, tmp_path, "digit9")
    assert [p.name for p in paths] == ["digit9-history.png", "digit9-network.png",
                                       "digit9-weights.png"]
    from glassnet.cli import main

    workdir = tmp_path / "cli"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    assert main(["demo", "fruit", "--epochs", "2", "--verbose", "0"]) == 0
    assert list(workdir.iterdir()) == []                     # no --plots: nothing written
    assert main(["demo", "fruit", "--epochs", "2", "--verbose", "0", "--plots", "fruitplots"]) == 0
    written = sorted(p.name for p in pathlib.Path("fruitplots").iterdir())
    assert written == ["fruit-history.png", "fruit-network.png"]        # 10 inputs: no map
    assert "wrote fruitplots" in capsys.readouterr().out


def test_import_glassnet_does_not_import_matplotlib_or_pyplot():
    code = (
        "import sys, glassnet, glassnet.viz\n"
        "assert 'matplotlib' not in sys.modules\n"
        "fig = glassnet.viz.plot_history({'loss': [1.0, 0.5]})\n"
        "import matplotlib.figure\n"
        "assert isinstance(fig, matplotlib.figure.Figure)\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "assert fig._repr_png_().startswith(bytes([137, 80, 78, 71]))  # Jupyter can show it\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

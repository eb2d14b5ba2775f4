"""The network as the articles draw it: neurons as circles, weights as lines.

Each column is a layer of neurons (the inputs first). The line from neuron ``i``
of one layer to neuron ``j`` of the next is the weight ``W[i, j]``: its width is
proportional to ``|W[i, j]|`` (relative to the largest weight of that layer), its
colour says the sign (red positive, blue negative).

Inputs and outputs are labelled with ``input_names`` / ``output_names`` (the
fruit demo: ``weight``, ``colour_red``, ...; ``apple``, ``banana``, ``orange``).

Big layers are summarised, so that every line drawn can be seen:

* image inputs (784 = 28 x 28 pixels, ...): the input column is the first
  layer's weights drawn as the image (one unit: ``W[:, 0]`` itself, red positive,
  blue negative; several: each pixel's ``||W[i, :]||``), with one line to each
  unit; no 784 circles. With ``X``, pixels that are 0 in every example are grey:
  their weights never receive a gradient and keep their random initial values;
* other wide inputs: the ``max_neurons`` most important inputs, those with the
  largest ``mean|x_i| * sum_j |W[i, j]|`` over ``X`` (or ``sum_j |W[i, j]|``
  without ``X``: weights of inputs that are always 0 never change, so give ``X``);
* wide hidden layers: their first and last neurons with "⋮" between them;
* at most ``max_connections`` lines per layer, the largest ``|w|``.

With data ``X``, a *dead* unit (the same output, 0 for a ReLU, for every row of
``X``) gets a red ring.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from glassnet._validation import check_array, check_int
from glassnet.viz._common import constant_units, dense_layers, image_shape_of, new_figure

_X_SPACING = 3.0          # data units between columns (neurons are 1 unit apart)
_RADIUS = 0.32
_FACE = {"input": "#e0e0e0", "hidden": "#cfe3f3", "output": "#fbd9b5"}
_DEAD_COLOR = "#d62728"
_CHAR_WIDTH = 0.13        # data units per character of a label (fontsize 7.5)


@dataclass
class _Column:
    """The neurons of one column that are drawn, and where."""

    indices: list[int]                  # which neurons are drawn
    gap: int | None                     # the slot of the "⋮", if some are left out
    slots: int                          # places in the column (neurons + the gap)
    image: np.ndarray | None = None     # an image column instead of circles


def _layer_column(n: int, max_neurons: int) -> _Column:
    """A layer's column: all ``n`` neurons, or the first and last with "⋮" between them."""
    if n <= max_neurons:
        return _Column(list(range(n)), None, n)
    head = max_neurons // 2
    tail = max_neurons - head
    return _Column(list(range(head)) + list(range(n - tail, n)), head, max_neurons + 1)


def input_importance(W: np.ndarray, X: np.ndarray | None) -> np.ndarray:
    """How much each input feeds the first layer: ``mean|x_i| * sum_j |W[i, j]|``
    (``sum_j |W[i, j]|`` without ``X``), shape ``(n_inputs,)``."""
    strength = np.abs(W).sum(axis=1)
    if X is None:
        return strength
    return np.abs(X).mean(axis=0) * strength


def _input_column(W: np.ndarray, X: np.ndarray | None, max_neurons: int) -> _Column:
    """The input column: all inputs, the weights as an image, or the most important inputs."""
    n = W.shape[0]
    if n <= max_neurons:
        return _Column(list(range(n)), None, n)
    image_shape = image_shape_of((n,))
    if image_shape is not None:
        picture = W[:, 0] if W.shape[1] == 1 else np.linalg.norm(W, axis=1)
        if X is not None:  # a pixel that is 0 in every example keeps its initial weight
            picture = np.ma.masked_where(~np.any(X != 0, axis=0), picture)
        return _Column([], None, 0, image=picture.reshape(image_shape))
    top = np.sort(np.argsort(-input_importance(W, X), kind="stable")[:max_neurons])
    return _Column([int(i) for i in top], max_neurons, max_neurons + 1)


def _column_y(n_slots: int) -> np.ndarray:
    """Vertical positions of ``n_slots`` slots, top to bottom, centred on 0."""
    return (n_slots - 1) / 2 - np.arange(n_slots, dtype=np.float64)


def _names(label: str, names: Any, n: int) -> list[str] | None:
    if names is None:
        return None
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"{label} must have one name per {label.split('_')[0]} ({n}), "
                         f"got {len(names)}: {names[:5]}{' ...' if len(names) > 5 else ''}")
    return names


def _dead_units(model: Any, layers: list[Any], X: np.ndarray | None) -> list[np.ndarray]:
    """Per Dense layer, which units are dead on ``X`` (none marked without ``X``)."""
    if X is None:
        return [np.zeros(layer.W.shape[1], dtype=bool) for layer in layers]
    from glassnet.backend import require_numpy_model
    from glassnet.viz.neurons import layer_activations

    require_numpy_model(model, "glassnet.viz.plot_network(X=...)")

    return [constant_units(A) for _, A in layer_activations(model, X)]


def plot_network(
    model: Any,
    *,
    max_neurons: int = 12,
    max_connections: int = 200,
    max_line_width: float = 3.5,
    input_names: Any = None,
    output_names: Any = None,
    X: Any = None,
    size: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """Draw the layers, neurons and weights of a (built) Sequential model of Dense layers.

    Parameters
    ----------
    model : Sequential
    max_neurons : int
        Layers with more neurons are summarised (see the module's description).
    max_connections : int
        At most this many lines per layer: the largest ``|w|`` among the neurons drawn.
    max_line_width : float
        Width in points of the line of a layer's largest ``|w|``.
    input_names, output_names : list of str, optional
        A name for each input column and each output unit, written beside them.
    X : array of shape (n, n_inputs), optional
        Data (the training inputs): picks the most important of many inputs and
        finds the dead units, which get a red ring.

    Returns
    -------
    matplotlib.figure.Figure
        Each layer's lines are a ``LineCollection`` with gid ``'weights/<layer name>'``
        whose ``get_array()`` holds the weights drawn and ``get_linewidths()`` their widths
        (from an image column: ``||W[:, j]||`` of each unit). The neurons are a
        ``PatchCollection`` with gid ``'neurons/<column>'``, the dead ones' rings one with
        gid ``'dead'``; an image column is an ``AxesImage`` with gid ``'inputs/image'``.
    """
    max_neurons = check_int("max_neurons", max_neurons, minimum=2)
    max_connections = check_int("max_connections", max_connections)
    layers = dense_layers(model)
    W0 = np.asarray(layers[0].W, dtype=np.float64)
    if X is not None:
        X = check_array("X", X, ndim=2, dtype=np.float64)
        if X.shape[1] != W0.shape[0]:
            raise ValueError(f"X must have {W0.shape[0]} columns (the model's inputs), "
                             f"got shape {X.shape}")
    sizes = [W0.shape[0]] + [layer.W.shape[1] for layer in layers]
    names = [_names("input_names", input_names, sizes[0]),
             *[None] * (len(layers) - 1), _names("output_names", output_names, sizes[-1])]
    columns = [_input_column(W0, X, max_neurons)]
    columns += [_layer_column(n, max_neurons) for n in sizes[1:]]
    tallest = max(max(c.slots for c in columns), 4 if columns[0].image is not None else 1)
    left_room = _label_room(names[0], columns[0].indices)
    right_room = _label_room(names[-1], columns[-1].indices)
    n_columns = len(sizes)
    top = (tallest - 1) / 2 + 0.9
    x_range = n_columns * _X_SPACING + left_room + right_room
    if size is None:   # the height of the tallest column, the width its data needs (aspect 1)
        height = 0.42 * tallest + 1.9
        size = (max(height * x_range / (2 * top + 1.9), 4.5), height)
    figure = new_figure(size, dpi)
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.set_aspect("equal")
    ax.axis("off")

    positions = [_place(ax, index, column, names[index])
                 for index, column in enumerate(columns)]
    if columns[0].image is not None:
        _draw_image_column(ax, columns[0].image, tallest, sizes[0])
    for index, layer in enumerate(layers):
        W = np.asarray(layer.W, dtype=np.float64)
        if index == 0 and columns[0].image is not None:
            _draw_image_lines(ax, W, positions[1], layer.name, tallest, max_line_width)
        else:
            _draw_lines(ax, W, positions[index], positions[index + 1], layer.name,
                        max_connections, max_line_width)
    dead = _dead_units(model, layers, X)
    _draw_neurons(ax, positions, dead)
    _label_columns(ax, sizes, layers, tallest, columns[0].image is not None)
    ax.set_xlim(-_X_SPACING / 2 - left_room, -_X_SPACING / 2 - left_room + x_range)
    ax.set_ylim(-top - 1.3, top + 0.6)
    figure.text(0.5, 0.01, _caption(columns, max_connections, X is not None and any(
        d.any() for d in dead)), ha="center", va="bottom", fontsize=7.5, color="0.3")
    return figure


def _label_room(names: list[str] | None, indices: list[int]) -> float:
    """Data units needed beside a column for its neurons' names."""
    if not names or not indices:
        return 0.0
    return _CHAR_WIDTH * max(len(names[i]) for i in indices) + 0.3


def _place(ax: Any, index: int, column: _Column, names: list[str] | None) -> dict[int, Any]:
    """Where each drawn neuron of a column sits; draws the "⋮" and the neurons' names."""
    x = index * _X_SPACING
    ys = _column_y(column.slots)
    slot_of = [s for s in range(column.slots) if s != column.gap]
    placed = {i: (x, ys[s]) for i, s in zip(column.indices, slot_of, strict=True)}
    if column.gap is not None:
        ax.text(x, ys[column.gap], "⋮", ha="center", va="center", fontsize=14)
    if names is not None:  # inputs on the left, outputs on the right
        side = -1 if index == 0 else 1
        for i, (xi, yi) in placed.items():
            ax.text(xi + side * (_RADIUS + 0.12), yi, names[i], ha="right" if side < 0 else "left",
                    va="center", fontsize=7.5, gid=f"names/{index}")
    elif column.gap is not None:           # which neurons these are
        for i, (xi, yi) in placed.items():
            ax.text(xi - _RADIUS - 0.12, yi, str(i), ha="right", va="center", fontsize=6.5,
                    color="0.35")
    return placed


def _draw_lines(ax: Any, W: np.ndarray, starts: dict, ends: dict, name: str,
                max_connections: int, max_line_width: float) -> None:
    """One line per weight between the drawn neurons: the strongest ``max_connections``."""
    from matplotlib.collections import LineCollection

    rows, cols = list(starts), list(ends)
    pairs = np.array([(i, j) for i in rows for j in cols])
    flat = W[np.ix_(rows, cols)].ravel()
    order = np.argsort(np.abs(flat), kind="stable")[-max_connections:]  # strongest, weak first
    largest = float(np.abs(W).max()) or 1.0
    segments = [(starts[pairs[k, 0]], ends[pairs[k, 1]]) for k in order]
    lines = LineCollection(segments, cmap="RdBu_r", zorder=1, alpha=0.85,
                           linewidths=max_line_width * np.abs(flat[order]) / largest + 0.1)
    lines.set_array(flat[order])
    lines.set_clim(-largest, largest)
    lines.set_gid(f"weights/{name}")
    ax.add_collection(lines)


def _image_extent(tallest: int) -> tuple[float, float, float, float]:
    half = min(tallest, 6) / 2 * 0.9
    return (-half, half, -half, half)


def _draw_image_column(ax: Any, picture: np.ndarray, tallest: int, n_inputs: int) -> None:
    """The first layer's weights as the input image (signed for one unit, else norms)."""
    extent = _image_extent(tallest)
    from matplotlib import colormaps

    if picture.min() < 0:
        largest = float(np.abs(picture).max()) or 1.0
        style = {"cmap": colormaps["RdBu_r"].with_extremes(bad="0.8"), "vmin": -largest,
                 "vmax": largest}
        what = "w of each pixel"
    else:
        style = {"cmap": colormaps["magma"].with_extremes(bad="0.8")}
        what = "||w|| of each pixel"
    image = ax.imshow(picture, extent=extent, zorder=2, interpolation="nearest", **style)
    image.set_gid("inputs/image")
    height, width = picture.shape
    if np.ma.count_masked(picture):
        what += "\n(grey: 0 in every example)"
    ax.text(0, extent[2] - 0.15, f"{n_inputs} pixels ({height} × {width})\n{what}",
            ha="center", va="top", fontsize=7)


def _draw_image_lines(ax: Any, W: np.ndarray, ends: dict, name: str, tallest: int,
                      max_line_width: float) -> None:
    """One line from the image to each unit, as wide as the unit's ``||W[:, j]||``."""
    from matplotlib.collections import LineCollection

    start = (_image_extent(tallest)[1], 0.0)
    norms = np.linalg.norm(W, axis=0)
    units = list(ends)
    lines = LineCollection([(start, ends[j]) for j in units], colors="0.45", zorder=1,
                           linewidths=max_line_width * norms[units] / (norms.max() or 1.0) + 0.3)
    lines.set_array(norms[units])
    lines.set_cmap("Greys")
    lines.set_clim(0, 1.5 * float(norms.max()) or 1.0)
    lines.set_gid(f"weights/{name}")
    ax.add_collection(lines)


def _draw_neurons(ax: Any, positions: list[dict], dead: list[np.ndarray]) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Circle

    last = len(positions) - 1
    rings = []
    for index, placed in enumerate(positions):
        if not placed:
            continue
        kind = "input" if index == 0 else "output" if index == last else "hidden"
        circles = [Circle(xy, _RADIUS) for xy in placed.values()]
        neurons = PatchCollection(circles, facecolors=_FACE[kind], edgecolors="0.25",
                                  linewidths=0.8, zorder=2)
        neurons.set_gid(f"neurons/{index}")
        ax.add_collection(neurons)
        if index > 0:
            rings += [Circle(xy, _RADIUS) for i, xy in placed.items() if dead[index - 1][i]]
    if rings:
        marked = PatchCollection(rings, facecolors="none", edgecolors=_DEAD_COLOR,
                                 linewidths=2.2, zorder=3)
        marked.set_gid("dead")
        ax.add_collection(marked)


def _label_columns(ax: Any, sizes: list[int], layers: list[Any], tallest: int,
                   image: bool) -> None:
    top = (tallest - 1) / 2 + 0.9
    for index, n in enumerate(sizes):
        x = index * _X_SPACING
        if index == 0:
            name, detail = "input", "" if image else f"{n} input{'s' if n != 1 else ''}"
        else:
            layer = layers[index - 1]
            name = layer.name
            detail = f"{n} unit{'s' if n != 1 else ''}\n{layer.activation.name}"
        ax.text(x, top, name, ha="center", va="bottom", fontsize=9, weight="bold")
        if detail:
            ax.text(x, -top, detail, ha="center", va="top", fontsize=8.5)


def _caption(columns: list[_Column], max_connections: int, any_dead: bool) -> str:
    caption = "line width ∝ |w| (per layer); red w > 0, blue w < 0"
    if columns[0].image is not None:
        caption += "\ninputs: the first layer's weights as the image"
    elif columns[0].gap is not None:
        caption += f"\ninputs: the {len(columns[0].indices)} most important"
    if any(column.gap is not None for column in columns[1:]):
        caption += (f"\nlarge layers: first and last neurons (numbered), "
                    f"≤ {max_connections} strongest lines")
    if any_dead:
        caption += "\nred ring: dead unit (the same output for every example)"
    return caption

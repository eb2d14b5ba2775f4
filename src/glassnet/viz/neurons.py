"""What each neuron has learned: its activation over the input plane.

For a network of 2 inputs, every neuron ``j`` of layer ``l`` is a function
``a_j^[l](x_1, x_2)``. Evaluated on a grid of points it is a small picture: in
the first hidden layer each ReLU neuron is a half-plane (a straight "cut" of
the plane, ``z = w_1 x_1 + w_2 x_2 + b > 0``), and deeper layers combine those
cuts into corners and, at the output, into the closed boundary around the
circle. One row per layer, one picture per neuron, and one colour bar per layer
(the neurons of a layer share its scale). A *dead* neuron, one whose output is
the same (0, for a ReLU) for every point of ``X``, is marked: its title says
"dead" and its frame is red.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_array, check_int
from glassnet.backend import require_numpy_model
from glassnet.viz._common import (
    class_labels,
    constant_units,
    dense_layers,
    grid_over,
    new_figure,
)

#: Colour of the frame and title of a dead neuron.
DEAD_COLOR = "#d62728"


def layer_activations(model: Any, points: np.ndarray) -> list[tuple[Any, np.ndarray]]:
    """Forward ``points`` through the model and keep each Dense layer's output ``A``.

    Returns
    -------
    list of (layer, ndarray of shape (n_points, units))
        One entry per layer with weights, in order.
    """
    dense = {id(layer) for layer in dense_layers(model)}
    A = np.ascontiguousarray(points, dtype=model.parameters.dtype)
    outputs = []
    for layer in model.layers:
        A = layer.forward(A, training=False)
        if id(layer) in dense:
            outputs.append((layer, np.array(A, dtype=np.float64)))  # a copy: A is a work buffer
    return outputs


def plot_neuron_maps(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    resolution: int = 80,
    margin: float = 0.1,
    panel_size: float = 1.6,
    dpi: float = 100,
) -> Any:
    """Each neuron's activation over the input plane, one row per layer.

    Parameters
    ----------
    model : Sequential
        With 2 inputs.
    X : array of shape (n, 2)
        Sets the range of the plane; drawn as small dots (coloured by ``y`` if given).
        A neuron whose output is the same for every row of ``X`` is marked dead.
    y : array, optional
        Class labels of ``X``.
    resolution : int
        Grid points per axis.

    Returns
    -------
    matplotlib.figure.Figure
        Row ``l``, column ``j`` shows ``a_j`` of layer ``l`` (an ``AxesImage``
        whose array is the activation on the grid, ``origin='lower'``); each row
        ends in a colour bar (an Axes labelled ``'a = <activation>'``). A dead
        neuron's title ends in ``(dead)``.
    """
    require_numpy_model(model, "glassnet.viz.plot_neuron_maps")
    X = check_array("X", X, ndim=2, dtype=np.float64)
    if X.shape[1] != 2:
        raise ValueError(f"X must have 2 columns (points in the plane), got shape {X.shape}")
    resolution = check_int("resolution", resolution, minimum=2)
    labels = None if y is None else class_labels(y)
    xs, ys, points = grid_over(X, resolution, margin)
    outputs = layer_activations(model, points)
    dead = [constant_units(A) for _, A in layer_activations(model, X)]
    widest = max(A.shape[1] for _, A in outputs)
    rows = len(outputs)
    width = panel_size * widest + 1.2 + _COLORBAR_WIDTH
    figure = new_figure((width, panel_size * rows + 0.3), dpi)
    grid = figure.add_gridspec(rows, widest + 1, left=1.0 / width, right=0.93,
                               bottom=0.02, top=1 - 0.3 / (panel_size * rows + 0.3),
                               wspace=0.08, hspace=0.3,
                               width_ratios=[1.0] * widest + [0.12])
    extent = (xs[0], xs[-1], ys[0], ys[-1])
    dot_colors = "black" if labels is None else np.where(labels == 0, "#2166ac", "#b2182b")
    for row, (layer, A) in enumerate(outputs):
        low, high = float(A.min()), float(A.max())
        image = None
        for j in range(A.shape[1]):
            ax = figure.add_subplot(grid[row, j])
            image = ax.imshow(A[:, j].reshape(resolution, resolution), origin="lower",
                              extent=extent, cmap="magma", aspect="auto", interpolation="nearest",
                              vmin=low, vmax=high if high > low else low + 1.0)
            ax.scatter(X[:, 0], X[:, 1], s=0.6, c=dot_colors, alpha=0.35, linewidths=0)
            ax.set_xticks([])
            ax.set_yticks([])
            if dead[row][j]:
                _mark_dead(ax, j)
            else:
                ax.set_title(f"neuron {j}", fontsize=7, pad=2)
            if j == 0:
                ax.set_ylabel(f"{layer.name}\n{layer.activation.name}", fontsize=8)
        colorbar = figure.colorbar(image, cax=figure.add_subplot(grid[row, widest]))
        colorbar.set_label(f"a = {layer.activation.name}(z)", fontsize=7)
        colorbar.ax.tick_params(labelsize=6)
    return figure


#: Inches added to the figure's width for the colour bars.
_COLORBAR_WIDTH = 0.6


def _mark_dead(ax: Any, j: int) -> None:
    """A red frame and the title "neuron j (dead)"."""
    ax.set_title(f"neuron {j} (dead)", fontsize=7, pad=2, color=DEAD_COLOR)
    for spine in ax.spines.values():
        spine.set_edgecolor(DEAD_COLOR)
        spine.set_linewidth(2.0)

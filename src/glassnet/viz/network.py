"""The network as the articles draw it: neurons as circles, weights as lines.

Each column is a layer of neurons (the inputs first). The line from neuron ``i``
of one layer to neuron ``j`` of the next is the weight ``W[i, j]``: its width is
proportional to ``|W[i, j]|`` (relative to the largest weight of that layer), its
colour says the sign (red positive, blue negative).

Big layers are summarised: a layer with more than ``max_neurons`` neurons shows
its first and last few with "⋮" between them, and when a layer has more than
``max_connections`` lines only the strongest (largest ``|w|``) are drawn.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_int
from glassnet.viz._common import dense_layers, new_figure

_X_SPACING = 3.0          # data units between columns (neurons are 1 unit apart)
_RADIUS = 0.32
_FACE = {"input": "#e0e0e0", "hidden": "#cfe3f3", "output": "#fbd9b5"}


def _shown_neurons(n: int, max_neurons: int) -> tuple[list[int], int | None]:
    """Indices of the neurons drawn, and the slot of the "⋮" (None if all are drawn)."""
    if n <= max_neurons:
        return list(range(n)), None
    head = max_neurons // 2
    tail = max_neurons - head
    return list(range(head)) + list(range(n - tail, n)), head


def _column_y(n_slots: int) -> np.ndarray:
    """Vertical positions of ``n_slots`` slots, top to bottom, centred on 0."""
    return (n_slots - 1) / 2 - np.arange(n_slots, dtype=np.float64)


def plot_network(
    model: Any,
    *,
    max_neurons: int = 12,
    max_connections: int = 200,
    max_line_width: float = 3.5,
    size: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """Draw the layers, neurons and weights of a (built) Sequential model of Dense layers.

    Parameters
    ----------
    model : Sequential
    max_neurons : int
        Layers with more neurons show only their first and last ``max_neurons / 2``.
    max_connections : int
        At most this many lines per layer: the largest ``|w|`` among the neurons drawn.
    max_line_width : float
        Width in points of the line of a layer's largest ``|w|``.

    Returns
    -------
    matplotlib.figure.Figure
        Each layer's lines are a ``LineCollection`` with gid ``'weights/<layer name>'``
        whose ``get_array()`` holds the weights drawn and ``get_linewidths()`` their widths.
    """
    from matplotlib.collections import LineCollection, PatchCollection
    from matplotlib.patches import Circle

    max_neurons = check_int("max_neurons", max_neurons, minimum=2)
    max_connections = check_int("max_connections", max_connections)
    layers = dense_layers(model)
    sizes = [int(np.prod(layers[0].input_shape))] + [layer.W.shape[1] for layer in layers]
    shown = [_shown_neurons(n, max_neurons) for n in sizes]
    slots = [len(indices) + (gap is not None) for indices, gap in shown]
    tallest = max(slots)
    columns = len(sizes)
    if size is None:
        size = (1.7 * columns + 1.2, 0.42 * tallest + 1.9)
    figure = new_figure(size, dpi)
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.96))
    ax.set_aspect("equal")
    ax.axis("off")

    # where each drawn neuron sits: positions[column][neuron index] = (x, y)
    positions: list[dict[int, tuple[float, float]]] = []
    for column, (indices, gap) in enumerate(shown):
        ys = _column_y(slots[column])
        slot_of = [s for s in range(slots[column]) if s != gap]
        positions.append({i: (column * _X_SPACING, ys[s]) for i, s in zip(indices, slot_of,
                                                                           strict=True)})
        if gap is not None:
            ax.text(column * _X_SPACING, ys[gap], "⋮", ha="center", va="center", fontsize=14)
            for i, (x, y) in positions[column].items():   # which neurons these are
                ax.text(x - _RADIUS - 0.12, y, str(i), ha="right", va="center", fontsize=6.5,
                        color="0.35")

    for column, layer in enumerate(layers):
        W = np.asarray(layer.W, dtype=np.float64)
        rows, cols = list(positions[column]), list(positions[column + 1])
        weights = W[np.ix_(rows, cols)]
        pairs = np.array([(i, j) for i in rows for j in cols])
        flat = weights.ravel()
        order = np.argsort(np.abs(flat), kind="stable")[-max_connections:]  # strongest, weak first
        largest = float(np.abs(W).max()) or 1.0
        segments = [(positions[column][pairs[k, 0]], positions[column + 1][pairs[k, 1]])
                    for k in order]
        lines = LineCollection(segments, cmap="RdBu_r", zorder=1, alpha=0.85,
                               linewidths=max_line_width * np.abs(flat[order]) / largest + 0.1)
        lines.set_array(flat[order])
        lines.set_clim(-largest, largest)
        lines.set_gid(f"weights/{layer.name}")
        ax.add_collection(lines)

    circles, faces = [], []
    for column, placed in enumerate(positions):
        kind = "input" if column == 0 else "output" if column == columns - 1 else "hidden"
        for x, y in placed.values():
            circles.append(Circle((x, y), _RADIUS))
            faces.append(_FACE[kind])
    ax.add_collection(PatchCollection(circles, facecolors=faces, edgecolors="0.25",
                                      linewidths=0.8, zorder=2))

    top = (tallest - 1) / 2 + 0.9
    for column, n in enumerate(sizes):
        x = column * _X_SPACING
        if column == 0:
            name, detail = "input", f"{n} input{'s' if n != 1 else ''}"
        else:
            layer = layers[column - 1]
            name = layer.name
            detail = f"{n} unit{'s' if n != 1 else ''}\n{layer.activation.name}"
        ax.text(x, top, name, ha="center", va="bottom", fontsize=9, weight="bold")
        ax.text(x, -top, detail, ha="center", va="top", fontsize=8.5)
    ax.set_xlim(-_X_SPACING / 2, (columns - 1) * _X_SPACING + _X_SPACING / 2)
    ax.set_ylim(-top - 1.3, top + 0.6)
    caption = "line width ∝ |w| (per layer); red w > 0, blue w < 0"
    if any(gap is not None for _, gap in shown):
        caption += (f"\nlarge layers: first and last neurons (numbered), "
                    f"≤ {max_connections} strongest lines")
    figure.text(0.5, 0.01, caption, ha="center", va="bottom", fontsize=7.5, color="0.3")
    return figure

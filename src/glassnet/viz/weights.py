"""The first layer's weights as pictures: what each neuron looks for in an image.

Neuron ``j`` of the first Dense layer computes ``z_j = Σ_i x_i W[i, j] + b_j``
over the pixels ``x_i``. Its 784 weights ``W[:, j]`` reshaped to 28 x 28 form a
picture of the pixels that push ``z_j`` up (red, ``w > 0``) or down (blue,
``w < 0``). For the article's "is it a 9?" unit the picture is the 9-template it
learned: ink where 9s have ink and other digits do not.

The colour scale is the same for every picture and centred at 0 (white), from
``-max|W|`` to ``+max|W|``, so colours can be compared across neurons.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from glassnet._validation import check_int
from glassnet.viz._common import dense_layers, new_figure


def plot_first_layer_weights(
    model: Any,
    image_shape: tuple[int, ...] = (28, 28),
    *,
    max_units: int = 64,
    columns: int | None = None,
    cmap: str = "RdBu_r",
    panel_size: float = 1.5,
    dpi: float = 100,
) -> Any:
    """Draw each first-layer neuron's weights ``W[:, j]`` as an image of ``image_shape``.

    Parameters
    ----------
    model : Sequential
        Its first layer with weights has ``prod(image_shape)`` inputs.
    image_shape : (height, width)
        The shape of one input image.
    max_units : int
        Draw at most this many neurons (the first ones).
    columns : int, optional
        Pictures per row; default about square.
    cmap : str
        A diverging colour map; its middle (0) is white for the default.

    Returns
    -------
    matplotlib.figure.Figure
        Picture ``j`` is an ``AxesImage`` whose array is ``W[:, j].reshape(image_shape)``.
    """
    layer = dense_layers(model)[0]
    W = np.asarray(layer.W, dtype=np.float64)
    if not isinstance(image_shape, tuple | list) or len(image_shape) != 2:
        raise ValueError(f"image_shape must be (height, width), got {image_shape!r}")
    height = check_int("image_shape[0]", image_shape[0])
    width = check_int("image_shape[1]", image_shape[1])
    if height * width != W.shape[0]:
        raise ValueError(
            f"image_shape {tuple(image_shape)} has {height * width} pixels but layer "
            f"{layer.name!r} has {W.shape[0]} inputs"
        )
    units = min(W.shape[1], check_int("max_units", max_units))
    columns = columns or math.ceil(math.sqrt(units))
    columns = min(check_int("columns", columns), units)
    rows = math.ceil(units / columns)
    single = units == 1
    size = (4.6, 4.0) if single else (panel_size * columns + 1.0, panel_size * rows + 0.5)
    figure = new_figure(size, dpi)
    figure.set_layout_engine("constrained")
    limit = float(np.abs(W[:, :units]).max()) or 1.0
    axes = figure.subplots(rows, columns, squeeze=False)
    image = None
    for j, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if j >= units:
            ax.axis("off")
            continue
        image = ax.imshow(W[:, j].reshape(height, width), cmap=cmap, vmin=-limit, vmax=limit,
                          interpolation="nearest")
        ax.set_title(f"{layer.name}: weights of unit {j}" if single else f"unit {j}",
                     fontsize=10 if single else 7)
    figure.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="weight w")
    if W.shape[1] > units:
        figure.suptitle(f"first {units} of {W.shape[1]} units", fontsize=9)
    return figure

"""Every activation function ``g(z)`` next to its derivative ``g'(z)``: the articles' comparison.

The derivative is what backpropagation multiplies by (``dZ = dA * g'(Z)``): where
it is near 0 (sigmoid and tanh for large ``|z|``, ReLU for ``z < 0``) the
gradient vanishes; ``binary_step``'s derivative is 0 everywhere, so gradient
descent cannot train it.

Softmax is not elementwise (it normalises a whole row), so it is left out by
default; asked for by name, it is drawn for two classes, ``softmax([z, 0])[0]``
(which equals ``sigmoid(z)``), with its diagonal derivative ``s (1 - s)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet import activations
from glassnet._validation import check_int
from glassnet.viz._common import new_figure


def activation_curves(name: str, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, str]:
    """``g(z)``, ``g'(z)`` and a title for the activation called ``name``.

    Computed with :mod:`glassnet.activations` (``forward`` and ``derivative``).
    """
    function = activations.get(name)
    if function.name == "softmax":
        # two classes: the first output of softmax([z, 0]), and ∂s_0/∂z_0 = s (1 - s)
        logits = np.column_stack([z, np.zeros_like(z)])
        s = function.forward(logits)
        return s[:, 0], s[:, 0] * (1.0 - s[:, 0]), "softmax([z, 0])₀ (two classes)"
    column = z.reshape(-1, 1)
    a = function.forward(column)
    slope = function.derivative(column, a)
    return a.ravel(), np.asarray(slope, dtype=np.float64).ravel(), function.name


def plot_activations(
    names: Sequence[str] | None = None,
    *,
    z_range: tuple[float, float] = (-5.0, 5.0),
    columns: int = 4,
    panel_size: tuple[float, float] = (3.2, 2.6),
    show_formula: bool = True,
    dpi: float = 100,
) -> Any:
    """One panel per activation: ``g(z)`` (solid) and its derivative ``g'(z)`` (dashed).

    Parameters
    ----------
    names : sequence of str, optional
        Activation names (see ``glassnet.activations.ALL``); default all but softmax.
    z_range : (low, high)
        The pre-activations drawn.
    columns : int
        Panels per row.
    show_formula : bool
        Print ``g(z) = ...`` under each title.

    Returns
    -------
    matplotlib.figure.Figure
        Panel ``k`` holds two lines: ``g`` first, ``g'`` second.
    """
    if names is None:
        names = [name for name in activations.ALL if name != "softmax"]
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError("names must list at least one activation, e.g. ['relu', 'sigmoid']")
    columns = min(check_int("columns", columns), len(names))
    rows = math.ceil(len(names) / columns)
    z = np.linspace(float(z_range[0]), float(z_range[1]), 401)
    figure = new_figure((panel_size[0] * columns, panel_size[1] * rows), dpi)
    figure.set_layout_engine("constrained")
    for position, name in enumerate(names):
        ax = figure.add_subplot(rows, columns, position + 1)
        a, slope, title = activation_curves(name, z)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.axvline(0, color="0.6", lw=0.6)
        ax.plot(z, a, color="#1f77b4", lw=2.0, label="g(z)")
        ax.plot(z, slope, "--", color="#d62728", lw=1.6, label="g'(z)")
        formula = activations.get(name).formula
        ax.set_title(f"{title}\n{formula}" if show_formula and formula and "softmax" not in title
                     else title, fontsize=8 if show_formula else 10)
        ax.set_xlabel("z", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
        if position == 0:
            ax.legend(fontsize=7, loc="upper left")
    return figure

"""Learning curves: the loss and every metric, epoch by epoch, train next to validation.

A falling training loss with a validation loss that turns back up is
overfitting; two curves that stay high together are underfitting. A
``baseline`` draws the accuracy of a model that always answers the majority
class (0.900 for "is it a 9?", where nine digits in ten are not 9s): an
accuracy curve that does not clear it has learned nothing.
"""

from __future__ import annotations

import math
from typing import Any

from glassnet._validation import check_float, check_int
from glassnet.viz._common import history_dict, new_figure

#: Colour of the baseline line.
BASELINE_COLOR = "0.35"

#: History keys written by the diagnostics (see :func:`plot_gradient_norms`), not drawn here.
DIAGNOSTIC_PREFIXES = ("grad_norm/", "weight_norm/")


def history_quantities(history: dict[str, list[float]]) -> list[str]:
    """The quantities to draw, one panel each: ``loss`` first, then the metrics.

    ``val_accuracy`` belongs to the ``accuracy`` panel; a ``val_`` key with no
    training counterpart gets its own panel.
    """
    names = [k for k in history if not k.startswith(DIAGNOSTIC_PREFIXES)]
    quantities: list[str] = []
    for key in names:
        base = key[4:] if key.startswith("val_") and key[4:] in history else key
        if base not in quantities:
            quantities.append(base)
    return sorted(quantities, key=lambda q: q != "loss")


def plot_history(
    history: Any,
    *,
    columns: int = 3,
    panel_size: tuple[float, float] = (4.0, 3.0),
    log_loss: bool = False,
    title: str | None = "Learning curves",
    baseline: float | None = None,
    baseline_label: str = "always the majority class",
    dpi: float = 100,
) -> Any:
    """One panel per quantity (loss, accuracy, ...): training and validation values per epoch.

    Parameters
    ----------
    history : History or dict
        What ``fit`` returns, ``model.history``, or ``{'loss': [...], 'val_loss': [...], ...}``.
    columns : int
        Panels per row.
    panel_size : (width, height) in inches
    log_loss : bool
        Draw the loss on a logarithmic axis.
    title : str or None
        The figure's title (``None``: none).
    baseline : float, optional
        An accuracy to beat, e.g. ``DemoResult.baseline_accuracy``: drawn as a dotted
        horizontal line (gid ``'baseline'``) on every accuracy panel, labelled with
        its value and ``baseline_label``.
    baseline_label : str
        What the baseline is.

    Returns
    -------
    matplotlib.figure.Figure
        Titled ``title`` (the figure's suptitle); one Axes per quantity, titled by its name.
    """
    values = history_dict(history)
    quantities = history_quantities(values)
    if not quantities or not any(values[q] if q in values else values[f"val_{q}"]
                                 for q in quantities):
        raise ValueError("the history is empty: train with fit(...) for at least one epoch first")
    if baseline is not None:
        baseline = check_float("baseline", baseline, low=0.0, high=1.0)
    columns = min(check_int("columns", columns), len(quantities))
    rows = math.ceil(len(quantities) / columns)
    figure = new_figure((panel_size[0] * columns, panel_size[1] * rows), dpi)
    figure.set_layout_engine("constrained")
    for position, name in enumerate(quantities):
        ax = figure.add_subplot(rows, columns, position + 1)
        for key, label, style in ((name, "train", "-"), (f"val_{name}", "validation", "--")):
            if key in values and values[key]:
                epochs = range(1, len(values[key]) + 1)
                ax.plot(epochs, values[key], style, marker="o" if len(values[key]) < 15 else None,
                        markersize=3, label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        if name == "loss" and log_loss:
            ax.set_yscale("log")
        if baseline is not None and "acc" in name:
            ax.axhline(baseline, color=BASELINE_COLOR, linestyle=":", linewidth=1.4,
                       label=f"{baseline_label} ({baseline:.3f})", gid="baseline")
        if len(ax.lines) > 1:
            ax.legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return figure

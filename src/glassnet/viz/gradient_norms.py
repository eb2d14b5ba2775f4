"""Gradient and weight norms per layer, epoch by epoch: vanishing and exploding gradients.

The diagnostics record, for each layer ``l``, ``||dW_l||`` under the history key
``grad_norm/<layer name>`` and ``||W_l||`` under ``weight_norm/<layer name>``.
On a logarithmic axis, gradients that shrink layer after layer towards the input
(vanishing) or grow without bound (exploding) are easy to see.
"""

from __future__ import annotations

from typing import Any

from glassnet.viz._common import history_dict, new_figure

_PANELS = (("grad_norm/", "gradient norm ||dW||"), ("weight_norm/", "weight norm ||W||"))


def plot_gradient_norms(history: Any, *, log: bool = True, size: tuple[float, float] | None = None,
                        dpi: float = 100) -> Any:
    """Plot every ``grad_norm/<layer>`` and ``weight_norm/<layer>`` series of a history.

    Parameters
    ----------
    history : History or dict
        A history whose keys include ``grad_norm/<layer name>`` and/or
        ``weight_norm/<layer name>`` (one value per epoch).
    log : bool
        Logarithmic y-axis (norms span orders of magnitude).

    Returns
    -------
    matplotlib.figure.Figure
        One panel for gradient norms, one for weight norms (those present), a line per layer.
    """
    values = history_dict(history)
    panels = [(prefix, title, [k for k in values if k.startswith(prefix)])
              for prefix, title in _PANELS]
    panels = [panel for panel in panels if panel[2]]
    if not panels:
        raise ValueError(
            "the history has no 'grad_norm/<layer>' or 'weight_norm/<layer>' keys to plot; "
            f"its keys are {sorted(values)}. Record them during training with the "
            "gradient-norm diagnostics callback first"
        )
    size = size or (5.0 * len(panels), 3.5)
    figure = new_figure(size, dpi)
    figure.set_layout_engine("constrained")
    for position, (prefix, title, keys) in enumerate(panels):
        ax = figure.add_subplot(1, len(panels), position + 1)
        for key in keys:
            series = values[key]
            ax.plot(range(1, len(series) + 1), series, marker="o" if len(series) < 15 else None,
                    markersize=3, label=key[len(prefix):])
        ax.set_title(title)
        ax.set_xlabel("epoch")
        if log and all(v > 0 for key in keys for v in values[key]):
            ax.set_yscale("log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", title="layer", title_fontsize="small")
    return figure

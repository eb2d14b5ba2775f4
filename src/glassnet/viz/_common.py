"""Helpers shared by the plotting modules: figures without pyplot, data checks, colours.

Figures are made with :class:`matplotlib.figure.Figure` and an Agg canvas, not with
``pyplot``: nothing is opened on screen, nothing is kept in pyplot's global list of
figures (no memory leak in long loops), the user's backend is left alone, and a
returned Figure still shows itself in Jupyter (through ``_repr_png_``, even when
pyplot was never imported). ``fig.savefig(path)`` writes it.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from glassnet._validation import check_array, check_same_length

#: Colour of each class in scatter plots and arg-max maps (class 0 blue, 1 red, ...).
CLASS_COLORS = ("#2166ac", "#b2182b", "#1b7837", "#e08214", "#762a83",
                "#35978f", "#8c510a", "#c51b7d", "#4d4d4d", "#bf812d")

#: The colour map of a predicted probability P(class 1): blue at 0, white at 0.5, red at 1.
PROBABILITY_CMAP = "RdBu_r"

#: The part of PROBABILITY_CMAP a map uses: its darkest ends are the class colours
#: themselves, and points of a class would vanish where the network is sure of it.
PROBABILITY_RANGE = (0.25, 0.75)


def probability_colormap() -> Any:
    """PROBABILITY_CMAP cut to PROBABILITY_RANGE: pale blue (P = 0) to pale red (P = 1)."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    full = colormaps[PROBABILITY_CMAP]
    return ListedColormap(full(np.linspace(*PROBABILITY_RANGE, 256)), name="probability")


def class_colorbar(ax: Any, class_names: list[str], label: str) -> Any:
    """A colour bar of the class colours, one block per class with its name as tick."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import BoundaryNorm, ListedColormap

    k = len(class_names)
    palette = ListedColormap([CLASS_COLORS[c % len(CLASS_COLORS)] for c in range(k)])
    mappable = ScalarMappable(norm=BoundaryNorm(np.arange(k + 1) - 0.5, k), cmap=palette)
    colorbar = ax.figure.colorbar(mappable, ax=ax, fraction=0.046, pad=0.03, ticks=range(k))
    colorbar.ax.set_yticklabels(class_names)
    colorbar.set_label(label)
    return colorbar


def constant_units(A: np.ndarray) -> np.ndarray:
    """Which columns (units) of activations ``A`` (n_examples, units) never change:
    *dead* units (a ReLU whose ``z < 0`` for every example outputs 0 for all of
    them, so no gradient reaches its weights and it carries no information)."""
    A = np.asarray(A)
    return np.all(A == A[:1], axis=0) if len(A) else np.zeros(A.shape[1], dtype=bool)


def require_matplotlib() -> Any:
    """Import matplotlib, or say how to install it."""
    try:
        import matplotlib
    except ImportError:  # pragma: no cover - matplotlib is the optional extra [viz]
        raise ImportError(
            "glassnet.viz needs matplotlib (and Pillow for animations): "
            "pip install 'glassnet[viz]'"
        ) from None
    return matplotlib


_figure_class: Any = None


def _notebook_figure_class() -> Any:
    """A :class:`~matplotlib.figure.Figure` that Jupyter displays as a PNG by itself."""
    global _figure_class
    if _figure_class is None:
        from matplotlib.figure import Figure

        class NotebookFigure(Figure):
            """A matplotlib Figure with ``_repr_png_``, so a notebook cell that ends with
            it shows the picture without pyplot or ``%matplotlib inline``."""

            def _repr_png_(self) -> bytes:
                buffer = io.BytesIO()
                self.savefig(buffer, format="png", bbox_inches="tight")
                return buffer.getvalue()

        _figure_class = NotebookFigure
    return _figure_class


def new_figure(size: tuple[float, float], dpi: float = 100) -> Any:
    """A Figure of ``size`` inches drawn by an off-screen Agg canvas (no pyplot, no window)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = _notebook_figure_class()(figsize=size, dpi=dpi)
    FigureCanvasAgg(figure)
    return figure


def figure_and_axes(ax: Any, size: tuple[float, float], dpi: float = 100) -> tuple[Any, Any]:
    """``(ax.figure, ax)`` when the caller gave an Axes, else a new figure with one Axes."""
    if ax is not None:
        return ax.figure, ax
    figure = new_figure(size, dpi)
    return figure, figure.add_subplot(1, 1, 1)


def class_labels(y: Any, name: str = "y") -> np.ndarray:
    """Integer class labels from labels ``(n,)``, a column ``(n, 1)`` or one-hot rows ``(n, k)``."""
    y = check_array(name, y, ndim=(1, 2))
    if y.ndim == 2 and y.shape[1] > 1:
        return y.argmax(axis=1).astype(np.int64)
    y = y.reshape(-1)
    if y.dtype.kind == "f":
        return (y > 0.5).astype(np.int64) if np.all((y >= 0) & (y <= 1)) else y.round().astype(np.int64)
    return y.astype(np.int64)


def check_points(X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> tuple[np.ndarray, np.ndarray]:
    """2-D points ``X`` of shape (n, 2) and their integer class labels ``(n,)``."""
    X = check_array(names[0], X, ndim=2, dtype=np.float64)
    if X.shape[1] != 2:
        raise ValueError(
            f"{names[0]} must have 2 columns (points in the plane) for this plot, got shape "
            f"{X.shape}; for other inputs use plot_history, plot_network or plot_first_layer_weights"
        )
    labels = class_labels(y, names[1])
    check_same_length(**{names[0]: X, names[1]: labels})
    return X, labels


def grid_over(
    X: np.ndarray, resolution: int, margin: float = 0.1, extra: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A ``resolution x resolution`` grid over the range of ``X`` (and ``extra``), plus a margin.

    Returns
    -------
    xs, ys : ndarray of shape (resolution,)
        The grid's coordinates along each axis.
    points : ndarray of shape (resolution**2, 2)
        Every grid point, row by row (``points.reshape(resolution, resolution, 2)``
        has ``y`` along the first axis, as ``imshow`` expects).
    """
    all_points = X if extra is None else np.vstack([X, extra])
    low, high = all_points.min(axis=0), all_points.max(axis=0)
    pad = margin * np.maximum(high - low, 1e-9)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return xs, ys, np.column_stack([grid_x.ravel(), grid_y.ravel()])


def image_shape_of(input_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """``(height, width)`` if the inputs look like images, else None.

    Inputs of shape ``(h, w, ...)`` are images; flat inputs are when their number
    is a square of at least 8 x 8 (784 = 28 x 28).
    """
    if len(input_shape) >= 2:
        return int(input_shape[0]), int(input_shape[1])
    side = math.isqrt(int(input_shape[0]))
    return (side, side) if side >= 8 and side * side == input_shape[0] else None


def dense_layers(model: Any) -> list[Any]:
    """The layers of ``model`` that have a weight matrix ``W`` (a ``kernel``)."""
    if not getattr(model, "built", False):
        require = getattr(model, "_require_built", None)
        if require is not None:
            require("plot")
    layers = [layer for layer in model.layers if "kernel" in getattr(layer, "params", {})]
    if not layers:
        raise ValueError("the model has no layer with a weight matrix (a Dense layer) to plot")
    return layers


def history_dict(history: Any) -> dict[str, list[float]]:
    """``{'loss': [...], ...}`` from a History, its ``to_dict()``, or a plain dict."""
    if hasattr(history, "history") and isinstance(history.history, dict):
        history = history.history
    if isinstance(history, dict) and isinstance(history.get("history"), dict):
        history = history["history"]
    if not isinstance(history, dict):
        raise TypeError(
            "history must be a History (what fit returns), its .history dict, or a dict "
            f"{{'loss': [...], ...}}, got {type(history).__name__}"
        )
    return {str(key): [float(v) for v in values] for key, values in history.items()}

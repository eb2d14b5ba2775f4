"""The decision boundary: what a classifier answers at every point of the plane.

The plane is covered by a grid of points, the whole grid goes through the network
in *one* ``model.predict`` call, and the answers are painted as an image:

* one sigmoid output: the probability ``P(class 1 | x)`` from blue (0) through
  white (0.5) to red (1), and the line ``P = 0.5`` (the decision boundary);
* ``k >= 2`` softmax outputs: each point gets the colour of its arg-max class,
  paler where the network is less sure, with the lines where the arg-max changes.

A colour bar says what the colours mean. The map's colours stay pale (the
darkest ends of the colour map are left out) so that the training points, drawn
on top in the colour of their class (circles with a white edge), and the test
points (triangles with a black edge) stay visible where the network is sure.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from glassnet._validation import check_float, check_int
from glassnet.viz._common import (
    CLASS_COLORS,
    check_points,
    class_colorbar,
    figure_and_axes,
    grid_over,
    probability_colormap,
)

#: Opacity of the map under the points.
MAP_ALPHA = 0.8


def _predict_grid(model: Any, points: np.ndarray) -> np.ndarray:
    """The network's output for every grid point, in one forward pass: shape (n_points, k)."""
    output = np.asarray(model.predict(points, batch_size=len(points)), dtype=np.float64)
    return output.reshape(len(points), -1)


def _hex_to_rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) / 255 for i in (1, 3, 5)])


class BoundaryPanel:
    """The artists of one decision-boundary plot, kept so they can be updated in place.

    :meth:`update` re-predicts the grid and changes the image's pixels
    (``set_data``) and the boundary line; nothing else is redrawn. The training
    animation calls it once per frame.

    Parameters
    ----------
    ax : matplotlib Axes
    X, labels : ndarray of shape (n, 2) and (n,)
        Training points and their integer classes.
    X_test, labels_test : ndarray, optional
        Test points, drawn as triangles.
    resolution : int
        The grid has ``resolution x resolution`` points.
    margin : float
        Extra room around the data, as a fraction of its range.
    point_size : float
        Marker area of the points (``0`` hides them).
    colorbar : bool
        Add a colour bar: the probability scale (one output) or the classes (``k``).
    legend_outside : bool
        Put the legend in a row above the axes instead of inside them.
    class_names : list of str, optional
        Names of the classes (legend and colour bar); default ``class 0``, ``class 1``, ...
    """

    def __init__(
        self,
        ax: Any,
        X: np.ndarray,
        labels: np.ndarray,
        X_test: np.ndarray | None = None,
        labels_test: np.ndarray | None = None,
        resolution: int = 200,
        margin: float = 0.1,
        point_size: float = 14.0,
        colorbar: bool = True,
        legend_outside: bool = False,
        class_names: list[str] | None = None,
    ) -> None:
        self.ax = ax
        self.colorbar_wanted = colorbar
        self.colorbar: Any = None
        self.legend_outside = legend_outside
        self.resolution = resolution
        self.xs, self.ys, self.points = grid_over(X, resolution, margin, extra=X_test)
        self.extent = (self.xs[0], self.xs[-1], self.ys[0], self.ys[-1])
        self.n_classes = int(max(labels.max(), -1 if labels_test is None else labels_test.max())) + 1
        self.class_names = _class_names(class_names, self.n_classes)
        self.image: Any = None
        self.lines: Any = None
        self._draw_points(X, labels, X_test, labels_test, point_size)
        ax.set_xlim(self.extent[0], self.extent[1])
        ax.set_ylim(self.extent[2], self.extent[3])
        ax.set_aspect("equal", adjustable="box")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")

    def _draw_points(self, X, labels, X_test, labels_test, point_size) -> None:
        ax = self.ax
        for c in range(self.n_classes):
            color = CLASS_COLORS[c % len(CLASS_COLORS)]
            mine = labels == c
            ax.scatter(X[mine, 0], X[mine, 1], s=point_size, c=color, edgecolors="white",
                       linewidths=0.6, zorder=3, label=self.class_names[c])
            if X_test is not None:
                mine = labels_test == c
                ax.scatter(X_test[mine, 0], X_test[mine, 1], s=point_size * 2.2, c=color,
                           marker="^", edgecolors="black", linewidths=0.6, zorder=4)
        if X_test is not None:
            ax.scatter([], [], s=point_size * 2.2, c="lightgray", marker="^", edgecolors="black",
                       linewidths=0.6, label="test")
        if self.legend_outside:   # above the axes, in one row
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=self.n_classes + 1,
                      fontsize="x-small", frameon=False, handletextpad=0.1, columnspacing=0.8,
                      borderaxespad=0.1)
        else:
            ax.legend(loc="upper right", fontsize="x-small", framealpha=0.7, markerscale=1.2)

    def update(self, model: Any) -> np.ndarray:
        """Predict the grid with ``model`` and repaint. Returns the map shown, ``(res, res)``."""
        output = _predict_grid(model, self.points)
        shape = (self.resolution, self.resolution)
        if output.shape[1] == 1:
            values = output[:, 0].reshape(shape)
            picture = values
            levels = [0.5]
        else:
            picture, values = self._argmax_picture(output)
            levels = list(np.arange(output.shape[1] - 1) + 0.5)
        if self.image is None:
            self._first_image(picture, output.shape[1])
        else:
            self.image.set_data(picture)
        if self.lines is not None:
            self.lines.remove()
        self.lines = None
        if any(values.min() < level < values.max() for level in levels):
            self.lines = self.ax.contour(self.xs, self.ys, values, levels=levels, colors="black",
                                         linewidths=1.2, zorder=2)
        return values

    def _first_image(self, picture: np.ndarray, n_outputs: int) -> None:
        kwargs: dict[str, Any] = {}
        if n_outputs == 1:
            low, high = float(picture.min()), float(picture.max())
            if low >= 0.0 and high <= 1.0:  # a probability
                low, high = 0.0, 1.0
            kwargs = {"cmap": probability_colormap(), "vmin": low, "vmax": high}
        self.image = self.ax.imshow(picture, origin="lower", extent=self.extent, aspect="auto",
                                    interpolation="bilinear", alpha=MAP_ALPHA, zorder=1, **kwargs)
        if not self.colorbar_wanted:
            return
        if n_outputs == 1:
            probability = kwargs["vmax"] == 1.0 and kwargs["vmin"] == 0.0
            label = f"P({self.class_names[1]})" if probability else "output"
            self.colorbar = self.ax.figure.colorbar(self.image, ax=self.ax, fraction=0.046,
                                                    pad=0.03)
            self.colorbar.set_label(label)
        else:
            names = _class_names(self.class_names if n_outputs == self.n_classes else None,
                                 n_outputs)
            self.colorbar = class_colorbar(self.ax, names, "predicted class (paler: less sure)")

    def _argmax_picture(self, output: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """RGB picture of the arg-max class (paler where less sure) and the class map."""
        k = output.shape[1]
        classes = output.argmax(axis=1)
        confidence = output.max(axis=1)
        # 1/k (a guess) -> 0.2 of the class colour; 1 (certain) -> 0.75.
        strength = 0.2 + 0.55 * np.clip((confidence - 1 / k) / (1 - 1 / k), 0, 1)
        palette = np.array([_hex_to_rgb(CLASS_COLORS[c % len(CLASS_COLORS)]) for c in range(k)])
        rgb = 1.0 - strength[:, None] * (1.0 - palette[classes])
        shape = (self.resolution, self.resolution)
        return rgb.reshape(*shape, 3), classes.reshape(shape).astype(np.float64)


def _class_names(names: Any, n_classes: int) -> list[str]:
    """``names`` checked against the number of classes, or ``class 0``, ``class 1``, ..."""
    if names is None:
        return [f"class {c}" for c in range(n_classes)]
    names = [str(name) for name in names]
    if len(names) < n_classes:
        raise ValueError(
            f"class_names must name each of the {n_classes} classes, got {len(names)}: {names}"
        )
    return names


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    *,
    X_test: Any = None,
    y_test: Any = None,
    ax: Any = None,
    resolution: int = 200,
    margin: float = 0.1,
    point_size: float = 14.0,
    title: str | None = None,
    class_names: list[str] | None = None,
    size: tuple[float, float] = (5.5, 4.5),
    dpi: float = 100,
) -> Any:
    """Paint what a classifier of 2-D points predicts over the plane.

    Parameters
    ----------
    model : Sequential
        Takes 2 inputs; ends in one sigmoid unit (binary) or ``k`` softmax units.
    X : array of shape (n, 2)
        Training points, drawn as circles coloured by class.
    y : array of shape (n,), (n, 1) or (n, k)
        Their classes (labels, a 0/1 column or one-hot rows).
    X_test, y_test : arrays, optional
        Test points, drawn as triangles with a black edge.
    ax : matplotlib Axes, optional
        Draw here instead of in a new figure.
    resolution : int
        The grid has ``resolution x resolution`` points (one ``predict`` call).
    margin : float
        Extra room around the data, as a fraction of its range.
    class_names : list of str, optional
        The classes' names, for the legend and the colour bar.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (``ax.figure`` when ``ax`` was given); ``fig.savefig('b.png')`` writes it.
        It has a colour bar: the probability scale of one output, or the classes.

    Examples
    --------
    >>> from glassnet.demos import circles
    >>> result = circles(verbose=0)
    >>> fig = plot_decision_boundary(result.model, result.X_train, result.y_train,
    ...                              X_test=result.X_test, y_test=result.y_test)
    """
    X, labels = check_points(X, y)
    X_test_arr = labels_test = None
    if X_test is not None or y_test is not None:
        if X_test is None or y_test is None:
            raise ValueError("give both X_test and y_test, or neither")
        X_test_arr, labels_test = check_points(X_test, y_test, ("X_test", "y_test"))
    resolution = check_int("resolution", resolution, minimum=2)
    margin = check_float("margin", margin, low=0.0)
    figure, ax = figure_and_axes(ax, size, dpi)
    panel = BoundaryPanel(ax, X, labels, X_test_arr, labels_test, resolution, margin, point_size,
                          class_names=class_names)
    panel.update(model)
    if title is not None:
        ax.set_title(title)
    return figure

"""The loss as a landscape over two of a network's parameters, and the optimizer's path on it.

A network with ``P`` parameters has a loss surface in ``P + 1`` dimensions; we can
only look at a slice. Pick two parameters ``θ_a`` and ``θ_b`` (e.g. two entries
of a weight matrix), hold every other parameter at its current value, and compute

    J(θ_a, θ_b) = loss(y, model(X))       over a grid of (θ_a, θ_b) values.

:class:`ParameterPath` records ``(θ_a, θ_b)`` while ``fit`` trains, so the
optimizer's steps can be drawn on the map. (The other parameters moved too, so
the path is drawn on the slice through the *final* parameters: near the end of
training the two agree, at the start they need not.)

A parameter is named by ``(layer_index, 'kernel' or 'bias', index)``: for
example ``(0, 'kernel', (1, 2))`` is ``W[1, 2]`` of the first layer, the weight
from input 1 to neuron 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from glassnet._validation import check_choice, check_float, check_int
from glassnet.backend import require_numpy_model
from glassnet.callbacks import Callback
from glassnet.viz._common import figure_and_axes

ParameterName = tuple[int, str, tuple[int, ...]]


def _resolve(model: Any, params: Sequence[Any]) -> list[tuple[np.ndarray, tuple[int, ...], str]]:
    """Each parameter name as ``(the layer's array, the index into it, a label)``."""
    if getattr(model, "_require_built", None) is not None:
        model._require_built("look up parameters")
    if not isinstance(params, Sequence) or len(params) != 2:
        raise ValueError(
            "params must name exactly two parameters, e.g. ((0, 'kernel', (0, 0)), "
            f"(0, 'kernel', (1, 0))), got {params!r}"
        )
    resolved = []
    for number, spec in enumerate(params):
        if not isinstance(spec, Sequence) or len(spec) != 3:
            raise ValueError(
                f"params[{number}] must be (layer_index, 'kernel' or 'bias', index), got {spec!r}"
            )
        layer_index, name, index = spec
        layer_index = check_int(f"params[{number}] layer_index", layer_index, minimum=0)
        if layer_index >= len(model.layers):
            raise ValueError(
                f"params[{number}] layer_index must be < {len(model.layers)} (the model's "
                f"number of layers), got {layer_index}"
            )
        layer = model.layers[layer_index]
        if not layer.params:
            raise ValueError(f"layer {layer_index} ({layer.name!r}) has no parameters")
        name = check_choice(f"params[{number}] parameter name", name, layer.params)
        array = layer.params[name]
        index = (index,) if isinstance(index, int | np.integer) else tuple(index)
        if len(index) != array.ndim or any(
            not 0 <= int(i) < size for i, size in zip(index, array.shape, strict=False)
        ):
            raise ValueError(
                f"params[{number}] index {index} is outside {layer.name}.{name}, which has "
                f"shape {array.shape}"
            )
        index = tuple(int(i) for i in index)
        letter = "W" if name == "kernel" else "b" if name == "bias" else name
        label = f"{letter}{layer_index + 1}[{', '.join(map(str, index))}]"
        resolved.append((array, index, label))
    return resolved


class ParameterPath(Callback):
    """Record two parameters' values during ``fit``: the optimizer's path.

    Parameters
    ----------
    params : two ``(layer_index, 'kernel' or 'bias', index)``
        The parameters to follow (as for :func:`plot_loss_surface`).
    every : {'batch', 'epoch'}
        Record after every gradient step, or after every epoch.

    Attributes
    ----------
    parameter_names : tuple
        ``params`` as given.
    values : ndarray of shape (n_records, 2)
        The values before training, then after each batch (or epoch).
    """

    def __init__(self, params: Sequence[Any], every: str = "batch") -> None:
        super().__init__()
        self.parameter_names = tuple(params)
        self.every = check_choice("every", every, ("batch", "epoch"))
        self._records: list[tuple[float, ...]] = []  # one (value_1, value_2) per record

    @property
    def values(self) -> np.ndarray:
        return np.array(self._records, dtype=np.float64).reshape(-1, 2)

    def _record(self) -> None:
        self._records.append(tuple(float(a[i]) for a, i, _ in self._targets))

    def on_train_begin(self, logs: dict | None = None) -> None:
        # resolved here: the model's arrays exist only once it is built
        self._targets = _resolve(self.model, self.parameter_names)
        if not self._records:
            self._record()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.every == "batch":
            self._record()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.every == "epoch":
            self._record()


def loss_surface(
    model: Any,
    X: Any,
    y: Any,
    params: Sequence[Any],
    values_a: np.ndarray,
    values_b: np.ndarray,
) -> np.ndarray:
    """The loss for every pair ``(values_a[j], values_b[i])``, the other parameters held fixed.

    Returns
    -------
    ndarray of shape (len(values_b), len(values_a))
        ``surface[i, j]`` is the loss with ``θ_a = values_a[j]`` and ``θ_b = values_b[i]``
        (rows follow ``θ_b``, as an image's rows follow its y-axis). The model's
        parameters are put back afterwards.
    """
    (array_a, index_a, _), (array_b, index_b, _) = _resolve(model, params)
    saved_a, saved_b = array_a[index_a].copy(), array_b[index_b].copy()
    surface = np.empty((len(values_b), len(values_a)))
    try:
        for i, b in enumerate(values_b):
            array_b[index_b] = b
            for j, a in enumerate(values_a):
                array_a[index_a] = a
                surface[i, j] = model.evaluate(X, y, batch_size=len(X), verbose=0,
                                               return_dict=True)["loss"]
    finally:
        array_a[index_a], array_b[index_b] = saved_a, saved_b
    return surface


def plot_loss_surface(
    model: Any,
    X: Any,
    y: Any,
    params: Sequence[Any] = ((0, "kernel", (0, 0)), (0, "kernel", (1, 0))),
    *,
    span: float = 2.0,
    resolution: int = 31,
    path_history: Any = None,
    ax: Any = None,
    levels: int = 20,
    size: tuple[float, float] = (5.5, 4.5),
    dpi: float = 100,
) -> Any:
    """Draw the loss over a grid of two parameters, and the optimizer's path if given.

    Parameters
    ----------
    model : Sequential
        A compiled, built model (small: each grid point is one ``evaluate`` on ``X``).
    X, y : arrays
        The data the loss is measured on.
    params : two ``(layer_index, 'kernel' or 'bias', index)``
        Which parameters span the plane; default ``W1[0, 0]`` and ``W1[1, 0]``.
    span : float
        The grid covers the current value ± ``span`` for each parameter, widened to
        contain the whole path.
    resolution : int
        Grid points per axis (``resolution²`` evaluations).
    path_history : ParameterPath or array of shape (n, 2), optional
        The values the optimizer visited, drawn as a line with dots, start to end.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> path = ParameterPath(((0, 'kernel', (0, 0)), (0, 'kernel', (1, 0))))
    >>> model.fit(X, y, epochs=20, callbacks=[path])                     # doctest: +SKIP
    >>> plot_loss_surface(model, X, y, path.parameter_names, path_history=path)   # doctest: +SKIP
    """
    require_numpy_model(model, "glassnet.viz.plot_loss_surface")
    span = check_float("span", span, low=0.0, low_inclusive=False)
    resolution = check_int("resolution", resolution, minimum=2)
    (array_a, index_a, label_a), (array_b, index_b, label_b) = _resolve(model, params)
    centre = np.array([array_a[index_a], array_b[index_b]], dtype=np.float64)
    path = None
    if path_history is not None:
        path = path_history.values if isinstance(path_history, ParameterPath) else path_history
        path = np.asarray(path, dtype=np.float64)
        if path.ndim != 2 or path.shape[1] != 2 or len(path) == 0:
            raise ValueError(
                f"path_history must be a ParameterPath or an array of shape (n, 2), got shape "
                f"{path.shape}"
            )
    low, high = centre - span, centre + span
    if path is not None:
        pad = 0.1 * (path.max(axis=0) - path.min(axis=0))
        low = np.minimum(low, path.min(axis=0) - pad)
        high = np.maximum(high, path.max(axis=0) + pad)
    values_a = np.linspace(low[0], high[0], resolution)
    values_b = np.linspace(low[1], high[1], resolution)
    surface = loss_surface(model, X, y, params, values_a, values_b)

    figure, ax = figure_and_axes(ax, size, dpi)
    finite = np.isfinite(surface)
    shown = np.where(finite, surface, np.nanmax(surface[finite]) if finite.any() else 0.0)
    filled = ax.contourf(values_a, values_b, shown, levels=levels, cmap="viridis")
    ax.contour(values_a, values_b, shown, levels=levels, colors="white", linewidths=0.3, alpha=0.6)
    figure.colorbar(filled, ax=ax, label="loss J")
    if path is not None:
        ax.plot(path[:, 0], path[:, 1], "-", color="#ff6f61", lw=1.2)
        ax.plot(path[:, 0], path[:, 1], "o", color="#ff6f61", ms=2.5)
        ax.plot(*path[0], "o", color="white", mec="black", ms=7, label="start")
        ax.plot(*path[-1], "*", color="gold", mec="black", ms=12, label="end")
        ax.legend(fontsize="small", loc="upper right")
    else:
        ax.plot(*centre, "*", color="gold", mec="black", ms=12, label="current value")
        ax.legend(fontsize="small", loc="upper right")
    ax.set_xlabel(label_a)
    ax.set_ylabel(label_b)
    ax.set_title(f"loss over {label_a} and {label_b} (other parameters fixed)", fontsize="medium")
    return figure

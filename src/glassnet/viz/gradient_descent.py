"""Gradient descent on one variable, with three learning rates: too small, good, too large.

The article's picture: minimise ``f(x) = x²`` on ``[-10, 10]`` by repeating

    x := x - α · f'(x)          (here f'(x) = 2x, so x := (1 - 2α) · x)

* α too small (0.01): each step shrinks x by only 2 %; after 20 steps x is far from 0.
* α good (0.1): x shrinks by 20 % a step and reaches the minimum.
* α too large (1.05): ``1 - 2α = -1.1``, so x jumps across the valley and grows
  by 10 % a step: it oscillates and diverges.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from glassnet._validation import check_float, check_int, check_positive
from glassnet.viz._common import new_figure
from glassnet.viz._frames import check_animation_path, save_frames

DEFAULT_LEARNING_RATES = (0.01, 0.1, 1.05)
_DEFAULT_TITLES = ("too small", "good", "too large")


def parabola(x: Any) -> Any:
    """``f(x) = x²``, the article's example."""
    return np.square(x)


def parabola_derivative(x: Any) -> Any:
    """``f'(x) = 2x``."""
    return 2.0 * np.asarray(x)


def gradient_descent_path(
    df: Callable[[float], float], x0: float, learning_rate: float, steps: int
) -> np.ndarray:
    """The points visited by ``x := x - learning_rate * df(x)``, starting at ``x0``.

    Returns
    -------
    ndarray of shape (steps + 1,)
        ``x0`` and the ``steps`` points after it. A run that overflows stops
        there; the rest is ``inf``/``nan``.
    """
    path = np.empty(steps + 1)
    path[0] = x0
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(steps):
            path[step + 1] = path[step] - learning_rate * float(df(path[step]))
    return path


def _functions(f: Callable | None, df: Callable | None) -> tuple[Callable, Callable]:
    if f is None and df is None:
        return parabola, parabola_derivative
    if f is None:
        raise ValueError("give f (the function to draw) along with df, or neither for f(x) = x²")
    if not callable(f) or (df is not None and not callable(df)):
        raise TypeError("f and df must be functions of one number")
    if df is None:
        def df(x: float, h: float = 1e-5) -> float:   # central difference
            return (f(x + h) - f(x - h)) / (2 * h)
    return f, df


def _setup(f, df, x0, learning_rates, steps, titles):
    f, df = _functions(f, df)
    x0 = check_float("x0", x0)
    steps = check_int("steps", steps)
    if isinstance(learning_rates, int | float):
        learning_rates = (learning_rates,)
    rates = [check_positive(f"learning_rates[{i}]", r) for i, r in enumerate(learning_rates)]
    if not rates:
        raise ValueError("learning_rates must hold at least one learning rate")
    if titles is None:
        titles = _DEFAULT_TITLES if len(rates) == 3 else [""] * len(rates)
    if len(titles) != len(rates):
        raise ValueError(f"give one title per learning rate ({len(rates)}), got {len(titles)}")
    paths = [gradient_descent_path(df, x0, rate, steps) for rate in rates]
    return f, x0, steps, rates, list(titles), paths


def _draw_panel(ax: Any, f: Callable, path: np.ndarray, rate: float, title: str,
                domain: tuple[float, float]) -> tuple[Any, Any]:
    """Draw ``f`` and the steps of ``path``; return the (path line, points) artists."""
    finite = path[np.isfinite(path)]
    low = min(domain[0], float(finite.min()))
    high = max(domain[1], float(finite.max()))
    xs = np.linspace(low, high, 400)
    ax.plot(xs, [f(x) for x in xs], color="0.35", lw=1.5, zorder=1)
    (line,) = ax.plot(path, [f(x) for x in path], "-", color="#d6604d", lw=1.0, zorder=2)
    points = ax.scatter(path, [f(x) for x in path], c=np.arange(len(path)), cmap="plasma",
                        s=22, zorder=3, edgecolors="black", linewidths=0.4)
    points.set_clim(0, len(path) - 1)   # colour = step number, fixed for the animation
    verdict = _verdict(path)
    heading = f"α = {rate:g}" + (f": {title}" if title else "")
    ax.set_title(f"{heading}\n{verdict}", fontsize="medium")
    ax.set_xlabel("x")
    ax.grid(alpha=0.3)
    return line, points


def _verdict(path: np.ndarray) -> str:
    distances = np.abs(path)
    last = distances[-1]
    oscillates = bool(np.any(np.sign(path[1:]) * np.sign(path[:-1]) < 0))
    if not np.isfinite(last) or last > distances[0]:
        how = "oscillates and diverges" if oscillates else "diverges"
        return f"{how}: |x| {distances[0]:.3g} → {last:.3g}"
    if oscillates:
        return f"oscillates: |x| {distances[0]:.3g} → {last:.3g}"
    return f"|x| {distances[0]:.3g} → {last:.3g} after {len(path) - 1} steps"


def plot_gradient_descent_1d(
    f: Callable | None = None,
    df: Callable | None = None,
    x0: float = 8.0,
    learning_rates: Sequence[float] = DEFAULT_LEARNING_RATES,
    steps: int = 20,
    *,
    domain: tuple[float, float] = (-10.0, 10.0),
    titles: Sequence[str] | None = None,
    size: tuple[float, float] | None = None,
    dpi: float = 100,
) -> Any:
    """Gradient descent from ``x0``, one panel per learning rate, side by side.

    Parameters
    ----------
    f : function of one number, optional
        The function to minimise; default ``f(x) = x²``.
    df : function, optional
        Its derivative; default ``2x`` for the parabola, else a central difference.
    x0 : float
        The starting point.
    learning_rates : sequence of float
        One panel each; the default (0.01, 0.1, 1.05) is too small, good and too large.
    steps : int
        Updates ``x := x - α f'(x)`` per panel.
    domain : (low, high)
        The x-range drawn (widened to show every step taken).
    titles : sequence of str, optional
        A word for each panel; default "too small", "good", "too large" for three rates.

    Returns
    -------
    matplotlib.figure.Figure
        Panel ``i`` draws ``f`` and, as its second line, the path
        ``gradient_descent_path(df, x0, learning_rates[i], steps)`` (x-data of the line).
    """
    f, x0, steps, rates, titles, paths = _setup(f, df, x0, learning_rates, steps, titles)
    size = size or (4.0 * len(rates), 3.4)
    figure = new_figure(size, dpi)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, len(rates), squeeze=False)[0]
    for ax, path, rate, title in zip(axes, paths, rates, titles, strict=True):
        _draw_panel(ax, f, path, rate, title, domain)
    axes[0].set_ylabel("f(x)")
    return figure


def animate_gradient_descent_1d(
    f: Callable | None = None,
    df: Callable | None = None,
    x0: float = 8.0,
    learning_rates: Sequence[float] = DEFAULT_LEARNING_RATES,
    steps: int = 20,
    path: Any = "gradient-descent.gif",
    *,
    fps: float = 3,
    domain: tuple[float, float] = (-10.0, 10.0),
    titles: Sequence[str] | None = None,
    size: tuple[float, float] | None = None,
    dpi: float = 80,
) -> pathlib.Path:
    """The same three panels, one gradient step per frame, saved as a GIF (or MP4).

    The animation has ``steps + 1`` frames: frame ``t`` shows the first ``t``
    updates. Returns the path written.
    """
    out = check_animation_path(path)
    fps = check_positive("fps", fps)
    f, x0, steps, rates, titles, paths = _setup(f, df, x0, learning_rates, steps, titles)
    size = size or (4.0 * len(rates), 3.4)
    figure = new_figure(size, dpi)
    figure.set_layout_engine("constrained")
    axes = figure.subplots(1, len(rates), squeeze=False)[0]
    artists = [_draw_panel(ax, f, p, rate, title, domain)
               for ax, p, rate, title in zip(axes, paths, rates, titles, strict=True)]
    axes[0].set_ylabel("f(x)")
    figure.canvas.draw()
    figure.set_layout_engine("none")     # lay out once, then keep it: faster frames
    frames = []
    for t in range(steps + 1):
        for (line, points), p in zip(artists, paths, strict=True):
            shown = p[: t + 1]
            line.set_data(shown, [f(x) for x in shown])
            points.set_offsets(np.column_stack([shown, [f(x) for x in shown]]))
            points.set_array(np.arange(t + 1))
        figure.canvas.draw()
        frames.append(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy())
    return save_frames(frames, out, fps)

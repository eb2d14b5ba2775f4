"""Watch a network learn: the decision boundary and the learning curves, epoch by epoch.

:class:`TrainingAnimation` is a callback. After each chosen epoch it draws one
frame: the decision boundary on the left (see :mod:`glassnet.viz.boundary`), the
loss and the accuracy so far on the right. At the end of training it writes a GIF
(or an MP4). :func:`animate_training` is ``model.fit`` with that callback.

The training and test points are drawn above the map on every frame (the map
stays pale, see :mod:`glassnet.viz.boundary`), and a colour bar gives its scale.

Rendering is fast because the figure is made once: each frame changes only the
image's pixels (``set_data``), the boundary line and the curves' data
(``set_data``), after one ``model.predict`` of the whole grid.

>>> from glassnet.viz import animate_training
>>> animate_training(model, X, y, epochs=50, path="training.gif")      # doctest: +SKIP
"""

from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from glassnet._validation import check_int, check_positive
from glassnet.callbacks import Callback, History
from glassnet.viz._common import check_points, new_figure
from glassnet.viz._frames import check_animation_path, save_frames
from glassnet.viz.boundary import BoundaryPanel

_TRAIN_COLOR, _VAL_COLOR = "#1f77b4", "#ff7f0e"


def choose_frame_epochs(epochs: int, frames: int | None, every: int) -> list[int]:
    """The epoch indices (from 0) after which a frame is drawn.

    ``frames`` evenly spaced epochs (always the first and the last) when given,
    else every ``every``-th epoch and the last.
    """
    if frames is not None:
        if frames >= epochs:
            return list(range(epochs))
        return sorted({int(round(e)) for e in np.linspace(0, epochs - 1, frames)})
    return sorted(set(range(0, epochs, every)) | {epochs - 1})


class TrainingAnimation(Callback):
    """A callback that draws the decision boundary and the learning curves after each epoch.

    Parameters
    ----------
    X : array of shape (n, 2)
        The points to draw (usually the training data); the map covers their range.
    y : array of shape (n,), (n, 1) or (n, k)
        Their classes.
    path : str or Path, optional
        Written at the end of training: ``.gif`` (Pillow) or ``.mp4`` (needs ffmpeg).
        Without a path, call :meth:`save` yourself; the frames are in ``.frames``.
    every : int
        Draw a frame every ``every`` epochs (and after the last).
    frames : int, optional
        Instead of ``every``: this many frames, evenly spaced over the epochs.
    fps : float
        Frames per second of the animation.
    size : (width, height) in inches
        With ``dpi``, the frame size in pixels: ``(8, 4)`` at 80 dpi is 640 x 320.
    dpi : float
    X_test, y_test : arrays, optional
        Test points, drawn as triangles.
    resolution : int
        The boundary grid has ``resolution x resolution`` points.
    point_size : float
        Marker area of the points.
    gif_colors : int
        Palette size of a GIF (2 to 256); fewer colours make a smaller file.

    Attributes
    ----------
    frames : list of ndarray of shape (height, width, 3), uint8
        The pictures drawn so far.
    frame_epochs : list of int
        The epoch (from 1) of each frame.
    """

    def __init__(
        self,
        X: Any,
        y: Any,
        path: Any = None,
        every: int = 1,
        *,
        frames: int | None = None,
        fps: float = 10,
        size: tuple[float, float] = (8, 4),
        dpi: float = 80,
        X_test: Any = None,
        y_test: Any = None,
        resolution: int = 100,
        point_size: float = 8.0,
        gif_colors: int = 64,
    ) -> None:
        super().__init__()
        self.X, self.labels = check_points(X, y)
        self.X_test = self.labels_test = None
        if X_test is not None or y_test is not None:
            if X_test is None or y_test is None:
                raise ValueError("give both X_test and y_test, or neither")
            self.X_test, self.labels_test = check_points(X_test, y_test, ("X_test", "y_test"))
        self.path = None if path is None else check_animation_path(path)
        self.every = check_int("every", every)
        self.n_frames = None if frames is None else check_int("frames", frames)
        self.fps = check_positive("fps", fps)
        if not (isinstance(size, tuple | list) and len(size) == 2):
            raise TypeError(f"size must be (width, height) in inches, got {size!r}")
        self.size = (check_positive("size[0]", size[0]), check_positive("size[1]", size[1]))
        self.dpi = check_positive("dpi", dpi)
        self.resolution = check_int("resolution", resolution, minimum=2)
        self.point_size = point_size
        self.gif_colors = check_int("gif_colors", gif_colors, minimum=2)
        self.frames: list[np.ndarray] = []
        self.frame_epochs: list[int] = []
        self.figure: Any = None
        self._background: Any = None

    # -- the hooks ------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        self.frames, self.frame_epochs = [], []
        self.figure, self._background = None, None
        self.total_epochs = int(self.params.get("epochs", 1))
        self.curves: dict[str, list[float]] = {}
        self.epochs_seen: list[int] = []
        self._chosen = set(choose_frame_epochs(self.total_epochs, self.n_frames, self.every))

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs_seen.append(epoch + 1)
        for key, value in (logs or {}).items():
            self.curves.setdefault(key, []).append(float(value))
        if epoch in self._chosen:
            self._draw_frame(epoch + 1)

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.epochs_seen and self.frame_epochs[-1:] != self.epochs_seen[-1:]:
            self._draw_frame(self.epochs_seen[-1])   # stopped early: show where it ended
        if self.path is not None and self.frames:
            self.save(self.path)

    def save(self, path: Any, fps: float | None = None) -> pathlib.Path:
        """Write the frames to ``path`` (``.gif`` or ``.mp4``); returns the path."""
        fps = self.fps if fps is None else check_positive("fps", fps)
        return save_frames(self.frames, path, fps, colors=self.gif_colors)

    # -- drawing --------------------------------------------------------------------
    def _metric_name(self) -> str | None:
        """The first metric in the logs (e.g. ``'accuracy'``), drawn under the loss."""
        return next((k for k in self.curves if k != "loss" and not k.startswith("val_")
                     and "/" not in k), None)

    def _build_figure(self) -> None:
        figure = new_figure(self.size, self.dpi)
        metric = self._metric_name()
        figure.set_layout_engine("constrained")   # used for the first frame, then frozen
        grid = figure.add_gridspec(2 if metric else 1, 2, width_ratios=(1.0, 1.0))
        boundary_ax = figure.add_subplot(grid[:, 0])
        self.panel = BoundaryPanel(boundary_ax, self.X, self.labels, self.X_test,
                                   self.labels_test, self.resolution, 0.1, self.point_size,
                                   colorbar=True, legend_outside=True)
        self.title = figure.suptitle(" ", fontsize="medium")
        self.curve_axes: dict[str, Any] = {}
        self.curve_lines: dict[str, Any] = {}
        self._fitted: set[str] = set()     # curve panels whose y-limits have been set
        names = ["loss"] + ([metric] if metric else [])
        for row, name in enumerate(names):
            ax = figure.add_subplot(grid[row, 1])
            ax.set_xlim(0.5, self.total_epochs + 0.5)
            ax.set_title(name, fontsize="medium")
            ax.grid(alpha=0.3)
            self.curve_axes[name] = ax
            for key, color, label in ((name, _TRAIN_COLOR, "train"),
                                      (f"val_{name}", _VAL_COLOR, "validation")):
                if key in self.curves:
                    (self.curve_lines[key],) = ax.plot([], [], color=color, lw=1.6, label=label)
            if f"val_{name}" in self.curves:
                ax.legend(fontsize="x-small", loc="upper right")
        self.curve_axes[names[-1]].set_xlabel("epoch")
        self.figure = figure

    def _draw_frame(self, epoch: int) -> None:
        if self.figure is None:
            self._build_figure()
        self.panel.update(self.model)
        summary = ", ".join(f"{k} {v[-1]:.3f}" for k, v in self.curves.items() if "/" not in k)
        self.title.set_text(f"epoch {epoch}/{self.total_epochs}: {summary}"
                            if len(summary) < 45 else f"epoch {epoch}/{self.total_epochs}")
        limits_changed = False
        for name, ax in self.curve_axes.items():
            values = []
            for key in (name, f"val_{name}"):
                if key in self.curve_lines:
                    self.curve_lines[key].set_data(self.epochs_seen, self.curves[key])
                    values.extend(self.curves[key])
            limits_changed |= self._fit_limits(name, ax, values, fresh=name not in self._fitted)
            self._fitted.add(name)
        self.frames.append(self._render(full=limits_changed or self._background is None))
        self.frame_epochs.append(epoch)

    @staticmethod
    def _fit_limits(name: str, ax: Any, values: list[float], fresh: bool) -> bool:
        """Widen the y-axis when a curve leaves it; return whether the limits changed.

        The limits only ever grow (a loss that falls stays inside the first epoch's
        range), so the axes behind the curves rarely need redrawing.
        """
        finite = [v for v in values if np.isfinite(v)]
        if not finite:
            return False
        low, high = ax.get_ylim()
        data_low, data_high = min(finite), max(finite)
        if not fresh and low <= data_low and data_high <= high:
            return False
        if name == "loss":
            new_low, new_high = min(0.0, data_low), data_high * 1.1 if data_high > 0 else 1.0
        elif 0.0 <= data_low and data_high <= 1.0:            # accuracy-like: up to 1
            new_low, new_high = min(data_low, 0.5) - 0.02, 1.02
        else:
            pad = 0.1 * max(data_high - data_low, 1e-6)
            new_low, new_high = data_low - pad, data_high + pad
        if not fresh:
            new_low, new_high = min(new_low, low), max(new_high, high)
        ax.set_ylim(new_low, new_high)
        return True

    def _animated_artists(self) -> list[Any]:
        """What changes from frame to frame, in drawing order (the rest is a fixed background)."""
        ax, lines = self.panel.ax, self.panel.lines
        points = [c for c in ax.collections if c is not lines]
        artists = [self.panel.image, lines, *points, *ax.spines.values(), self.title,
                   *self.curve_lines.values()]
        return [artist for artist in artists if artist is not None]

    def _render(self, full: bool) -> np.ndarray:
        """The frame's pixels. Blitting: the axes, ticks and labels are drawn once into a
        saved background; each frame restores it and draws only the changing artists."""
        canvas = self.figure.canvas
        artists = self._animated_artists()
        for artist in artists:
            artist.set_animated(True)
        if full:
            canvas.draw()
            if self.figure.get_layout_engine() is not None:
                self.figure.set_layout_engine("none")   # keep the layout found: faster
            self._background = canvas.copy_from_bbox(self.figure.bbox)
        canvas.restore_region(self._background)
        for artist in artists:
            self.figure.draw_artist(artist)
        return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def animate_training(
    model: Any,
    X: Any,
    y: Any,
    epochs: int,
    path: Any,
    *,
    fps: float = 10,
    frames: int | None = None,
    size: tuple[float, float] = (8, 4),
    dpi: float = 80,
    X_test: Any = None,
    y_test: Any = None,
    resolution: int = 100,
    verbose: Any = 0,
    callbacks: list[Callback] | None = None,
    **fit_kwargs: Any,
) -> History:
    """Train ``model`` on 2-D points and save an animation of it learning.

    Runs ``model.fit(X, y, epochs=epochs, callbacks=[TrainingAnimation(...)], **fit_kwargs)``.
    Each frame: the decision boundary (left), the loss and accuracy so far (right).

    Parameters
    ----------
    model : Sequential
        A compiled model with 2 inputs.
    X, y : arrays of shape (n, 2) and (n,) / (n, 1) / (n, k)
    epochs : int
    path : str or Path
        ``.gif`` or ``.mp4`` (MP4 needs ffmpeg; checked before training starts).
    fps : float
        Frames per second.
    frames : int, optional
        Number of frames, evenly spaced over the epochs; default one per epoch.
    size, dpi
        Frame size: ``size`` inches times ``dpi`` pixels per inch.
    X_test, y_test : arrays, optional
        Drawn as triangles (not used for training).
    **fit_kwargs
        Passed to ``fit`` (``batch_size``, ``validation_split``, ...).

    Returns
    -------
    History
        What ``fit`` returned.
    """
    animation = TrainingAnimation(
        X, y, path, frames=frames, fps=fps, size=size, dpi=dpi, X_test=X_test, y_test=y_test,
        resolution=resolution,
    )
    return model.fit(X, y, epochs=epochs, verbose=verbose,
                     callbacks=[*(callbacks or []), animation], **fit_kwargs)

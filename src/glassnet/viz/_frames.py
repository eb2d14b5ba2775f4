"""Turning figures into animation frames, and frames into GIF or MP4 files.

A frame is the RGB pixel array of a figure drawn by the Agg canvas. Frames are
kept in memory (``width * height * 3`` bytes each) and written at the end:

* ``.gif`` by Pillow, all frames sharing one palette of ``colors`` colours
  (64 by default; no dithering, so the file compresses well);
* ``.mp4`` by ``ffmpeg`` (H.264), when it is installed.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from typing import Any

import numpy as np

from glassnet._validation import check_int

ANIMATION_FORMATS = (".gif", ".mp4")


def check_animation_path(path: Any) -> pathlib.Path:
    """``path`` as a Path ending in ``.gif`` or ``.mp4`` (with ffmpeg installed), or raise.

    Checked *before* training, so a missing ffmpeg is reported at once, not after.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a file name such as 'training.gif', got {path!r}")
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in ANIMATION_FORMATS:
        raise ValueError(
            f"path must end in .gif or .mp4 (the animation format), got {str(path)!r}"
        )
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise RuntimeError(
            f"writing {str(path)!r} needs the ffmpeg program, which was not found on PATH. "
            "Install it (e.g. 'apt install ffmpeg', 'brew install ffmpeg', "
            "'conda install ffmpeg') or save a .gif instead"
        )
    return path


def render_rgb(figure: Any) -> np.ndarray:
    """Draw ``figure`` with its Agg canvas and return its pixels, shape (height, width, 3) uint8."""
    canvas = figure.canvas
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def save_frames(
    frames: list[np.ndarray], path: Any, fps: float, colors: int = 64
) -> pathlib.Path:
    """Write RGB ``frames`` (each (height, width, 3) uint8) to a ``.gif`` or ``.mp4`` file.

    ``colors`` (2 to 256) is the size of the GIF's palette: fewer colours, smaller file.
    """
    if not frames:
        raise ValueError("there are no frames to save (did training run for at least one epoch?)")
    path = check_animation_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        _save_gif(frames, path, fps, check_int("colors", colors, minimum=2))
    else:
        _save_mp4(frames, path, fps)
    return path


def _save_gif(frames: list[np.ndarray], path: pathlib.Path, fps: float, colors: int) -> None:
    from PIL import Image

    # One palette for all frames, chosen from the first, middle and last frames.
    samples = [frames[0], frames[len(frames) // 2], frames[-1]]
    palette = Image.fromarray(np.concatenate(samples, axis=0)).quantize(colors=min(colors, 256))
    images = [
        Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
        for frame in frames
    ]
    images[0].save(
        path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0,
    )


def _save_mp4(frames: list[np.ndarray], path: pathlib.Path, fps: float) -> None:
    height, width = frames[0].shape[:2]
    command = [
        shutil.which("ffmpeg") or "ffmpeg", "-y", "-loglevel", "error",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", f"{fps:g}",
        "-i", "-",
        "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",   # H.264 wants even sizes
        "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path),
    ]
    result = subprocess.run(command, input=b"".join(f.tobytes() for f in frames),
                            capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg failed writing {str(path)!r}: {result.stderr.decode()[-500:]}")

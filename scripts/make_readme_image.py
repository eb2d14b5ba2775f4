"""Regenerate the README's animation, ``docs/images/circles-training.gif``.

Trains the article's circles network (``glassnet.demos.circles``: 2-4-6-6-4-1,
ReLU, sigmoid output, Adam, 50 epochs, seed 0) and films every epoch: the
decision boundary on the left, the loss and accuracy so far on the right.
480 x 240 pixels, 50 frames, a 32-colour palette, so the file stays small
(it must stay under 300 KB). Prints the file size and the time taken.

Usage::

    python scripts/make_readme_image.py [--out docs/images/circles-training.gif]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from glassnet import demos
from glassnet.viz import TrainingAnimation
from glassnet.viz.report import fresh_copy

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "docs" / "images" / "circles-training.gif"
SIZE_LIMIT = 300 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    result = demos.circles(seed=args.seed, epochs=args.epochs, verbose=0)
    start = time.perf_counter()
    animation = TrainingAnimation(
        result.X_train, result.y_train, args.out, fps=8, size=(6, 3), dpi=80,
        X_test=result.X_test, y_test=result.y_test, gif_colors=32,
    )
    # the same network, seed and settings as the demo: the film shows the demo's own run
    model = fresh_copy(result.model, args.seed)
    model.fit(result.X_train, result.y_train, epochs=args.epochs, verbose=0,
              callbacks=[animation])
    elapsed = time.perf_counter() - start
    size = args.out.stat().st_size
    print(f"wrote {args.out} ({len(animation.frames)} frames, {size / 1024:.0f} KB) "
          f"in {elapsed:.1f} s (training and rendering)")
    if size > SIZE_LIMIT:
        raise SystemExit(f"{args.out} is larger than {SIZE_LIMIT // 1024} KB: reduce the size")


if __name__ == "__main__":
    main()

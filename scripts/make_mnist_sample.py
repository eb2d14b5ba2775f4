"""Regenerate the MNIST slice that ships inside glassnet (``load_mnist()`` with no path).

Reads the MNIST test set (``t10k-images-idx3-ubyte.gz`` and
``t10k-labels-idx1-ubyte.gz``) from SOURCE_DIR, draws ``--per-digit`` images of
each digit without replacement (seeded), shuffles them and writes them as IDX
gzip files into ``src/glassnet/datasets/data/``. The output is byte-for-byte
reproducible: same source, seed and count give the same files.

Usage::

    python scripts/make_mnist_sample.py SOURCE_DIR [--per-digit 300] [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

from glassnet.datasets.mnist import SAMPLE_FILES, read_idx, write_idx

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "src" / "glassnet" / "datasets" / "data"


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source_dir", type=Path, help="directory with the t10k-*-ubyte.gz files")
    parser.add_argument("--per-digit", type=int, default=300, help="images per digit (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    args = parser.parse_args()

    images_path = args.source_dir / "t10k-images-idx3-ubyte.gz"
    labels_path = args.source_dir / "t10k-labels-idx1-ubyte.gz"
    images, labels = read_idx(images_path), read_idx(labels_path)

    rng = np.random.default_rng(args.seed)
    chosen = np.concatenate([
        rng.choice(np.flatnonzero(labels == digit), size=args.per_digit, replace=False)
        for digit in range(10)
    ])
    chosen = rng.permutation(chosen)

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    images_out, labels_out = (OUT_DIR / p.name for p in SAMPLE_FILES)
    write_idx(images_out, images[chosen])
    write_idx(labels_out, labels[chosen])

    for path in (images_path, labels_path):
        print(f"source {path.name}: md5 {md5(path)}")
    print(f"chose {len(chosen)} of {len(labels)} images ({args.per_digit} per digit)")
    for path in (images_out, labels_out):
        size_kib = path.stat().st_size / 1024
        print(f"wrote {path.relative_to(ROOT)}: {size_kib:.0f} KiB, md5 {md5(path)}")


if __name__ == "__main__":
    main()

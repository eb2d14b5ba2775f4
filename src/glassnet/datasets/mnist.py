"""MNIST hand-written digits: a careful IDX reader and a loader for every common layout.

MNIST ships as IDX files: a tiny header, then the raw numbers, big-endian::

    byte 0-1   0x00 0x00                     (magic, always zero)
    byte 2     type code: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                          0x0D float32, 0x0E float64
    byte 3     number of dimensions d
    then       d sizes, each a big-endian uint32
    then       prod(sizes) values of the type, row-major (C order)

The images file ``*-images-idx3-ubyte`` is ``uint8`` of shape (n, 28, 28); the
labels file ``*-labels-idx1-ubyte`` is ``uint8`` of shape (n,). Both are
usually gzip-compressed (``.gz``).

glassnet ships a 3,000-image slice of the MNIST test set (300 per digit) so
``load_mnist()`` works offline; see ``glassnet/datasets/data/README.md``.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from glassnet._validation import check_choice, check_int
from glassnet.config import float_dtype
from glassnet.datasets.download import KERAS_DATASETS_URL, get_file, read_npz

__all__ = ["load_data", "load_mnist", "read_idx", "write_idx"]

PathLike = str | os.PathLike

#: IDX type code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_FILES = (
    DATA_DIR / "mnist-sample-images-idx3-ubyte.gz",
    DATA_DIR / "mnist-sample-labels-idx1-ubyte.gz",
)
IMAGE_SIDE = 28
N_PIXELS = IMAGE_SIDE * IMAGE_SIDE

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path: Path) -> bytes:
    """The file's content, decompressed when it is gzip (detected from its first bytes)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"No such file: '{path}'") from None
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(
            f"'{path}' is a corrupt or truncated gzip file ({exc}); download it again"
        ) from None


def read_idx(path: PathLike) -> np.ndarray:
    """Read an IDX file (gzip-compressed or plain) into a NumPy array.

    Every part of the header is checked, and a damaged file raises a
    ValueError that names the file and what is wrong with it.

    Parameters
    ----------
    path : str or os.PathLike
        For example ``t10k-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray
        The shape given in the header; dtype in native byte order
        (``uint8`` for MNIST).
    """
    path = Path(path)
    content = _read_bytes(path)
    if len(content) < 4:
        raise ValueError(
            f"'{path}' is not an IDX file: it has {len(content)} bytes, the header alone needs 4"
        )
    if content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"'{path}' is not an IDX file: its magic number starts with bytes "
            f"0x{content[0]:02x} 0x{content[1]:02x}, expected 0x00 0x00"
        )
    type_code, n_dims = content[2], content[3]
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X} ({dtype.name})" for code, dtype in IDX_DTYPES.items())
        raise ValueError(f"'{path}': unknown IDX type code 0x{type_code:02X}; known codes: {known}")
    if n_dims == 0:
        raise ValueError(f"'{path}': the IDX header declares 0 dimensions")
    header_length = 4 + 4 * n_dims
    if len(content) < header_length:
        raise ValueError(
            f"'{path}' is truncated: the header declares {n_dims} dimensions, which needs "
            f"{header_length} bytes, but the file has {len(content)}"
        )
    shape = tuple(int(size) for size in np.frombuffer(content, dtype=">u4", count=n_dims, offset=4))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    found = len(content) - header_length
    if found < expected:
        raise ValueError(
            f"'{path}' is truncated: shape {shape} of {dtype.name} needs {expected} data bytes "
            f"after the header, but only {found} are there"
        )
    if found > expected:
        raise ValueError(
            f"'{path}' is corrupt: shape {shape} of {dtype.name} needs {expected} data bytes "
            f"after the header, but {found} are there ({found - expected} extra)"
        )
    array = np.frombuffer(content, dtype=dtype, offset=header_length).reshape(shape)
    # Native byte order, and a writeable copy that does not keep `content` alive.
    return array.astype(dtype.newbyteorder("="))


def write_idx(path: PathLike, array: Any) -> None:
    """Write ``array`` as an IDX file; gzip-compressed when ``path`` ends in ``.gz``.

    The gzip header carries no file name or time stamp, so the same array
    always gives the same bytes.

    Parameters
    ----------
    path : str or os.PathLike
    array : array-like of uint8, int8, int16, int32, float32 or float64, at least 1-D
    """
    array = np.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    if array.dtype not in codes:
        raise TypeError(
            f"array dtype {array.dtype} has no IDX type code; use one of "
            f"{sorted(d.name for d in codes)}"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"array must have 1 to 255 dimensions, got shape {array.shape}")
    sizes = np.asarray(array.shape, dtype=">u4").tobytes()
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + sizes
    content = header + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder(">")).tobytes()
    path = Path(path)
    if path.suffix == ".gz":
        with open(path, "wb") as file, gzip.GzipFile(
            filename="", mode="wb", fileobj=file, mtime=0
        ) as compressed:
            compressed.write(content)
    else:
        path.write_bytes(content)


# --------------------------------------------------------------------------- loading


def _idx_file_names(kind: str) -> tuple[list[str], list[str]]:
    """The names the images and labels files of one split go by."""
    prefix = "t10k" if kind == "test" else "train"
    images, labels = [], []
    for separator in ("-", "."):  # "t10k-images-idx3-ubyte" and "t10k-images.idx3-ubyte"
        for suffix in (".gz", ""):
            images.append(f"{prefix}-images{separator}idx3-ubyte{suffix}")
            labels.append(f"{prefix}-labels{separator}idx1-ubyte{suffix}")
    return images, labels


def _find_in_directory(directory: Path, kind: str) -> tuple[Path, Path] | Path:
    """The (images, labels) IDX files of ``kind`` in ``directory``, or its CSV file."""
    image_names, label_names = _idx_file_names(kind)
    images = next((directory / n for n in image_names if (directory / n).is_file()), None)
    labels = next((directory / n for n in label_names if (directory / n).is_file()), None)
    if images is not None and labels is not None:
        return images, labels
    csv_names = [f"mnist_{kind}.csv", f"mnist_{kind}.csv.gz"]
    csv = next((directory / n for n in csv_names if (directory / n).is_file()), None)
    if csv is not None:
        return csv
    present = sorted(p.name for p in directory.iterdir())[:20]
    raise FileNotFoundError(
        f"No MNIST {kind} files in '{directory}'. Looked for {image_names[1]} and "
        f"{label_names[1]} (with or without .gz) or {csv_names[0]}; the directory holds: "
        f"{present or 'nothing'}"
    )


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(
            f"'{images_path}' holds an array of shape {images.shape}, expected MNIST images "
            f"of shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}); are the images and labels swapped?"
        )
    if labels.ndim != 1:
        raise ValueError(
            f"'{labels_path}' holds an array of shape {labels.shape}, expected labels of shape (n,)"
        )
    if len(images) != len(labels):
        raise ValueError(
            f"'{images_path}' has {len(images)} images but '{labels_path}' has {len(labels)} labels"
        )
    return images, labels


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST as CSV: one image per row, ``label, pixel_0, ..., pixel_783``; header optional."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt") as file:
        first_line = file.readline()
        if not first_line.strip():
            raise ValueError(f"'{path}' is empty (or starts with an empty line)")
        first_field = first_line.split(",", 1)[0].strip()
        has_header = not first_field.lstrip("+-").replace(".", "", 1).isdigit()
        file.seek(0)
        try:
            table = np.loadtxt(file, delimiter=",", skiprows=int(has_header), ndmin=2)
        except ValueError as exc:
            raise ValueError(f"'{path}' is not a valid MNIST CSV file: {exc}") from None
    if table.size == 0:
        raise ValueError(f"'{path}' contains no rows of data")
    if table.shape[1] != 1 + N_PIXELS:
        raise ValueError(
            f"'{path}' has {table.shape[1]} columns per row, expected {1 + N_PIXELS} "
            f"(the label, then {N_PIXELS} pixel values)"
        )
    labels, pixels = table[:, 0], table[:, 1:]
    if np.any(pixels < 0) or np.any(pixels > 255) or np.any(pixels != np.round(pixels)):
        raise ValueError(f"'{path}': pixel values must be integers in 0 .. 255")
    return pixels.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.uint8), labels


def load_mnist(
    path: PathLike | tuple[PathLike, PathLike] | None = None,
    *,
    kind: str = "test",
    binary_digit: int | None = None,
    normalize: bool = True,
    flatten: bool = True,
    n_samples: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load MNIST digits as ``(X, y)`` ready for a Dense network.

    Parameters
    ----------
    path : None, directory, CSV file, or (images_file, labels_file)
        * ``None``: the 3,000-image slice shipped with glassnet (300 per
          digit from the MNIST test set, shuffled); works offline.
        * a directory holding ``t10k-images-idx3-ubyte[.gz]`` and
          ``t10k-labels-idx1-ubyte[.gz]`` (``train-*`` for ``kind='train'``),
          or ``mnist_test.csv`` / ``mnist_train.csv``.
        * a CSV file: one image per row, the label then 784 pixel values
          0..255, with or without a header line.
        * a pair of IDX file paths ``(images, labels)``, gzip or plain.
    kind : {'test', 'train'}, default 'test'
        Which split to look for in a directory.
    binary_digit : int in 0..9, optional
        Turn the task into "is it this digit?": ``y = 1`` where the label is
        ``binary_digit``, else 0 (the article's "is it a 9" network).
    normalize : bool, default True
        Scale the pixels from 0..255 to [0, 1]: ``x = pixel / 255``.
    flatten : bool, default True
        Return images as rows of 784 pixels (row-major) instead of 28x28.
    n_samples : int, optional
        Keep only the first ``n_samples`` images.

    Returns
    -------
    X : ndarray of shape (n, 784), or (n, 28, 28) with ``flatten=False``
        ``glassnet.config.float_dtype()`` (float32 by default).
    y : ndarray of shape (n,), int64
        The digit 0..9, or 0/1 with ``binary_digit``.
    """
    kind = check_choice("kind", kind, ("test", "train"))
    if binary_digit is not None:
        binary_digit = check_int("binary_digit", binary_digit, minimum=0)
        if binary_digit > 9:
            raise ValueError(f"binary_digit must be a digit in 0 .. 9, got {binary_digit}")
    if n_samples is not None:
        n_samples = check_int("n_samples", n_samples, minimum=1)

    if path is None:
        if kind != "test":
            raise ValueError(
                "The built-in MNIST sample is a slice of the test set and has no 'train' part; "
                "split it with train_test_split, or pass path= to the full MNIST files"
            )
        images, labels = _read_idx_pair(*SAMPLE_FILES)
    elif isinstance(path, tuple | list):
        if len(path) != 2:
            raise ValueError(
                f"path as a sequence must be (images_file, labels_file), got {len(path)} items"
            )
        images, labels = _read_idx_pair(Path(path[0]), Path(path[1]))
    else:
        path = Path(path)
        if path.is_dir():
            found = _find_in_directory(path, kind)
            if isinstance(found, tuple):
                images, labels = _read_idx_pair(*found)
            else:
                images, labels = _read_csv(found)
        elif path.name.endswith((".csv", ".csv.gz")):
            images, labels = _read_csv(path)
        elif path.exists():
            raise ValueError(
                f"'{path}' is a single file but not a .csv; for IDX files pass the pair "
                "(images_file, labels_file) or the directory holding them"
            )
        else:
            raise FileNotFoundError(f"No such file or directory: '{path}'")

    if n_samples is not None:
        images, labels = images[:n_samples], labels[:n_samples]
    if labels.size and (labels.min() < 0 or labels.max() > 9 or np.any(labels != np.round(labels))):
        found_labels = np.unique(labels)[:12].tolist()
        raise ValueError(f"MNIST labels must be digits 0 .. 9, found values {found_labels}")

    X = images.astype(float_dtype())
    if normalize:
        X /= 255.0
    if flatten:
        X = X.reshape(len(X), N_PIXELS)
    y = labels.astype(np.int64)
    if binary_digit is not None:
        y = (y == binary_digit).astype(np.int64)
    return X, y


#: SHA-256 of Keras's ``mnist.npz`` (keras/src/datasets/mnist.py).
MNIST_NPZ_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

Split = tuple[np.ndarray, np.ndarray]


def load_data(
    path: str = "mnist.npz",
    *,
    cache_dir: PathLike | None = None,
    base_url: str = KERAS_DATASETS_URL,
    file_hash: str = MNIST_NPZ_SHA256,
) -> tuple[Split, Split]:
    """The full MNIST data set as Keras returns it: ``(x_train, y_train), (x_test, y_test)``.

    The 11 MB file ``mnist.npz`` comes from glassnet's cache, else Keras's cache
    (``~/.keras/datasets/mnist.npz``), else Keras's URL, checked against its SHA-256
    (see :func:`glassnet.datasets.download.get_file`). For the 3,000-image slice
    that ships with glassnet and needs no download, use :func:`load_mnist`.

    Parameters
    ----------
    path : str, default 'mnist.npz'
        The file's name in the caches.
    cache_dir : path, optional
        glassnet's data-set folder (default ``$GLASSNET_HOME/datasets``, ``~/.glassnet/datasets``).
    base_url, file_hash : str
        Where to download from and the SHA-256 to expect (for a mirror).

    Returns
    -------
    (x_train, y_train), (x_test, y_test)
        ``x``: uint8 pixels 0..255 of shape (60000, 28, 28) and (10000, 28, 28);
        ``y``: uint8 digits 0..9 of shape (60000,) and (10000,).
    """
    file = get_file(path, base_url + "mnist.npz", file_hash, cache_dir=cache_dir)
    arrays = read_npz(file, ("x_train", "y_train", "x_test", "y_test"))
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])

"""Fetching a data file once and keeping it: the cache behind ``mnist.load_data()`` and friends.

:func:`get_file` looks for the file, in order,

1. in glassnet's cache, ``$GLASSNET_HOME/datasets/`` (default ``~/.glassnet/datasets/``,
   or the ``cache_dir`` argument);
2. in Keras's cache, ``$KERAS_HOME/datasets/`` (default ``~/.keras/datasets/``), so a
   file Keras already downloaded is used where it lies;
3. at its public URL (the one Keras uses), downloaded into glassnet's cache.

Every file, found or downloaded, must have the expected SHA-256: a truncated
download or a different file is never read as data. A download goes to a
temporary file next to the target, which is renamed into place (``os.replace``)
only once complete and verified, so a crash never leaves a half-written file
under the final name. With ``tqdm`` installed (``pip install glassnet[progress]``)
a progress bar shows the download. Without a network, the error says where to put
the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

__all__ = [
    "KERAS_DATASETS_URL", "DatasetDownloadError", "get_file", "glassnet_cache_dir", "keras_cache_dir",
    "read_npz",
]

#: Where Keras 3 downloads its data sets from (keras/src/datasets/*.py).
KERAS_DATASETS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

_CHUNK = 1 << 16


class DatasetDownloadError(OSError):
    """A data file could not be found in a cache nor downloaded."""


def glassnet_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$GLASSNET_HOME/datasets``, else ``~/.glassnet/datasets``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    home = os.environ.get("GLASSNET_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".glassnet") / "datasets"


def keras_cache_dir() -> Path:
    """Keras's data-set cache: ``$KERAS_HOME/datasets``, else ``~/.keras/datasets``."""
    home = os.environ.get("KERAS_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".keras") / "datasets"


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def get_file(
    fname: str,
    origin: str,
    file_hash: str,
    cache_subdir: str = "",
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 60.0,
) -> Path:
    """The local path of ``fname``, found in a cache or downloaded from ``origin`` (see the module).

    Parameters
    ----------
    fname : str
        The file name, e.g. ``'mnist.npz'``.
    origin : str
        Its URL.
    file_hash : str
        Its SHA-256 (64 hex digits); any file found or downloaded must match it.
    cache_subdir : str
        A folder under ``datasets/`` in both caches (Keras keeps Fashion-MNIST in ``fashion-mnist``).
    cache_dir : path, optional
        glassnet's data-set folder instead of ``$GLASSNET_HOME/datasets``.
    timeout : float
        Seconds to wait for the server.

    Returns
    -------
    pathlib.Path
    """
    target = glassnet_cache_dir(cache_dir) / cache_subdir / fname
    keras_copy = keras_cache_dir() / cache_subdir / fname
    for candidate in (target, keras_copy):
        if candidate.is_file() and sha256_of(candidate) == file_hash:
            return candidate
    _download(origin, target, file_hash, timeout, keras_copy)
    return target


def _download(origin: str, target: Path, file_hash: str, timeout: float, keras_copy: Path) -> None:
    """``origin`` → a temporary file beside ``target`` → verified → renamed to ``target``."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetDownloadError(f"Cannot create the data-set folder {str(target.parent)!r} ({exc}); "
                                   "set GLASSNET_HOME to a writable folder") from None
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out:
            digest = _copy_from_url(origin, out, target.name, timeout, target, keras_copy)
        if digest != file_hash:
            raise DatasetDownloadError(
                f"The file downloaded from {origin} has SHA-256 {digest}, expected {file_hash}: the "
                "download was corrupted or the server sent another file. Nothing was saved; try again"
            )
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def _copy_from_url(origin: str, out: BinaryIO, name: str, timeout: float, target: Path,
                   keras_copy: Path) -> str:
    """Stream ``origin`` into ``out``; return the SHA-256 of the bytes written."""
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(origin, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with _progress(total, name) as advance:
                for chunk in iter(lambda: response.read(_CHUNK), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    advance(len(chunk))
            if total is not None and received != total:
                raise ConnectionError(f"the connection closed after {received:,} of {total:,} bytes")
    except (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or f"{type(exc).__name__}: {exc}"
        raise DatasetDownloadError(
            f"Cannot download {name} from {origin} ({reason}). If this machine is offline, download "
            f"that URL elsewhere and put the file at {str(target)!r} (or at {str(keras_copy)!r}, "
            "Keras's cache); set GLASSNET_HOME to use another folder"
        ) from None
    return digest.hexdigest()


@contextmanager
def _progress(total: int | None, name: str) -> Iterator[Callable[[int], Any]]:
    """``advance(n_bytes)``: a tqdm progress bar when tqdm is installed, otherwise nothing."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        yield lambda n_bytes: None
        return
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"Downloading {name}") as bar:
        yield bar.update


def read_npz(path: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``.npz`` file, read without pickle (``allow_pickle=False``)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in names if name not in archive.files]
            if missing:
                raise ValueError(f"'{path}' lacks the arrays {missing} (it has {archive.files})")
            return {name: archive[name] for name in names}
    except (OSError, ValueError, EOFError) as exc:
        raise ValueError(f"'{path}' is not a readable .npz file of plain arrays ({exc}); delete it "
                         "and load again") from None

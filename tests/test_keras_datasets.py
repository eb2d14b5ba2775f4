"""mnist / fashion_mnist / boston_housing.load_data(): caches, download, SHA-256, atomic writes.

Nothing here touches the internet: the files are made from the MNIST slice that ships
with glassnet and served by an HTTP server on 127.0.0.1; the loaders are pointed at it
with their ``base_url=`` and ``file_hash=`` arguments.
"""

import hashlib
import http.server
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from glassnet.datasets import boston_housing, fashion_mnist, mnist
from glassnet.datasets.download import DatasetDownloadError, get_file
from glassnet.datasets.mnist import SAMPLE_FILES, read_idx, write_idx


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def _no_real_caches(tmp_path, monkeypatch):
    """Both caches live under tmp_path, never in the user's home."""
    monkeypatch.setenv("GLASSNET_HOME", str(tmp_path / "glassnet-home"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


@pytest.fixture(scope="module")
def sample():
    return read_idx(SAMPLE_FILES[0]), read_idx(SAMPLE_FILES[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory, sample):
    """Keras-format files made from the shipped slice, served on 127.0.0.1 (once per module)."""
    images, labels = sample
    root = tmp_path_factory.mktemp("server")
    (root / "broken").mkdir(parents=True)
    np.savez(root / "mnist.npz", x_train=images[:2000], y_train=labels[:2000],
             x_test=images[2000:], y_test=labels[2000:])
    rng = np.random.default_rng(0)
    np.savez(root / "boston_housing.npz", x=rng.normal(size=(506, 13)), y=rng.uniform(5, 50, 506))
    for part, rows in (("train", slice(0, 2500)), ("t10k", slice(2500, None))):
        write_idx(root / f"{part}-images-idx3-ubyte.gz", images[rows])
        write_idx(root / f"{part}-labels-idx1-ubyte.gz", labels[rows])
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(root), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            if self.path.startswith("/broken/"):      # promises more bytes than it sends, then hangs up
                self.send_response(200)
                self.send_header("Content-Length", "100000")
                self.end_headers()
                self.wfile.write(b"x" * 1000)
                return
            super().do_GET()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_address[1]}/", "root": root, "requests": requests}
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def served(server):
    server["requests"].clear()
    return server


@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens (as good as offline)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_mnist_downloads_verifies_and_caches(served, tmp_path, capsys):
    h = _sha256(served["root"] / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(base_url=served["url"], file_hash=h)
    assert x_train.shape == (2000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert x_train.dtype == y_train.dtype == np.uint8 and y_test.shape == (1000,)
    cached = tmp_path / "glassnet-home" / "datasets" / "mnist.npz"
    assert _sha256(cached) == h
    assert [p.name for p in cached.parent.iterdir()] == ["mnist.npz"]      # no temporary file left
    assert "Downloading mnist.npz" in capsys.readouterr().err              # tqdm's progress bar
    mnist.load_data(base_url=served["url"], file_hash=h)
    assert served["requests"] == ["/mnist.npz"]                             # the second load used the cache


def test_a_wrong_hash_saves_nothing(served, tmp_path):
    with pytest.raises(DatasetDownloadError, match="has SHA-256 [0-9a-f]{64}, expected 0{64}"):
        mnist.load_data(base_url=served["url"], file_hash="0" * 64)
    folder = tmp_path / "glassnet-home" / "datasets"
    assert list(folder.iterdir()) == []


def test_an_interrupted_download_leaves_no_file(served, tmp_path):
    with pytest.raises(DatasetDownloadError, match="Cannot download mnist.npz"):
        mnist.load_data(base_url=served["url"] + "broken/", file_hash="0" * 64)
    assert list((tmp_path / "glassnet-home" / "datasets").iterdir()) == []


def test_a_damaged_cached_file_is_downloaded_again(served, tmp_path):
    h = _sha256(served["root"] / "mnist.npz")
    cached = tmp_path / "own-cache" / "mnist.npz"
    cached.parent.mkdir()
    cached.write_bytes(b"truncated")
    (x_train, _), _ = mnist.load_data(cache_dir=tmp_path / "own-cache", base_url=served["url"], file_hash=h)
    assert x_train.shape == (2000, 28, 28) and _sha256(cached) == h


def test_a_keras_cache_is_reused_where_it_lies(served, tmp_path, closed_port_url):
    keras_file = tmp_path / "keras-home" / "datasets" / "mnist.npz"
    keras_file.parent.mkdir(parents=True)
    keras_file.write_bytes((served["root"] / "mnist.npz").read_bytes())
    path = get_file("mnist.npz", closed_port_url + "mnist.npz", _sha256(keras_file))
    assert path == keras_file
    (x_train, _), _ = mnist.load_data(base_url=closed_port_url, file_hash=_sha256(keras_file))
    assert x_train.shape == (2000, 28, 28)
    assert not (tmp_path / "glassnet-home").exists()                        # nothing copied or downloaded


def test_offline_says_where_to_put_the_file(tmp_path, closed_port_url):
    with pytest.raises(DatasetDownloadError) as info:
        mnist.load_data(base_url=closed_port_url, file_hash="0" * 64)
    message = str(info.value)
    assert "offline" in message and closed_port_url + "mnist.npz" in message
    assert str(tmp_path / "glassnet-home" / "datasets" / "mnist.npz") in message
    assert str(tmp_path / "keras-home" / "datasets" / "mnist.npz") in message


def test_fashion_mnist_from_four_idx_files(served, tmp_path):
    hashes = {p.name: _sha256(p) for p in served["root"].glob("*-ubyte.gz")}
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(base_url=served["url"], file_hashes=hashes)
    assert x_train.shape == (2500, 28, 28) and x_test.shape == (500, 28, 28)
    assert y_train.shape == (2500,) and x_train.dtype == y_test.dtype == np.uint8
    assert (tmp_path / "glassnet-home" / "datasets" / "fashion-mnist" / "t10k-images-idx3-ubyte.gz").is_file()
    assert len(fashion_mnist.CLASS_NAMES) == 10 and len(fashion_mnist.FILE_HASHES) == 4


def test_boston_housing_split_is_keras_split(served):
    h = _sha256(served["root"] / "boston_housing.npz")
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data(base_url=served["url"], file_hash=h)
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13) and y_train.shape == (404,)
    assert x_train.dtype == y_test.dtype == np.float64
    with np.load(served["root"] / "boston_housing.npz") as f:
        x, y = f["x"], f["y"]
    order = np.arange(506)
    np.random.RandomState(113).shuffle(order)          # Keras: RandomState(seed).shuffle, first 80% train
    np.testing.assert_array_equal(x_train, x[order[:404]])
    np.testing.assert_array_equal(y_test, y[order[404:]])
    (x_train_50, _), _ = boston_housing.load_data(test_split=0.5, seed=1, base_url=served["url"], file_hash=h)
    assert len(x_train_50) == 253 and not np.array_equal(x_train_50, x_train[:253])
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.0)


def test_npz_is_read_without_pickle(tmp_path, served):
    evil = tmp_path / "objects" / "mnist.npz"
    evil.parent.mkdir()
    np.savez(evil, x_train=np.array([{"a": 1}], dtype=object), y_train=np.zeros(1), x_test=np.zeros(1),
             y_test=np.zeros(1))
    with pytest.raises(ValueError, match="not a readable .npz file of plain arrays"):
        mnist.load_data(cache_dir=evil.parent, file_hash=_sha256(evil))


def test_real_hashes_are_keras_hashes():
    """The defaults are the SHA-256 values Keras 3 checks (keras/src/datasets/*.py)."""
    assert mnist.MNIST_NPZ_SHA256 == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
    assert boston_housing.BOSTON_HOUSING_SHA256.startswith("f553886a1f8d5643")
    assert os.path.basename(mnist.load_data.__kwdefaults__["base_url"].rstrip("/")) == "tf-keras-datasets"


def test_the_keras_mnist_mlp_example_runs_with_only_its_imports_changed(served):
    """keras-team's mnist_mlp.py (Keras 2), epochs and sizes cut down, on the served MNIST files."""
    from glassnet.layers import Dense, Dropout
    from glassnet.models import Sequential
    from glassnet.optimizers import RMSprop
    from glassnet.utils import to_categorical

    h = _sha256(served["root"] / "mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(base_url=served["url"], file_hash=h)
    x_train = x_train.reshape(2000, 784).astype("float32") / 255
    x_test = x_test.reshape(1000, 784).astype("float32") / 255
    y_train, y_test = to_categorical(y_train, 10), to_categorical(y_test, 10)
    model = Sequential()
    model.add(Dense(128, activation="relu", input_shape=(784,)))
    model.add(Dropout(0.2))
    model.add(Dense(10, activation="softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=RMSprop(), metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=4, verbose=0,
                        validation_data=(x_test, y_test))
    score = model.evaluate(x_test, y_test, verbose=0)
    assert model.metrics_names == ["loss", "accuracy"]
    assert score[1] == pytest.approx(history.history["val_accuracy"][-1]) and score[1] > 0.8

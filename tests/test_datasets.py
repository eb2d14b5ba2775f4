"""Tests for glassnet.datasets: generators, fruit, MNIST reading, preprocessing helpers."""

from __future__ import annotations

import gzip
import re
import sys
import types

import numpy as np
import pytest
import sklearn.datasets
import sklearn.preprocessing
from sklearn.linear_model import LogisticRegression

from glassnet.config import set_floatx
from glassnet.datasets import (
    FRUIT_CATEGORIES,
    Bunch,
    OneHotEncoder,
    StandardScaler,
    load_fruit_features,
    load_mnist,
    make_circles,
    make_fruit,
    make_gaussians,
    make_moons,
    make_spirals,
    make_xor,
    read_idx,
    to_categorical,
    train_test_split,
    write_idx,
)

GENERATORS = [make_circles, make_moons, make_spirals, make_xor, make_gaussians]


# --------------------------------------------------------------------------- toy generators


@pytest.mark.parametrize("make", GENERATORS)
def test_generators_shapes_dtypes_and_reproducibility(make):
    X, y = make(101, random_state=3)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.shape == (101,) and y.dtype == np.int64
    assert np.isfinite(X).all()
    X_again, y_again = make(101, random_state=3)
    np.testing.assert_array_equal(X, X_again)
    np.testing.assert_array_equal(y, y_again)
    X_other, _ = make(101, random_state=4)
    assert not np.array_equal(X, X_other)


def test_circles_noiseless_matches_sklearn_exactly():
    for n_samples in (100, 7, (30, 12)):
        X, y = make_circles(n_samples, shuffle=False, factor=0.3)
        X_ref, y_ref = sklearn.datasets.make_circles(n_samples, shuffle=False, factor=0.3)
        np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(y, y_ref)
    # Odd totals: the inner circle (label 1) gets the extra point.
    _, y = make_circles(7, random_state=0)
    assert np.bincount(y).tolist() == [3, 4]


def test_circles_statistics_agree_with_sklearn():
    kwargs = dict(n_samples=4000, noise=0.08, factor=0.5)
    X, y = make_circles(**kwargs, random_state=0)
    X_ref, y_ref = sklearn.datasets.make_circles(**kwargs, random_state=0)
    assert np.bincount(y).tolist() == np.bincount(y_ref).tolist() == [2000, 2000]
    for label, radius in [(0, 1.0), (1, 0.5)]:
        r, r_ref = np.hypot(*X[y == label].T), np.hypot(*X_ref[y_ref == label].T)
        assert abs(r.mean() - r_ref.mean()) < 0.01 and abs(r.mean() - radius) < 0.01
        assert abs(r.std() - r_ref.std()) < 0.01
    # Shuffled: the labels are mixed, not in two blocks.
    assert 0 < y[:100].sum() < 100


def test_moons_noiseless_matches_sklearn_and_statistics_agree():
    X, y = make_moons((20, 13), shuffle=False)
    X_ref, y_ref = sklearn.datasets.make_moons((20, 13), shuffle=False)
    np.testing.assert_allclose(X, X_ref, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(y, y_ref)
    X, y = make_moons(4000, noise=0.1, random_state=1)
    X_ref, y_ref = sklearn.datasets.make_moons(4000, noise=0.1, random_state=1)
    for label in (0, 1):
        np.testing.assert_allclose(X[y == label].mean(0), X_ref[y_ref == label].mean(0), atol=0.03)
        np.testing.assert_allclose(X[y == label].std(0), X_ref[y_ref == label].std(0), atol=0.03)


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="noise"):
        make_circles(10, noise=-0.1)
    with pytest.raises(ValueError, match="factor"):
        make_circles(10, factor=1.0)
    with pytest.raises(ValueError, match="two ints"):
        make_moons((1, 2, 3))
    with pytest.raises(TypeError, match="n_samples"):
        make_spirals(10.5)
    with pytest.raises(ValueError, match="n_classes"):
        make_gaussians(10, n_classes=0)


def test_spirals_xor_gaussians_structure():
    X, y = make_spirals(301, n_classes=4, noise=0.1, random_state=0)
    assert np.bincount(y).tolist() == [76, 75, 75, 75]
    assert np.hypot(*X.T).max() <= 1.0 + 1e-12
    X, y = make_xor(203, noise=0.0, random_state=0)
    np.testing.assert_array_equal(y, (X[:, 0] > 0) ^ (X[:, 1] > 0))
    assert np.abs(X).min() >= 0.1
    assert sorted(np.bincount(y).tolist()) == [101, 102]
    X, y = make_gaussians(3000, n_classes=5, n_features=3, cluster_std=0.5, random_state=0)
    assert X.shape == (3000, 3) and np.bincount(y).tolist() == [600] * 5
    for label in range(5):
        np.testing.assert_allclose(X[y == label].std(0), 0.5, atol=0.05)


# --------------------------------------------------------------------------- fruit


def test_make_fruit_fields_and_reproducibility():
    fruit = make_fruit(301, random_state=0)
    assert isinstance(fruit, Bunch) and fruit.target is fruit["target"]
    assert fruit.target_names == ["apple", "banana", "orange"]
    assert fruit.feature_names == ["weight", "colour", "texture", "size"]
    assert fruit.categorical_features == ["colour", "texture", "size"]
    assert fruit.target.dtype == np.int64 and sorted(np.bincount(fruit.target)) == [100, 100, 101]
    assert fruit.data["weight"].dtype == np.float64 and fruit.data["weight"].shape == (301,)
    for name, values in FRUIT_CATEGORIES.items():
        assert set(fruit.data[name]) <= set(values)
    weight = fruit.data["weight"]
    assert 160 < weight[fruit.target == 0].mean() < 190  # apples
    assert 105 < weight[fruit.target == 1].mean() < 135  # bananas
    assert np.mean(fruit.data["colour"][fruit.target == 2] == "orange") > 0.85
    again = make_fruit(301, random_state=0)
    np.testing.assert_array_equal(again.data["colour"], fruit.data["colour"])
    np.testing.assert_array_equal(again.data["weight"], fruit.data["weight"])
    assert not np.array_equal(make_fruit(301, random_state=1).data["weight"], weight)
    with pytest.raises(AttributeError, match="no field 'nope'"):
        _ = fruit.nope


def test_fruit_as_frame(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if pandas were not installed
    with pytest.raises(ImportError, match="needs pandas"):
        make_fruit(10, as_frame=True)

    class FakeFrame(dict):
        def assign(self, **columns):
            return FakeFrame(self, **columns)

    monkeypatch.setitem(sys.modules, "pandas", types.SimpleNamespace(DataFrame=FakeFrame))
    fruit = make_fruit(10, random_state=0, as_frame=True)
    assert list(fruit.data) == ["weight", "colour", "texture", "size"]
    np.testing.assert_array_equal(fruit.frame["target"], fruit.target)


def test_fruit_features_train_a_softmax_classifier():
    X, y = load_fruit_features(600, random_state=0)
    assert X.shape == (600, 10) and X.dtype == np.float32 and y.shape == (600,)
    np.testing.assert_allclose([X[:, 0].mean(), X[:, 0].std()], [0, 1], atol=1e-5)
    for block in (slice(1, 5), slice(5, 7), slice(7, 10)):  # colour, texture, size
        np.testing.assert_array_equal(X[:, block].sum(1), 1)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    softmax = LogisticRegression(max_iter=1000).fit(X_train, y_train)  # multinomial
    assert softmax.score(X_test, y_test) >= 0.97


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize(
    "dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]
)
def test_idx_round_trip(tmp_path, suffix, dtype):
    array = (np.random.default_rng(0).normal(size=(3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"array.idx{suffix}"
    write_idx(path, array)
    loaded = read_idx(path)
    assert loaded.dtype == np.dtype(dtype) and loaded.dtype.isnative
    np.testing.assert_array_equal(loaded, array)


def test_idx_header_bytes_and_reproducible_gzip(tmp_path):
    write_idx(tmp_path / "labels", np.array([7, 2, 1], dtype=np.uint8))
    assert (tmp_path / "labels").read_bytes() == bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1])
    write_idx(tmp_path / "a.gz", np.arange(10, dtype=np.int32))
    write_idx(tmp_path / "b.gz", np.arange(10, dtype=np.int32))
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    with pytest.raises(TypeError, match="no IDX type code"):
        write_idx(tmp_path / "c", np.arange(3, dtype=np.int64))


def _good_idx_bytes() -> bytes:
    return bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))


@pytest.mark.parametrize(
    "content, problem",
    [
        (_good_idx_bytes()[:-1], "truncated"),
        (_good_idx_bytes()[:10], "truncated"),
        (_good_idx_bytes() + b"\x00", "corrupt"),
        (b"\x00\x00", "not an IDX file"),
        (b"\x12\x34" + _good_idx_bytes()[2:], "magic number"),
        (_good_idx_bytes()[:2] + b"\x0a" + _good_idx_bytes()[3:], "unknown IDX type code 0x0A"),
        (_good_idx_bytes()[:3] + b"\x00", "0 dimensions"),
        (gzip.compress(_good_idx_bytes())[:-6], "corrupt or truncated gzip"),
        (gzip.compress(_good_idx_bytes()[:-2]), "truncated"),
    ],
)
def test_read_idx_rejects_damaged_files_naming_them(tmp_path, content, problem):
    path = tmp_path / "damaged-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=re.escape(problem)) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_good_file_and_missing_file(tmp_path):
    path = tmp_path / "good"
    path.write_bytes(_good_idx_bytes())
    np.testing.assert_array_equal(read_idx(path), [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(FileNotFoundError, match="missing"):
        read_idx(tmp_path / "missing")


# --------------------------------------------------------------------------- MNIST loading


@pytest.fixture
def tiny_mnist():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 3], dtype=np.uint8)
    return images, labels


def test_load_mnist_from_idx_directory_and_pair(tmp_path, tiny_mnist):
    images, labels = tiny_mnist
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    write_idx(tmp_path / "train-images.idx3-ubyte", images[:5])  # dotted, uncompressed
    write_idx(tmp_path / "train-labels.idx1-ubyte", labels[:5])
    X, y = load_mnist(tmp_path)
    assert X.shape == (12, 784) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, images.reshape(12, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y, labels)
    X, y = load_mnist(tmp_path, kind="train", normalize=False, flatten=False)
    assert X.shape == (5, 28, 28) and X.max() > 1
    np.testing.assert_array_equal(X, images[:5])
    pair = (tmp_path / "t10k-images-idx3-ubyte.gz", tmp_path / "t10k-labels-idx1-ubyte.gz")
    X, y = load_mnist(pair, binary_digit=9, n_samples=11)
    assert X.shape == (11, 784)
    np.testing.assert_array_equal(y, [0] * 9 + [1, 1])
    with pytest.raises(ValueError, match="swapped"):
        load_mnist(pair[::-1])


def test_load_mnist_float64_follows_config(tmp_path, tiny_mnist):
    write_idx(tmp_path / "t10k-images-idx3-ubyte", tiny_mnist[0])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", tiny_mnist[1])
    set_floatx("float64")
    try:
        X, _ = load_mnist(tmp_path)
    finally:
        set_floatx("float32")
    assert X.dtype == np.float64


@pytest.mark.parametrize("header", [True, False])
def test_load_mnist_from_csv(tmp_path, tiny_mnist, header):
    images, labels = tiny_mnist
    rows = np.column_stack([labels, images.reshape(12, 784)])
    header_line = ",".join(["label"] + [f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)])
    path = tmp_path / "mnist_test.csv"
    np.savetxt(path, rows, fmt="%d", delimiter=",", header=header_line if header else "",
               comments="")
    if not header:  # np.savetxt writes an empty first line for header=""
        path.write_text(path.read_text().lstrip("\n"))
    for source in (path, tmp_path):  # the file, or the directory holding mnist_test.csv
        X, y = load_mnist(source, flatten=False)
        np.testing.assert_allclose(X, images / 255.0, rtol=1e-6)
        np.testing.assert_array_equal(y, labels)


def test_load_mnist_errors(tmp_path, tiny_mnist):
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("5,0,0,0\n3,1,2,3\n")
    with pytest.raises(ValueError, match="4 columns per row, expected 785"):
        load_mnist(bad_csv)
    with pytest.raises(FileNotFoundError, match="No MNIST test files"):
        load_mnist(tmp_path)
    write_idx(tmp_path / "single-idx3-ubyte", tiny_mnist[0])
    with pytest.raises(ValueError, match="pass the pair"):
        load_mnist(tmp_path / "single-idx3-ubyte")
    with pytest.raises(ValueError, match="binary_digit"):
        load_mnist(binary_digit=10)
    with pytest.raises(ValueError, match="Unknown kind"):
        load_mnist(kind="validation")
    with pytest.raises(ValueError, match="no 'train' part"):
        load_mnist(kind="train")


def test_shipped_mnist_sample():
    X, y = load_mnist()
    assert X.shape == (3000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [300] * 10
    assert X.min() == 0.0 and X.max() == 1.0
    assert 0.10 < X.mean() < 0.16  # MNIST: about 13 % of the ink is on
    assert len(np.unique(y[:100])) == 10  # shuffled, not sorted by digit
    X_nines, is_nine = load_mnist(binary_digit=9, n_samples=500)
    assert X_nines.shape == (500, 784)
    np.testing.assert_array_equal(is_nine, (y[:500] == 9).astype(np.int64))
    # The mean "1" has more ink in the centre column than at the left edge.
    ones = X[y == 1].reshape(-1, 28, 28).mean(0)
    assert ones[:, 13:15].mean() > 5 * ones[:, :5].mean()


# --------------------------------------------------------------------------- splitting


def test_train_test_split_sizes_and_alignment():
    X = np.arange(40).reshape(20, 2)
    y = np.arange(20)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.33, random_state=0)
    assert len(X_test) == 7 and len(X_train) == 13  # ceil(0.33 * 20) = 7
    np.testing.assert_array_equal(X_train[:, 0] // 2, y_train)  # rows stay together
    np.testing.assert_array_equal(np.sort(np.concatenate([y_train, y_test])), y)
    first, second = train_test_split(y, test_size=5, random_state=1)
    assert len(second) == 5
    np.testing.assert_array_equal(train_test_split(y, random_state=1)[1],
                                  train_test_split(y, random_state=1)[1])
    ordered_train, ordered_test = train_test_split(y, test_size=0.25, shuffle=False)
    np.testing.assert_array_equal(ordered_test, [15, 16, 17, 18, 19])


def test_train_test_split_stratify_keeps_proportions():
    y = np.repeat([0, 1, 2], [500, 300, 200])
    X = np.arange(1000)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, stratify=y, random_state=0
    )
    assert np.bincount(y_test).tolist() == [100, 60, 40]
    assert np.bincount(y_train).tolist() == [400, 240, 160]
    np.testing.assert_array_equal(y[X_test], y_test)
    # Uneven case: counts still sum to n_test and stay within one of the ideal.
    y = np.repeat([0, 1, 2], [7, 5, 3])
    _, y_test = train_test_split(y, test_size=0.4, stratify=y, random_state=0)
    assert len(y_test) == 6
    assert np.all(np.abs(np.bincount(y_test, minlength=3) - 6 * np.array([7, 5, 3]) / 15) < 1)


def test_train_test_split_errors():
    with pytest.raises(ValueError, match="same number of samples"):
        train_test_split(np.zeros(5), np.zeros(6))
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros(5), test_size=1.5)
    with pytest.raises(ValueError, match="test_size=5"):
        train_test_split(np.zeros(5), test_size=5)
    with pytest.raises(ValueError, match="only 1 member"):
        train_test_split(np.zeros(5), stratify=[0, 0, 0, 0, 1])
    with pytest.raises(ValueError, match="shuffle=True"):
        train_test_split(np.zeros(4), stratify=[0, 0, 1, 1], shuffle=False)
    with pytest.raises(ValueError, match="at least one array"):
        train_test_split()


# --------------------------------------------------------------------------- one-hot labels


def test_to_categorical():
    out = to_categorical([2, 0, 1, 2])
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, np.eye(3)[[2, 0, 1, 2]])
    assert to_categorical(np.array([[1], [0]]), num_classes=4).shape == (2, 4)
    assert to_categorical(np.array([[1, 0], [0, 2]])).shape == (2, 2, 3)
    np.testing.assert_array_equal(to_categorical([1.0, 0.0], dtype="int64"), [[0, 1], [1, 0]])
    assert to_categorical([], num_classes=3).shape == (0, 3)
    with pytest.raises(ValueError, match="negative labels \\[-1\\]"):
        to_categorical([0, -1, 2])
    with pytest.raises(ValueError, match="labels \\[3, 5\\] >= num_classes=3"):
        to_categorical([0, 3, 5, 3], num_classes=3)
    with pytest.raises(ValueError, match="non-integer values \\[0.5\\]"):
        to_categorical([0.5, 1.0])
    with pytest.raises(TypeError, match="must contain numbers"):
        to_categorical(["cat", "dog"])


# --------------------------------------------------------------------------- scaling and encoding


def test_standard_scaler_matches_sklearn():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(50, 4)) * [1, 10, 0.1, 1]
    X[:, 3] = 7.1  # a constant column
    ours, theirs = StandardScaler(), sklearn.preprocessing.StandardScaler()
    Z, Z_ref = ours.fit_transform(X), theirs.fit_transform(X)
    np.testing.assert_allclose(Z, Z_ref, atol=1e-12)
    np.testing.assert_allclose(ours.mean_, theirs.mean_)
    np.testing.assert_allclose(ours.scale_, theirs.scale_)
    assert ours.scale_[3] == 1.0 and np.abs(Z[:, 3]).max() < 1e-12
    np.testing.assert_allclose(ours.inverse_transform(Z), X, atol=1e-12)
    X_new = rng.normal(size=(5, 4))
    np.testing.assert_allclose(ours.transform(X_new), theirs.transform(X_new), atol=1e-12)
    no_mean = StandardScaler(with_mean=False).fit(X)
    assert no_mean.mean_ is None
    np.testing.assert_allclose(
        no_mean.transform(X),
        sklearn.preprocessing.StandardScaler(with_mean=False).fit_transform(X), atol=1e-12
    )
    assert StandardScaler().fit_transform(X.astype(np.float32)).dtype == np.float32


def test_standard_scaler_errors():
    with pytest.raises(ValueError, match="not fitted yet"):
        StandardScaler().transform(np.zeros((2, 2)))
    scaler = StandardScaler().fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match="3 features .* fitted with 2"):
        scaler.transform(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="reshape\\(-1, 1\\)"):
        StandardScaler().fit(np.arange(5.0))
    with pytest.raises(ValueError, match="NaN"):
        StandardScaler().fit([[1.0, np.nan]])


def test_one_hot_encoder_matches_sklearn():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.choice(["red", "green", "blue"], 40), rng.choice(["s", "m", "l"], 40)])
    ours = OneHotEncoder()
    theirs = sklearn.preprocessing.OneHotEncoder(sparse_output=False)
    np.testing.assert_array_equal(ours.fit_transform(X), theirs.fit_transform(X))
    for ours_categories, their_categories in zip(ours.categories_, theirs.categories_, strict=True):
        np.testing.assert_array_equal(ours_categories, their_categories)
    np.testing.assert_array_equal(ours.get_feature_names_out(), theirs.get_feature_names_out())
    names = ours.get_feature_names_out(["colour", "size"])
    np.testing.assert_array_equal(names, theirs.get_feature_names_out(["colour", "size"]))
    # Integer columns work too, and 'ignore' gives an all-zero block for unknown values.
    numbers = rng.integers(0, 4, size=(30, 2))
    ours = OneHotEncoder(handle_unknown="ignore").fit(numbers)
    theirs = sklearn.preprocessing.OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    theirs.fit(numbers)
    unseen = np.array([[9, 1], [0, 9]])
    np.testing.assert_array_equal(ours.transform(unseen), theirs.transform(unseen))


def test_one_hot_encoder_fixed_categories_and_errors():
    encoder = OneHotEncoder(categories=[["small", "medium", "large"]], dtype=np.int64)
    out = encoder.fit_transform([["large"], ["small"]])
    np.testing.assert_array_equal(out, [[0, 0, 1], [1, 0, 0]])
    assert out.dtype == np.int64
    encoder = OneHotEncoder().fit([["a", "x"], ["b", "y"]])
    with pytest.raises(ValueError, match=r"unknown categories \['c'\] in column 0"):
        encoder.transform([["c", "x"]])
    with pytest.raises(ValueError, match="has 1 features .* fitted with 2"):
        encoder.transform([["a"]])
    with pytest.raises(ValueError, match="not fitted yet"):
        OneHotEncoder().transform([["a"]])
    with pytest.raises(ValueError, match="Unknown handle_unknown"):
        OneHotEncoder(handle_unknown="skip")
    with pytest.raises(ValueError, match="unknown categories"):
        OneHotEncoder(categories=[["a"]]).fit([["a"], ["b"]])
    with pytest.raises(ValueError, match="reshape"):
        OneHotEncoder().fit(["a", "b"])
